"""The data files: platform targets as the issue lists them, genre curves from their sources."""

import numpy as np
import pytest

from mixlab.engine.plan import USER, Param, Plan
from mixlab.engine.profiles import genre_band_target_db, genre_names, get_genre
from mixlab.engine.targets import custom_target, get_platform, platform_names
from mixlab.errors import InvalidParameterError

EXPECTED = {
    "spotify": (-14, -1), "apple-music": (-16, -1), "youtube": (-14, -1), "tidal": (-14, -1),
    "amazon-music": (-14, -2), "deezer": (-15, -1), "soundcloud": (-14, -1),
}


def test_platform_targets_match_their_published_values():
    for name, (lufs, ceiling) in EXPECTED.items():
        p = get_platform(name)
        assert (p.target_lufs, p.ceiling_dbtp) == (lufs, ceiling)
        assert len(p.source) > 20
    assert "cd" in platform_names()
    assert "disput" in get_platform("soundcloud").source.lower()


def test_unknown_target_names_the_choices():
    with pytest.raises(InvalidParameterError, match="spotify") as err:
        get_platform("napster")
    assert err.value.code == "target.unknown"


def test_custom_target_is_checked():
    assert custom_target(-12.0, -1.5).target_lufs == -12.0
    with pytest.raises(InvalidParameterError):
        custom_target(5.0, -1.0)


def test_base_genre_curve_has_the_published_slopes():
    # Elowsson & Friberg 2017: the PSD falls -5.0 dB/octave at 800 Hz and -7.6 at 3.2 kHz.
    # A 1/3-octave band's level adds 10 log10(bandwidth): +3.01 dB per octave.
    g = get_genre("balanced")
    for f, psd_slope in ((800.0, -5.0), (3200.0, -7.6)):
        lo, hi = genre_band_target_db(g, np.array([f / 2**0.05, f * 2**0.05]))
        assert (hi - lo) / 0.1 == pytest.approx(psd_slope + 3.01, abs=0.05)


def test_genres_differ_in_the_lows_not_the_mids():
    centres = np.array([50.0, 1000.0])
    hiphop = genre_band_target_db(get_genre("hip-hop"), centres)
    jazz = genre_band_target_db(get_genre("jazz"), centres)
    assert (hiphop[0] - hiphop[1]) - (jazz[0] - jazz[1]) > 5.0
    assert len(genre_names()) >= 6


def test_plan_keeps_user_and_locked_values_and_round_trips():
    plan = Plan(schema="mixlab.masterplan/1")
    plan.set_user("eq", "amount", 0.3)
    plan.sections["width"] = {"mid": Param(value=1.2, reason="ai", locked=True)}
    assert plan.decide("eq", "amount", 1.0, "ai wants more") == 0.3
    assert plan.decide("width", "mid", 1.0, "ai") == 1.2
    assert plan.decide("width", "high", 1.1, "ai") == 1.1
    again = Plan.from_dict(plan.to_dict(), expected_schema="mixlab.masterplan/1")
    assert again.param("eq", "amount").source == USER
    assert again.param("width", "mid").locked
    assert again.get("width", "high") == 1.1
