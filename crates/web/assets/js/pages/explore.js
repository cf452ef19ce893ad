// The public directory: every Locrit that is active and open to the internet, each
// linking to its public page.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main) {
  replace(main, h("h1", { text: t("explore_title") }), h("p", { class: "muted", text: t("loading") }));
  const locrits = await api.public.list();
  const list = h("ul", { class: "cards public-list", "aria-label": t("explore_title") },
    locrits.length ? locrits.map(card) : h("li", { class: "empty muted", text: t("explore_empty") }));
  replace(main, h("h1", { text: t("explore_title") }), h("p", { class: "muted", text: t("explore_intro") }), list);
}

function card(locrit) {
  const href = `/p/${encodeURIComponent(locrit.name)}`;
  return h("li", { class: "card", dataset: { locrit: locrit.name } },
    h("div", { class: "card-head" },
      h("h2", {}, h("span", { class: "avatar", "aria-hidden": "true", text: locrit.avatar }), " ",
        h("a", { href, text: locrit.title })),
    ),
    h("p", { class: "muted", text: locrit.description }),
    h("a", { class: "button", href, text: t("public_talk", { name: locrit.name }) }));
}
