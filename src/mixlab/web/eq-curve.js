// Biquad magnitude responses with the formulas the engine uses (dsp/eq.py: RBJ Audio EQ
// Cookbook peaks and shelves, Butterworth high-pass as cascaded RBJ high-pass sections), and the
// EQ editor: the summed curve drawn on a canvas, bands dragged on it.

import { h, fitCanvas, clamp, fmtHz } from './ui.js';
import { spec, snap } from './plan.js';

export const BAND_KINDS = ['peak', 'low_shelf', 'high_shelf'];
/**
 * The engine's limits of one EQ band (dsp/eq.py, engine/params.py check_eq_bands): more than
 * 10 Hz and at most 20 kHz, ±24 dB, Q 0.1 to 20, at most 16 bands. The one copy on the page:
 * the curve, the drag, the wheel and the typed values all use it. When /api/options serves the
 * band limits with the `eq` spec (`bands: {freq_hz, gain_db, q}`, `max_bands`), those win.
 */
export const EQ_LIMITS = {
  freq_hz: { name: 'freq_hz', min: 10, max: 20000, step: 1, exclusiveMin: true },
  gain_db: { name: 'gain_db', min: -24, max: 24, step: 0.1 },
  q: { name: 'q', min: 0.1, max: 20, step: 0.01 },
  max_bands: 16,
};

function limits() {
  const served = spec('track:', 'eq') || {};
  const b = served.bands || {};
  return {
    freq_hz: { ...EQ_LIMITS.freq_hz, ...(b.freq_hz || {}) },
    gain_db: { ...EQ_LIMITS.gain_db, ...(b.gain_db || {}) },
    q: { ...EQ_LIMITS.q, ...(b.q || {}) },
    max_bands: served.max_bands || EQ_LIMITS.max_bands,
  };
}

/** One band value brought into the engine's range (a frequency stays above its exclusive minimum). */
export function clampBand(field, v) {
  const m = limits()[field];
  const x = snap(m, v);
  return m.exclusiveMin && x <= m.min ? snap(m, m.min + m.step) : x;
}
const SHELF_Q = Math.SQRT1_2;

/** Normalised biquad [b0, b1, b2, a1, a2] of one plan band (dsp/eq.py peaking_sos / _shelf_sos). */
export function bandCoefficients(band, sampleRate) {
  const amp = 10 ** (band.gain_db / 40); // cookbook A = 10^(dBgain/40)
  const w0 = (2 * Math.PI * band.freq_hz) / sampleRate;
  const q = band.q || SHELF_Q;
  const alpha = Math.sin(w0) / (2 * q);
  const c = Math.cos(w0);
  let b, a;
  if (band.kind === 'peak') {
    b = [1 + alpha * amp, -2 * c, 1 - alpha * amp];
    a = [1 + alpha / amp, -2 * c, 1 - alpha / amp];
  } else {
    const k = 2 * Math.sqrt(amp) * alpha;
    if (band.kind === 'high_shelf') {
      b = [amp * ((amp + 1) + (amp - 1) * c + k), -2 * amp * ((amp - 1) + (amp + 1) * c), amp * ((amp + 1) + (amp - 1) * c - k)];
      a = [(amp + 1) - (amp - 1) * c + k, 2 * ((amp - 1) - (amp + 1) * c), (amp + 1) - (amp - 1) * c - k];
    } else {
      b = [amp * ((amp + 1) - (amp - 1) * c + k), 2 * amp * ((amp - 1) - (amp + 1) * c), amp * ((amp + 1) - (amp - 1) * c - k)];
      a = [(amp + 1) + (amp - 1) * c + k, -2 * ((amp - 1) + (amp + 1) * c), (amp + 1) + (amp - 1) * c - k];
    }
  }
  return [b[0] / a[0], b[1] / a[0], b[2] / a[0], a[1] / a[0], a[2] / a[0]];
}

/** Q of each second-order section of an order-n Butterworth filter (n even). */
export function butterworthQs(order) {
  const qs = [];
  for (let k = 0; k < order / 2; k++) qs.push(1 / (2 * Math.cos(((2 * k + 1) * Math.PI) / (2 * order))));
  return qs;
}

/** RBJ high-pass section (the bilinear Butterworth section, pre-warped at the cutoff as scipy's butter). */
export function highpassCoefficients(freqHz, q, sampleRate) {
  const w0 = (2 * Math.PI * freqHz) / sampleRate;
  const alpha = Math.sin(w0) / (2 * q), c = Math.cos(w0);
  const a0 = 1 + alpha;
  return [(1 + c) / 2 / a0, -(1 + c) / a0, (1 + c) / 2 / a0, (-2 * c) / a0, (1 - alpha) / a0];
}

