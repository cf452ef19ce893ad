// The Memory Explorer's drawings: activity over time and the concepts' graph.
import { h } from "../../dom.js";
import { t } from "../../i18n.js";

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** Messages per day as bars, the memory's size as a line. */
export function activityChart(days) {
  const width = days.length * 20;
  const most = (key) => Math.max(1, ...days.map((d) => d[key]));
  const [maxMessages, maxMemories] = [most("messages"), most("memories")];
  const y = (value, max) => 95 - (value / max) * 88;
  const label = days.map((d) => `${d.date}: ${d.messages} / ${d.memories}`).join(", ");
  const chart = svg("svg", { viewBox: `0 0 ${width} 112`, class: "chart", role: "img",
    "aria-label": `${t("activity")} (${t("total_messages")} / ${t("total_memories")}): ${label}` });
  days.forEach((day, i) => {
    const top = y(day.messages, maxMessages);
    chart.append(svg("rect", { x: i * 20 + 2, y: top, width: 16, height: 95 - top, class: "bar" },
      svg("title", {}, `${day.date}: ${day.messages} ${t("total_messages").toLowerCase()}, ${day.memories} ${t("total_memories").toLowerCase()}`)));
    if (i % 2 === 0) chart.append(svg("text", { x: i * 20 + 10, y: 107, "text-anchor": "middle", class: "tick" },
      day.date.slice(8)));
  });
  const points = days.map((day, i) => `${i * 20 + 10},${y(day.memories, maxMemories)}`).join(" ");
  chart.append(svg("polyline", { points, class: "growth" }));
  return h("figure", { class: "activity" }, chart, h("figcaption", { class: "legend" },
    h("span", { class: "key bar" }), t("total_messages"), " ", h("span", { class: "key growth" }), t("total_memories")));
}

/** Concepts on a circle, joined by the relations the Locrit learned (named on hover). */
export function conceptGraph(concepts, relations) {
  const r = 160;
  const at = new Map(concepts.map((c, i) => {
    const angle = (2 * Math.PI * i) / concepts.length;
    return [c.id, { c, x: 200 + r * Math.cos(angle), y: 200 + r * Math.sin(angle) }];
  }));
  const graph = svg("svg", { viewBox: "0 0 400 400", class: "graph", role: "img", "aria-label": t("tab_concepts") });
  for (const { from, to, relation } of relations) {
    const [a, b] = [at.get(from), at.get(to)];
    if (a && b) graph.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "edge", "data-relation": relation },
      svg("title", {}, `${a.c.name} ${relation} ${b.c.name}`)));
  }
  for (const p of at.values()) {
    graph.append(svg("g", { class: "node" }, svg("circle", { cx: p.x, cy: p.y, r: 6 }),
      svg("text", { x: p.x, y: p.y - 10, "text-anchor": "middle" }, p.c.name), svg("title", {}, p.c.description ?? p.c.name)));
  }
  const names = new Map(concepts.map((c) => [c.id, c.name]));
  return h("div", {}, graph, h("ul", { class: "rows relations" }, relations.map(({ from, to, relation }) =>
    h("li", {}, h("strong", { text: names.get(from) }), ` ${relation} `, h("strong", { text: names.get(to) ?? "" })))),
  h("ul", { class: "rows" }, concepts.map((c) => h("li", {},
    h("strong", { text: c.name }), " ", h("span", { class: "muted", text: `${c.type} · ${c.mentions}` })))));
}
