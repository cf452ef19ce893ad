// The dashboard: counts, the Ollama server's status, recent conversations.
import { api } from "../api.js";
import { formatTime, h, replace } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main) {
  replace(main, h("h1", { text: t("dash_title") }), h("p", { class: "muted", text: t("loading") }));
  const [locrits, ollama] = await Promise.all([api.locrits(), api.ollamaStatus().catch(() => ({}))]);
  const sessions = (await Promise.all(locrits.map(async (locrit) =>
    (await api.sessions(locrit.id).catch(() => [])).map((session) => ({ ...session, locrit }))))).flat();
  const today = new Date().toDateString();
  const messagesToday = sessions.filter((s) => new Date(s.updated_at).toDateString() === today)
    .reduce((sum, s) => sum + s.message_count, 0);
  const recent = sessions.sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, 8);
  const stat = (key, value) => h("div", { class: "stat", dataset: { stat: key } }, h("dt", { text: t(key) }), h("dd", { text: value }));
  const connected = ollama.status === "connected";
  replace(main, h("h1", { text: t("dash_title") }),
    h("dl", { class: "stats" }, stat("dash_locrits", locrits.length),
      stat("dash_active", locrits.filter((l) => l.active).length),
      stat("dash_messages_today", messagesToday), stat("dash_sessions", sessions.length)),
    h("p", { class: "ollama" }, h("strong", { text: `${t("dash_ollama")} ` }), h("code", { text: ollama.base_url ?? "" }), " ",
      h("span", { class: `status ${connected ? "on" : "off"}`, text: connected ? t("connected") : t("disconnected") })),
    h("h2", { text: t("dash_recent") }),
    recent.length ? h("ul", { class: "rows" }, recent.map((s) => h("li", {},
      h("a", { href: `/my-locrits/${encodeURIComponent(s.locrit.name)}/chat?session=${encodeURIComponent(s.id)}` },
        h("strong", { text: s.locrit.name }), " — ", s.name || s.id),
      h("span", { class: "muted", text: `${s.message_count} · ${formatTime(s.updated_at)}` }))))
      : h("p", { class: "muted", text: t("no_conversations") }));
}
