"""Benchmark ``mixlab mix``: restore a creator's balance from randomly mis-levelled stems.

Usage (from the repository root, after ``bench/render_stems.py``)::

    .venv/bin/python bench/bench_mix.py [--songs ID ...] [--skip mixlab|songs|speed] [--snapshot [REV]]
    .venv/bin/python bench/bench_mix.py --self-test     # checks the metric code on synthetic stems

Per song (stems in ``bench/songs/stems/<id>/``, which sum to the creator's mix ``mix.wav``):

1. every stem gets a seeded random gain, uniform in +-10 dB (the seed is printed and stored), and is
   written to ``bench/out/mix/<id>/perturbed/`` under its own file name (32-bit float);
2. ``mixlab mix perturbed/ -o ours.wav --stems-out ours_stems/ --plan-out plan.json --genre G``
   runs in a child process (wall time; peak RSS from ``wait4``);
3. the mix is compared with the creator's, next to two baselines made in the same run: the
   perturbed stems summed as they are, and every stem normalised to the same loudness and summed.

Metrics (all measured here with ``benchlib``'s meters, nothing taken from mixlab's report):

* balance error per stem: d_i = L(stem i as it is in the mix) - L(stem i in the creator's mix),
  error_i = d_i - mean_j d_j (BS.1770 integrated loudness); median and max of |error_i|. For mixlab,
  stem i is its exported processed stem (after gain/EQ/compression/pan, before shared buses).
  Stems quieter than -70 LUFS in the creator's mix are left out;
* spectral difference: RMS over the 27 third-octave bands (40 Hz - 16 kHz) of the difference of
  the two mixes' loudness-normalised spectra, as for mastering (``benchlib.tonal_match_error_db``);
* for mixlab also: the mix's loudness, true peak (the brief: between -8 and -3 dBTP), sample peak
  and clipped samples, length, wall time and peak memory.

Speed: 16 and 64 stems of 3 minutes each, cut from the real stems (cycling through songs and
tracks, seeded gains, one in three folded to mono, 24-bit), are mixed once each (``--repeats``);
the brief asks for 16 x 3 min in at most 15 s and 64 x 3 min in at most 2 GB peak memory.

Results: a table on stdout, ``bench/out/mix/results.json`` and a timestamped copy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

STEMS_DIR = bl.SONGS_DIR / "stems"
OUT_DIR = bl.OUT_DIR / "mix"
PERTURB_DB = 10.0
EQUAL_LOUDNESS_LUFS = -23.0      # per stem in the equal-loudness baseline (any value: errors are relative)
STEM_FLOOR_LUFS = -70.0          # BS.1770 absolute gate: quieter stems are left out
MIX_TP_RANGE_DBTP = (-8.0, -3.0)  # the issue: the mix's true peak, headroom left for mastering
SPEED_DURATION_S = 180.0
SPEED_SETS = (16, 64)
SPEED_MAX_WALL_S = {16: 15.0}
SPEED_MAX_RSS_MB = {64: 2048.0}
SUBPROCESS_TIMEOUT_S = 3600

# Genres from the list mixlab offers, our reading of each song (see bench/README.md).
GENRE = {
    "mauiwowi": "hip-hop",          # reggae: no reggae profile; bass- and drum-forward like hip-hop
    "dear-jon-doe": "hip-hop",
    "twilight-area": "drum-and-bass",
    "zero-sum-game": "electronic",  # dubstep
    "axe-from-the-80s": "rock",
    "cpu": "electronic",
}
DEFAULT_GENRE = "balanced"


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- metrics
def stem_block_powers(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """BS.1770 block powers; a mono stem counts as if on both channels of a stereo mix."""
    if audio.shape[0] == 1:
        audio = np.concatenate([audio, audio])
    return bl.bs1770_block_powers(audio, sample_rate)


def stem_loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """BS.1770 integrated loudness; a mono stem counts as if on both channels of a stereo mix."""
    return bl.loudness_from_block_powers(stem_block_powers(audio, sample_rate))


def balance_errors(creator_lufs: dict[str, float], mix_lufs: dict[str, float | None]) -> dict:
    """Per-stem balance error against the creator's mix.

    d_i = mix_lufs[i] - creator_lufs[i]; error_i = d_i - mean_j(d_j) over the stems that count:
    creator loudness finite and at least ``STEM_FLOOR_LUFS``. A stem missing from ``mix_lufs``
    (None) is left out and counted; one that is silent (or below the floor) in the mix is counted
    at the floor, so muting a stem shows up as a large error.
    """
    d: dict[str, float] = {}
    missing, silenced = [], []
    for name, lc in creator_lufs.items():
        if not math.isfinite(lc) or lc < STEM_FLOOR_LUFS:
            continue
        lm = mix_lufs.get(name)
        if lm is None:
            missing.append(name)
            continue
        if not math.isfinite(lm) or lm < STEM_FLOOR_LUFS:
            silenced.append(name)
            lm = STEM_FLOOR_LUFS
        d[name] = lm - lc
    if not d:
        return dict(n=0, missing=missing, silenced=silenced, errors_db={}, median_abs_db=None, max_abs_db=None)
    mean_d = statistics.fmean(d.values())
    err = {k: v - mean_d for k, v in d.items()}
    a = [abs(v) for v in err.values()]
    return dict(n=len(err), missing=missing, silenced=silenced, mean_offset_db=mean_d, errors_db=err,
                median_abs_db=statistics.median(a), max_abs_db=max(a))


def mix_measures(audio: np.ndarray, sample_rate: int, creator: dict, *, full: bool) -> dict:
    """Loudness, spectral difference to the creator's mix and, with ``full``, peaks and clipping."""
    lufs = bl.bs1770_loudness(audio, sample_rate)
    bands = bl.third_octave_levels_db(audio, sample_rate)
    m = dict(integrated_lufs=lufs,
             spectral_diff_db=bl.tonal_match_error_db(bands, lufs, creator["bands_db"], creator["integrated_lufs"]),
             sample_peak_dbfs=bl.sample_peak_dbfs(audio), clipped_samples=bl.clipped_samples(audio))
    if full:
        m["true_peak_dbtp"] = bl.true_peak_dbtp(audio, sample_rate)
    return m


