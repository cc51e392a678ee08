"""Known answers for panning, balance and width."""

import math

import numpy as np
import pytest

from mixlab.dsp.pan import apply_pan, apply_width, pan_gains
from mixlab.errors import InvalidAudioError, InvalidParameterError

PANS = np.linspace(-1.0, 1.0, 41)


def test_constant_power_law_keeps_power():
    for pan in PANS:
        left, right = pan_gains(float(pan))
        # sin^2 + cos^2 = 1 (float64 round-off).
        assert left**2 + right**2 == pytest.approx(1.0, abs=1e-12)
        # Mirror images are exact.
        assert pan_gains(float(-pan)) == (right, left)


def test_hard_pans_and_centre():
    assert pan_gains(-1.0) == (1.0, 0.0)
    assert pan_gains(1.0) == (0.0, 1.0)
    left, right = pan_gains(0.0)
    # cos(pi/4) = 1/sqrt(2): -3.0103 dB each side.
    assert 20 * math.log10(left) == pytest.approx(-3.0103, abs=1e-4)
    assert left == right


def test_constant_amplitude_law():
    for pan in PANS:
        left, right = pan_gains(float(pan), law_db=-6.0)
        # cos^2 + sin^2 = 1: the amplitudes sum to one.
        assert left + right == pytest.approx(1.0, abs=1e-12)
    assert 20 * math.log10(pan_gains(0.0, law_db=-6.0)[0]) == pytest.approx(-6.0206, abs=1e-4)
    assert pan_gains(-1.0, law_db=-4.5) == (1.0, 0.0)


def test_pan_is_monotonic():
    lefts = [pan_gains(float(p))[0] for p in PANS]
    assert all(b < a for a, b in zip(lefts, lefts[1:]))


@pytest.mark.parametrize("pan", [-1.0, -0.3, 0.0, 0.8, 1.0])
def test_mono_pan_oracle(rng, pan):
    x = rng.standard_normal((1, 1000)).astype(np.float32)
    y = apply_pan(x, pan)
    theta = (pan + 1) * math.pi / 4
    expected = np.stack([x[0] * math.cos(theta), x[0] * math.sin(theta)])
    assert y.shape == (2, 1000) and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)  # float32 round-off


def test_stereo_balance(rng):
    x = rng.standard_normal((2, 1000)).astype(np.float32)
    np.testing.assert_array_equal(apply_pan(x, 0.0), x)  # centre: identity
    hard_left = apply_pan(x, -1.0)
    np.testing.assert_array_equal(hard_left[0], x[0])
    assert not hard_left[1].any()
    hard_right = apply_pan(x, 1.0)
    np.testing.assert_array_equal(hard_right[1], x[1])
    assert not hard_right[0].any()
    # Half left: right scaled by sin(theta) / sin(pi/4), theta = pi/8; left untouched.
    half = apply_pan(x, -0.5)
    np.testing.assert_array_equal(half[0], x[0])
    np.testing.assert_allclose(half[1], x[1] * math.sin(math.pi / 8) * math.sqrt(2), rtol=1e-6)


def test_width(rng):
    x = rng.standard_normal((2, 1000)).astype(np.float32)
    mono = apply_width(x, 0.0)
    np.testing.assert_array_equal(mono[0], mono[1])
    np.testing.assert_allclose(mono[0], (x[0] + x[1]) / 2, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(apply_width(x, 1.0), x)
    wide = apply_width(x, 2.0)
    # Mid kept, side doubled.
    np.testing.assert_allclose(wide[0] + wide[1], x[0] + x[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide[0] - wide[1], 2 * (x[0] - x[1]), rtol=1e-5, atol=1e-5)
    assert wide.dtype == np.float32


def test_chunked_equals_one_shot_and_input_untouched(rng):
    x = rng.standard_normal((2, 999)).astype(np.float32)
    original = x.copy()
    for process in (lambda b: apply_pan(b, -0.4), lambda b: apply_width(b, 1.5), lambda b: apply_pan(b[:1], 0.25)):
        one = process(x)
        chunked = np.concatenate([process(x[:, a:b]) for a, b in [(0, 1), (1, 500), (500, 999)]], axis=1)
        np.testing.assert_array_equal(chunked, one)
    np.testing.assert_array_equal(x, original)
    assert apply_pan(np.zeros((1, 0), np.float32), 0.3).shape == (2, 0)
    assert apply_width(np.zeros((2, 0)), 0.5).dtype == np.float64


def test_bad_values_are_refused():
    with pytest.raises(InvalidParameterError, match="pan") as err:
        pan_gains(1.5)
    assert err.value.code == "pan.bad_pan"
    with pytest.raises(InvalidParameterError) as err:
        pan_gains(0.0, law_db=0.0)
    assert err.value.code == "pan.bad_law"
    with pytest.raises(InvalidParameterError, match="width") as err:
        apply_width(np.zeros((2, 4)), 2.5)
    assert err.value.code == "pan.bad_width"
    with pytest.raises(InvalidAudioError) as err:
        apply_pan(np.zeros((3, 4)), 0.0)
    assert err.value.code == "audio.bad_channels"
    with pytest.raises(InvalidAudioError):
        apply_width(np.zeros((1, 4)), 1.0)
