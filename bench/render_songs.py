"""Render the benchmark songs from Debian's LMMS demo projects, and build their references.

Usage (from the repository root)::

    apt-get install lmms lmms-common ffmpeg
    .venv/bin/python bench/render_songs.py [--only ID ...] [--timeout-s 900]

Writes into ``bench/songs/`` (gitignored):

* ``raw/<id>.wav``      the LMMS render, 44.1 kHz stereo 32-bit float (may peak above 0 dBFS);
* ``<id>.wav``          the benchmark input: the raw render turned down (never up) so its sample
                        peak is at most -1 dBFS, as a mix would be bounced, 24-bit PCM;
* ``refs/<id>.ref.wav`` a loud "mastered" version of the song, used as the reference for a
                        *different* song (see ``REFERENCE_FOR``), made with ffmpeg (below);
* ``speed_3min.wav``    a 3:00 excerpt of one song, for the wall-time comparisons;
* ``manifest.json``     what was made, with licences, durations and loudness.

Idempotent: every file that already exists and reads back as valid is kept. LMMS is run with a
time limit per song (its process group is killed on timeout), and its exit status is not
trusted either way: LMMS 1.2.2 sometimes crashes on exit *after* writing a complete file, so a
render is accepted when the WAV reads back with the expected rate, channels and length.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

SAMPLE_RATE = 44100
PEAK_CEILING_DBFS = -1.0
REFERENCE_TARGET_LUFS = -10.0
REFERENCE_LIMIT_DBFS = -1.0
SPEED_SONG = "axe-from-the-80s"
SPEED_DURATION_S = 180.0

DEMO_DIRS = [Path("/usr/share/lmms/projects/demos"), Path("/usr/share/games/lmms/projects/demos")]

# Genres are ours, judged from tempo and instrumentation; the authors state none.
# Licences are from /usr/share/doc/lmms-common/copyright (Debian lmms-common 1.2.2).
SONGS = [
    dict(id="mauiwowi", project="Alf42red-Mauiwowi.mmpz", title="Mauiwowi", author="Alf42red (Armin Heller)",
         genre="reggae", licence="CC-BY-SA-3.0", copyright="2010-2011 Armin Heller", expected_s=98.8),
    dict(id="dear-jon-doe", project="StrictProduction-DearJonDoe.mmp", title="Dear Jon Doe",
         author="StrictProduction", genre="hip-hop (87 BPM, sampled guitars, vinyl noise)",
         licence="GPL-2+ (covered by the package's 'Files: *' stanza)", copyright="LMMS developers and contributors",
         expected_s=204.1),
    dict(id="twilight-area", project="CapDan/CapDan-TwilightArea-OriginalByAlf42red.mmpz", title="Twilight Area",
         author="CapDan (Der Daniel), original by Alf42red", genre="drum & bass (170 BPM, liquid)",
         licence="CC-BY-SA-3.0", copyright="2010-2011 Armin Heller, 2011 Der Daniel (CapDan)", expected_s=149.6),
    dict(id="zero-sum-game", project="CapDan/CapDan-ZeroSumGame-OriginalByZakarra.mmpz", title="Zero Sum Game",
         author="CapDan (Der Daniel), original by Zakarra", genre="dubstep (144 BPM, sub and wobble bass)",
         licence="Artistic-2.0", copyright="2011 Der Daniel (CapDan)", expected_s=233.3),
    dict(id="axe-from-the-80s", project="Thomasso-AxeFromThe80s.mmpz", title="Axe From The 80s", author="Thomasso",
         genre="80s rock (guitar, slap bass, acoustic kit)", licence="Artistic-2.0", copyright="2009 Thomasso",
         expected_s=234.9),
    dict(id="cpu", project="EsoXLB-CPU.mmpz", title="CPU", author="E.SoX (lowbudget)",
         genre="electro / chiptune (SID and TB-303-style synths, 128 BPM)", licence="Artistic-2.0",
         copyright="2010 E.SoX (lowbudget)", expected_s=236.2),
]

# song id -> id of the song whose mastered version is its reference (never itself).
REFERENCE_FOR = {
    "mauiwowi": "dear-jon-doe",
    "dear-jon-doe": "mauiwowi",
    "twilight-area": "zero-sum-game",
    "zero-sum-game": "twilight-area",
    "axe-from-the-80s": "cpu",
    "cpu": "axe-from-the-80s",
}


def log(msg: str) -> None:
    print(msg, flush=True)


def find_demo_dir() -> Path:
    for d in DEMO_DIRS:
        if d.is_dir():
            return d
    raise SystemExit("LMMS demo projects not found: apt-get install lmms lmms-common")


def valid_wav(path: Path, *, min_duration_s: float, num_channels: int = 2) -> bool:
    try:
        info = sf.info(str(path))
    except Exception:
        return False
    return (info.samplerate == SAMPLE_RATE and info.channels == num_channels
            and info.frames >= min_duration_s * SAMPLE_RATE)


# --------------------------------------------------------------------------- LMMS rendering
def run_lmms(project: Path, out_wav: Path, *, valid, timeout_s: float, attempts: int,
             extra_env: dict | None = None, nice: bool = False) -> tuple[float, str]:
    """Render ``project`` with LMMS to ``out_wav`` through a partial file; return (seconds, status).

    Each attempt runs in its own process group, killed at the time limit. LMMS's exit status is
    only reported: 1.2.2 sometimes crashes on exit after writing a complete file, so an attempt
    counts when ``valid(partial)`` says the file is complete. Raises when no attempt does.
    """
    lmms = shutil.which("lmms")
    if not lmms:
        raise SystemExit("lmms not found: apt-get install lmms lmms-common")
    partial = out_wav.with_name(f".{out_wav.stem}.partial.wav")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(extra_env or {}))
    cmd = (["nice", "-n", "19"] if nice else []) + [
        lmms, "--allowroot", "render", str(project), "-f", "wav", "-a", "-s", str(SAMPLE_RATE), "-o", str(partial)]
    last = ""
    for attempt in range(1, attempts + 1):
        partial.unlink(missing_ok=True)
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout_s)
            status = f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            status = f"killed after {timeout_s:.0f} s time limit"
        dt = time.monotonic() - t0
        if valid(partial):
            partial.replace(out_wav)
            return dt, status
        tail = err.decode(errors="replace").strip().splitlines()[-3:] if err else []
        last = f"attempt {attempt}: {status}, {dt:.0f} s: {' | '.join(t[-120:] for t in tail)}"
        log(f"  {project.name}: no valid render ({last})")
    partial.unlink(missing_ok=True)
    raise RuntimeError(f"could not render {project}: {last}")


def render_raw(song: dict, demo_dir: Path, raw_path: Path, *, timeout_s: float, attempts: int) -> None:
    min_s = 0.9 * song["expected_s"]
    if valid_wav(raw_path, min_duration_s=min_s):
        log(f"  raw render exists: {raw_path.name}")
        return
    project = demo_dir / song["project"]
    if not project.exists():
        raise SystemExit(f"{project} missing (lmms-common version?)")
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    dt, status = run_lmms(project, raw_path, valid=lambda p: valid_wav(p, min_duration_s=min_s),
                          timeout_s=timeout_s, attempts=attempts)
    if status != "exit 0":
        log(f"  note: LMMS {status}, but the file is complete; keeping it")
    log(f"  rendered {raw_path.name} in {dt:.0f} s ({status})")


# --------------------------------------------------------------------------- inputs
def prepare_input(raw_path: Path, in_path: Path, min_s: float) -> float:
    """Write the benchmark input; return the gain applied (dB, <= 0)."""
    if valid_wav(in_path, min_duration_s=min_s) and in_path.stat().st_mtime >= raw_path.stat().st_mtime:
        return float("nan")
    audio, sr = bl.read_audio(raw_path)
    peak_db = bl.sample_peak_dbfs(audio)
    gain_db = min(0.0, PEAK_CEILING_DBFS - peak_db)
    audio = audio * 10.0 ** (gain_db / 20.0)
    tmp = in_path.with_name(f".{in_path.stem}.tmp.wav")
    sf.write(str(tmp), audio.T, sr, subtype="PCM_24")
    tmp.replace(in_path)
    log(f"  input {in_path.name}: raw sample peak {peak_db:+.2f} dBFS, gain {gain_db:+.2f} dB, 24-bit")
    return gain_db


def make_excerpt(src: Path, dst: Path, duration_s: float) -> None:
    if valid_wav(dst, min_duration_s=duration_s - 0.01) and dst.stat().st_mtime >= src.stat().st_mtime:
        return
    audio, sr = bl.read_audio(src)
    n = int(round(duration_s * sr))
    if audio.shape[1] < n:
        raise RuntimeError(f"{src} is shorter than {duration_s} s")
    x = audio[:, :n].copy()
    fade_in, fade_out = int(0.01 * sr), int(2.0 * sr)
    x[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in)
    x[:, -fade_out:] *= np.cos(np.linspace(0.0, math.pi / 2, fade_out)) ** 2
    tmp = dst.with_name(f".{dst.stem}.tmp.wav")
    sf.write(str(tmp), x.T, sr, subtype="PCM_24")
    tmp.replace(dst)
    log(f"  excerpt {dst.name}: first {duration_s:.0f} s of {src.name}, 10 ms fade-in, 2 s fade-out")


# --------------------------------------------------------------------------- references
def _ffmpeg_master(src: Path, dst: Path, gain_db: float) -> None:
    limit = 10.0 ** (REFERENCE_LIMIT_DBFS / 20.0)
    chain = ",".join([
        # gentle glue compression, then gain into a lookahead limiter run at 4x the rate so that
        # inter-sample peaks are caught too; back to 44.1 kHz with the soxr resampler.
        "acompressor=threshold=0.1:ratio=2:attack=20:release=200:knee=4",
        f"volume={gain_db:.3f}dB",
        f"aresample={SAMPLE_RATE * 4}:resampler=soxr",
        f"alimiter=limit={limit:.6f}:attack=2:release=80:level=disabled:latency=1",
        f"aresample={SAMPLE_RATE}:resampler=soxr",
    ])
    cmd = [bl.ffmpeg_bin(), "-hide_banner", "-nostats", "-nostdin", "-loglevel", "error", "-y", "-i", str(src),
           "-af", chain, "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s24le", str(dst)]
    subprocess.run(cmd, check=True)


def make_reference(src: Path, dst: Path, min_s: float) -> dict:
    """Master ``src`` loud (about -10 LUFS, limiter at -1 dBFS) with ffmpeg; iterate the drive gain."""
    if valid_wav(dst, min_duration_s=min_s) and dst.stat().st_mtime >= src.stat().st_mtime:
        m = bl.ffmpeg_ebur128(dst)
        return dict(integrated_lufs=m.integrated_lufs, true_peak_dbtp=m.true_peak_dbtp, drive_db=None)
    src_lufs = bl.ffmpeg_ebur128(src).integrated_lufs
    tmp = dst.with_name(f".{dst.stem}.tmp.wav")
    gain_db = REFERENCE_TARGET_LUFS - src_lufs + 2.0  # the compressor and limiter take a few dB off
    best = None
    for _ in range(6):
        _ffmpeg_master(src, tmp, gain_db)
        m = bl.ffmpeg_ebur128(tmp)
        err = m.integrated_lufs - REFERENCE_TARGET_LUFS
        best = (gain_db, m)
        if abs(err) <= 0.15:
            break
        # limiting makes loudness grow by less than the gain: step by 1.5x the error
        gain_db -= 1.5 * err
    tmp.replace(dst)
    gain_db, m = best
    log(f"  reference {dst.name}: drive {gain_db:+.2f} dB -> {m.integrated_lufs:.2f} LUFS, "
        f"{m.true_peak_dbtp:.2f} dBTP (ffmpeg ebur128)")
    return dict(integrated_lufs=m.integrated_lufs, true_peak_dbtp=m.true_peak_dbtp, drive_db=gain_db)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="song ids to render (default: all)")
    ap.add_argument("--timeout-s", type=float, default=900.0, help="time limit per LMMS render (default 900 s)")
    ap.add_argument("--attempts", type=int, default=2, help="LMMS attempts per song (default 2)")
    args = ap.parse_args(argv)

    demo_dir = find_demo_dir()
    bl.SONGS_DIR.mkdir(parents=True, exist_ok=True)
    songs = [s for s in SONGS if not args.only or s["id"] in args.only]
    entries = {}
    for song in songs:
        log(f"{song['id']}: {song['project']}")
        raw = bl.SONGS_DIR / "raw" / f"{song['id']}.wav"
        render_raw(song, demo_dir, raw, timeout_s=args.timeout_s, attempts=args.attempts)
        inp = bl.SONGS_DIR / f"{song['id']}.wav"
        prepare_input(raw, inp, 0.9 * song["expected_s"])
        entries[song["id"]] = song

    refs = {}
    for song in SONGS:
        ref_id = REFERENCE_FOR[song["id"]]
        src = bl.SONGS_DIR / f"{ref_id}.wav"
        if song["id"] not in entries or not src.exists():
            continue
        ref_song = next(s for s in SONGS if s["id"] == ref_id)
        dst = bl.SONGS_DIR / "refs" / f"{ref_id}.ref.wav"
        dst.parent.mkdir(parents=True, exist_ok=True)
        if ref_id not in refs:
            refs[ref_id] = make_reference(src, dst, 0.9 * ref_song["expected_s"])

    speed = None
    speed_src = bl.SONGS_DIR / f"{SPEED_SONG}.wav"
    if speed_src.exists():
        speed_path = bl.SONGS_DIR / "speed_3min.wav"
        make_excerpt(speed_src, speed_path, SPEED_DURATION_S)
        speed = dict(input="speed_3min.wav", source=SPEED_SONG, duration_s=SPEED_DURATION_S,
                     reference=f"refs/{REFERENCE_FOR[SPEED_SONG]}.ref.wav")

    # Manifest: everything present on disk, measured.
    manifest = dict(schema="mixlab.bench.songs/1", sample_rate=SAMPLE_RATE,
                    lmms=_lmms_version(), input_peak_ceiling_dbfs=PEAK_CEILING_DBFS,
                    reference_recipe=dict(
                        target_lufs=REFERENCE_TARGET_LUFS, limiter_dbfs=REFERENCE_LIMIT_DBFS,
                        ffmpeg_chain="acompressor(thr -20 dB, 2:1, 20/200 ms) -> volume(drive) -> 4x soxr -> "
                                     "alimiter(-1 dBFS, 2/80 ms) -> 44.1 kHz soxr; drive iterated to -10 LUFS"),
                    songs=[], speed=speed)
    for song in SONGS:
        inp = bl.SONGS_DIR / f"{song['id']}.wav"
        ref_id = REFERENCE_FOR[song["id"]]
        ref = bl.SONGS_DIR / "refs" / f"{ref_id}.ref.wav"
        if not inp.exists():
            continue
        info = sf.info(str(inp))
        m = bl.ffmpeg_ebur128(inp)
        manifest["songs"].append({
            **{k: v for k, v in song.items() if k != "expected_s"},
            "input": inp.name, "duration_s": round(info.frames / info.samplerate, 2),
            "input_lufs": m.integrated_lufs, "input_true_peak_dbtp": m.true_peak_dbtp, "input_lra_lu": m.lra_lu,
            "reference": f"refs/{ref.name}" if ref.exists() else None, "reference_song": ref_id,
        })
    bl.write_json(bl.MANIFEST, manifest)
    log(f"wrote {bl.MANIFEST}")
    for s in manifest["songs"]:
        log(f"  {s['id']:18s} {s['duration_s']:6.1f} s  {s['input_lufs']:6.1f} LUFS  {s['input_true_peak_dbtp']:6.2f} dBTP"
            f"  ref={s['reference']}  [{s['licence']}]")
    return 0


def _lmms_version() -> str | None:
    try:
        out = subprocess.run(["lmms", "--allowroot", "--version"], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, QT_QPA_PLATFORM="offscreen")).stdout
        return out.splitlines()[0].strip() if out else None
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
