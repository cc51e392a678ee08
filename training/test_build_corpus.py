"""Tests of the corpus builder: `.venv/bin/python -m pytest training/` (not part of `make test`).

The render tests need the Debian packages named in training/README.md and are skipped without them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_corpus as bc  # noqa: E402

HAVE_TOOLS = bool(shutil.which("mma") and shutil.which("fluidsynth")) and all(
    (bc.SF2_DIR / f).exists() for f, *_ in list(bc.MELODIC_FONTS.values()) + list(bc.AVL_KITS.values())
)


@pytest.mark.parametrize("name", [
    "Settel-InnerRecreation", "impulslogik_zen.mmpz", "/usr/share/lmms/projects/demos/Skiessi/Skiessi-Onion.mmpz",
    "Skiessi-C64", "CapDan-ReggaetonTry", "CapDan-ReggaeTry", "Momo64-esp", "Socceroos-Progress",
    "Jousboxx-BuzzerBeater", "shorties/DirtyLove.mmpz", "Brassed Up.mscz", "dynamic-strings", "Fugue 1",
    "UNCLAIMED GIFT",
])
def test_reserved_songs_are_refused(name):
    with pytest.raises(bc.ReservedSongError):
        bc.refuse_reserved("ok-name", name)


def test_every_gm_program_and_drum_note_has_a_mixlab_role():
    for program in range(128):
        role, why = bc.gm_role(program)
        assert role in bc.MIXLAB_ROLES and why
    for note in range(128):
        piece, role = bc.drum_piece(note)
        assert role in bc.MIXLAB_ROLES
    assert bc.drum_piece(36) == ("kick", "kick")
    assert bc.drum_piece(38) == ("snare", "snare")
    assert bc.drum_piece(42) == ("hihat", "hats")
    assert bc.drum_piece(49) == ("cymbals", "hats")
    assert bc.drum_piece(45) == ("toms", "percussion")
    assert bc.drum_piece(63) == ("perc", "percussion")
    assert bc.gm_role(33)[0] == "bass" and bc.gm_role(0)[0] == "keys" and bc.gm_role(25)[0] == "guitar"


def test_mixlab_roles_match_the_package():
    src = Path(__file__).resolve().parents[1] / "src"
    sys.path.insert(0, str(src))
    try:
        from mixlab.analysis.roles import ROLES
    except ImportError:
        pytest.skip("mixlab not importable")
    assert tuple(ROLES) == bc.MIXLAB_ROLES


def test_song_plans_depend_on_seed_and_song_only():
    style = bc.MMA_LIB / "rock-128.mma"
    if not style.exists():
        pytest.skip("mma not installed")
    a = bc.mma_song_plan(style, 0, 0, 24.0)
    assert a == bc.mma_song_plan(style, 0, 0, 24.0)
    assert a != bc.mma_song_plan(style, 1, 0, 24.0)


@pytest.mark.skipif(not HAVE_TOOLS, reason="needs mma, fluidsynth and the soundfonts (training/README.md)")
def test_an_mma_song_renders_reproducibly_and_its_stems_sum_to_its_mix(tmp_path):
    for out in (tmp_path / "a", tmp_path / "b"):
        assert bc.main(["--only", "mma", "--styles", "bossanova", "--out", str(out)]) == 0
    song = tmp_path / "a" / "mma" / "mma-bossanova-0"
    man = json.loads((song / "song.json").read_text())
    assert man["source"] == "mma" and man["genre"] == "latin" and man["tempo_bpm"] > 0
    assert "GPL" in man["licence"]
    mix, sr = sf.read(song / "mix.wav", always_2d=True)
    assert sr == 44100
    total = np.zeros_like(mix)
    roles = set()
    for tr in man["tracks"]:
        x, _ = sf.read(song / tr["file"], always_2d=True)
        assert x.shape == mix.shape and np.abs(x).max() > 1e-4
        assert tr["label_from"] in ("gm_program", "gm_drum_note") and "gain_db" in tr["authored"]
        other, _ = sf.read(tmp_path / "b" / "mma" / "mma-bossanova-0" / tr["file"], always_2d=True)
        assert np.array_equal(x, other)
        total += x
        roles.add(tr["role"])
    assert np.abs(total - mix).max() < 1e-5
    # bossanova's mma "Bass" track is played on a jazz guitar: the role follows the instrument
    assert {"kick", "snare", "hats", "guitar"} <= roles
    # resumable: a second run builds nothing
    assert bc.main(["--only", "mma", "--styles", "bossanova", "--out", str(tmp_path / "a")]) == 0
    assert bc.check_corpus(tmp_path / "a") == 0
