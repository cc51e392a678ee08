"""Render per-track stems of the LMMS demo songs, such that the stems sum to the creator's mix.

Usage (from the repository root)::

    apt-get install lmms lmms-common gcc
    .venv/bin/python bench/render_stems.py [--only ID ...] [--jobs 1] [--timeout-s 600]

Method. The project XML (``.mmpz`` is Qt's ``qCompress``: a 4-byte big-endian length, then zlib)
is rewritten once per track with every other track silenced, and each copy is rendered in a
fresh LMMS process. Silenced tracks are not muted: they are sent to an added FX channel that is
muted, at volume 0 and sends nowhere, so they still play. Muting them changed the other stems:
all ZynAddSubFX instances run inside LMMS on one shared random generator, so which notes play
decides which random numbers (oscillator phases) each instrument gets. Tracks inside the
Beat/Bassline (BB) container are separate instruments (kick, snare, hats, ...) and get one stem
each. Automation tracks stay as they are (they automate master volume, filters, ...).

LMMS is run with an ``LD_PRELOAD`` shim (compiled here with gcc) that holds it to one mixer
thread (``QThread::idealThreadCount`` returns 1) and fixes its random seeds (``srand`` always
seeds 12345, ``time`` returns a constant). Every copy, including the full-mix render the stems
are checked against, gets a silent "pin" track whose empty pattern ends where the song ends
(LMMS 1.2.2 leaves muted tracks out of the song length; with nothing muted it is a safeguard).
FX-mixer and master effects stay baked into each stem, except dynamics effects on a channel
that several tracks reach (see ``shared_dynamics``); the residual of the stem sum against the
full render is measured and reported.

Writes, per song, into ``bench/songs/stems/<id>/`` (gitignored):

* ``<NN>-<name>.wav``      one stem per audible track, 44.1 kHz stereo 32-bit float, all of the
                           same length. ``NN`` is the track's place in the project (stable, so
                           gaps mark silent or muted tracks); ``name`` is the sanitised track
                           name, or the plugin (and preset) when the name is a default one;
* ``mix.wav``              the sum of the stems (float32): the "creator's mix";
* ``stems_manifest.json``  tracks, plugins, effects, peaks, loudness, render times, licence, and
                           the residual of the stem sum against a full render made the same way.

Work files (variant projects, the full render, per-track render records) are kept under
``bench/songs/stems_work/<id>/``. Idempotent: a stem that exists with the right length and has a
render record is kept; delete the song's two folders to start over. Tracks that render silent
(sample peak below -90 dBFS) or are muted in the original are listed in the manifest but get no
file. LMMS runs under ``nice -n 19``, at most ``--jobs`` at a time, each with a time limit (its
process group is killed) and up to ``--attempts`` tries; its exit status is ignored (LMMS 1.2.2
sometimes crashes on exit after writing a complete file).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402
from render_songs import SAMPLE_RATE, SONGS, _lmms_version, find_demo_dir, log, run_lmms, valid_wav  # noqa: E402

STEMS_DIR = bl.SONGS_DIR / "stems"
WORK_DIR = bl.SONGS_DIR / "stems_work"
SILENCE_DBFS = -90.0
DEFAULT_SONGS = ["mauiwowi", "twilight-area", "axe-from-the-80s", "cpu"]
TICKS_PER_BAR_4_4 = 192
LADSPA_DIRS = [Path("/usr/lib/x86_64-linux-gnu/lmms/ladspa"), Path("/usr/lib/lmms/ladspa"), Path("/usr/lib/ladspa"),
               Path("/usr/local/lib/ladspa"), Path("/usr/lib/x86_64-linux-gnu/ladspa")]

# Track types in LMMS 1.2 project files.
TRACK_INSTRUMENT, TRACK_BB, TRACK_SAMPLE, TRACK_AUTOMATION = "0", "1", "2", "5"
AUDIO_TRACK_TYPES = (TRACK_INSTRUMENT, TRACK_BB, TRACK_SAMPLE)
DYNAMICS_RE = re.compile(r"limit|compress|maximi|dynamics|dyson|^sc[1-4]m?$|^se4$|expand", re.I)
TCO_TAGS = ("pattern", "bbtco", "sampletco", "automationpattern")
GENERIC_NAMES = {"", "default preset", "standard-preset", "default", "defaultpreset", "instrument track",
                 "sample track", "new track"}

SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
/* LMMS starts idealThreadCount() - 1 mixer worker threads: none, so the main thread renders. */
int _ZN7QThread16idealThreadCountEv(void) { return 1; }
/* Fixed seeds: every srand() seeds the same value, and time() (often the seed) is constant. */
void srand(unsigned int seed) {
    (void)seed;
    void (*real_srand)(unsigned int) = (void (*)(unsigned int))dlsym(RTLD_NEXT, "srand");
    real_srand(12345u);
}
time_t time(time_t *t) { time_t v = (time_t)1300000000; if (t) *t = v; return v; }
"""


