"""Known answers for the loudness meter: BS.1770-4 coefficients, EBU Tech 3341 and 3342 cases."""

import warnings

import numpy as np
import pytest
import scipy.signal

from mixlab.analysis.loudness import (
    LoudnessMeter,
    integrated_loudness,
    k_weighting_sos,
    measure_loudness,
)
from mixlab.errors import InvalidAudioError, InvalidParameterError
from tests.fixtures.signals import silence, sine, sine_sequence, split_blocks, white_noise
from tests.oracles import pyloudnorm_lufs

# EBU Tech 3341 section 2.9: integrated, momentary and short-term loudness within +-0.1 LU.
EBU_TOLERANCE_LU = 0.1
# EBU Tech 3342 section 4: loudness range within +-1 LU.
LRA_TOLERANCE_LU = 1.0


def test_k_weighting_reproduces_bs1770_table_at_48k():
    # ITU-R BS.1770-4 Annex 1, Table 1 (shelf) and Table 2 (high-pass), 48 kHz.
    table = np.array(
        [
            [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
            [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
        ]
    )
    # The table is printed to 14 decimals; the analog prototype fit reproduces it to ~1e-9.
    np.testing.assert_allclose(k_weighting_sos(48000), table, rtol=0, atol=1e-8)


@pytest.mark.parametrize("sample_rate", [8000, 11025, 22050, 44100, 48000, 96000, 192000, 384000])
def test_k_weighting_gain_at_1khz_is_what_the_minus_0_691_offset_cancels(sample_rate):
    # BS.1770-4 eq. 2: -0.691 dB makes a 1 kHz tone read its own level, i.e. |K(1 kHz)|^2 = +0.691 dB.
    _, h = scipy.signal.sosfreqz(k_weighting_sos(sample_rate), worN=[1000.0], fs=sample_rate)
    # 0.05 dB: bilinear-transform warping at rates far from 48 kHz.
    assert 20 * np.log10(abs(h[0])) == pytest.approx(0.691, abs=0.05)


# EBU Tech 3341 Table 1, cases 1-5: stereo 1 kHz sine, levels in dBFS (peak, per channel).
EBU_3341_CASES = {
    1: ([(-23.0, 20.0)], -23.0),
    2: ([(-33.0, 20.0)], -33.0),
    3: ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    4: ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
    5: ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
}


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("case", sorted(EBU_3341_CASES))
def test_ebu_3341_integrated_loudness(case, sample_rate):
    segments, expected = EBU_3341_CASES[case]
    x = sine_sequence(sample_rate, segments)
    assert integrated_loudness(x, sample_rate) == pytest.approx(expected, abs=EBU_TOLERANCE_LU)


@pytest.mark.parametrize(
    "case, sample_rate",
    [(1, 8000), (1, 11025), (1, 96000), (1, 192000), (1, 384000), (3, 96000), (5, 96000)],
)
def test_ebu_3341_integrated_loudness_at_other_rates(case, sample_rate):
    segments, expected = EBU_3341_CASES[case]
    x = sine_sequence(sample_rate, segments)
    assert integrated_loudness(x, sample_rate) == pytest.approx(expected, abs=EBU_TOLERANCE_LU)


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_steady_sine_momentary_and_short_term(sample_rate):
    # In the style of EBU Tech 3341 cases 9-13: a steady stereo 1 kHz sine at -23 dBFS reads
    # -23.0 LUFS momentary and short-term at every instant once the window is full.
    x = sine(sample_rate, 10.0, level_db=-23.0, num_channels=2)
    r = measure_loudness(x, sample_rate)
    assert r.max_momentary_lufs == pytest.approx(-23.0, abs=EBU_TOLERANCE_LU)
    assert r.max_short_term_lufs == pytest.approx(-23.0, abs=EBU_TOLERANCE_LU)
    np.testing.assert_allclose(r.momentary_lufs, -23.0, atol=EBU_TOLERANCE_LU)
    np.testing.assert_allclose(r.short_term_lufs, -23.0, atol=EBU_TOLERANCE_LU)
    # 10 s at 10 Hz: momentary windows end at 0.4 .. 10.0 s, short-term at 3.0 .. 10.0 s.
    assert r.momentary_lufs.size == 97
    assert r.short_term_lufs.size == 71
    assert r.hop_s == 0.1


def test_momentary_follows_a_level_step():
    # 400 ms window: 0.4 s after a step from -33 to -23 dBFS the momentary loudness reads -23.
    sample_rate = 48000
    x = sine_sequence(sample_rate, [(-33.0, 2.0), (-23.0, 2.0)])
    m = measure_loudness(x, sample_rate).momentary_lufs
    # value j is the window ending at (j + 4) * 0.1 s
    assert m[20 - 4] == pytest.approx(-33.0, abs=EBU_TOLERANCE_LU)  # ends at 2.0 s
    assert m[24 - 4] == pytest.approx(-23.0, abs=EBU_TOLERANCE_LU)  # ends at 2.4 s


# EBU Tech 3342 Table 1, cases 1-4: stereo 1 kHz sine, levels in dBFS, 20 s each.
EBU_3342_CASES = {
    1: ([-20.0, -30.0], 10.0),
    2: ([-20.0, -15.0], 5.0),
    3: ([-40.0, -20.0], 20.0),
    4: ([-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
}


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("case", sorted(EBU_3342_CASES))
def test_ebu_3342_loudness_range(case, sample_rate):
    levels, expected = EBU_3342_CASES[case]
    x = sine_sequence(sample_rate, [(level, 20.0) for level in levels])
    assert measure_loudness(x, sample_rate).lra_lu == pytest.approx(expected, abs=LRA_TOLERANCE_LU)


def test_ebu_3342_loudness_range_at_96k():
    levels, expected = EBU_3342_CASES[4]
    x = sine_sequence(96000, [(level, 20.0) for level in levels])
    assert measure_loudness(x, 96000).lra_lu == pytest.approx(expected, abs=LRA_TOLERANCE_LU)


def test_mono_channel_reads_3db_below_the_same_signal_on_two_channels():
    # BS.1770-4 eq. 2 sums the channels' mean squares with G = 1.
    x = sine(48000, 5.0, level_db=-20.0, num_channels=1)
    mono = integrated_loudness(x, 48000)
    stereo = integrated_loudness(np.vstack([x, x]), 48000)
    assert stereo - mono == pytest.approx(10 * np.log10(2), abs=1e-6)


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_agrees_with_pyloudnorm_on_noise(rng, sample_rate):
    x = white_noise(sample_rate, 10.0, rng=rng, level_db=-20.0, num_channels=2)
    # 0.1 LU: pyloudnorm normalises the high-pass numerator differently (0.04 dB).
    assert integrated_loudness(x, sample_rate) == pytest.approx(pyloudnorm_lufs(x, sample_rate), abs=0.1)


@pytest.mark.parametrize("num_channels", [1, 2])
def test_chunked_equals_one_shot(rng, num_channels):
    sample_rate = 44100
    x = sine_sequence(sample_rate, [(-30.0, 3.0), (-15.0, 2.0), (-40.0, 3.0)], num_channels=num_channels)
    x = x + white_noise(sample_rate, 8.0, rng=rng, level_db=-40.0, num_channels=num_channels)
    whole = LoudnessMeter(sample_rate, num_channels)
    whole.push(x)
    chunked = LoudnessMeter(sample_rate, num_channels)
    for block in split_blocks(x, rng, max_block=30000):
        chunked.push(block)
    a, b = whole.result(), chunked.result()
    # float64 sums in a different order: agreement to round-off.
    assert b.integrated_lufs == pytest.approx(a.integrated_lufs, abs=1e-9)
    assert b.lra_lu == pytest.approx(a.lra_lu, abs=1e-9)
    np.testing.assert_allclose(b.momentary_lufs, a.momentary_lufs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.short_term_lufs, a.short_term_lufs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("duration_s", [0.0, 0.2, 5.0])
def test_silence_and_short_audio_give_minus_infinity_without_warnings(duration_s):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = measure_loudness(silence(48000, duration_s, num_channels=2), 48000)
    assert r.integrated_lufs == -np.inf
    assert r.max_momentary_lufs == -np.inf
    assert r.max_short_term_lufs == -np.inf
    assert r.lra_lu == 0.0


def test_audio_below_the_absolute_gate_reads_minus_infinity():
    # BS.1770-4: blocks at or below -70 LUFS are gated out.
    x = sine(48000, 5.0, level_db=-75.0, num_channels=2)
    assert integrated_loudness(x, 48000) == -np.inf


def test_loudness_after_gain_predicts_a_gain_change():
    sample_rate = 48000
    x = sine_sequence(sample_rate, [(-36.0, 10.0), (-23.0, 20.0), (-60.0, 10.0)])
    r = measure_loudness(x, sample_rate)
    for gain_db in (-20.0, -3.0, 6.0):
        measured = integrated_loudness((x * 10 ** (gain_db / 20)).astype(np.float32), sample_rate)
        # exact up to float32 rounding of the scaled audio
        assert r.integrated_lufs_after_gain(gain_db) == pytest.approx(measured, abs=1e-4)
    # with no block crossing a gate, a gain of g dB moves the loudness by g LU
    assert r.integrated_lufs_after_gain(3.0) == pytest.approx(r.integrated_lufs + 3.0, abs=1e-9)


def test_rejects_unsupported_rates_channels_and_non_finite_audio():
    with pytest.raises(InvalidParameterError, match="sample rate") as err:
        LoudnessMeter(4000, 2)
    assert err.value.code == "parameter.sample_rate"
    with pytest.raises(InvalidParameterError, match="channels") as err:
        LoudnessMeter(48000, 6)
    assert err.value.code == "parameter.num_channels"
    meter = LoudnessMeter(48000, 2)
    with pytest.raises(InvalidParameterError, match="shape") as err:
        meter.push(np.zeros((1, 100), dtype=np.float32))
    assert err.value.code == "audio.bad_shape"
    bad = np.zeros((2, 100), dtype=np.float32)
    bad[1, 50] = np.nan
    with pytest.raises(InvalidAudioError, match="NaN") as err:
        meter.push(bad)
    assert err.value.code == "audio.non_finite"
