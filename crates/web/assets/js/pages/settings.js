// Server-wide settings: the default Ollama server and model; import of an original config.yaml.
import { api } from "../api.js";
import { field, h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main) {
  const config = await api.config();
  replace(main, h("h1", { text: t("settings_page_title") }), defaultsForm(config), importForm());
}

function defaultsForm(config) {
  const url = h("input", { type: "url", name: "ollama_base_url", value: config.ollama.base_url });
  const model = h("input", { name: "ollama_default_model", value: config.ollama.default_model ?? "" });
  const timeout = h("input", { type: "number", name: "ollama_timeout", min: 1, value: config.ollama.timeout ?? "" });
  const problem = h("div", { class: "banner error", role: "alert", hidden: true });
  return h("form", { class: "settings-form", onsubmit: async (event) => {
    event.preventDefault();
    problem.hidden = true;
    try {
      await api.saveConfig({ ollama_base_url: url.value.trim(), ollama_default_model: model.value.trim(),
        ollama_timeout: timeout.value ? Number(timeout.value) : null });
      toast(t("saved"));
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
  } }, h("fieldset", {}, h("legend", { text: "Ollama" }),
    field(t("default_url"), url), field(t("default_model"), model), field(t("timeout"), timeout), problem,
    h("div", { class: "actions" }, h("button", { type: "submit", text: t("save") }))));
}

function importForm() {
  const file = h("input", { type: "file", name: "config_file", accept: ".yaml,.yml,application/yaml,text/yaml", required: true });
  const result = h("div", { class: "import-result", role: "status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", text: t("import") });
  return h("form", { class: "import-form", onsubmit: async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    submit.disabled = true;
    replace(result, h("progress", { "aria-label": t("loading") }));
    try {
      const report = await api.importConfig(await file.files[0].text());
      replace(result, h("ul", { class: "rows" }, report.locrits.map((l) => h("li", { dataset: { outcome: l.outcome } },
        h("strong", { text: l.name }), h("span", { class: "badge", text: l.outcome }), h("span", { class: "muted", text: l.reason })))));
      toast(t("imported", { summary: report.locrits.length }));
    } catch (error) {
      replace(result, h("div", { class: "banner error", role: "alert", text: error.message }));
    } finally {
      submit.disabled = false;
    }
  } }, h("fieldset", {}, h("legend", { text: t("import_title") }), field(t("import_file"), file),
    h("div", { class: "actions" }, submit), result));
}
