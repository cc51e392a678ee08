"""Synthesise a short, unmastered example mix (drums, bass, chords, lead) to try mixlab on.

    python examples/make_example_mix.py OUT.wav [--seconds 30] [--sample-rate 44100]

Everything is generated here from a fixed seed: no samples, no downloads.
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.signal
import soundfile as sf


def _env(n: int, sample_rate: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay_s * sample_rate))


def render(seconds: float, sample_rate: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = np.zeros((2, n))
    beat = int(sample_rate * 60 / 120)  # 120 BPM
    # Kick on every beat: a falling sine sweep.
    k = int(0.35 * sample_rate)
    t = np.arange(k) / sample_rate
    kick = np.sin(2 * np.pi * (45 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * _env(k, sample_rate, 0.12)
    # Snare on 2 and 4: band-passed noise with a body tone.
    s = int(0.25 * sample_rate)
    sos = scipy.signal.butter(2, [180, 6000], btype="bandpass", fs=sample_rate, output="sos")
    snare = scipy.signal.sosfilt(sos, rng.standard_normal(s)) * _env(s, sample_rate, 0.06) * 0.8
    snare += 0.4 * np.sin(2 * np.pi * 190 * np.arange(s) / sample_rate) * _env(s, sample_rate, 0.05)
    # Hats on eighths: high-passed noise, panned right.
    h = int(0.06 * sample_rate)
    hat_sos = scipy.signal.butter(4, 7000, btype="highpass", fs=sample_rate, output="sos")
    for start in range(0, n - k, beat):
        out[:, start : start + k] += 0.9 * kick
        if (start // beat) % 2 == 1:
            out[:, start : start + s] += 0.5 * snare
    for start in range(0, n - h, beat // 2):
        hat = scipy.signal.sosfilt(hat_sos, rng.standard_normal(h)) * _env(h, sample_rate, 0.015) * 0.25
        out[0, start : start + h] += 0.6 * hat
        out[1, start : start + h] += hat
    # Bass and chords: A minor, F, C, G, one chord per bar.
    roots = [55.0, 43.65, 65.41, 49.0]
    bar = 4 * beat
    t_bar = np.arange(bar) / sample_rate
    for i, start in enumerate(range(0, n - bar + 1, bar)):
        root = roots[i % 4]
        saw = scipy.signal.sawtooth(2 * np.pi * root * t_bar)
        bass = scipy.signal.sosfilt(scipy.signal.butter(2, 300, fs=sample_rate, output="sos"), saw) * 0.35
        out[:, start : start + bar] += bass
        chord = sum(np.sin(2 * np.pi * root * 4 * r * t_bar) for r in (1.0, 1.189, 1.498))
        swell = np.minimum(1.0, t_bar / 0.3) * 0.08
        out[0, start : start + bar] += chord * swell * 1.1
        out[1, start : start + bar] += chord * swell * 0.9
        # A lead line, slightly left, on the off-beats.
        for j, ratio in enumerate((2.0, 2.378, 2.997, 2.378)):
            a = start + j * beat + beat // 2
            m = min(beat // 2, n - a)
            if m <= 0:
                continue
            tl = np.arange(m) / sample_rate
            note = np.sin(2 * np.pi * root * 4 * ratio * tl) * _env(m, sample_rate, 0.2) * 0.12
            out[0, a : a + m] += note
            out[1, a : a + m] += 0.7 * note
    return (out / np.max(np.abs(out)) * 10 ** (-6 / 20)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sample-rate", type=int, default=44100)
    args = parser.parse_args()
    audio = render(args.seconds, args.sample_rate)
    sf.write(args.output, audio.T, args.sample_rate, subtype="PCM_24")
    print(f"wrote {args.output}: {args.seconds:g} s at {args.sample_rate} Hz")


if __name__ == "__main__":
    main()
