// The Memory Explorer's Messages tab: a session's messages paged back from the newest,
// or search results (keyword and semantic, highlighted by the server) paged on.
import { api } from "../../api.js";
import { formatTime, h, replace, toast } from "../../dom.js";
import { t } from "../../i18n.js";
import { whyControl } from "../../why.js";

export async function messages(panel, locrit, state) {
  const redraw = () => messages(panel, locrit, state);
  const input = h("input", { type: "search", name: "q", value: state.search, "aria-label": t("search_label") });
  const form = h("form", { class: "search", role: "search", onsubmit: (e) => {
    e.preventDefault();
    state.search = input.value.trim();
    redraw();
  } }, input, h("button", { type: "submit", text: t("search") }));
  const role = h("select", { name: "role", "aria-label": t("filter_role"), onchange: () => {
    for (const row of list.querySelectorAll(".message-row")) row.hidden = role.value !== "" && row.dataset.role !== role.value;
  } }, [["", t("all_roles")], ["user", t("role_user")], ["assistant", t("role_assistant")]]
    .map(([value, text]) => h("option", { value, text })));
  const list = h("ul", { class: "message-list" });
  const more = h("button", { type: "button", class: "ghost more", hidden: true });
  const item = (m) => messageItem(m, locrit, redraw);

  if (state.search) {
    let cursor;
    const note = h("p", { class: "muted semantic-note", hidden: true });
    const page = async () => {
      const found = await api.memory.search(locrit.id, state.search, { cursor });
      list.append(...found.hits.map((hit) => hit.kind === "message" ? item({ ...hit, timestamp: hit.created_at, session_id: hit.session_key, snippet: hit.snippet })
        : memoryHit(hit)));
      if (found.semantic && !found.semantic.available) {
        note.textContent = t("semantic_unavailable", { reason: found.semantic.reason ?? "" });
        note.hidden = false;
      }
      cursor = found.next_cursor;
      more.hidden = !cursor;
    };
    Object.assign(more, { textContent: t("more_results"), onclick: () => page().catch((e) => toast(e.message)) });
    await page();
    return replace(panel, form, h("div", { class: "page-head" }, h("h2", { text: t("results_for", { q: state.search }) }), role),
      note, list, more);
  }

  const sessions = await api.sessions(locrit.id);
  if (!sessions.some((s) => s.id === state.session)) state.session = sessions[0]?.id;
  const pick = h("select", { name: "session", "aria-label": t("tab_sessions"), onchange: () => {
    state.session = pick.value;
    redraw();
  } }, sessions.map((s) => h("option", { value: s.id, text: `${s.name || s.id} (${s.message_count})`, selected: s.id === state.session })));
  let before;
  const page = async () => {
    const found = await api.messages(locrit.id, state.session, { before });
    list.prepend(...found.messages.map(item));
    before = found.before;
    more.hidden = !before;
  };
  Object.assign(more, { textContent: t("older"), onclick: () => page().catch((e) => toast(e.message)) });
  if (state.session) await page();
  replace(panel, form, h("div", { class: "page-head" }, h("h2", { text: t("messages_of") }), pick, role), more, list);
}

/** A search hit that is a memory: its highlighted snippet. */
function memoryHit(hit) {
  return h("li", { class: "message-row memory-hit", dataset: { id: hit.id, role: "memory" } },
    h("div", { class: "meta" }, h("strong", { text: t("memory_hit") }), h("time", { datetime: hit.created_at, text: formatTime(hit.created_at) })),
    h("p", { class: "content" }, snippet(hit.snippet)));
}

function messageItem(message, locrit, refresh) {
  const body = h("p", { class: "content" }, message.snippet ? snippet(message.snippet) : message.content);
  const edit = h("button", { type: "button", class: "ghost small", text: t("edit"), onclick: () => {
    const area = h("textarea", { rows: 3, value: message.content, "aria-label": t("edit") });
    const save = h("button", { type: "button", class: "small", text: t("save"), onclick: async () => {
      await api.memory.editMessage(locrit.id, message.id, area.value).catch((e) => toast(e.message));
      refresh();
    } });
    body.replaceWith(h("div", { class: "editing" }, area, save));
    area.focus();
  } });
  const author = message.role === "user" ? (message.user_id || t("you")) : locrit.name;
  return h("li", { class: `message-row ${message.role}`, dataset: { id: message.id, role: message.role } },
    h("div", { class: "meta" }, h("strong", { text: author }),
      h("time", { datetime: message.timestamp, text: formatTime(message.timestamp) }),
      h("span", { class: "muted", text: message.session_id }),
      message.edited_at ? h("span", { class: "badge", text: t("edited") }) : null),
    body,
    message.metadata ? whyControl(locrit.id, message) : null,
    h("div", { class: "actions" }, edit, h("button", { type: "button", class: "danger small", text: t("delete"),
      onclick: async () => {
        if (!confirm(t("confirm"))) return;
        await api.memory.deleteMessage(locrit.id, message.id).catch((e) => toast(e.message));
        refresh();
      } })));
}

/**
 * The server's snippet: escaped text with the query's words in <mark>. Parsed inertly and
 * rebuilt from its text and marks only, so nothing else of it can reach the page.
 */
export function snippet(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return [...template.content.childNodes].map((node) =>
    node.nodeName === "MARK" ? h("mark", { text: node.textContent }) : node.textContent);
}
