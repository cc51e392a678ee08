// Real-time preview: a Web Audio graph that mirrors the MixPlan (engine/mix_render.py).
//
// Per track:  source -> polarity -> DelayNode (nudge, around a fixed base delay so negative
// nudges work) -> 2 high-pass biquads (24 dB/oct Butterworth) -> EQ biquads -> compressor ->
// make-up -> fader (mute/solo) -> StereoPanner -> drum bus or mix bus;
// post-fader sends -> reverb bus (high-pass -> ConvolverNode) and delay bus (ping-pong feedback).
// Drum bus: compressor; mix bus: tonal EQ -> glue compressor -> output gain.
// Three sources are always running in sync: the raw sum (every track at unity), the AI mix
// (the graph) and a rendered master; A/B picks one, loudness-matched.
// A control change sets AudioParams directly (setTargetAtTime, 10 ms): no rebuild, no server.

import { bandCoefficients } from './eq-curve.js';
import { clamp, dbToLin, Emitter } from './ui.js';
import { spec } from './plan.js';

/** A plan value kept inside its parameter's range (the engine's schema), or `fallback` when unset. */
function inRange(P, section, name, fallback) {
  const v = P.get(section, name) ?? fallback;
  const m = spec(section, name);
  return m && Number.isFinite(m.min) ? clamp(v, m.min, m.max) : v;
}

export const BASE_DELAY_S = 0.1;        // the delay line holds +-BASE_DELAY_S of nudge; beyond, the source starts later/earlier
const COMP_LATENCY_S = 0.006;          // Chromium's DynamicsCompressor look-ahead (pre-delay)
const EQ_SLOTS = 6;                    // biquads per track, unused ones are 0 dB bells
const TC = 0.01;                       // setTargetAtTime constant: 10 ms
const KIND = { peak: 'peaking', low_shelf: 'lowshelf', high_shelf: 'highshelf' };
const BUTTERWORTH4_Q = [0.5411961, 1.3065630]; // sections of a 4th-order Butterworth

const qToDb = (q) => 20 * Math.log10(q); // Web Audio high/low-pass Q is in dB

function setParam(param, value, ctx) {
  if (!Number.isFinite(value)) return;
  const v = clamp(value, param.minValue, param.maxValue);
  param.cancelScheduledValues(ctx.currentTime);
  param.setTargetAtTime(v, ctx.currentTime, TC);
}

/**
 * Chromium's compressor adds its own make-up gain ((1 / gain at 0 dBFS) ^ 0.6, Web Audio spec
 * 1.19.4). The engine's compressor does not, so the preview divides it out. This is a port of
 * DynamicsCompressorKernel's static curve (KAtSlope by bisection, knee curve, ratio slope).
 */
export function chromiumMakeupDb(thresholdDb, kneeDb, ratio) {
  const lin = (db) => 10 ** (db / 20), dB = (x) => 20 * Math.log10(Math.max(x, 1e-30));
  const linThr = lin(thresholdDb);
  const kneeCurve = (x, k) => (x < linThr ? x : linThr + (1 - Math.exp(-k * (x - linThr))) / k);
  const slopeAt = (x, k) => {
    if (x < linThr) return 1;
    const x2 = x * 1.001;
    return (dB(kneeCurve(x2, k)) - dB(kneeCurve(x, k))) / (dB(x2) - dB(x));
  };
  const kneeThr = lin(thresholdDb + kneeDb);
  let minK = 0.1, maxK = 10000, k = 5;
  for (let i = 0; i < 15; i++) {
    if (slopeAt(kneeThr, k) < 1 / ratio) maxK = k; else minK = k;
    k = Math.sqrt(minK * maxK);
  }
  const yKneeDb = dB(kneeCurve(kneeThr, k));
  const x = 1;
  const y = x < kneeThr ? kneeCurve(x, k) : lin(yKneeDb + (dB(x) - dB(kneeThr)) / ratio);
  return 0.6 * -dB(y);
}

