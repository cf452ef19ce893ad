// Conversations between Locrits: every dialogue of the user's Locrits, the form that
// starts or schedules one, and each Locrit's contacts (Locrits of other servers).
import { api } from "../api.js";
import { field, formatTime, h, replace, toast } from "../dom.js";
import { navigate } from "../main.js";
import { t } from "../i18n.js";

/** Dialogues not yet over are redrawn this often, so their status and turns move. */
const REFRESH_MS = 5000;
const FINAL = ["completed", "stopped", "failed"];

export const isFinal = (dialogue) => FINAL.includes(dialogue.status);

export function statusBadge(status) {
  return h("span", { class: `badge dialogue-status ${status}`, dataset: { status }, text: t(`dialogue_status_${status}`) });
}

/** The partner's name: a Locrit of this server, or a contact of the initiator. */
export function partnerName(dialogue, locrits, contacts) {
  const { partner } = dialogue;
  const name = partner.kind === "local"
    ? locrits.find((l) => l.id === partner.locrit_id)?.name
    : contacts.find((c) => c.id === partner.contact_id)?.name;
  return name ?? t("dialogue_other");
}

/** "3/10 replies · 120/500 tokens · 5 min": what it spent against its budget. */
export function spent(dialogue) {
  const { budget } = dialogue;
  return [
    t("dialogue_turns", { turns: dialogue.turns, max: budget.max_turns }),
    budget.max_tokens ? t("dialogue_tokens_of", { tokens: dialogue.tokens, max: budget.max_tokens })
      : t("dialogue_tokens", { tokens: dialogue.tokens }),
    budget.max_seconds ? t("dialogue_minutes", { minutes: Math.round(budget.max_seconds / 60) }) : null,
  ].filter(Boolean).join(" · ");
}

/** When it starts, started and ended. */
export function times(dialogue) {
  const { status, start_at: startAt, started_at: startedAt, ended_at: endedAt } = dialogue;
  return [
    status === "scheduled" ? t("dialogue_starts", { at: formatTime(startAt) }) : null,
    startedAt ? t("dialogue_started", { at: formatTime(startedAt) }) : null,
    endedAt ? t("dialogue_ended", { at: formatTime(endedAt) }) : null,
  ].filter(Boolean).join(" · ");
}

export async function render(main) {
  replace(main, h("h1", { text: t("dialogues_title") }), h("p", { class: "muted", text: t("loading") }));
  const locrits = await api.locrits();
  const contacts = new Map(await Promise.all(locrits.map(async (l) => [l.id, await api.contacts.list(l.id)])));
  const list = h("ul", { class: "rows dialogue-list", "aria-label": t("dialogues_title") });
  let timer = null;
  let left = false;
  const drawList = async () => {
    clearTimeout(timer);
    const dialogues = (await Promise.all(locrits.map((l) => api.dialogues.list(l.id)))).flat()
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    replace(list, dialogues.length ? dialogues.map((d) => row(d, locrits, contacts.get(d.locrit_id) ?? []))
      : h("li", { class: "muted empty", text: t("dialogues_none") }));
    if (!left && dialogues.some((d) => !isFinal(d))) timer = setTimeout(() => drawList().catch(() => {}), REFRESH_MS);
  };
  const form = newDialogueForm(locrits, contacts);
  const contactsSection = h("section", { class: "contacts" }, h("h2", { text: t("contacts_title") }),
    h("p", { class: "muted", text: t("contacts_intro") }),
    locrits.map((locrit) => contactsOf(locrit, contacts, () => form.refreshPartners())));
  await drawList();
  // The form folds away once there are conversations to look at.
  const start = h("details", { class: "start-dialogue", open: !list.querySelector("[data-dialogue]") },
    h("summary", { text: t("dialogue_new") }), form.el);
  replace(main,
    h("div", { class: "page-head" }, h("h1", { text: t("dialogues_title") })),
    h("p", { class: "muted", text: t("dialogues_intro") }),
    start, list, contactsSection);
  return () => {
    left = true;
    clearTimeout(timer);
  };
}

function row(dialogue, locrits, contacts) {
  const initiator = locrits.find((l) => l.id === dialogue.locrit_id)?.name ?? "";
  const href = `/conversations/${encodeURIComponent(dialogue.id)}`;
  return h("li", { dataset: { dialogue: dialogue.id, status: dialogue.status } },
    h("div", { class: "dialogue-summary" },
      h("p", {}, statusBadge(dialogue.status), " ",
        h("a", { href, text: t("dialogue_between", { a: initiator, b: partnerName(dialogue, locrits, contacts) }) })),
      dialogue.topic ? h("p", { class: "topic", text: dialogue.topic }) : null,
      h("p", { class: "muted budget" }, h("span", { class: "spent", text: spent(dialogue) }),
        h("span", { class: "times", text: times(dialogue) })),
      dialogue.stop_reason ? h("p", { class: "muted stop-reason", text: dialogue.stop_reason }) : null),
    h("a", { class: "button ghost small", href, text: t("open") }));
}

