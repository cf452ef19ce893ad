// The Memory Explorer: what a Locrit remembers, live.
import { api } from "../api.js";
import { field, formatTime, h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";
import { keep, listen, onReconnect } from "../live.js";

const TABS = ["overview", "messages", "sessions", "memories", "concepts"];

export async function render(main, name) {
  const locrit = await api.locritByName(name);
  const params = new URLSearchParams(location.search);
  let tab = TABS.includes(params.get("tab")) ? params.get("tab") : "overview";
  const panel = h("div", { class: "tab-panel", role: "tabpanel", tabindex: 0 });
  const liveBadge = h("span", { class: "badge live", hidden: true, text: t("live") });
  const buttons = TABS.map((key) => h("button", {
    type: "button", role: "tab", id: `tab-${key}`, dataset: { tab: key }, text: t(`tab_${key}`),
    onclick: () => select(key),
    onkeydown: (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) buttons[(TABS.indexOf(key) + step + TABS.length) % TABS.length].focus();
    },
  }));
  replace(main,
    h("div", { class: "page-head" }, h("h1", { text: t("memory_title", { name: locrit.name }) }), liveBadge,
      h("a", { class: "button ghost", href: `/my-locrits/${encodeURIComponent(locrit.name)}/chat`, text: t("chat") })),
    h("div", { class: "tabs", role: "tablist", "aria-label": t("memory") }, buttons), panel);

  let search = params.get("q") ?? "";
  async function draw() {
    try {
      await VIEWS[tab](panel, locrit, { search, setSearch: (q) => (search = q) });
    } catch (error) {
      replace(panel, h("div", { class: "banner error", role: "alert",
        text: error.status === 403 ? t("full_memory_needed") : error.message }));
    }
  }
  function select(key) {
    tab = key;
    for (const b of buttons) {
      b.setAttribute("aria-selected", String(b.dataset.tab === key));
      b.tabIndex = b.dataset.tab === key ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `tab-${key}`);
    const url = new URL(location.href);
    url.searchParams.set("tab", key);
    history.replaceState(null, "", url);
    return draw();
  }
  await select(tab);

  // Live: redraw once the memory changes (at most every half second).
  let pending = null;
  const stops = [
    keep("watch_memory", { locrit_name: locrit.name }),
    onReconnect(() => draw()),
    listen("watching_memory", (e) => { if (e.locrit_name === locrit.name) liveBadge.hidden = false; }),
    listen("memory_updated", (e) => {
      if (e.locrit_name !== locrit.name || pending || panel.querySelector("textarea:focus, input:focus")) return;
      pending = setTimeout(() => { pending = null; draw(); }, 500);
    }),
  ];
  return () => {
    clearTimeout(pending);
    stops.forEach((stop) => stop());
  };
}

