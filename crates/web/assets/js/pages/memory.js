// The Memory Explorer: what a Locrit remembers, live.
import { api } from "../api.js";
import { formatTime, h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";
import { keep, listen, onReconnect } from "../live.js";
import { activityChart, conceptGraph } from "./memory/charts.js";
import { memories, jobs } from "./memory/memories.js";
import { messages } from "./memory/messages.js";

const TABS = ["overview", "messages", "sessions", "memories", "concepts", "jobs"];

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

  const state = { search: params.get("q") ?? "" };
  async function draw() {
    try {
      await VIEWS[tab](panel, locrit, state);
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
      if (e.locrit_name !== locrit.name || pending) return;
      pending = setTimeout(() => {
        pending = null;
        // Never under the user's hands: what they type or edit stays (their save redraws).
        if (!panel.querySelector("textarea:focus, input:focus, form.editing, .editing")) draw();
      }, 500);
    }),
  ];
  return () => {
    clearTimeout(pending);
    stops.forEach((stop) => stop());
  };
}

const VIEWS = {
  async overview(panel, locrit) {
    const [summary, days] = await Promise.all([api.memory.summary(locrit.id), api.activity(locrit.id)]);
    const s = summary.statistics;
    replace(panel,
      h("dl", { class: "stats" }, [["total_messages", s.messages], ["total_sessions", s.sessions],
        ["total_memories", s.memories], ["total_concepts", s.concepts]]
        .map(([key, value]) => h("div", { class: "stat" }, h("dt", { text: t(key) }), h("dd", { text: value })))),
      h("h2", { text: t("activity") }), activityChart(days),
      h("button", { type: "button", class: "danger clear-memory", text: t("clear_memory"), onclick: async () => {
        if (!confirm(t("confirm_clear_memory", { name: locrit.name }))) return;
        await api.memory.clear(locrit.id).catch((e) => toast(e.message));
        await VIEWS.overview(panel, locrit);
      } }));
  },

  messages,
  memories,
  jobs,

  async sessions(panel, locrit) {
    const sessions = await api.sessions(locrit.id);
    const redraw = () => VIEWS.sessions(panel, locrit);
    const chat = `/my-locrits/${encodeURIComponent(locrit.name)}/chat?session=`;
    replace(panel, h("ul", { class: "rows" }, sessions.map((s) => {
      const title = h("strong", { text: s.name || s.id });
      const rename = h("button", { type: "button", class: "ghost small rename", text: t("rename"), onclick: () => {
        const input = h("input", { name: "session_name", value: s.name ?? "", required: true, "aria-label": t("rename") });
        title.replaceWith(h("form", { class: "inline", onsubmit: async (e) => {
          e.preventDefault();
          await api.memory.renameSession(locrit.id, s.id, input.value.trim()).catch((error) => toast(error.message));
          await redraw();
        } }, input, h("button", { type: "submit", class: "small", text: t("save") })));
        input.focus();
      } });
      return h("li", { dataset: { session: s.id } },
        h("div", {}, title, " ", h("span", { class: "muted", text: `${s.message_count} · ${formatTime(s.updated_at)}` })),
        h("div", { class: "actions" },
          h("a", { class: "button ghost small", href: chat + encodeURIComponent(s.id), text: t("open") }), rename,
          h("button", { type: "button", class: "danger small", text: t("delete"), "aria-label": `${t("delete")} ${s.name || s.id}`,
            onclick: async () => {
              if (!confirm(t("confirm"))) return;
              await api.memory.deleteSession(locrit.id, s.id).catch((e) => toast(e.message));
              await redraw();
            } })));
    })));
  },

  async concepts(panel, locrit) {
    const { concepts } = await api.memory.concepts(locrit.id);
    if (!concepts.length) return replace(panel, h("p", { class: "muted", text: t("no_concepts") }));
    const related = await Promise.all(concepts.map((c) => api.memory.related(locrit.id, c.id)));
    const seen = new Set();
    const relations = related.flatMap(({ concept, related: near }) => near.map((r) => ({ from: concept.id, to: r.concept.id, relation: r.relation })))
      .filter(({ from, to, relation }) => {
        const key = [from, to].sort().join() + relation;
        return !seen.has(key) && seen.add(key);
      });
    replace(panel, conceptGraph(concepts, relations));
  },
};
