// An accessibility check of the page as rendered, run by tests/console_browser.rs through
// WebDriver's execute. Returns the list of violations (strings); empty means none found.
//
// What it checks: every form control has a label, every button and link an accessible
// name, images and SVGs are labelled or hidden from assistive technology, sampled text has
// a contrast of at least 4.5:1 (WCAG 2 relative luminance, from the computed colours),
// and every interactive element on screen is reachable with the keyboard.
const out = [];

function describe(el) {
  let s = el.tagName.toLowerCase();
  if (el.id) s += `#${el.id}`;
  if (el.classList.length) s += `.${[...el.classList].join(".")}`;
  const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
  return text ? `${s} "${text}"` : s;
}

// Rendered: neither it nor an ancestor is display:none (or in a closed <details>).
function rendered(el) {
  return el.getClientRects().length > 0;
}

function hiddenFromAT(el) {
  for (let e = el; e; e = e.parentElement) {
    if (e.getAttribute("aria-hidden") === "true") return true;
  }
  return false;
}

function textOf(el) {
  // The text an assistive technology reads: aria-hidden subtrees left out, image alts in.
  let s = "";
  for (const n of el.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) s += n.textContent;
    else if (n.nodeType === Node.ELEMENT_NODE && n.getAttribute("aria-hidden") !== "true") {
      if (n.tagName === "IMG") s += n.getAttribute("alt") || "";
      else if (n.getAttribute("aria-label")) s += n.getAttribute("aria-label");
      else s += textOf(n);
    }
  }
  return s.trim();
}

function labelledBy(el) {
  const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
  return ids.map((id) => document.getElementById(id)).filter(Boolean).map(textOf).join(" ").trim();
}

function accessibleName(el) {
  return labelledBy(el) || (el.getAttribute("aria-label") || "").trim() || textOf(el) ||
    (el.getAttribute("title") || "").trim();
}

// Form controls: a label (wrapping or `for`), aria-label or aria-labelledby, with text.
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden") continue;
  const labels = [...(el.labels || [])].map(textOf).join(" ").trim();
  if (!labels && !labelledBy(el) && !(el.getAttribute("aria-label") || "").trim()) {
    out.push(`form control without a label: ${describe(el)} name=${el.name}`);
  }
}

// Buttons and links: an accessible name.
for (const el of document.querySelectorAll("button, a, [role=button], [role=link], [role=tab]")) {
  if (!accessibleName(el)) out.push(`no accessible name: ${describe(el)} ${el.outerHTML.slice(0, 80)}`);
}

// Images and SVGs: a role and a label, or hidden from assistive technology.
for (const el of document.querySelectorAll("img, svg")) {
  if (hiddenFromAT(el)) continue;
  if (el.tagName === "IMG") {
    if (!el.hasAttribute("alt")) out.push(`img without alt: ${el.outerHTML.slice(0, 80)}`);
    continue;
  }
  if (el.parentElement && el.parentElement.closest("svg")) continue;
  const name = labelledBy(el) || (el.getAttribute("aria-label") || "").trim() ||
    (el.querySelector(":scope > title")?.textContent || "").trim();
  if (el.getAttribute("role") !== "img" || !name) {
    out.push(`svg neither labelled (role="img" and a label) nor aria-hidden: ${el.outerHTML.slice(0, 80)}`);
  }
}

// The `hidden` attribute hides: a stylesheet that sets `display` on the element must not
// show it anyway (it would be on screen and in the accessibility tree).
for (const el of document.querySelectorAll("[hidden]")) {
  if (rendered(el)) out.push(`shown despite the hidden attribute: ${describe(el)}`);
}

// Keyboard: every interactive element on screen can take focus with Tab.
const interactive = "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=tab], [tabindex]";
for (const el of document.querySelectorAll(interactive)) {
  if (!rendered(el) || el.closest("[inert]")) continue;
  if (el.matches("[tabindex]") && !el.matches("a[href], button, input, select, textarea, summary, [role]")) continue;
  if (el.disabled) continue;
  if (el.tabIndex < 0) out.push(`not reachable by keyboard (tabIndex ${el.tabIndex}): ${describe(el)}`);
  else if (getComputedStyle(el).visibility === "hidden") out.push(`interactive but invisible: ${describe(el)}`);
}

// Contrast: computed colours, transparent backgrounds resolved through the ancestors,
// opacity applied.
function rgba(text) {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
}
function over(top, bottom) {
  const a = top.a;
  return { r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a), b: top.b * a + bottom.b * (1 - a), a: 1 };
}
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) {
      layers.push(c);
      if (c.a >= 1) break;
    }
  }
  // The canvas under everything: the root's background, else white.
  let base = { r: 255, g: 255, b: 255, a: 1 };
  if (!layers.length || layers[layers.length - 1].a < 1) {
    const root = rgba(getComputedStyle(document.documentElement).backgroundColor);
    const body = rgba(getComputedStyle(document.body).backgroundColor);
    if (root && root.a >= 1) base = root;
    else if (body && body.a >= 1) base = body;
  }
  return layers.reverse().reduce((acc, c) => over(c, acc), base);
}
function opacity(el) {
  let o = 1;
  for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
  return o;
}
function luminance(c) {
  const ch = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
}
function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
const samples = [
  "body", "main p", "main td", "main th", "main dd", "main dt", "main li", "h1", "h2", "h3",
  "label", ".muted", "a", ".badge", "button", ".button", ".chip", ".topic", "code", "legend", "summary",
];
const seen = new Set();
for (const sel of samples) {
  let n = 0;
  for (const el of document.querySelectorAll(sel)) {
    if (n >= 60) break;
    if (seen.has(el) || !rendered(el) || el.disabled) continue;
    // Only elements that hold text themselves.
    if (![...el.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim())) continue;
    const o = opacity(el);
    if (o === 0 || getComputedStyle(el).visibility === "hidden") continue;
    // Off-screen on purpose (the skip link until focused, screen-reader-only text).
    const r = el.getBoundingClientRect();
    if (r.right <= 0 || r.width <= 1 || r.height <= 1) continue;
    seen.add(el);
    n++;
    const bg = background(el);
    let fg = rgba(getComputedStyle(el).color);
    if (!fg) continue;
    fg = over({ ...fg, a: fg.a * o }, bg);
    const ratio = contrast(fg, bg);
    if (ratio < 4.5) {
      out.push(`contrast ${ratio.toFixed(2)}:1 < 4.5:1 for ${describe(el)} (${getComputedStyle(el).color} on ${background(el) && `rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)})`})`);
    }
  }
}

return out;
