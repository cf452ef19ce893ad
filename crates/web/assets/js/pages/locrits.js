// My Locrits: each with its status, model and who may reach it.
import { api } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main) {
  replace(main, h("h1", { text: t("locrits_title") }), h("p", { class: "muted", text: t("loading") }));
  const list = h("ul", { class: "cards", "aria-label": t("locrits_title") });
  const draw = async () => {
    const locrits = await api.locrits();
    replace(list, locrits.length ? locrits.map((locrit) => card(locrit, draw)) : h("li", { class: "empty" }, t("no_locrits"), " ",
      h("a", { href: "/create-locrit", text: t("create_first") })));
  };
  await draw();
  replace(main, h("div", { class: "page-head" }, h("h1", { text: t("locrits_title") }),
    h("a", { class: "button", href: "/create-locrit", text: t("nav_create") })), list, importForm(draw));
}

/** Imports a whole Locrit (its archive: settings, conversations, memories) from a file. */
function importForm(refresh) {
  const file = h("input", { type: "file", name: "locrit_file", accept: ".gz,application/gzip" });
  const result = h("div", { class: "import-result", role: "status", "aria-live": "polite" });
  file.addEventListener("change", async () => {
    if (!file.files.length) return;
    replace(result, h("progress", { "aria-label": t("loading") }));
    try {
      const { locrit, counts } = await api.importLocrit(file.files[0]);
      replace(result, h("p", { class: "banner ok", text: t("import_counts", { name: locrit.name, ...counts }) }));
      await refresh();
    } catch (error) {
      const key = { 409: "import_taken", 422: "import_bad" }[error.status];
      replace(result, h("div", { class: "banner error", role: "alert", text: key ? t(key, { error: error.message }) : error.message }));
    } finally {
      file.value = "";
    }
  });
  return h("section", { class: "import-locrit" }, h("h2", { text: t("import_locrit") }),
    h("label", { for: "locrit-file", text: t("import_locrit_file") }), " ", Object.assign(file, { id: "locrit-file" }), result);
}

export function badges(locrit) {
  return Object.entries(locrit.open_to).filter(([, on]) => on)
    .map(([who]) => h("span", { class: "badge", text: t(`badge_${who}`) }));
}

function card(locrit, refresh) {
  const base = `/my-locrits/${encodeURIComponent(locrit.name)}`;
  const toggle = h("button", {
    type: "button", class: "ghost toggle-active", text: locrit.active ? t("deactivate") : t("activate"),
    async onclick() {
      toggle.disabled = true;
      try {
        await api.updateLocrit(locrit.id, { active: !locrit.active });
        await refresh();
      } catch (error) {
        toggle.disabled = false;
        toast(error.message);
      }
    },
  });
  const remove = h("button", {
    type: "button", class: "danger", text: t("delete"), "aria-label": `${t("delete")} ${locrit.name}`,
    async onclick() {
      if (!confirm(t("confirm_delete_locrit", { name: locrit.name }))) return;
      try {
        await api.deleteLocrit(locrit.id);
        toast(t("deleted"));
        await refresh();
      } catch (error) {
        toast(error.message);
      }
    },
  });
  return h("li", { class: "card", dataset: { locrit: locrit.name } },
    h("div", { class: "card-head" },
      h("h2", { text: locrit.name }),
      h("span", { class: `status ${locrit.active ? "on" : "off"}`, text: locrit.active ? t("active") : t("inactive") })),
    locrit.description ? h("p", { class: "muted", text: locrit.description }) : null,
    h("p", { class: "model" }, h("code", { text: locrit.ollama_model || t("no_model") }),
      // The reserved server "embedded": the model runs inside Locrit itself.
      locrit.ollama_url === "embedded" ? h("span", { class: "badge engine", text: t("embedded_engine") }) : null),
    h("p", { class: "badges" }, badges(locrit)),
    h("div", { class: "actions" },
      h("a", { class: "button", href: `${base}/chat`, text: t("chat") }),
      h("a", { class: "button ghost", href: `${base}/memory-explorer`, text: t("memory") }),
      h("a", { class: "button ghost", href: `${base}/settings`, text: t("settings") }),
      h("a", { class: "button ghost export", href: api.exportUrl(locrit.id), download: `${locrit.name}.locrit.gz`, text: t("export") }),
      toggle, remove));
}
