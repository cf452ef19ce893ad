// The dashboard: counts, the Ollama server's status (and the embedded engine when it stands in),
// recent conversations.
import { api } from "../api.js";
import { formatTime, h, replace } from "../dom.js";
import { t } from "../i18n.js";

const RECENT = 8;

export async function render(main) {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const [status, locrits] = await Promise.all([api.status(midnight), api.locrits()]);
  // The most recent conversations of the most recently changed Locrits.
  const recentLocrits = [...locrits].sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, RECENT);
  const sessions = (await Promise.all(recentLocrits.map(async (locrit) =>
    (await api.sessions(locrit.id).catch(() => [])).slice(0, RECENT).map((session) => ({ ...session, locrit }))))).flat();
  const recent = sessions.sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, RECENT);
  const stat = (key, value) => h("div", { class: "stat", dataset: { stat: key } }, h("dt", { text: t(key) }), h("dd", { text: value }));
  const { ollama } = status;
  replace(main, h("h1", { text: t("dash_title") }),
    h("dl", { class: "stats" }, stat("dash_locrits", status.locrits), stat("dash_active", status.active_locrits),
      stat("dash_messages_today", status.messages_since), stat("dash_sessions", status.sessions)),
    h("p", { class: "ollama" }, h("strong", { text: `${t("dash_ollama")} ` }), h("code", { text: ollama.url }), " ",
      h("span", { class: `status ${ollama.reachable ? "on" : "off"}`,
        text: ollama.reachable ? `${t("connected")} · ${ollama.models}` : t("disconnected") })),
    status.new_locrits.engine === "embedded"
      ? h("p", { class: "engine-note", text: t("embedded_default", { model: status.new_locrits.model }) }) : null,
    h("h2", { text: t("dash_recent") }),
    recent.length ? h("ul", { class: "rows" }, recent.map((s) => h("li", {},
      h("a", { href: `/my-locrits/${encodeURIComponent(s.locrit.name)}/chat?session=${encodeURIComponent(s.id)}` },
        h("strong", { text: s.locrit.name }), " — ", s.name || s.id),
      h("span", { class: "muted", text: `${s.message_count} · ${formatTime(s.updated_at)}` }))))
      : h("p", { class: "muted", text: t("no_conversations") }));
}
