// My Locrits: each with its status, model and who may reach it.
import { api } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main) {
  replace(main, h("h1", { text: t("locrits_title") }), h("p", { class: "muted", text: t("loading") }));
  const locrits = await api.locrits();
  const list = h("ul", { class: "cards", "aria-label": t("locrits_title") });
  replace(main, h("div", { class: "page-head" }, h("h1", { text: t("locrits_title") }),
    h("a", { class: "button", href: "/create-locrit", text: t("nav_create") })), list, importForm(() => render(main)));
  if (!locrits.length) {
    replace(list, h("li", { class: "empty" }, t("no_locrits"), " ",
      h("a", { href: "/create-locrit", text: t("create_first") })));
  }
  for (const locrit of locrits) list.append(card(locrit, () => render(main)));
}

/** A Locrit's settings as a file (its memory stays on the server). */
const EXPORTED = ["name", "description", "persona", "ollama_model", "ollama_url", "open_to", "access_to",
  "memory_service", "public_page", "public_address", "active"];

function exportLocrit(locrit) {
  const settings = Object.fromEntries(EXPORTED.map((key) => [key, locrit[key]]));
  const url = URL.createObjectURL(new Blob([JSON.stringify(settings, null, 2)], { type: "application/json" }));
  const link = h("a", { href: url, download: `${locrit.name}.locrit.json` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function importForm(refresh) {
  const file = h("input", { type: "file", name: "locrit_file", accept: ".json,application/json" });
  const problem = h("div", { class: "banner error", role: "alert", hidden: true });
  file.addEventListener("change", async () => {
    problem.hidden = true;
    try {
      const settings = JSON.parse(await file.files[0].text());
      const created = await api.createLocrit(Object.fromEntries(EXPORTED.filter((k) => k in settings).map((k) => [k, settings[k]])));
      toast(t("created", { name: created.name }));
      await refresh();
    } catch (error) {
      problem.textContent = error.field ? t("field_error", { field: error.field, error: error.message }) : error.message;
      problem.hidden = false;
    }
  });
  return h("section", { class: "import-locrit" }, h("h2", { text: t("import_locrit") }),
    h("label", { for: "locrit-file", text: t("import_locrit_file") }), " ", Object.assign(file, { id: "locrit-file" }), problem);
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
    h("p", { class: "model" }, h("code", { text: locrit.ollama_model || t("no_model") })),
    h("p", { class: "badges" }, badges(locrit)),
    h("div", { class: "actions" },
      h("a", { class: "button", href: `${base}/chat`, text: t("chat") }),
      h("a", { class: "button ghost", href: `${base}/memory-explorer`, text: t("memory") }),
      h("a", { class: "button ghost", href: `${base}/settings`, text: t("settings") }),
      h("button", { type: "button", class: "ghost", text: t("export"), onclick: () => exportLocrit(locrit) }),
      toggle, remove));
}
