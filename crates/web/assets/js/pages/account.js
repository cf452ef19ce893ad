// The account page (/account): who you are, your password and API keys; for admins,
// every account. Under local trust without a sign-in there is no account of your
// own: only the admins' part.
import { api } from "../api.js";
import { actionForm, confirmButton, field, formatTime, h, replace, secretOnce, toast, toggle } from "../dom.js";
import { t } from "../i18n.js";
import { isAdmin, reauthenticate, signInPath, who } from "../main.js";
import { newPassword } from "./sign-in.js";

const SCOPES = ["read", "chat", "manage"];
const ROLES = ["user", "admin"];

export async function render(main) {
  const { account } = who();
  const [own, accounts] = await Promise.all([
    account ? keysSection() : h("p", { class: "banner warn" }, t("local_trust_no_account"), " ",
      h("a", { href: signInPath("/account"), text: t("sign_in") })),
    isAdmin() ? accountsSection(account) : null,
  ]);
  replace(main, h("h1", { text: t("account_title") }),
    h("p", { class: "who-am-i", text: account
      ? t("signed_in_as", { name: account.username, role: t(`role_${account.role}`) }) : t("local_admin_help") }),
    account ? passwordForm() : null, own, accounts);
}

function section(className, title, ...children) {
  return h("fieldset", { class: className }, h("legend", { text: title }), children);
}

function passwordForm() {
  const current = h("input", { type: "password", name: "current_password", required: true, autocomplete: "current-password" });
  const next = newPassword();
  return section("password", t("change_password"), actionForm({ class: "password-form" }, t("change_password"), async () => {
    const problem = next.problem();
    if (problem) throw new Error(problem);
    try {
      await api.auth.changePassword(current.value, next.value);
    } catch (error) {
      throw error.status === 401 ? new Error(t("wrong_password")) : error;
    }
    toast(t("password_changed"));
    await reauthenticate(signInPath("/account")); // every sign-in ended, this one too
  }, field(t("current_password"), current), next.el));
}

async function keysSection() {
  const [keys, locrits] = await Promise.all([api.auth.keys(), api.locrits()]);
  const names = new Map(locrits.map((l) => [l.id, l.name]));
  const list = h("ul", { class: "rows keys" });
  const created = h("div", { class: "created" });
  const draw = (all) => replace(list, all.length ? all.map((key) => h("li", { dataset: { key: key.id } },
    h("div", {},
      h("p", {}, h("strong", { class: "name", text: key.name }), " ", h("code", { class: "prefix", text: `${key.prefix}…` })),
      h("p", {}, SCOPES.filter((s) => key.scopes[s]).map((s) => h("span", { class: "badge scope", text: t(`scope_${s}`) })),
        key.locrit_id ? h("span", { class: "badge", text: names.get(key.locrit_id) ?? key.locrit_id }) : null),
      h("p", { class: "muted", text: [t("created_at", { at: formatTime(key.created_at) }),
        key.last_used_at ? t("last_used", { at: formatTime(key.last_used_at) }) : t("never_used")].join(" · ") })),
    key.revoked_at ? h("span", { class: "badge revoked", text: t("revoked_at", { at: formatTime(key.revoked_at) }) })
      : confirmButton(t("revoke"), t("confirm_revoke_key", { name: key.name }), async () => {
        await api.auth.revokeKey(key.id);
        toast(t("revoked"));
        draw(await api.auth.keys());
      }))) : h("li", { class: "muted", text: t("no_keys") }));
  draw(keys);

  const name = h("input", { name: "key_name", required: true, maxlength: 100 });
  const scopes = Object.fromEntries(SCOPES.map((s) => [s, toggle(t(`scope_${s}`), s === "read", t(`scope_${s}_help`))]));
  const locrit = h("select", { name: "key_locrit" }, h("option", { value: "", text: t("every_locrit") }),
    locrits.map((l) => h("option", { value: l.name, text: l.name })));
  const add = actionForm({ class: "key-form" }, t("create_key"), async () => {
    const { token } = await api.auth.createKey({
      name: name.value.trim(), locrit: locrit.value || undefined,
      scopes: Object.fromEntries(SCOPES.map((s) => [s, scopes[s].input.checked])),
    });
    replace(created, secretOnce(t("new_key", { name: name.value.trim() }), token));
    name.value = "";
    draw(await api.auth.keys());
  }, field(t("key_name"), name), h("div", { class: "scopes" }, SCOPES.map((s) => scopes[s].el)),
  field(t("key_locrit"), locrit, t("key_locrit_help")));
  return section("api-keys", t("api_keys"), h("p", { class: "help", text: t("api_keys_help") }), add, created, list);
}

async function accountsSection(me) {
  const list = h("ul", { class: "rows accounts" });
  const draw = (all) => replace(list, all.map((account) => h("li", { dataset: { account: account.username } },
    h("p", {}, h("strong", { text: account.username }), " ", h("span", { class: "badge", text: t(`role_${account.role}`) }),
      h("span", { class: "muted", text: t("created_at", { at: formatTime(account.created_at) }) })),
    account.id === me?.id ? null : confirmButton(t("delete"), t("confirm_delete_account", { name: account.username }), async () => {
      await api.accounts.remove(account.id);
      toast(t("deleted"));
      draw(await api.accounts.list());
    }))));
  draw(await api.accounts.list());

  const username = h("input", { name: "new_username", required: true, maxlength: 64, autocomplete: "off" });
  const password = h("input", { type: "password", name: "new_account_password", required: true, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, text: t(`role_${r}`) })));
  const add = actionForm({ class: "account-form" }, t("create_account"), async () => {
    await api.accounts.create({ username: username.value.trim(), password: password.value, role: role.value });
    toast(t("created", { name: username.value.trim() }));
    username.value = "";
    password.value = "";
    draw(await api.accounts.list());
  }, h("div", { class: "row" }, field(t("username"), username), field(t("password"), password), field(t("role"), role)));
  return section("accounts", t("accounts"), h("p", { class: "help", text: t("accounts_help") }), add, list);
}
