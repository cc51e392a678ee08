// Mixer controls bound to the plan: the per-track rows (name, role, M/S/Ø, fader, pan, lane)
// and the inspector (EQ with its curve, compressor, nudge, de-esser, sends, buses).
// Every control writes the user's value into the plan, shows the AI's reason, and has a lock.

import { h, clear, clamp, fmtDb } from './ui.js';
import { spec, snap, formatValue, parseValue, SHORT_LABELS } from './plan.js';
import { EqEditor } from './eq-curve.js';
import { drawPeaks } from './waveform.js';

const LOCK_SVG = '<svg viewBox="0 0 16 16" width="11" height="11" aria-hidden="true"><path fill="currentColor" d="M4 7V5a4 4 0 1 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 1 0-4 0v2z"/></svg>';
const NULL_DEFAULTS = { highpass_hz: 80, reverb_send_db: -20, delay_send_db: -24, deess_threshold_db: -30 };
/** What each role (analysis/roles.py ROLES) is called on screen; `role_labels` from /api/options wins when served. */
export const ROLE_LABELS = { kick: 'Kick', snare: 'Snare', hats: 'Hats / cymbals', percussion: 'Toms / percussion', drums: 'Drum kit', bass: 'Bass',
  lead_vocal: 'Lead vocal', backing_vocals: 'Backing vocals', guitar: 'Guitar', keys: 'Piano / keys', pads: 'Pads / strings',
  brass: 'Brass / woodwind', synth_lead: 'Synth lead', fx: 'FX / other' };
/** A role's label; an unknown role still reads as words ("new_role" -> "New role"), never raw. */
export const roleLabel = (r) => ROLE_LABELS[r] || (r ? r.charAt(0).toUpperCase() + r.slice(1).replace(/_/g, ' ') : '');
const TRACK_COLORS = ['#f5a524', '#4cc9f0', '#b388ff', '#5ee38b', '#ff6b8b', '#ffd866', '#7aa2ff', '#ff9f6b', '#6be3d9', '#e38bff'];
export const trackColor = (i) => TRACK_COLORS[i % TRACK_COLORS.length];

/** A lock toggle for one parameter. */
export function lockButton(ctx, section, name) {
  const b = h('button.lock', { type: 'button', 'aria-label': `lock ${section} ${name}`, title: 'Lock: the AI keeps this value when it re-runs' });
  b.innerHTML = LOCK_SVG;
  b.addEventListener('click', (e) => { e.stopPropagation(); const p = ctx.store.param(section, name); if (p) ctx.store.setLocked(section, name, !p.locked); });
  b.update = () => { const p = ctx.store.param(section, name); b.classList.toggle('on', !!p?.locked); b.disabled = !p; };
  return b;
}

/**
 * Slider travel. A control's range is the engine's (plan.js spec()); how the slider moves over it
 * is page presentation: log for frequencies and times, a console fader law for long dB ranges
 * (-80..+24 dB: fine steps around 0 dB), a cubic law for a long symmetric range (the ±1000 ms
 * nudge: fine steps around 0). Typed values and arrow keys are exact: they move by the spec's step.
 */
export const SLIDER_STEPS = 1000;
const FADER_LAW = [[-80, 0], [-60, 0.07], [-40, 0.18], [-20, 0.36], [-10, 0.52], [0, 0.72], [24, 1]];

export function taperOf(m) {
  if (m.log && m.min > 0) return 'log';
  if (m.unit === 'dB' && m.max > 0 && m.max - m.min >= 60) return 'fader';
  if (m.min < 0 && m.max === -m.min && (m.max - m.min) / (m.step || 0.01) > 5000) return 'cubic';
  return 'linear';
}

function piecewise(points, x) { // linear through points (sorted by x), extended past both ends
  let k = 0;
  while (k < points.length - 2 && x > points[k + 1][0]) k++;
  const [[x0, y0], [x1, y1]] = [points[k], points[k + 1]];
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}

const faderLaw = (db) => piecewise(FADER_LAW, db);
const faderLawInverse = (y) => piecewise(FADER_LAW.map(([a, b]) => [b, a]), y);

