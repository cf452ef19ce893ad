// One conversation between two Locrits, live: its transcript as a two-sided chat (the
// initiator on the right), each local reply streamed as it is made, its budget, and
// the person's controls (pause, resume, stop, steer). Also how a finished one is reviewed.
import { api } from "../api.js";
import { formatTime, h, replace, toast } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";
import { isFinal, partnerName, spent, statusBadge, times } from "./conversations.js";

/** What a reply ending the dialogue contains; the stored words leave it out. */
const END_MARKER = "[[END]]";
const words = (text) => text.replace(END_MARKER, "").trim();

export async function render(main, id) {
  const [{ dialogue, transcript }, locrits] = await Promise.all([api.dialogues.get(id), api.locrits()]);
  const contacts = dialogue.partner.kind === "remote" ? await api.contacts.list(dialogue.locrit_id) : [];
  const names = {
    initiator: locrits.find((l) => l.id === dialogue.locrit_id)?.name ?? "",
    partner: partnerName(dialogue, locrits, contacts),
  };
  const view = new DialogueView(main, dialogue, names);
  transcript.forEach((message) => view.add(message));
  view.update(dialogue);
  view.watch();
  return () => view.close();
}

class DialogueView {
  constructor(main, dialogue, names) {
    this.dialogue = dialogue;
    this.names = names;
    this.shown = new Map(); // stored message id → its bubble
    this.last = null; // the last stored message shown
    this.tail = null; // a reply not (yet) in the transcript: {side, el, streaming, stop}

    this.badge = h("span", { class: "status-holder", role: "status" });
    this.spent = h("span", { class: "spent" });
    this.times = h("span", { class: "times" });
    this.reason = h("p", { class: "stop-reason", hidden: true });
    this.steered = h("p", { class: "muted steer-pending", hidden: true });
    this.waiting = h("p", { class: "muted waiting", "aria-hidden": "true" });
    this.log = h("div", { class: "messages dialogue-log", role: "log", "aria-live": "polite",
      "aria-label": t("dialogue_transcript") });
    this.problem = h("div", { class: "banner error", role: "alert", hidden: true });
    const control = (action, className) => h("button", { type: "button", class: `${className} ${action}`,
      text: t(`dialogue_${action}`), onclick: () => this.act(() => api.dialogues.control(dialogue.id, action)) });
    this.buttons = { pause: control("pause", "ghost"), resume: control("resume", "ghost"), stop: control("stop", "danger") };
    this.steerInput = h("input", { id: "steer", name: "steer", required: true, autocomplete: "off",
      placeholder: t("dialogue_steer_placeholder") });
    this.steerButton = h("button", { type: "submit", text: t("dialogue_steer") });
    const steer = h("form", { class: "composer steer", onsubmit: (event) => {
      event.preventDefault();
      const message = this.steerInput.value.trim();
      if (!message) return;
      this.act(async () => {
        const updated = await api.dialogues.steer(dialogue.id, message);
        this.steerInput.value = "";
        toast(t("dialogue_steer_sent"));
        return updated;
      });
    } }, h("label", { for: "steer", class: "sr-only", text: t("dialogue_steer_label") }), this.steerInput, this.steerButton);

    replace(main, h("div", { class: "conversation dialogue" },
      h("div", { class: "page-head" },
        h("h1", { text: t("dialogue_between", { a: names.initiator, b: names.partner }) }), this.badge,
        h("a", { class: "button ghost", href: "/conversations", text: t("dialogue_back") })),
      dialogue.topic ? h("p", { class: "topic", text: t("dialogue_topic_line", { topic: dialogue.topic }) }) : null,
      h("p", { class: "muted budget" }, this.spent, this.times), this.reason,
      h("div", { class: "actions controls", role: "group", "aria-label": t("dialogue_controls") }, Object.values(this.buttons)),
      this.log, this.waiting, this.steered, this.problem, steer));
  }

  watch() {
    this.unwatch = api.dialogues.watch(this.dialogue.id, {
      dialogue: (dialogue) => this.update(dialogue),
      turn: (turn) => this.follow(turn),
      message: (message) => this.add(message),
    }, () => {
      // Connected, or reconnected: what was stored since the page read the transcript
      // (before the watch began, or while it was cut) comes from the transcript.
      this.catchUp();
    });
  }

  close() {
    this.unwatch?.();
    this.tail?.stop?.();
  }

  async catchUp() {
    const { dialogue, transcript } = await api.dialogues.get(this.dialogue.id);
    transcript.forEach((message) => this.add(message));
    this.update(dialogue);
  }

  /** Runs a control; its answer is the dialogue's new state. */
  async act(request) {
    this.problem.hidden = true;
    try {
      this.update(await request());
    } catch (error) {
      this.problem.textContent = error.message;
      this.problem.hidden = false;
    }
  }

