// Server-wide settings: the default Ollama server and model.
import { api } from "../api.js";
import { field, h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main) {
  const config = await api.config();
  const url = h("input", { type: "url", name: "ollama_base_url", value: config.ollama.base_url });
  const model = h("input", { name: "ollama_default_model", value: config.ollama.default_model ?? "" });
  const timeout = h("input", { type: "number", name: "ollama_timeout", min: 1, value: config.ollama.timeout ?? "" });
  const problem = h("div", { class: "banner error", role: "alert", hidden: true });
  const form = h("form", { class: "settings-form", onsubmit: async (event) => {
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
  } }, field(t("default_url"), url), field(t("default_model"), model), field(t("timeout"), timeout), problem,
  h("div", { class: "actions" }, h("button", { type: "submit", text: t("save") })));
  replace(main, h("h1", { text: t("settings_page_title") }), form);
}