/** Where value v sits on the slider, 0..1. */
export function sliderFraction(m, v) {
  const x = clamp(v, m.min, m.max);
  switch (taperOf(m)) {
    case 'log': return Math.log(x / m.min) / Math.log(m.max / m.min);
    case 'fader': return (faderLaw(x) - faderLaw(m.min)) / (faderLaw(m.max) - faderLaw(m.min));
    case 'cubic': { const u = x / m.max; return (Math.sign(u) * Math.abs(u) ** (1 / 3) + 1) / 2; }
    default: return (x - m.min) / (m.max - m.min);
  }
}

/** The value at slider fraction f (0..1), snapped to the spec's step. */
export function sliderValue(m, f) {
  let v;
  switch (taperOf(m)) {
    case 'log': v = m.min * (m.max / m.min) ** f; break;
    case 'fader': v = faderLawInverse(faderLaw(m.min) + f * (faderLaw(m.max) - faderLaw(m.min))); break;
    case 'cubic': { const u = 2 * f - 1; v = m.max * Math.sign(u) * Math.abs(u) ** 3; break; }
    default: v = m.min + f * (m.max - m.min);
  }
  return snap(m, v);
}

/** The slider's position (its input's value) for v. */
export const sliderPosition = (m, v) => Math.round(sliderFraction(m, v) * SLIDER_STEPS);

/**
 * One numeric / boolean parameter: label, slider (or toggle), value read-out (type to set),
 * source badge (AI / you), lock. ctx: {store, onFocus(section, name)}. Its range is the engine's.
 */
export function paramControl(ctx, section, name, { label, compact = false } = {}) {
  const m = spec(section, name) || { name, label: name, kind: 'float', min: 0, max: 1, step: 0.01 };
  const root = h(`div.pc${compact ? '.compact' : ''}`, { dataset: { section, param: name } });
  const lbl = h('label.pc-label', { title: m.help || m.label }, label ?? m.label);
  const badge = h('span.src');
  const lock = lockButton(ctx, section, name);
  const focus = () => ctx.onFocus?.(section, name);
  root.addEventListener('pointerenter', focus);
  root.addEventListener('focusin', focus);
  const set = (v, gesture) => { ctx.t0 = performance.now(); ctx.store.set(section, name, snap(m, v), gesture === undefined ? {} : { gesture }); };
  let input, readout, enable;
  if (m.kind === 'bool') {
    input = h('button.toggle', { type: 'button', 'aria-label': `${section} ${name}`, on: { click: () => ctx.store.set(section, name, !ctx.store.get(section, name)) } }, m.label);
    root.append(input, badge, lock);
  } else {
    input = h('input.pc-range', { type: 'range', min: 0, max: SLIDER_STEPS, step: 1, 'aria-label': `${section} ${name}`,
      'aria-valuemin': m.min, 'aria-valuemax': m.max });
    readout = h('input.pc-val', { type: 'text', spellcheck: false, 'aria-label': `${section} ${name} value`,
      title: `${m.label}: ${formatValue(m, m.min)} to ${formatValue(m, m.max)} (type a value)` });
    input.addEventListener('input', () => set(sliderValue(m, parseFloat(input.value) / SLIDER_STEPS)));
    input.addEventListener('change', () => ctx.store.endGesture());
    input.addEventListener('keydown', (e) => {
      // exact steps of the parameter (the slider's own steps follow its taper)
      const cur = ctx.store.get(section, name);
      if (cur === null || cur === undefined) return;
      const big = e.shiftKey || e.key === 'PageUp' || e.key === 'PageDown' ? 10 : 1;
      const delta = { ArrowUp: 1, ArrowRight: 1, PageUp: 1, ArrowDown: -1, ArrowLeft: -1, PageDown: -1 }[e.key];
      let v = null;
      if (delta) v = cur + delta * big * (m.step || 0.01);
      else if (e.key === 'Home') v = m.min;
      else if (e.key === 'End') v = m.max;
      if (v === null) return;
      e.preventDefault();
      set(v, `${section}.${name}.key`);
    });
    input.addEventListener('keyup', () => ctx.store.endGesture());
    input.addEventListener('dblclick', () => { /* reset to 0 dB / centre where that means something */
      if (['gain_db', 'pan', 'offset_ms', 'comp_makeup_db'].includes(name)) ctx.store.set(section, name, 0, { gesture: null });
    });
    readout.addEventListener('change', () => {
      const v = parseValue(m, readout.value);
      if (Number.isFinite(v)) { set(v, null); ctx.store.endGesture(); }
      root.update();
    });
    readout.addEventListener('keydown', (e) => { if (e.key === 'Enter') readout.blur(); e.stopPropagation(); });
    if (m.nullable) {
      enable = h('input.pc-on', { type: 'checkbox', title: 'on / off', 'aria-label': `${section} ${name} on` });
      enable.addEventListener('change', () => ctx.store.set(section, name, enable.checked ? snap(m, NULL_DEFAULTS[name] ?? m.min) : null, { gesture: null }));
      root.append(lbl, enable, input, readout, badge, lock);
    } else root.append(lbl, input, readout, badge, lock);
  }
  root.update = () => {
    const p = ctx.store.param(section, name);
    const v = p ? p.value : null;
    root.classList.toggle('missing', !p);
    if (m.kind === 'bool') { input.classList.toggle('on', !!v); input.setAttribute('aria-pressed', String(!!v)); }
    else {
      const off = v === null || v === undefined;
      if (enable) enable.checked = !off;
      input.disabled = off || !p;
      if (!off) { input.value = String(sliderPosition(m, v)); input.setAttribute('aria-valuetext', formatValue(m, v)); }
      if (document.activeElement !== readout) readout.value = p ? formatValue(m, v) : '—'; // off: a processor switched off; —: no value yet
    }
    badge.textContent = p ? (p.source === 'user' ? 'you' : 'AI') : '';
    badge.className = `src ${p?.source || ''}`;
    root.title = p ? `${p.source === 'user' ? 'You' : 'AI'}: ${p.reason || ''}${p.locked ? ' (locked)' : ''}` : 'no value in the plan yet (run the AI mix)';
    lock.update();
  };
  root.update();
  return root;
}

