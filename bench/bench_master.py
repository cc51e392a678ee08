"""Benchmark ``mixlab master`` against matchering 2.0.6 and ffmpeg two-pass loudnorm.

Usage (from the repository root, after ``bench/render_songs.py``)::

    .venv/bin/pip install matchering==2.0.6      # apt-get install ffmpeg
    .venv/bin/python bench/bench_master.py [--songs ID ...] [--repeats 3] [--skip matchering ...]

On the same input files, in one run, it makes:

* mixlab:     ``mixlab master IN -o OUT --target T`` for each platform T, ``--all-targets -o DIR``,
              ``--reference REF``, and an MP3 (``-o OUT.mp3 --target spotify``);
* matchering: ``matchering.process(IN, REF)`` to 24-bit WAV;
* ffmpeg:     two-pass ``loudnorm`` to -14 LUFS / -1 dBTP (linear=true, LRA target set at or above
              the input's measured LRA, measured_* values from pass 1, resampled back to the input rate).

Every output is measured here, never taken from a tool's own report: integrated loudness and
true peak with the bench's own BS.1770-4 meter (``benchlib``), cross-checked with ffmpeg's
``ebur128=peak=true`` and, when importable, ``mixlab.analysis``; disagreements over 0.1 dB are
listed. Wall times are compared on ``songs/speed_3min.wav``: mixlab ``--reference`` against
matchering (goal: at most 1/3 of matchering's time), and mixlab ``--all-targets`` against one
ffmpeg two-pass loudnorm (goal: faster). Results go to ``bench/out/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

VENV_BIN = bl.VENV_BIN
PYTHON = bl.PYTHON
PLATFORMS_JSON = bl.REPO_DIR / "src" / "mixlab" / "engine" / "data" / "platforms.json"
# What the brief expects; platforms.json, when present, wins (differences are reported).
DEFAULT_PLATFORMS = {
    "spotify": (-14.0, -1.0), "apple-music": (-16.0, -1.0), "youtube": (-14.0, -1.0), "tidal": (-14.0, -1.0),
    "amazon-music": (-14.0, -2.0), "deezer": (-15.0, -1.0), "soundcloud": (-14.0, -1.0), "cd": (-9.0, -0.3),
}
REFERENCE_CEILING_DBTP = -1.0  # what a streaming delivery should hold; mixlab's reference mode uses it
LOUDNORM_TARGET = (-14.0, -1.0)
CROSSCHECK_TOL_DB = 0.1
SUBPROCESS_TIMEOUT_S = 1800

MATCHERING_SCRIPT = """
import sys, matchering as mg
mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
"""


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- tools
def load_platforms(mixlab_src: Path) -> tuple[dict[str, tuple[float, float]], str]:
    path = mixlab_src / PLATFORMS_JSON.relative_to(bl.REPO_DIR / "src")
    if path.exists():
        data = json.loads(path.read_text())
        table = data.get("platforms", data)
        if isinstance(table, list):
            table = {p["id"]: p for p in table}
        platforms = {pid: (float(p["target_lufs"]), float(p["ceiling_dbtp"])) for pid, p in table.items()
                     if isinstance(p, dict) and "target_lufs" in p}
        for pid, expected in DEFAULT_PLATFORMS.items():
            if platforms.get(pid) != expected:
                log(f"note: platforms.json has {pid} = {platforms.get(pid)}, the brief expected {expected}")
        return platforms, str(path.relative_to(bl.REPO_DIR))
    return dict(DEFAULT_PLATFORMS), "built-in defaults (platforms.json not found)"


def tool_versions(mixlab_cmd: list[str] | None) -> dict:
    versions = {}
    try:
        versions["ffmpeg"] = subprocess.run([bl.ffmpeg_bin(), "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    except Exception as exc:  # pragma: no cover
        versions["ffmpeg"] = str(exc)
    res = subprocess.run([PYTHON, "-c", "import matchering; print(matchering.__version__)"], capture_output=True, text=True)
    versions["matchering"] = res.stdout.strip() if res.returncode == 0 else None
    if mixlab_cmd:
        res = subprocess.run(mixlab_cmd + ["--version"], capture_output=True, text=True)
        versions["mixlab"] = (res.stdout or res.stderr).strip()
    res = subprocess.run(["git", "-C", str(bl.REPO_DIR), "describe", "--always", "--dirty"], capture_output=True, text=True)
    versions["repo"] = res.stdout.strip()
    return versions


def timed(cmd: list[str], *, label: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{label}: exit {res.returncode}: " + " | ".join(tail))
    return wall, res


def _parse_json(text: str):
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def run_matchering(inp: Path, ref: Path, out: Path) -> dict:
    wall, _ = timed([PYTHON, "-c", MATCHERING_SCRIPT, str(inp), str(ref), str(out)], label="matchering")
    return dict(wall_s=wall)


def run_loudnorm(inp: Path, out: Path, target_lufs: float, ceiling_dbtp: float) -> dict:
    """ffmpeg two-pass loudnorm; returns wall time (both passes) and the mode ffmpeg chose."""
    ff = bl.ffmpeg_bin()
    sample_rate = sf.info(str(inp)).samplerate
    t0 = time.perf_counter()
    pass1 = subprocess.run([ff, "-hide_banner", "-nostats", "-nostdin", "-i", str(inp), "-af",
                            f"loudnorm=I={target_lufs}:TP={ceiling_dbtp}:LRA=7:print_format=json", "-f", "null", "-"],
                           capture_output=True, text=True, check=True)
    m1 = _last_json_block(pass1.stderr)
    lra_target = min(50.0, max(7.0, math.ceil(float(m1["input_lra"]) * 10) / 10 + 0.5))
    flt = (f"loudnorm=I={target_lufs}:TP={ceiling_dbtp}:LRA={lra_target}"
           f":measured_I={m1['input_i']}:measured_TP={m1['input_tp']}:measured_LRA={m1['input_lra']}"
           f":measured_thresh={m1['input_thresh']}:offset={m1['target_offset']}:linear=true:print_format=json")
    pass2 = subprocess.run([ff, "-hide_banner", "-nostats", "-nostdin", "-y", "-i", str(inp), "-af", flt,
                            "-ar", str(sample_rate), "-c:a", "pcm_s24le", str(out)],
                           capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    m2 = _last_json_block(pass2.stderr)
    return dict(wall_s=wall, mode=m2.get("normalization_type"), lra_target=lra_target, pass1=m1, pass2=m2)


def _last_json_block(text: str) -> dict:
    start = text.rfind("{")
    end = text.rfind("}")
    return json.loads(text[start:end + 1])


# --------------------------------------------------------------------------- measuring
class Meter:
    def __init__(self, *, use_mixlab_analysis: bool, mixlab_src: Path) -> None:
        self.cache: dict[Path, dict] = {}
        self.mixlab_analysis = None
        if use_mixlab_analysis:
            try:
                sys.path.insert(0, str(mixlab_src))
                from mixlab.analysis import loudness as ml_loudness, truepeak as ml_truepeak
                self.mixlab_analysis = (ml_loudness.integrated_loudness, ml_truepeak.measure_true_peak)
            except Exception as exc:
                log(f"note: mixlab.analysis not usable as a third meter ({exc.__class__.__name__}: {exc})")

    def measure(self, path: Path, *, spectrum: bool = False, expect_frames: int | None = None) -> dict:
        path = Path(path)
        key = path.resolve()
        if key in self.cache and (not spectrum or "bands_db" in self.cache[key]):
            return self.cache[key]
        audio, sr = bl.read_audio(path)
        info = sf.info(str(path))
        m = dict(file=str(path.relative_to(bl.REPO_DIR)) if path.is_relative_to(bl.REPO_DIR) else str(path),
                 sample_rate=sr, channels=audio.shape[0], format=f"{info.format}/{info.subtype}",
                 duration_s=audio.shape[1] / sr)
        m["integrated_lufs"] = bl.bs1770_loudness(audio, sr)
        m["true_peak_dbtp"] = bl.true_peak_dbtp(audio, sr)
        m["sample_peak_dbfs"] = bl.sample_peak_dbfs(audio)
        m["plr_db"] = m["true_peak_dbtp"] - m["integrated_lufs"]
        m["clipped_samples"] = bl.clipped_samples(audio)
        if expect_frames is not None:
            m["length_diff_ms"] = (audio.shape[1] - expect_frames) / sr * 1000.0
        ff = bl.ffmpeg_ebur128(path)
        m["ffmpeg"] = dict(integrated_lufs=ff.integrated_lufs, true_peak_dbtp=ff.true_peak_dbtp, lra_lu=ff.lra_lu)
        m["lra_lu"] = ff.lra_lu
        disagreements = []
        for name, ours, theirs in [("I vs ffmpeg", m["integrated_lufs"], ff.integrated_lufs),
                                   ("TP vs ffmpeg", m["true_peak_dbtp"], ff.true_peak_dbtp)]:
            if abs(ours - theirs) > CROSSCHECK_TOL_DB:
                disagreements.append(f"{name}: {ours:.2f} vs {theirs:.2f}")
        if self.mixlab_analysis:
            try:
                x32 = audio.astype(np.float32)
                ml_i = float(self.mixlab_analysis[0](x32, sr))
                ml_tp = float(self.mixlab_analysis[1](x32, sr).true_peak_dbtp)
                m["mixlab_analysis"] = dict(integrated_lufs=ml_i, true_peak_dbtp=ml_tp)
                for name, ours, theirs in [("I vs mixlab.analysis", m["integrated_lufs"], ml_i),
                                           ("TP vs mixlab.analysis", m["true_peak_dbtp"], ml_tp)]:
                    if abs(ours - theirs) > CROSSCHECK_TOL_DB:
                        disagreements.append(f"{name}: {ours:.2f} vs {theirs:.2f}")
            except Exception as exc:
                m["mixlab_analysis"] = dict(error=f"{exc.__class__.__name__}: {exc}")
        m["meter_disagreements"] = disagreements
        if spectrum:
            m["bands_db"] = bl.third_octave_levels_db(audio, sr)
        self.cache[key] = m
        return m


def evaluate(meter: Meter, out: Path, *, song: str, tool: str, mode: str, target: tuple[float, float] | None,
             ref: dict | None, inp: dict, wall_s: float | None, extra: dict | None = None) -> dict:
    row = dict(song=song, tool=tool, mode=mode, wall_s=wall_s, **(extra or {}))
    if not out.exists():
        row["error"] = f"output missing: {out}"
        return row
    m = meter.measure(out, spectrum=ref is not None, expect_frames=int(round(inp["duration_s"] * inp["sample_rate"])))
    row.update({k: v for k, v in m.items() if k != "bands_db"})
    if target is not None:
        row["target_lufs"], row["ceiling_dbtp"] = target
        row["loudness_error_lu"] = m["integrated_lufs"] - target[0]
        row["tp_over_ceiling_db"] = max(0.0, m["true_peak_dbtp"] - target[1])
    if ref is not None:
        row["reference_lufs"] = ref["integrated_lufs"]
        row["loudness_diff_to_ref_lu"] = m["integrated_lufs"] - ref["integrated_lufs"]
        row["tonal_match_error_db"] = bl.tonal_match_error_db(m["bands_db"], m["integrated_lufs"],
                                                              ref["bands_db"], ref["integrated_lufs"])
        row.setdefault("ceiling_dbtp", REFERENCE_CEILING_DBTP)
        row["tp_over_ceiling_db"] = max(0.0, m["true_peak_dbtp"] - row["ceiling_dbtp"])
    if m["sample_rate"] != inp["sample_rate"]:
        row.setdefault("notes", []).append(f"sample rate {m['sample_rate']} != input {inp['sample_rate']}")
    return row


def find_target_file(folder: Path, pid: str) -> Path | None:
    pat = re.compile(rf"(^|[._\-]){re.escape(pid)}([._\-]|$)")
    hits = sorted(p for p in folder.iterdir() if p.is_file() and pat.search(p.stem + "."))
    return hits[0] if hits else None


# --------------------------------------------------------------------------- the run
def bench_song(song: dict, *, meter: Meter, mixlab_cmd: list[str] | None, mixlab_json: bool,
               platforms: dict, single_targets: list[str], skip: set[str], out_dir: Path) -> list[dict]:
    sid = song["id"]
    inp_path = bl.SONGS_DIR / song["input"]
    ref_path = bl.SONGS_DIR / song["reference"] if song.get("reference") else None
    d = out_dir / sid
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    inp = meter.measure(inp_path, spectrum=ref_path is not None)
    ref = meter.measure(ref_path, spectrum=True) if ref_path else None
    rows: list[dict] = []
    log(f"== {sid} ({inp['duration_s']:.1f} s, {inp['integrated_lufs']:.2f} LUFS, {inp['true_peak_dbtp']:.2f} dBTP)"
        + (f", reference {ref_path.name} ({ref['integrated_lufs']:.2f} LUFS)" if ref else ""))
    if ref:  # the unprocessed input's distance to the reference, as a baseline
        rows.append(evaluate(meter, inp_path, song=sid, tool="input", mode="unprocessed vs reference", target=None,
                             ref=ref, inp=inp, wall_s=None))

    def attempt(label: str, fn) -> None:
        try:
            fn()
        except Exception as exc:
            log(f"  {label}: FAILED: {exc}")
            tool, _, mode = label.partition(" ")
            rows.append(dict(song=sid, tool=tool, mode=mode or tool, error=str(exc)))

    json_flag = ["--json"] if mixlab_json else []

    def mixlab(args: list[str], label: str) -> tuple[float, object]:
        wall, res = timed(mixlab_cmd + ["master", str(inp_path)] + args + json_flag, label=label)
        return wall, _parse_json(res.stdout) if mixlab_json else None

    if mixlab_cmd and "mixlab" not in skip:
        for pid in single_targets:
            def one(pid=pid):
                out = d / f"{sid}.mixlab.{pid}.wav"
                wall, report = mixlab(["-o", str(out), "--target", pid], f"mixlab --target {pid}")
                rows.append(evaluate(meter, out, song=sid, tool="mixlab", mode=f"--target {pid}",
                                     target=platforms[pid], ref=None, inp=inp, wall_s=wall))
                log(f"  mixlab --target {pid}: {wall:.1f} s")
            attempt(f"mixlab --target {pid}", one)

        def all_targets():
            folder = d / "all-targets"
            wall, report = mixlab(["--all-targets", "-o", str(folder)], "mixlab --all-targets")
            log(f"  mixlab --all-targets: {wall:.1f} s")
            for pid, target in platforms.items():
                f = find_target_file(folder, pid)
                if f is None:
                    rows.append(dict(song=sid, tool="mixlab", mode=f"--all-targets {pid}", error="no output file found"))
                    continue
                rows.append(evaluate(meter, f, song=sid, tool="mixlab", mode=f"--all-targets {pid}", target=target,
                                     ref=None, inp=inp, wall_s=wall))
        attempt("mixlab --all-targets", all_targets)

        if ref_path:
            def with_ref():
                out = d / f"{sid}.mixlab.reference.wav"
                wall, report = mixlab(["-o", str(out), "--reference", str(ref_path)], "mixlab --reference")
                rows.append(evaluate(meter, out, song=sid, tool="mixlab", mode="--reference", target=None, ref=ref,
                                     inp=inp, wall_s=wall))
                log(f"  mixlab --reference: {wall:.1f} s")
            attempt("mixlab --reference", with_ref)

        def mp3():
            out = d / f"{sid}.mixlab.spotify.mp3"
            wall, report = mixlab(["-o", str(out), "--target", "spotify"], "mixlab mp3")
            rows.append(evaluate(meter, out, song=sid, tool="mixlab", mode="mp3 --target spotify",
                                 target=platforms["spotify"], ref=None, inp=inp, wall_s=wall))
            log(f"  mixlab mp3 --target spotify: {wall:.1f} s")
        attempt("mixlab mp3", mp3)

    if ref_path and "matchering" not in skip:
        def mg():
            out = d / f"{sid}.matchering.wav"
            r = run_matchering(inp_path, ref_path, out)
            rows.append(evaluate(meter, out, song=sid, tool="matchering", mode="reference", target=None, ref=ref,
                                 inp=inp, wall_s=r["wall_s"]))
            log(f"  matchering: {r['wall_s']:.1f} s")
        attempt("matchering", mg)

    if "ffmpeg" not in skip:
        def ln():
            out = d / f"{sid}.ffmpeg-loudnorm.wav"
            r = run_loudnorm(inp_path, out, *LOUDNORM_TARGET)
            rows.append(evaluate(meter, out, song=sid, tool="ffmpeg", mode=f"loudnorm 2-pass ({r['mode']})",
                                 target=LOUDNORM_TARGET, ref=None, inp=inp, wall_s=r["wall_s"],
                                 extra=dict(loudnorm_mode=r["mode"], loudnorm_lra_target=r["lra_target"])))
            log(f"  ffmpeg loudnorm: {r['wall_s']:.1f} s, {r['mode']} mode")
        attempt("ffmpeg loudnorm", ln)
    return rows


def bench_speed(speed: dict, *, mixlab_cmd: list[str] | None, skip: set[str], repeats: int, out_dir: Path) -> dict:
    """Interleaved repeated timings on the 3-minute excerpt; medians."""
    inp = bl.SONGS_DIR / speed["input"]
    ref = bl.SONGS_DIR / speed["reference"]
    d = out_dir / "speed"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    times: dict[str, list[float]] = {}
    extra: dict[str, str] = {}
    runs = []
    if mixlab_cmd and "mixlab" not in skip:
        runs.append(("mixlab --reference", lambda: timed(mixlab_cmd + ["master", str(inp), "-o", str(d / "mixlab.ref.wav"),
                                                                       "--reference", str(ref)], label="mixlab")[0]))
        runs.append(("mixlab --all-targets", lambda: timed(mixlab_cmd + ["master", str(inp), "--all-targets", "-o",
                                                                         str(d / "mixlab-all")], label="mixlab")[0]))
    if "matchering" not in skip:
        runs.append(("matchering", lambda: run_matchering(inp, ref, d / "matchering.wav")["wall_s"]))
    if "ffmpeg" not in skip:
        def ln():
            r = run_loudnorm(inp, d / "ffmpeg-loudnorm.wav", *LOUDNORM_TARGET)
            extra["ffmpeg loudnorm 2-pass"] = r["mode"]
            return r["wall_s"]
        runs.append(("ffmpeg loudnorm 2-pass", ln))
    for i in range(repeats):
        for name, fn in runs:
            try:
                t = fn()
            except Exception as exc:
                log(f"  speed {name}: FAILED: {exc}")
                continue
            times.setdefault(name, []).append(t)
            log(f"  speed run {i + 1}/{repeats} {name}: {t:.2f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    result = dict(input=speed["input"], duration_s=speed["duration_s"], repeats=repeats, times_s=times, median_s=med,
                  notes=extra)
    if "mixlab --reference" in med and "matchering" in med:
        r = med["mixlab --reference"] / med["matchering"]
        result["mixlab_reference_over_matchering"] = dict(ratio=r, goal="<= 0.333", met=r <= 1 / 3)
    if "mixlab --all-targets" in med and "ffmpeg loudnorm 2-pass" in med:
        r = med["mixlab --all-targets"] / med["ffmpeg loudnorm 2-pass"]
        result["mixlab_all_targets_over_ffmpeg_loudnorm"] = dict(ratio=r, goal="< 1", met=r < 1)
    return result


# --------------------------------------------------------------------------- report
def _f(v, fmt="{:+.2f}", none="") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return none
    return fmt.format(v)


def print_table(rows: list[dict]) -> None:
    hdr = (f"{'song':16s} {'tool':10s} {'mode':30s} {'tgt':>6s} {'I LUFS':>7s} {'err LU':>7s} {'TP dBTP':>7s} "
           f"{'ceil':>5s} {'over':>5s} {'PLR':>5s} {'LRA':>5s} {'clip':>6s} {'tonal':>6s} {'dL ref':>6s} "
           f"{'len ms':>7s} {'time s':>6s}  notes")
    log(hdr)
    log("-" * len(hdr))
    for r in rows:
        if "error" in r:
            log(f"{r['song']:16s} {r.get('tool', ''):10s} {r.get('mode', ''):30s}  ERROR: {r['error']}")
            continue
        notes = list(r.get("notes", [])) + r.get("meter_disagreements", [])
        log(f"{r['song']:16s} {r['tool']:10s} {r['mode'][:30]:30s} {_f(r.get('target_lufs'), '{:.1f}'):>6s} "
            f"{r['integrated_lufs']:7.2f} {_f(r.get('loudness_error_lu')):>7s} {r['true_peak_dbtp']:7.2f} "
            f"{_f(r.get('ceiling_dbtp'), '{:.1f}'):>5s} {_f(r.get('tp_over_ceiling_db'), '{:.2f}'):>5s} "
            f"{r['plr_db']:5.1f} {_f(r.get('lra_lu'), '{:.1f}'):>5s} {r['clipped_samples']:6d} "
            f"{_f(r.get('tonal_match_error_db'), '{:.2f}'):>6s} {_f(r.get('loudness_diff_to_ref_lu')):>6s} "
            f"{_f(r.get('length_diff_ms'), '{:+.1f}'):>7s} {_f(r.get('wall_s'), '{:.1f}'):>6s}  {'; '.join(notes)}")


def summarise(rows: list[dict]) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if "error" in r or r["tool"] == "input":
            continue
        kind = "reference" if "tonal_match_error_db" in r else "target"
        key = f"{r['tool']} {'mp3' if r['mode'].startswith('mp3') else kind}"
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        s = dict(n=len(rs))
        errs = [r["loudness_error_lu"] for r in rs if "loudness_error_lu" in r]
        if errs:
            s["max_abs_loudness_error_lu"] = max(abs(e) for e in errs)
            s["mean_loudness_error_lu"] = statistics.fmean(errs)
        s["max_true_peak_over_ceiling_db"] = max(r.get("tp_over_ceiling_db", 0.0) for r in rs)
        s["outputs_over_ceiling"] = sum(r.get("tp_over_ceiling_db", 0.0) > 0.0 for r in rs)
        s["outputs_over_0dbtp"] = sum(r["true_peak_dbtp"] > 0.0 for r in rs)
        s["clipped_samples_total"] = sum(r["clipped_samples"] for r in rs)
        s["max_abs_length_diff_ms"] = max(abs(r.get("length_diff_ms", 0.0)) for r in rs)
        tonal = [r["tonal_match_error_db"] for r in rs if "tonal_match_error_db" in r]
        if tonal:
            s["tonal_match_error_db_mean"] = statistics.fmean(tonal)
            s["tonal_match_error_db_max"] = max(tonal)
            s["max_abs_loudness_diff_to_ref_lu"] = max(abs(r["loudness_diff_to_ref_lu"]) for r in rs)
        out[key] = s
    base = [r["tonal_match_error_db"] for r in rows if r.get("tool") == "input" and "tonal_match_error_db" in r]
    if base:
        out["input (unprocessed) reference"] = dict(n=len(base), tonal_match_error_db_mean=statistics.fmean(base),
                                                    tonal_match_error_db_max=max(base))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", nargs="*", help="song ids (default: all in bench/songs/manifest.json)")
    ap.add_argument("--targets", help="comma-separated platforms for single --target runs (default: all)")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats on the 3-minute excerpt (default 3)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["mixlab", "matchering", "ffmpeg", "speed", "songs"],
                    help="leave parts out")
    ap.add_argument("--no-mixlab-analysis", action="store_true", help="don't use mixlab.analysis as a third meter")
    ap.add_argument("--snapshot", nargs="?", const="HEAD", metavar="REV",
                    help="benchmark mixlab's src/ as committed at REV (default HEAD), not the working tree")
    args = ap.parse_args(argv)
    skip = set(args.skip)
    mixlab_src = bl.snapshot_src(args.snapshot) if args.snapshot else bl.REPO_DIR / "src"
    if args.snapshot:
        log(f"mixlab source: snapshot of {args.snapshot} in {mixlab_src}")

    if not bl.MANIFEST.exists():
        raise SystemExit("bench/songs/manifest.json missing: run bench/render_songs.py first")
    manifest = json.loads(bl.MANIFEST.read_text())
    platforms, platforms_source = load_platforms(mixlab_src)
    single_targets = args.targets.split(",") if args.targets else list(platforms)
    for t in single_targets:
        if t not in platforms:
            raise SystemExit(f"unknown platform {t!r}; known: {', '.join(platforms)}")

    mixlab_cmd, mixlab_note = (None, "skipped (--skip mixlab)") if "mixlab" in skip else bl.find_mixlab("master")
    if mixlab_cmd is None:
        log(f"mixlab: SKIPPED, `mixlab master --help` does not work: {mixlab_note}")
    else:
        log(f"mixlab: {' '.join(mixlab_cmd)} ({mixlab_note})")
    mixlab_json = bool(mixlab_cmd) and "--json" in mixlab_note
    versions = tool_versions(mixlab_cmd)
    log(f"versions: {versions}")
    log(f"platform targets from {platforms_source}: " + ", ".join(f"{k} {v[0]:g}/{v[1]:g}" for k, v in platforms.items()))

    versions["mixlab_source"] = (f"git {args.snapshot} snapshot" if args.snapshot else "working tree") + f": {mixlab_src}"
    meter = Meter(use_mixlab_analysis=not args.no_mixlab_analysis, mixlab_src=mixlab_src)
    run_dir = bl.OUT_DIR / "files"
    started = dt.datetime.now().astimezone()
    rows: list[dict] = []
    if "songs" not in skip:
        for song in manifest["songs"]:
            if args.songs and song["id"] not in args.songs:
                continue
            rows += bench_song(song, meter=meter, mixlab_cmd=mixlab_cmd, mixlab_json=mixlab_json, platforms=platforms,
                               single_targets=single_targets, skip=skip, out_dir=run_dir)
    speed = None
    if "speed" not in skip and manifest.get("speed"):
        log("== speed: " + manifest["speed"]["input"])
        speed = bench_speed(manifest["speed"], mixlab_cmd=mixlab_cmd, skip=skip, repeats=args.repeats, out_dir=run_dir)

    log()
    print_table(rows)
    summary = summarise(rows)
    log()
    log("summary:")
    for key, s in summary.items():
        log(f"  {key}: " + ", ".join(f"{k}={_f(v, '{:.2f}') if isinstance(v, float) else v}" for k, v in s.items()))
    disagreements = [(r["file"], d) for r in rows if "file" in r for d in r.get("meter_disagreements", [])]
    log(f"meter cross-check (own BS.1770 meter vs ffmpeg ebur128"
        f"{' and mixlab.analysis' if meter.mixlab_analysis else ''}), tolerance {CROSSCHECK_TOL_DB} dB: "
        + ("all agree" if not disagreements else f"{len(disagreements)} disagreements"))
    for f, d in disagreements:
        log(f"  {f}: {d}")
    if speed:
        log()
        log(f"speed on {speed['input']} ({speed['duration_s']:.0f} s), median of {speed['repeats']}:")
        for k, v in speed["median_s"].items():
            log(f"  {k:26s} {v:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in speed['times_s'][k])}"
                + (f"  ({speed['notes'][k]} mode)" if k in speed["notes"] else ""))
        for key, label in [("mixlab_reference_over_matchering", "mixlab --reference / matchering"),
                           ("mixlab_all_targets_over_ffmpeg_loudnorm", "mixlab --all-targets / ffmpeg loudnorm")]:
            if key in speed:
                v = speed[key]
                log(f"  {label}: {v['ratio']:.3f} (goal {v['goal']}: {'MET' if v['met'] else 'NOT MET'})")
        if not mixlab_cmd:
            log("  mixlab ratios: not measured (mixlab skipped)")

    results = dict(schema="mixlab.bench.master/1", started=started.isoformat(timespec="seconds"),
                   finished=dt.datetime.now().astimezone().isoformat(timespec="seconds"), versions=versions,
                   mixlab=mixlab_note if mixlab_cmd else f"skipped: {mixlab_note}", platforms=platforms,
                   platforms_source=platforms_source, loudnorm_target=LOUDNORM_TARGET,
                   reference_ceiling_dbtp=REFERENCE_CEILING_DBTP, crosscheck_tolerance_db=CROSSCHECK_TOL_DB,
                   third_octave_centres_hz=bl.THIRD_OCTAVE_CENTRES_HZ, third_octave_edges_hz=bl.THIRD_OCTAVE_EDGES_HZ,
                   rows=rows, summary=summary, speed=speed, songs=manifest["songs"])
    stamp = started.strftime("%Y%m%d-%H%M%S")
    bl.write_json(bl.OUT_DIR / "results.json", results)
    bl.write_json(bl.OUT_DIR / f"results-{stamp}.json", results)
    log(f"\nwrote {bl.OUT_DIR / 'results.json'} (and results-{stamp}.json); audio in {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
