// Mix Notes, live: the plan is judged by the server (POST /notes, cached analysis, no render)
// ~25 ms after the last change (a drag sends once it pauses); stale requests are aborted. Notes are grouped by severity;
// clicking one seeks to it, highlights its tracks and marks its ranges; "Apply fix" is one undo step.
// The panel also shows the notes on one audio file (GET /notes/audio): a mastering session's mix, or a
// rendered mix or master from Versions; a plan change goes back to the live notes.

import { h, clear, mmss } from './ui.js';
import { api } from './api.js';

const ORDER = ['problem', 'warn', 'info'];
const LABEL = { problem: 'Problems', warn: 'Warnings', info: 'Info' };

export class NotesPanel {
  constructor({ onSelect, onApply }) {
    this.onSelect = onSelect;
    this.onApply = onApply;
    this.notes = [];
    this.selected = null;
    this.status = h('span.notes-status');
    this.counts = h('span.notes-counts');
    this.list = h('div.notes-list');
    this.source = h('div.notes-source', { hidden: true });
    this.onBack = null;
    this.el = h('div.notes', h('div.panel-head', h('span.panel-title', 'Mix Notes'), this.counts, h('span.grow'), this.status), this.source, this.list);
    this.controller = null;
    this.timer = null;
    this.seq = 0;
    this.lastMs = null;
    this.render();
  }

  /** Ask for the notes of this plan ~25 ms from now (debounced); resolves when shown. */
  request(sid, plan, { delay = 25, t0 = performance.now() } = {}) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(sid, plan, t0), delay);
  }

  async fetch(sid, plan, t0) {
    const { controller, seq } = this.begin('updating…');
    this.showSource(null);
    try {
      const doc = await api.notes(sid, plan, controller.signal);
      if (seq !== this.seq) return;
      this.lastMs = performance.now() - t0;
      this.set(doc.notes || []);
      this.status.textContent = `updated in ${Math.round(this.lastMs)} ms`;
      this.status.className = 'notes-status';
      this.onUpdated?.(this.lastMs);
    } catch (err) {
      if (err.name === 'AbortError' || seq !== this.seq) return;
      this.status.className = 'notes-status err';
      this.status.textContent = err.code === 'notes.not_ready' ? 'run the AI mix to get notes' : err.message;
    }
  }

  /** Start a request: abort the one in flight, show ``busy``. */
  begin(busy) {
    clearTimeout(this.timer);
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.status.textContent = busy;
    this.status.className = 'notes-status busy';
    return { controller, seq: ++this.seq };
  }

  /** The notes on one audio file: ``file`` of ``version``, or (no version) a mastering session's mix. */
  async showFile(sid, { version = null, file = null, label, back = null, backLabel = 'live notes' } = {}) {
    const { controller, seq } = this.begin(`judging ${label}…`);
    this.showSource(label, back, backLabel);
    try {
      const doc = await api.audioNotes(sid, { version, file }, controller.signal);
      if (seq !== this.seq) return;
      this.set(doc.notes || []);
      this.status.textContent = `${doc.notes.length} note${doc.notes.length === 1 ? '' : 's'}`;
      this.status.className = 'notes-status';
    } catch (err) {
      if (err.name === 'AbortError' || seq !== this.seq) return;
      this.status.className = 'notes-status err';
      this.status.textContent = err.code === 'notes.not_ready' ? 'no mix yet' : err.message;
      if (err.code === 'notes.not_ready') this.showPlaceholder(err.message);
    }
  }

  showSource(label, back = null, backLabel = 'live notes') {
    this.source.hidden = !label;
    if (!label) return;
    clear(this.source, h('span', 'Notes on ', h('b', label)), h('span.grow'),
      back ? h('button.small.ghost', { type: 'button', on: { click: back } }, `← ${backLabel}`) : null);
  }

  set(notes) {
    this.notes = notes;
    this.version = (this.version || 0) + 1;
    if (this.selected) {
      const again = notes.find((n) => n.code === this.selected.code && n.title === this.selected.title);
      this.selected = again || null;
      if (!again) this.onSelect?.(null);
    }
    this.render();
  }

  showPlaceholder(text) { this.notes = []; this.showSource(null); clear(this.list, h('div.empty', text)); this.counts.textContent = ''; }

  render() {
    const by = Object.fromEntries(ORDER.map((s) => [s, this.notes.filter((n) => n.severity === s)]));
    this.counts.replaceChildren(...ORDER.filter((s) => by[s].length).map((s) => h(`span.count.${s}`, { title: LABEL[s] }, String(by[s].length))));
    if (!this.notes.length) { clear(this.list, h('div.empty', this.seq ? 'No notes: nothing stands out in this mix.' : 'Notes appear after the AI mix.')); return; }
    clear(this.list, ORDER.filter((s) => by[s].length).map((s) => h('div.note-group',
      h('div.group-title', LABEL[s]),
      by[s].map((n) => this.card(n)))));
  }

  card(n) {
    const sel = this.selected && this.selected.code === n.code && this.selected.title === n.title;
    const ranges = (n.ranges || []).slice(0, 4).map((r) => h('span.chip.time', `${mmss(r.start_s)}–${mmss(r.end_s)}`));
    if ((n.ranges || []).length > 4) ranges.push(h('span.chip.time', `+${n.ranges.length - 4}`));
    const val = (v) => (v && v.value !== null && v.value !== undefined ? `${v.value}${v.unit ? ' ' + v.unit : ''}` : '–');
    const fix = n.fix || {};
    const action = fix.kind === 'patch'
      ? h('button.small.primary.apply', { type: 'button', title: (fix.changes || []).map((c) => `${c.section}.${c.param} → ${JSON.stringify(c.value)}: ${c.reason}`).join('\n'), on: { click: (e) => { e.stopPropagation(); this.onApply?.(n); } } }, 'Apply fix')
      : fix.kind === 'advice' ? h('div.advice', fix.text) : null;
    const el = h(`div.note.${n.severity}${sel ? '.sel' : ''}`, { tabIndex: 0, dataset: { code: n.code }, on: {
      click: () => { this.selected = sel ? null : n; this.onSelect?.(this.selected); this.render(); },
      keydown: (e) => { if (e.key === 'Enter') e.currentTarget.click(); },
    } },
      h('div.note-top', h(`span.sev.${n.severity}`), h('span.note-title', n.title)),
      h('div.note-meta', ranges, (n.tracks || []).map((t) => h('span.chip.trk', t)), n.freq_hz ? h('span.chip', `${Math.round(n.freq_hz[0])}–${Math.round(n.freq_hz[1])} Hz`) : null),
      n.measured ? h('div.note-vals', h('span', 'measured '), h('b', val(n.measured)), h('span', ' · target '), h('b', val(n.target))) : null,
      sel ? h('div.note-msg', n.message) : null,
      action);
    return el;
  }
}
