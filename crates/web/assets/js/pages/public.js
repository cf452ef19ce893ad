// A Locrit's public page (/p/<name>) and its compact form for other sites' frames
// (/p/<name>/embed, opened by widget.js): its profile, and chat as an anonymous
// visitor. The server names the visitor with an id on the first message; it is kept in
// localStorage so the conversation comes back on the next visit.
import { api } from "../api.js";
import { formatTime, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";

const VISITOR_KEY = "locrit.visitor";
const NAME_KEY = "locrit.visitor_name";

export function render(main, name) {
  return publicChat(main, name, { embedded: false });
}

export function embed(main, name) {
  return publicChat(main, name, { embedded: true });
}

async function publicChat(main, name, { embedded }) {
  let locrit;
  try {
    locrit = await api.public.profile(name);
  } catch (error) {
    replace(main, h("div", { class: "banner error", role: "alert", text: publicRefusal(error) }));
    return;
  }
  const view = new PublicChat(main, locrit, embedded);
  await view.load();
}

/** Why the page cannot be shown: in the visitor's language where the server said why in its own. */
function publicRefusal(error) {
  if (error.status === 404) return t("public_not_found");
  return error.code === "forbidden" ? t("public_not_open") : error.message;
}

/** What a page may show as its avatar image; anything else is shown as text (an emoji). */
function avatar(value) {
  if (/^(\/|data:image\/)/.test(value ?? "")) return h("img", { class: "avatar", src: value, alt: "" });
  return h("span", { class: "avatar", "aria-hidden": "true", text: value || "🤖" });
}

class PublicChat {
  constructor(main, locrit, embedded) {
    this.locrit = locrit;
    const page = locrit.page_config ?? {};
    this.log = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": t("chat_title", { name: locrit.name }) });
    this.banner = h("div", { class: "banner error", role: "alert", hidden: true });
    this.visitorName = h("input", { id: "visitor-name", name: "visitor_name", maxlength: 64, autocomplete: "nickname",
      value: localStorage.getItem(NAME_KEY) ?? "", placeholder: t("visitor_name_placeholder") });
    this.input = h("textarea", { id: "message", name: "message", rows: 2, required: true, "aria-label": t("message_label"),
      placeholder: t("message_label"), onkeydown: (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.form.requestSubmit(); }
      } });
    this.sendButton = h("button", { type: "submit", text: t("send") });
    this.form = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.send(); } }, this.input, this.sendButton);
    const model = page.show_model_info && locrit.model ? h("code", { class: "model", text: locrit.model }) : null;
    const standalone = embedded ? h("a", { href: `/p/${encodeURIComponent(locrit.name)}`, target: "_blank", rel: "noopener",
      class: "small", text: t("public_open_full") }) : null;
    replace(main, h("section", { class: `public-chat${embedded ? " compact" : ""}`, dataset: { theme: page.theme ?? "default" } },
      h("header", { class: "public-head" }, avatar(page.avatar),
        h("div", {},
          h("h1", { text: page.title ?? t("chat_title", { name: locrit.name }) }),
          embedded ? null : h("p", { class: "muted description", text: page.description ?? locrit.description }),
          model),
        standalone),
      this.log, this.banner,
      h("div", { class: "field visitor" }, h("label", { for: "visitor-name", text: t("visitor_name_label") }), this.visitorName),
      this.form));
    this.welcome = page.welcome_message;
  }

  get visitorId() {
    return localStorage.getItem(VISITOR_KEY);
  }

  set visitorId(id) {
    if (id) localStorage.setItem(VISITOR_KEY, id);
    else localStorage.removeItem(VISITOR_KEY);
  }

  async load() {
    let messages = [];
    if (this.visitorId) {
      try {
        messages = await api.public.history(this.locrit.name, this.visitorId);
      } catch (error) {
        if (error.status !== 400) throw error;
        this.visitorId = null; // not an id of this server: start afresh
      }
    }
    replace(this.log);
    if (this.welcome) this.log.append(this.bubble("assistant", this.welcome, null, "welcome"));
    this.log.append(...messages.map((m) => this.bubble(m.role, m.content, m.timestamp, m.status)));
    this.scrollDown();
  }

  bubble(role, text, timestamp, extra) {
    const body = h("div", { class: "body" });
    const who = role === "user" ? (this.visitorName.value.trim() || t("you")) : this.locrit.name;
    const el = h("article", { class: `message ${role}${extra === "welcome" ? " welcome" : ""}`, dataset: { role } },
      h("header", {}, h("strong", { text: who }),
        timestamp ? h("time", { datetime: timestamp, text: formatTime(timestamp) }) : null,
        extra && extra !== "complete" && extra !== "welcome" ? h("span", { class: "badge", text: extra }) : null),
      body);
    el.text = text;
    this.fill(el);
    return el;
  }

  fill(el) {
    const body = el.querySelector(".body");
    if (el.dataset.role === "assistant") replace(body, renderMarkdown(el.text));
    else body.textContent = el.text;
  }

  async send() {
    const text = this.input.value.trim();
    if (!text || this.sending) return;
    this.sending = true;
    this.sendButton.disabled = true;
    this.banner.hidden = true;
    const visitorName = this.visitorName.value.trim();
    localStorage.setItem(NAME_KEY, visitorName);
    this.log.append(this.bubble("user", text, new Date().toISOString()));
    this.input.value = "";
    const reply = this.bubble("assistant", "", null);
    reply.classList.add("streaming");
    this.log.append(reply);
    this.scrollDown();
    try {
      await api.public.chat(this.locrit.name, { message: text, visitorName, visitorId: this.visitorId }, {
        onVisitor: (id) => { this.visitorId = id; },
        onChunk: (chunk) => {
          reply.text += chunk;
          reply.frame ??= requestAnimationFrame(() => {
            reply.frame = null;
            this.fill(reply);
            this.scrollDown();
          });
        },
      });
      if (reply.frame) cancelAnimationFrame(reply.frame);
      this.fill(reply);
      reply.querySelector("header").append(h("time", { datetime: new Date().toISOString(), text: formatTime(new Date().toISOString()) }));
    } catch (error) {
      if (!reply.text) reply.remove();
      this.banner.textContent = error.status === 429 ? t("public_slow_down", { error: error.message }) : error.message;
      this.banner.hidden = false;
      if (!this.input.value) this.input.value = text;
    } finally {
      reply.classList.remove("streaming");
      this.sending = false;
      this.sendButton.disabled = false;
      this.scrollDown();
      this.input.focus();
    }
  }

  scrollDown() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}
