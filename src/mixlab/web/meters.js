// The meter panel: LUFS (momentary, short-term, integrated), true peak, LRA, correlation, and the
// 1/3-octave spectrum drawn against the genre corridor (or the reference's).

import { h, fitCanvas, clamp } from './ui.js';

const fmt = (v, d = 1) => (Number.isFinite(v) && v > -150 ? v.toFixed(d) : '–');

export class MeterPanel {
  constructor(engine) {
    this.engine = engine;
    this.values = {};
    this.corridor = null;     // {centres_hz, target_db, tolerance_db, label}
    this.targetLufs = -14;
    this.readouts = {};
    const cell = (key, label, unit) => {
      const v = h('div.mv', '–');
      this.readouts[key] = v;
      return h('div.mcell', { dataset: { meter: key } }, h('div.ml', label), v, h('div.mu', unit));
    };
    this.bars = h('canvas.loud-bars');
    this.spectrum = h('canvas.spectrum');
    this.corrBar = h('div.corr-bar', h('div.corr-fill'));
    this.el = h('div.meters',
      h('div.meter-head', h('span.panel-title', 'Meters'), h('button.small.ghost', { title: 'Reset integrated loudness, LRA and peaks', on: { click: () => engine.resetMeters() } }, 'Reset')),
      h('div.meter-grid',
        cell('integrated_lufs', 'Integrated', 'LUFS'), cell('short_term_lufs', 'Short-term', 'LUFS'), cell('momentary_lufs', 'Momentary', 'LUFS'),
        cell('true_peak_dbtp', 'True peak', 'dBTP'), cell('lra_lu', 'LRA', 'LU'), cell('correlation', 'Correlation', '')),
      h('div.meter-row', this.bars, h('div.corr', h('span.ml', '−1'), this.corrBar, h('span.ml', '+1'))),
      h('div.spec-head', h('span.ml', 'Spectrum (1/3 octave) vs '), this.corrLabel = h('span.ml.corr-name', 'genre corridor')),
      this.spectrum);
    engine.on('meters', (m) => { this.values = m; this.updateReadouts(); });
    this.freq = new Float32Array(engine.analyser.frequencyBinCount);
    this.smooth = null;
    const loop = () => { this.drawSpectrum(); this.drawBars(); requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  }

  setCorridor(c) { this.corridor = c; if (c) this.corrLabel.textContent = c.label; }

  updateReadouts() {
    const m = this.values;
    for (const [k, el] of Object.entries(this.readouts)) {
      const v = m[k];
      el.textContent = k === 'correlation' ? fmt(v, 2) : k.endsWith('_lufs') && !(v > -70) ? '–' : fmt(v, 1);
      el.classList.toggle('hot', k === 'true_peak_dbtp' && v > -1);
    }
    const c = clamp(m.correlation ?? 0, -1, 1);
    const fill = this.corrBar.firstChild;
    fill.style.left = c < 0 ? `${50 + c * 50}%` : '50%';
    fill.style.width = `${Math.abs(c) * 50}%`;
    fill.style.background = c < 0 ? '#ff6b8b' : '#5ee38b';
  }

  drawBars() {
    const { ctx, w, h: hgt } = fitCanvas(this.bars);
    if (!w) return;
    ctx.fillStyle = '#0f1216'; ctx.fillRect(0, 0, w, hgt);
    const lo = -40, hi = 0;
    const x = (v) => clamp((v - lo) / (hi - lo), 0, 1) * w;
    const rows = [['M', this.values.momentary_lufs, '#4cc9f0'], ['S', this.values.short_term_lufs, '#b388ff'], ['TP', this.values.true_peak_now_dbtp, '#f5a524']];
    const rh = (hgt - 4) / rows.length;
    rows.forEach(([label, v, color], i) => {
      const y = 2 + i * rh;
      ctx.fillStyle = '#1b2027'; ctx.fillRect(18, y + 1, w - 18, rh - 3);
      if (Number.isFinite(v)) { ctx.fillStyle = color; ctx.fillRect(18, y + 1, Math.max(0, x(v) * (w - 18) / w), rh - 3); }
      ctx.fillStyle = '#8b98a5'; ctx.font = '9px system-ui'; ctx.fillText(label, 1, y + rh / 2 + 3);
    });
    const tx = 18 + ((this.targetLufs - lo) / (hi - lo)) * (w - 18);
    ctx.fillStyle = '#fff'; ctx.fillRect(tx, 0, 1, hgt);
  }

  drawSpectrum() {
    const { ctx, w, h: hgt } = fitCanvas(this.spectrum);
    if (!w) return;
    ctx.fillStyle = '#0f1216'; ctx.fillRect(0, 0, w, hgt);
    const fx = (f) => (Math.log(f / 20) / Math.log(1000)) * w;
    ctx.font = '9px system-ui'; ctx.fillStyle = '#56616c';
    for (const f of [50, 100, 200, 500, 1000, 2000, 5000, 10000]) { const x = fx(f); ctx.fillRect(x, 0, 1, hgt); ctx.fillText(f >= 1000 ? `${f / 1000}k` : f, x + 2, hgt - 2); }
    const range = 48;
    const y = (db) => ((18 - db) / range) * hgt; // +18 dB at the top, -30 dB at the bottom
    const c = this.corridor;
    const centres = c?.centres_hz || Array.from({ length: 30 }, (_, i) => 25 * 2 ** (i / 3));
    // measured, in 1/3-octave bands, as power
    const an = this.engine.analyser;
    an.getFloatFrequencyData(this.freq);
    const sr = this.engine.ctx.sampleRate, binHz = sr / an.fftSize;
    const bands = centres.map((fc) => {
      const lo = fc * 2 ** (-1 / 6), hi = fc * 2 ** (1 / 6);
      let p = 0, n = 0;
      for (let k = Math.max(1, Math.floor(lo / binHz)); k <= Math.ceil(hi / binHz) && k < this.freq.length; k++) { p += 10 ** (this.freq[k] / 10); n++; }
      return n ? 10 * Math.log10(Math.max(p, 1e-20)) : -200;
    });
    // align both curves on the 100 Hz - 5 kHz mean, as the corridor is relative
    const sel = centres.map((f, i) => (f >= 100 && f <= 5000 ? i : -1)).filter((i) => i >= 0);
    const mean = (a) => sel.reduce((s, i) => s + a[i], 0) / sel.length;
    const live = bands.some((b) => b > -150);
    if (c) {
      const t = c.target_db, tol = c.tolerance_db;
      const off = -mean(t);
      ctx.beginPath();
      centres.forEach((f, i) => { const px = fx(f), py = y(t[i] + off + tol[i]); i ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
      for (let i = centres.length - 1; i >= 0; i--) ctx.lineTo(fx(centres[i]), y(t[i] + off - tol[i]));
      ctx.closePath(); ctx.fillStyle = 'rgba(94,227,139,0.12)'; ctx.fill();
      ctx.beginPath(); centres.forEach((f, i) => { const px = fx(f), py = y(t[i] + off); i ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
      ctx.strokeStyle = 'rgba(94,227,139,0.6)'; ctx.setLineDash([3, 3]); ctx.stroke(); ctx.setLineDash([]);
    }
    if (live) {
      const off = -mean(bands);
      if (!this.smooth || this.smooth.length !== bands.length) this.smooth = bands.map((b) => b + off);
      this.smooth = this.smooth.map((s, i) => 0.7 * s + 0.3 * (bands[i] + off));
      const bw = w / centres.length * 0.7;
      centres.forEach((f, i) => {
        const v = this.smooth[i], py = y(v);
        const inside = !c || Math.abs(v - (c.target_db[i] - mean(c.target_db))) <= c.tolerance_db[i];
        ctx.fillStyle = inside ? 'rgba(76,201,240,0.75)' : 'rgba(245,165,36,0.85)';
        ctx.fillRect(fx(f) - bw / 2, py, bw, Math.max(0, hgt - py));
      });
    } else {
      ctx.fillStyle = '#56616c'; ctx.font = '11px system-ui'; ctx.fillText('play to see the spectrum', 10, 16);
    }
  }
}