/** |H(e^jw)| in dB of one normalised biquad at freqHz. */
export function biquadDb(coef, freqHz, sampleRate) {
  const w = (2 * Math.PI * freqHz) / sampleRate;
  const c1 = Math.cos(w), s1 = Math.sin(w), c2 = Math.cos(2 * w), s2 = Math.sin(2 * w);
  const [b0, b1, b2, a1, a2] = coef;
  const nr = b0 + b1 * c1 + b2 * c2, ni = -(b1 * s1 + b2 * s2);
  const dr = 1 + a1 * c1 + a2 * c2, di = -(a1 * s1 + a2 * s2);
  return 10 * Math.log10(Math.max((nr * nr + ni * ni) / Math.max(dr * dr + di * di, 1e-300), 1e-24));
}

/** All sections of a strip's EQ (mix.py strip_eq_sos: bands, then a 24 dB/oct high-pass). */
export function stripSections(bands, highpassHz, sampleRate, { highpassOrder = 4 } = {}) {
  const top = 0.95 * sampleRate / 2;
  const secs = [];
  for (const b of bands || []) if (b.gain_db !== 0 && b.freq_hz > 10 && b.freq_hz <= top) secs.push(bandCoefficients(b, sampleRate));
  if (highpassHz) for (const q of butterworthQs(highpassOrder)) secs.push(highpassCoefficients(highpassHz, q, sampleRate));
  return secs;
}

export function responseDb(sections, freqHz, sampleRate) {
  let db = 0;
  for (const s of sections) db += biquadDb(s, freqHz, sampleRate);
  return db;
}

export const logFreqs = (n, lo = 20, hi = 20000) => Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));

const COLORS = ['#f5a524', '#4cc9f0', '#b388ff', '#5ee38b', '#ff6b8b', '#ffd866'];

/**
 * The EQ editor for one section: draws the summed response (bands + high-pass) and lets the user
 * drag bands (x: frequency, y: gain, wheel: Q), double-click to add a band, and edit numbers.
 * onChange(bands, gestureKey) / onHighpass(hz, gestureKey) write to the plan.
 */