/** A synthetic stereo room (dsp/space.py reverb_ir in spirit): decorrelated noise, exponential
 * decay of rt60 at low frequencies, highs dying faster above the damping frequency, pre-delay,
 * each channel scaled to unit energy. */
export function reverbImpulse(ctx, { rt60_s = 1.5, predelay_ms = 10, damping_hz = 6000 }) {
  const sr = ctx.sampleRate;
  const len = Math.ceil(sr * (predelay_ms / 1000 + rt60_s * 1.1));
  const pre = Math.round((sr * predelay_ms) / 1000);
  const buf = ctx.createBuffer(2, len, sr);
  let seed = 1;
  const rand = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 31 - 1; };
  const early = Math.min(0.08, rt60_s / 4);
  for (let c = 0; c < 2; c++) {
    const d = buf.getChannelData(c);
    let lp = 0, energy = 0;
    for (let i = pre; i < len; i++) {
      const t = (i - pre) / sr;
      // the cut-off of a one-pole low-pass falls from 18 kHz toward the damping frequency
      const fc = damping_hz + (18000 - damping_hz) * Math.exp(-t / (0.25 * rt60_s));
      const a = Math.exp((-2 * Math.PI * Math.min(fc, 0.45 * sr)) / sr);
      let n = rand();
      if (t < early) { const share = (t / early) ** 2 + 0.02; n = rand() < share ? n / Math.sqrt(share) : 0; }
      lp = (1 - a) * n + a * lp;
      const v = lp * Math.exp((-Math.log(1000) * t) / rt60_s);
      d[i] = v; energy += v * v;
    }
    const g = 1 / Math.sqrt(energy || 1);
    for (let i = pre; i < len; i++) d[i] *= g;
  }
  return buf;
}

class TrackNodes {
  constructor(engine, name, buffer) {
    const ctx = engine.ctx;
    this.name = name;
    this.buffer = buffer;
    this.raw = ctx.createGain();                       // raw-sum path: unity
    this.input = ctx.createGain();                     // where the source connects
    this.polarity = ctx.createGain();
    this.delay = ctx.createDelay(2 * BASE_DELAY_S + 0.01);
    this.delay.delayTime.value = BASE_DELAY_S;
    this.hp = BUTTERWORTH4_Q.map((q) => { const f = ctx.createBiquadFilter(); f.type = 'highpass'; f.Q.value = qToDb(q); f.frequency.value = 5; return f; });
    this.eq = Array.from({ length: EQ_SLOTS }, () => { const f = ctx.createBiquadFilter(); f.type = 'peaking'; f.gain.value = 0; return f; });
    this.comp = ctx.createDynamicsCompressor();
    this.makeup = ctx.createGain();
    this.fader = ctx.createGain();
    this.pan = ctx.createStereoPanner();
    this.reverbSend = ctx.createGain(); this.reverbSend.gain.value = 0;
    this.delaySend = ctx.createGain(); this.delaySend.gain.value = 0;
    this.chain = [this.input, this.polarity, this.delay, ...this.hp, ...this.eq, this.comp, this.makeup, this.fader, this.pan];
    for (let i = 0; i < this.chain.length - 1; i++) this.chain[i].connect(this.chain[i + 1]);
    this.input.connect(this.raw);
    this.raw.connect(engine.rawBus);
    this.pan.connect(this.reverbSend).connect(engine.reverbIn);
    this.pan.connect(this.delaySend).connect(engine.delayIn);
    this.bus = null;
    this.setBus('mix', engine);
    this.source = null;
    this.values = {};
  }

  setBus(bus, engine) {
    if (bus === this.bus) return;
    if (this.bus) this.pan.disconnect(this.bus === 'drums' ? engine.drumIn : engine.mixDirect);
    this.bus = bus === 'drums' ? 'drums' : 'mix';
    this.pan.connect(this.bus === 'drums' ? engine.drumIn : engine.mixDirect);
  }

