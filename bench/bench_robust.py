"""Benchmark "the AI mix never fails a user" (issue 13): generated sessions of every kind of stem
through the same code path as ``mixlab mix`` (analysis, decisions, render, Mix Notes), counting
failures with their tracebacks.

Usage (from the repository root)::

    .venv/bin/python bench/bench_robust.py [--sessions N] [--seed S] [--long N] [--wide N] [--keep]

Each session is drawn from a seeded generator: 1 to 64 stems, 1 s to 10 min, 44.1 or 48 kHz
(a stem at the other rate now and then, so the session resamples it), mono or stereo, written
as 16-bit, 24-bit or float WAV, each stem one of these kinds:

    silent, dc (a constant offset and nothing else), noise_full (full-scale white noise), sine
    (one sine, any level), dark (harmonics of a low note up to 3 kHz: a dark voice), bright
    (noise above 6 kHz), drums (decaying hits on a beat), chords (a few notes held and
    changed), voice (harmonics with sibilant bursts), sparse (a short burst in silence)

and named like a stem a user would bring ("Kick", "Lead Vox", "Gtr L", "Synth 3", ...), so both
role sources (the name, the audio) are exercised. Most sessions are short (1-12 s, 1-8 stems);
``--long`` of them run 10 minutes and ``--wide`` of them have 64 stems.

A session *fails* when ``mixlab.engine.mixing.mix`` raises anything, when the plan holds a value
its schema refuses, when the mix has non-finite samples or clips, or when a note's fix holds a
value the schema refuses. A session whose every stem is silent must be refused with the clear
error ``mix.all_silent`` (that is the right answer, not a failure); so must one whose stems hold
only DC or a faint blip (60 dB down for a tenth of a second). Results: a summary on
stdout and ``bench/out/robust.json`` with every failure's traceback.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

KINDS = ("silent", "dc", "noise_full", "sine", "dark", "bright", "drums", "chords", "voice", "sparse")
NAMES = ("Kick", "Snare", "HiHat", "Tom 2", "Overheads", "Bass", "Bass DI", "Lead Vox", "Vox Lead", "BV 1",
         "Gtr L", "Gtr R", "Keys", "Piano", "Pad", "Strings", "Brass", "Synth 3", "Lead Synth", "FX",
         "Audio 07", "track", "Noise", "Shaker", "Vox \"Lead\"")
RATES = (44100, 48000)
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")


@dataclass
class StemSpec:
    name: str
    kind: str
    sample_rate: int
    num_channels: int
    level_db: float
    subtype: str


@dataclass
class SessionSpec:
    index: int
    seed: int
    duration_s: float
    stems: list[StemSpec] = field(default_factory=list)


def draw_session(rng: np.random.Generator, index: int, *, num_stems: int | None = None,
                 duration_s: float | None = None, kinds: tuple[str, ...] = KINDS) -> SessionSpec:
    """One session's specification (nothing written)."""
    seed = int(rng.integers(2**31))
    if duration_s is None:
        duration_s = float(rng.choice([1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]))
    if num_stems is None:
        num_stems = int(rng.choice([1, 2, 2, 3, 4, 5, 6, 8]))
    rate = int(rng.choice(RATES))
    spec = SessionSpec(index=index, seed=seed, duration_s=duration_s)
    used: set[str] = set()
    for k in range(num_stems):
        name = str(rng.choice(NAMES))
        if name in used:
            name = f"{name} {k + 1}"
        used.add(name)
        stem_rate = rate if rng.random() > 0.1 else int(rng.choice(RATES))
        spec.stems.append(StemSpec(
            name=name, kind=str(rng.choice(kinds)), sample_rate=stem_rate, num_channels=int(rng.choice([1, 2])),
            level_db=float(rng.choice([-60.0, -40.0, -24.0, -12.0, -6.0, 0.0])), subtype=str(rng.choice(SUBTYPES)),
        ))
    return spec