# --------------------------------------------------------------------------- project files
def load_project(path: Path) -> bytes:
    """Project XML bytes from ``.mmp`` (plain) or ``.mmpz`` (qCompress: 4-byte BE length + zlib)."""
    data = path.read_bytes()
    if path.suffix == ".mmpz":
        (length,) = struct.unpack(">I", data[:4])
        data = zlib.decompress(data[4:])
        if len(data) != length:
            raise RuntimeError(f"{path}: qCompress length {length} != {len(data)}")
    return data


@dataclass
class TrackInfo:
    index: int            # NN: place in the project (song-level order, BB instruments at the first BB track)
    where: tuple          # ("song", i) or ("bb", j): position in song/trackcontainer or in the BB container
    kind: str             # instrument | sample | bb-instrument
    name: str
    plugin: str | None
    preset: str | None    # zyn preset name, sample file, ...
    fx_channel: int | None
    fx_channel_name: str | None
    track_effects: list = field(default_factory=list)
    fx_channel_effects: list = field(default_factory=list)
    num_tcos: int = 0
    muted_in_original: bool = False

    @property
    def stem_name(self) -> str:
        base = self.name
        if base.strip().lower() in GENERIC_NAMES:
            # A default name says nothing: use the FX channel's name (unless it is a default
            # "Master" / "FX <n>" too) and the preset, or else the plugin.
            bus = self.fx_channel_name or ""
            if bus == "Master" or bus == f"FX {self.fx_channel}":
                bus = ""
            base = "-".join(x for x in (bus, self.preset or self.plugin or "track") if x)
        base = re.sub(r"\.(ogg|wav|ds|flac|mp3|sf2|xiz)$", "", base.strip(), flags=re.I)
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-_") or "track"
        return f"{self.index:02d}-{base[:48]}"


def _effects(chain: ET.Element | None) -> list[dict]:
    out = []
    if chain is None:
        return out
    for e in chain.iter("effect"):
        d = {"plugin": e.get("name")}
        key = e.find("key")
        if key is not None:
            attrs = {a.get("name"): a.get("value") for a in key.findall("attribute")}
            if "file" in attrs:
                d["ladspa"] = f"{attrs.get('file')}:{attrs.get('plugin')}"
                d["available"] = any((p / f"{attrs['file']}.so").exists() for p in LADSPA_DIRS)
        out.append(d)
    return out


def _bb_container(song: ET.Element) -> ET.Element | None:
    for t in song.find("trackcontainer").findall("track"):
        if t.get("type") == TRACK_BB:
            tc = t.find("bbtrack/trackcontainer")
            if tc is not None:
                return tc
    return None


def _describe(t: ET.Element, index: int, where: tuple, kind: str, fx_names: dict, fx_effects: dict) -> TrackInfo:
    plugin = preset = None
    fxch = None
    track_effects: list = []
    it = t.find("instrumenttrack")
    if it is not None:
        ins = it.find("instrument")
        plugin = ins.get("name") if ins is not None else None
        fxch = int(it.get("fxch", "0"))
        track_effects = _effects(it.find("fxchain"))
        if plugin == "audiofileprocessor":
            afp = ins.find("audiofileprocessor")
            preset = Path(afp.get("src", "")).name if afp is not None else None
        elif plugin == "zynaddsubfx":
            for info in ins.iter("INFO"):
                s = info.find("string[@name='name']")
                if s is not None and (s.text or "").strip():
                    preset = s.text.strip()
                    break
    st = t.find("sampletrack")
    if st is not None:
        plugin = "sampletrack"
        fxch = int(st.get("fxch", "0"))
        track_effects = _effects(st.find("fxchain"))
        srcs = sorted({Path(s.get("src", "")).name for s in t.findall("sampletco") if s.get("src")})
        preset = ", ".join(srcs) or None
    return TrackInfo(index=index, where=where, kind=kind, name=t.get("name", ""), plugin=plugin, preset=preset,
                     fx_channel=fxch, fx_channel_name=fx_names.get(fxch), track_effects=track_effects,
                     fx_channel_effects=fx_effects.get(fxch, []),
                     num_tcos=sum(1 for c in t if c.tag in TCO_TAGS), muted_in_original=t.get("muted") == "1")


