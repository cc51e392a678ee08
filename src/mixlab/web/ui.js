// Small DOM and formatting helpers shared by every view.

/** h('div.cls#id', {attrs, on: {click}}, children...) -> Element */
export function h(tag, props = {}, ...children) {
  const m = tag.match(/^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (props instanceof Node || typeof props === 'string' || Array.isArray(props)) { children.unshift(props); props = {}; }
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function mmss(seconds) {
  if (!Number.isFinite(seconds)) return '–:––';
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function mmssTenths(seconds) {
  const s = Math.max(0, seconds || 0);
  return `${mmss(s)}.${Math.floor((s * 10) % 10)}`;
}

export function fmtDb(v, digits = 1, unit = 'dB') {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–∞';
  return `${v > 0 ? '+' : ''}${v.toFixed(digits)} ${unit}`;
}

export function fmtHz(f) {
  if (f === null || f === undefined) return 'off';
  return f >= 1000 ? `${(f / 1000).toFixed(f >= 10000 ? 1 : 2)} kHz` : `${Math.round(f)} Hz`;
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
export const dbToLin = (db) => 10 ** (db / 20);
export const linToDb = (x) => (x > 0 ? 20 * Math.log10(x) : -Infinity);

/** A canvas sized for the device pixel ratio; returns its 2D context scaled to CSS pixels. */
export function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, hgt = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h: hgt };
}

/** A tiny event emitter. */
export class Emitter {
  constructor() { this.handlers = new Map(); }
  on(ev, fn) { (this.handlers.get(ev) || this.handlers.set(ev, new Set()).get(ev)).add(fn); return () => this.handlers.get(ev).delete(fn); }
  emit(ev, ...args) { for (const fn of this.handlers.get(ev) || []) fn(...args); }
}

let toastBox;
/** A short message at the bottom right; kind: info | error. */
export function toast(message, kind = 'info', ms = 5000) {
  toastBox ||= document.body.appendChild(h('div.toasts'));
  const t = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
  toastBox.append(t);
  setTimeout(() => t.remove(), ms);
}

export function debounce(fn, ms) {
  let timer = null;
  const d = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(timer);
  return d;
}
