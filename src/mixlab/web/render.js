// The render dialog (targets, formats, stems) and the versions list (downloads, loudness and
// true peak of each master, load a version's plan, play a master in A/B).

import { h, clear, fmtBytes } from './ui.js';

const FORMAT_LABEL = { wav16: 'WAV 16-bit', wav24: 'WAV 24-bit', flac: 'FLAC', mp3: 'MP3 320' };

export function renderDialog({ options, session, onSubmit }) {
  const chosen = new Set(session.targets?.length ? session.targets : ['spotify']);
  const formats = new Set(['wav24']);
  const targetBox = (t) => h('label.check', h('input', { type: 'checkbox', name: 'target', value: t.name, checked: chosen.has(t.name), on: { change: (e) => (e.target.checked ? chosen.add(t.name) : chosen.delete(t.name)) } }),
    h('span', t.label), h('span.dim', `${t.loudness_lufs} LUFS · ${t.true_peak_dbtp} dBTP`));
  const formatBox = (f) => h('label.check', h('input', { type: 'checkbox', name: 'format', value: f, checked: formats.has(f), on: { change: (e) => (e.target.checked ? formats.add(f) : formats.delete(f)) } }), h('span', FORMAT_LABEL[f] || f));
  const stems = h('input', { type: 'checkbox', name: 'stems', checked: session.kind === 'stems' });
  const err = h('div.form-error');
  const dlg = h('dialog.modal', { 'aria-label': 'Render' },
    h('form', { method: 'dialog', on: { submit: (e) => {
      e.preventDefault();
      if (!chosen.size) { err.textContent = 'Choose at least one platform.'; return; }
      if (!formats.size) { err.textContent = 'Choose at least one format.'; return; }
      onSubmit({ targets: [...chosen], formats: [...formats], stems: stems.checked });
      dlg.close(); dlg.remove();
    } } },
      h('h2', 'Render & master'),
      h('p.dim', session.kind === 'stems' ? 'Renders the plan as it stands on the server, then masters the mix for each platform, each format. Every render is kept as a version.' : 'Masters the uploaded mix for each platform, each format.'),
      h('div.cols',
        h('fieldset', h('legend', 'Platforms'), (options.targets || []).map(targetBox)),
        h('fieldset', h('legend', 'Formats'), (options.formats || ['wav16', 'wav24', 'flac', 'mp3']).map(formatBox),
          session.kind === 'stems' ? h('label.check', stems, h('span', 'Processed stems (ZIP)')) : null)),
      err,
      h('div.actions', h('button', { type: 'button', on: { click: () => { dlg.close(); dlg.remove(); } } }, 'Cancel'), h('button.primary', { type: 'submit' }, 'Render'))));
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

export class VersionsPanel {
  constructor({ onLoadPlan, onPlayMaster, onNotes, options, canLoadPlan = true }) {
    this.canLoadPlan = canLoadPlan;
    this.onLoadPlan = onLoadPlan;
    this.onPlayMaster = onPlayMaster;
    this.onNotes = onNotes;
    this.options = options;
    this.list = h('div.versions-list');
    this.el = h('div.versions', this.list);
    this.playing = null;
    this.versions = [];
    this.render();
  }

  set(versions) { this.versions = versions || []; this.render(); }

  notesButton(v, f) {
    return h('button.small.ghost.file-notes', { type: 'button', title: `Mix Notes on ${f.name}: clipping, true peak, loudness for the platforms, tone, stereo`, on: { click: () => this.onNotes(v, f) } }, 'Notes');
  }

  label(target) { return (this.options.targets || []).find((t) => t.name === target)?.label || target; }

  render() {
    if (!this.versions.length) { clear(this.list, h('div.empty', 'Every AI mix and every render is kept here as a version: download it, play its master in A/B, or go back to its plan.')); return; }
    clear(this.list, this.versions.map((v) => {
      const masters = (v.files || []).filter((f) => f.kind === 'master');
      const others = (v.files || []).filter((f) => f.kind !== 'master');
      return h('div.version', { dataset: { version: v.id } },
        h('div.version-head', h('b', `v${v.n}`), h('span.chip', v.kind), h('span.dim', new Date(v.created_at).toLocaleString()), h('span.grow'),
          v.plan_url && this.canLoadPlan ? h('button.small', { type: 'button', title: 'Load this version\'s plan into the mixer (undoable)', on: { click: () => this.onLoadPlan(v) } }, 'Load plan') : null),
        masters.length ? h('table.files', h('tbody', masters.map((f) => h('tr',
          h('td', this.label(f.target), ' ', h('span.dim', f.format)),
          h('td.num', { title: 'integrated loudness' }, f.loudness_lufs !== null && f.loudness_lufs !== undefined ? `${f.loudness_lufs.toFixed(1)} LUFS` : ''),
          h('td.num', { title: 'true peak' }, f.true_peak_dbtp !== null && f.true_peak_dbtp !== undefined ? `${f.true_peak_dbtp.toFixed(1)} dBTP` : ''),
          h('td.acts', h('button.small.ghost', { type: 'button', title: 'Play this master in A/B (as the platform will play it)', on: { click: () => this.onPlayMaster(v, f) } }, this.playing === f.url ? '◉ A/B' : '▶ A/B'),
            this.notesButton(v, f),
            h('a.dl', { href: f.url, download: f.name, title: `Download ${f.name} (${fmtBytes(f.size_bytes)})` }, '⇩ Get')))))) : null,
        h('div.other-files', others.map((f) => [h('a.dl.chip', { href: f.url, download: f.name, title: fmtBytes(f.size_bytes) }, `⇩ ${f.name}`),
          f.kind === 'mix' ? this.notesButton(v, f) : null])));
    }));
  }
}
