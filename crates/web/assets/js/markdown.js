// Markdown to DOM nodes. Model output is only ever placed as text nodes inside
// elements built here, so no markup in it can run or render: nothing to sanitise.
// Covers what chat replies use: fenced code, headings, lists, quotes, paragraphs,
// inline code, bold, italic and http(s) links.
import { h } from "./dom.js";

export function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*```\s*([\w+-]*)/);
    if (fence) {
      const code = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) code.push(lines[i]);
      i++; // the closing fence, or the end of a reply still streaming
      out.append(codeBlock(code.join("\n"), fence[1]));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      out.append(inline(h(`h${Math.min(heading[1].length + 2, 6)}`), heading[2]));
      i++;
      continue;
    }
    const item = /^\s*(?:[-*+]|(\d+)[.)])\s+/;
    if (item.test(line)) {
      const list = h(line.match(item)[1] ? "ol" : "ul");
      for (; i < lines.length && item.test(lines[i]); i++) {
        list.append(inline(h("li"), lines[i].replace(item, "")));
      }
      out.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*>\s?/, ""));
      out.append(h("blockquote", {}, renderMarkdown(quoted.join("\n"))));
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const paragraph = [];
    for (; i < lines.length && lines[i].trim() && !startsBlock(lines[i]); i++) paragraph.push(lines[i]);
    if (!paragraph.length) paragraph.push(lines[i++]);
    const p = h("p");
    paragraph.forEach((text, n) => {
      if (n) p.append(h("br"));
      inline(p, text);
    });
    out.append(p);
  }
  return out;
}

function startsBlock(line) {
  return /^\s*```|^#{1,6}\s|^\s*(?:[-*+]|\d+[.)])\s|^\s*>/.test(line);
}

function codeBlock(code, language) {
  const el = h("code", { text: code });
  if (language) el.dataset.language = language;
  return h("pre", { class: "code" }, el);
}

const INLINE = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;

/** Appends `text` to `el`, with inline formatting. */
function inline(el, text) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    el.append(text.slice(last, match.index));
    const [, code, bold1, bold2, em1, em2, label, href] = match;
    if (code !== undefined) el.append(h("code", { text: code }));
    else if (bold1 ?? bold2) el.append(inline(h("strong"), bold1 ?? bold2));
    else if (em1 ?? em2) el.append(inline(h("em"), em1 ?? em2));
    else el.append(h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: label }));
    last = match.index + match[0].length;
  }
  el.append(text.slice(last));
  return el;
}
