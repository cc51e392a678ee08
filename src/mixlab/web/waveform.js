// Waveforms from the server's peaks, and the timeline ruler (seek, loop, note ranges).

import { h, fitCanvas, mmss, clamp } from './ui.js';

/** Draw [min, max] pairs per channel into a lane canvas. */
export function drawPeaks(canvas, peaks, { color = '#4cc9f0', muted = false, highlight = false, gainLin = 1 } = {}) {
  const { ctx, w, h: hgt } = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, hgt);
  if (highlight) { ctx.fillStyle = 'rgba(245,165,36,0.10)'; ctx.fillRect(0, 0, w, hgt); }
  if (!peaks || !peaks.channels?.length) {
    ctx.fillStyle = '#39424d'; ctx.font = '11px system-ui'; ctx.fillText('preparing waveform…', 8, hgt / 2 + 4);
    return;
  }
  const chans = peaks.channels;
  const laneH = hgt / chans.length;
  ctx.fillStyle = muted ? '#3a434d' : color;
  chans.forEach((pairs, c) => {
    const mid = laneH * c + laneH / 2;
    const n = pairs.length;
    for (let x = 0; x < w; x++) {
      const a = Math.floor((x / w) * n), b = Math.max(a + 1, Math.floor(((x + 1) / w) * n));
      let lo = 0, hi = 0;
      for (let i = a; i < b && i < n; i++) { if (pairs[i][0] < lo) lo = pairs[i][0]; if (pairs[i][1] > hi) hi = pairs[i][1]; }
      lo = clamp(lo * gainLin, -1, 1); hi = clamp(hi * gainLin, -1, 1);
      const y0 = mid - hi * (laneH / 2 - 1), y1 = mid - lo * (laneH / 2 - 1);
      ctx.fillRect(x, y0, 1, Math.max(1, y1 - y0));
    }
    if (chans.length > 1 && c === 0) { ctx.fillStyle = '#1a1f25'; ctx.fillRect(0, laneH - 0.5, w, 1); ctx.fillStyle = muted ? '#3a434d' : color; }
  });
}

/**
 * The ruler above the lanes: time ticks, the loop region (drag to set, click to seek), note ranges.
 * onSeek(seconds), onLoop(start, end).
 */
export class Timeline {
  constructor({ onSeek, onLoop }) {
    this.duration = 0;
    this.loop = { on: false, start: 0, end: 0 };
    this.marks = [];
    this.canvas = h('canvas.ruler', { title: 'Click to seek, drag to set a loop' });
    this.el = this.canvas;
    let down = null;
    const t = (e) => { const r = this.canvas.getBoundingClientRect(); return clamp(((e.clientX - r.left) / r.width) * this.duration, 0, this.duration); };
    this.canvas.addEventListener('pointerdown', (e) => { down = { t: t(e), x: e.clientX }; this.canvas.setPointerCapture(e.pointerId); });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!down || Math.abs(e.clientX - down.x) < 4) return;
      this.loop = { on: true, start: Math.min(down.t, t(e)), end: Math.max(down.t, t(e)) };
      this.draw();
    });
    this.canvas.addEventListener('pointerup', (e) => {
      if (!down) return;
      if (Math.abs(e.clientX - down.x) < 4) onSeek?.(down.t);
      else onLoop?.(Math.min(down.t, t(e)), Math.max(down.t, t(e)));
      down = null;
    });
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  set({ duration, loop, marks }) {
    if (duration !== undefined) this.duration = duration;
    if (loop) this.loop = { ...loop };
    if (marks) this.marks = marks;
    this.draw();
  }

  draw() {
    const { ctx, w, h: hgt } = fitCanvas(this.canvas);
    if (!w) return;
    ctx.fillStyle = '#14181d'; ctx.fillRect(0, 0, w, hgt);
    const d = this.duration || 1;
    for (const m of this.marks) {
      ctx.fillStyle = m.color || 'rgba(255,107,139,0.55)';
      ctx.fillRect((m.start / d) * w, hgt - 6, Math.max(2, ((m.end - m.start) / d) * w), 6);
    }
    if (this.loop.end > this.loop.start) {
      ctx.fillStyle = this.loop.on ? 'rgba(94,227,139,0.22)' : 'rgba(120,130,140,0.15)';
      const x0 = (this.loop.start / d) * w, x1 = (this.loop.end / d) * w;
      ctx.fillRect(x0, 0, x1 - x0, hgt);
      ctx.fillStyle = this.loop.on ? '#5ee38b' : '#66707a';
      ctx.fillRect(x0, 0, 1, hgt); ctx.fillRect(x1 - 1, 0, 1, hgt);
    }
    const step = [1, 2, 5, 10, 15, 30, 60, 120].find((s) => (s / d) * w > 55) || 300;
    ctx.fillStyle = '#6b7682'; ctx.font = '10px system-ui, sans-serif';
    for (let s = 0; s <= d; s += step) {
      const x = Math.round((s / d) * w) + 0.5;
      ctx.fillRect(x, hgt - 9, 1, 9);
      ctx.fillText(mmss(s), x + 3, 11);
    }
  }
}
