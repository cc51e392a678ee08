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

/**
 * Parameter metadata: label, unit, range, step and how to show it. Ranges are the engine's
 * (engine/mix_render.py _check calls, dsp/eq.py) narrowed to what a control can sensibly drag.
 */
export const PARAMS = {
  gain_db: { label: 'Fader', unit: 'dB', min: -60, max: 12, step: 0.1 },
  pan: { label: 'Pan', unit: '', min: -1, max: 1, step: 0.01 },
  mute: { label: 'Mute', kind: 'bool' },
  polarity_inverted: { label: 'Polarity Ø', kind: 'bool' },
  offset_ms: { label: 'Nudge', unit: 'ms', min: -100, max: 100, step: 0.1 },
  highpass_hz: { label: 'High-pass', unit: 'Hz', min: 20, max: 1000, step: 1, log: true, nullable: true },
  eq: { label: 'EQ', kind: 'eq' },
  comp_threshold_db: { label: 'Threshold', unit: 'dB', min: -60, max: 0, step: 0.1 },
  comp_ratio: { label: 'Ratio', unit: ':1', min: 1, max: 20, step: 0.1, log: true },
  comp_attack_ms: { label: 'Attack', unit: 'ms', min: 0.1, max: 200, step: 0.1, log: true },
  comp_release_ms: { label: 'Release', unit: 'ms', min: 5, max: 1000, step: 1, log: true },
  comp_knee_db: { label: 'Knee', unit: 'dB', min: 0, max: 24, step: 0.5 },
  comp_makeup_db: { label: 'Make-up', unit: 'dB', min: -12, max: 24, step: 0.1 },
  deess_threshold_db: { label: 'De-ess thr.', unit: 'dB', min: -80, max: 0, step: 0.1, nullable: true },
  deess_freq_hz: { label: 'De-ess freq', unit: 'Hz', min: 2000, max: 16000, step: 10, log: true },
  reverb_send_db: { label: 'Reverb send', unit: 'dB', min: -48, max: 6, step: 0.5, nullable: true },
  delay_send_db: { label: 'Delay send', unit: 'dB', min: -48, max: 6, step: 0.5, nullable: true },
  rt60_s: { label: 'Decay RT60', unit: 's', min: 0.1, max: 10, step: 0.05, log: true },
  predelay_ms: { label: 'Pre-delay', unit: 'ms', min: 0, max: 200, step: 1 },
  damping_hz: { label: 'Damping', unit: 'Hz', min: 500, max: 20000, step: 10, log: true },
  delay_ms: { label: 'Time', unit: 'ms', min: 10, max: 2000, step: 0.5, log: true },
  feedback: { label: 'Feedback', unit: '', min: 0, max: 0.9, step: 0.01 },
  lowpass_hz: { label: 'Low-pass', unit: 'Hz', min: 500, max: 20000, step: 10, log: true },
  output_gain_db: { label: 'Output', unit: 'dB', min: -48, max: 12, step: 0.1 },
};

export function formatValue(name, value) {
  const m = PARAMS[name] || {};
  if (value === null || value === undefined) return 'off';
  if (m.kind === 'bool') return value ? 'on' : 'off';
  if (name === 'pan') {
    if (Math.abs(value) < 0.005) return 'C';
    return `${value < 0 ? 'L' : 'R'}${Math.round(Math.abs(value) * 100)}`;
  }
  if (m.unit === 'Hz') return value >= 1000 ? `${(value / 1000).toFixed(value >= 10000 ? 1 : 2)} kHz` : `${Math.round(value)} Hz`;
  if (m.unit === ':1') return `${Number(value).toFixed(1)}:1`;
  if (m.unit === 'dB') return `${value > 0 ? '+' : ''}${Number(value).toFixed(1)} dB`;
  if (m.unit === 'ms') return `${Number(value).toFixed(value < 10 ? 1 : 0)} ms`;
  if (m.unit === 's') return `${Number(value).toFixed(2)} s`;
  return String(Number(value).toFixed(2));
}
