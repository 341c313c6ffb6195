// DOM helpers and formatting. Strings reach the DOM as text nodes only:
// nothing here parses HTML.

export const $ = (id) => document.getElementById(id);

// el builds an element. props are set as properties (className, type,
// title, …) except `data` (dataset) and `attrs` (setAttribute). Children
// are nodes or strings; strings become text nodes.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'data') Object.assign(node.dataset, v);
    else if (k === 'attrs') for (const [a, av] of Object.entries(v)) node.setAttribute(a, av);
    else node[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function fillSelect(select, pairs) {
  for (const [value, zh] of pairs) select.append(el('option', { value }, zh));
}

// toast shows a short message; errors stay longer and are announced.
// detail (the server's words, for whoever maintains the desk) goes in the
// title, not on screen.
export function toast(text, kind = 'info', detail = '') {
  const item = el('div', { className: `toast-item ${kind}`, title: detail }, text);
  if (kind === 'error') item.setAttribute('role', 'alert');
  $('toast').append(item);
  // A few at a time: older ones go, so toasts never pile over the work.
  while ($('toast').children.length > 3) $('toast').firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

export function pad(n) { return String(n).padStart(2, '0'); }

// fmtTime formats an RFC 3339 time in local time, "2026-11-26 14:03:09".
export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtSize(n) {
  if (typeof n !== 'number' || n < 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// fmtClock is a running clock, 0:42 or 1:02:03.
export function fmtClock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  return h > 0 ? `${h}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

// fmtSeconds is a duration as 1分05秒.
export function fmtSeconds(n) {
  if (typeof n !== 'number' || n < 0) return '';
  const s = Math.round(n);
  return s >= 60 ? `${Math.floor(s / 60)}分${pad(s % 60)}秒` : `${s}秒`;
}

// fmtPhone shows a number as an agent reads it aloud: +8613800138000 is
// "138 0013 8000", a landline keeps its area code; others are left as sent.
export function fmtPhone(p) {
  if (!p) return '';
  if (p === 'anonymous') return '号码未显示';
  let d = String(p).replace(/[\s-]/g, '');
  if (d.startsWith('+86')) d = d.slice(3);
  else if (d.startsWith('+')) return String(p);
  if (/^1\d{10}$/.test(d)) return `${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}`;
  if (/^0\d{9,11}$/.test(d)) return `0${d.slice(1, d.length - 8)} ${d.slice(-8, -4)} ${d.slice(-4)}`;
  return d;
}
