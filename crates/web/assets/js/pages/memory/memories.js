// The Memory Explorer's Memories tab (add, edit, pin, supersede, delete, the messages a
// memory came from) and Jobs tab (background extraction, with retry).
import { api } from "../../api.js";
import { field, formatTime, h, replace, toast } from "../../dom.js";
import { t } from "../../i18n.js";

export async function memories(panel, locrit) {
  const redraw = () => memories(panel, locrit);
  const act = (work) => async () => {
    try {
      await work();
    } catch (error) {
      toast(error.message);
    }
    await redraw();
  };
  const list = h("ul", { class: "rows memories" });
  const more = h("button", { type: "button", class: "ghost more", text: t("older_memories"), hidden: true });
  let next;
  const page = async () => {
    const found = await api.memory.memories(locrit.id, { before: next });
    list.append(...found.memories.map((m) => memoryItem(m, locrit, act)));
    next = found.next;
    more.hidden = !next;
  };
  more.onclick = () => page().catch((e) => toast(e.message));
  await page();
  replace(panel, addForm(locrit, act), list.children.length ? list : h("p", { class: "muted", text: t("no_memories") }), more);
}

function addForm(locrit, act) {
  const content = h("textarea", { name: "memory", rows: 2, required: true });
  const importance = h("input", { type: "number", name: "importance", min: 0, max: 1, step: 0.1, value: 0.5 });
  return h("form", { class: "add-memory", onsubmit: (e) => {
    e.preventDefault();
    if (content.value.trim()) act(() => api.memory.addMemory(locrit.id, { content: content.value.trim(), importance: Number(importance.value) }))();
  } }, h("h2", { text: t("add_memory") }), field(t("content"), content), field(t("importance"), importance),
  h("button", { type: "submit", text: t("add") }));
}

function memoryItem(memory, locrit, act) {
  const current = !memory.superseded_by && !memory.invalidated_at;
  const why = memory.superseded_by ? t("superseded") : memory.invalidated_at ? t("invalidated", { at: formatTime(memory.invalidated_at) }) : null;
  const text = h("p", { class: "content", text: memory.content });
  const sources = h("div", { class: "sources" });
  const editor = (label, save) => () => {
    const area = h("textarea", { rows: 2, name: "memory_edit", value: label === "supersede" ? "" : memory.content, "aria-label": t(label) });
    text.replaceWith(h("form", { class: "editing", onsubmit: (e) => {
      e.preventDefault();
      if (area.value.trim()) act(() => save(area.value.trim()))();
    } }, area, h("button", { type: "submit", class: "small", text: t("save") })));
    area.focus();
  };
  const button = (label, onclick, cls = "ghost small") => h("button", { type: "button", class: `${cls} ${label}`, text: t(label), onclick });
  return h("li", { class: `memory${current ? "" : " outdated"}${memory.pinned ? " pinned" : ""}`, dataset: { id: memory.id } },
    h("div", {}, text,
      h("small", { class: "muted", text: `${memory.importance} · ${formatTime(memory.created_at)}${memory.tags.length ? ` · ${memory.tags.join(", ")}` : ""}` }),
      memory.pinned ? h("span", { class: "badge", text: t("pinned") }) : null,
      why ? h("p", { class: "why-outdated", text: why }) : null,
      memory.source_message_ids.length ? button("sources", () => showSources(sources, locrit, memory)) : null,
      sources),
    h("div", { class: "actions" },
      current ? button("edit", editor("edit", (content) => api.memory.updateMemory(locrit.id, memory.id, { content }))) : null,
      button(memory.pinned ? "unpin" : "pin", act(() => api.memory.updateMemory(locrit.id, memory.id, { pinned: !memory.pinned }))),
      current ? button("supersede", editor("supersede", (content) =>
        api.memory.addMemory(locrit.id, { content, importance: memory.importance, supersedes: [memory.id] }))) : null,
      button("delete", () => confirm(t("confirm")) && act(() => api.memory.deleteMemory(locrit.id, memory.id))(), "danger small")));
}

/** The messages a memory was learned from, each a link to its conversation. */
async function showSources(box, locrit, memory) {
  const chat = `/my-locrits/${encodeURIComponent(locrit.name)}/chat?session=`;
  const found = await Promise.all(memory.source_message_ids.map((id) => api.memory.message(locrit.id, id).catch(() => null)));
  replace(box, h("ul", { class: "source-messages" }, found.map((m, i) => m
    ? h("li", { dataset: { id: m.id } }, h("a", { href: chat + encodeURIComponent(m.session_id), text: `${m.role}: ${m.content}` }))
    : h("li", { class: "muted", dataset: { id: memory.source_message_ids[i] }, text: t("deleted_since") }))));
}

export async function jobs(panel, locrit) {
  const { jobs: list } = await api.memory.jobs(locrit.id);
  if (!list.length) return replace(panel, h("p", { class: "muted", text: t("no_jobs") }));
  replace(panel, h("ul", { class: "rows jobs" }, list.map((job) => h("li", { dataset: { id: job.id, status: job.status } },
    h("div", {}, h("strong", { text: job.kind }), " ", h("span", { class: `badge ${job.status}`, text: t(`job_${job.status}`) }),
      h("small", { class: "muted", text: ` ${t("attempts", { n: job.attempts, max: job.max_attempts })} · ${formatTime(job.updated_at)}` }),
      job.last_error ? h("p", { class: "job-error", text: job.last_error }) : null),
    job.status === "failed" ? h("button", { type: "button", class: "small retry", text: t("retry"), onclick: async () => {
      await api.memory.retryJob(locrit.id, job.id).catch((e) => toast(e.message));
      await jobs(panel, locrit);
    } }) : null))));
}