  /** The nodes a test or a meter may look at (window.mixlab.graph.tracks[name]). */
  get exposed() {
    return { fader: this.fader, pan: this.pan, eq: this.eq.slice(0, Math.max(1, this.values.eqCount || 0)), eqSlots: this.eq,
      comp: this.comp, makeup: this.makeup, polarity: this.polarity, delay: this.delay, highpass: this.hp, sourceShiftS: this.shift || 0,
      reverbSend: this.reverbSend, delaySend: this.delaySend, raw: this.raw };
  }
}

export class AudioEngine extends Emitter {
  constructor() {
    super();
    this.ctx = new AudioContext({ latencyHint: 'interactive' });
    const ctx = this.ctx;
    this.tracks = new Map();
    this.solo = new Set();
    this.mode = 'mix';
    this.matchLoudness = true;
    this.levels = { raw_sum_lufs: null, mix_lufs: null, master_lufs: null, master_norm_db: 0 };
    this.duration = 0;
    this.playing = false;
    this.startPos = 0; this.startedAt = 0;
    this.loop = { on: false, start: 0, end: 0 };
    this.planView = null;

    // buses
    this.rawBus = ctx.createGain();
    this.mixDirect = ctx.createDelay(0.05); this.mixDirect.delayTime.value = COMP_LATENCY_S; // aligns with the drum bus's compressor
    this.drumIn = ctx.createGain();
    this.drumComp = ctx.createDynamicsCompressor();
    this.drumMakeup = ctx.createGain();
    this.drumIn.connect(this.drumComp).connect(this.drumMakeup);
    this.mixSum = ctx.createGain();
    this.mixDirect.connect(this.mixSum);
    this.drumMakeup.connect(this.mixSum);
    // reverb: 12 dB/oct high-pass, convolver
    this.reverbIn = ctx.createGain();
    this.reverbHp = ctx.createBiquadFilter(); this.reverbHp.type = 'highpass'; this.reverbHp.Q.value = qToDb(Math.SQRT1_2);
    this.reverbAlign = ctx.createDelay(0.05); this.reverbAlign.delayTime.value = COMP_LATENCY_S;
    this.reverbIn.connect(this.reverbHp);
    this.convolver = null;
    this.reverbKey = '';
    this.reverbAlign.connect(this.mixSum);
    // delay: ping-pong feedback delay (dsp/space.py delay_ir: odd echoes left, even right)
    this.delayIn = ctx.createGain();
    this.buildDelayBus();
    // mix bus
    this.busEq = Array.from({ length: 6 }, () => { const f = ctx.createBiquadFilter(); f.type = 'peaking'; f.gain.value = 0; return f; });
    this.glue = ctx.createDynamicsCompressor();
    this.glueMakeup = ctx.createGain();
    this.output = ctx.createGain();
    let prev = this.mixSum;
    for (const n of [...this.busEq, this.glue, this.glueMakeup, this.output]) { prev.connect(n); prev = n; }
    // A/B paths into the monitor
    this.monitor = ctx.createGain();
    this.pathMix = ctx.createGain();
    this.pathRaw = ctx.createGain(); this.pathRaw.gain.value = 0;
    this.pathMaster = ctx.createGain(); this.pathMaster.gain.value = 0;
    this.rawAlign = ctx.createDelay(1); this.rawAlign.delayTime.value = BASE_DELAY_S + 3 * COMP_LATENCY_S;
    this.masterIn = ctx.createGain();
    this.masterAlign = ctx.createDelay(1); this.masterAlign.delayTime.value = BASE_DELAY_S + 3 * COMP_LATENCY_S;
    this.output.connect(this.pathMix).connect(this.monitor);
    this.rawBus.connect(this.rawAlign).connect(this.pathRaw).connect(this.monitor);
    this.masterIn.connect(this.masterAlign).connect(this.pathMaster).connect(this.monitor);
    this.masterBuffer = null;
    this.masterSource = null;
    this.masterGainDb = 0;
    // monitor -> analyser, meters, speakers
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 8192;
    this.analyser.smoothingTimeConstant = 0.75;
    this.monitor.connect(this.analyser);
    this.monitor.connect(ctx.destination);
    this.meterNode = null;
  }