  update(dialogue) {
    this.dialogue = dialogue;
    const { status } = dialogue;
    replace(this.badge, statusBadge(status));
    this.spent.textContent = spent(dialogue);
    this.times.textContent = times(dialogue);
    this.reason.hidden = !dialogue.stop_reason;
    this.reason.textContent = dialogue.stop_reason ?? "";
    this.steered.hidden = !dialogue.steer;
    this.steered.textContent = dialogue.steer ? t("dialogue_steer_pending", { text: dialogue.steer }) : "";
    const over = isFinal(dialogue);
    this.buttons.pause.disabled = !["running", "scheduled"].includes(status);
    this.buttons.resume.disabled = status !== "paused";
    this.buttons.stop.disabled = over;
    this.steerInput.disabled = over;
    this.steerButton.disabled = over;
    this.syncTail();
  }

  /** A stored message of the initiator's transcript; shown once, in order. */
  add(message) {
    if (this.shown.has(message.id)) return;
    const side = message.role === "assistant" ? "initiator" : "partner";
    // Heard or said: a reply shown while it was made is now this message.
    if (this.tail?.side === side) this.dropTail();
    // Without an opening line, the initiator is first asked to open on the topic.
    const instruction = message.seq === 1 && message.role === "user";
    const el = instruction
      ? h("p", { class: "dialogue-instruction muted", text: t("dialogue_instruction", { text: message.content }) })
      : this.bubble(side, message.content, message.timestamp);
    this.shown.set(message.id, el);
    el.dataset.seq = message.seq;
    const late = this.last && message.seq < this.last.seq; // a catch-up after a reconnection
    const after = late && [...this.shown.values()].find((other) => other !== el && Number(other.dataset.seq) > message.seq);
    if (after) after.before(el);
    else if (this.tail) this.tail.el.before(el);
    else this.log.append(el);
    if (!late) this.last = message;
    this.syncTail();
    this.scrollDown();
  }

  bubble(side, text, timestamp) {
    const el = h("article", { class: `message ${side}`, dataset: { side } },
      h("header", {}, h("strong", { text: this.names[side] }),
        h("time", { datetime: timestamp ?? "", text: formatTime(timestamp) })),
      h("div", { class: "body" }));
    el.text = text;
    this.fill(el);
    return el;
  }

  fill(el) {
    replace(el.querySelector(".body"), renderMarkdown(words(el.text)));
  }

  /** A local reply began: its tokens as they come. */
  follow({ speaker, turn_id: turnId }) {
    const side = speaker === this.names.initiator ? "initiator" : "partner";
    this.dropTail();
    const el = this.bubble(side, "", new Date().toISOString());
    el.classList.add("streaming");
    el.setAttribute("aria-busy", "true");
    const tail = { side, el, streaming: true };
    this.tail = tail;
    this.log.append(el);
    const end = () => {
      tail.stop();
      tail.streaming = false;
      el.classList.remove("streaming");
      el.removeAttribute("aria-busy");
    };
    tail.stop = api.dialogues.watchTurn(turnId, {
      delta: ({ text }) => {
        el.text += text;
        // One render per frame, however fast the tokens come.
        tail.frame ??= requestAnimationFrame(() => {
          tail.frame = null;
          this.fill(el);
          this.scrollDown();
        });
      },
      done: ({ reply }) => {
        end();
        cancelAnimationFrame(tail.frame);
        el.text = reply.content;
        this.fill(el);
        if (this.tail !== tail) return;
        if (side === "initiator") {
          // Stored in the initiator's transcript: the message takes the bubble's place.
          this.dropTail();
          this.add(reply);
        } else {
          // The initiator hears it when it answers: until then, it is not in its transcript.
          el.classList.add("unheard");
        }
      },
      cancelled: () => { end(); this.dropTail(); },
      error: () => { end(); this.dropTail(); },
    });
    this.syncTail();
    this.scrollDown();
  }

  dropTail() {
    this.tail?.stop?.();
    this.tail?.el.remove();
    this.tail = null;
  }

  /**
   * The partner's last reply, until the initiator hears it (then it is in the
   * transcript): from the dialogue's state when no stream showed it, e.g. on review.
   */
  syncTail() {
    const { status, next_speaker: next, next_text: text, turns } = this.dialogue;
    const heard = this.last?.role === "user" && words(this.last.content) === words(text);
    const unheard = next === "initiator" && turns > 0 && text && !heard;
    if (!this.tail?.streaming) {
      if (unheard && this.tail?.side !== "partner") {
        this.dropTail();
        this.tail = { side: "partner", el: this.bubble("partner", text) };
        this.log.append(this.tail.el);
      } else if (!unheard && this.tail) {
        this.dropTail();
      }
      this.tail?.el.classList.add("unheard");
    }
    const speaking = status === "running" && !this.tail?.streaming;
    this.waiting.textContent = speaking ? t("dialogue_waiting", { name: this.names[next] }) : "";
  }

  scrollDown() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}
