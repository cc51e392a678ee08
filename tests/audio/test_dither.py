"""Known-answer tests for TPDF dither and quantisation (src/mixlab/audio/dither.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mixlab.audio.dither import lsb, quantize, tpdf_dither
from mixlab.errors import InvalidParameterError

from .conftest import sine, tone

LSB16 = 1.0 / 32768.0


def test_lsb_known_values() -> None:
    assert lsb(16) == 1.0 / 32768.0
    assert lsb(24) == 1.0 / 8388608.0


def test_tpdf_noise_is_triangular_of_one_lsb_peak(rng: np.random.Generator) -> None:
    """Sum of two uniform +-0.5 LSB: peak < 1 LSB, mean 0, variance LSB^2/6, P(|d| > 0.5 LSB) = 1/4."""
    n = 1_000_000
    x = np.zeros((1, n), np.float32)
    d = tpdf_dither(x, bits=16, rng=rng).astype(np.float64)[0] / LSB16
    assert d.dtype == np.float64 and np.all(np.abs(d) < 1.0)
    # Standard errors for n = 1e6: mean ~ 4e-4, variance ~ 2e-4, fraction ~ 4e-4; tolerances ~10x.
    assert abs(d.mean()) < 4e-3
    assert d.var() == pytest.approx(1 / 6, abs=2e-3)
    assert np.mean(np.abs(d) > 0.5) == pytest.approx(0.25, abs=4e-3)


@pytest.mark.parametrize("offset_lsb", [0.0, 0.25, 0.5, 0.37])
def test_dithered_error_is_zero_mean_with_variance_lsb2_over_4(offset_lsb: float, rng: np.random.Generator) -> None:
    """Total error of TPDF-dithered rounding: mean 0, variance LSB^2/12 + LSB^2/6 = LSB^2/4,
    whatever the input (Lipshitz et al. 1992): checked on DC levels on and between the LSB grid,
    where undithered rounding has an error that depends entirely on the level."""
    n = 400_000
    x = np.full((2, n), 0.1 + offset_lsb * LSB16, np.float64)
    codes = quantize(x.astype(np.float32), bits=16, rng=rng)
    err = codes.astype(np.float64) / 32768.0 - x.astype(np.float32)
    err_lsb = err / LSB16
    # Standard errors for 8e5 samples: mean ~ 6e-4 LSB, variance ~ 4e-4 LSB^2; tolerance 10x.
    assert abs(err_lsb.mean()) < 6e-3
    assert err_lsb.var() == pytest.approx(0.25, abs=5e-3)


def test_undithered_rounding_error_variance_is_lsb2_over_12(rng: np.random.Generator) -> None:
    """Sanity check of the meter above: plain rounding of a busy signal gives LSB^2/12."""
    x = rng.uniform(-0.9, 0.9, size=(1, 400_000)).astype(np.float32)
    err_lsb = (quantize(x, bits=16).astype(np.float64) / 32768.0 - x) / LSB16
    assert err_lsb.var() == pytest.approx(1 / 12, abs=2e-3)
    assert np.max(np.abs(err_lsb)) <= 0.5 + 1e-6


def test_minus_100_dbfs_sine_survives_as_signal(rng: np.random.Generator) -> None:
    """A -100 dBFS sine is 0.33 LSB at 16 bits: rounding erases it, dithered rounding keeps it.

    Known answer: the fundamental's amplitude is 10^(-100/20) = 1e-5. Error noise is LSB/2 rms,
    so the least-squares amplitude over n samples has a standard error of about
    LSB/2 * sqrt(2/n) = 3e-8 (0.3 %) for n = 480000; tolerance 3 %. No harmonic distortion:
    the 2nd and 3rd harmonics stay at that noise level (< 3e-7, i.e. 10 standard errors).
    """
    sample_rate = 48000
    x = sine(freq_hz=1000.0, sample_rate=sample_rate, duration_s=10.0, level_db=-100.0)
    assert np.all(quantize(x, bits=16) == 0)  # without dither: silence

    y = quantize(x, bits=16, rng=rng)[0].astype(np.float64) / 32768.0
    fundamental = tone(y, freq_hz=1000.0, sample_rate=sample_rate)
    assert abs(fundamental) == pytest.approx(1e-5, rel=0.03)
    assert abs(np.angle(fundamental)) < 0.05  # same phase as the input (sine at phase 0)
    for k in (2, 3, 5):
        assert abs(tone(y, freq_hz=1000.0 * k, sample_rate=sample_rate)) < 3e-7


def test_dither_removes_truncation_distortion(rng: np.random.Generator) -> None:
    """A 1.3 LSB sine rounded without dither has a strong 3rd harmonic; with dither it is gone."""
    sample_rate = 48000
    x = sine(freq_hz=1000.0, sample_rate=sample_rate, duration_s=10.0, level_db=20 * np.log10(1.3 * LSB16))
    plain = quantize(x, bits=16)[0].astype(np.float64) / 32768.0
    dithered = quantize(x, bits=16, rng=rng)[0].astype(np.float64) / 32768.0
    assert abs(tone(plain, freq_hz=3000.0, sample_rate=sample_rate)) > 1e-6  # ~ -110 dBFS distortion
    assert abs(tone(dithered, freq_hz=3000.0, sample_rate=sample_rate)) < 3e-7


def test_dither_is_deterministic_and_independent_of_block_boundaries() -> None:
    x = sine(freq_hz=440.0, sample_rate=44100, duration_s=1.0, num_channels=2, level_db=-40.0)
    whole = quantize(x, bits=16, rng=np.random.default_rng(7))
    again = quantize(x, bits=16, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(whole, again)
    gen = np.random.default_rng(7)
    cuts = [0, 1, 1000, 1001, 30000, x.shape[1]]
    pieces = [quantize(x[:, a:b], bits=16, rng=gen) for a, b in zip(cuts[:-1], cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
    other = quantize(x, bits=16, rng=np.random.default_rng(8))
    assert not np.array_equal(other, whole)


def test_tpdf_dither_keeps_shape_dtype_and_input() -> None:
    x = sine(freq_hz=440.0, sample_rate=44100, duration_s=0.1, num_channels=2)
    before = x.copy()
    y = tpdf_dither(x, bits=16, rng=np.random.default_rng(0))
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert np.max(np.abs(y - x)) < LSB16


def test_quantize_clips_and_uses_the_libsndfile_scale() -> None:
    x = np.array([[-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(quantize(x, bits=16)[0], [-32768, -32768, -16384, 0, 16384, 32767, 32767])
    assert quantize(x, bits=16).dtype == np.int16
    codes24 = quantize(x, bits=24)
    assert codes24.dtype == np.int32
    np.testing.assert_array_equal(codes24[0], [-(2**23), -(2**23), -(2**22), 0, 2**22, 2**23 - 1, 2**23 - 1])


@pytest.mark.parametrize("bits", [0, 1, 33, 16.0, True, "16"])
def test_bad_bits_are_rejected(bits: object) -> None:
    with pytest.raises(InvalidParameterError) as info:
        tpdf_dither(np.zeros((1, 4), np.float32), bits=bits, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    assert info.value.code == "parameter.bad_bits"


def test_bad_rng_and_shape_are_rejected() -> None:
    with pytest.raises(InvalidParameterError) as info:
        tpdf_dither(np.zeros((1, 4), np.float32), bits=16, rng=0)  # type: ignore[arg-type]
    assert info.value.code == "parameter.bad_rng"
    with pytest.raises(InvalidParameterError) as info:
        quantize(np.zeros(4, np.float32), bits=16)
    assert info.value.code == "audio.bad_shape"