export class EqEditor {
  constructor({ sampleRate, onChange, onHighpass, onGestureEnd, showHighpass = true }) {
    this.sampleRate = sampleRate || 48000;
    this.onChange = onChange;
    this.onHighpass = onHighpass;
    this.onGestureEnd = onGestureEnd;
    this.showHighpass = showHighpass;
    this.bands = [];
    this.highpass = null;
    this.selected = 0;
    this.range = limits().gain_db.max; // the canvas shows every gain a band may have
    this.canvas = h('canvas.eq-canvas', { tabIndex: 0, title: 'Drag a band: frequency and gain. Wheel: Q. Double-click: add a band.' });
    this.table = h('div.eq-bands');
    this.el = h('div.eq-editor', this.canvas, this.table);
    this.attach();
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  set({ bands, highpass, sampleRate }) {
    this.bands = structuredClone(bands || []);
    this.highpass = highpass ?? null;
    if (sampleRate) this.sampleRate = sampleRate;
    if (this.selected >= this.bands.length) this.selected = Math.max(0, this.bands.length - 1);
    this.draw();
    this.renderTable();
  }

  x(f, w) { return (Math.log(f / 20) / Math.log(1000)) * w; }
  f(x, w) { return 20 * 1000 ** clamp(x / w, 0, 1); }
  y(db, hgt) { return hgt / 2 - (db / this.range) * (hgt / 2 - 8); }
  db(y, hgt) { return ((hgt / 2 - y) / (hgt / 2 - 8)) * this.range; }

  draw() {
    const { ctx, w, h: hgt } = fitCanvas(this.canvas);
    if (!w) return;
    ctx.clearRect(0, 0, w, hgt);
    ctx.fillStyle = '#0f1216'; ctx.fillRect(0, 0, w, hgt);
    ctx.font = '10px system-ui, sans-serif'; ctx.lineWidth = 1;
    for (const f of [30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000, 20000]) {
      const x = Math.round(this.x(f, w)) + 0.5;
      ctx.strokeStyle = [100, 1000, 10000].includes(f) ? '#2a313a' : '#1b2027';
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, hgt); ctx.stroke();
      ctx.fillStyle = '#5b6672'; ctx.fillText(f >= 1000 ? `${f / 1000}k` : `${f}`, x + 2, hgt - 3);
    }
    for (const d of [-18, -12, -6, 0, 6, 12, 18].filter((x) => Math.abs(x) < this.range)) {
      const y = Math.round(this.y(d, hgt)) + 0.5;
      ctx.strokeStyle = d === 0 ? '#34404c' : '#1b2027';
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillStyle = '#5b6672'; ctx.fillText(`${d > 0 ? '+' : ''}${d}`, 3, y - 2);
    }
    const freqs = logFreqs(Math.max(64, Math.floor(w / 2)));
    const sr = this.sampleRate;
    // each band faintly
    this.bands.forEach((b, i) => {
      const c = bandCoefficients(b, sr);
      ctx.beginPath();
      freqs.forEach((f, k) => { const px = this.x(f, w), py = this.y(biquadDb(c, f, sr), hgt); k ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
      ctx.strokeStyle = COLORS[i % COLORS.length] + '66'; ctx.stroke();
    });
    // the sum, filled toward 0 dB
    const secs = stripSections(this.bands, this.showHighpass ? this.highpass : null, sr);
    const ys = freqs.map((f) => this.y(clamp(responseDb(secs, f, sr), -this.range - 6, this.range + 6), hgt));
    ctx.beginPath(); ctx.moveTo(0, this.y(0, hgt));
    freqs.forEach((f, k) => ctx.lineTo(this.x(f, w), ys[k]));
    ctx.lineTo(w, this.y(0, hgt)); ctx.closePath();
    ctx.fillStyle = 'rgba(245,165,36,0.12)'; ctx.fill();
    ctx.beginPath();
    freqs.forEach((f, k) => (k ? ctx.lineTo(this.x(f, w), ys[k]) : ctx.moveTo(this.x(f, w), ys[k])));
    ctx.strokeStyle = '#f5a524'; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1;
    // high-pass handle
    if (this.showHighpass && this.highpass) {
      const x = this.x(this.highpass, w), y = this.y(-3, hgt);
      ctx.fillStyle = '#e6edf3'; ctx.beginPath(); ctx.moveTo(x, y - 6); ctx.lineTo(x + 6, y + 5); ctx.lineTo(x - 6, y + 5); ctx.closePath(); ctx.fill();
      ctx.fillStyle = '#8b98a5'; ctx.fillText(`HP ${fmtHz(this.highpass)}`, x + 8, y + 4);
    }
    // band handles
    this.bands.forEach((b, i) => {
      const x = this.x(b.freq_hz, w), y = this.y(b.gain_db, hgt);
      ctx.beginPath(); ctx.arc(x, y, i === this.selected ? 8 : 6.5, 0, 2 * Math.PI);
      ctx.fillStyle = COLORS[i % COLORS.length]; ctx.fill();
      if (i === this.selected) { ctx.strokeStyle = '#fff'; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1; }
      ctx.fillStyle = '#111'; ctx.font = 'bold 9px system-ui'; ctx.fillText(String(i + 1), x - 2.6, y + 3.2); ctx.font = '10px system-ui, sans-serif';
    });
  }

  hit(px, py) {
    const w = this.canvas.clientWidth, hgt = this.canvas.clientHeight;
    let best = null, bestD = 14;
    this.bands.forEach((b, i) => {
      const d = Math.hypot(this.x(b.freq_hz, w) - px, this.y(b.gain_db, hgt) - py);
      if (d < bestD) { best = { kind: 'band', i }; bestD = d; }
    });
    if (!best && this.showHighpass && this.highpass) {
      const d = Math.hypot(this.x(this.highpass, w) - px, this.y(-3, hgt) - py);
      if (d < 14) best = { kind: 'hp' };
    }
    return best;
  }

  attach() {
    let drag = null;
    const pos = (e) => { const r = this.canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    this.canvas.addEventListener('pointerdown', (e) => {
      const [px, py] = pos(e);
      const hit = this.hit(px, py);
      if (!hit) return;
      drag = hit;
      if (hit.kind === 'band') { this.selected = hit.i; this.renderTable(); }
      this.canvas.setPointerCapture(e.pointerId);
      this.draw();
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const [px, py] = pos(e);
      const w = this.canvas.clientWidth, hgt = this.canvas.clientHeight;
      const f = Math.round(clamp(this.f(px, w), 20, Math.min(limits().freq_hz.max, 0.95 * this.sampleRate / 2)));
      if (drag.kind === 'hp') {
        this.highpass = snap(spec(this.section || 'track:', 'highpass_hz') || { min: 20, max: 1000, step: 1 }, f);
        this.onHighpass?.(this.highpass, 'eq:hp');
      } else {
        const b = this.bands[drag.i];
        b.freq_hz = clampBand('freq_hz', f);
        b.gain_db = clampBand('gain_db', this.db(py, hgt));
        this.onChange?.(structuredClone(this.bands), `eq:${drag.i}`);
        this.renderTable();
      }
      this.draw();
    });
    const up = () => { if (drag) { drag = null; this.onGestureEnd?.(); } };
    this.canvas.addEventListener('pointerup', up);
    this.canvas.addEventListener('pointercancel', up);
    this.canvas.addEventListener('wheel', (e) => {
      const [px, py] = pos(e);
      const hit = this.hit(px, py) || (this.bands[this.selected] ? { kind: 'band', i: this.selected } : null);
      if (!hit || hit.kind !== 'band') return;
      e.preventDefault();
      const b = this.bands[hit.i];
      b.q = clampBand('q', (b.q || SHELF_Q) * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
      this.onChange?.(structuredClone(this.bands), `eq:q${hit.i}`);
      this.draw(); this.renderTable();
    }, { passive: false });
    this.canvas.addEventListener('dblclick', (e) => {
      const [px, py] = pos(e);
      if (this.hit(px, py) || this.bands.length >= limits().max_bands) return;
      const w = this.canvas.clientWidth, hgt = this.canvas.clientHeight;
      this.bands.push({ kind: 'peak', freq_hz: clampBand('freq_hz', this.f(px, w)), gain_db: clampBand('gain_db', this.db(py, hgt)), q: 1.0 });
      this.selected = this.bands.length - 1;
      this.onChange?.(structuredClone(this.bands), null);
      this.onGestureEnd?.();
      this.draw(); this.renderTable();
    });
  }

  renderTable() {
    const lim = limits();
    const rows = this.bands.map((b, i) => {
      const upd = (field, parse) => (e) => {
        const v = parse(e.target.value);
        if (!Number.isFinite(v) && field !== 'kind') { this.renderTable(); return; }
        b[field] = field === 'kind' ? e.target.value : clampBand(field, v);
        if (field !== 'kind' && String(b[field]) !== e.target.value) e.target.value = b[field];
        if (field === 'kind' && b.kind !== 'peak' && !b.q) b.q = SHELF_Q;
        this.onChange?.(structuredClone(this.bands), null); this.onGestureEnd?.(); this.draw();
      };
      return h(`div.eq-band${i === this.selected ? '.sel' : ''}`, { on: { click: () => { this.selected = i; this.draw(); this.table.querySelectorAll('.eq-band').forEach((r, k) => r.classList.toggle('sel', k === i)); } } },
        h('span.eq-dot', { style: { background: COLORS[i % COLORS.length] } }, String(i + 1)),
        h('select', { 'aria-label': `band ${i + 1} kind`, on: { change: upd('kind', String) } },
          BAND_KINDS.map((k) => h('option', { value: k, selected: k === b.kind }, { peak: 'Bell', low_shelf: 'Low shelf', high_shelf: 'High shelf' }[k]))),
        h('input', { type: 'number', 'aria-label': `band ${i + 1} frequency`, value: Math.round(b.freq_hz), min: lim.freq_hz.min + lim.freq_hz.step, max: lim.freq_hz.max, step: lim.freq_hz.step, on: { change: upd('freq_hz', parseFloat) } }), h('span.u', 'Hz'),
        h('input', { type: 'number', 'aria-label': `band ${i + 1} gain`, value: b.gain_db, min: lim.gain_db.min, max: lim.gain_db.max, step: lim.gain_db.step, on: { change: upd('gain_db', parseFloat) } }), h('span.u', 'dB'),
        h('input', { type: 'number', 'aria-label': `band ${i + 1} Q`, value: b.q, min: lim.q.min, max: lim.q.max, step: lim.q.step, on: { change: upd('q', parseFloat) } }), h('span.u', 'Q'),
        h('button.icon.del', { title: 'Remove this band', 'aria-label': `remove band ${i + 1}`, on: { click: (e) => { e.stopPropagation(); this.bands.splice(i, 1); this.selected = 0; this.onChange?.(structuredClone(this.bands), null); this.onGestureEnd?.(); this.draw(); this.renderTable(); } } }, '×'));
    });
    const add = h('button.small', { disabled: this.bands.length >= lim.max_bands, title: 'Add a bell band at 1 kHz (or double-click the curve)', on: { click: () => {
      this.bands.push({ kind: 'peak', freq_hz: 1000, gain_db: 0, q: 1.0 }); this.selected = this.bands.length - 1;
      this.onChange?.(structuredClone(this.bands), null); this.onGestureEnd?.(); this.draw(); this.renderTable();
    } } }, '+ Band');
    this.table.replaceChildren(...rows, h('div.eq-foot', add, h('span.hint', 'drag • wheel = Q • double-click adds')));
  }
}