def enumerate_tracks(xml: bytes) -> list[TrackInfo]:
    """Every audio-producing track: song-level instrument and sample tracks, and BB instruments."""
    root = ET.fromstring(xml)
    song = root.find("song")
    fx_names, fx_effects = {}, {}
    fxm = song.find("fxmixer")
    if fxm is not None:
        for c in fxm.findall("fxchannel"):
            fx_names[int(c.get("num"))] = c.get("name")
            fx_effects[int(c.get("num"))] = _effects(c)
    tracks: list[TrackInfo] = []
    bb_done = False
    for i, t in enumerate(song.find("trackcontainer").findall("track")):
        ty = t.get("type")
        if ty in (TRACK_INSTRUMENT, TRACK_SAMPLE):
            kind = "instrument" if ty == TRACK_INSTRUMENT else "sample"
            tracks.append(_describe(t, len(tracks) + 1, ("song", i), kind, fx_names, fx_effects))
        elif ty == TRACK_BB and not bb_done:
            bb_done = True
            bb = _bb_container(song)
            for j, bt in enumerate(bb.findall("track") if bb is not None else []):
                if bt.get("type") in (TRACK_INSTRUMENT, TRACK_SAMPLE):
                    tracks.append(_describe(bt, len(tracks) + 1, ("bb", j), "bb-instrument", fx_names, fx_effects))
    return tracks


def song_end_ticks(xml: bytes) -> int:
    """End of the last pattern of any originally unmuted song-level audio track (ticks)."""
    song = ET.fromstring(xml).find("song")
    end = 0
    for t in song.find("trackcontainer").findall("track"):
        if t.get("type") not in AUDIO_TRACK_TYPES or t.get("muted") == "1":
            continue
        for c in t:
            if c.tag in TCO_TAGS and c.get("muted", "0") != "1":
                end = max(end, int(c.get("pos", "0")) + int(c.get("len", "0")))
    return end


def _effect_label(e: ET.Element) -> str:
    key = e.find("key")
    attrs = {a.get("name"): a.get("value") for a in key.findall("attribute")} if key is not None else {}
    return attrs.get("plugin") or e.get("name") or ""


def shared_dynamics(xml: bytes, tracks: list[TrackInfo]) -> list[dict]:
    """Dynamics effects (limiters, compressors) on FX channels that two or more tracks reach.

    Such an effect reacts to the sum, so it would treat each solo render differently from the
    full mix and the stems would not add up; these are switched off in every render (the master
    limiter of ``cpu``: that makes its "creator's mix" the pre-limiter mix, which is what a
    mixing benchmark should aim at anyway).
    """
    song = ET.fromstring(xml).find("song")
    fxm = song.find("fxmixer")
    if fxm is None:
        return []
    channels = {int(c.get("num")): c for c in fxm.findall("fxchannel")}
    sends = {n: [int(x.get("channel")) for x in c.findall("send")] for n, c in channels.items()}
    reach = {n: 0 for n in channels}
    for t in tracks:
        if t.muted_in_original or t.num_tcos == 0 or t.fx_channel is None:
            continue
        seen, todo = set(), [t.fx_channel]
        while todo:
            n = todo.pop()
            if n in seen or n not in channels:
                continue
            seen.add(n)
            todo += sends.get(n, []) or ([0] if n != 0 else [])
        for n in seen:
            reach[n] += 1
    out = []
    for n, c in channels.items():
        if reach[n] < 2:
            continue
        for i, e in enumerate(c.iter("effect")):
            label = _effect_label(e)
            if e.get("on", "1") != "0" and DYNAMICS_RE.search(label):
                out.append(dict(fx_channel=n, fx_channel_name=c.get("name"), index=i, effect=label,
                                tracks_reaching=reach[n]))
    return out


