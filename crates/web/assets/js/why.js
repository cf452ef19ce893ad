// The "why" of a reply: the memories and messages recalled into its prompt
// (`metadata.recall`), fetched by id when asked; one deleted since shows as such.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

/** A disclosure for a reply with a non-empty recall, else null. */
export function whyControl(locritId, message) {
  const recall = message.metadata?.recall;
  const memories = recall?.memories ?? [];
  const messages = recall?.messages ?? [];
  if (!memories.length && !messages.length) return null;
  const body = h("div", { class: "why-body" }, h("progress", { "aria-label": t("loading") }));
  let loaded = false;
  const details = h("details", { class: "why", ontoggle: async () => {
    if (!details.open || loaded) return;
    loaded = true;
    const [found, said] = await Promise.all([
      Promise.all(memories.map((id) => fetchOrDeleted(() => api.memory.memory(locritId, id)))),
      Promise.all(messages.map((id) => fetchOrDeleted(() => api.memory.message(locritId, id)))),
    ]);
    replace(body,
      found.length ? h("h3", { text: t("why_memories") }) : null,
      found.length ? h("ul", { class: "why-memories" }, found.map((m) => recalled(m, m?.content))) : null,
      said.length ? h("h3", { text: t("why_messages") }) : null,
      said.length ? h("ul", { class: "why-messages" }, said.map((m) => recalled(m, m && `${m.role}: ${m.content}`))) : null);
  } }, h("summary", { text: t("why", { count: memories.length + messages.length }) }), body);
  return details;
}

function recalled(item, text) {
  return item ? h("li", { dataset: { id: item.id } }, text)
    : h("li", { class: "deleted muted", text: t("deleted_since") });
}

/** The item, or null when it no longer exists. */
async function fetchOrDeleted(load) {
  try {
    return await load();
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}
