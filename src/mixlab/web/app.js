// mixlab in the browser: the start screen (sessions, uploads) and the session workspace
// (top bar, tracks, mixer, inspector, notes, versions, meters), wired to the API and the preview.

import { h, clear, mmss, mmssTenths, fmtBytes, toast, clamp } from './ui.js';
import { api, uploadStem, uploadReference, watchJob } from './api.js';
import { PlanStore, setSchema, spec, formatValue } from './plan.js';
import { AudioEngine } from './audio-graph.js';
import { TrackRow, Inspector, ROLE_LABELS, roleLabel, trackFailure } from './mixer.js';
import { Timeline } from './waveform.js';
import { NotesPanel } from './notes.js';
import { MeterPanel } from './meters.js';
import { renderDialog, VersionsPanel } from './render.js';

const $app = document.getElementById('app');
const state = { preRoles: {}, options: null, view: 'start', session: null, job: null, uploads: [], selected: null, versions: [], notes: [], metrics: {} };
const store = new PlanStore();
let engine = null;
let ws = null; // the session workspace's widgets

// ------------------------------------------------------------------------------------- boot

async function boot() {
  try { state.options = await api.options(); } catch (err) { clear($app, h('div.fatal', h('h1', 'mixlab'), h('p', err.message))); return; }
  setSchema(state.options.params); // every control's range is the engine's
  Object.assign(ROLE_LABELS, state.options.role_labels || {});
  engine = new AudioEngine();
  await engine.initMeters(new URL('./meters-worklet.js', import.meta.url));
  engine.applyPlan(planView);
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', onKey);
  store.on('change', onPlanChange);
  store.on('history', () => ws?.updateHistory());
  window.mixlab = {
    get plan() { return store.plan; }, store, get graph() { return engine.exposed; }, engine,
    get notes() { return ws?.notes.notes || []; }, get notesVersion() { return ws?.notes.version || 0; },
    state, api, metrics: state.metrics, get ws() { return ws; },
  };
  route();
}

const planView = { get: (s, n) => store.get(s, n) };

function route() {
  const m = location.hash.match(/^#\/s\/([\w-]+)/);
  if (m) openSession(m[1]); else showStart();
}

function onKey(e) {
  const tag = (e.target.tagName || '').toLowerCase();
  const typing = (tag === 'input' && !['range', 'checkbox', 'button'].includes(e.target.type)) || tag === 'textarea' || tag === 'select';
  if (e.code === 'Space' && !typing && state.view === 'session') { e.preventDefault(); engine.toggle(); }
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z' && !typing) { e.preventDefault(); e.shiftKey ? store.redo() : store.undo(); }
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'y' && !typing) { e.preventDefault(); store.redo(); }
}

// ------------------------------------------------------------------------------------- start

async function showStart() {
  state.view = 'start';
  teardownSession();
  const list = h('div.session-list', h('div.empty', 'Loading sessions…'));
  const fileInput = h('input', { type: 'file', multiple: true, accept: 'audio/*,.wav,.aif,.aiff,.flac,.mp3,.ogg,.zip', hidden: true, id: 'start-files',
    on: { change: (e) => startWithFiles([...e.target.files], 'stems') } });
  const drop = h('div.dropzone.big', { tabIndex: 0, on: { click: () => fileInput.click(), keydown: (e) => { if (e.key === 'Enter') fileInput.click(); } } },
    h('div.drop-icon', '⇪'),
    h('div.drop-title', 'Drop your stems here'),
    h('div.drop-sub', 'WAV, AIFF, FLAC or MP3 — many files at once, or one ZIP. Mono and stereo, any lengths.'),
    h('div.drop-sub.dim', `Up to ${fmtBytes(state.options.limits?.max_upload_bytes)} per file, ${state.options.limits?.max_stems ?? 256} stems.`));
  dropTarget(drop, (files) => startWithFiles(files, files.length === 1 && !/\.zip$/i.test(files[0].name) && state.startKind === 'master' ? 'master' : 'stems'));
  const masterInput = h('input', { type: 'file', accept: 'audio/*,.wav,.aif,.aiff,.flac,.mp3,.ogg', hidden: true, id: 'master-file', on: { change: (e) => startWithFiles([...e.target.files].slice(0, 1), 'master') } });
  clear($app,
    h('header.topbar', h('div.brand', h('span.logo', '◢◣'), 'mixlab'), h('span.dim', 'AI mixing & mastering — every decision named, editable, and yours')),
    h('main.start',
      h('section.start-left',
        h('div.panel-head', h('span.panel-title', 'Sessions')),
        list),
      h('section.start-main',
        h('div.start-actions',
          h('button.big-action', { type: 'button', id: 'new-mix', on: { click: () => newSession('stems') } }, h('b', 'New mix (stems)'), h('span', 'Upload multitrack stems; the AI balances, EQs, compresses, pans and adds space — you adjust every move.')),
          h('button.big-action', { type: 'button', id: 'new-master', on: { click: () => masterInput.click() } }, h('b', 'Master a stereo mix'), h('span', 'One finished mix in; loud, true-peak-safe masters for Spotify, Apple Music, YouTube and more out.'))),
        drop, fileInput, masterInput,
        h('div.steps',
          h('div.step', h('b', '1 · Upload'), h('span', 'Stems as they are: WAV, AIFF, FLAC, MP3 or a ZIP. Roles come from the names or the audio, and you can change them.')),
          h('div.step', h('b', '2 · AI mix'), h('span', 'Balance, EQ, compression, panning and space, each value with its reason. Lock what you like; re-run around it.')),
          h('div.step', h('b', '3 · Adjust & listen'), h('span', 'Every move is heard at once in the browser. Mix Notes follow, with one-click fixes. A/B against the raw sum and the master.')),
          h('div.step', h('b', '4 · Master & download'), h('span', 'Spotify, Apple Music, YouTube, Tidal, Amazon, Deezer, CD/club: loudness hit, true peak under the ceiling.'))))));
  try {
    const { sessions } = await api.sessions();
    clear(list, sessions.length ? sessions.map((s) => h('a.session-item', { href: `#/s/${s.id}` },
      h('div.si-name', s.name), h('div.si-meta', h('span.chip', s.kind === 'master' ? 'master' : 'mix'),
        Number.isFinite(s.num_tracks) ? h('span', s.kind === 'master' ? (s.num_tracks ? 'mix uploaded' : 'no mix yet') : `${s.num_tracks} track${s.num_tracks === 1 ? '' : 's'}`) : h('span', s.state),
        s.has_plan ? h('span', 'mixed') : null, s.versions ? h('span', `${s.versions} version${s.versions === 1 ? '' : 's'}`) : null, s.created_at ? h('span.dim', new Date(s.created_at).toLocaleDateString()) : null),
      h('button.icon.del', { type: 'button', title: 'Delete this session and its files', on: { click: async (e) => { e.preventDefault(); if (confirm(`Delete "${s.name}" and all its files?`)) { await api.deleteSession(s.id).catch((er) => toast(er.message, 'error')); try { localStorage.removeItem(`mixlab.order.${s.id}`); } catch { /* none */ } showStart(); } } } }, '×')))
      : h('div.empty', 'No sessions yet. Drop stems on the right to start.'));
  } catch (err) { clear(list, h('div.error', err.message)); }
}

