// The render dialog (targets, formats, stems) and the versions list (downloads, loudness and
// true peak of each master, load a version's plan, play a master in A/B).

import { h, clear, fmtBytes } from './ui.js';

const FORMAT_LABEL = { wav24: 'WAV 24-bit', wav16: 'WAV 16-bit', flac: 'FLAC', mp3: 'MP3 320' };
const FORMAT_SHORT = { wav24: 'WAV 24', wav16: 'WAV 16', flac: 'FLAC', mp3: 'MP3' };

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
    // the newest version open, older ones folded to their head (a click opens them)
    this.open ||= new Set();
    const fmt = (v, unit) => (v !== null && v !== undefined && Number.isFinite(v) ? `${v.toFixed(1)} ${unit}` : '');
    clear(this.list, this.versions.map((v, k) => {
      const masters = (v.files || []).filter((f) => f.kind === 'master');
      const others = (v.files || []).filter((f) => f.kind !== 'master');
      const open = k === 0 ? !this.open.has(`-${v.id}`) : this.open.has(v.id);
      const toggle = () => {
        if (k === 0) { if (open) this.open.add(`-${v.id}`); else this.open.delete(`-${v.id}`); } else if (open) this.open.delete(v.id); else this.open.add(v.id);
        this.render();
      };
      // one row per platform: its formats as download chips, the loudness and true peak of the first
      const byTarget = new Map();
      for (const f of masters) (byTarget.get(f.target) || byTarget.set(f.target, []).get(f.target)).push(f);
      const order = Object.keys(FORMAT_LABEL);
      const rows = [...byTarget.entries()].map(([target, fs]) => {
        fs.sort((a, b) => order.indexOf(a.format) - order.indexOf(b.format));
        const f = fs[0];
        const playing = fs.some((x) => this.playing === x.url);
        return h('tr', { dataset: { target } },
          h('td.platform', h('div.pl-name', this.label(target)),
            h('div.formats', fs.map((x) => h('a.dl.fmt', { href: x.url, download: x.name,
              title: `Download ${x.name}: ${[fmt(x.loudness_lufs, 'LUFS'), fmt(x.true_peak_dbtp, 'dBTP'), fmtBytes(x.size_bytes)].filter(Boolean).join(', ')}` },
            `⇩ ${FORMAT_SHORT[x.format] || x.format}`)))),
          h('td.num', h('div', { title: 'integrated loudness' }, fmt(f.loudness_lufs, 'LUFS')), h('div.dim', { title: 'true peak' }, fmt(f.true_peak_dbtp, 'dBTP'))),
          h('td.acts', h('button.small.ghost', { type: 'button', title: `Play the ${this.label(target)} master (${FORMAT_SHORT[f.format] || f.format}) in A/B, as the platform will play it`, on: { click: () => this.onPlayMaster(v, f) } }, playing ? '◉ A/B' : '▶ A/B'),
            this.notesButton(v, f)));
      });
      const summary = [masters.length ? `${byTarget.size} platform${byTarget.size === 1 ? '' : 's'}, ${masters.length} master${masters.length === 1 ? '' : 's'}` : null,
        ...others.filter((f) => f.kind !== 'plan').map((f) => f.kind)].filter(Boolean).join(' · ');
      return h(`div.version${open ? '.open' : ''}`, { dataset: { version: v.id } },
        h('div.version-head',
          h('button.fold', { type: 'button', 'aria-expanded': String(open), title: open ? 'Fold this version' : 'Show this version\'s files', on: { click: toggle } }, open ? '▾' : '▸'),
          h('b', `v${v.n}`), h('span.chip', v.kind), h('span.dim.v-date', { title: new Date(v.created_at).toLocaleString() }, new Date(v.created_at).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })), h('span.grow'),
          v.plan_url && this.canLoadPlan ? h('button.small', { type: 'button', title: 'Load this version\'s plan into the mixer (undoable)', on: { click: () => this.onLoadPlan(v) } }, 'Load plan') : null),
        open ? [
          rows.length ? h('table.files', h('tbody', rows)) : null,
          h('div.other-files', others.map((f) => [h('a.dl.chip', { href: f.url, download: f.name, title: fmtBytes(f.size_bytes) }, `⇩ ${f.name}`),
            f.kind === 'mix' ? this.notesButton(v, f) : null]))]
          : h('div.v-summary.dim', summary || 'no files'));
    }));
  }
}
