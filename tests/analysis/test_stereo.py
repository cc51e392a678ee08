"""Known answers for the stereo meter: correlation, side/mid ratio, mono fold-down loss."""

import math
import warnings

import numpy as np
import pytest

from mixlab.analysis.stereo import StereoMeter, measure_stereo
from tests.fixtures.signals import band_limited_noise, silence, sine, split_blocks, white_noise


def test_identical_channels():
    x = white_noise(48000, 5.0, rng=np.random.default_rng(1), level_db=-20.0)
    r = measure_stereo(np.vstack([x, x]), 48000)
    assert r.correlation == pytest.approx(1.0, abs=1e-12)
    assert r.mono_loss_lu == pytest.approx(0.0, abs=1e-9)  # M = L played on both = the stereo
    assert r.side_to_mid_db == -math.inf
    for band in r.bands:
        assert band.correlation == pytest.approx(1.0, abs=1e-6)


def test_inverted_channels_cancel_entirely_in_mono(rng):
    x = white_noise(48000, 5.0, rng=rng, level_db=-20.0)
    r = measure_stereo(np.vstack([x, -x]), 48000)
    assert r.correlation == pytest.approx(-1.0, abs=1e-12)
    assert r.mono_loss_lu == math.inf
    assert r.mono_integrated_lufs == -math.inf
    assert r.side_to_mid_db == math.inf
    for band in r.bands:
        assert band.correlation == pytest.approx(-1.0, abs=1e-6)


def test_unrelated_channels_of_equal_level_lose_3db_in_mono(rng):
    # E[(L+R)^2/4] = (E[L^2] + E[R^2]) / 4: M on both channels carries half the power.
    x = white_noise(48000, 20.0, rng=rng, level_db=-20.0, num_channels=2)
    r = measure_stereo(x, 48000)
    # 20 s of independent noise: the sample correlation's standard deviation is 1/sqrt(n) ~ 0.001
    assert r.correlation == pytest.approx(0.0, abs=0.01)
    assert r.mono_loss_lu == pytest.approx(10 * np.log10(2), abs=0.05)
    assert r.side_to_mid_db == pytest.approx(0.0, abs=0.1)


def test_a_quarter_period_delay_is_uncorrelated():
    # sin and cos of the same tone: sum(L R) = 0 over whole periods, mono power = stereo power / 2.
    left = sine(48000, 5.0, frequency_hz=1000.0, level_db=-20.0)
    right = sine(48000, 5.0, frequency_hz=1000.0, level_db=-20.0, phase_deg=90.0)
    r = measure_stereo(np.vstack([left, right]), 48000)
    assert r.correlation == pytest.approx(0.0, abs=1e-4)
    assert r.mono_loss_lu == pytest.approx(10 * np.log10(2), abs=0.01)


def test_per_band_correlation(rng):
    # L = low + high, R = low - high: in phase below 200 Hz, opposite above 2 kHz.
    low = band_limited_noise(48000, 10.0, rng=rng, low_hz=30.0, high_hz=150.0, level_db=-20.0)
    high = band_limited_noise(48000, 10.0, rng=rng, low_hz=3000.0, high_hz=15000.0, level_db=-20.0)
    r = measure_stereo(np.vstack([low + high, low - high]), 48000)
    bands = {b.name: b for b in r.bands}
    assert [b.name for b in r.bands] == ["low", "mid", "high"]
    assert bands["low"].correlation == pytest.approx(1.0, abs=0.01)
    assert bands["high"].correlation == pytest.approx(-1.0, abs=0.01)
    assert bands["low"].side_to_mid_db < -30
    assert bands["high"].side_to_mid_db > 30
    assert bands["high"].high_hz == 24000.0
    # the whole programme: equal power in phase and out of phase
    assert r.correlation == pytest.approx(0.0, abs=0.01)


def test_mono_audio():
    x = sine(48000, 2.0, level_db=-20.0)
    r = measure_stereo(x, 48000)
    assert math.isnan(r.correlation)
    assert math.isnan(r.side_to_mid_db)
    assert r.mono_loss_lu == 0.0
    assert r.bands == ()


def test_silence_is_undefined_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = measure_stereo(silence(48000, 2.0, num_channels=2), 48000)
    assert math.isnan(r.correlation)
    assert math.isnan(r.mono_loss_lu)
    assert math.isnan(r.side_to_mid_db)


def test_chunked_equals_one_shot(rng):
    x = white_noise(44100, 4.0, rng=rng, level_db=-20.0, num_channels=2)
    x[1] += 0.5 * x[0]
    whole = measure_stereo(x, 44100)
    meter = StereoMeter(44100, 2)
    for block in split_blocks(x, rng, max_block=20000):
        meter.push(block)
    chunked = meter.result()
    assert chunked.correlation == pytest.approx(whole.correlation, abs=1e-12)
    assert chunked.mono_loss_lu == pytest.approx(whole.mono_loss_lu, abs=1e-9)
    for a, b in zip(chunked.bands, whole.bands):
        assert a.correlation == pytest.approx(b.correlation, abs=1e-9)
