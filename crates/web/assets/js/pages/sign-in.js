// Signing in (/login) and the one-time setup of the first admin (/setup), which is
// offered from this machine while the server has no admin.
import { api } from "../api.js";
import { actionForm, field, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { reauthenticate, who } from "../main.js";

/** The server's rule (`MIN_PASSWORD_CHARS`), checked here first to say it sooner. */
const MIN_PASSWORD_CHARS = 10;

/** Where to go once signed in: the `next` of the link, if it is a page of this app. */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function render(main) {
  const { setup_needed: setupNeeded, local_trust: localTrust } = who();
  const password = h("input", { type: "password", name: "password", required: true, autocomplete: "current-password" });
  credentialsForm(main, {
    name: "sign-in", title: t("sign_in_title"), submit: t("sign_in"),
    intro: setupNeeded && !localTrust ? t("no_admin_yet") : null,
    passwordFields: field(t("password"), password),
    async send(username) {
      try {
        await api.auth.login(username, password.value);
      } catch (error) {
        throw error.status === 401 ? new Error(t("sign_in_failed")) : error;
      }
      await reauthenticate(nextPage());
    },
  });
}

export function setup(main) {
  const password = newPassword();
  credentialsForm(main, {
    name: "setup", title: t("setup_title"), submit: t("setup_submit"), intro: t("setup_intro"),
    passwordFields: password.el,
    async send(username) {
      const problem = password.problem();
      if (problem) throw new Error(problem);
      await api.auth.setup(username, password.value);
      await reauthenticate("/");
    },
  });
}

/** A username and password form: `passwordFields` its password part, `send(username)` what it does. */
function credentialsForm(main, { name, title, submit, intro, passwordFields, send }) {
  const username = h("input", { name: "username", required: true, autocomplete: "username", maxlength: 64 });
  replace(main, h("h1", { text: title }), actionForm({ class: `credentials ${name}` }, submit, () => send(username.value.trim()),
    intro ? h("p", { class: "help", text: intro }) : null, field(t("username"), username), passwordFields));
}

/**
 * A new password, typed twice: `el` its fields, `value` the password, `problem()` what
 * is wrong with it (too short, the two differ), or null.
 */
export function newPassword() {
  const first = h("input", { type: "password", name: "new_password", required: true, autocomplete: "new-password" });
  const again = h("input", { type: "password", name: "new_password_again", required: true, autocomplete: "new-password" });
  return {
    el: h("div", {}, field(t("new_password"), first, t("password_help", { min: MIN_PASSWORD_CHARS })),
      field(t("password_again"), again)),
    get value() {
      return first.value;
    },
    problem() {
      if ([...first.value].length < MIN_PASSWORD_CHARS) return t("password_too_short", { min: MIN_PASSWORD_CHARS });
      return first.value === again.value ? null : t("passwords_differ");
    },
  };
}
