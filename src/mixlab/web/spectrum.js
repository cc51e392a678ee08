// Long-term 1/3-octave levels of a whole AudioBuffer (for a reference's corridor): Hann-windowed
// power spectra of up to 400 frames of 8192 samples, averaged, summed per band.

function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len, wr = Math.cos(ang), wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k, b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
        const nr = cr * wr - ci * wi; ci = cr * wi + ci * wr; cr = nr;
      }
    }
  }
}

export function bandLevelsDb(buffer, centres) {
  const N = 8192, sr = buffer.sampleRate;
  const chans = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  const frames = Math.max(1, Math.floor(buffer.length / N));
  const step = Math.max(1, Math.floor(frames / 400));
  const power = new Float64Array(N / 2);
  const win = Float64Array.from({ length: N }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));
  for (let f = 0; f < frames; f += step) {
    for (const x of chans) {
      const re = new Float64Array(N), im = new Float64Array(N);
      for (let i = 0; i < N; i++) re[i] = (x[f * N + i] || 0) * win[i];
      fft(re, im);
      for (let k = 0; k < N / 2; k++) power[k] += re[k] * re[k] + im[k] * im[k];
    }
  }
  const binHz = sr / N;
  return centres.map((fc) => {
    let p = 0;
    for (let k = Math.max(1, Math.floor((fc * 2 ** (-1 / 6)) / binHz)); k <= Math.ceil((fc * 2 ** (1 / 6)) / binHz) && k < N / 2; k++) p += power[k];
    return 10 * Math.log10(Math.max(p, 1e-20));
  });
}