def _harmonics(t: np.ndarray, f0: float, top_hz: float) -> np.ndarray:
    return sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, int(top_hz // f0) + 1))


def render_stem(stem: StemSpec, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """The stem's samples, ``(num_samples, channels)`` float64, peak about ``level_db`` (full
    scale for ``noise_full``)."""
    sr = stem.sample_rate
    n = max(1, int(round(duration_s * sr)))
    t = np.arange(n) / sr
    kind = stem.kind
    if kind == "silent":
        x = np.zeros(n)
    elif kind == "dc":
        x = np.full(n, 0.5)
    elif kind == "noise_full":
        x = np.clip(rng.standard_normal(n) / 3.0, -1.0, 1.0)
    elif kind == "sine":
        x = np.sin(2 * np.pi * float(rng.choice([30.0, 55.0, 440.0, 1000.0, 5000.0, 15000.0])) * t)
    elif kind == "dark":
        x = _harmonics(t, float(rng.choice([110.0, 220.0])), 3000.0)
    elif kind == "bright":
        spec = np.fft.rfft(rng.standard_normal(n))
        spec[np.fft.rfftfreq(n, 1 / sr) < 6000.0] = 0.0
        x = np.fft.irfft(spec, n)
    elif kind == "drums":
        x = np.zeros(n)
        period = int(sr * float(rng.choice([0.25, 0.5, 0.6])))
        hit_t = np.arange(min(int(0.3 * sr), n)) / sr
        hit = np.sin(2 * np.pi * float(rng.choice([55.0, 190.0])) * hit_t) * np.exp(-hit_t * 18.0)
        hit = hit + 0.3 * rng.standard_normal(hit.size) * np.exp(-hit_t * 60.0)
        for start in range(0, n, max(period, 1)):
            k = min(hit.size, n - start)
            x[start:start + k] += hit[:k]
    elif kind == "chords":
        x = np.zeros(n)
        step = max(1, int(sr * 1.0))
        for start in range(0, n, step):
            notes = 110.0 * 2 ** (rng.integers(0, 24, size=3) / 12)
            seg = t[start:start + step] - t[start]
            x[start:start + step] = sum(np.sin(2 * np.pi * f * seg) for f in notes) * np.exp(-seg * 1.5)
    elif kind == "voice":
        x = _harmonics(t, 180.0, 4000.0)
        spec = np.fft.rfft(rng.standard_normal(n))
        spec[np.fft.rfftfreq(n, 1 / sr) < 5000.0] = 0.0
        s = np.fft.irfft(spec, n)
        x = x / (np.max(np.abs(x)) + 1e-12) + 0.3 * s / (np.max(np.abs(s)) + 1e-12) * ((t % 1.0) < 0.1)
    elif kind == "sparse":
        x = np.zeros(n)
        a = int(rng.integers(0, max(1, n - sr // 10)))
        x[a:a + sr // 10] = rng.standard_normal(min(sr // 10, n - a))
    else:
        raise ValueError(kind)
    peak = float(np.max(np.abs(x))) if n else 0.0
    if kind not in ("silent", "noise_full") and peak > 0:
        x = x / peak * 10 ** (stem.level_db / 20.0) * 0.999
    if stem.num_channels == 2:
        other = np.roll(x, int(rng.integers(0, 64))) if kind not in ("silent", "dc") else x
        return np.stack([x, other], axis=1)
    return x[:, np.newaxis]


def write_session(spec: SessionSpec, folder: Path) -> Path:
    """Write the session's stems as WAV files into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    for stem in spec.stems:
        x = render_stem(stem, spec.duration_s, rng)
        sf.write(folder / f"{stem.name}.wav", x.astype(np.float32), stem.sample_rate, subtype=stem.subtype)
    return folder


def _inaudible(stem: StemSpec) -> bool:
    """A stem with no audio in it: silence, a constant offset, or a tenth of a second 60 dB down."""
    return stem.kind in ("silent", "dc") or (stem.kind == "sparse" and stem.level_db <= -60.0)


def run_session(spec: SessionSpec, work: Path) -> dict:
    """``mixlab mix`` on the session, in process, and every check; the outcome as a dict."""
    from mixlab.engine.mixing import mix
    from mixlab.engine.params import check_plan, check_value
    from mixlab.errors import MixlabError

    folder = write_session(spec, work / f"s{spec.index}")
    all_silent = all(_inaudible(s) for s in spec.stems)
    out = {"index": spec.index, "stems": len(spec.stems), "duration_s": spec.duration_s,
           "kinds": sorted({s.kind for s in spec.stems}), "ok": False, "refused": None, "error": None}
    t0 = time.perf_counter()
    try:
        result = mix(folder, work / f"s{spec.index}-mix.wav", use_cache=False)
        check_plan(result.plan)
        data, _ = sf.read(result.output, dtype="float32", always_2d=True)
        problems = []
        if not np.isfinite(data).all():
            problems.append("non-finite samples in the mix")
        if result.measured["clipped_samples"]:
            problems.append(f"{result.measured['clipped_samples']} clipped samples in the mix")
        for surface in ("cli", "web"):
            for note in result.notes_session.evaluate(result.plan, surface=surface):
                if note.fix.get("kind") == "patch":
                    for c in note.fix["changes"]:
                        check_value(c["section"], c["param"], c["value"])
                elif surface == "web" and "mixlab " in note.fix.get("text", ""):
                    problems.append(f"web advice names a command: {note.fix['text']}")
        if problems:
            out["error"] = "; ".join(problems)
        else:
            out["ok"] = True
        out["notes"] = result.notes["counts"]
    except MixlabError as e:
        if all_silent and getattr(e, "code", None) == "mix.all_silent":
            out["ok"], out["refused"] = True, e.code
        else:
            out["error"] = f"{type(e).__name__} ({getattr(e, 'code', '')}): {e}"
            out["traceback"] = traceback.format_exc()
    except Exception as e:  # noqa: BLE001 - every failure is recorded
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for p in work.glob(f"s{spec.index}-mix*"):
            p.unlink(missing_ok=True)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def sessions(count: int, seed: int, *, long: int, wide: int) -> list[SessionSpec]:
    """``count`` sessions: ``long`` of them 10 minutes, ``wide`` of them 64 stems, the rest short;
    the first few cover every kind alone, and 1 s and 64-stem edges."""
    rng = np.random.default_rng(seed)
    out: list[SessionSpec] = []
    for kind in KINDS:  # each kind alone, mono and stereo, at the shortest length
        spec = draw_session(rng, len(out), num_stems=2, duration_s=1.0, kinds=(kind,))
        out.append(spec)
    for _ in range(long):
        out.append(draw_session(rng, len(out), num_stems=int(rng.integers(2, 6)), duration_s=600.0))
    for _ in range(wide):
        out.append(draw_session(rng, len(out), num_stems=64, duration_s=float(rng.choice([1.0, 4.0, 8.0]))))
    while len(out) < count:
        out.append(draw_session(rng, len(out)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=220)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--long", type=int, default=3, help="sessions of 10 minutes")
    ap.add_argument("--wide", type=int, default=3, help="sessions of 64 stems")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out" / "robust.json"))
    args = ap.parse_args(argv)
    specs = sessions(args.sessions, args.seed, long=args.long, wide=args.wide)
    work = Path(tempfile.mkdtemp(prefix="mixlab-robust-"))
    t0 = time.perf_counter()
    results = []
    try:
        for spec in specs:
            r = run_session(spec, work)
            results.append(r)
            status = "ok" if r["ok"] else "FAIL"
            print(f"[{spec.index:3d}] {status:4s} {r['stems']:2d} stems {r['duration_s']:6.1f} s {r['seconds']:6.1f} s "
                  f"{','.join(r['kinds'])}" + (f"  {r['error']}" if r["error"] else ""), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.perf_counter() - t0
    failures = [r for r in results if not r["ok"]]
    summary = {"sessions": len(results), "failures": len(failures), "refused_all_silent":
               sum(1 for r in results if r["refused"]), "wall_s": round(wall, 1), "seed": args.seed,
               "stems": sum(r["stems"] for r in results),
               "longest_s": max(r["duration_s"] for r in results), "most_stems": max(r["stems"] for r in results)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "results": results,
                                          "specs": [asdict(s) for s in specs]}, indent=1))
    print(json.dumps(summary))
    for r in failures:
        print(f"--- session {r['index']}: {r['error']}\n{r.get('traceback', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