async function newSession(kind, name, files = null) {
  try {
    const s = await api.createSession(name || (kind === 'master' ? 'New master' : 'New mix'), kind);
    state.pendingFiles = files; // uploaded as soon as the session's workspace is built
    location.hash = `#/s/${s.id}`;
    return s;
  } catch (err) { toast(err.message, 'error'); return null; }
}

async function startWithFiles(files, kind) {
  if (!files.length) return;
  const base = files[0].name.replace(/\.[^.]+$/, '');
  const name = files.length === 1 ? base : `${base} + ${files.length - 1} more`;
  await newSession(kind, name, files);
}

function dropTarget(el, onFiles) {
  el.addEventListener('dragover', (e) => { e.preventDefault(); el.classList.add('over'); });
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (e) => { e.preventDefault(); el.classList.remove('over'); const files = [...(e.dataTransfer?.files || [])]; if (files.length) onFiles(files); });
}

// ------------------------------------------------------------------------------------- uploads

/**
 * The order the user chose the files in, per session (kept in localStorage): the upload's start
 * index by file name, and by track id once its upload answers (a ZIP's tracks keep the ZIP's
 * place, in the server's order). The API has no position field; tracks uploaded elsewhere sort by name.
 */
function uploadOrder(sid) {
  state.order ||= {};
  if (!state.order[sid]) {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(`mixlab.order.${sid}`)); } catch { saved = null; }
    state.order[sid] = saved && typeof saved === 'object' ? { next: 0, files: {}, tracks: {}, ...saved } : { next: 0, files: {}, tracks: {} };
  }
  return state.order[sid];
}

function saveOrder(sid) {
  try { localStorage.setItem(`mixlab.order.${sid}`, JSON.stringify(uploadOrder(sid))); } catch { /* private mode: this page only */ }
}

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** [upload index, index in that upload] of a track whose upload this browser recorded, else null. */
const uploadKey = (ord, t) => ord.tracks[t.id] || (ord.files[t.file] !== undefined ? [ord.files[t.file], 0] : null);

/** The session's tracks in the order the user chose the files (else by name). */
function orderedTracks(s) {
  const ord = uploadOrder(s.id);
  return s.tracks.map((t, j) => ({ t, j, k: uploadKey(ord, t) })).sort((a, b) => {
    if (a.k && b.k) return a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.j - b.j;
    if (a.k || b.k) return a.k ? -1 : 1;
    return byName.compare(a.t.name, b.t.name) || a.j - b.j;
  }).map((x) => x.t);
}

