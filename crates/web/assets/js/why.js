// The "why" of a reply: the memories and messages recalled into its prompt
// (`metadata.recall`), as they are now; those deleted since are counted.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

/** A disclosure for a reply with a non-empty recall, else null. */
export function whyControl(locritId, message) {
  const recall = message.metadata?.recall;
  const count = (recall?.memories?.length ?? 0) + (recall?.messages?.length ?? 0);
  if (!count) return null;
  const body = h("div", { class: "why-body" }, h("progress", { "aria-label": t("loading") }));
  let loaded = false;
  const details = h("details", { class: "why", ontoggle: async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      const { memories, messages, deleted } = await api.memory.recall(locritId, message.id);
      replace(body,
        memories.length ? [h("h3", { text: t("why_memories") }), h("ul", { class: "why-memories" },
          memories.map((m) => h("li", { dataset: { id: m.id }, text: m.content })))] : null,
        messages.length ? [h("h3", { text: t("why_messages") }), h("ul", { class: "why-messages" },
          messages.map((m) => h("li", { dataset: { id: m.id }, text: `${m.role}: ${m.content}` })))] : null,
        deleted.length ? h("p", { class: "deleted muted", text: t("why_deleted", { count: deleted.length }) }) : null);
    } catch (error) {
      loaded = false;
      replace(body, h("p", { class: "banner error", role: "alert", text: error.message }));
    }
  } }, h("summary", { text: t("why", { count }) }), body);
  return details;
}