const VIEWS = {
  async overview(panel, locrit) {
    const [summary, days] = await Promise.all([api.memory.summary(locrit.name), api.activity(locrit.id)]);
    const s = summary.statistics;
    replace(panel,
      h("dl", { class: "stats" }, [["total_messages", s.total_messages], ["total_sessions", s.total_sessions],
        ["total_memories", s.total_memories], ["total_concepts", s.total_concepts]]
        .map(([key, value]) => h("div", { class: "stat" }, h("dt", { text: t(key) }), h("dd", { text: value })))),
      h("h2", { text: t("activity") }), activityChart(days));
  },

  async messages(panel, locrit, state) {
    const input = h("input", { type: "search", name: "q", value: state.search, "aria-label": t("search_label") });
    const form = h("form", { class: "search", role: "search", onsubmit: async (e) => {
      e.preventDefault();
      state.setSearch(input.value.trim());
      await VIEWS.messages(panel, locrit, { ...state, search: input.value.trim() });
    } }, input, h("button", { type: "submit", text: t("search") }));
    const role = h("select", { name: "role", "aria-label": t("filter_role"), onchange: () => {
      for (const row of list.children) row.hidden = role.value !== "" && row.dataset.role !== role.value;
    } }, [["", t("all_roles")], ["user", t("role_user")], ["assistant", t("role_assistant")]]
      .map(([value, text]) => h("option", { value, text })));
    const list = h("ul", { class: "message-list" });
    let heading;
    if (state.search) {
      const found = await api.memory.search(locrit.name, state.search);
      heading = t("results", { count: found.total });
      list.append(...found.results.map((m) => messageItem(m, locrit, state.search, () => VIEWS.messages(panel, locrit, state))));
    } else {
      const summary = await api.memory.summary(locrit.name);
      heading = t("recent_messages");
      list.append(...summary.recent_messages.map((m) => messageItem(m, locrit, "", () => VIEWS.messages(panel, locrit, state))));
    }
    replace(panel, form, h("div", { class: "page-head" }, h("h2", { text: heading }), role), list);
  },

  async sessions(panel, locrit) {
    const sessions = await api.memory.sessions(locrit.name);
    const chat = `/my-locrits/${encodeURIComponent(locrit.name)}/chat?session=`;
    replace(panel, h("ul", { class: "rows" }, sessions.map((s) => h("li", { dataset: { session: s.id } },
      h("div", {}, h("strong", { text: s.name }), " ",
        h("span", { class: "muted", text: `${s.message_count} · ${formatTime(s.updated_at)}` })),
      h("div", { class: "actions" },
        h("a", { class: "button ghost small", href: chat + encodeURIComponent(s.id), text: t("open") }),
        h("button", { type: "button", class: "danger small", text: t("delete"), "aria-label": `${t("delete")} ${s.name}`,
          onclick: async () => {
            if (!confirm(t("confirm"))) return;
            await api.memory.deleteSession(locrit.name, s.id).catch((e) => toast(e.message));
            await VIEWS.sessions(panel, locrit);
          } }))))));
  },

  async memories(panel, locrit) {
    const { memories } = await api.memory.memories(locrit.name);
    const content = h("textarea", { name: "memory", rows: 2, required: true });
    const importance = h("input", { type: "number", name: "importance", min: 0, max: 1, step: 0.1, value: 0.5 });
    const form = h("form", { class: "add-memory", onsubmit: async (e) => {
      e.preventDefault();
      if (!content.value.trim()) return;
      try {
        await api.memory.addMemory(locrit.name, { content: content.value, importance: Number(importance.value) });
        await VIEWS.memories(panel, locrit);
      } catch (error) {
        toast(error.message);
      }
    } }, h("h2", { text: t("add_memory") }), field(t("content"), content), field(t("importance"), importance),
    h("button", { type: "submit", text: t("add") }));
    replace(panel, form, memories.length ? h("ul", { class: "rows" }, memories.map((m) => h("li", {},
      h("div", {}, h("p", { text: m.content }), h("small", { class: "muted", text: `${m.importance} · ${formatTime(m.created_at)}` })),
      h("button", { type: "button", class: "danger small", text: t("delete"), onclick: async () => {
        if (!confirm(t("confirm"))) return;
        await api.memory.deleteMemory(locrit.name, m.id).catch((e) => toast(e.message));
        await VIEWS.memories(panel, locrit);
      } })))) : h("p", { class: "muted", text: t("no_memories") }));
  },

  async concepts(panel, locrit) {
    const { concepts } = await api.memory.concepts(locrit.name);
    if (!concepts.length) return replace(panel, h("p", { class: "muted", text: t("no_concepts") }));
    replace(panel, conceptGraph(concepts));
  },
};