function uploadFiles(files) {
  const sid = state.session.id;
  const ord = uploadOrder(sid);
  for (const file of files) {
    const idx = ord.next++;
    ord.files[file.name] = idx;
    saveOrder(sid);
    const item = { file, progress: 0, state: 'uploading', message: '' };
    const bar = h('div.bar-fill');
    const msg = h('span.up-msg', 'uploading…');
    item.el = h('div.upload', { dataset: { file: file.name } }, h('span.up-name', { title: file.name }, file.name), h('span.dim.up-size', fmtBytes(file.size)), h('div.bar', bar), msg);
    state.uploads.push(item);
    ws?.uploadList.append(item.el);
    ws?.uploadList.classList.add('shown');
    const { promise } = uploadStem(sid, file, (f) => { bar.style.width = `${(f * 100).toFixed(1)}%`; msg.textContent = f < 1 ? `${Math.round(f * 100)} %` : 'checking…'; });
    promise.then((res) => {
      (res?.tracks || []).forEach((t, k) => { ord.tracks[t.id] = [idx, k]; });
      saveOrder(sid);
      bar.style.width = '100%';
      item.el.classList.add('done');
      const ignored = (res?.ignored || []).map((i) => `${i.file}: ${i.why}`).join('; ');
      msg.textContent = `✓ ${(res?.tracks || []).length} track${(res?.tracks || []).length === 1 ? '' : 's'}${ignored ? ` — ignored ${ignored}` : ''}`;
      setTimeout(() => { item.el.remove(); if (!ws?.uploadList.children.length) ws?.uploadList.classList.remove('shown'); }, ignored ? 15000 : 4000);
      refreshSession();
    }).catch((err) => {
      item.el.classList.add('failed');
      bar.style.width = '100%';
      msg.textContent = err.message;
      msg.setAttribute('role', 'alert');
      item.el.append(h('button.icon.del', { type: 'button', title: 'Dismiss', on: { click: () => { item.el.remove(); if (!ws?.uploadList.children.length) ws?.uploadList.classList.remove('shown'); } } }, '×'));
    });
  }
}

// ------------------------------------------------------------------------------------- session

function teardownSession() {
  clearInterval(state.poll);
  engine?.clear();
  ws = null;
  state.session = null;
  state.preRoles = {};
  store.load(null);
}

async function openSession(sid) {
  if (state.session?.id === sid && ws) return;
  teardownSession();
  state.view = 'session';
  let session;
  try { session = await api.session(sid); } catch (err) { clear($app, h('div.fatal', h('h1', 'Session not found'), h('p', err.message), h('a', { href: '#/' }, '← All sessions'))); return; }
  state.session = session;
  state.peaks = {};
  state.loading = new Set();
  buildWorkspace(session);
  applySession(session);
  if (session.has_plan) {
    try { store.load(await api.plan(sid)); } catch (err) { toast(err.message, 'error'); }
  }
  loadVersions();
  if (session.job && ['queued', 'running'].includes(session.job.state)) followJob(session.job);
  state.poll = setInterval(pollSession, 1500);
  if (state.pendingFiles) { const f = state.pendingFiles; state.pendingFiles = null; uploadFiles(f); }
}

async function pollSession() {
  const s = state.session;
  if (!s || document.hidden) return;
  const pending = s.tracks.some((t) => !t.ready && !trackFailure(t)) || s.state === 'uploading' || (s.job && ['queued', 'running'].includes(s.job.state));
  if (pending) refreshSession();
}

async function refreshSession() {
  if (!state.session) return;
  try {
    const s = await api.session(state.session.id);
    if (s.id !== state.session?.id) return;
    state.session = s;
    applySession(s);
    if (s.job && ['queued', 'running'].includes(s.job.state) && state.job?.id !== s.job.id) followJob(s.job);
  } catch { /* keep the last known state */ }
}

/** Reflect the session (tracks, loudness, reference, settings) in the workspace and the graph. */
function applySession(s) {
  if (!ws) return;
  ws.name.value = document.activeElement === ws.name ? ws.name.value : s.name;
  ws.genre.value = s.genre || 'balanced';
  state.genre = s.genre || 'balanced';
  ws.updateTargets();
  ws.updateReference();
  if (s.loudness) engine.setLevels({ raw_sum_lufs: s.loudness.raw_sum_lufs, mix_lufs: s.loudness.mix_lufs });
  ws.updateAb();
  // rows
  const names = new Set(s.tracks.map((t) => t.name));
  for (const [name, row] of ws.rows) if (!names.has(name)) { row.el.remove(); ws.rows.delete(name); engine.removeTrack(name); }
  const tracks = orderedTracks(s);
  tracks.forEach((t, i) => {
    let row = ws.rows.get(t.name);
    if (!row) {
      // a row's colour follows the file's place in the user's choice, so it does not depend on upload timing
      const k = uploadKey(uploadOrder(s.id), t);
      row = new TrackRow(ws.ctx, t, k ? k[0] + k[1] : i, { roles: state.options.params?.track?.role?.choices || state.options.roles || Object.keys(ROLE_LABELS), mastering: s.kind === 'master' });
      ws.rows.set(t.name, row);
    }
    row.setTrack(t);
    if (t.ready && !state.peaks[t.id] && !state.loading.has(t.id)) loadTrackMedia(s.id, t, row);
  });
  // rows in the order the files were chosen (the server lists them as their uploads finished)
  tracks.forEach((t, i) => {
    const el = ws.rows.get(t.name).el;
    if (ws.tracksEl.children[i] !== el) ws.tracksEl.insertBefore(el, ws.tracksEl.children[i] || null);
  });
  ws.empty.hidden = s.tracks.length > 0;
  ws.tracksWrap.classList.toggle('has-tracks', s.tracks.length > 0);
  ws.timeline.set({ duration: s.duration_s || engine.duration || 0 });
  ws.updateButtons();
}

