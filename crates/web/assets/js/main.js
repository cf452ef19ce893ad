// The app shell: navigation in the browser (history API), who is signed in, language and theme.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";

const page = (load, name) => async (...args) => (await load())[name ?? "render"](...args);
const routes = [
  [/^\/$/, page(() => import("./pages/dashboard.js"))],
  [/^\/my-locrits$/, page(() => import("./pages/locrits.js"))],
  [/^\/create-locrit$/, page(() => import("./pages/locrit-form.js"))],
  [/^\/my-locrits\/([^/]+)\/settings$/, page(() => import("./pages/locrit-form.js"))],
  [/^\/my-locrits\/([^/]+)\/chat$/, page(() => import("./pages/chat.js"))],
  [/^\/my-locrits\/([^/]+)\/memory-explorer$/, page(() => import("./pages/memory.js"))],
  [/^\/conversations$/, page(() => import("./pages/conversations.js"))],
  [/^\/conversations\/([^/]+)$/, page(() => import("./pages/dialogue.js"))],
  [/^\/settings$/, page(() => import("./pages/settings.js"))],
  [/^\/account$/, page(() => import("./pages/account.js"))],
  [/^\/login$/, page(() => import("./pages/sign-in.js"))],
  [/^\/setup$/, page(() => import("./pages/sign-in.js"), "setup")],
  [/^\/explore$/, page(() => import("./pages/explore.js"))],
  [/^\/p\/([^/]+)$/, page(() => import("./pages/public.js"))],
  [/^\/p\/([^/]+)\/embed$/, page(() => import("./pages/public.js"), "embed")],
];

/** Pages anyone may open, signed in or not. */
const OPEN = /^\/(explore$|p\/)/;

let leave = null; // the current page's cleanup
let rendering = 0;
/** What `/api/v2/auth/status` said: `{setup_needed, local_trust, account}`. */
let auth = null;

/** Whether the app may use the private pages: signed in, or trusted as this machine. */
const admitted = () => Boolean(auth.account || auth.local_trust);
/** Whether the app acts as an admin: signed in as one, or trusted as this machine. */
export const isAdmin = () => (auth.account ? auth.account.role === "admin" : auth.local_trust);

/** The main navigation: each page, and whether to offer it. */
const NAV = [
  ["/", "nav_dashboard", admitted],
  ["/my-locrits", "nav_locrits", admitted],
  ["/create-locrit", "nav_create", admitted],
  ["/conversations", "nav_conversations", admitted],
  ["/settings", "nav_settings", isAdmin],
  ["/explore", "nav_explore", () => true],
];

export function navigate(path) {
  history.pushState(null, "", path);
  render();
}

/** Who the app acts as: `{setup_needed, local_trust, account: {id, username, role} | null}`. */
export const who = () => auth;

/** Asks the server again who the app acts as (after a sign-in, a setup, a sign-out), then opens `path`. */
export async function reauthenticate(path) {
  auth = await api.auth.status();
  navigate(path);
}

/** The sign-in page, coming back to `path` (this page by default) once signed in. */
export function signInPath(path = location.pathname + location.search) {
  return path === "/" ? "/login" : `/login?next=${encodeURIComponent(path)}`;
}

// A call that needed a sign-in: the sign-in is gone (expired, ended elsewhere).
api.auth.onUnauthenticated(() => {
  if (!auth?.account && auth?.local_trust) return; // nothing to sign back into: the page says why
  auth = { ...auth, account: null };
  if (!OPEN.test(location.pathname) && location.pathname !== "/login") navigate(signInPath());
});

/** Where the app sends a request for `path` instead, if anywhere. */
function redirect(path) {
  if (OPEN.test(path)) return null;
  // The setup is offered (in the top bar), not forced: this machine already acts as an admin.
  if (path === "/setup") return auth.setup_needed && auth.local_trust ? null : "/";
  if (path === "/login") return null;
  return admitted() ? null : signInPath();
}

/** The chat in another site's frame (widget.js): the page alone, no app around it. */
const embedded = /^\/p\/[^/]+\/embed$/.test(location.pathname);
document.documentElement.classList.toggle("embedded", embedded);

async function render() {
  const ticket = ++rendering;
  leave?.();
  leave = null;
  const main = document.getElementById("main");
  if (!auth) {
    try {
      auth = await api.auth.status();
    } catch (error) {
      replace(main, h("div", { class: "banner error", role: "alert", text: error.message }));
      return;
    }
    if (ticket !== rendering) return;
  }
  const elsewhere = redirect(location.pathname);
  if (elsewhere) history.replaceState(null, "", elsewhere);
  drawNav();
  drawAccount();
  const path = location.pathname;
  const [, view] = routes.find(([pattern]) => pattern.test(path)) ?? [];
  if (!view) {
    replace(main, h("h1", { text: t("not_found") }));
    return;
  }
  const params = path.match(routes.find(([p]) => p.test(path))[0]).slice(1).map(decodeURIComponent);
  try {
    const cleanup = await view(main, ...params);
    if (ticket === rendering) leave = cleanup ?? null;
    else cleanup?.();
  } catch (error) {
    if (ticket !== rendering) return;
    replace(main, h("div", { class: "banner error", role: "alert", text: error.message }));
  }
  if (ticket !== rendering) return;
  main.focus({ preventScroll: true });
  // The page's content is drawn: the next frame paints it (read by the performance test).
  requestAnimationFrame(() => setTimeout(() => performance.mark("locrit:painted")));
}

function drawNav() {
  const nav = document.getElementById("nav");
  const path = location.pathname;
  replace(nav, h("ul", {}, NAV.filter(([, , offered]) => offered()).map(([href, key]) => {
    const current = href === "/" ? path === "/" : path.startsWith(href);
    return h("li", {}, h("a", { href, "data-link": true, "aria-current": current ? "page" : null, text: t(key) }));
  })));
}

/** Who is signed in, with the account page and sign-out; or the way to sign in. */
function drawAccount() {
  const box = document.getElementById("account");
  const { account, local_trust: localTrust, setup_needed: setupNeeded } = auth;
  if (account) {
    replace(box, h("a", { href: "/account", class: "who" }, h("strong", { text: account.username }), " ",
      h("span", { class: "badge", text: t(`role_${account.role}`) })),
    h("button", { type: "button", class: "ghost small sign-out", text: t("sign_out"), onclick: signOut }));
  } else if (setupNeeded && localTrust) {
    replace(box, h("a", { href: "/account", class: "who", text: t("local_admin") }),
      location.pathname === "/setup" ? null : h("a", { href: "/setup", class: "sign-in", text: t("set_up_accounts") }));
  } else {
    replace(box, localTrust ? h("a", { href: "/account", class: "who", text: t("local_admin") }) : null,
      location.pathname === "/login" ? null : h("a", { href: signInPath(), class: "sign-in", text: t("sign_in") }));
  }
}

async function signOut() {
  try {
    await api.auth.logout();
  } finally {
    await reauthenticate("/");
  }
}

function translateShell() {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const theme = document.getElementById("theme");
  theme.setAttribute("aria-pressed", String(document.documentElement.dataset.theme === "dark"));
}

// Same-origin links route in the page.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || link.target || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);

const langSelect = document.getElementById("lang");
langSelect.value = lang();
langSelect.addEventListener("change", () => {
  setLang(langSelect.value);
  translateShell();
  render();
});
document.getElementById("theme").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("locrit.theme", next);
  translateShell();
});

translateShell();
render();