/** The form that starts a dialogue; `refreshPartners()` after the contacts changed. */
function newDialogueForm(locrits, contacts) {
  const initiator = h("select", { name: "initiator", required: true },
    locrits.map((l) => h("option", { value: l.id, text: l.name })));
  const partner = h("select", { name: "partner", required: true });
  const refreshPartners = () => {
    const chosen = locrits.find((l) => l.id === initiator.value);
    const others = locrits.filter((l) => l !== chosen);
    const known = contacts.get(initiator.value) ?? [];
    replace(partner,
      others.length ? h("optgroup", { label: t("dialogue_partner_local") },
        others.map((l) => h("option", { value: `local:${l.name}`, text: l.name }))) : null,
      known.length ? h("optgroup", { label: t("dialogue_partner_contacts", { name: chosen?.name ?? "" }) },
        known.map((c) => h("option", { value: `contact:${c.id}`, text: `${c.name} (${c.server_url})` }))) : null);
    submit.disabled = !partner.options.length;
    empty.hidden = Boolean(partner.options.length);
  };
  initiator.addEventListener("change", refreshPartners);
  const topic = h("input", { name: "topic", maxlength: 2000 });
  const opening = h("textarea", { name: "opening", rows: 2 });
  const maxTurns = h("input", { name: "max_turns", type: "number", min: 1, max: 200, value: 10, required: true });
  const minutes = h("input", { name: "max_minutes", type: "number", min: 1 });
  const tokens = h("input", { name: "max_tokens", type: "number", min: 1 });
  const startAt = h("input", { name: "start_at", type: "datetime-local" });
  const submit = h("button", { type: "submit", text: t("dialogue_start") });
  const empty = h("p", { class: "banner warn", role: "status", hidden: true, text: t("dialogue_need_partner") });
  const problem = h("div", { class: "banner error", role: "alert", hidden: true });
  const number = (input) => (input.value ? Number(input.value) : undefined);
  const el = h("form", { class: "new-dialogue", onsubmit: async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const [kind, value] = partner.value.split(/:(.*)/s);
    const fields = {
      [kind === "local" ? "partner" : "contact_id"]: value,
      topic: topic.value.trim(),
      opening: opening.value.trim() || undefined,
      max_turns: number(maxTurns),
      max_seconds: number(minutes) && number(minutes) * 60,
      max_tokens: number(tokens),
      // datetime-local is the browser's local time; the server takes RFC 3339.
      start_at: startAt.value ? new Date(startAt.value).toISOString() : undefined,
    };
    submit.disabled = true;
    try {
      const dialogue = await api.dialogues.start(initiator.value, fields);
      toast(t(dialogue.status === "scheduled" ? "dialogue_scheduled" : "dialogue_started_now"));
      navigate(`/conversations/${encodeURIComponent(dialogue.id)}`);
    } catch (error) {
      problem.textContent = error.field ? t("field_error", { field: error.field, error: error.message }) : error.message;
      problem.hidden = false;
      submit.disabled = false;
    }
  } },
  h("fieldset", { "aria-label": t("dialogue_new") },
    h("div", { class: "form-grid" },
      field(t("dialogue_initiator"), initiator),
      field(t("dialogue_partner"), partner),
      wide(field(t("dialogue_topic"), topic)),
      wide(field(t("dialogue_opening"), opening, t("dialogue_opening_help"))),
      field(t("dialogue_max_turns"), maxTurns),
      field(t("dialogue_max_minutes"), minutes),
      field(t("dialogue_max_tokens"), tokens),
      field(t("dialogue_start_at"), startAt, t("dialogue_start_at_help"))),
    empty, problem, h("div", { class: "actions" }, submit)));
  refreshPartners();
  return { el, refreshPartners };
}

/** A wide field of the form's grid: it takes a whole row. */
function wide(el) {
  el.classList.add("wide");
  return el;
}

/** A Locrit's contacts: listed, added, removed. */
function contactsOf(locrit, contacts, changed) {
  const list = h("ul", { class: "rows" });
  const summary = h("summary");
  const draw = () => {
    const known = contacts.get(locrit.id) ?? [];
    summary.textContent = t("contacts_of", { name: locrit.name, count: known.length });
    replace(list, known.length ? known.map((c) => h("li", { dataset: { contact: c.id } },
      h("span", {}, h("strong", { text: c.name }), " ", h("code", { text: c.server_url })),
      h("button", { type: "button", class: "danger small", text: t("delete"), "aria-label": `${t("delete")} ${c.name}`,
        onclick: async () => {
          try {
            await api.contacts.remove(locrit.id, c.id);
          } catch (error) {
            toast(error.message);
          }
          await reload();
        } })))
      : h("li", { class: "muted", text: t("contacts_none") }));
  };
  const reload = async () => {
    contacts.set(locrit.id, await api.contacts.list(locrit.id));
    draw();
    changed();
  };
  const input = (name, type = "text") => h("input", { name, type, required: type !== "password", autocomplete: "off",
    "aria-label": t(`contact_${name}`), placeholder: t(`contact_${name}`) });
  const name = input("name");
  const url = input("server_url", "url");
  const key = input("api_key", "password");
  const form = h("form", { class: "row add-contact", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api.contacts.add(locrit.id, { name: name.value.trim(), server_url: url.value.trim(), api_key: key.value || undefined });
      form.reset();
      await reload();
    } catch (error) {
      toast(error.field ? t("field_error", { field: error.field, error: error.message }) : error.message);
    }
  } }, name, url, key, h("button", { type: "submit", class: "small", text: t("contact_add") }));
  draw();
  return h("details", { class: "contacts-of", dataset: { locrit: locrit.name } },
    summary, list, form);
}
