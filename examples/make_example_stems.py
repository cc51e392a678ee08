"""Synthesise a small multitrack session (120 BPM): kick, snare, hats, bass, pad and a voice-like lead.

    python examples/make_example_stems.py OUT_DIR [--seconds 30] [--sample-rate 44100] [--zip]

Every stem is generated here from a fixed seed: no samples, no downloads. The tests use the same
generator (tests/fixtures/multitrack.py).
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

BPM = 120.0


def _env(n: int, sr: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay_s * sr))


def _hits(total: int, sr: int, times_s: list[float], hit: np.ndarray) -> np.ndarray:
    out = np.zeros(total)
    for t in times_s:
        start = int(round(t * sr))
        stop = min(total, start + len(hit))
        if start < total:
            out[start:stop] += hit[: stop - start]
    return out


def kick(sr: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(0.4 * sr)
    t = np.arange(n) / sr
    freq = 50.0 + 70.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * _env(n, sr, 0.12)
    click = rng.standard_normal(n) * _env(n, sr, 0.003) * 0.3
    beat = 60.0 / BPM
    return 0.8 * _hits(int(duration_s * sr), sr, list(np.arange(0, duration_s, beat)), body + click)[np.newaxis]


def snare(sr: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sr)
    noise = scipy.signal.sosfilt(scipy.signal.butter(2, [300, 6000], "bandpass", fs=sr, output="sos"), rng.standard_normal(n))
    body = np.sin(2 * np.pi * 190.0 * np.arange(n) / sr)
    hit = (0.6 * noise * _env(n, sr, 0.06) + 0.5 * body * _env(n, sr, 0.05))
    beat = 60.0 / BPM
    return 0.7 * _hits(int(duration_s * sr), sr, list(np.arange(beat, duration_s, 2 * beat)), hit)[np.newaxis]


def hats(sr: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(0.08 * sr)
    noise = scipy.signal.sosfilt(scipy.signal.butter(4, 7000, "highpass", fs=sr, output="sos"), rng.standard_normal(n))
    hit = noise * _env(n, sr, 0.015)
    eighth = 30.0 / BPM
    return 0.5 * _hits(int(duration_s * sr), sr, list(np.arange(0, duration_s, eighth)), hit)[np.newaxis]


def bass(sr: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    total = int(duration_s * sr)
    notes = [55.0, 55.0, 73.42, 65.41]
    bar = 4 * 60.0 / BPM
    out = np.zeros(total)
    for k, start in enumerate(np.arange(0, duration_s, bar / 2)):
        f = notes[k % len(notes)]
        a, b = int(start * sr), min(total, int((start + bar / 2) * sr))
        t = np.arange(b - a) / sr
        tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3, 4))
        out[a:b] = tone * np.minimum(1.0, t / 0.005) * np.minimum(1.0, (t[-1] - t) / 0.01 + 1e-3)
    return 0.4 * out[np.newaxis]


def pad(sr: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    total = int(duration_s * sr)
    t = np.arange(total) / sr
    chans = []
    for detune in (0.997, 1.003):
        x = sum(scipy.signal.sawtooth(2 * np.pi * f * detune * t + rng.uniform(0, 6)) for f in (220.0, 277.18, 329.63, 440.0))
        x = scipy.signal.sosfilt(scipy.signal.butter(2, 2500, fs=sr, output="sos"), x)
        chans.append(x * np.minimum(1.0, t / 0.8))
    return 0.08 * np.stack(chans)


def vocal(sr: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    total = int(duration_s * sr)
    t = np.arange(total) / sr
    f0 = 220.0 * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t)) * np.where((t % 2.0) < 1.0, 1.0, 1.25)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(h * phase) / h for h in range(1, 12))
    formant = scipy.signal.sosfilt(scipy.signal.butter(2, [500, 3000], "bandpass", fs=sr, output="sos"), voiced)
    phrase = np.where((t % 1.0) < 0.8, 1.0, 0.0)
    phrase = np.convolve(phrase, np.ones(441) / 441, mode="same")
    sib = scipy.signal.sosfilt(scipy.signal.butter(4, 6000, "highpass", fs=sr, output="sos"), rng.standard_normal(total))
    sib *= np.where((t % 1.0) > 0.8, 0.3, 0.0)
    return 0.5 * (formant * phrase + sib)[np.newaxis]


INSTRUMENTS = {
    "Kick": kick, "Snare": snare, "HiHat": hats, "Bass": bass, "Pad": pad, "Vox Lead": vocal,
}


def render_parts(sr: int = 44100, duration_s: float = 6.0, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: make(sr, duration_s, rng).astype(np.float32) for name, make in INSTRUMENTS.items()}


def write_session(folder: Path, *, sr: int = 44100, duration_s: float = 6.0, gains_db: dict[str, float] | None = None,
                  seed: int = 0, subtype: str = "FLOAT") -> dict[str, Path]:
    """Write each part as ``<name>.wav`` into ``folder``; ``gains_db`` scales parts (a perturbation)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, audio in render_parts(sr, duration_s, seed).items():
        g = 10.0 ** ((gains_db or {}).get(name, 0.0) / 20.0)
        path = folder / f"{name}.wav"
        sf.write(path, (audio * g).T, sr, subtype=subtype)
        paths[name] = path
    return paths


def write_many(folder: Path, count: int, *, sr: int = 44100, duration_s: float = 30.0, seed: int = 0,
               subtype: str = "PCM_24", max_cut_db: float = 6.0) -> list[Path]:
    """``count`` stems for a bigger session: the parts in turn, ``<name>.wav`` in the first round, then
    ``<name> 2.wav``, ``<name> 3.wav``...; round k renders the parts from ``seed + k`` and turns each
    stem after the first round down by a seeded 0 to ``max_cut_db`` dB. Rounds are rendered one at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1000)
    paths: list[Path] = []
    for k in range(-(-count // len(INSTRUMENTS))):
        for name, audio in render_parts(sr, duration_s, seed + k).items():
            if len(paths) == count:
                break
            g = 1.0 if k == 0 else 10.0 ** (-rng.uniform(0.0, max_cut_db) / 20.0)
            path = folder / (f"{name}.wav" if k == 0 else f"{name} {k + 1}.wav")
            sf.write(path, (audio * np.float32(g)).T, sr, subtype=subtype)
            paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--zip", action="store_true", help="also pack the stems into OUT_DIR.zip")
    args = parser.parse_args()
    paths = write_session(Path(args.out_dir), sr=args.sample_rate, duration_s=args.seconds, subtype="PCM_24")
    if args.zip:
        with zipfile.ZipFile(Path(args.out_dir).with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as z:
            for p in paths.values():
                z.write(p, p.name)
    print(f"{len(paths)} stems in {args.out_dir}")


if __name__ == "__main__":
    main()