/** Why a track could not be prepared (the server's message), or null. */
export function trackFailure(t) {
  if (!t) return null;
  if (t.problem) return t.problem;
  if (t.error) return t.error.message || String(t.error);
  if (t.state === 'failed') return 'this track could not be prepared';
  return null;
}

/** A track's full name for its tooltip: the name, and the file it came from when that differs. */
const nameTitle = (t) => (t.file && t.file !== t.name ? `${t.name}\nfrom ${t.file}` : t.name);

/** One row of the tracks view: header with the strip's quick controls and the waveform lane. */
export class TrackRow {
  constructor(ctx, track, index, { roles, mastering = false }) {
    this.ctx = ctx;
    this.track = track;
    this.name = track.name;
    this.section = `track:${track.name}`;
    this.color = trackColor(index);
    this.peaks = null;
    this.controls = [];
    const s = this.section;
    // until the server has detected a role, the dropdown says so (not the first role of the list)
    this.rolePending = h('option', { value: '', disabled: true }, 'detecting…');
    this.roleSel = h('select.role', { 'aria-label': `${track.name} role`, title: 'Role: what the AI treats this track as' },
      this.rolePending, roles.map((r) => h('option', { value: r }, roleLabel(r))));
    this.roleSel.addEventListener('change', () => ctx.onRole(this.name, this.roleSel.value));
    this.roleLock = lockButton(ctx, s, 'role');
    this.mute = h('button.ms.m', { type: 'button', title: 'Mute (in the plan)', 'aria-label': `mute ${track.name}`, on: { click: () => ctx.store.set(s, 'mute', !ctx.store.get(s, 'mute'), { gesture: null }) } }, 'M');
    this.solo = h('button.ms.s', { type: 'button', title: 'Solo (preview only, not in the plan)', 'aria-label': `solo ${track.name}`, on: { click: () => ctx.onSolo(this.name, !this.solo.classList.contains('on')) } }, 'S');
    this.pol = h('button.ms.p', { type: 'button', title: 'Polarity invert', 'aria-label': `polarity ${track.name}`, on: { click: () => ctx.store.set(s, 'polarity_inverted', !ctx.store.get(s, 'polarity_inverted'), { gesture: null }) } }, 'Ø');
    const fader = paramControl(ctx, s, 'gain_db', { label: SHORT_LABELS.gain_db, compact: true });
    const pan = paramControl(ctx, s, 'pan', { label: SHORT_LABELS.pan, compact: true });
    this.controls.push(fader, pan);
    this.canvas = h('canvas.wave');
    this.status = h('span.tstatus');
    this.header = h('div.thead', { style: { '--tc': this.color }, on: { click: (e) => { if (e.target === this.header || e.target.classList.contains('tname')) ctx.onSelect(this.name); } } },
      h('div.trow1', h('span.tname', { title: nameTitle(track) }, track.name), this.status, h('span.grow'), this.mute, this.solo, this.pol),
      h('div.trow2', this.roleSel, this.roleLock, h('button.small.ghost.edit', { type: 'button', title: 'Open in the inspector: EQ, compressor, sends', on: { click: () => ctx.onSelect(this.name) } }, 'Edit')),
      fader, pan);
    if (mastering) {
      // a mastering session has one stereo mix and no mixer: the row says what the file is
      this.info = h('div.tinfo');
      this.header = h('div.thead.mastering', { style: { '--tc': this.color } },
        h('div.trow1', h('span.tname', { title: nameTitle(track) }, track.file || track.name), this.status), this.info);
      this.controls = [];
    }
    this.failure = h('div.track-failure', { role: 'alert', hidden: true });
    this.lane = h('div.lane', { style: { '--tc': this.color } }, this.canvas, this.failure);
    this.el = h('div.track', { dataset: { track: track.name }, role: 'group', 'aria-label': track.file && track.file !== track.name ? `${track.name} (${track.file})` : track.name },
      this.header, this.lane);
    new ResizeObserver(() => this.drawWave()).observe(this.canvas);
    this.update();
  }