# --------------------------------------------------------------------------- child processes
# A small wrapper process starts the command and reports its peak RSS. Measuring straight from
# this (large) process would not do: a forked child's ``ru_maxrss`` includes the parent's memory
# it was a copy of until ``exec``.
_RSS_WRAPPER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    json.dump(dict(wall_s=wall, maxrss_kb=usage.ru_maxrss), f)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_child(cmd: list[str], *, timeout_s: float = SUBPROCESS_TIMEOUT_S) -> dict:
    """Run ``cmd``; return exit code, wall time, peak RSS (MB), stdout and stderr.

    The RSS is the kernel's ``ru_maxrss`` of the command's process (``wait4`` in a small wrapper):
    its own peak, or that of a descendant it waited for if larger (a maximum, not a sum). The
    wall time is measured in the wrapper, around the command alone.
    """
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([bl.PYTHON, "-c", _RSS_WRAPPER, str(stats)] + cmd, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        r = dict(returncode=proc.returncode, stdout=out_path.read_text(errors="replace"),
                 stderr=err_path.read_text(errors="replace"), wall_s=float("nan"), peak_rss_mb=float("nan"))
        if stats.exists():
            st = json.loads(stats.read_text())
            r.update(wall_s=st["wall_s"], peak_rss_mb=st["maxrss_kb"] / 1024.0)
        return r


def mixlab_flags(help_text: str) -> list[str]:
    """Options passed when the CLI offers them: no analysis cache (honest timings), float output (overs visible)."""
    flags = []
    if "--no-cache" in help_text:
        flags.append("--no-cache")
    if "32f" in help_text:
        flags += ["--bit-depth", "32f"]
    return flags


def run_mixlab_mix(mixlab_cmd: list[str], stems_dir: Path, out: Path, *, extra: list[str]) -> dict:
    cmd = mixlab_cmd + ["mix", str(stems_dir), "-o", str(out)] + extra
    r = run_child(cmd)
    r["cmd"] = "mixlab " + " ".join(cmd[len(mixlab_cmd):])
    if r["returncode"] != 0:
        tail = (r["stderr"] or r["stdout"]).strip().splitlines()[-3:]
        raise RuntimeError(f"mixlab mix: exit {r['returncode']}: " + " | ".join(tail))
    return r


# --------------------------------------------------------------------------- per song
def song_seed(base_seed: int, sid: str) -> int:
    return zlib.crc32(f"{base_seed}:{sid}".encode())


def bench_song(sid: str, *, mixlab_cmd: list[str] | None, mixlab_help: str, base_seed: int, genre: str) -> dict:
    stem_dir = STEMS_DIR / sid
    manifest = json.loads((stem_dir / "stems_manifest.json").read_text())
    stems = [t for t in manifest["tracks"] if t.get("file")]
    seed = song_seed(base_seed, sid)
    rng = np.random.default_rng(seed)
    gains_db = {t["file"]: float(rng.uniform(-PERTURB_DB, PERTURB_DB)) for t in stems}
    d = OUT_DIR / sid
    if d.exists():
        shutil.rmtree(d)
    (d / "perturbed").mkdir(parents=True)
    log(f"== {sid}: {len(stems)} stems, {manifest['duration_s']:.1f} s, genre {genre}, perturbation seed {seed}")

    creator_audio, sample_rate = bl.read_audio(stem_dir / "mix.wav")
    creator = dict(integrated_lufs=bl.bs1770_loudness(creator_audio, sample_rate),
                   bands_db=bl.third_octave_levels_db(creator_audio, sample_rate))
    pert_sum = np.zeros_like(creator_audio)
    eq_sum = np.zeros_like(creator_audio)
    per_stem: dict[str, dict] = {}
    creator_lufs, pert_lufs, eq_lufs = {}, {}, {}
    for t in stems:
        f = t["file"]
        audio, sr = bl.read_audio(stem_dir / f)
        if sr != sample_rate:
            raise RuntimeError(f"{f}: {sr} Hz, the mix is {sample_rate} Hz")
        # The baselines scale the stems, so their loudness follows exactly from the creator
        # stem's block powers (gates included): the K-weighting filters are linear.
        powers = stem_block_powers(audio, sr)
        lc = bl.loudness_from_block_powers(powers)
        g = gains_db[f]
        scaled = audio * 10.0 ** (g / 20.0)
        sf.write(str(d / "perturbed" / f), scaled.T.astype(np.float32), sr, subtype="FLOAT")
        pert_sum += scaled
        creator_lufs[f] = lc
        pert_lufs[f] = bl.loudness_from_block_powers(powers, gain_db=g)
        row = dict(name=t["name"], plugin=t.get("plugin"), creator_lufs=lc, perturbation_db=g)
        if math.isfinite(lc) and lc >= STEM_FLOOR_LUFS:  # silent stems are skipped by this baseline
            k = EQUAL_LOUDNESS_LUFS - lc
            eq_sum += audio * 10.0 ** (k / 20.0)
            eq_lufs[f] = bl.loudness_from_block_powers(powers, gain_db=k)
            row["equal_loudness_gain_db"] = k
        per_stem[f] = row
    del creator_audio, audio, scaled

    methods: dict[str, dict] = {}
    methods["perturbed sum"] = dict(balance=balance_errors(creator_lufs, pert_lufs),
                                    **mix_measures(pert_sum, sample_rate, creator, full=False))
    methods["equal loudness"] = dict(balance=balance_errors(creator_lufs, eq_lufs),
                                     **mix_measures(eq_sum, sample_rate, creator, full=False))
    del pert_sum, eq_sum

    if mixlab_cmd:
        try:
            methods["mixlab"] = run_ours(d, stems, creator, creator_lufs, sample_rate, manifest,
                                         mixlab_cmd=mixlab_cmd, mixlab_help=mixlab_help, genre=genre)
        except Exception as exc:
            log(f"  mixlab: FAILED: {exc}")
            methods["mixlab"] = dict(error=str(exc))

    for name, m in methods.items():
        for f, e in m.get("balance", {}).get("errors_db", {}).items():
            per_stem[f][f"error_db[{name}]"] = e
        m.get("balance", {}).pop("errors_db", None)
    return dict(song=sid, genre=genre, seed=seed, num_stems=len(stems), duration_s=manifest["duration_s"],
                creator_mix_lufs=creator["integrated_lufs"], methods=methods, stems=per_stem,
                licence=manifest.get("licence"), author=manifest.get("author"))


def run_ours(d: Path, stems: list[dict], creator: dict, creator_lufs: dict, sample_rate: int, manifest: dict, *,
             mixlab_cmd: list[str], mixlab_help: str, genre: str) -> dict:
    out = d / "ours.wav"
    stems_out = d / "ours_stems"
    extra = ["--genre", genre] + mixlab_flags(mixlab_help)
    have_stems_out = "--stems-out" in mixlab_help
    if have_stems_out:
        extra += ["--stems-out", str(stems_out)]
    if "--plan-out" in mixlab_help:
        extra += ["--plan-out", str(d / "plan.json")]
    if "--json" in mixlab_help:
        extra.append("--json")
    r = run_mixlab_mix(mixlab_cmd, d / "perturbed", out, extra=extra)
    (d / "mixlab.stdout.txt").write_text(r["stdout"])
    (d / "mixlab.stderr.txt").write_text(r["stderr"])
    log(f"  mixlab mix: {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    audio, sr = bl.read_audio(out)
    m = dict(wall_s=r["wall_s"], peak_rss_mb=r["peak_rss_mb"], command=r["cmd"], notes=[])
    if sr != sample_rate:
        m["notes"].append(f"mix at {sr} Hz, stems at {sample_rate} Hz")
    m.update(mix_measures(audio, sr, creator, full=True))
    m["length_diff_ms"] = (audio.shape[1] - manifest["num_frames"]) / sample_rate * 1000.0
    lo, hi = MIX_TP_RANGE_DBTP
    m["true_peak_in_range"] = lo <= m["true_peak_dbtp"] <= hi
    ours_lufs: dict[str, float | None] = {}
    if have_stems_out:
        for t in stems:
            f = t["file"]
            hits = [stems_out / f] if (stems_out / f).exists() else sorted(stems_out.glob(Path(f).stem + ".*"))
            if not hits:
                ours_lufs[f] = None
                continue
            s, ssr = bl.read_audio(hits[0])
            ours_lufs[f] = stem_loudness_lufs(s, ssr)
        m["balance"] = balance_errors(creator_lufs, ours_lufs)
        if m["balance"]["missing"]:
            m["notes"].append(f"{len(m['balance']['missing'])} processed stems missing")
    else:
        m["notes"].append("no --stems-out: balance not measured")
    return m


# --------------------------------------------------------------------------- speed
def build_speed_set(num_stems: int, songs: list[str], *, base_seed: int) -> Path:
    """``num_stems`` 3-minute excerpts of the real stems in ``OUT_DIR/speed/<n>x180/`` (kept if complete)."""
    return build_excerpt_set(OUT_DIR / "speed" / f"{num_stems}x{SPEED_DURATION_S:.0f}", songs, num_stems=num_stems,
                             duration_s=SPEED_DURATION_S, seed=base_seed, perturb=True)


def build_excerpt_set(d: Path, songs: list[str], *, num_stems: int, duration_s: float, seed: int,
                      perturb: bool) -> Path:
    """``num_stems`` excerpts of ``duration_s`` from the real stems, cycling through the songs and
    their tracks (seeded start; shorter songs looped), written to ``d`` as 24-bit, peaks held to
    -1 dBFS. With ``perturb`` each gets a seeded gain of +-PERTURB_DB and every third is folded to
    mono. Kept while the songs, the seed and every song's stems manifest are unchanged."""
    marker = d / "set.json"
    key = dict(songs=songs, base_seed=seed,
               manifests_mtime_ns=[(STEMS_DIR / sid / "stems_manifest.json").stat().st_mtime_ns for sid in songs])
    if marker.exists() and json.loads(marker.read_text()).get("key") == key:
        return d
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    pool = []
    for sid in songs:
        man = json.loads((STEMS_DIR / sid / "stems_manifest.json").read_text())
        pool.append([(sid, t["file"]) for t in man["tracks"] if t.get("file")])
    rng = np.random.default_rng(seed + num_stems)
    entries = []
    for i in range(num_stems):
        sid, f = pool[i % len(pool)][(i // len(pool)) % len(pool[i % len(pool)])]
        audio, sr = bl.read_audio(STEMS_DIR / sid / f)
        n = int(round(duration_s * sr))
        if audio.shape[1] >= n:
            start = int(rng.integers(0, audio.shape[1] - n + 1))
            x = audio[:, start:start + n]
        else:  # shorter songs are looped
            start = 0
            x = np.tile(audio, (1, -(-n // audio.shape[1])))[:, :n]
        g = 0.0
        if perturb:
            g = float(rng.uniform(-PERTURB_DB, PERTURB_DB))
            x = x * 10.0 ** (g / 20.0)
            if i % 3 == 2:
                x = x.mean(axis=0, keepdims=True)
        peak = float(np.abs(x).max(initial=0.0))
        if peak > 10.0 ** (-1.0 / 20.0):  # 24-bit files cannot go over full scale: turn down to -1 dBFS
            x = x * (10.0 ** (-1.0 / 20.0) / peak)
        name = f"{i + 1:02d}-{sid}-{f}"
        sf.write(str(d / name), x.T, sr, subtype="PCM_24")
        entries.append(dict(file=name, source=f"{sid}/{f}", start_s=start / sr, gain_db=g, channels=x.shape[0]))
    bl.write_json(marker, dict(key=key, num_stems=num_stems, duration_s=duration_s, stems=entries))
    return d


def bench_speed(songs: list[str], *, mixlab_cmd: list[str], mixlab_help: str, base_seed: int, repeats: int) -> dict:
    result = {}
    for n in SPEED_SETS:
        d = build_speed_set(n, songs, base_seed=base_seed)
        size_mb = sum(p.stat().st_size for p in d.glob("*.wav")) / 2 ** 20
        runs = []
        for i in range(repeats):
            out = OUT_DIR / "speed" / f"mix-{n}.wav"
            try:
                r = run_mixlab_mix(mixlab_cmd, d, out, extra=["--genre", DEFAULT_GENRE] + mixlab_flags(mixlab_help))
            except Exception as exc:
                log(f"  speed {n} x 3 min: FAILED: {exc}")
                runs.append(dict(error=str(exc)))
                break
            runs.append(dict(wall_s=r["wall_s"], peak_rss_mb=r["peak_rss_mb"]))
            log(f"  speed {n} x 3 min, run {i + 1}/{repeats}: {r['wall_s']:.1f} s "
                f"({SPEED_DURATION_S / r['wall_s']:.1f}x real time), peak RSS {r['peak_rss_mb']:.0f} MB")
        ok = [x for x in runs if "error" not in x]
        s = dict(num_stems=n, duration_s=SPEED_DURATION_S, input_mb=size_mb, runs=runs)
        if ok:
            s["wall_s"] = statistics.median(x["wall_s"] for x in ok)
            s["x_real_time"] = SPEED_DURATION_S / s["wall_s"]
            s["peak_rss_mb"] = max(x["peak_rss_mb"] for x in ok)
            if n in SPEED_MAX_WALL_S:
                s["goal_wall_s"] = SPEED_MAX_WALL_S[n]
                s["wall_met"] = s["wall_s"] <= SPEED_MAX_WALL_S[n]
            if n in SPEED_MAX_RSS_MB:
                s["goal_peak_rss_mb"] = SPEED_MAX_RSS_MB[n]
                s["rss_met"] = s["peak_rss_mb"] <= SPEED_MAX_RSS_MB[n]
        result[f"{n}x180"] = s
    return result


# --------------------------------------------------------------------------- report
def _f(v, fmt="{:.2f}", none="") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return none
    return fmt.format(v)


def print_table(results: list[dict]) -> None:
    hdr = (f"{'song':16s} {'method':15s} {'n':>3s} {'bal med':>7s} {'bal max':>7s} {'spec dB':>7s} {'I LUFS':>7s} "
           f"{'TP dBTP':>7s} {'peak':>6s} {'clip':>5s} {'time s':>6s} {'RSS MB':>6s}  notes")
    log(hdr)
    log("-" * len(hdr))
    for s in results:
        for name, m in s["methods"].items():
            if "error" in m:
                log(f"{s['song']:16s} {name:15s}  ERROR: {m['error']}")
                continue
            b = m.get("balance", {})
            notes = list(m.get("notes", []))
            if "true_peak_in_range" in m and not m["true_peak_in_range"]:
                notes.append(f"TP outside {MIX_TP_RANGE_DBTP[0]:g}..{MIX_TP_RANGE_DBTP[1]:g} dBTP")
            if b.get("silenced"):
                notes.append(f"silenced: {', '.join(b['silenced'])}")
            log(f"{s['song']:16s} {name:15s} {b.get('n', 0):3d} {_f(b.get('median_abs_db')):>7s} "
                f"{_f(b.get('max_abs_db')):>7s} {m['spectral_diff_db']:7.2f} {m['integrated_lufs']:7.2f} "
                f"{_f(m.get('true_peak_dbtp')):>7s} {m['sample_peak_dbfs']:6.2f} {m['clipped_samples']:5d} "
                f"{_f(m.get('wall_s'), '{:.1f}'):>6s} {_f(m.get('peak_rss_mb'), '{:.0f}'):>6s}  {'; '.join(notes)}")


def summarise(results: list[dict]) -> dict:
    out: dict[str, dict] = {}
    names = sorted({k for s in results for k in s["methods"]})
    for name in names:
        ms = [s["methods"][name] for s in results if name in s["methods"] and "error" not in s["methods"][name]]
        if not ms:
            continue
        bal = [m["balance"] for m in ms if m.get("balance", {}).get("n")]
        x = dict(songs=len(ms))
        if bal:
            x["balance_median_abs_db_mean"] = statistics.fmean(b["median_abs_db"] for b in bal)
            x["balance_max_abs_db_max"] = max(b["max_abs_db"] for b in bal)
        x["spectral_diff_db_mean"] = statistics.fmean(m["spectral_diff_db"] for m in ms)
        if "true_peak_dbtp" in ms[0]:
            x["true_peak_dbtp_range"] = [min(m["true_peak_dbtp"] for m in ms), max(m["true_peak_dbtp"] for m in ms)]
            x["true_peak_in_range_all"] = all(m["true_peak_in_range"] for m in ms)
            x["clipped_samples_total"] = sum(m["clipped_samples"] for m in ms)
            x["wall_s_total"] = sum(m["wall_s"] for m in ms)
            x["peak_rss_mb_max"] = max(m["peak_rss_mb"] for m in ms)
        out[name] = x
    return out


# --------------------------------------------------------------------------- self-test
def _check(ok: bool, detail=None) -> None:
    if not ok:
        raise RuntimeError(f"self-test failed: {detail!r}")


def self_test() -> int:
    """Check the metric code on synthetic stems, against values worked out by hand."""
    sample_rate = 44100
    rng = np.random.default_rng(7)
    n = 5 * sample_rate
    levels_db = [-6.0, -18.0, -30.0]
    stems = [rng.standard_normal((2, n)) * 10.0 ** (lv / 20.0) for lv in levels_db] + [np.zeros((2, n))]
    names = ["a", "b", "c", "silent"]
    creator = {k: stem_loudness_lufs(s, sample_rate) for k, s in zip(names, stems)}
    # White noise of RMS r per channel, stereo: K-weighting gain ~ +0.7 dB at these levels, so
    # L = 20 log10(r) + 3.01 - 0.691 + ~0.7; only the differences matter here: exactly 12 and 24 dB.
    _check(abs((creator["a"] - creator["b"]) - 12.0) < 0.05, creator)
    _check(not math.isfinite(creator["silent"]))
    g = {"a": 4.0, "b": -7.5, "c": 9.0, "silent": 3.0}
    pert = {k: stem_loudness_lufs(s * 10.0 ** (g[k] / 20.0), sample_rate) for k, s in zip(names, stems)}
    b = balance_errors(creator, pert)
    mean_g = (4.0 - 7.5 + 9.0) / 3.0  # the silent stem is left out
    want = {"a": 4.0 - mean_g, "b": -7.5 - mean_g, "c": 9.0 - mean_g}
    for k, v in want.items():  # BS.1770 is exactly scale-invariant: only float round-off
        _check(abs(b["errors_db"][k] - v) < 1e-6, (k, b["errors_db"][k], v))
    _check(b["n"] == 3 and abs(b["max_abs_db"] - abs(-7.5 - mean_g)) < 1e-6)
    _check(abs(b["median_abs_db"] - sorted(abs(v) for v in want.values())[1]) < 1e-6)
    # A perfect mixer undoes the perturbation up to one common gain: zero error.
    fixed = {k: stem_loudness_lufs(s * 10.0 ** (-2.0 / 20.0), sample_rate) for k, s in zip(names, stems)}
    _check(balance_errors(creator, fixed)["max_abs_db"] < 1e-9)
    # Equal loudness: error_i = -(Lc_i - mean Lc); here -(12, 0, -12) -> -12, 0, +12 (approx. 12 dB steps).
    eq = {k: EQUAL_LOUDNESS_LUFS for k in names[:3]}
    be = balance_errors(creator, eq)
    mean_c = statistics.fmean(creator[k] for k in names[:3])
    for k in names[:3]:
        _check(abs(be["errors_db"][k] + (creator[k] - mean_c)) < 1e-9)
    _check(abs(be["errors_db"]["a"] + 12.0) < 0.1 and abs(be["errors_db"]["c"] - 12.0) < 0.1)
    # Missing and silenced stems.
    bm = balance_errors(creator, {"a": creator["a"], "b": float("-inf"), "c": None})
    _check(bm["missing"] == ["c"] and bm["silenced"] == ["b"] and bm["n"] == 2)
    # Spectral difference: zero for the same mix at another level, > 0 for a tilted one.
    mix = sum(stems)
    ref = dict(integrated_lufs=bl.bs1770_loudness(mix, sample_rate), bands_db=bl.third_octave_levels_db(mix, sample_rate))
    _check(mix_measures(mix * 0.3, sample_rate, ref, full=False)["spectral_diff_db"] < 1e-6)
    import scipy.signal as ss
    tilted = ss.sosfilt(ss.butter(1, 1000.0, "low", fs=sample_rate, output="sos"), mix, axis=1)
    _check(mix_measures(tilted, sample_rate, ref, full=False)["spectral_diff_db"] > 3.0)
    log("self-test passed: balance errors equal perturbation minus its mean (to 1e-6 dB); perfect fix -> 0; "
        "equal-loudness -> -(Lc - mean Lc); missing/silenced handled; spectral diff 0 for a level change")
    return 0


# --------------------------------------------------------------------------- main
def available_songs() -> list[str]:
    return sorted(p.parent.name for p in STEMS_DIR.glob("*/stems_manifest.json"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", nargs="*", help="song ids (default: every song with stems)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["mixlab", "songs", "speed"], help="leave parts out")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the perturbations (default 0)")
    ap.add_argument("--repeats", type=int, default=1, help="timing runs per speed set (default 1)")
    ap.add_argument("--snapshot", nargs="?", const="HEAD", metavar="REV",
                    help="benchmark mixlab's src/ as committed at REV (default HEAD), not the working tree")
    ap.add_argument("--mixlab-cmd", help="run this command instead of .venv/bin/mixlab (e.g. a stand-in for testing)")
    ap.add_argument("--self-test", action="store_true", help="check the metric code on synthetic stems and exit")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    skip = set(args.skip)
    mixlab_src = bl.snapshot_src(args.snapshot) if args.snapshot else bl.REPO_DIR / "src"
    if args.snapshot:
        log(f"mixlab source: snapshot of {args.snapshot} in {mixlab_src}")

    songs = available_songs()
    if not songs:
        raise SystemExit("no stems in bench/songs/stems/: run bench/render_stems.py first")
    if args.songs:
        missing = set(args.songs) - set(songs)
        if missing:
            raise SystemExit(f"no stems for {sorted(missing)}; have {songs}")
        songs = [s for s in songs if s in args.songs]

    if "mixlab" in skip:
        mixlab_cmd, mixlab_note = None, "skipped (--skip mixlab)"
    elif args.mixlab_cmd:
        mixlab_cmd, mixlab_note = shlex.split(args.mixlab_cmd), f"--mixlab-cmd {args.mixlab_cmd}"
    else:
        mixlab_cmd, mixlab_note = bl.find_mixlab("mix")
    mixlab_help = ""
    if mixlab_cmd is None:
        log(f"mixlab: SKIPPED, `mixlab mix --help` does not work: {mixlab_note}")
    else:
        mixlab_help = subprocess.run(mixlab_cmd + ["mix", "--help"], capture_output=True, text=True).stdout
        log(f"mixlab: {' '.join(mixlab_cmd)} ({mixlab_note}); extra flags: {' '.join(mixlab_flags(mixlab_help))}")
    versions = dict(repo=subprocess.run(["git", "-C", str(bl.REPO_DIR), "describe", "--always", "--dirty"],
                                        capture_output=True, text=True).stdout.strip(),
                    mixlab_source=(f"git {args.snapshot} snapshot" if args.snapshot else "working tree")
                    + f": {mixlab_src}")
    if mixlab_cmd:
        res = subprocess.run(mixlab_cmd + ["--version"], capture_output=True, text=True)
        versions["mixlab"] = (res.stdout or res.stderr).strip()

    started = dt.datetime.now().astimezone()
    results: list[dict] = []
    if "songs" not in skip:
        for sid in songs:
            results.append(bench_song(sid, mixlab_cmd=mixlab_cmd, mixlab_help=mixlab_help, base_seed=args.seed,
                                      genre=GENRE.get(sid, DEFAULT_GENRE)))
    speed = None
    if "speed" not in skip:
        if mixlab_cmd:
            log(f"== speed: {' and '.join(f'{n} x 3 min' for n in SPEED_SETS)} stems from {', '.join(songs)}")
            speed = bench_speed(songs, mixlab_cmd=mixlab_cmd, mixlab_help=mixlab_help, base_seed=args.seed,
                                repeats=args.repeats)
        else:
            log("speed: skipped (no mixlab)")

    log()
    print_table(results)
    summary = summarise(results)
    log()
    log("summary (balance: mean over songs of the median |error|, max over songs of the max |error|):")
    for name, x in summary.items():
        log(f"  {name}: " + ", ".join(f"{k}={_f(v) if isinstance(v, float) else v}" for k, v in x.items()))
    if speed:
        log()
        log("speed (one child process each; RSS = peak resident memory):")
        for key, s in speed.items():
            if "wall_s" not in s:
                log(f"  {key}: failed")
                continue
            goals = []
            if "wall_met" in s:
                goals.append(f"goal <= {s['goal_wall_s']:g} s: {'MET' if s['wall_met'] else 'NOT MET'}")
            if "rss_met" in s:
                goals.append(f"goal <= {s['goal_peak_rss_mb']:g} MB: {'MET' if s['rss_met'] else 'NOT MET'}")
            log(f"  {key}: {s['wall_s']:.1f} s ({s['x_real_time']:.1f}x real time), peak RSS {s['peak_rss_mb']:.0f} MB,"
                f" inputs {s['input_mb']:.0f} MB  {'; '.join(goals)}")

    out = dict(schema="mixlab.bench.mix/1", started=started.isoformat(timespec="seconds"),
               finished=dt.datetime.now().astimezone().isoformat(timespec="seconds"), versions=versions,
               mixlab=mixlab_note if mixlab_cmd else f"skipped: {mixlab_note}",
               settings=dict(perturb_db=PERTURB_DB, base_seed=args.seed, equal_loudness_lufs=EQUAL_LOUDNESS_LUFS,
                             stem_floor_lufs=STEM_FLOOR_LUFS, mix_true_peak_range_dbtp=MIX_TP_RANGE_DBTP,
                             third_octave_centres_hz=bl.THIRD_OCTAVE_CENTRES_HZ),
               songs=results, summary=summary, speed=speed)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    bl.write_json(OUT_DIR / "results.json", out)
    bl.write_json(OUT_DIR / f"results-{stamp}.json", out)
    log(f"\nwrote {OUT_DIR / 'results.json'} (and results-{stamp}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