async function loadTrackMedia(sid, t, row) {
  state.loading.add(t.id);
  try {
    const [peaks, audio] = await Promise.all([
      api.peaks(sid, t.id, 1600),
      fetch(api.audioUrl(sid, t.id)).then((r) => { if (!r.ok) throw new Error(`${t.name}: preview not available (${r.status})`); return r.arrayBuffer(); }),
    ]);
    if (state.session?.id !== sid) return;
    state.peaks[t.id] = peaks;
    row.setPeaks(peaks);
    const buffer = await engine.ctx.decodeAudioData(audio);
    if (state.session?.id !== sid) return;
    engine.addTrack(t.name, buffer);
    engine.applyTrack(t.name);
    ws.timeline.set({ duration: Math.max(state.session.duration_s || 0, engine.duration) });
    ws.updateButtons();
  } catch (err) {
    state.loading.delete(t.id);
    row.status.textContent = '⚠ ' + err.message;
  }
}

async function loadVersions() {
  try { const { versions } = await api.versions(state.session.id); state.versions = versions; ws?.versions.set(versions); ws?.updateButtons(); } catch { /* none yet */ }
}

// ------------------------------------------------------------------------------------- jobs

function followJob(job) {
  state.job = job;
  ws?.showJob(job);
  watchJob(job.id, (j) => { state.job = j; ws?.showJob(j); }).then(async (j) => {
    ws?.showJob(j);
    if (j.state === 'failed') { toast(j.error?.message || 'The job failed.', 'error', 12000); return; }
    if (!state.session || j.session_id !== state.session.id) return;
    await refreshSession();
    if (j.kind === 'prepare' && state.session.kind === 'master') showLiveNotes();
    if (j.kind === 'mix') {
      try { const plan = await api.plan(state.session.id); store.load(plan, { keepHistory: store.loaded }); } catch (err) { toast(err.message, 'error'); }
    }
    if (j.kind === 'mix' || j.kind === 'render') {
      await loadVersions();
      if (j.kind === 'render') { ws?.showTab('versions'); toast('Render finished: download your masters in Versions.'); }
    }
  });
}

async function runMix() {
  try {
    await engine.ctx.resume();
    let plan = store.plan;
    if (!plan && Object.keys(state.preRoles).length) {
      plan = { schema: 'mixlab.mixplan/1', sections: Object.fromEntries(Object.entries(state.preRoles).map(([n, r]) => [`track:${n}`, { role: { value: r, source: 'user', reason: 'set by you', locked: true } }])) };
    }
    const job = await api.mix(state.session.id, plan || undefined);
    followJob(job);
  } catch (err) { toast(err.message, 'error', 10000); }
}

function openRender() {
  renderDialog({ options: state.options, session: state.session, onSubmit: async (body) => {
    try {
      const job = await api.render(state.session.id, { ...(store.plan ? { plan: store.plan } : {}), ...body });
      followJob(job);
    } catch (err) { toast(err.message, 'error', 10000); }
  } });
}

// ------------------------------------------------------------------------------------- plan changes

function onPlanChange(change) {
  const t0 = ws?.ctx.t0 ?? performance.now();
  if (change.kind === 'param') {
    engine.applyParam(change.section, change.name);
    state.metrics.controlToParamMs = performance.now() - t0;
  } else engine.applyPlan(planView);
  if (!ws) return;
  if (change.kind === 'param' && change.section.startsWith('track:')) ws.rows.get(change.section.slice(6))?.update();
  else for (const r of ws.rows.values()) r.update();
  ws.inspector.update(change);
  ws.updateReason();
  ws.updateButtons();
  if (store.loaded && state.session?.kind === 'stems') {
    ws.notes.request(state.session.id, store.plan, { t0 });
    if (change.kind !== 'load' || change.undo || change.redo) savePlanSoon();
  } else if (!store.loaded) showLiveNotes();
  if (ws.ctx) ws.ctx.t0 = null;
}

let saveTimer = null;
function savePlanSoon() {
  clearTimeout(saveTimer);
  const sid = state.session.id;
  saveTimer = setTimeout(() => { if (store.plan && state.session?.id === sid) api.putPlan(sid, store.plan).catch((err) => toast(err.message, 'error', 8000)); }, 1200);
}

// ------------------------------------------------------------------------------------- workspace

/** -3.5 -> "−3.5", 2 -> "+2.0" (a true minus sign; `plus` false drops the plus). */
const signed = (v, plus = true) => `${v < 0 ? '\u2212' : plus ? '+' : ''}${Math.abs(v).toFixed(1)}`;

