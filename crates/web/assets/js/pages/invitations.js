// A Locrit's invitations, in its settings page: links that let one person chat with it
// on its public page (while "Invited guests" is on), until revoked or expired.
import { api } from "../api.js";
import { actionForm, confirmButton, field, formatTime, h, replace, secretOnce, toast } from "../dom.js";
import { t } from "../i18n.js";

export async function invitationsSection(locrit) {
  const list = h("ul", { class: "rows invitations" });
  const created = h("div", { class: "created" });
  const draw = (all) => replace(list, all.length ? all.map((invitation) => h("li", { dataset: { invitation: invitation.id } },
    h("div", {}, h("strong", { class: "label", text: invitation.label || t("no_label") }),
      h("p", { class: "muted", text: [t("created_at", { at: formatTime(invitation.created_at) }),
        invitation.expires_at ? t("expires_at", { at: formatTime(invitation.expires_at) }) : t("never_expires")].join(" · ") })),
    invitation.revoked_at ? h("span", { class: "badge revoked", text: t("revoked_at", { at: formatTime(invitation.revoked_at) }) })
      : confirmButton(t("revoke"), t("confirm_revoke_invitation", { label: invitation.label || t("no_label") }), async () => {
        await api.invitations.revoke(locrit.id, invitation.id);
        toast(t("revoked"));
        draw(await api.invitations.list(locrit.id));
      }))) : h("li", { class: "muted", text: t("no_invitations") }));
  draw(await api.invitations.list(locrit.id));

  const label = h("input", { name: "invitation_label", maxlength: 100, autocomplete: "off" });
  const hours = h("input", { type: "number", name: "invitation_hours", min: 1, step: 1 });
  const add = actionForm({ class: "invitation-form" }, t("invite"), async () => {
    const { link } = await api.invitations.create(locrit.id, {
      label: label.value.trim(), expires_in_hours: hours.value ? Number(hours.value) : undefined,
    });
    replace(created, secretOnce(t("invitation_link"), new URL(link, location.origin).href));
    label.value = "";
    draw(await api.invitations.list(locrit.id));
  }, h("div", { class: "row" }, field(t("invitation_label"), label), field(t("invitation_hours"), hours, t("invitation_hours_help"))));
  return h("fieldset", { class: "invitations" }, h("legend", { text: t("invitations") }),
    h("p", { class: locrit.open_to?.invitations ? "help" : "banner warn", text:
      locrit.open_to?.invitations ? t("invitations_help") : t("invitations_closed") }),
    add, created, list);
}
