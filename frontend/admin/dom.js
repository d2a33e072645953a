// Building the page from data: elements made with text nodes only, so no prompt, name or error
// from the API is ever parsed as HTML.

export const $ = (id) => document.getElementById(id);

export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value !== false && value != null) el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

export function fill(el, ...kids) {
  el.replaceChildren();
  for (const kid of kids.flat(Infinity)) if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

export const fmt = {
  pct: (x) => (x == null ? "–" : `${(100 * x).toFixed(0)}%`),
  num: (x, digits = 3) => (x == null ? "–" : typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : String(x)),
  time: (iso) => (iso ? new Date(iso).toLocaleString() : "–"),
  ago: (iso) => {
    if (!iso) return "–";
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 129600) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  },
  duration: (start, end) => {
    if (!start) return "–";
    const s = ((end ? new Date(end) : new Date()) - new Date(start)) / 1000;
    return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
  },
  interval: (iv) => (iv ? `${fmt.pct(iv[0])}–${fmt.pct(iv[1])}` : ""),
};

export function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
           h("tbody", {}, rows));
}

export function card(label, value, note = "", testid = null) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label),
           h("div", { class: "value", "data-testid": testid }, value), note ? h("div", { class: "note" }, note) : null);
}
