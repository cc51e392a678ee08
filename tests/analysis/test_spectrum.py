"""Known answers for the long-term spectrum: band edges, sine power, white and pink noise."""

import warnings

import numpy as np
import pytest

from mixlab.analysis.spectrum import (
    SpectrumMeter,
    band_power,
    fractional_octave_smooth,
    measure_spectrum,
    third_octave_bands,
    third_octave_levels,
    welch_fft_size,
)
from mixlab.errors import InvalidParameterError
from tests.fixtures.signals import pink_noise, silence, sine, split_blocks, white_noise


def test_band_centres_and_edges_follow_iec_61260():
    nominal, centre, lower, upper = third_octave_bands()
    assert nominal.size == 31 and nominal[0] == 20.0 and nominal[-1] == 20000.0
    # IEC 61260-1: exact mid-band 1000 * 10**(x/10); the nominal values round them (within 2 %).
    np.testing.assert_allclose(centre, nominal, rtol=0.02)
    i = list(nominal).index(1000.0)
    # IEC 61260-1 Table: the 1 kHz one-third-octave band spans 891.25 .. 1122.02 Hz.
    assert lower[i] == pytest.approx(891.25, abs=0.01)
    assert upper[i] == pytest.approx(1122.02, abs=0.01)
    # contiguous bands, each a third of a decade-octave wide
    np.testing.assert_allclose(upper[:-1], lower[1:], rtol=1e-12)
    np.testing.assert_allclose(upper / lower, 10 ** 0.1, rtol=1e-12)


def test_fft_size_scales_with_the_rate():
    assert welch_fft_size(44100) == welch_fft_size(48000) == 16384
    assert welch_fft_size(96000) == 32768
    assert welch_fft_size(8000) == 4096


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("num_channels", [1, 2])
def test_a_1khz_sine_puts_its_power_in_the_1khz_band(sample_rate, num_channels):
    # peak 0.5: mean square 0.125 = -9.03 dB
    x = sine(sample_rate, 2.0, frequency_hz=1000.0, level_db=20 * np.log10(0.5), num_channels=num_channels)
    levels = np.array(third_octave_levels(x, sample_rate).levels_db)
    i = list(third_octave_bands()[0]).index(1000.0)
    # 0.02 dB: Hann leakage beyond the band edges (the band holds ~90 bins either side).
    assert levels[i] == pytest.approx(10 * np.log10(0.125), abs=0.02)
    others = np.delete(levels, [i - 1, i, i + 1])
    assert np.all(others < levels[i] - 60)


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_white_noise_band_power_is_proportional_to_bandwidth(rng, sample_rate):
    sigma2 = 0.01
    x = white_noise(sample_rate, 30.0, rng=rng, level_db=10 * np.log10(sigma2), num_channels=2)
    r = measure_spectrum(x, sample_rate)
    _, _, lower, upper = third_octave_bands()
    expected = 10 * np.log10(sigma2 * (np.minimum(upper, sample_rate / 2) - lower) / (sample_rate / 2))
    levels = np.array(r.bands.levels_db)
    # Bands from 100 Hz hold >= 8 bins x ~320 half-overlapping frames x 2 channels: the
    # estimate's standard deviation is below 0.1 dB, so 0.5 dB is > 5 sigma.
    keep = lower >= 89.0
    np.testing.assert_allclose(levels[keep], expected[keep], atol=0.5)
    # Parseval: the PSD integrates to the mean square.
    assert r.band_power(0.0, sample_rate / 2) == pytest.approx(float(np.mean(x.astype(np.float64) ** 2)), rel=0.01)


def test_pink_noise_has_equal_power_in_every_band(rng):
    # 1/f density: band power = c * ln(upper / lower), the same for every 1/3-octave band.
    sample_rate = 48000
    x = pink_noise(sample_rate, 30.0, rng=rng, level_db=-20.0, num_channels=2)
    levels = np.array(third_octave_levels(x, sample_rate).levels_db)
    nominal = np.array(third_octave_bands()[0])
    mid = levels[(nominal >= 100) & (nominal <= 16000)]
    np.testing.assert_allclose(mid, np.mean(mid), atol=0.5)


