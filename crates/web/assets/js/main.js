// The app shell: navigation in the browser (history API), language and theme.
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
  [/^\/explore$/, page(() => import("./pages/explore.js"))],
  [/^\/p\/([^/]+)$/, page(() => import("./pages/public.js"))],
  [/^\/p\/([^/]+)\/embed$/, page(() => import("./pages/public.js"), "embed")],
];

const NAV = [
  ["/", "nav_dashboard"],
  ["/my-locrits", "nav_locrits"],
  ["/create-locrit", "nav_create"],
  ["/conversations", "nav_conversations"],
  ["/settings", "nav_settings"],
  ["/explore", "nav_explore"],
];

let leave = null; // the current page's cleanup
let rendering = 0;

export function navigate(path) {
  history.pushState(null, "", path);
  render();
}

/** The chat in another site's frame (widget.js): the page alone, no app around it. */
const embedded = /^\/p\/[^/]+\/embed$/.test(location.pathname);
document.documentElement.classList.toggle("embedded", embedded);

async function render() {
  const ticket = ++rendering;
  leave?.();
  leave = null;
  const main = document.getElementById("main");
  drawNav();
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
  replace(nav, h("ul", {}, NAV.map(([href, key]) => {
    const current = href === "/" ? path === "/" : path.startsWith(href);
    return h("li", {}, h("a", { href, "data-link": true, "aria-current": current ? "page" : null, text: t(key) }));
  })));
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
