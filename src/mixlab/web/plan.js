// The MixPlan the page edits (mixlab.mixplan/1), with whole-plan undo/redo snapshots.
//
// A parameter is {value, source: "ai" | "user", reason, locked}. Any change made here is the
// user's: source becomes "user". A drag of one control is one undo step (changes with the same
// gesture key less than GESTURE_MS apart are merged); a patch (a note's fix) is one step.

import { Emitter } from './ui.js';

const GESTURE_MS = 900;
const MAX_HISTORY = 200;

export const USER_REASON = 'set by you';

export class PlanStore extends Emitter {
  constructor() {
    super();
    this.plan = null;
    this.undoStack = [];
    this.redoStack = [];
    this.lastGesture = { key: null, at: 0 };
  }

  load(plan, { keepHistory = false } = {}) {
    if (keepHistory && this.plan) this.checkpoint(null);
    else { this.undoStack = []; this.redoStack = []; }
    this.plan = plan ? structuredClone(plan) : null;
    this.lastGesture = { key: null, at: 0 };
    this.emit('change', { kind: 'load' });
    this.emit('history');
  }

  get loaded() { return !!this.plan; }

  sections() { return this.plan ? this.plan.sections : {}; }

  param(section, name) { return this.plan?.sections?.[section]?.[name] ?? null; }

  get(section, name, fallback = null) {
    const p = this.param(section, name);
    return p ? p.value : fallback;
  }

  trackNames() {
    return Object.keys(this.sections()).filter((s) => s.startsWith('track:')).map((s) => s.slice(6));
  }

  /** Push a snapshot for undo unless this continues the same gesture. */
  checkpoint(gestureKey) {
    const now = performance.now();
    if (gestureKey && this.lastGesture.key === gestureKey && now - this.lastGesture.at < GESTURE_MS) {
      this.lastGesture.at = now;
      return;
    }
    this.undoStack.push(JSON.stringify(this.plan));
    if (this.undoStack.length > MAX_HISTORY) this.undoStack.shift();
    this.redoStack = [];
    this.lastGesture = { key: gestureKey, at: now };
    this.emit('history');
  }

  /** End a gesture (pointer up, change event): the next edit starts a new undo step. */
  endGesture() { this.lastGesture = { key: null, at: 0 }; }

  /** The user's value for one parameter. */
  set(section, name, value, { gesture = `${section}.${name}` } = {}) {
    if (!this.plan) return;
    const cur = this.param(section, name);
    if (cur && JSON.stringify(cur.value) === JSON.stringify(value) && cur.source === 'user') return;
    this.checkpoint(gesture);
    const sec = (this.plan.sections[section] ||= {});
    sec[name] = { value, source: 'user', reason: USER_REASON, locked: cur ? !!cur.locked : false };
    this.emit('change', { kind: 'param', section, name });
  }

  setLocked(section, name, locked) {
    const cur = this.param(section, name);
    if (!cur || cur.locked === locked) return;
    this.checkpoint(null);
    cur.locked = locked;
    this.emit('change', { kind: 'lock', section, name });
  }

