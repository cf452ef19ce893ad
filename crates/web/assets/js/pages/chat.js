// Chat with a Locrit: its history, replies streamed token by token over the server's
// Socket.IO room of the session (so every tab on it sees the same turns), stop,
// regenerate, copy.
import { api } from "../api.js";
import { copyText, formatTime, h, newId, replace } from "../dom.js";
import { t } from "../i18n.js";
import { whyControl } from "../why.js";
import { keep, listen, live, onReconnect } from "../live.js";
import { renderMarkdown } from "../markdown.js";

export async function render(main, name) {
  const locrit = await api.locritByName(name);
  const sessionId = new URLSearchParams(location.search).get("session") ?? (await latestSession(locrit)) ?? newId();
  const view = new ChatView(main, locrit, sessionId);
  await view.load();
  return () => view.close();
}

async function latestSession(locrit) {
  const sessions = await api.sessions(locrit.id);
  return sessions[0]?.id ?? sessions[0]?.key;
}

class ChatView {
  constructor(main, locrit, sessionId) {
    this.locrit = locrit;
    this.sessionId = sessionId;
    this.turn = null; // the reply streaming in: {id, text, el, own}
    this.sending = false; // our message is sent, its turn not yet seen
    this.lastUserText = "";
    this.oldest = null;

    this.sessionList = h("ul", { class: "session-list" });
    this.log = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": t("chat_title", { name: locrit.name }) });
    this.older = h("button", { type: "button", class: "ghost older", hidden: true, text: t("older"), onclick: () => this.loadOlder() });
    this.banner = h("div", { class: "banner error", role: "alert", hidden: true });
    this.input = h("textarea", { id: "message", name: "message", rows: 2, required: true, "aria-label": t("message_label"),
      placeholder: t("message_label"), onkeydown: (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.form.requestSubmit(); }
      } });
    this.sendButton = h("button", { type: "submit", text: t("send") });
    this.stopButton = h("button", { type: "button", class: "danger", hidden: true, text: t("stop"), onclick: () => this.stop() });
    this.form = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.send(this.input.value); } },
      this.input, this.sendButton, this.stopButton);
    const base = `/my-locrits/${encodeURIComponent(locrit.name)}`;
    replace(main, h("div", { class: "chat" },
      h("aside", { class: "sidebar", "aria-label": t("sessions") },
        h("a", { class: "button", href: `${base}/chat?session=${newId()}`, text: t("new_conversation") }),
        h("h2", { text: t("sessions") }), this.sessionList),
      h("section", { class: "conversation" },
        h("div", { class: "page-head" },
          h("h1", { text: t("chat_title", { name: locrit.name }) }),
          h("code", { class: "model", text: locrit.ollama_model }),
          h("a", { class: "button ghost", href: `${base}/memory-explorer`, text: t("memory") })),
        locrit.active ? null : h("div", { class: "banner warn", role: "status", text: t("locrit_inactive", { name: locrit.name }) }),
        this.older, this.log, this.banner, this.form)));
    this.subscriptions = [
      keep("join_chat", { locrit_name: locrit.name, session_id: sessionId }),
      listen("chat_chunk", (e) => this.mine(e) && this.inOrder(() => this.chunk(e))),
      listen("chat_complete", (e) => this.mine(e) && this.inOrder(() => this.complete(e))),
      listen("error", (e) => this.inOrder(() => this.failed(e))),
      // Turns may have ended while disconnected: the store has them; a turn still
      // running comes back whole with the room's catch-up chunk.
      onReconnect(() => this.inOrder(() => this.resync())),
    ];
  }

  /** Handles events one after the other: a turn's start may wait for the history. */
  inOrder(handle) {
    this.queue = (this.queue ?? Promise.resolve()).then(handle).catch((error) => {
      this.banner.textContent = error.message;
      this.banner.hidden = false;
    });
  }

  mine(event) {
    return event.locrit_name === this.locrit.name && event.session_id === this.sessionId;
  }

  close() {
    this.subscriptions.forEach((stop) => stop());
    live().emit("leave_chat", { locrit_name: this.locrit.name, session_id: this.sessionId });
  }

  async load() {
    this.loadSessions();
    let page = { messages: [] };
    try {
      page = await api.messages(this.locrit.id, this.sessionId);
    } catch (error) {
      if (error.status !== 404) throw error; // a new session has no messages yet
    }
    replace(this.log);
    this.prepend(page);
    if (!page.messages.length) this.log.append(h("p", { class: "muted empty", text: t("no_messages") }));
    this.scrollDown();
    this.input.focus();
  }

  async loadSessions() {
    const sessions = await api.sessions(this.locrit.id).catch(() => []);
    const base = `/my-locrits/${encodeURIComponent(this.locrit.name)}/chat?session=`;
    replace(this.sessionList, sessions.map((s) => h("li", {},
      h("a", { href: base + encodeURIComponent(s.id), "aria-current": s.id === this.sessionId ? "page" : null },
        h("span", { text: s.name || s.id }), h("small", { class: "muted", text: formatTime(s.updated_at) })))));
  }

  /** A page of older messages; its `before` is the cursor of the next one. */
  prepend({ messages, before }) {
    this.oldest = before;
    this.older.hidden = !before;
    this.log.prepend(...messages.map((m) => this.withWhy(this.bubble(m.role, m.content, m.timestamp, m.status), m)));
    this.markLastReply();
  }

  async loadOlder() {
    const page = await api.messages(this.locrit.id, this.sessionId, { before: this.oldest });
    this.prepend(page);
  }

  bubble(role, text, timestamp, status) {
    const body = h("div", { class: "body" });
    const el = h("article", { class: `message ${role}`, dataset: { role } },
      h("header", {}, h("strong", { text: role === "user" ? t("you") : this.locrit.name }),
        h("time", { datetime: timestamp ?? "", text: formatTime(timestamp) }),
        status && status !== "complete" ? h("span", { class: "badge", text: status === "cancelled" ? t("stopped") : status }) : null),
      body,
      h("div", { class: "message-actions" },
        h("button", { type: "button", class: "ghost small copy", text: t("copy"), onclick: () => copyText(el.text) })));
    el.text = text;
    this.fill(el);
    return el;
  }

  /** Adds the "why" of a stored reply: what was recalled into its prompt. */
  withWhy(el, message) {
    const why = whyControl(this.locrit.id, message);
    if (why) el.append(why);
    return el;
  }

  /** The reply just stored, with its recall, for the "why". */
  async addWhy(el) {
    const { messages } = await api.messages(this.locrit.id, this.sessionId, { limit: 1 });
    const reply = messages[messages.length - 1];
    if (reply?.role === "assistant" && el.isConnected && !el.querySelector(".why")) this.withWhy(el, reply);
  }

  fill(el) {
    const body = el.querySelector(".body");
    if (el.dataset.role === "assistant") replace(body, renderMarkdown(el.text));
    else body.textContent = el.text;
  }

  markLastReply() {
    this.log.querySelector(".regenerate")?.remove();
    const replies = this.log.querySelectorAll(".message.assistant");
    const last = replies[replies.length - 1];
    if (!last || this.turn) return;
    last.querySelector(".message-actions").append(h("button", {
      type: "button", class: "ghost small regenerate", text: t("regenerate"),
      onclick: () => this.send(this.lastUser()),
    }));
  }

  lastUser() {
    const users = this.log.querySelectorAll(".message.user");
    return users[users.length - 1]?.text ?? "";
  }

  send(text) {
    text = text.trim();
    if (!text || this.turn || this.sending) return;
    this.banner.hidden = true;
    this.lastUserText = text;
    this.log.querySelector(".empty")?.remove();
    this.log.append(this.bubble("user", text, new Date().toISOString()));
    this.input.value = "";
    this.sending = true;
    this.streaming(true);
    live().emit("chat_message", { locrit_name: this.locrit.name, session_id: this.sessionId, message: text, stream: true });
    this.scrollDown();
  }

  /** A turn of this session starts or goes on; another tab's turn reloads the history first. */
  async begin(event) {
    const own = this.sending;
    this.sending = false;
    this.turn = { id: event.turn_id, el: this.bubble("assistant", "", event.timestamp), own };
    this.turn.el.classList.add("streaming");
    this.streaming(true);
    if (!own) await this.load();
    this.log.append(this.turn.el);
  }

  async chunk(event) {
    if (this.turn?.id !== event.turn_id) await this.begin(event);
    const turn = this.turn;
    turn.el.text += event.content;
    // One render per frame, however fast the tokens come.
    turn.frame ??= requestAnimationFrame(() => {
      turn.frame = null;
      this.fill(turn.el);
      this.scrollDown();
    });
  }

  async complete(event) {
    if (this.turn?.id !== event.turn_id) await this.begin(event);
    const { el, frame } = this.turn;
    if (frame) cancelAnimationFrame(frame);
    el.text = event.response ?? el.text;
    el.classList.remove("streaming");
    el.querySelector("time").textContent = formatTime(event.timestamp);
    if (event.status === "cancelled") el.querySelector("header").append(h("span", { class: "badge", text: t("stopped") }));
    this.fill(el);
    this.turn = null;
    this.streaming(false);
    this.markLastReply();
    this.scrollDown();
    this.loadSessions();
    await this.addWhy(el);
  }

  /** An error of ours: the typed text comes back into the box. */
  failed(event) {
    if (event.locrit_name && event.locrit_name !== this.locrit.name) return;
    if (event.session_id && event.session_id !== this.sessionId) return;
    if (!this.sending && !this.turn) return;
    this.sending = false;
    if (this.turn) {
      this.turn.el.classList.remove("streaming");
      this.turn = null;
    }
    this.streaming(false);
    const message = event.message ?? t("error");
    this.banner.textContent = /inactive/i.test(message) ? t("locrit_inactive", { name: this.locrit.name })
      : /unavailable|connection failed|connect/i.test(message) ? `${t("model_down")} (${message})` : message;
    this.banner.hidden = false;
    if (!this.input.value) this.input.value = this.lastUserText;
    this.input.focus();
  }

  async resync() {
    if (this.turn?.frame) cancelAnimationFrame(this.turn.frame);
    this.turn = null;
    this.sending = false;
    this.streaming(false);
    await this.load();
  }

  stop() {
    live().emit("stop_generation", { locrit_name: this.locrit.name, session_id: this.sessionId });
  }

  streaming(on) {
    this.stopButton.hidden = !on;
    this.sendButton.disabled = on;
  }

  scrollDown() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}
