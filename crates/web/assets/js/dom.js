// A small element builder: text always goes in as text, never as HTML.
import { t } from "./i18n.js";

/** h("button", {class: "x", onclick: f, "aria-label": "…"}, child, …) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = true;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Puts `text` on the clipboard and says whether it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t("copied"));
  } catch {
    toast(t("copy_failed"));
  }
}

/**
 * A secret the server shows once (an API key, an invitation link): the value, a copy
 * button, and the warning that it will not be shown again.
 */
export function secretOnce(label, value) {
  return h("div", { class: "banner ok secret", role: "status" },
    h("p", {}, h("strong", { text: label })),
    h("div", { class: "row" }, h("code", { class: "secret-value", text: value }),
      h("button", { type: "button", class: "ghost small copy", text: t("copy"), onclick: () => copyText(value) })),
    h("p", { class: "help", text: t("shown_once") }));
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), 4000);
}

/** A labelled form field; `input` is the control. */
export function field(label, input, help) {
  const id = input.id || (input.id = `f-${Math.random().toString(36).slice(2, 9)}`);
  const helpEl = help ? h("p", { class: "help", id: `${id}-help`, text: help }) : null;
  if (helpEl) input.setAttribute("aria-describedby", helpEl.id);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input, helpEl);
}

/** A checkbox with its label and a plain-words explanation. */
export function toggle(label, checked, help) {
  const input = h("input", { type: "checkbox", checked });
  return {
    input,
    el: h("label", { class: "toggle" }, input,
      h("span", {}, h("strong", { text: label }), help ? h("span", { class: "help", text: help }) : null)),
  };
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(document.documentElement.lang, { dateStyle: "short", timeStyle: "medium" });
}

/** An id for a new session; randomUUID needs a secure context. */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A form that runs `submit()` when sent, its `children` then an alert and a submit
 * button labelled `label`: the button waits while it runs, and what fails shows in the alert.
 */
export function actionForm(props, label, submit, ...children) {
  const problem = h("div", { class: "banner error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", text: label });
  return h("form", { novalidate: true, ...props, async onsubmit(event) {
    event.preventDefault();
    problem.hidden = true;
    button.disabled = true;
    try {
      await submit();
    } catch (error) {
      problem.textContent = error.field ? t("field_error", { field: error.field, error: error.message }) : error.message;
      problem.hidden = false;
    } finally {
      button.disabled = false;
    }
  } }, children, problem, h("div", { class: "actions" }, button));
}

/** A button that runs `work()` once `question` is confirmed; a failure is a toast. */
export function confirmButton(label, question, work) {
  return h("button", { type: "button", class: "danger small", text: label, async onclick() {
    if (!confirm(question)) return;
    try {
      await work();
    } catch (error) {
      toast(error.message);
    }
  } });
}