function buildWorkspace(session) {
  const ctx = {
    store, t0: null,
    sampleRate: () => engine.ctx.sampleRate,
    onFocus: (s, n) => { state.focus = { s, n }; ws.updateReason(); },
    onSelect: (name) => { state.selected = name; for (const [n, r] of ws.rows) r.setSelected(n === name); ws.inspector.show(name, 'track'); },
    preRole: (name) => state.preRoles[name],
    onRole: (name, role) => { if (store.loaded) store.set(`track:${name}`, 'role', role, { gesture: null }); else { state.preRoles[name] = role; toast(`${name}: ${roleLabel(role)} — used by the AI mix.`); } },
    onSolo: (name, on) => { engine.setSolo(name, on); ws.rows.get(name)?.setSolo(on); },
    onRemove: async (t) => {
      try { await api.deleteTrack(state.session.id, t.id); toast(`Removed ${t.name}.`); } catch (err) { toast(err.message, 'error'); }
      refreshSession();
    },
  };
  const o = state.options;
  const name = h('input.session-name', { type: 'text', 'aria-label': 'session name', on: { change: (e) => patch({ name: e.target.value }) } });
  const genre = h('select', { 'aria-label': 'genre', title: 'Genre: sets the balance, compression, space and tonal corridor', on: { change: (e) => patch({ genre: e.target.value }) } }, (o.genres || []).map((g) => h('option', { value: g }, g)));
  const targetsBtn = h('button.ghost', { type: 'button', 'aria-haspopup': 'true', title: 'Platform targets: the masters the render makes' });
  const targetsPop = h('div.popover', { hidden: true }, (o.targets || []).map((t) => h('label.check', h('input', { type: 'checkbox', value: t.name, on: { change: () => {
    const chosen = [...targetsPop.querySelectorAll('input:checked')].map((i) => i.value);
    patch({ targets: chosen });
  } } }), h('span', t.label), h('span.dim', `${t.loudness_lufs} LUFS`))));
  targetsBtn.addEventListener('click', () => { targetsPop.hidden = !targetsPop.hidden; });
  document.addEventListener('click', (e) => { if (!targetsPop.contains(e.target) && e.target !== targetsBtn) targetsPop.hidden = true; });
  const refInput = h('input', { type: 'file', accept: 'audio/*,.wav,.aif,.aiff,.flac,.mp3', hidden: true, on: { change: (e) => uploadRef(e.target.files[0]) } });
  const refBtn = h('button.ghost', { type: 'button', title: 'Upload a reference track: the mix bus and master lean toward its tone', on: { click: () => refInput.click() } }, 'Reference…');
  const refLabel = h('span.ref-label');
  const abTitles = { raw: 'The stems summed at unity, before the AI mix', mix: 'The mix as you hear it now', master: '' };
  const abBtns = ['raw', 'mix', 'master'].map((m) => h('button.seg', { type: 'button', dataset: { mode: m }, title: abTitles[m], on: { click: () => setMode(m) } }, { raw: 'Raw sum', mix: 'AI mix', master: 'Master' }[m]));
  const match = h('input', { type: 'checkbox', checked: true, on: { change: (e) => { engine.matchLoudness = e.target.checked; engine.applyMode(); ws.updateAb(); } } });
  const abInfo = h('span.ab-info');
  const playBtn = h('button.play', { type: 'button', title: 'Play / pause (space)', 'aria-label': 'play', on: { click: () => engine.toggle() } }, '▶');
  const loopBtn = h('button.ghost.loop', { type: 'button', title: 'Loop (drag on the ruler to set)', on: { click: () => engine.toggleLoop() } }, '⟲');
  const time = h('span.clock', '0:00.0');
  const undoBtn = h('button.ghost', { type: 'button', title: 'Undo (Ctrl+Z)', 'aria-label': 'undo', on: { click: () => store.undo() } }, '↶');
  const redoBtn = h('button.ghost', { type: 'button', title: 'Redo (Ctrl+Shift+Z)', 'aria-label': 'redo', on: { click: () => store.redo() } }, '↷');
  const mixBtn = h('button.primary#mix-btn', { type: 'button', on: { click: runMix } }, 'AI Mix');
  const renderBtn = h('button#render-btn', { type: 'button', on: { click: openRender } }, 'Render…');
  const jobBar = h('div.bar', h('div.bar-fill'));
  const jobMsg = h('span.job-msg');
  const job = h('div.job', { hidden: true }, jobMsg, jobBar);
  const planStats = h('span.plan-stats');

  // Three groups: the session (name, genre, targets, reference), the transport and A/B, the actions.
  // Wide screens hold them on one line; narrower ones put the transport on a second line
  // (style.css), so every control stays in view and nothing scrolls sideways.
  const topbar = h('header.topbar',
    h('div.tb-group.tb-session',
      h('a.brand', { href: '#/', title: 'All sessions' }, h('span.logo', '◢◣'), h('span.brand-name', 'mixlab')),
      name,
      h('label.tb-field', genre),
      h('div.tb-field.pop-wrap', targetsBtn, targetsPop),
      h('div.tb-field.tb-ref', refBtn, refLabel, refInput)),
    h('div.tb-group.tb-play', { role: 'group', 'aria-label': 'transport and A/B' },
      h('div.transport', playBtn, loopBtn, time),
      h('div.seg-group', { role: 'group', 'aria-label': 'A/B' }, abBtns),
      h('label.match', { title: 'Play every source at the same loudness so you judge tone, not level' }, match, h('span', 'Match')), abInfo),
    h('div.tb-group.tb-actions', undoBtn, redoBtn, job, mixBtn, renderBtn));

  const timeline = new Timeline({ onSeek: (t) => engine.seek(t), onLoop: (a, b) => engine.setLoop(a, b, true) });
  const playhead = h('div.playhead');
  const marks = h('div.marks');
  const tracksEl = h('div.tracks');
  const fileInput = h('input', { type: 'file', multiple: true, hidden: true, id: 'stem-files', accept: 'audio/*,.wav,.aif,.aiff,.flac,.mp3,.ogg,.zip', on: { change: (e) => { uploadFiles([...e.target.files]); e.target.value = ''; } } });
  const empty = h('div.dropzone.in-session', { tabIndex: 0, on: { click: () => fileInput.click() } },
    h('div.drop-icon', '⇪'), h('div.drop-title', session.kind === 'master' ? 'Drop your stereo mix here' : 'Drop stems here'),
    h('div.drop-sub', session.kind === 'master' ? 'WAV, AIFF, FLAC or MP3: the finished mix to master.' : 'Many files or one ZIP; each file uploads with its own progress bar.'));
  const uploadList = h('div.upload-list');
  const addBtn = h('button.small.ghost', { type: 'button', on: { click: () => fileInput.click() } }, session.kind === 'master' ? 'Replace mix…' : '+ Add stems');
  const tracksWrap = h('section.tracks-wrap',
    h('div.ruler-row', h('div.ruler-head', addBtn, h('span.dim.ruler-hint', 'click ruler: seek · drag: loop')), h('div.ruler-box', timeline.el)),
    h('div.tracks-scroll', tracksEl, h('div.overlay', marks, playhead)),
    empty, uploadList, fileInput);
  dropTarget(tracksWrap, (files) => uploadFiles(files));

  const notes = new NotesPanel({
    onSelect: (n) => selectNote(n),
    onApply: (n) => { ws.ctx.t0 = performance.now(); store.applyPatch(n.fix.changes); toast(`Applied: ${n.title}`); },
  });
  notes.onUpdated = (ms) => { state.metrics.controlToNotesMs = ms; };
  const versions = new VersionsPanel({
    options: o, canLoadPlan: session.kind === 'stems',
    onLoadPlan: async (v) => { try { store.load(await api.fetchJson(v.plan_url), { keepHistory: true }); toast(`Loaded the plan of v${v.n} (undo to go back).`); } catch (err) { toast(err.message, 'error'); } },
    onPlayMaster: (v, f) => playMaster(f),
    onNotes: (v, f) => {
      ws.showTab('notes');
      const what = f.kind === 'master' ? `the ${versions.label(f.target)} master` : 'the mix';
      notes.showFile(session.id, { version: v.id, file: f.name, label: `${what} of v${v.n} (${f.name})`, back: () => showLiveNotes(),
        backLabel: session.kind === 'master' ? 'your mix' : 'live notes' });
    },
  });
  const tabNotes = h('button.tab.on', { type: 'button', on: { click: () => ws.showTab('notes') } }, 'Mix Notes');
  const tabVersions = h('button.tab', { type: 'button', on: { click: () => ws.showTab('versions') } }, 'Versions');
  const side = h('aside.side', h('div.tabs', tabNotes, tabVersions), notes.el, versions.el);
  versions.el.hidden = true;

  const inspector = new Inspector(ctx);
  const reason = h('div.reason-line', 'Point at a control to see why the AI set it.');
  inspector.el.querySelector('.insp-head').append(h('span.grow'), planStats);
  const meters = new MeterPanel(engine);
  const bottom = h('section.bottom', h('div.insp-wrap', inspector.el, reason), meters.el);
  const main = h('main.workspace', topbar, h('div.center', tracksWrap, side), bottom);
  clear($app, main);
  if (session.kind === 'master') {
    // no mixer in a mastering session: the inspector explains the flow instead
    inspector.el.replaceChildren(h('div.master-help',
      h('h3', 'Mastering session'),
      h('ol', h('li', 'Drop your finished stereo mix on the track area (a second upload replaces it).'),
        h('li', 'Choose the platforms (top bar) and, if you like, a reference track whose tone and loudness to match.'),
        h('li', 'Render: one master per platform and format, each loudness-checked and under its true-peak ceiling.'),
        h('li', 'Compare in A/B: “Mix” is your upload, “Master” the chosen master as the platform plays it, loudness-matched.'))));
    abBtns[0].hidden = true;
    abBtns[1].textContent = 'Mix';
    abBtns[1].title = 'Your uploaded mix';
    reason.hidden = true;
  } else inspector.show(null, 'track');

  ws = {
    ctx, rows: new Map(), name, genre, tracksEl, tracksWrap, empty, uploadList, timeline, notes, versions, inspector, meters,
    showTab(tab) {
      tabNotes.classList.toggle('on', tab === 'notes'); tabVersions.classList.toggle('on', tab === 'versions');
      notes.el.hidden = tab !== 'notes'; versions.el.hidden = tab !== 'versions';
    },
    updateTargets() {
      const chosen = state.session.targets || [];
      targetsPop.querySelectorAll('input').forEach((i) => { i.checked = chosen.includes(i.value); });
      targetsBtn.textContent = chosen.length ? chosen.map((n) => (o.targets.find((t) => t.name === n)?.label || n)).join(', ') : 'none';
      const first = o.targets.find((t) => t.name === chosen[0]);
      if (first) meters.targetLufs = first.loudness_lufs;
      const gname = state.session.genre || 'balanced';
      const g = o.corridor?.genres?.[gname];
      if (g && !state.refCorridor) meters.setCorridor({ centres_hz: o.corridor.centres_hz, target_db: g.target_db, tolerance_db: g.tolerance_db, label: `${gname} corridor` });
    },
    updateReference() {
      const r = state.session.reference;
      clear(refLabel, r ? [h('span.chip', { title: `${r.name}, ${mmss(r.duration_s)}` }, `${r.name} · ${r.loudness_lufs?.toFixed?.(1) ?? '?'} LUFS`),
        h('button.icon.del', { type: 'button', title: 'Remove the reference', on: { click: async () => { try { state.session = await api.deleteReference(state.session.id); state.refCorridor = null; applySession(state.session); } catch (err) { toast(err.message, 'error'); } } } }, '×')] : []);
    },
    updateButtons() {
      const s = state.session;
      const busy = !!(state.job && ['queued', 'running'].includes(state.job.state));
      const waiting = s.tracks.filter((t) => !t.ready && !trackFailure(t)).length;
      const failed = s.tracks.filter((t) => trackFailure(t)).map((t) => t.name);
      // a disabled button says why, and what to do (the server refuses a mix or render with a failed track)
      const why = busy ? 'Wait for the running job to finish.' : !s.tracks.length ? (s.kind === 'master' ? 'Upload your mix first.' : 'Upload stems first.')
        : waiting ? `Wait until ${waiting === 1 ? 'one track is' : `${waiting} tracks are`} prepared.`
          : failed.length ? `${failed.join(', ')} could not be prepared: remove ${failed.length === 1 ? 'it' : 'them'} (Remove track) or upload a good export.` : null;
      mixBtn.hidden = s.kind === 'master';
      mixBtn.textContent = store.loaded ? 'Re-run AI' : 'AI Mix';
      mixBtn.disabled = !!why;
      mixBtn.title = why || (store.loaded ? 'Re-solve every value you did not set or lock, around your changes' : 'Analyse the stems and mix them');
      renderBtn.disabled = !!why || (s.kind === 'stems' && !store.loaded);
      renderBtn.title = why || (s.kind === 'stems' && !store.loaded ? 'Run the AI mix first: Render renders its plan.' : 'Render the mix and master it for your platforms');
      playBtn.disabled = engine.tracks.size === 0;
      const st = store.stats();
      planStats.textContent = store.loaded ? `${st.user} yours · ${st.locked} locked` : '';
      const hasMaster = state.versions.some((v) => (v.files || []).some((f) => f.kind === 'master'));
      abBtns[2].disabled = !hasMaster;
      abBtns[2].title = hasMaster ? 'Play a master as its platform will play it (its loudness normalisation applied)'
        : 'No master yet: render one (Render…), then A/B plays it as its platform will';
      this.updateHistory();
    },
    updateHistory() { undoBtn.disabled = !store.canUndo; redoBtn.disabled = !store.canRedo; },
    updateAb() {
      abBtns.forEach((b) => b.classList.toggle('on', b.dataset.mode === engine.mode));
      const g = engine.pathGainsDb();
      const L = engine.levels;
      const matched = engine.matchLoudness;
      const master = state.session?.kind === 'master';
      // the loudness of what plays and the gain that matches it; "—" until it is measured
      const lufs = (v) => (Number.isFinite(v) ? `${signed(v, false)} LUFS` : null);
      let txt = '—', tip;
      if (engine.mode === 'raw') {
        const l = lufs(L.raw_sum_lufs);
        if (l) txt = matched ? `${l} · ${signed(g.raw)} dB` : l;
        tip = l ? `Raw sum of the stems (unity faders): ${l}${matched ? `, played ${signed(g.raw)} dB to match the AI mix` : ''}` : 'Raw sum: its loudness is measured once the stems are prepared';
      } else if (engine.mode === 'master') {
        txt = engine.masterLabel ? `${engine.masterLabel} · ${signed(g.master)} dB` : '—';
        tip = engine.masterLabel ? `${engine.masterLabel}, played ${signed(g.master)} dB (${matched ? 'matched to the mix' : 'as its platform normalises it'})` : 'No master loaded';
      } else {
        txt = lufs(L.mix_lufs) || '—';
        tip = master ? `Your mix${lufs(L.mix_lufs) ? `: ${lufs(L.mix_lufs)}` : ''}` : lufs(L.mix_lufs) ? `AI mix as rendered: ${lufs(L.mix_lufs)}` : 'AI mix: its loudness is measured after the AI mix';
      }
      abInfo.textContent = txt;
      abInfo.title = tip;
    },
    showJob(j) {
      const active = ['queued', 'running'].includes(j.state);
      job.hidden = false;
      job.className = `job ${j.state}`;
      jobBar.firstChild.style.width = `${Math.round((j.fraction || 0) * 100)}%`;
      const what = { prepare: 'Preparing', mix: 'AI mix', render: 'Render' }[j.kind] || j.kind;
      jobMsg.textContent = j.state === 'failed' ? `${what} failed: ${j.error?.message || ''}` : j.state === 'done' ? `${what} done` : `${what}: ${j.message || j.stage || ''} ${Math.round((j.fraction || 0) * 100)} %`;
      jobMsg.title = jobMsg.textContent;
      if (!active && j.state === 'done') setTimeout(() => { if (state.job === j) job.hidden = true; }, 4000);
      this.updateButtons();
    },
    updateReason() {
      const f = state.focus;
      if (!f) return;
      const p = store.param(f.s, f.n);
      const m = spec(f.s, f.n);
      const label = m?.label || f.n;
      const where = f.s.startsWith('track:') ? f.s.slice(6) : f.s;
      clear(reason, h('b', `${where} · ${label}`), p ? [` ${f.n === 'eq' ? `${(p.value || []).length} bands` : formatValue(m, p.value)} — `, h(`span.src.${p.source}`, p.source === 'user' ? 'you' : 'AI'), ` ${p.reason || ''}`, p.locked ? h('span.chip', 'locked') : null] : ' — not in the plan yet (run the AI mix)');
    },
  };
  engine.on('transport', ({ playing }) => { playBtn.textContent = playing ? '❚❚' : '▶'; playBtn.setAttribute('aria-label', playing ? 'pause' : 'play'); });
  engine.on('loop', (loop) => { timeline.set({ loop }); loopBtn.classList.toggle('on', loop.on); });
  engine.on('mode', () => ws.updateAb());
  ws.updateAb();
  const tick = () => {
    if (!ws) return;
    const d = timeline.duration || 1;
    const p = engine.position;
    time.textContent = `${mmssTenths(p)} / ${mmss(timeline.duration || 0)}`;
    const laneLeft = ws.tracksEl.querySelector('.lane')?.offsetLeft ?? 0;
    const laneW = ws.tracksEl.querySelector('.lane')?.clientWidth ?? 0;
    playhead.style.left = `${laneLeft + (p / d) * laneW}px`;
    playhead.hidden = !laneW;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  ws.marks = marks;
  showLiveNotes();
}

/** The notes panel's own content: a mastering session's mix, else the live notes of the plan. */
function showLiveNotes() {
  const s = state.session;
  if (!ws || !s) return;
  if (s.kind === 'master') {
    if (s.tracks.some((t) => t.ready && !t.problem)) ws.notes.showFile(s.id, { label: 'your mix' });
    else ws.notes.showPlaceholder('Drop your mix: its notes (clipping, true peak, loudness for your platforms, tone, stereo) appear once it is prepared.');
  } else if (store.loaded) ws.notes.request(s.id, store.plan, { delay: 0 });
  else ws.notes.showPlaceholder('Notes appear after the AI mix: press “AI Mix”.');
}

async function patch(p) {
  try {
    state.session = await api.patchSession(state.session.id, p);
    if (p.genre) state.refCorridor = state.refCorridor || null;
    applySession(state.session);
    if (p.genre && store.loaded) toast('Genre changed: press Re-run AI to re-solve the mix for it.');
  } catch (err) { toast(err.message, 'error'); }
}

async function uploadRef(file) {
  if (!file) return;
  const { promise } = uploadReference(state.session.id, file, (f) => ws && (ws.tracksWrap.dataset.refProgress = f));
  try {
    state.session = await promise;
    applySession(state.session);
    toast(`Reference set: ${file.name}. Re-run AI to lean the mix bus toward it.`);
    referenceCorridor(file).catch(() => {});
  } catch (err) { toast(err.message, 'error', 12000); }
}

/** The reference's 1/3-octave spectrum, measured here from the file the user chose. */
async function referenceCorridor(file) {
  const buf = await engine.ctx.decodeAudioData(await file.arrayBuffer());
  const { bandLevelsDb } = await import('./spectrum.js');
  const centres = state.options.corridor?.centres_hz || Array.from({ length: 30 }, (_, i) => 25 * 2 ** (i / 3));
  const levels = bandLevelsDb(buf, centres);
  state.refCorridor = { centres_hz: centres, target_db: levels, tolerance_db: centres.map(() => 2), label: `reference: ${file.name}` };
  ws?.meters.setCorridor(state.refCorridor);
}

function setMode(mode) {
  if (mode === 'master' && !engine.masterBuffer) {
    const s = state.session;
    const pick = state.versions.flatMap((v) => (v.files || []).filter((f) => f.kind === 'master').map((f) => ({ v, f })));
    const preferred = pick.find((x) => (s.targets || []).includes(x.f.target)) || pick[0];
    if (!preferred) { toast('Render a master first (Render…).'); return; }
    playMaster(preferred.f).then(() => engine.setMode('master'));
    return;
  }
  engine.setMode(mode);
}

async function playMaster(f) {
  try {
    const data = await (await fetch(f.url)).arrayBuffer();
    const buffer = await engine.ctx.decodeAudioData(data);
    const target = state.options.targets.find((t) => t.name === f.target);
    // as the platform plays it: turned down to its target, never up (docs/API.md)
    const delta = target && Number.isFinite(f.loudness_lufs) ? target.loudness_lufs - f.loudness_lufs : 0;
    const norm = target?.normalises_up ? delta : Math.min(0, delta);
    engine.setMaster(buffer, { loudness_lufs: Number.isFinite(f.loudness_lufs) ? f.loudness_lufs + norm : null, norm_db: norm, label: `${target?.label || f.target} ${f.format}` });
    ws.versions.playing = f.url; ws.versions.render();
    engine.setMode('master');
    ws.updateButtons();
  } catch (err) { toast(`Could not load the master: ${err.message}`, 'error'); }
}

function selectNote(n) {
  for (const r of ws.rows.values()) r.setHighlight(!!n && (n.tracks || []).includes(r.name));
  ws.timeline.set({ marks: n ? (n.ranges || []).map((r) => ({ start: r.start_s, end: r.end_s, color: n.severity === 'problem' ? 'rgba(255,107,139,0.8)' : n.severity === 'warn' ? 'rgba(245,165,36,0.8)' : 'rgba(76,201,240,0.8)' })) : [] });
  clear(ws.marks);
  if (n) {
    const d = ws.timeline.duration || 1;
    const lane = ws.tracksEl.querySelector('.lane');
    for (const r of n.ranges || []) ws.marks.append(h(`div.mark.${n.severity}`, { style: { left: `${(lane?.offsetLeft || 0) + (r.start_s / d) * (lane?.clientWidth || 0)}px`, width: `${Math.max(2, ((r.end_s - r.start_s) / d) * (lane?.clientWidth || 0))}px` } }));
    if (n.ranges?.length) engine.seek(n.ranges[0].start_s);
    const first = (n.tracks || [])[0];
    if (first && ws.rows.get(first)) ws.rows.get(first).el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
}

boot();