def test_bands_above_nyquist_are_nan():
    x = sine(8000, 2.0, frequency_hz=1000.0, level_db=-10.0)
    b = third_octave_levels(x, 8000)
    lower = np.array(b.lower_edge_hz)
    levels = np.array(b.levels_db)
    assert np.all(np.isnan(levels[lower >= 4000.0]))
    assert np.all(~np.isnan(levels[lower < 4000.0]))


def test_chunked_equals_one_shot(rng):
    x = white_noise(44100, 3.0, rng=rng, level_db=-20.0, num_channels=2)
    whole = measure_spectrum(x, 44100)
    meter = SpectrumMeter(44100, 2)
    for block in split_blocks(x, rng, max_block=20000):
        meter.push(block)
    chunked = meter.result()
    assert chunked.num_frames == whole.num_frames == (x.shape[1] - 16384) // 8192 + 1
    np.testing.assert_allclose(chunked.psd_per_hz, whole.psd_per_hz, rtol=1e-9)
    np.testing.assert_allclose(chunked.cross_psd_per_hz, whole.cross_psd_per_hz, rtol=1e-9, atol=1e-18)


def test_audio_shorter_than_one_frame_is_still_measured():
    x = sine(48000, 0.2, frequency_hz=1000.0, level_db=20 * np.log10(0.5))
    r = measure_spectrum(x, 48000)
    assert r.num_frames == 1
    i = list(r.bands.nominal_hz).index(1000.0)
    # one Hann-windowed frame: the power estimate holds to a few hundredths of a dB
    assert r.bands.levels_db[i] == pytest.approx(10 * np.log10(0.125), abs=0.1)


def test_silence_gives_minus_infinity_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = measure_spectrum(silence(48000, 1.0, num_channels=2), 48000)
        empty = measure_spectrum(silence(48000, 0.0), 48000)
    assert np.all(np.array(r.bands.levels_db) == -np.inf)
    assert empty.num_frames == 0
    assert np.all(np.array(empty.bands.levels_db) == -np.inf)


def test_band_power_integrates_partial_bins():
    freqs = np.arange(11) * 10.0  # bins every 10 Hz up to 100 Hz
    psd = np.ones(11)
    # a flat density of 1 per Hz integrates to the bandwidth, wherever the edges fall
    assert band_power(freqs, psd, 12.5, 47.5) == pytest.approx(35.0)
    assert band_power(freqs, psd, 0.0, 100.0) == pytest.approx(100.0)
    assert band_power(freqs, psd, 90.0, 1000.0) == pytest.approx(10.0)  # clipped at Nyquist
    np.testing.assert_allclose(band_power(freqs, psd, np.array([0.0, 30.0]), np.array([3.0, 33.0])), [3.0, 3.0])


def test_fractional_octave_smoothing_known_answers():
    f = np.linspace(0.0, 20000.0, 2001)
    # flat stays flat
    np.testing.assert_allclose(fractional_octave_smooth(f, np.full(f.size, -30.0), fraction=3)[1:], -30.0, atol=1e-9)
    # power rising as f on an evenly spaced grid: the mean of f' over [f/h, f h] is f (h + 1/h) / 2
    levels = np.full(f.size, -np.inf)
    levels[1:] = 10 * np.log10(f[1:])
    smoothed = fractional_octave_smooth(f, levels, fraction=1)
    h = np.sqrt(2.0)
    i = np.flatnonzero((f >= 2000) & (f <= 10000))
    # 0.01 dB: the window's edges fall between grid points
    np.testing.assert_allclose(smoothed[i], 10 * np.log10(f[i] * (h + 1 / h) / 2), atol=0.01)
    # 0 Hz is left as it is
    assert smoothed[0] == -np.inf


def test_fractional_octave_smoothing_rejects_bad_input():
    with pytest.raises(InvalidParameterError) as err:
        fractional_octave_smooth(np.arange(3.0), np.zeros(3), fraction=0)
    assert err.value.code == "parameter.octave_fraction"
    with pytest.raises(InvalidParameterError):
        fractional_octave_smooth(np.arange(3.0)[::-1], np.zeros(3), fraction=3)