  setTrack(track) {
    this.track = track;
    if (this.info) this.info.textContent = [track.channels === 1 ? 'mono' : track.channels === 2 ? 'stereo' : '', track.sample_rate ? `${track.sample_rate / 1000} kHz` : '', track.duration_s ? `${Math.floor(track.duration_s / 60)}:${String(Math.round(track.duration_s % 60)).padStart(2, '0')}` : ''].filter(Boolean).join(' · ');
    const failed = trackFailure(track);
    if (failed) this.status.textContent = '⚠ failed';
    else if (track.silent) this.status.textContent = 'silent';
    else this.status.textContent = track.ready ? '' : 'preparing…';
    this.status.title = failed || track.role_reason || '';
    this.el.classList.toggle('failed', !!failed);
    this.failure.hidden = !failed;
    if (failed) {
      // the reason in full where the waveform would be, with a way out
      clear(this.failure, h('span.tf-msg', `⚠ ${failed}`),
        this.ctx.onRemove ? h('button.small', { type: 'button', title: `Remove ${track.name} from the session`, on: { click: (e) => { e.stopPropagation(); this.ctx.onRemove(track); } } }, 'Remove track') : null);
    }
    this.update();
  }

  setPeaks(p) { this.peaks = p; this.drawWave(); }

  drawWave() {
    const muted = !!this.ctx.store.get(this.section, 'mute');
    drawPeaks(this.canvas, this.peaks, { color: this.color, muted, highlight: this.el.classList.contains('hl') });
  }

  update() {
    const st = this.ctx.store;
    const s = this.section;
    const role = st.get(s, 'role') || this.ctx.preRole?.(this.name) || this.track.role;
    if (role && ![...this.roleSel.options].some((o) => o.value === role)) this.roleSel.append(h('option', { value: role }, roleLabel(role)));
    this.rolePending.textContent = trackFailure(this.track) ? '—' : this.track.ready ? 'choose…' : 'detecting…';
    this.roleSel.value = role || '';
    const rp = st.param(s, 'role');
    this.roleSel.title = rp ? `${rp.source === 'user' ? 'You' : 'AI'}: ${rp.reason}` : (this.track.role_reason || 'role');
    
    this.roleLock.update();
    this.mute.classList.toggle('on', !!st.get(s, 'mute'));
    this.pol.classList.toggle('on', !!st.get(s, 'polarity_inverted'));
    for (const b of [this.mute, this.pol]) b.disabled = !st.loaded;
    for (const c of this.controls) c.update();
    this.drawWave();
  }