def make_variant(xml: bytes, solo: tuple | None, end_ticks: int, disable: list[dict] = ()) -> bytes:
    """The project with only track ``solo`` audible (``None``: the full mix), plus the pin track.

    The effects in ``disable`` (from ``shared_dynamics``) are switched off.
    """
    root = ET.fromstring(xml)
    song = root.find("song")
    tc = song.find("trackcontainer")
    if disable:
        channels = {int(c.get("num")): c for c in song.find("fxmixer").findall("fxchannel")}
        for d in disable:
            list(channels[d["fx_channel"]].iter("effect"))[d["index"]].set("on", "0")
    if solo is not None:
        # The other tracks are not muted but sent to an FX channel that goes nowhere: they still
        # play, so instruments that share a random generator (every ZynAddSubFX instance runs in
        # the LMMS process on one generator) draw the same numbers as in the full mix.
        fxm = song.find("fxmixer")
        silent_ch = 1 + max(int(c.get("num")) for c in fxm.findall("fxchannel"))
        fxm.append(ET.fromstring(f'<fxchannel name="__silent__" num="{silent_ch}" muted="1" soloed="0" volume="0">'
                                 '<fxchain numofeffects="0" enabled="0"/></fxchannel>'))
        where, k = solo
        bb = _bb_container(song)
        candidates = [(("song", i), t) for i, t in enumerate(tc.findall("track"))]
        candidates += [(("bb", j), t) for j, t in enumerate(bb.findall("track") if bb is not None else [])]
        for pos, t in candidates:
            if pos == (where, k) or t.get("type") not in (TRACK_INSTRUMENT, TRACK_SAMPLE):
                continue  # automation and BB tracks stay
            node = t.find("instrumenttrack")
            if node is None:
                node = t.find("sampletrack")
            if node is not None:
                node.set("fxch", str(silent_ch))
    # The pin: a silent instrument whose one empty 1-bar beat pattern ends at the song's end.
    pin = ET.fromstring(
        '<track type="0" name="__length_pin__" muted="0" solo="0">'
        '<instrumenttrack vol="0" pan="0" fxch="0" basenote="57" pitch="0" pitchrange="1" usemasterpitch="1">'
        '<instrument name="tripleoscillator"><tripleoscillator/></instrument></instrumenttrack>'
        f'<pattern pos="{max(0, end_ticks - TICKS_PER_BAR_4_4)}" len="{TICKS_PER_BAR_4_4}" steps="16" '
        'muted="0" type="0" name="pin"/></track>')
    tc.append(pin)
    return b'<?xml version="1.0"?>\n<!DOCTYPE lmms-project>\n' + ET.tostring(root, encoding="utf-8")


# --------------------------------------------------------------------------- LMMS
def build_shim(work_dir: Path) -> Path:
    so = work_dir / "lmms_shim.so"
    src = work_dir / "lmms_shim.c"
    if so.exists() and src.exists() and src.read_text() == SHIM_C:
        return so
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        raise SystemExit("gcc not found: apt-get install -y gcc")
    work_dir.mkdir(parents=True, exist_ok=True)
    src.write_text(SHIM_C)
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(so), str(src), "-ldl"], check=True)
    return so


# --------------------------------------------------------------------------- per song
def _stats(audio: np.ndarray) -> dict:
    return dict(peak_dbfs=round(bl.sample_peak_dbfs(audio), 2),
                loudness_lufs=round(bl.bs1770_loudness(audio, SAMPLE_RATE), 2))


def _fix_length(audio: np.ndarray, num_frames: int) -> np.ndarray:
    if audio.shape[1] >= num_frames:
        return audio[:, :num_frames]
    return np.pad(audio, ((0, 0), (0, num_frames - audio.shape[1])))


def _master_effects(xml: bytes) -> list[dict]:
    fxm = ET.fromstring(xml).find("song/fxmixer")
    for c in fxm.findall("fxchannel") if fxm is not None else []:
        if c.get("num") == "0":
            return _effects(c)
    return []


