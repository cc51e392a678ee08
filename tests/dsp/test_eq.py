"""Known answers for the parametric EQ: cookbook peaks and shelves, Butterworth filters, streaming."""

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.signal

from mixlab.dsp.eq import (
    EQBand,
    ParametricEQ,
    eq_sos,
    high_shelf_sos,
    highpass_sos,
    low_shelf_sos,
    lowpass_sos,
    peaking_sos,
    sos_response_db,
)
from mixlab.errors import InvalidAudioError, InvalidParameterError

RATES = [44100, 48000, 96000]


def freqz_db(sos, freqs_hz, sample_rate):
    """Independent oracle: scipy's own evaluation of the sections."""
    _, h = scipy.signal.sosfreqz(sos, worN=np.asarray(freqs_hz, dtype=float), fs=sample_rate)
    return 20 * np.log10(np.abs(h))


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("gain_db", [-12.0, -3.0, 4.5, 18.0])
@pytest.mark.parametrize("q", [0.3, 1.0, 8.0])
def test_peak_gain_is_exact_at_its_frequency(sample_rate, gain_db, q):
    sos = peaking_sos(2500.0, gain_db, q, sample_rate)
    # Cookbook peakingEQ: H(e^{j w0}) = A^2 exactly, i.e. gain_db (float64 round-off).
    assert freqz_db(sos, [2500.0], sample_rate)[0] == pytest.approx(gain_db, abs=1e-9)
    # Far from the centre the bell returns to 0 dB (at DC exactly: H(1) = 1).
    assert freqz_db(sos, [0.0], sample_rate)[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("gain_db", [9.0, -9.0])
@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, 6.0])
def test_peak_bandwidth_follows_the_cookbook_q(gain_db, q):
    # Cookbook: BW (octaves) is measured between the frequencies where the gain is gain_db / 2,
    # and 1/Q = 2 sinh(ln(2)/2 * BW * w0/sin(w0)) for the bilinear-transformed filter.
    sample_rate, f0 = 48000, 1000.0
    sos = peaking_sos(f0, gain_db, q, sample_rate)

    def excess(f):
        return freqz_db(sos, [f], sample_rate)[0] - gain_db / 2

    lower = scipy.optimize.brentq(excess, 1.0, f0, xtol=1e-9)
    upper = scipy.optimize.brentq(excess, f0, 0.49 * sample_rate, xtol=1e-9)
    bw_oct = math.log2(upper / lower)
    w0 = 2 * math.pi * f0 / sample_rate
    q_from_bw = 1.0 / (2.0 * math.sinh(math.log(2) / 2 * bw_oct * w0 / math.sin(w0)))
    # The w0/sin(w0) term is the cookbook's approximation of the bilinear warping of the band
    # edges; at 1 kHz / 48 kHz it holds to better than 1 % even for a 2.5-octave band.
    assert q_from_bw == pytest.approx(q, rel=0.01)


def test_equal_boost_and_cut_cancel():
    # Cookbook peakingEQ: swapping A for 1/A inverts H, so +g then -g is the identity.
    f = np.geomspace(20, 20000, 200)
    sos = np.vstack([peaking_sos(700.0, 7.0, 1.4, 44100), peaking_sos(700.0, -7.0, 1.4, 44100)])
    np.testing.assert_allclose(sos_response_db(sos, f, 44100), 0.0, atol=1e-9)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("gain_db", [-15.0, 6.0, 12.0])
@pytest.mark.parametrize("slope", [0.5, 1.0])
def test_shelves_have_half_gain_at_the_corner(sample_rate, gain_db, slope):
    low = low_shelf_sos(150.0, gain_db, sample_rate, slope=slope)
    high = high_shelf_sos(6000.0, gain_db, sample_rate, slope=slope)
    # Cookbook shelves: |H| = A = 10^(gain/40) at w0, i.e. gain_db / 2, for any slope.
    assert freqz_db(low, [150.0], sample_rate)[0] == pytest.approx(gain_db / 2, abs=1e-9)
    assert freqz_db(high, [6000.0], sample_rate)[0] == pytest.approx(gain_db / 2, abs=1e-9)
    # Full gain at the far end (z = 1 for the low shelf, z = -1 for the high), 0 dB at the other.
    assert freqz_db(low, [0.0, sample_rate / 2], sample_rate) == pytest.approx([gain_db, 0.0], abs=1e-9)
    assert freqz_db(high, [0.0, sample_rate / 2], sample_rate) == pytest.approx([0.0, gain_db], abs=1e-9)