function messageItem(message, locrit, search, refresh) {
  const body = h("p", { class: "content" }, highlight(message.content, search));
  const edit = h("button", { type: "button", class: "ghost small", text: t("edit"), onclick: () => {
    const area = h("textarea", { rows: 3, value: message.content, "aria-label": t("edit") });
    const save = h("button", { type: "button", class: "small", text: t("save"), onclick: async () => {
      await api.memory.editMessage(locrit.name, message.id, area.value).catch((e) => toast(e.message));
      refresh();
    } });
    body.replaceWith(h("div", { class: "editing" }, area, save));
    area.focus();
  } });
  return h("li", { class: `message-row ${message.role}`, dataset: { id: message.id, role: message.role } },
    h("div", { class: "meta" }, h("strong", { text: message.role === "user" ? t("you") : locrit.name }),
      h("time", { datetime: message.timestamp, text: formatTime(message.timestamp) }),
      h("span", { class: "muted", text: message.session_id })),
    body,
    h("div", { class: "actions" }, edit, h("button", { type: "button", class: "danger small", text: t("delete"),
      onclick: async () => {
        if (!confirm(t("confirm"))) return;
        await api.memory.deleteMessage(locrit.name, message.id).catch((e) => toast(e.message));
        refresh();
      } })));
}

/** The text with each occurrence of `search` in a <mark>. */
function highlight(text, search) {
  if (!search) return text;
  const parts = [];
  const lower = text.toLowerCase();
  const needle = search.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(needle); i !== -1; i = lower.indexOf(needle, at)) {
    parts.push(text.slice(at, i), h("mark", { text: text.slice(i, i + needle.length) }));
    at = i + needle.length;
  }
  parts.push(text.slice(at));
  return parts;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** Messages per day as bars, the memory's size as a line. */
function activityChart(days) {
  const width = days.length * 20;
  const most = (key) => Math.max(1, ...days.map((d) => d[key]));
  const [maxMessages, maxMemories] = [most("messages"), most("memories")];
  const y = (value, max) => 95 - (value / max) * 88;
  const label = days.map((d) => `${d.date}: ${d.messages} / ${d.memories}`).join(", ");
  const chart = svg("svg", { viewBox: `0 0 ${width} 112`, class: "chart", role: "img",
    "aria-label": `${t("activity")} (${t("total_messages")} / ${t("total_memories")}): ${label}` });
  days.forEach((day, i) => {
    const top = y(day.messages, maxMessages);
    chart.append(svg("rect", { x: i * 20 + 2, y: top, width: 16, height: 95 - top, class: "bar" },
      svg("title", {}, `${day.date}: ${day.messages} ${t("total_messages").toLowerCase()}, ${day.memories} ${t("total_memories").toLowerCase()}`)));
    if (i % 2 === 0) chart.append(svg("text", { x: i * 20 + 10, y: 107, "text-anchor": "middle", class: "tick" },
      day.date.slice(8)));
  });
  const points = days.map((day, i) => `${i * 20 + 10},${y(day.memories, maxMemories)}`).join(" ");
  chart.append(svg("polyline", { points, class: "growth" }));
  return h("figure", { class: "activity" }, chart, h("figcaption", { class: "legend" },
    h("span", { class: "key bar" }), t("total_messages"), " ", h("span", { class: "key growth" }), t("total_memories")));
}

/** Concepts on a circle, each linked to the ones sharing its type. */
function conceptGraph(concepts) {
  const shown = concepts.slice(0, 60);
  const r = 160;
  const points = shown.map((c, i) => {
    const angle = (2 * Math.PI * i) / shown.length;
    return { c, x: 200 + r * Math.cos(angle), y: 200 + r * Math.sin(angle) };
  });
  const graph = svg("svg", { viewBox: "0 0 400 400", class: "graph", role: "img", "aria-label": t("tab_concepts") });
  points.forEach((a, i) => points.slice(i + 1).forEach((b) => {
    if (a.c.type && a.c.type === b.c.type) graph.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "edge" }));
  }));
  for (const p of points) {
    graph.append(svg("g", { class: "node" }, svg("circle", { cx: p.x, cy: p.y, r: 6 }),
      svg("text", { x: p.x, y: p.y - 10, "text-anchor": "middle" }, p.c.name), svg("title", {}, p.c.description ?? p.c.name)));
  }
  return h("div", {}, graph, h("ul", { class: "rows" }, concepts.map((c) => h("li", {},
    h("strong", { text: c.name }), " ", h("span", { class: "muted", text: c.type ?? "" })))));
}