  async initMeters(moduleUrl) {
    try {
      await this.ctx.audioWorklet.addModule(moduleUrl);
      this.meterNode = new AudioWorkletNode(this.ctx, 'mixlab-meters', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [2], channelCount: 2, channelCountMode: 'explicit' });
      this.monitor.connect(this.meterNode);
      const sink = this.ctx.createGain(); sink.gain.value = 0;
      this.meterNode.connect(sink).connect(this.ctx.destination);
      this.meterNode.port.onmessage = (e) => { this.meterValues = e.data; this.emit('meters', e.data); };
    } catch (err) {
      console.warn('meters unavailable', err);
    }
  }

  resetMeters() { this.meterNode?.port.postMessage({ type: 'reset' }); }

  buildDelayBus() {
    const ctx = this.ctx;
    this.delayNodes?.forEach((n) => n.disconnect());
    const split = ctx.createChannelSplitter(2), merge = ctx.createChannelMerger(2);
    const lp = () => { const f = ctx.createBiquadFilter(); f.type = 'lowpass'; f.Q.value = qToDb(0.5); f.frequency.value = 5000; return f; };
    // lines long enough for the longest delay the schema allows (the right side's first echo is at 2D)
    const longest = 2 * (spec('bus:delay', 'delay_ms')?.max ?? 4000) / 1000 + 0.1;
    const mk = {
      first: { L: ctx.createDelay(longest), R: ctx.createDelay(longest) },
      loop: { L: ctx.createDelay(longest), R: ctx.createDelay(longest) },
      lps: [], fbR: ctx.createGain(), loopGainL: ctx.createGain(), loopGainR: ctx.createGain(),
      outL: ctx.createGain(), outR: ctx.createGain(), split, merge,
    };
    const chain = (nodes) => { for (let i = 0; i < nodes.length - 1; i++) nodes[i].connect(nodes[i + 1]); };
    this.delayIn.connect(split);
    // left: echo 1 at D (one low-pass), then every 2D with feedback^2 and two more low-passes
    const l1 = lp(); mk.lps.push(l1);
    split.connect(mk.first.L, 0); chain([mk.first.L, l1, mk.outL]);
    const la = lp(), lb = lp(); mk.lps.push(la, lb);
    chain([mk.outL, mk.loop.L, la, lb, mk.loopGainL, mk.outL]);
    // right: echo 2 at 2D with feedback and two low-passes, then the same loop
    const r1 = lp(), r2 = lp(); mk.lps.push(r1, r2);
    split.connect(mk.first.R, 1); chain([mk.first.R, r1, r2, mk.fbR, mk.outR]);
    const ra = lp(), rb = lp(); mk.lps.push(ra, rb);
    chain([mk.outR, mk.loop.R, ra, rb, mk.loopGainR, mk.outR]);
    mk.outL.connect(merge, 0, 0); mk.outR.connect(merge, 0, 1);
    const align = ctx.createDelay(0.05); align.delayTime.value = COMP_LATENCY_S;
    merge.connect(align).connect(this.mixSum);
    this.delayBus = mk;
    this.delayNodes = [split, merge, align, ...Object.values(mk.first), ...Object.values(mk.loop), ...mk.lps, mk.fbR, mk.loopGainL, mk.loopGainR, mk.outL, mk.outR];
  }

  /** Add (or replace) a track's buffer. */
  addTrack(name, buffer) {
    this.removeTrack(name);
    const t = new TrackNodes(this, name, buffer);
    this.tracks.set(name, t);
    this.duration = Math.max(this.duration, buffer.duration);
    if (this.planView) this.applyTrack(name);
    if (this.playing) this.restart();
    return t;
  }

  removeTrack(name) {
    const t = this.tracks.get(name);
    if (!t) return;
    try { t.source?.stop(); } catch { /* not started */ }
    for (const n of [...t.chain, ...t.eq, t.raw, t.reverbSend, t.delaySend]) n.disconnect();
    this.tracks.delete(name);
  }

  clear() { for (const name of [...this.tracks.keys()]) this.removeTrack(name); this.duration = 0; this.setMaster(null); this.pause(); this.startPos = 0; }

  // ---------------------------------------------------------------- plan -> AudioParams

  /** planView: {get(section, name)}; applies every parameter. */
  applyPlan(planView) {
    this.planView = planView;
    for (const name of this.tracks.keys()) this.applyTrack(name);
    this.applyBuses();
  }

  /** One parameter changed: only its AudioParams move. Returns the nodes touched. */
  applyParam(section, name) {
    if (!this.planView) return;
    if (section.startsWith('track:')) this.applyTrack(section.slice(6), name);
    else this.applyBuses(section, name);
  }

  applyTrack(track, only = null) {
    const t = this.tracks.get(track);
    const P = this.planView;
    if (!t || !P) return;
    const s = `track:${track}`;
    const ctx = this.ctx;
    const get = (n, d) => { const v = P.get(s, n); return v === undefined || v === null ? d : v; };
    const want = (n) => !only || only === n;
    if (want('polarity_inverted')) setParam(t.polarity.gain, get('polarity_inverted', false) ? -1 : 1, ctx);
    if (want('offset_ms')) { setParam(t.delay.delayTime, BASE_DELAY_S + clamp(get('offset_ms', 0) / 1000, -BASE_DELAY_S, BASE_DELAY_S), ctx); this.reshift(t); }
    if (want('highpass_hz')) {
      const hp = P.get(s, 'highpass_hz');
      for (const f of t.hp) setParam(f.frequency, hp ? hp : 5, ctx);
    }
    if (want('eq')) this.applyEq(t.eq, get('eq', []), t.comp), t.values.eqCount = (get('eq', []) || []).length;
    if (!only || only.startsWith('comp_')) this.applyComp(t.comp, t.makeup, s);
    if (want('gain_db') || want('mute') || only === 'solo') this.applyFader(t);
    if (want('pan')) setParam(t.pan.pan, get('pan', 0), ctx);
    if (want('reverb_send_db')) { const v = P.get(s, 'reverb_send_db'); setParam(t.reverbSend.gain, v === null || v === undefined ? 0 : dbToLin(v), ctx); }
    if (want('delay_send_db')) { const v = P.get(s, 'delay_send_db'); setParam(t.delaySend.gain, v === null || v === undefined ? 0 : dbToLin(v), ctx); }
    if (want('bus')) t.setBus(get('bus', 'mix'), this);
  }

  applyFader(t) {
    const s = `track:${t.name}`;
    const muted = !!this.planView?.get(s, 'mute');
    const soloed = this.solo.size > 0 && !this.solo.has(t.name);
    const g = muted || soloed ? 0 : dbToLin(this.planView?.get(s, 'gain_db') ?? 0);
    setParam(t.fader.gain, g, this.ctx);
    setParam(t.raw.gain, soloed ? 0 : 1, this.ctx);
  }

  /** The bands on a chain of biquads ending in `next`; the chain grows when a plan has more bands than slots. */
  applyEq(nodes, bands, next) {
    const ctx = this.ctx;
    while (nodes.length < (bands?.length || 0)) {
      const last = nodes[nodes.length - 1];
      const f = ctx.createBiquadFilter(); f.type = 'peaking'; f.gain.value = 0;
      last.disconnect(next); last.connect(f); f.connect(next);
      nodes.push(f);
    }
    const top = 0.95 * ctx.sampleRate / 2;
    nodes.forEach((f, i) => {
      const b = bands?.[i];
      if (!b || !(b.freq_hz > 10)) { setParam(f.gain, 0, ctx); return; }
      const type = KIND[b.kind] || 'peaking';
      if (f.type !== type) f.type = type;
      setParam(f.frequency, Math.min(b.freq_hz, top), ctx);
      setParam(f.gain, b.gain_db, ctx);
      // Web Audio's shelves have a fixed slope S = 1 (the engine's default shelf Q, 1/sqrt 2);
      // a bell's Q is the cookbook's Q, as in the engine.
      if (type === 'peaking') setParam(f.Q, b.q || 1, ctx);
    });
  }

  applyComp(comp, makeup, s) {
    const P = this.planView, ctx = this.ctx;
    // the clamps below are Web Audio's DynamicsCompressorNode limits (attack and release at most 1 s)
    const ratio = clamp(P.get(s, 'comp_ratio') ?? 1, 1, 20);
    // ratio 1 is "no compressor" in the engine; Chromium's knee would still bend: neutralise it
    const thr = ratio > 1 ? clamp(P.get(s, 'comp_threshold_db') ?? 0, -100, 0) : 0;
    const knee = ratio > 1 ? clamp(P.get(s, 'comp_knee_db') ?? 6, 0, 40) : 0;
    setParam(comp.ratio, ratio, ctx);
    setParam(comp.threshold, thr, ctx);
    setParam(comp.knee, knee, ctx);
    setParam(comp.attack, clamp((P.get(s, 'comp_attack_ms') ?? 10) / 1000, 0, 1), ctx);
    setParam(comp.release, clamp((P.get(s, 'comp_release_ms') ?? 150) / 1000, 0, 1), ctx);
    const auto = chromiumMakeupDb(thr, knee, ratio);
    setParam(makeup.gain, dbToLin((P.get(s, 'comp_makeup_db') ?? 0) - auto), ctx);
  }

  applyBuses(section = null, name = null) {
    const P = this.planView, ctx = this.ctx;
    if (!P) return;
    const is = (s) => !section || section === s;
    if (is('bus:drums')) this.applyComp(this.drumComp, this.drumMakeup, 'bus:drums');
    if (is('bus:mix')) {
      this.applyEq(this.busEq, P.get('bus:mix', 'eq') || [], this.glue);
      this.applyComp(this.glue, this.glueMakeup, 'bus:mix');
      setParam(this.output.gain, dbToLin(P.get('bus:mix', 'output_gain_db') ?? 0), ctx);
    }
    if (is('bus:reverb')) {
      setParam(this.reverbHp.frequency, P.get('bus:reverb', 'highpass_hz') ?? 200, ctx);
      const room = { rt60_s: inRange(P, 'bus:reverb', 'rt60_s', 1.5), predelay_ms: inRange(P, 'bus:reverb', 'predelay_ms', 10), damping_hz: inRange(P, 'bus:reverb', 'damping_hz', 6000) };
      const key = JSON.stringify(room);
      if (key !== this.reverbKey) {
        // the impulse is data, not an AudioParam: a new convolver, swapped in
        this.reverbKey = key;
        const conv = this.ctx.createConvolver();
        conv.normalize = false;
        conv.buffer = reverbImpulse(this.ctx, room);
        this.reverbHp.connect(conv).connect(this.reverbAlign);
        const old = this.convolver;
        this.convolver = conv;
        if (old) { this.reverbHp.disconnect(old); setTimeout(() => old.disconnect(), 50); }
      }
    }
    if (is('bus:delay')) {
      const d = inRange(P, 'bus:delay', 'delay_ms', 375) / 1000;
      const fb = inRange(P, 'bus:delay', 'feedback', 0.3);
      const lp = clamp(P.get('bus:delay', 'lowpass_hz') ?? 5000, 200, 0.45 * ctx.sampleRate);
      const m = this.delayBus;
      setParam(m.first.L.delayTime, d, ctx); setParam(m.first.R.delayTime, 2 * d, ctx);
      setParam(m.loop.L.delayTime, 2 * d, ctx); setParam(m.loop.R.delayTime, 2 * d, ctx);
      setParam(m.fbR.gain, fb, ctx); setParam(m.loopGainL.gain, fb * fb, ctx); setParam(m.loopGainR.gain, fb * fb, ctx);
      for (const f of m.lps) setParam(f.frequency, lp, ctx);
    }
  }

  setSolo(name, on) {
    if (on) this.solo.add(name); else this.solo.delete(name);
    for (const t of this.tracks.values()) this.applyFader(t);
  }

  // ---------------------------------------------------------------- A/B and levels

  setLevels(levels) { Object.assign(this.levels, levels); this.applyMode(); }

  /** The rendered master to compare: its buffer and the platform's normalisation gain (dB). */
  setMaster(buffer, { loudness_lufs = null, norm_db = 0, label = '' } = {}) {
    try { this.masterSource?.stop(); } catch { /* */ }
    this.masterSource = null;
    this.masterBuffer = buffer;
    this.levels.master_lufs = loudness_lufs;
    this.levels.master_norm_db = norm_db;
    this.masterLabel = label;
    if (this.playing) this.restart();
    this.applyMode();
  }

  /** Gains (dB) of the three paths: loudness-matched to the AI mix when matchLoudness. */
  pathGainsDb() {
    const L = this.levels;
    const ok = (v) => Number.isFinite(v);
    const match = this.matchLoudness;
    const ref = L.mix_lufs;
    return {
      raw: match && ok(ref) && ok(L.raw_sum_lufs) ? ref - L.raw_sum_lufs : 0,
      mix: 0,
      master: match && ok(ref) && ok(L.master_lufs) ? ref - L.master_lufs : (L.master_norm_db || 0),
    };
  }

  setMode(mode) { this.mode = mode; this.applyMode(); this.emit('mode', mode); }

  applyMode() {
    const g = this.pathGainsDb();
    setParam(this.pathRaw.gain, this.mode === 'raw' ? dbToLin(g.raw) : 0, this.ctx);
    setParam(this.pathMix.gain, this.mode === 'mix' ? dbToLin(g.mix) : 0, this.ctx);
    setParam(this.pathMaster.gain, this.mode === 'master' && this.masterBuffer ? dbToLin(g.master) : 0, this.ctx);
  }

  // ---------------------------------------------------------------- transport

  get position() {
    if (!this.playing) return this.startPos;
    const heard = this.ctx.currentTime - this.startedAt - BASE_DELAY_S;
    let p = this.startPos + Math.max(0, heard);
    if (this.loop.on && this.loop.end > this.loop.start && p >= this.loop.end) {
      const len = this.loop.end - this.loop.start;
      p = this.loop.start + ((p - this.loop.start) % len);
    }
    return Math.min(p, this.duration);
  }

  async play() {
    if (this.playing || !this.tracks.size) return;
    if (this.ctx.state !== 'running') await this.ctx.resume();
    let pos = this.startPos;
    if (pos >= this.duration - 0.05) pos = 0;
    if (this.loop.on && (pos < this.loop.start || pos >= this.loop.end)) pos = this.loop.start;
    const when = this.ctx.currentTime + 0.02;
    for (const t of this.tracks.values()) { t.shift = this.sourceShift(t); t.source = this.startSource(t.buffer, t.input, when, pos, t.shift); }
    if (this.masterBuffer) this.masterSource = this.startSource(this.masterBuffer, this.masterIn, when, pos, 0);
    this.startPos = pos; this.startedAt = when; this.playing = true;
    this.emit('transport', { playing: true });
    this.watchEnd();
  }

  /** A buffer source playing from timeline position pos at `when`, `shift` seconds late (a nudge). */
  startSource(buffer, dest, when, pos, shift) {
    const src = this.ctx.createBufferSource();
    src.buffer = buffer;
    if (this.loop.on && this.loop.end > this.loop.start) {
      src.loop = true; src.loopStart = Math.max(0, this.loop.start - shift); src.loopEnd = Math.max(src.loopStart + 0.01, this.loop.end - shift);
    }
    src.connect(dest);
    let at = pos - shift, w = when;
    if (at < 0) { w = when - at; at = 0; }
    src.start(w, Math.min(at, buffer.duration));
    return src;
  }

  /**
   * The part of a track's nudge its delay line cannot hold (beyond ±BASE_DELAY_S), in seconds:
   * its source starts that much later (or earlier), so the preview follows the whole ±1000 ms.
   */
  sourceShift(t) {
    const o = (this.planView?.get(`track:${t.name}`, 'offset_ms') ?? 0) / 1000;
    return o - clamp(o, -BASE_DELAY_S, BASE_DELAY_S);
  }

  /** Restart one track's source (playing) when its nudge moved past what the delay line holds. */
  reshift(t) {
    const shift = this.sourceShift(t);
    if (!this.playing || Math.abs(shift - (t.shift || 0)) < 1e-6) { t.shift = this.playing ? t.shift : shift; return; }
    const when = this.ctx.currentTime + 0.02;
    let p = this.startPos + (when - this.startedAt);
    if (this.loop.on && this.loop.end > this.loop.start && p >= this.loop.end) p = this.loop.start + ((p - this.loop.start) % (this.loop.end - this.loop.start));
    try { t.source?.stop(when); } catch { /* already stopped */ }
    t.shift = shift;
    t.source = this.startSource(t.buffer, t.input, when, p, shift);
  }

  watchEnd() {
    cancelAnimationFrame(this.endRaf);
    const tick = () => {
      if (!this.playing) return;
      if (!this.loop.on && this.position >= this.duration - 0.001) { this.pause(); this.startPos = 0; this.emit('transport', { playing: false }); return; }
      this.endRaf = requestAnimationFrame(tick);
    };
    this.endRaf = requestAnimationFrame(tick);
  }

  pause() {
    if (!this.playing) return;
    const pos = this.position;
    for (const t of this.tracks.values()) { try { t.source?.stop(); } catch { /* */ } t.source?.disconnect(); t.source = null; }
    try { this.masterSource?.stop(); } catch { /* */ }
    this.masterSource = null;
    this.playing = false;
    this.startPos = pos;
    this.emit('transport', { playing: false });
  }

  toggle() { return this.playing ? this.pause() : this.play(); }

  restart() { if (this.playing) { this.pause(); this.play(); } }

  seek(seconds) {
    const was = this.playing;
    if (was) this.pause();
    this.startPos = clamp(seconds, 0, this.duration || 0);
    if (was) this.play();
    this.emit('seek', this.startPos);
  }

  setLoop(start, end, on = true) {
    const a = Math.max(0, Math.min(start, end)), b = Math.min(this.duration, Math.max(start, end));
    this.loop = { on: on && b - a > 0.05, start: a, end: b };
    this.emit('loop', this.loop);
    if (this.playing) { const p = this.position; this.pause(); this.startPos = this.loop.on ? clamp(p, a, b) : p; this.play(); }
  }

  toggleLoop() { this.setLoop(this.loop.start, this.loop.end, !this.loop.on); }

  /** The graph as tests see it: window.mixlab.graph. */
  get exposed() {
    const tracks = {};
    for (const [name, t] of this.tracks) tracks[name] = t.exposed;
    return { context: this.ctx, tracks, buses: { drums: { comp: this.drumComp }, mix: { eq: this.busEq, comp: this.glue, output: this.output }, reverb: this.convolver, delay: this.delayBus },
      paths: { raw: this.pathRaw, mix: this.pathMix, master: this.pathMaster }, monitor: this.monitor, analyser: this.analyser, meter: this.meterNode };
  }
}

export { bandCoefficients };