def test_shelf_slope_one_is_q_of_one_over_root_two():
    # Cookbook: S = 1 makes (A + 1/A)(1/S - 1) + 2 = 2, i.e. alpha = sin(w0)/2 * sqrt(2) = sin(w0)/(2/sqrt(2)).
    np.testing.assert_allclose(
        low_shelf_sos(200.0, 5.0, 48000, slope=1.0), low_shelf_sos(200.0, 5.0, 48000, q=1 / math.sqrt(2)), rtol=1e-12
    )
    band = EQBand("high_shelf", 8000.0, -4.0)  # default q = 1/sqrt(2)
    np.testing.assert_allclose(band.sos(48000), high_shelf_sos(8000.0, -4.0, 48000), rtol=1e-12)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("slope_db", [12, 18, 24, 36, 48])
def test_butterworth_filters_are_3_db_down_and_roll_off_at_their_slope(sample_rate, slope_db):
    order = slope_db // 6
    hp = highpass_sos(80.0, sample_rate, slope_db_per_octave=slope_db)
    lp = lowpass_sos(2000.0, sample_rate, slope_db_per_octave=slope_db)
    # Butterworth: |H(fc)|^2 = 1/2 -> -3.0103 dB (the bilinear transform pre-warps fc exactly).
    assert freqz_db(hp, [80.0], sample_rate)[0] == pytest.approx(-3.0103, abs=1e-3)
    assert freqz_db(lp, [2000.0], sample_rate)[0] == pytest.approx(-3.0103, abs=1e-3)
    # Stop band: the bilinear transform maps the analogue Butterworth |H|^2 = 1 / (1 + (f/fc)^2N)
    # exactly onto 1 / (1 + (tan(pi f/fs) / tan(pi fc/fs))^2N) (low-pass; ratio inverted for
    # the high-pass), about -6N dB one octave out and -12N dB two octaves out.
    def warped(f):
        return math.tan(math.pi * f / sample_rate)

    for octaves in (1, 2):
        f_hp, f_lp = 80.0 / 2**octaves, 2000.0 * 2**octaves
        expected_hp = -10 * math.log10(1 + (warped(80.0) / warped(f_hp)) ** (2 * order))
        expected_lp = -10 * math.log10(1 + (warped(f_lp) / warped(2000.0)) ** (2 * order))
        assert freqz_db(hp, [f_hp], sample_rate)[0] == pytest.approx(expected_hp, abs=1e-6)
        assert freqz_db(lp, [f_lp], sample_rate)[0] == pytest.approx(expected_lp, abs=1e-6)
    # The asymptotic slope: one octave below a low cutoff, -10 log10(1 + 4^N)
    # = -6.02 N - 10 log10(1 + 4^-N): "-slope dB plus a little" (0.30 dB more at 12 dB/oct,
    # under 0.03 dB from 24 dB/oct on).
    one_octave = freqz_db(hp, [40.0], sample_rate)[0]
    assert one_octave == pytest.approx(-6.0206 * order - 10 * math.log10(1 + 4.0**-order), abs=1e-3)
    assert -slope_db - 0.35 < one_octave < -slope_db


def test_sos_response_matches_sosfreqz(rng):
    bands = [
        EQBand("low_shelf", 90.0, 3.0),
        EQBand("peak", 250.0, -4.0, 2.0),
        EQBand("peak", 3000.0, 2.5, 0.8),
        EQBand("high_shelf", 9000.0, -6.0, 1.2),
    ]
    sos = eq_sos(bands, 44100, highpass_hz=30.0, highpass_slope=18, lowpass_hz=18000.0)
    f = np.sort(rng.uniform(5.0, 22000.0, 300))
    np.testing.assert_allclose(sos_response_db(sos, f, 44100), freqz_db(sos, f, 44100), atol=1e-9)
    # Any array shape works.
    assert sos_response_db(sos, f.reshape(30, 10), 44100).shape == (30, 10)


def test_empty_eq_is_the_identity():
    sos = eq_sos([EQBand("peak", 1000.0, 0.0), EQBand("high_shelf", 5000.0, 0.0)], 48000)
    assert sos.shape == (0, 6)
    np.testing.assert_array_equal(sos_response_db(sos, [10.0, 1000.0], 48000), [0.0, 0.0])
    x = np.linspace(-1, 1, 101, dtype=np.float32)[np.newaxis, :]
    y = ParametricEQ(sos, 1).process(x)
    np.testing.assert_array_equal(y, x)
    assert y is not x


def test_eq_sos_keeps_order_and_drops_flat_bands():
    bands = [EQBand("peak", 1000.0, 3.0, 1.0), EQBand("peak", 2000.0, 0.0, 1.0)]
    sos = eq_sos(bands, 48000, highpass_hz=40.0, lowpass_hz=15000.0, lowpass_slope=12)
    # 1 band + 4th-order HPF (2 sections) + 2nd-order LPF (1 section).
    assert sos.shape == (4, 6)
    np.testing.assert_allclose(sos[0], peaking_sos(1000.0, 3.0, 1.0, 48000)[0])


