// Create a Locrit (/create-locrit), or change one and its invitations (/my-locrits/<name>/settings).
import { api } from "../api.js";
import { field, h, replace, toast, toggle } from "../dom.js";
import { t } from "../i18n.js";
import { navigate } from "../main.js";
import { invitationsSection } from "./invitations.js";

const OPEN_TO = ["humans", "locrits", "invitations", "internet", "platform"];
const ACCESS_TO = ["full_memory", "quick_memory", "llm_info", "logs"];
const MEMORY_SERVICES = ["plaintext_file", "kuzu_graph", "basic_memory", "lancedb_langchain", "lancedb_mcp", "disabled"];
const PUBLIC_TEXTS = [["title", "f_public_title"], ["description", "f_public_description"],
  ["welcome_message", "f_public_welcome"], ["avatar", "f_public_avatar"], ["theme", "f_public_theme"]];
const DEFAULTS = {
  name: "", description: "", persona: "", ollama_model: "", ollama_url: "", memory_service: "plaintext_file",
  active: true, open_to: { humans: true }, access_to: { full_memory: true, quick_memory: true },
  public_page: null, public_address: null,
};

export async function render(main, name) {
  const locrit = name ? await api.locritByName(name) : null;
  const current = locrit ?? DEFAULTS;
  const input = (key, props = {}) => h("input", { name: key, value: current[key] ?? "", ...props });

  const nameInput = input("name", { required: true, maxlength: 100, autocomplete: "off" });
  const description = h("textarea", { name: "description", rows: 2, value: current.description });
  const persona = h("textarea", { name: "persona", rows: 5, value: current.persona });
  const preview = h("pre", { class: "preview", "aria-live": "polite" });
  const updatePreview = () => {
    preview.textContent = persona.value.replaceAll("{name}", nameInput.value)
      .replaceAll("{description}", description.value);
  };
  for (const el of [nameInput, description, persona]) el.addEventListener("input", updatePreview);
  updatePreview();

  // With no Ollama server at start-up, a new Locrit that names none runs on the embedded model.
  const embeddedModel = locrit ? null : (await api.status(new Date())).new_locrits.model ?? null;
  const url = input("ollama_url", { type: "url", placeholder: embeddedModel ? t("embedded_placeholder") : "http://localhost:11434" });
  const model = input("ollama_model", { required: true, list: "models", autocomplete: "off" });
  if (embeddedModel && !model.value) model.value = embeddedModel;
  const models = h("datalist", { id: "models" });
  const picker = h("select", { name: "model_picker", "aria-label": t("pick_model"),
    onchange: () => { if (picker.value) model.value = picker.value; } }, h("option", { value: "", text: t("pick_model") }));
  const testResult = h("p", { class: "test-result", role: "status" });
  const testButton = h("button", { type: "button", class: "ghost test-connection", text: t("test_connection"), onclick: testConnection });
  async function testConnection() {
    testButton.disabled = true;
    testResult.className = "test-result";
    testResult.textContent = t("testing");
    try {
      const target = url.value.trim() || (embeddedModel ? "embedded" : (await api.config()).ollama.base_url);
      await api.testOllama(target);
      const names = (await api.ollamaModels(target)).map((m) => m.name);
      replace(picker, h("option", { value: "", text: t("pick_model") }),
        names.map((n) => h("option", { value: n, text: n, selected: n === model.value })));
      replace(models, names.map((n) => h("option", { value: n })));
      testResult.textContent = t("connection_ok", { count: names.length });
      testResult.classList.add("ok");
    } catch (error) {
      testResult.textContent = error.message;
      testResult.classList.add("bad");
    } finally {
      testButton.disabled = false;
    }
  }

  const memoryService = h("select", { name: "memory_service" },
    MEMORY_SERVICES.map((s) => h("option", { value: s, text: s, selected: s === current.memory_service })));
  const active = toggle(t("f_active"), current.active);
  const openTo = Object.fromEntries(OPEN_TO.map((k) =>
    [k, toggle(t(`open_${k}`), current.open_to?.[k], t(`open_${k}_help`))]));
  const accessTo = Object.fromEntries(ACCESS_TO.map((k) =>
    [k, toggle(t(`access_${k}`), current.access_to?.[k], t(`access_${k}_help`))]));
  const page = current.public_page ?? {};
  const publicTexts = Object.fromEntries(PUBLIC_TEXTS.map(([k]) => [k, h("input", { name: `public_${k}`, value: page[k] ?? "" })]));
  const customCss = h("textarea", { name: "public_custom_css", rows: 2, value: page.custom_css ?? "" });
  const showModel = toggle(t("f_public_show_model"), page.show_model_info);
  const address = input("public_address", { placeholder: "https://" });

  const problem = h("div", { class: "banner error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", text: locrit ? t("save") : t("create") });
  const form = h("form", { class: "locrit-form", novalidate: true },
    h("fieldset", {}, h("legend", { text: "Locrit" }),
      field(t("f_name"), nameInput), field(t("f_description"), description),
      field(t("f_persona"), persona, t("f_persona_help")),
      h("div", { class: "field" }, h("span", { class: "label", text: t("persona_preview") }), preview)),
    h("fieldset", {}, h("legend", { text: "Ollama" }),
      field(t("f_ollama_url"), url, embeddedModel ? t("embedded_default", { model: embeddedModel }) : t("f_ollama_url_help")),
      h("div", { class: "row" }, testButton, testResult),
      field(t("f_model"), model), picker, models,
      field(t("f_memory_service"), memoryService), active.el),
    h("fieldset", {}, h("legend", { text: t("open_to_title") }), OPEN_TO.map((k) => openTo[k].el)),
    h("fieldset", {}, h("legend", { text: t("access_to_title") }), ACCESS_TO.map((k) => accessTo[k].el)),
    h("fieldset", {}, h("legend", { text: t("public_title") }),
      PUBLIC_TEXTS.map(([k, label]) => field(t(label), publicTexts[k])),
      field(t("f_public_css"), customCss), showModel.el, field(t("f_public_address"), address)),
    problem, h("div", { class: "actions" }, submit));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const publicPage = Object.fromEntries(Object.entries(publicTexts)
      .map(([k, el]) => [k, el.value.trim()]).filter(([, v]) => v));
    if (customCss.value.trim()) publicPage.custom_css = customCss.value;
    if (showModel.input.checked) publicPage.show_model_info = true;
    const fields = {
      name: nameInput.value.trim(), description: description.value, ollama_model: model.value.trim(),
      ollama_url: url.value.trim() || null, memory_service: memoryService.value, active: active.input.checked,
      open_to: Object.fromEntries(OPEN_TO.map((k) => [k, openTo[k].input.checked])),
      access_to: Object.fromEntries(ACCESS_TO.map((k) => [k, accessTo[k].input.checked])),
      public_page: Object.keys(publicPage).length ? publicPage : null,
      public_address: address.value.trim() || null,
    };
    if (persona.value.trim()) fields.persona = persona.value;
    submit.disabled = true;
    try {
      const saved = locrit ? await api.updateLocrit(locrit.id, fields) : await api.createLocrit(fields);
      toast(locrit ? t("saved") : t("created", { name: saved.name }));
      navigate(locrit ? `/my-locrits/${encodeURIComponent(saved.name)}/settings` : "/my-locrits");
    } catch (error) {
      problem.textContent = error.field ? t("field_error", { field: error.field, error: error.message }) : error.message;
      problem.hidden = false;
      submit.disabled = false;
    }
  });

  replace(main, h("h1", { text: locrit ? t("settings_title", { name: locrit.name }) : t("create_title") }), form,
    locrit ? await invitationsSection(locrit) : null);
}