  setSolo(on) { this.solo.classList.toggle('on', on); }
  setSelected(on) { this.el.classList.toggle('sel', on); }
  setHighlight(on) { this.el.classList.toggle('hl', on); this.drawWave(); }
}

/** A small transfer-curve view of a compressor (input vs output level, static). */
function drawTransfer(canvas, thr, ratio, knee) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, hh = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = hh * dpr;
  const c = canvas.getContext('2d'); c.setTransform(dpr, 0, 0, dpr, 0, 0);
  c.fillStyle = '#0f1216'; c.fillRect(0, 0, w, hh);
  const lo = -60;
  const px = (db) => ((db - lo) / -lo) * w, py = (db) => hh - ((db - lo) / -lo) * hh;
  c.strokeStyle = '#262d35'; c.beginPath(); c.moveTo(0, hh); c.lineTo(w, 0); c.stroke();
  c.strokeStyle = '#f5a524'; c.lineWidth = 2; c.beginPath();
  for (let x = lo; x <= 0; x += 0.5) {
    let y;
    if (2 * (x - thr) < -knee) y = x;
    else if (2 * Math.abs(x - thr) <= knee && knee > 0) y = x + ((1 / ratio - 1) * (x - thr + knee / 2) ** 2) / (2 * knee);
    else y = thr + (x - thr) / ratio;
    x === lo ? c.moveTo(px(x), py(y)) : c.lineTo(px(x), py(y));
  }
  c.stroke(); c.lineWidth = 1;
  c.fillStyle = '#56616c'; c.font = '9px system-ui'; c.fillText('in →', w - 26, hh - 3); c.fillText(`thr ${thr.toFixed(1)}`, 3, 10);
}

/** The inspector: the selected track's full strip, or the buses. */
export class Inspector {
  constructor(ctx) {
    this.ctx = ctx;
    this.track = null;
    this.tab = 'track';
    this.controls = [];
    this.title = h('div.insp-title');
    this.tabs = h('div.tabs',
      this.tabTrack = h('button.tab', { type: 'button', on: { click: () => this.show(this.track, 'track') } }, 'Track'),
      this.tabBus = h('button.tab', { type: 'button', on: { click: () => this.show(this.track, 'buses') } }, 'Buses'));
    this.body = h('div.insp-body');
    this.el = h('div.inspector', h('div.insp-head', this.tabs, this.title), this.body);
    this.eq = null;
  }