@pytest.mark.parametrize("sample_rate", RATES)
def test_rendered_sine_gets_the_peak_gain(sample_rate):
    t = np.arange(sample_rate) / sample_rate
    x = (0.1 * np.sin(2 * np.pi * 1000.0 * t))[np.newaxis, :].astype(np.float32)
    y = ParametricEQ(peaking_sos(1000.0, 6.0, 2.0, sample_rate), 1).process(x)
    steady = slice(sample_rate // 2, None)  # the bell's transient has died away by then
    ratio_db = 20 * np.log10(np.std(y[0, steady]) / np.std(x[0, steady]))
    # +6 dB exactly at the centre; float32 output round-off only.
    assert ratio_db == pytest.approx(6.0, abs=1e-3)


@pytest.mark.parametrize("num_channels", [1, 2])
def test_chunked_equals_one_shot_and_equals_sosfilt(rng, num_channels):
    sos = eq_sos([EQBand("peak", 400.0, -6.0, 3.0), EQBand("high_shelf", 7000.0, 4.0)], 44100, highpass_hz=25.0)
    x = rng.standard_normal((num_channels, 20000)).astype(np.float32)
    original = x.copy()
    one = ParametricEQ(sos, num_channels).process(x)
    eq = ParametricEQ(sos, num_channels)
    cuts = [0, 1, 2, 515, 4096, 4097, 13001, 20000]
    chunked = np.concatenate([eq.process(x[:, a:b]) for a, b in zip(cuts, cuts[1:])], axis=1)
    assert one.dtype == np.float32 and one.shape == x.shape
    np.testing.assert_allclose(chunked, one, rtol=0, atol=1e-6)  # float32 output round-off
    np.testing.assert_allclose(one, scipy.signal.sosfilt(sos, x.astype(np.float64), axis=-1), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(x, original)  # input untouched


def test_invariants_silence_empty_and_float64():
    eq = ParametricEQ(eq_sos([EQBand("peak", 100.0, 12.0, 0.7)], 48000, highpass_hz=20.0), 2)
    assert not eq.process(np.zeros((2, 1000), dtype=np.float32)).any()
    assert eq.process(np.zeros((2, 0), dtype=np.float32)).shape == (2, 0)
    assert eq.process(np.zeros((2, 1), dtype=np.float32)).shape == (2, 1)
    assert eq.process(np.zeros((2, 8))).dtype == np.float64
    assert eq.latency_samples == 0
    with pytest.raises(InvalidAudioError) as err:
        eq.process(np.zeros((1, 8)))
    assert err.value.code == "audio.bad_channels"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "notch", "freq_hz": 1000.0, "gain_db": 3.0}, "kind"),
        ({"kind": "peak", "freq_hz": 10.0, "gain_db": 3.0}, "too low"),
        ({"kind": "peak", "freq_hz": 1000.0, "gain_db": 24.5}, "gain"),
        ({"kind": "peak", "freq_hz": 1000.0, "gain_db": 3.0, "q": 0.05}, "Q"),
        ({"kind": "low_shelf", "freq_hz": 100.0, "gain_db": 3.0, "q": 21.0}, "Q"),
    ],
)
def test_bad_bands_are_refused(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match) as err:
        EQBand(**kwargs)
    assert err.value.code == "eq.bad_band"


def test_band_above_the_rate_and_bad_filters_are_refused():
    with pytest.raises(InvalidParameterError, match="95 %") as err:
        eq_sos([EQBand("peak", 21000.0, 3.0)], 44100)  # 0.95 * 22050 = 20947.5 Hz
    assert err.value.code == "eq.bad_band"
    assert err.value.details["max_freq_hz"] == pytest.approx(20947.5)
    eq_sos([EQBand("peak", 21000.0, 3.0)], 48000)  # fine at 48 kHz
    with pytest.raises(InvalidParameterError, match="slope") as err:
        highpass_sos(100.0, 48000, slope_db_per_octave=30)
    assert err.value.code == "eq.bad_filter"
    with pytest.raises(InvalidParameterError) as err:
        eq_sos([], 48000, lowpass_hz=30000.0)
    assert err.value.code == "eq.bad_filter"


def test_state_decaying_through_silence_is_flushed_not_subnormal():
    """After a sound stops, the filter state reaches exact zero instead of crawling through
    subnormal floats (which the FPU runs many times slower)."""
    from mixlab.dsp.stream import STATE_FLOOR, sosfilt_block

    sos = eq_sos([EQBand(kind="peak", freq_hz=120.0, gain_db=-4.0, q=1.4)], 44100, highpass_hz=30.0)
    zi = np.zeros((sos.shape[0], 1, 2))
    burst = np.zeros((1, 4096))
    burst[0, 0] = 1.0
    _, zi = sosfilt_block(sos, burst, zi)
    assert np.any(zi != 0.0)
    silence = np.zeros((1, 32768))
    for _ in range(8):
        _, zi = sosfilt_block(sos, silence, zi)
    assert np.all(zi == 0.0)
    assert not np.any((zi != 0) & (np.abs(zi) < np.finfo(np.float64).tiny))
    assert STATE_FLOOR < 1e-20