def render_song(song: dict, demo_dir: Path, shim: Path, args) -> dict:
    sid = song["id"]
    work = WORK_DIR / sid
    out = STEMS_DIR / sid
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    xml = load_project(demo_dir / song["project"])
    tracks = enumerate_tracks(xml)
    end_ticks = song_end_ticks(xml)
    disabled = shared_dynamics(xml, tracks)
    for d in disabled:
        log(f"  {sid}: switching off {d['effect']} on FX channel {d['fx_channel']} ({d['fx_channel_name']}), "
            f"reached by {d['tracks_reaching']} tracks")
    render_kw = dict(extra_env={"LD_PRELOAD": str(shim)}, nice=True, timeout_s=args.timeout_s, attempts=args.attempts)

    # 1. The full mix, rendered the same way (one thread, fixed seeds, pin track).
    full_wav = work / "full.wav"
    full_rec_path = work / "full.json"
    min_frames = int(0.9 * song["expected_s"] * SAMPLE_RATE)
    # A render is current when the project it was made from (kept next to it) is unchanged.
    full_proj = work / "full.mmp"
    full_variant = make_variant(xml, None, end_ticks, disabled)
    if (full_wav.exists() and full_rec_path.exists() and full_proj.exists() and full_proj.read_bytes() == full_variant
            and sf.info(str(full_wav)).frames >= min_frames):
        full_rec = json.loads(full_rec_path.read_text())
    else:
        proj = full_proj
        proj.write_bytes(full_variant)
        dt, status = run_lmms(proj, full_wav, valid=lambda p: valid_wav(p, min_duration_s=min_frames / SAMPLE_RATE),
                              **render_kw)
        full_rec = dict(render_s=round(dt, 1), status=status)
        full_rec_path.write_text(json.dumps(full_rec))
        log(f"  {sid}: full render {dt:.1f} s ({status})")
    num_frames = sf.info(str(full_wav)).frames

    # 2. One render per track.
    def record_path(t: TrackInfo) -> Path:
        return work / f"{t.index:02d}.json"

    def done(t: TrackInfo) -> bool:
        rec = record_path(t)
        if not rec.exists():
            return False
        r = json.loads(rec.read_text())
        proj = work / f"{t.index:02d}.mmp"
        if not proj.exists() or proj.read_bytes() != make_variant(xml, t.where, end_ticks, disabled):
            return False
        if r.get("silent"):
            return True
        try:
            return sf.info(str(out / r["file"])).frames == num_frames
        except Exception:
            return False

    todo = [t for t in tracks if not t.muted_in_original and t.num_tcos > 0 and not done(t)]

    def render_one(t: TrackInfo) -> None:
        proj = work / f"{t.index:02d}.mmp"
        proj.write_bytes(make_variant(xml, t.where, end_ticks, disabled))
        tmp = work / f"{t.index:02d}.wav"
        dt, status = run_lmms(proj, tmp, valid=lambda p: valid_wav(p, min_duration_s=0.9 * num_frames / SAMPLE_RATE),
                              **render_kw)
        audio, _ = bl.read_audio(tmp)
        rec = dict(render_s=round(dt, 1), status=status, frames_rendered=int(audio.shape[1]))
        if audio.shape[1] != num_frames:
            audio = _fix_length(audio, num_frames)
            rec["length_fixed"] = True
        peak = bl.sample_peak_dbfs(audio)
        if peak < SILENCE_DBFS:
            rec.update(silent=True, peak_dbfs=round(peak, 1))
            tmp.unlink()
        else:
            rec["file"] = f"{t.stem_name}.wav"
            if rec.get("length_fixed"):
                sf.write(str(tmp), audio.T.astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
            tmp.replace(out / rec["file"])
        record_path(t).write_text(json.dumps(rec))
        log(f"  {sid}: {t.stem_name:40s} {dt:5.1f} s  peak {peak:7.1f} dBFS"
            + ("  (silent, skipped)" if rec.get("silent") else ""))

    if todo:
        log(f"  {sid}: rendering {len(todo)} of {len(tracks)} tracks, {args.jobs} at a time")
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for f in [pool.submit(render_one, t) for t in todo]:
                f.result()

    # 3. Sum, measure, manifest.
    full, _ = bl.read_audio(full_wav)
    mix = np.zeros_like(full)
    entries = []
    for t in tracks:
        e = dict(index=t.index, name=t.name, kind=t.kind, plugin=t.plugin, preset=t.preset,
                 fx_channel=t.fx_channel, fx_channel_name=t.fx_channel_name, track_effects=t.track_effects,
                 fx_channel_effects=t.fx_channel_effects, file=None)
        if t.muted_in_original:
            e["skipped"] = "muted in the original"
        elif t.num_tcos == 0:
            e["skipped"] = "no patterns"
        else:
            rec = json.loads(record_path(t).read_text())
            e.update(render_s=rec["render_s"], lmms_status=rec["status"])
            if rec.get("length_fixed"):
                e["length_fixed_from_frames"] = rec["frames_rendered"]
            if rec.get("silent"):
                e.update(skipped=f"silent (peak {rec['peak_dbfs']} dBFS)")
            else:
                audio, _ = bl.read_audio(out / rec["file"])
                mix += audio
                e.update(file=rec["file"], duration_s=round(audio.shape[1] / SAMPLE_RATE, 3), **_stats(audio))
        entries.append(e)
    keep = {e["file"] for e in entries if e["file"]}
    for f in out.glob("[0-9][0-9]-*.wav"):
        if f.name not in keep:  # a stem of an earlier, different render
            f.unlink()
    mix_wav = out / "mix.wav"
    tmp = out / ".mix.tmp.wav"
    sf.write(str(tmp), mix.T.astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    tmp.replace(mix_wav)
    residual = mix - full
    residual_db = 10.0 * math.log10(max(float(np.sum(residual ** 2)), bl.LOG_FLOOR)
                                    / max(float(np.sum(full ** 2)), bl.LOG_FLOOR))
    stems = [e for e in entries if e["file"]]
    manifest = dict(
        schema="mixlab.bench.stems/1", song=sid, title=song["title"], author=song["author"],
        licence=song["licence"], copyright=song["copyright"], genre=song["genre"], project=song["project"],
        lmms=_lmms_version(), sample_rate=SAMPLE_RATE, num_frames=num_frames,
        duration_s=round(num_frames / SAMPLE_RATE, 3), song_end_ticks=end_ticks,
        method="one LMMS render per track, others muted; 1 mixer thread and fixed seeds (LD_PRELOAD shim); "
               "silent pin track fixing the song length; FX-mixer and master effects baked in",
        mix=dict(file="mix.wav", **_stats(mix)),
        full_render=dict(render_s=full_rec["render_s"], **_stats(full)),
        residual_vs_full_render_db=round(residual_db, 1),
        effects_switched_off=disabled,
        master_effects=_master_effects(xml),
        num_stems=len(stems),
        render_s_total=round(full_rec["render_s"] + sum(e.get("render_s", 0.0) for e in entries), 1),
        tracks=entries,
    )
    bl.write_json(out / "stems_manifest.json", manifest)
    log(f"  {sid}: {len(stems)} stems of {len(tracks)} tracks, {manifest['duration_s']:.1f} s, "
        f"mix {manifest['mix']['loudness_lufs']:.1f} LUFS, sum - full render: {residual_db:.1f} dB, "
        f"LMMS time {manifest['render_s_total']:.0f} s")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help=f"song ids (default: {' '.join(DEFAULT_SONGS)}); 'all' for every song")
    ap.add_argument("--jobs", type=int, default=1, help="LMMS processes at a time (default 1)")
    ap.add_argument("--timeout-s", type=float, default=600.0, help="time limit per LMMS run (default 600 s)")
    ap.add_argument("--attempts", type=int, default=2, help="tries per LMMS run (default 2)")
    ap.add_argument("--list", action="store_true", help="list the tracks and exit")
    args = ap.parse_args(argv)

    demo_dir = find_demo_dir()
    ids = args.only or DEFAULT_SONGS
    songs = [s for s in SONGS if "all" in ids or s["id"] in ids]
    unknown = set(ids) - {s["id"] for s in SONGS} - {"all"}
    if unknown:
        raise SystemExit(f"unknown song ids: {sorted(unknown)}")
    if args.list:
        for song in songs:
            xml = load_project(demo_dir / song["project"])
            log(f"{song['id']}: end {song_end_ticks(xml)} ticks")
            for t in enumerate_tracks(xml):
                log(f"  {t.stem_name:40s} {t.kind:13s} {t.plugin or '-':18s} {t.preset or '-':24s} "
                    f"fx {t.fx_channel} ({t.fx_channel_name}) tcos {t.num_tcos}"
                    + ("  MUTED" if t.muted_in_original else ""))
        return 0
    shim = build_shim(WORK_DIR)
    t0 = time.monotonic()
    for song in songs:
        log(f"{song['id']}: {song['project']}")
        render_song(song, demo_dir, shim, args)
    log(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