  show(track, tab = this.tab) {
    this.track = track;
    this.tab = tab;
    this.tabTrack.classList.toggle('on', tab === 'track');
    this.tabBus.classList.toggle('on', tab === 'buses');
    this.controls = [];
    const ctx = this.ctx;
    const pc = (s, n, o) => { const c = paramControl(ctx, s, n, o); this.controls.push(c); return c; };
    const group = (title, ...kids) => h('div.group', h('div.group-title', title), ...kids);
    if (tab === 'track') {
      if (!track) { this.title.textContent = ''; clear(this.body, h('div.empty', 'Select a track (click its name or Edit) to open its EQ, compressor and sends.')); return; }
      const s = `track:${track}`;
      this.title.textContent = track;
      this.eq = this.makeEq(s, true);
      this.transfer = h('canvas.transfer');
      clear(this.body,
        h('div.insp-grid',
          group('EQ', h('div.eq-lock', h('span.ml', 'High-pass 24 dB/oct and bells/shelves'), lockButton(ctx, s, 'eq')), this.eq.el, pc(s, 'highpass_hz')),
          group('Compressor', this.transfer, pc(s, 'comp_threshold_db'), pc(s, 'comp_ratio'), pc(s, 'comp_attack_ms'), pc(s, 'comp_release_ms'), pc(s, 'comp_knee_db'), pc(s, 'comp_makeup_db')),
          group('Strip', pc(s, 'gain_db'), pc(s, 'pan'), pc(s, 'offset_ms'), pc(s, 'polarity_inverted'), pc(s, 'mute'), pc(s, 'deess_threshold_db'), pc(s, 'deess_freq_hz'),
            group('Sends', pc(s, 'reverb_send_db'), pc(s, 'delay_send_db'), this.busSelect(s)))));
    } else {
      this.title.textContent = 'Buses';
      this.eq = this.makeEq('bus:mix', false);
      this.transfer = null;
      clear(this.body,
        h('div.insp-grid',
          group('Mix bus tonal EQ', h('div.eq-lock', h('span.ml', 'toward the genre corridor / reference'), lockButton(ctx, 'bus:mix', 'eq')), this.eq.el),
          group('Mix bus glue', pc('bus:mix', 'comp_threshold_db'), pc('bus:mix', 'comp_ratio'), pc('bus:mix', 'comp_attack_ms'), pc('bus:mix', 'comp_release_ms'), pc('bus:mix', 'comp_makeup_db'), pc('bus:mix', 'output_gain_db'),
            h('div.group-title', 'Drum bus'), pc('bus:drums', 'comp_threshold_db'), pc('bus:drums', 'comp_ratio'), pc('bus:drums', 'comp_attack_ms'), pc('bus:drums', 'comp_release_ms'), pc('bus:drums', 'comp_makeup_db')),
          group('Reverb', pc('bus:reverb', 'rt60_s'), pc('bus:reverb', 'predelay_ms'), pc('bus:reverb', 'damping_hz'), pc('bus:reverb', 'highpass_hz'),
            h('div.group-title', 'Delay'), pc('bus:delay', 'delay_ms'), pc('bus:delay', 'feedback'), pc('bus:delay', 'lowpass_hz'))));
    }
    this.update();
  }

  busSelect(s) {
    const ctx = this.ctx;
    const sel = h('select', { 'aria-label': `${s} bus`, on: { change: (e) => ctx.store.set(s, 'bus', e.target.value, { gesture: null }) } },
      h('option', { value: 'mix' }, 'Mix bus'), h('option', { value: 'drums' }, 'Drum bus'));
    const lock = lockButton(ctx, s, 'bus');
    const row = h('div.pc', { dataset: { section: s, param: 'bus' }, on: { pointerenter: () => ctx.onFocus(s, 'bus') } }, h('label.pc-label', 'Routed to'), sel, h('span.src'), lock);
    row.update = () => { sel.value = ctx.store.get(s, 'bus') || 'mix'; lock.update(); const p = ctx.store.param(s, 'bus'); row.title = p ? p.reason : ''; };
    this.controls.push(row);
    return row;
  }

  makeEq(section, withHp) {
    const ctx = this.ctx;
    const ed = new EqEditor({
      sampleRate: ctx.sampleRate(),
      showHighpass: withHp,
      onChange: (bands, gesture) => { ctx.t0 = performance.now(); ctx.store.set(section, 'eq', bands, { gesture: gesture ? `${section}.${gesture}` : null }); },
      onHighpass: (hz, gesture) => { ctx.t0 = performance.now(); ctx.store.set(section, 'highpass_hz', hz, { gesture: `${section}.${gesture}` }); },
      onGestureEnd: () => ctx.store.endGesture(),
    });
    ed.section = section;
    ed.canvas.addEventListener('pointerenter', () => ctx.onFocus(section, 'eq'));
    return ed;
  }

  update(change) {
    if (!this.el.isConnected) return;
    for (const c of this.controls) c.update();
    const st = this.ctx.store;
    if (this.eq) {
      const s = this.eq.section;
      const fromEditor = change && change.section === s && (change.name === 'eq' || change.name === 'highpass_hz') && change.kind === 'param';
      if (!fromEditor) this.eq.set({ bands: st.get(s, 'eq') || [], highpass: st.get(s, 'highpass_hz'), sampleRate: this.ctx.sampleRate() });
    }
    if (this.transfer && this.track) {
      const s = `track:${this.track}`;
      requestAnimationFrame(() => drawTransfer(this.transfer, st.get(s, 'comp_threshold_db') ?? 0, st.get(s, 'comp_ratio') ?? 1, st.get(s, 'comp_knee_db') ?? 6));
    }
  }
}

export { fmtDb };
