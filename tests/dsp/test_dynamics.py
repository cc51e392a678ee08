"""Known answers for the compressor: the static curve from its definition, steady state, invariants."""

import numpy as np
import pytest

from mixlab.dsp.dynamics import FRAME_SAMPLES, Compressor, CompressorSettings, static_gain_reduction_db
from mixlab.errors import InvalidParameterError


def test_static_curve_hard_knee():
    # Giannoulis et al. 2012 eq. 4 with W = 0: above threshold the output rises 1/R dB per dB.
    gr = static_gain_reduction_db(np.array([-30.0, -20.0, -10.0, 0.0]), threshold_db=-20.0, ratio=4.0, knee_db=0.0)
    np.testing.assert_allclose(gr, [0.0, 0.0, 7.5, 15.0])


def test_static_curve_soft_knee_is_continuous_and_meets_the_hard_curve():
    levels = np.linspace(-40, 0, 4001)
    gr = static_gain_reduction_db(levels, threshold_db=-20.0, ratio=3.0, knee_db=10.0)
    assert np.max(np.abs(np.diff(gr))) < 0.02
    hard = static_gain_reduction_db(levels, threshold_db=-20.0, ratio=3.0, knee_db=0.0)
    outside = np.abs(levels + 20.0) > 5.0
    np.testing.assert_allclose(gr[outside], hard[outside], atol=1e-12)
    # In the middle of the knee: slope * (W/2)^2 / (2W) = (2/3) * 25 / 20.
    assert gr[np.argmin(np.abs(levels + 20.0))] == pytest.approx((2 / 3) * 25 / 20, abs=1e-9)


def test_steady_sine_is_compressed_by_the_ratio():
    sr = 48000
    t = np.arange(sr * 2) / sr
    amplitude = 10 ** (-6 / 20)  # mean square of a sine: A^2/2 -> -9.03 dB
    x = (amplitude * np.sin(2 * np.pi * 1000 * t))[np.newaxis, :]
    s = CompressorSettings(threshold_db=-21.03, ratio=4.0, knee_db=0.0, attack_ms=5.0, release_ms=50.0, detector_ms=5.0)
    y = Compressor(s, sr).process(x)
    tail = y[0, sr:]
    level_db = 10 * np.log10(np.mean(tail**2))
    # 12 dB over threshold at 4:1 -> 3 dB over: -18.03 dB (detector ripple on a 1 kHz sine: < 0.3 dB).
    assert level_db == pytest.approx(-18.03, abs=0.3)


def test_ratio_one_is_identity(rng):
    x = rng.standard_normal((2, 4096))
    y = Compressor(CompressorSettings(threshold_db=-40.0, ratio=1.0), 44100).process(x)
    np.testing.assert_allclose(y, x, rtol=1e-12)


def test_chunked_equals_one_shot(rng):
    x = rng.standard_normal((2, 64 * FRAME_SAMPLES + 17)) * np.linspace(0.01, 2, 64 * FRAME_SAMPLES + 17)
    s = CompressorSettings(threshold_db=-10.0, ratio=3.0)
    one = Compressor(s, 44100).process(x)
    comp = Compressor(s, 44100)
    cut = 20 * FRAME_SAMPLES
    chunked = np.concatenate([comp.process(x[:, :cut]), comp.process(x[:, cut:])], axis=1)
    np.testing.assert_allclose(chunked, one, rtol=1e-12, atol=1e-12)


def test_silence_in_silence_out():
    y = Compressor(CompressorSettings(threshold_db=-20.0, ratio=2.0), 44100).process(np.zeros((1, 1000)))
    assert not y.any()


def test_bad_ratio_is_refused():
    with pytest.raises(InvalidParameterError) as err:
        CompressorSettings(threshold_db=-20.0, ratio=0.5)
    assert err.value.code == "compressor.bad_ratio"
