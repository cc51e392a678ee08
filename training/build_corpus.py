#!/usr/bin/env python3
"""Build mixlab's training corpus: per-track stems, the source's own mix and a labelled manifest.

One command (see training/README.md)::

    python training/build_corpus.py                       # every source, into training/corpus/
    python training/build_corpus.py --only mma --limit 12 # a quick subset
    python training/build_corpus.py --check               # verify what is on disk, print role counts

Per song it writes ``<out>/<source>/<song_id>/``:

* one WAV per track (44.1 kHz, 32-bit float, stereo), dry (synth reverb and chorus off);
* ``mix.wav``: the creator mix, the plain sum of the stems as the source balanced them;
* ``song.json``: source, licence, genre label, tempo, and per track its file, its mixlab role,
  how the role was derived (GM program, GM drum note), and the authored level (MIDI CC7, CC11
  and note velocities as the source wrote them) next to the level measured in the stem.

Everything is reproducible: each song's random choices (key, chord progression, tempo,
soundfonts, groove variants) come from a generator seeded by ``--seed`` and the song id only, so
``--limit``, ``--only`` and ``--jobs`` do not change any song. A song whose ``song.json`` is on
disk with the same build parameters is skipped (resumable); a half-written song lives in a
``.tmp-*`` folder and is redone.

Nothing is downloaded: the material comes from Debian packages (mma, fluidsynth,
fluid-soundfont-gm, timgm6mb-soundfont, avldrums.lv2-soundfont) and PyPI packages (mido,
numpy, soundfile; music21 for the score source).

Reserved songs (kept for an independent evaluation, issue 12) are listed in RESERVED and refused
by :func:`refuse_reserved`, which every source calls before anything is rendered.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

try:
    import mido
except ImportError:  # pragma: no cover - message for the user
    sys.exit("build_corpus needs mido: pip install -e '.[train]'  (or: pip install mido)")

HERE = Path(__file__).resolve().parent
BUILD_VERSION = 3  # 2: notes never released end at the song end; 3: the tail is 2 s at any tempo
SR = 44100
FLUID_GAIN = 0.2  # fluidsynth's own default synth.gain; the same for every stem of every song
TAIL_S = 2.0
MIX_PEAK_DBFS = -6.0  # every song is scaled as a whole so its mix peaks here  # silence after the last event, so release tails are not cut

# ---------------------------------------------------------------------------------------------
# reserved songs: never rendered, used or tuned on (issue 12, item 2)

RESERVED: tuple[str, ...] = (
    # LMMS demos
    "Settel-InnerRecreation",
    "Impulslogik-Zen",
    "Skiessi-Onion",
    "Skiessi-C64",
    "CapDan-ReggaetonTry",
    "CapDan-ReggaeTry",
    "Momo64-esp",
    "Socceroos-Progress",
    "Jousboxx-BuzzerBeater",
    "shorties/DirtyLove",
    # MuseScore demos
    "Brassed Up",
    "Dynamic Strings",
    "Fugue 1",
    "Unclaimed Gift",
)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_RESERVED_KEYS = tuple(_norm(r.split("/")[-1]) for r in RESERVED)


class ReservedSongError(RuntimeError):
    """Raised when a reserved evaluation song is about to be used."""


def refuse_reserved(*names: str) -> None:
    """Raise ReservedSongError if any of ``names`` (song id, title, source path) is reserved.

    The match is on letters and digits only, case-insensitive, anywhere in the name, so
    "Skiessi-Onion.mmpz", "demos/skiessi_onion" and "Fugue 1.mscz" are all refused.

    >>> refuse_reserved("mma-rock128-0")
    >>> for name in ("/usr/share/lmms/projects/demos/Skiessi-Onion.mmpz", "shorties/DirtyLove.mmpz",
    ...              "Brassed_Up.mscz", "unclaimed-gift"):
    ...     try:
    ...         refuse_reserved(name)
    ...     except ReservedSongError:
    ...         print("refused", name)
    refused /usr/share/lmms/projects/demos/Skiessi-Onion.mmpz
    refused shorties/DirtyLove.mmpz
    refused Brassed_Up.mscz
    refused unclaimed-gift
    """
    for name in names:
        key = _norm(str(name))
        for reserved, rkey in zip(RESERVED, _RESERVED_KEYS):
            if rkey and rkey in key:
                raise ReservedSongError(
                    f"reserved for evaluation, never used for training: {name!r} (matches {reserved!r})"
                )


# ---------------------------------------------------------------------------------------------
# labels: General MIDI to mixlab roles (src/mixlab/analysis/roles.py ROLES)

MIXLAB_ROLES = (
    "kick", "snare", "hats", "percussion", "drums", "bass", "lead_vocal", "backing_vocals",
    "guitar", "keys", "pads", "brass", "synth_lead", "fx",
)

GM_PROGRAMS = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel",
    "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ",
    "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion", "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar",
    "Guitar Harmonics", "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)",
    "Fretless Bass", "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola",
    "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs",
    "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2", "Soprano Sax", "Alto Sax",
    "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute",
    "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina", "Lead 1 (square)",
    "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)", "Lead 6 (voice)",
    "Lead 7 (fifths)", "Lead 8 (bass + lead)", "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)",
    "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba",
    "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum",
    "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore",
    "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)

# (first program, last program, role, why) -- the first matching row wins
GM_ROLE_TABLE: tuple[tuple[int, int, str, str], ...] = (
    (0, 7, "keys", "pianos, electric pianos, harpsichord, clavinet"),
    (8, 15, "keys", "chromatic percussion: celesta, glockenspiel, music box, vibraphone, marimba, xylophone, bells, dulcimer"),
    (16, 21, "keys", "organs and accordion"),
    (22, 22, "brass", "harmonica (a reed: mixlab's brass/woodwind)"),
    (23, 23, "keys", "tango accordion"),
    (24, 31, "guitar", "guitars"),
    (32, 39, "bass", "basses, acoustic, electric and synth"),
    (40, 45, "pads", "bowed and pizzicato strings (mixlab's pads/strings)"),
    (46, 46, "keys", "orchestral harp (plucked, played like keys)"),
    (47, 47, "percussion", "timpani"),
    (48, 51, "pads", "string ensembles and synth strings"),
    (52, 54, "backing_vocals", "choir aahs, voice oohs, synth voice (as mixlab's name rule for 'choir')"),
    (55, 55, "fx", "orchestra hit"),
    (56, 63, "brass", "brass"),
    (64, 79, "brass", "reeds and pipes (mixlab's brass/woodwind)"),
    (80, 87, "synth_lead", "synth leads"),
    (88, 95, "pads", "synth pads"),
    (96, 103, "fx", "synth effects"),
    (104, 107, "guitar", "sitar, banjo, shamisen, koto (plucked strings)"),
    (108, 108, "keys", "kalimba"),
    (109, 111, "brass", "bagpipe, fiddle, shanai (melodic leads: brass/woodwind)"),
    (112, 112, "keys", "tinkle bell"),
    (113, 113, "percussion", "agogo"),
    (114, 114, "keys", "steel drums (melodic)"),
    (115, 118, "percussion", "woodblock, taiko, melodic tom, synth drum"),
    (119, 127, "fx", "reverse cymbal and sound effects"),
)

# GM percussion key map (channel 10): piece -> (role, notes)
DRUM_PIECES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("kick", "kick", (35, 36)),
    ("snare", "snare", (37, 38, 40)),
    ("clap", "snare", (39,)),
    ("hihat", "hats", (42, 44, 46)),
    ("cymbals", "hats", (49, 51, 52, 53, 55, 57, 59)),
    ("toms", "percussion", (41, 43, 45, 47, 48, 50)),
    ("perc", "percussion", ()),  # every other note
)
DRUM_NOTE_NAMES = {
    35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick", 38: "Acoustic Snare", 39: "Hand Clap",
    40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat", 43: "High Floor Tom",
    44: "Pedal Hi-Hat", 45: "Low Tom", 46: "Open Hi-Hat", 47: "Low-Mid Tom", 48: "Hi-Mid Tom",
    49: "Crash Cymbal 1", 50: "High Tom", 51: "Ride Cymbal 1", 52: "Chinese Cymbal", 53: "Ride Bell",
    54: "Tambourine", 55: "Splash Cymbal", 56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap",
    59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo", 62: "Mute Hi Conga", 63: "Open Hi Conga",
    64: "Low Conga", 65: "High Timbale", 66: "Low Timbale", 67: "High Agogo", 68: "Low Agogo",
    69: "Cabasa", 70: "Maracas", 71: "Short Whistle", 72: "Long Whistle", 73: "Short Guiro",
    74: "Long Guiro", 75: "Claves", 76: "Hi Wood Block", 77: "Low Wood Block", 78: "Mute Cuica",
    79: "Open Cuica", 80: "Mute Triangle", 81: "Open Triangle",
}
# pieces a recorded avldrums kit plays (its presets follow the GM key map for these notes)
AVL_PIECES = ("kick", "snare", "hihat", "cymbals", "toms")


def gm_role(program: int) -> tuple[str, str]:
    """(role, why) for a General MIDI program number 0..127."""
    for lo, hi, role, why in GM_ROLE_TABLE:
        if lo <= program <= hi:
            return role, why
    raise ValueError(program)


def drum_piece(note: int) -> tuple[str, str]:
    """(piece, role) for a GM drum note."""
    for piece, role, notes in DRUM_PIECES:
        if note in notes:
            return piece, role
    return "perc", "percussion"


# ---------------------------------------------------------------------------------------------
# soundfonts (Debian packages)

SF2_DIR = Path("/usr/share/sounds/sf2")
MELODIC_FONTS = {  # name -> (file, package, licence)
    "FluidR3_GM": ("FluidR3_GM.sf2", "fluid-soundfont-gm", "MIT"),
    "TimGM6mb": ("TimGM6mb.sf2", "timgm6mb-soundfont", "GPL-2"),
}
AVL_KITS = {
    "avl-BlackPearl": ("Black_Pearl_4_LV2.sf2", "avldrums.lv2-soundfont", "GPL-2+"),
    "avl-RedZeppelin": ("Red_Zeppelin_4_LV2.sf2", "avldrums.lv2-soundfont", "GPL-2+"),
}


def font_path(name: str) -> Path:
    entry = MELODIC_FONTS.get(name) or AVL_KITS[name]
    return SF2_DIR / entry[0]


def check_tools(sources: list[str]) -> None:
    missing = []
    if not shutil.which("fluidsynth"):
        missing.append("fluidsynth")
    if "mma" in sources and not shutil.which("mma"):
        missing.append("mma")
    for name, (fname, pkg, _) in {**MELODIC_FONTS, **AVL_KITS}.items():
        if not (SF2_DIR / fname).exists():
            missing.append(pkg)
    if missing:
        sys.exit("missing Debian packages: apt-get install " + " ".join(sorted(set(missing))))
    if "music21" in sources:
        try:
            import music21  # noqa: F401
        except ImportError:
            sys.exit("the music21 source needs PyPI music21: pip install -e '.[train]' (or --only mma)")


# ---------------------------------------------------------------------------------------------
# MIDI: split into stems, record the authored levels, render with fluidsynth


@dataclass
class Stem:
    key: str  # file name part, e.g. "kick" or "fretless-bass"
    role: str
    label_from: str  # "gm_program" | "gm_drum_note"
    label_detail: str
    instrument: str
    channel: int
    program: int | None
    source_track: str
    font: str
    events: list = field(default_factory=list)  # (abs_tick, order, mido.Message)
    notes: list = field(default_factory=list)  # (velocity, cc7, cc11) at each note on
    drum_notes: Counter = field(default_factory=Counter)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def split_midi(mid: mido.MidiFile, melodic_font: str, drum_font: str) -> tuple[list, list[Stem], int]:
    """Split a MIDI file into stems: one per (channel, program) and one per drum piece.

    Returns (conductor events, stems, last tick). Channel messages other than notes (CCs,
    pitch bend, aftertouch) go to every stem of their channel; program changes are replaced by
    the stem's own program at tick 0.
    """
    conductor: list = []
    chan_events: dict[int, list] = defaultdict(list)
    chan_track: dict[int, str] = {}
    last_tick = 0
    order = 0
    for track in mid.tracks:
        tick = 0
        tname = ""
        for msg in track:
            tick += msg.time
            order += 1
            if msg.is_meta:
                if msg.type == "track_name":
                    tname = msg.name
                elif msg.type in ("set_tempo", "time_signature", "key_signature"):
                    conductor.append((tick, order, msg))
                continue
            if not hasattr(msg, "channel"):
                continue
            chan_events[msg.channel].append((tick, order, msg))
            chan_track.setdefault(msg.channel, tname)
            last_tick = max(last_tick, tick)

    stems: dict[tuple, Stem] = {}
    for ch in sorted(chan_events):
        evs = sorted(chan_events[ch], key=lambda e: (e[0], e[1]))
        program = 0
        cc = {7: 100, 11: 127}
        sounding: dict[int, tuple] = {}  # note -> stem key
        shared: list = []  # CCs etc. for every stem of this channel
        chan_keys: list = []
        for tick, order_, msg in evs:
            if msg.type == "program_change":
                program = msg.program
                continue
            if msg.type == "control_change":
                if msg.control in cc:
                    cc[msg.control] = msg.value
                if msg.control in (0, 32):  # bank select: fixed per stem
                    continue
                shared.append((tick, order_, msg))
                continue
            if msg.type in ("note_on", "note_off"):
                is_on = msg.type == "note_on" and msg.velocity > 0
                if ch == 9:
                    piece, role = drum_piece(msg.note)
                    skey = (ch, piece)
                else:
                    skey = (ch, program) if is_on else sounding.get(msg.note, (ch, program))
                if is_on:
                    sounding[msg.note] = skey
                    if skey not in stems:
                        if ch == 9:
                            font = drum_font if (piece in AVL_PIECES and drum_font in AVL_KITS) else melodic_font
                            stems[skey] = Stem(
                                key=piece, role=role, label_from="gm_drum_note", label_detail="",
                                instrument=f"drum {piece}", channel=ch, program=None,
                                source_track=chan_track.get(ch, ""), font=font,
                            )
                        else:
                            role, why = gm_role(program)
                            stems[skey] = Stem(
                                key=_slug(GM_PROGRAMS[program]), role=role, label_from="gm_program",
                                label_detail=f"GM program {program} {GM_PROGRAMS[program]}: {why}",
                                instrument=GM_PROGRAMS[program], channel=ch, program=program,
                                source_track=chan_track.get(ch, ""), font=melodic_font,
                            )
                        chan_keys.append(skey)
                    st = stems[skey]
                    st.notes.append((msg.velocity, cc[7], cc[11]))
                    if ch == 9:
                        st.drum_notes[msg.note] += 1
                elif msg.note in sounding:
                    skey = sounding.pop(msg.note)
                if skey in stems:
                    stems[skey].events.append((tick, order_, msg))
                continue
            shared.append((tick, order_, msg))
        for note, skey in sounding.items():  # a note never released (e.g. a tie cut by an excerpt)
            order += 1
            stems[skey].events.append((last_tick, order, mido.Message("note_off", channel=ch, note=note)))
        for skey in chan_keys:
            stems[skey].events.extend(shared)
            stems[skey].events.sort(key=lambda e: (e[0], e[1]))

    out = list(stems.values())
    for st in out:
        if st.channel == 9:
            notes = sorted(st.drum_notes)
            st.label_detail = "GM drum notes " + ", ".join(
                f"{n} {DRUM_NOTE_NAMES.get(n, '?')}" for n in notes
            )
    return conductor, out, last_tick


def authored_level(st: Stem) -> dict:
    """The level the source authored: CC7 (channel volume), CC11 (expression), note velocities.

    ``gain_db`` uses the General MIDI recommended curve, 40*log10(x/127) for each of velocity,
    CC7 and CC11 (what fluidsynth's default modulators approximate), as the median over notes.
    """
    vel = np.array([n[0] for n in st.notes], dtype=float)
    cc7 = np.array([n[1] for n in st.notes], dtype=float)
    cc11 = np.array([n[2] for n in st.notes], dtype=float)
    gain = 40 * np.log10(np.maximum(vel, 1) / 127) + 40 * np.log10(np.maximum(cc7, 1) / 127) \
        + 40 * np.log10(np.maximum(cc11, 1) / 127)
    return {
        "notes": int(len(vel)),
        "velocity_mean": round(float(vel.mean()), 2),
        "velocity_max": int(vel.max()),
        "cc7": int(np.median(cc7)),
        "cc11": int(np.median(cc11)),
        "gain_db": round(float(np.median(gain)), 2),
        "curve": "40*log10(velocity/127) + 40*log10(cc7/127) + 40*log10(cc11/127), median over notes",
    }


def write_stem_midi(path: Path, mid: mido.MidiFile, conductor: list, st: Stem, end_tick: int) -> None:
    out = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
    cond = mido.MidiTrack()
    t0 = 0
    for tick, _, msg in sorted(conductor, key=lambda e: (e[0], e[1])):
        cond.append(msg.copy(time=tick - t0))
        t0 = tick
    cond.append(mido.MetaMessage("end_of_track", time=end_tick - t0))
    out.tracks.append(cond)

    tr = mido.MidiTrack()
    avl = st.font in AVL_KITS
    ch = 0 if avl else st.channel
    if st.channel == 9 and not avl:
        head = [mido.Message("control_change", channel=9, control=0, value=0),
                mido.Message("program_change", channel=9, program=0)]
    else:
        head = [mido.Message("control_change", channel=ch, control=0, value=0),
                mido.Message("control_change", channel=ch, control=32, value=0),
                mido.Message("program_change", channel=ch, program=0 if avl else st.program)]
    tr.extend(head)
    t0 = 0
    for tick, _, msg in st.events:
        m = msg.copy(time=tick - t0, channel=ch)
        if avl and m.type in ("note_on", "note_off") and m.note == 35:
            m = m.copy(note=36)  # the kits have one bass drum, on 36
        tr.append(m)
        t0 = tick
    tr.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - t0)))
    out.tracks.append(tr)
    out.save(path)


def fluid_render(sf2: Path, mid_path: Path, wav_path: Path) -> None:
    cmd = [
        "fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", str(FLUID_GAIN), "-r", str(SR),
        "-O", "float", "-T", "wav", "-o", "synth.polyphony=512", "-o", "synth.cpu-cores=1",
        "-o", "synth.dynamic-sample-loading=1",  # loads only the samples played: 3x faster, same output
        "-F", str(wav_path), str(sf2), str(mid_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if res.returncode != 0 or not wav_path.exists():
        raise RuntimeError(f"fluidsynth failed on {mid_path.name}: {res.stderr[-500:]}")


def measure(x: np.ndarray) -> dict:
    """Levels of a stereo float signal: peak, RMS over the whole file, RMS where it plays.

    "Where it plays": 400 ms blocks (100 ms hop) above -70 dBFS and within 20 dB of the
    loudest block (a plain, unweighted stand-in for BS.1770 gating).
    """
    mono2 = (x.astype(np.float64) ** 2).mean(axis=1)
    peak = float(np.abs(x).max())
    rms = math.sqrt(float(mono2.mean()))
    blk, hop = int(0.4 * SR), int(0.1 * SR)
    if len(mono2) >= blk:
        c = np.concatenate([[0.0], np.cumsum(mono2)])
        starts = np.arange(0, len(mono2) - blk + 1, hop)
        ms = (c[starts + blk] - c[starts]) / blk
        db = 10 * np.log10(ms + 1e-20)
        keep = (db > -70) & (db > db.max() - 20)
        active = float(10 * np.log10(ms[keep].mean())) if keep.any() else -200.0
        frac = float(keep.mean())
    else:
        active, frac = 20 * math.log10(rms + 1e-10), 1.0
    return {
        "peak_dbfs": round(20 * math.log10(peak + 1e-10), 2),
        "rms_dbfs": round(20 * math.log10(rms + 1e-10), 2),
        "active_rms_dbfs": round(active, 2),
        "active_fraction": round(frac, 3),
    }


def render_midi_song(midi_path: Path, song_dir: Path, melodic_font: str, drum_font: str) -> tuple[list[dict], float, float]:
    """Render every stem of a MIDI file into song_dir, write mix.wav; return (tracks, seconds, song gain dB)."""
    mid = mido.MidiFile(midi_path)
    conductor, stems, last_tick = split_midi(mid, melodic_font, drum_font)
    if not stems:
        raise RuntimeError(f"{midi_path.name}: no notes")
    # TAIL_S seconds after the last event, at the tempo in force there
    tempo_us = 500000
    for tick, _, msg in sorted(conductor, key=lambda e: (e[0], e[1])):
        if msg.type == "set_tempo" and tick <= last_tick:
            tempo_us = msg.tempo
    end_tick = last_tick + int(math.ceil(TAIL_S * 1e6 / tempo_us * mid.ticks_per_beat))
    # stable order: drums first (by piece), then by channel and program
    piece_order = {p: i for i, (p, *_) in enumerate(DRUM_PIECES)}
    stems.sort(key=lambda s: (0, piece_order[s.key], 0) if s.channel == 9 else (1, s.channel, s.program))
    used = Counter()
    for s in stems:
        base = s.key
        used[base] += 1
        if used[base] > 1:
            s.key = f"{base}-{used[base]}"
    tracks = []
    audio = []
    with tempfile.TemporaryDirectory(prefix="stem-midi-") as tmp:
        for i, st in enumerate(stems, 1):
            name = f"{i:02d}-{st.key}"
            mpath = Path(tmp) / f"{name}.mid"
            wpath = song_dir / f"{name}.wav"
            write_stem_midi(mpath, mid, conductor, st, end_tick)
            fluid_render(font_path(st.font), mpath, wpath)
            x, sr = sf.read(wpath, dtype="float32", always_2d=True)
            assert sr == SR, sr
            audio.append(x)
            tracks.append({
                "file": wpath.name,
                "role": st.role,
                "label_from": st.label_from,
                "label_detail": st.label_detail,
                "instrument": st.instrument,
                "source_track": st.source_track,
                "midi_channel": st.channel + 1,
                "gm_program": st.program,
                "soundfont": st.font,
                "authored": authored_level(st),
            })
    n = max(len(a) for a in audio)
    keep_audio, keep_tracks = [], []
    for x, tr in zip(audio, tracks):
        if len(x) < n:
            x = np.vstack([x, np.zeros((n - len(x), 2), dtype=np.float32)])
        path = song_dir / tr["file"]
        if float(np.abs(x).max()) < 1e-4:  # silent (-80 dBFS; e.g. notes the soundfont lacks): drop it
            path.unlink()
            continue
        keep_audio.append(x)
        keep_tracks.append(tr)
    if not keep_audio:
        raise RuntimeError(f"{midi_path.name}: every stem is silent")
    # one gain for the whole song (stems and mix alike: the balance is untouched) so the mix
    # peaks at MIX_PEAK_DBFS; float32 stems keep every level exact
    mix = np.sum([x.astype(np.float64) for x in keep_audio], axis=0)
    song_gain = 10 ** (MIX_PEAK_DBFS / 20) / max(float(np.abs(mix).max()), 1e-9)
    for x, tr in zip(keep_audio, keep_tracks):
        y = (x.astype(np.float64) * song_gain).astype(np.float32)
        sf.write(song_dir / tr["file"], y, SR, subtype="FLOAT")
        tr["measured"] = measure(y)
    # the mix is the sum of the stems as written (float32), so stems sum to it exactly
    mix = np.sum([sf.read(song_dir / tr["file"], dtype="float64", always_2d=True)[0] for tr in keep_tracks], axis=0)
    sf.write(song_dir / "mix.wav", mix.astype(np.float32), SR, subtype="FLOAT")
    return keep_tracks, n / SR, round(20 * math.log10(song_gain), 3)


# ---------------------------------------------------------------------------------------------
# source (a): mma groove styles

MMA_LIB = Path("/usr/share/mma/lib/stdlib")
MMA_SKIP = {"metronome", "metronome3", "metronome6", "metronome68", "none"}
MMA_LICENCE = "GPL-2+ (mma styles, Bob van der Poel; /usr/share/doc/mma/copyright)"

# (genre label, mixlab genre, style names)
MMA_GENRES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rock", "rock", ("50srock", "60srock", "8beat", "basicrock", "bubblerock", "folkrock", "rock-128",
                      "rockballad", "rockwaltz", "softrock", "twist", "jive", "hillcountry")),
    ("pop", "pop", ("boneym", "popballad", "ballad", "ballad128", "ballad68", "pianoballad",
                    "stringballad", "guitarballad")),
    ("soul-rnb-funk", "pop", ("rb", "rb-ballad", "dsoul", "bvfunk")),
    ("jazz", "jazz", ("bebop", "bigband", "jazzcombo", "jazzguitar", "jazzwaltz", "fastjazzwaltz",
                      "modernjazz", "modernjazzwaltz", "mellowjazz", "nitejazz", "slowjazz", "jazz-54",
                      "descendingjazz", "evansish", "folkyjazz", "gypsyjazz", "jazzrock", "lfusion",
                      "dixie", "dixiemarch", "ragtime", "charleston", "softshoe", "strut")),
    ("swing", "jazz", ("swing", "easyswing", "fastswing", "68swing")),
    ("blues", "jazz", ("blues", "blues128", "blues68", "fastblues", "slowblues", "boggiewoggie",
                       "shuffleboggie")),
    ("country", "folk", ("bluegrass", "countryblues", "countryswing", "countrywaltz", "slowcountry",
                         "westernswing", "zydeco")),
    ("folk", "folk", ("folk", "folkballad", "bluefolk", "lullaby", "desert")),
    ("latin", "balanced", ("afro-cuban", "beguine", "bolero", "slowbolero", "bossanova", "calypso",
                           "chacha", "cubanguitar", "latinwaltz", "mambo", "merengue", "rhumba",
                           "jazzrhumba", "salsa", "samba", "son", "tango", "lighttango", "ska")),
    ("ballroom", "balanced", ("waltz", "fastwaltz", "vienesewaltz", "frenchwaltz", "broadwaywaltz",
                              "foxtrot", "quickstep", "polka")),
    ("march", "balanced", ("march", "68march", "bwmarch")),
    ("showtune", "balanced", ("broadway", "slowbroadway", "showtune")),
    ("gospel", "balanced", ("hymn", "spiritual", "slowspiritual", "popspiritual")),
    ("electronic", "electronic", ("trance",)),
    ("arpeggio", "balanced", ("arpeggio44", "arpeggio68", "arpeggiowaltz")),
)
_MMA_GENRE = {s: (g, mg) for g, mg, styles in MMA_GENRES for s in styles}

# tempo range (BPM) by words in the style name; the first match wins
MMA_TEMPI: tuple[tuple[tuple[str, ...], tuple[int, int]], ...] = (
    (("vienese",), (160, 180)),
    (("fast", "bebop", "quickstep", "bluegrass", "jive", "polka", "merengue", "charleston", "dixie",
      "ska", "zydeco", "twist"), (150, 190)),
    (("trance",), (128, 140)),
    (("slow", "ballad", "lullaby", "hymn", "bolero", "spiritual", "evans", "nite"), (64, 84)),
    (("waltz",), (92, 140)),
    (("march",), (104, 120)),
    ((), (92, 132)),
)

NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# progressions as (semitones above the key, chord suffix) per bar
PROGRESSIONS = {
    "major": (
        ((0, ""), (7, ""), (9, "m"), (5, "")),
        ((0, ""), (9, "m"), (5, ""), (7, "7")),
        ((0, ""), (5, ""), (7, "7"), (0, "")),
        ((0, ""), (5, ""), (0, ""), (7, "7")),
        ((2, "m7"), (7, "7"), (0, "maj7"), (9, "m7")),
        ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")),
        ((0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"), (0, "7"), (0, "7"), (7, "7"),
         (5, "7"), (0, "7"), (7, "7")),
    ),
    "minor": (
        ((0, "m"), (8, ""), (3, ""), (10, "")),
        ((0, "m"), (5, "m"), (7, "m"), (0, "m")),
        ((0, "m"), (5, "m"), (10, ""), (3, "")),
        ((0, "m7"), (5, "m7"), (7, "7"), (0, "m7")),
    ),
}


def mma_styles() -> list[Path]:
    return sorted(p for p in MMA_LIB.glob("*.mma") if p.stem not in MMA_SKIP)


def _mma_grooves(text: str) -> list[str]:
    return re.findall(r"^\s*DefGroove\s+(\S+)", text, flags=re.I | re.M)


def _mma_doc(text: str) -> str:
    m = re.search(r"^\s*Begin\s+Doc\s*$(.*?)^\s*End\s*$", text, flags=re.I | re.M | re.S)
    return " ".join(m.group(1).split()) if m else ""


def song_rng(seed: int, song_id: str) -> random.Random:
    h = hashlib.sha256(f"{seed}:{song_id}".encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def mma_song_plan(style: Path, seed: int, variant: int, seconds: float) -> dict:
    """Everything random about one mma song, from the seed and the song id only."""
    song_id = f"mma-{style.stem}-{variant}"
    rng = song_rng(seed, song_id)
    text = style.read_text(errors="replace")
    grooves = _mma_grooves(text)
    if not grooves:
        raise RuntimeError(f"{style.name}: no DefGroove")
    m = re.search(r"^\s*Time\s+(\d+)", text, flags=re.I | re.M)
    beats = int(m.group(1)) if m else 4
    main = grooves[0]
    lower = [g.lower() for g in grooves]
    ends = [g for g, lg in zip(grooves, lower) if lg.endswith("end")]
    variants = [g for g, lg in zip(grooves, lower)
                if g != main and not any(w in lg for w in ("intro", "end", "fill", "break"))]
    second = rng.choice(variants) if variants else main
    lo, hi = next(r for words, r in MMA_TEMPI if not words or any(w in style.stem for w in words))
    tempo = rng.randint(lo, hi)
    mode = "minor" if rng.random() < 0.3 else "major"
    prog = rng.choice(PROGRESSIONS[mode])
    key = rng.randrange(12)
    bars = max(6, round(seconds * tempo / 60 / beats))
    chords = []
    for b in range(bars):
        semis, suffix = prog[b % len(prog)]
        chords.append(NOTE_NAMES[(key + semis) % 12] + suffix)
    melodic = rng.choice(sorted(MELODIC_FONTS))
    drum = rng.choice(sorted(MELODIC_FONTS) + sorted(AVL_KITS))
    drum = melodic if drum in MELODIC_FONTS else drum  # a GM kit comes from the song's own font
    genre, mixlab_genre = _MMA_GENRE.get(style.stem, (None, None))
    return {
        "song_id": song_id, "style": style.stem, "style_file": str(style), "doc": _mma_doc(text),
        "grooves": {"main": main, "second": second, "end": ends[0] if ends else None},
        "beats_per_bar": beats, "tempo_bpm": tempo, "key": NOTE_NAMES[key] + ("m" if mode == "minor" else ""),
        "chords": chords, "melodic_font": melodic, "drum_font": drum,
        "genre": genre, "mixlab_genre": mixlab_genre, "mma_seed": rng.randrange(1, 2**31),
    }


def mma_song_text(plan: dict) -> str:
    g = plan["grooves"]
    half = len(plan["chords"]) // 2
    lines = [f"// mixlab training corpus: {plan['song_id']} (seeded)", f"RndSeed {plan['mma_seed']}",
             f"Use {plan['style_file']}",
             f"Groove {g['main']}", f"Tempo {plan['tempo_bpm']}"]
    for i, ch in enumerate(plan["chords"]):
        if i == half and g["second"] != g["main"]:
            lines.append(f"Groove {g['second']}")
        if i == len(plan["chords"]) - 1 and g["end"]:
            lines.append(f"Groove {g['end']}")
        lines.append(f"{i + 1} {ch}")
    return "\n".join(lines) + "\n"


def build_mma_song(task: dict, out: Path) -> dict:
    plan = mma_song_plan(Path(task["style_file"]), task["seed"], task["variant"], task["seconds"])
    song_id = plan["song_id"]
    refuse_reserved(song_id, plan["style_file"])
    song_dir = out / "mma" / song_id
    tmp_dir = out / "mma" / f".tmp-{song_id}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    t0 = time.time()
    src = tmp_dir / "song.mma"
    src.write_text(mma_song_text(plan))
    midi_path = tmp_dir / "song.mid"
    # relative paths: the MIDI file names them, and a rebuild elsewhere must be identical
    res = subprocess.run(["mma", "-f", midi_path.name, src.name], capture_output=True, text=True,
                         cwd=tmp_dir, env={**os.environ, "PYTHONHASHSEED": "0"})
    if res.returncode != 0 or not midi_path.exists():
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise RuntimeError(f"mma failed on {song_id}: {(res.stdout + res.stderr)[-400:]}")
    mid = mido.MidiFile(midi_path)
    tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
    tracks, seconds, song_gain_db = render_midi_song(midi_path, tmp_dir, plan["melodic_font"], plan["drum_font"])
    manifest = {
        "schema": "mixlab.training.song/1",
        "song_id": song_id,
        "source": "mma",
        "source_detail": f"mma {mma_version()} groove style {plan['style']} ({plan['style_file']}), "
                         "a seeded chord progression, rendered per track with fluidsynth",
        "licence": MMA_LICENCE + "; soundfonts: " + "; ".join(
            f"{f} {(MELODIC_FONTS.get(f) or AVL_KITS[f])[2]} (Debian {(MELODIC_FONTS.get(f) or AVL_KITS[f])[1]})"
            for f in sorted({plan["melodic_font"], plan["drum_font"]})),
        "genre": plan["genre"],
        "mixlab_genre": plan["mixlab_genre"],
        "style": plan["style"],
        "style_doc": plan["doc"],
        "tempo_bpm": round(60_000_000 / tempos[0], 3) if tempos else plan["tempo_bpm"],
        "beats_per_bar": plan["beats_per_bar"],
        "key": plan["key"],
        "chords": plan["chords"],
        "grooves": plan["grooves"],
        "sample_rate": SR,
        "seconds": round(seconds, 3),
        "mix": "mix.wav",
        "mix_is": "the plain sum of the stems (float32), as balanced by the source's velocities and volumes; "
                  "the whole song (stems and mix) scaled by render.song_gain_db so the mix peaks at -6 dBFS",
        "source_files": {"mma": "song.mma", "midi": "song.mid"},
        "mix_measured": measure(sf.read(tmp_dir / "mix.wav", dtype="float32", always_2d=True)[0]),
        "render": {"synth": "fluidsynth", "gain": FLUID_GAIN,
                   "song_gain_db": song_gain_db, "reverb": False, "chorus": False,
                   "melodic_font": plan["melodic_font"], "drum_font": plan["drum_font"]},
        "build": build_key(task),
        "render_seconds": None,
        "tracks": tracks,
    }
    manifest["render_seconds"] = round(time.time() - t0, 2)
    (tmp_dir / "song.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(song_dir, ignore_errors=True)
    tmp_dir.rename(song_dir)
    return manifest


_MMA_VERSION: str | None = None


def mma_version() -> str:
    global _MMA_VERSION
    if _MMA_VERSION is None:
        res = subprocess.run(["mma", "-v"], capture_output=True, text=True)
        _MMA_VERSION = (res.stdout.strip().splitlines() or ["?"])[-1]
    return _MMA_VERSION


def mma_tasks(args) -> list[dict]:
    styles = mma_styles()
    if args.styles:
        want = set(args.styles.split(","))
        styles = [s for s in styles if s.stem in want]
    tasks = []
    for style in styles:
        for v in range(args.per_style):
            tasks.append({"source": "mma", "song_id": f"mma-{style.stem}-{v}", "style_file": str(style),
                          "variant": v, "seed": args.seed, "seconds": args.seconds})
    return tasks


# ---------------------------------------------------------------------------------------------
# source (b): music21 corpus pieces (PyPI music21), one stem per part

M21_LICENCE = ("music21 corpus (PyPI music21, BSD-3-Clause software; the encodings are distributed with "
               "the encoders' permission, some not for commercial use: music21/corpus/license.txt); "
               "the compositions are public domain")
# collection -> (composer folders in the corpus, file name pattern, tempo range if unmarked)
M21_COLLECTIONS: dict[str, tuple[tuple[str, ...], str, tuple[int, int]]] = {
    "chorale": (("bach",), r"^bwv[\d.]+\.mxl$", (60, 92)),
    "madrigal": (("monteverdi",), r"^madrigal\.[\d.]+\.mxl$", (60, 96)),
    "quartet": (("haydn", "mozart", "beethoven"), r"\.(mxl|krn)$", (72, 132)),
}
# instrumentations, parts top to bottom; the last entry of a list plays the lowest part, the
# ones before it are cycled over the upper parts
M21_ENSEMBLES: dict[str, tuple[int, ...]] = {
    "choir": (52, 52),
    "strings": (40, 40, 41, 42),
    "brass": (56, 56, 60, 57, 58),
    "woodwinds": (73, 68, 71, 70),
    "organ": (19, 19),
    "band": (),  # drawn per part below
}
M21_BAND = ((73, 40, 56, 80, 65, 11), (71, 41, 4, 0, 61, 26), (24, 25, 60, 89, 48, 16), (32, 33, 38, 34))


def m21_tasks(args) -> list[dict]:
    from music21 import corpus

    per: dict[str, list[str]] = {}
    for coll, (composers, pattern, _) in M21_COLLECTIONS.items():
        paths = []
        for comp in composers:
            for pth in corpus.getComposer(comp):
                pth = Path(str(pth))
                if re.search(pattern, pth.name):
                    paths.append(pth)
        # .krn and .mxl of one movement: keep the .mxl
        seen = {}
        for pth in sorted(paths):
            seen.setdefault(str(pth.with_suffix("")), pth)
        per[coll] = [str(p) for p in sorted(seen.values())]
    tasks = []
    # interleave the collections so --limit gives some of each
    for i in range(max(len(v) for v in per.values())):
        for coll, paths in per.items():
            if i < len(paths):
                pth = Path(paths[i])
                rel = "-".join(pth.parts[pth.parts.index("corpus") + 1:])
                song_id = "m21-" + _slug(rel.rsplit(".", 1)[0])
                tasks.append({"source": "music21", "song_id": song_id, "collection": coll, "path": str(pth),
                              "seed": args.seed, "seconds": args.seconds})
    return tasks


def _strip_repeats(stream) -> None:
    """Remove repeat barlines and repeat expressions (an excerpt can cut a repeat in half)."""
    from music21 import bar, repeat

    for m in stream.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(m, side), bar.Repeat):
                setattr(m, side, None)
    for el in list(stream.recurse().getElementsByClass((repeat.RepeatExpression, repeat.RepeatMark))):
        if el.activeSite is not None:
            el.activeSite.remove(el)


def build_m21_song(task: dict, out: Path) -> dict:
    from music21 import corpus, midi as m21midi, tempo as m21tempo

    song_id = task["song_id"]
    refuse_reserved(song_id, task["path"])
    rng = song_rng(task["seed"], song_id)
    song_dir = out / "music21" / song_id
    tmp_dir = out / "music21" / f".tmp-{song_id}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    t0 = time.time()
    score = corpus.parse(task["path"])
    parts = list(score.parts)
    if not parts:
        raise RuntimeError(f"{song_id}: no parts")
    marks = [m for _, _, m in score.metronomeMarkBoundaries() if m.number]
    lo, hi = M21_COLLECTIONS[task["collection"]][2]
    marked = bool(marks) and not str(marks[0]).endswith("(playback only)>")
    bpm = float(marks[0].getQuarterBPM()) if marked else float(rng.randint(lo, hi))
    bar_ql = float(parts[0].getElementsByClass("Measure")[0].barDuration.quarterLength or 4.0)
    n_bars = max(2, math.ceil(task["seconds"] / (bar_ql * 60.0 / bpm)))
    first = parts[0].getElementsByClass("Measure")[0].number
    excerpt = score.measures(first, first + n_bars - 1)
    # instrumentation
    if task["collection"] == "quartet":
        ensemble = "strings"
    else:
        ensemble = rng.choice(sorted(M21_ENSEMBLES))
    n = len(parts)
    if ensemble == "band":
        programs = [rng.choice(M21_BAND[min(i, 2)]) for i in range(n - 1)] + [rng.choice(M21_BAND[3])]
    else:
        ens = M21_ENSEMBLES[ensemble]
        upper, lowest = ens[:-1], ens[-1]
        programs = [upper[i % len(upper)] for i in range(n - 1)] + [lowest]
    raw = tmp_dir / "score.mid"
    try:
        mf = m21midi.translate.streamToMidiFile(excerpt)
    except Exception as exc:  # badly formed repeats in the excerpt: play it straight through
        if "repeat" not in str(exc).lower():
            raise
        _strip_repeats(excerpt)
        mf = m21midi.translate.streamToMidiFile(excerpt)
    mf.open(str(raw), "wb")
    mf.write()
    mf.close()
    # one channel and the chosen program per part; one tempo
    src = mido.MidiFile(raw)
    fixed = mido.MidiFile(type=1, ticks_per_beat=src.ticks_per_beat)
    cond = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)])
    fixed.tracks.append(cond)
    part_tracks = [t for t in src.tracks if any(m.type == "note_on" for m in t)]
    channels = [c for c in range(16) if c != 9]
    instrumentation = []
    for i, tr in enumerate(part_tracks[:15]):
        ch = channels[i]
        prog = programs[min(i, len(programs) - 1)] if i < n else programs[-1]
        new = mido.MidiTrack()
        new.append(mido.Message("program_change", channel=ch, program=prog, time=0))
        carry = 0
        for msg in tr:
            if msg.type in ("set_tempo", "program_change") or (msg.is_meta and msg.type == "end_of_track"):
                carry += msg.time
                continue
            m = msg.copy(time=msg.time + carry)
            carry = 0
            if hasattr(m, "channel"):
                m = m.copy(channel=ch)
            new.append(m)
        fixed.tracks.append(new)
        instrumentation.append({"part": tr.name, "gm_program": prog, "instrument": GM_PROGRAMS[prog]})
    midi_path = tmp_dir / "song.mid"
    fixed.save(midi_path)
    raw.unlink()
    font = rng.choice(sorted(MELODIC_FONTS))
    tracks, seconds, song_gain_db = render_midi_song(midi_path, tmp_dir, font, font)
    meta = score.metadata
    title = (meta.title if meta and meta.title else Path(task["path"]).stem)
    refuse_reserved(title)
    manifest = {
        "schema": "mixlab.training.song/1",
        "song_id": song_id,
        "source": "music21",
        "source_detail": f"music21 corpus {task['collection']} {task['path'].split('corpus/', 1)[-1]}: "
                         f"bars {first}..{first + n_bars - 1}, one part per stem, played by a seeded ensemble "
                         f"({ensemble}), rendered with fluidsynth",
        "title": title,
        "composer": meta.composer if meta else None,
        "licence": M21_LICENCE + f"; soundfont: {font} {MELODIC_FONTS[font][2]} (Debian {MELODIC_FONTS[font][1]})",
        "genre": task["collection"],
        "mixlab_genre": "classical",
        "tempo_bpm": round(bpm, 3),
        "tempo_from": "score" if marked else "seeded (the score has no tempo)",
        "ensemble": ensemble,
        "instrumentation": instrumentation,
        "sample_rate": SR,
        "seconds": round(seconds, 3),
        "mix": "mix.wav",
        "mix_is": "the plain sum of the stems (float32), as balanced by the score's dynamics (velocities); "
                  "the whole song (stems and mix) scaled by render.song_gain_db so the mix peaks at -6 dBFS",
        "source_files": {"midi": "song.mid"},
        "mix_measured": measure(sf.read(tmp_dir / "mix.wav", dtype="float32", always_2d=True)[0]),
        "render": {"synth": "fluidsynth", "gain": FLUID_GAIN, "song_gain_db": song_gain_db, "reverb": False,
                   "chorus": False, "melodic_font": font, "drum_font": None},
        "build": build_key(task),
        "render_seconds": round(time.time() - t0, 2),
        "tracks": tracks,
    }
    (tmp_dir / "song.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(song_dir, ignore_errors=True)
    tmp_dir.rename(song_dir)
    return manifest


# ---------------------------------------------------------------------------------------------
# driver

SOURCES = {"mma": (mma_tasks, build_mma_song), "music21": (m21_tasks, build_m21_song)}


def build_key(task: dict) -> dict:
    return {"version": BUILD_VERSION, "seed": task["seed"], "seconds": task["seconds"]}


def song_dir_of(out: Path, task: dict) -> Path:
    return out / task["source"] / task["song_id"]


def is_done(out: Path, task: dict) -> bool:
    p = song_dir_of(out, task) / "song.json"
    if not p.exists():
        return False
    try:
        return json.loads(p.read_text()).get("build") == build_key(task)
    except (OSError, ValueError):
        return False


def run_task(task: dict, out: str) -> tuple[str, float, str | None]:
    t0 = time.time()
    try:
        refuse_reserved(task["song_id"], task.get("style_file", ""), task.get("path", ""))
        SOURCES[task["source"]][1](task, Path(out))
        return task["song_id"], time.time() - t0, None
    except ReservedSongError:
        raise
    except Exception as exc:  # one broken song does not stop the corpus
        return task["song_id"], time.time() - t0, f"{type(exc).__name__}: {exc}"


def check_corpus(out: Path) -> int:
    """Verify every song on disk and print what the corpus holds.

    Per song: no reserved song; every stem of the mix's length and rate, not silent (peak over
    -80 dBFS), labelled with a mixlab role and its derivation and authored level; the stems sum
    to the mix (to 1e-5). Then role counts per source, genre counts and render times. Writes
    ``<out>/stems.csv``: one row per stem (song, source, group, genre, path, role, derivation,
    instrument, soundfont, authored and measured levels) for the trainers.
    """
    roles: dict[str, Counter] = defaultdict(Counter)
    genres = Counter()
    by_source = Counter()
    bad = 0
    songs = sorted(out.glob("*/*/song.json"))
    times: dict[str, list] = defaultdict(list)
    rows = []
    for p in songs:
        man = json.loads(p.read_text())
        refuse_reserved(man["song_id"], man.get("title") or "", man.get("source_detail", ""))
        d = p.parent
        mix, sr = sf.read(d / man["mix"], dtype="float64", always_2d=True)
        acc = np.zeros_like(mix)
        problems = []
        for tr in man["tracks"]:
            x, sr2 = sf.read(d / tr["file"], dtype="float64", always_2d=True)
            if sr2 != SR or x.shape != mix.shape:
                problems.append(f"{tr['file']}: {sr2} Hz, shape {x.shape} vs {mix.shape}")
                continue
            if np.abs(x).max() < 1e-4:
                problems.append(f"{tr['file']}: silent")
            if tr["role"] not in MIXLAB_ROLES:
                problems.append(f"{tr['file']}: unknown role {tr['role']}")
            if not tr.get("label_from") or "gain_db" not in tr.get("authored", {}):
                problems.append(f"{tr['file']}: no label derivation or authored level")
            acc += x
            roles[man["source"]][tr["role"]] += 1
            rows.append({
                "song_id": man["song_id"], "source": man["source"], "group": man.get("style") or man["song_id"],
                "genre": man.get("genre"), "mixlab_genre": man.get("mixlab_genre"),
                "path": f"{man['source']}/{man['song_id']}/{tr['file']}", "role": tr["role"],
                "label_from": tr["label_from"], "instrument": tr["instrument"], "soundfont": tr["soundfont"],
                "authored_gain_db": tr["authored"]["gain_db"], "velocity_mean": tr["authored"]["velocity_mean"],
                "active_rms_dbfs": tr["measured"]["active_rms_dbfs"],
                "vs_mix_db": round(tr["measured"]["active_rms_dbfs"] - man["mix_measured"]["active_rms_dbfs"], 2),
                "active_fraction": tr["measured"]["active_fraction"], "tempo_bpm": man.get("tempo_bpm"),
            })
        err = float(np.abs(acc - mix).max()) if not problems else float("nan")
        if problems or not err < 1e-5:
            bad += 1
            print(f"BAD {man['song_id']}: sum error {err:.2e} {problems}")
        by_source[man["source"]] += 1
        genres[f"{man['source']}:{man.get('genre')}"] += 1
        if man.get("render_seconds"):
            times[man["source"]].append(man["render_seconds"])
    if rows:  # one flat table of every stem, for the trainers (group: for cross-validation folds)
        import csv

        with open(out / "stems.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    total = Counter()
    for c in roles.values():
        total.update(c)
    print(f"{len(songs)} songs ({dict(by_source)}), {sum(total.values())} stems, {bad} bad")
    srcs = sorted(roles)
    print(f"{'role':16s}" + "".join(f"{s:>9s}" for s in srcs) + f"{'total':>9s}")
    for r in MIXLAB_ROLES:
        print(f"{r:16s}" + "".join(f"{roles[s].get(r, 0):9d}" for s in srcs) + f"{total.get(r, 0):9d}")
    print("genres:", ", ".join(f"{g} {n}" for g, n in sorted(genres.items())))
    for s, t in sorted(times.items()):
        print(f"render time per song, {s}: median {np.median(t):.1f} s (min {min(t):.1f}, max {max(t):.1f}), "
              f"total {sum(t):.0f} s")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "corpus", help="output folder (default training/corpus)")
    ap.add_argument("--only", choices=sorted(SOURCES), action="append", help="build only this source (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="at most N songs per source (first N in order)")
    ap.add_argument("--jobs", type=int, default=1, help="songs rendered in parallel (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    ap.add_argument("--seconds", type=float, default=24.0, help="target song length (default 24)")
    ap.add_argument("--per-style", type=int, default=1, help="mma: songs per groove style (default 1)")
    ap.add_argument("--styles", default="", help="mma: only these styles (comma separated file stems)")
    ap.add_argument("--force", action="store_true", help="rebuild songs already on disk")
    ap.add_argument("--list", action="store_true", help="list the songs that would be built, build nothing")
    ap.add_argument("--check", action="store_true", help="verify the corpus on disk and print role counts")
    args = ap.parse_args(argv)
    out = args.out.resolve()

    if args.check:
        return check_corpus(out)
    sources = args.only or list(SOURCES)
    check_tools(sources)
    tasks = []
    for s in sources:
        t = SOURCES[s][0](args)
        tasks.extend(t[: args.limit] if args.limit is not None else t)
    for t in tasks:
        refuse_reserved(t["song_id"], t.get("style_file", ""), t.get("path", ""))
    if args.list:
        for t in tasks:
            print(t["song_id"], "(done)" if is_done(out, t) else "")
        return 0
    todo = [t for t in tasks if args.force or not is_done(out, t)]
    print(f"{len(tasks)} songs, {len(tasks) - len(todo)} already built, {len(todo)} to build -> {out}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    t_start = time.time()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as ex:
            results = ex.map(run_task, todo, [str(out)] * len(todo))
            for i, (sid, dt, err) in enumerate(results, 1):
                failed += err is not None
                print(f"[{i}/{len(todo)}] {sid} {dt:.1f}s {'FAILED ' + err if err else 'ok'}", flush=True)
    else:
        for i, t in enumerate(todo, 1):
            sid, dt, err = run_task(t, str(out))
            failed += err is not None
            print(f"[{i}/{len(todo)}] {sid} {dt:.1f}s {'FAILED ' + err if err else 'ok'}", flush=True)
    print(f"built {len(todo) - failed}, failed {failed}, {time.time() - t_start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
