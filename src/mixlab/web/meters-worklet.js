// AudioWorklet on the monitor output: BS.1770-4 loudness (momentary 400 ms, short-term 3 s,
// integrated with the absolute and relative gates), EBU Tech 3342 loudness range from the
// short-term history, true peak (4x oversampled, polyphase FIR), stereo correlation.
// Mirrors analysis/loudness.py: the K-weighting biquads are designed for this context's sample
// rate from the standard's analogue prototype (the values libebur128 fitted), not copied from
// the 48 kHz table.

const SHELF_HZ = 1681.974450955533, SHELF_GAIN_DB = 3.999843853973347, SHELF_Q = 0.7071752369554196;
const SHELF_VB_EXPONENT = 0.4996667741545416, HIGHPASS_HZ = 38.13547087602444, HIGHPASS_Q = 0.5003270373238773;
const ABSOLUTE_GATE_LUFS = -70, RELATIVE_GATE_LU = -10, LRA_RELATIVE_GATE_LU = -20;
const OFFSET_DB = -0.691; // BS.1770-4 eq. 2
const OVERSAMPLE = 4, TAPS_PER_PHASE = 12;

function kWeighting(fs) {
  let k = Math.tan((Math.PI * SHELF_HZ) / fs);
  const vh = 10 ** (SHELF_GAIN_DB / 20), vb = vh ** SHELF_VB_EXPONENT;
  let a0 = 1 + k / SHELF_Q + k * k;
  const shelf = [(vh + (vb * k) / SHELF_Q + k * k) / a0, (2 * (k * k - vh)) / a0, (vh - (vb * k) / SHELF_Q + k * k) / a0,
    (2 * (k * k - 1)) / a0, (1 - k / SHELF_Q + k * k) / a0];
  k = Math.tan((Math.PI * HIGHPASS_HZ) / fs);
  a0 = 1 + k / HIGHPASS_Q + k * k;
  const hp = [1, -2, 1, (2 * (k * k - 1)) / a0, (1 - k / HIGHPASS_Q + k * k) / a0]; // BS.1770-4 Table 2 numerator
  return [shelf, hp];
}

function besselI0(x) { let s = 1, t = 1; for (let k = 1; k < 30; k++) { t *= (x / (2 * k)) ** 2; s += t; } return s; }

/** Interpolation FIR for 4x oversampling (Kaiser-windowed sinc), split into polyphase branches. */
function polyphase() {
  const n = OVERSAMPLE * TAPS_PER_PHASE, beta = 8, mid = (n - 1) / 2;
  const h = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = (i - mid) / OVERSAMPLE;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    const r = (i - mid) / mid;
    h[i] = sinc * besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / besselI0(beta);
  }
  const phases = [];
  for (let p = 0; p < OVERSAMPLE; p++) {
    const taps = new Float64Array(TAPS_PER_PHASE);
    let sum = 0;
    for (let k = 0; k < TAPS_PER_PHASE; k++) { taps[k] = h[p + OVERSAMPLE * k]; sum += taps[k]; }
    for (let k = 0; k < TAPS_PER_PHASE; k++) taps[k] /= sum; // unity DC gain per branch
    phases.push(taps);
  }
  return phases;
}

const lufs = (e) => (e > 0 ? OFFSET_DB + 10 * Math.log10(e) : -Infinity);
const energyOf = (l) => 10 ** ((l - OFFSET_DB) / 10);

class MetersProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.sos = kWeighting(sampleRate);
    this.phases = polyphase();
    this.hopLen = Math.round(sampleRate / 10);
    this.port.onmessage = (e) => { if (e.data?.type === 'reset') this.reset(); };
    this.reset();
  }

  reset() {
    this.z = [0, 1].map(() => [new Float64Array(2), new Float64Array(2)]);
    this.hist = [0, 1].map(() => new Float64Array(TAPS_PER_PHASE));
    this.histPos = 0;
    this.hopSum = 0; this.hopCount = 0;
    this.hops = [];            // energy (sum over channels of mean squares) of each 100 ms hop
    this.blocks = [];          // 400 ms block energies (75 % overlap), for the integrated loudness
    this.shortTerms = [];      // 3 s energies every hop, for the LRA
    this.truePeak = 0; this.truePeakHop = 0; this.samplePeak = 0;
    this.corr = { lr: 0, ll: 0, rr: 0 };
    this.integrated = -Infinity; this.lra = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const L = input[0], R = input[1] || input[0];
    const n = L.length;
    const [sh, hp] = this.sos;
    const decay = Math.exp(-1 / (0.3 * sampleRate)); // correlation over ~300 ms
    for (let i = 0; i < n; i++) {
      let e = 0;
      const xs = [L[i], R[i]];
      for (let c = 0; c < 2; c++) {
        const x = xs[c];
        // K-weighting: two biquads, direct form II transposed
        const z1 = this.z[c][0], z2 = this.z[c][1];
        const y1 = sh[0] * x + z1[0]; z1[0] = sh[1] * x - sh[3] * y1 + z1[1]; z1[1] = sh[2] * x - sh[4] * y1;
        const y2 = hp[0] * y1 + z2[0]; z2[0] = hp[1] * y1 - hp[3] * y2 + z2[1]; z2[1] = hp[2] * y1 - hp[4] * y2;
        e += y2 * y2;
        // true peak: 4 interpolated points per sample
        const hst = this.hist[c];
        hst[this.histPos] = x;
        const ax = Math.abs(x);
        if (ax > this.samplePeak) this.samplePeak = ax;
        for (let p = 0; p < OVERSAMPLE; p++) {
          const taps = this.phases[p];
          let acc = 0, idx = this.histPos;
          for (let k = 0; k < TAPS_PER_PHASE; k++) { acc += taps[k] * hst[idx]; idx = idx === 0 ? TAPS_PER_PHASE - 1 : idx - 1; }
          const a = Math.abs(acc);
          if (a > this.truePeakHop) this.truePeakHop = a;
        }
      }
      this.histPos = (this.histPos + 1) % TAPS_PER_PHASE;
      this.hopSum += e; this.hopCount++;
      const c = this.corr;
      c.lr = c.lr * decay + L[i] * R[i]; c.ll = c.ll * decay + L[i] * L[i]; c.rr = c.rr * decay + R[i] * R[i];
      if (this.hopCount >= this.hopLen) this.endHop();
    }
    return true;
  }

  endHop() {
    this.hops.push(this.hopSum / this.hopCount);
    this.hopSum = 0; this.hopCount = 0;
    if (this.hops.length > 30) this.hops.shift();
    const mean = (k) => { const h = this.hops.slice(-k); return h.reduce((a, b) => a + b, 0) / h.length; };
    const momentary = this.hops.length >= 4 ? mean(4) : 0;
    const shortTerm = this.hops.length >= 30 ? mean(30) : 0;
    if (this.hops.length >= 4) this.blocks.push(momentary);
    if (this.hops.length >= 30) this.shortTerms.push(shortTerm);
    if (this.truePeakHop > this.truePeak) this.truePeak = this.truePeakHop;
    this.hopIndex = (this.hopIndex || 0) + 1;
    if (this.hopIndex % 5 === 0) this.gate();
    const c = this.corr;
    const corr = c.ll > 1e-9 && c.rr > 1e-9 ? c.lr / Math.sqrt(c.ll * c.rr) : null;
    this.port.postMessage({
      momentary_lufs: lufs(momentary), short_term_lufs: lufs(shortTerm), integrated_lufs: this.integrated, lra_lu: Number.isFinite(this.integrated) ? this.lra : null,
      true_peak_dbtp: 20 * Math.log10(Math.max(this.truePeak, 1e-10)), true_peak_now_dbtp: 20 * Math.log10(Math.max(this.truePeakHop, 1e-10)),
      sample_peak_dbfs: 20 * Math.log10(Math.max(this.samplePeak, 1e-10)), correlation: corr,
    });
    this.truePeakHop = 0;
  }

  gate() {
    // BS.1770-4 eq. 3-7: absolute gate at -70 LUFS, relative gate 10 LU under the gated mean
    const absE = energyOf(ABSOLUTE_GATE_LUFS);
    const above = this.blocks.filter((e) => e > absE);
    if (above.length) {
      const rel = energyOf(lufs(above.reduce((a, b) => a + b, 0) / above.length) + RELATIVE_GATE_LU);
      const gated = above.filter((e) => e > rel);
      this.integrated = gated.length ? lufs(gated.reduce((a, b) => a + b, 0) / gated.length) : -Infinity;
    }
    // EBU Tech 3342: short-term values, absolute gate, relative gate -20 LU, 10th to 95th percentile
    const st = this.shortTerms.filter((e) => e > absE);
    if (st.length) {
      const g = energyOf(lufs(st.reduce((a, b) => a + b, 0) / st.length) + LRA_RELATIVE_GATE_LU);
      const v = st.filter((e) => e > g).map(lufs).sort((a, b) => a - b);
      if (v.length) this.lra = v[Math.floor((v.length - 1) * 0.95 + 0.5)] - v[Math.floor((v.length - 1) * 0.1 + 0.5)];
    }
  }
}

registerProcessor('mixlab-meters', MetersProcessor);