  /** A note's fix: every change becomes the user's, all in one undo step. */
  applyPatch(changes) {
    if (!this.plan || !changes?.length) return;
    this.checkpoint(null);
    for (const c of changes) {
      const sec = (this.plan.sections[c.section] ||= {});
      sec[c.param] = { value: structuredClone(c.value), source: 'user', reason: c.reason || USER_REASON, locked: false };
    }
    this.endGesture();
    this.emit('change', { kind: 'patch', changes });
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  undo() {
    if (!this.canUndo) return;
    this.redoStack.push(JSON.stringify(this.plan));
    this.plan = JSON.parse(this.undoStack.pop());
    this.endGesture();
    this.emit('change', { kind: 'load', undo: true });
    this.emit('history');
  }

  redo() {
    if (!this.canRedo) return;
    this.undoStack.push(JSON.stringify(this.plan));
    this.plan = JSON.parse(this.redoStack.pop());
    this.endGesture();
    this.emit('change', { kind: 'load', redo: true });
    this.emit('history');
  }

  /** Count of user-set and locked values (shown in the top bar). */
  stats() {
    let user = 0, locked = 0;
    for (const sec of Object.values(this.sections())) for (const p of Object.values(sec)) {
      if (p.source === 'user') user++;
      if (p.locked) locked++;
    }
    return { user, locked };
  }
}

// ------------------------------------------------------------------------------ the schema

/**
 * The parameter schema is the engine's (engine/params.py), served by GET /api/options as
 * `params`: {section kind: {name: {label, kind, unit, min, max, step, log, nullable, choices}}}.
 * The page keeps no range of its own: setSchema() is called once at boot, and every control,
 * read-out and typed value is checked against spec(section, name).
 */
let SCHEMA = {};

export function setSchema(params) { SCHEMA = params || {}; }

/** "track" for "track:<name>", else the section itself ("session", "bus:mix", ...). */
export const sectionKind = (section) => (section.startsWith('track:') ? 'track' : section);

/** The engine's spec of one parameter, or null when the schema does not know it. */
export function spec(section, name) {
  return SCHEMA[sectionKind(section)]?.[name] || null;
}

/** Decimals a value of this step is shown and stored with (0.1 -> 1, 0.05 -> 2, 1 -> 0). */
export function stepDecimals(step) {
  const s = String(step || 0.01);
  return s.includes('e-') ? Number(s.split('e-')[1]) : (s.split('.')[1] || '').length;
}

/** v rounded to the spec's step (without 0.1 + 0.2 float tails) and kept inside its range. */
export function snap(m, v) {
  const st = m.step || 0.01;
  const d = stepDecimals(st);
  let x = Number((Math.round(v / st) * st).toFixed(d));
  if (Number.isFinite(m.min) && x < m.min) x = m.min;
  if (Number.isFinite(m.max) && x > m.max) x = m.max;
  return x;
}

// ------------------------------------------------------------------------------ presentation

/** Short labels where a strip has no room for the schema's label (page presentation only). */
export const SHORT_LABELS = { gain_db: 'Vol', pan: 'Pan' };

/** How a value reads: by the spec's unit; `off` for a processor switched off (null). */
export function formatValue(m, value) {
  m = m || {};
  if (value === null || value === undefined) return 'off';
  if (m.kind === 'bool') return value ? 'on' : 'off';
  if (m.kind === 'choice') return String(value);
  if (m.name === 'pan') {
    if (Math.abs(value) < 0.005) return 'C';
    return `${value < 0 ? 'L' : 'R'}${Math.round(Math.abs(value) * 100)}`;
  }
  const d = stepDecimals(m.step);
  if (m.unit === 'Hz') return value >= 1000 ? `${(value / 1000).toFixed(value >= 10000 ? 1 : 2)} kHz` : `${Math.round(value)} Hz`;
  if (m.unit === ':1') return `${Number(value).toFixed(1)}:1`;
  if (m.unit === 'dB') return `${value > 0 ? '+' : ''}${Number(value).toFixed(Math.max(1, d))} dB`;
  if (m.unit === 'ms') {
    const sign = value > 0 && m.min < 0 ? '+' : '';
    return Math.abs(value) >= 1000 ? `${sign}${(value / 1000).toFixed(3)} s` : `${sign}${Number(value).toFixed(d)} ms`;
  }
  if (m.unit === 's') return `${Number(value).toFixed(2)} s`;
  if (m.unit) return `${Number(value).toFixed(d)} ${m.unit}`;
  return String(Number(value).toFixed(2));
}

/** A typed value ("+17.6 dB", "1.5 kHz", "-3", "L30") as a number in the spec's unit, or NaN. */
export function parseValue(m, text) {
  const t = String(text).trim().replace(/\u2212/g, '-').replace(',', '.');
  if (m?.name === 'pan') {
    if (/^c(entre|enter)?$/i.test(t)) return 0;
    const lr = t.match(/^([lr])\s*(\d+(?:\.\d+)?)$/i);
    if (lr) return (lr[1].toLowerCase() === 'l' ? -1 : 1) * Number(lr[2]) / 100;
  }
  const num = t.match(/[-+]?\d*\.?\d+(?:e[-+]?\d+)?/i);
  if (!num) return NaN;
  let v = Number(num[0]);
  const unit = t.slice(num.index + num[0].length).trim().toLowerCase();
  if (m?.unit === 'Hz' && unit.startsWith('k')) v *= 1000;
  if (m?.unit === 'ms' && unit === 's') v *= 1000;
  return v;
}
