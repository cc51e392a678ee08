"""Known answers for the true-peak meter: EBU Tech 3341 cases 15-19, sample peak, clipping."""

import warnings

import numpy as np
import pytest

from mixlab.analysis.truepeak import TruePeakMeter, measure_true_peak
from mixlab.errors import InvalidAudioError, InvalidParameterError
from tests.fixtures.signals import band_limited_noise, silence, sine, sine_amplitude, split_blocks
from tests.oracles import ideal_true_peak_db

# EBU Tech 3341 Table 1 / section 2.9: true peak within +0.2 / -0.4 dB.
TP_ABOVE_DB = 0.2
TP_BELOW_DB = 0.4

# EBU Tech 3341 cases 15-19: (frequency as a fraction of fs, peak amplitude, phase in degrees,
# expected dBTP). The phase offsets put the samples off the sine's peaks.
EBU_3341_TRUE_PEAK_CASES = {
    15: (1 / 4, 0.50, 0.0, -6.0),
    16: (1 / 4, 0.50, 45.0, -6.0),
    17: (1 / 6, 0.50, 60.0, -6.0),
    18: (1 / 8, 0.50, 67.5, -6.0),
    19: (1 / 4, 1.41, 45.0, 3.0),
}


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("case", sorted(EBU_3341_TRUE_PEAK_CASES))
def test_ebu_3341_true_peak_cases(case, sample_rate):
    fraction, amplitude, phase_deg, expected = EBU_3341_TRUE_PEAK_CASES[case]
    # 20 ms fades: an abrupt onset of a sine near fs/4 really does overshoot by up to 0.7 dB
    # once band-limited (the ideal oracle agrees), which is not what these cases test.
    x = sine_amplitude(
        sample_rate,
        1.0,
        frequency_hz=fraction * sample_rate,
        amplitude_lin=amplitude,
        phase_deg=phase_deg,
        num_channels=2,
        fade_s=0.02,
    )
    r = measure_true_peak(x, sample_rate)
    assert expected - TP_BELOW_DB <= r.true_peak_dbtp <= expected + TP_ABOVE_DB
    assert r.true_peak_dbtp_per_channel[0] == r.true_peak_dbtp_per_channel[1]
    assert r.oversampling_factor == 4


def test_case_16_sample_peak_misses_what_the_true_peak_finds():
    # fs/4 at 45 degrees: every sample is 0.5 * sin(45 deg) = 0.354 (-9.03 dBFS).
    x = sine_amplitude(48000, 1.0, frequency_hz=12000.0, amplitude_lin=0.5, phase_deg=45.0, fade_s=0.02)
    r = measure_true_peak(x, 48000)
    assert r.sample_peak_dbfs == pytest.approx(20 * np.log10(0.5 * np.sin(np.pi / 4)), abs=1e-5)
    assert r.true_peak_dbtp == pytest.approx(20 * np.log10(0.5), abs=0.05)


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_band_limited_noise_against_an_ideal_interpolator(rng, sample_rate):
    # Content up to 0.2 fs: sampling the peak of such a sine at 4x (2x at 96k) points misses at
    # most 1 - cos(pi * 0.2 / factor) (0.11 dB at 4x, 0.44 dB at 2x); the filter's ripple and
    # images add at most ~0.03 dB.
    x = band_limited_noise(sample_rate, 1.0, rng=rng, low_hz=20.0, high_hz=0.2 * sample_rate, level_db=-15.0, num_channels=2)
    factor = 4 if sample_rate < 88200 else 2
    miss_db = -20 * np.log10(np.cos(np.pi * 0.2 / factor))
    measured = measure_true_peak(x, sample_rate).true_peak_dbtp
    ideal = ideal_true_peak_db(x)
    assert ideal - miss_db - 0.03 <= measured <= ideal + 0.03


def test_no_oversampling_at_192k_true_peak_equals_sample_peak(rng):
    # BS.1770-4 Annex 2: at 192 kHz the samples are already dense enough.
    x = band_limited_noise(192000, 0.5, rng=rng, low_hz=20.0, high_hz=20000.0, level_db=-12.0, num_channels=2)
    r = measure_true_peak(x, 192000)
    assert r.oversampling_factor == 1
    assert r.true_peak_dbtp == r.sample_peak_dbfs
    assert r.sample_peak_dbfs == pytest.approx(20 * np.log10(np.abs(x).max()), abs=1e-9)


def test_sample_peak_of_a_sine_is_its_amplitude():
    # 1 kHz at 48 kHz: 48 samples per period, one of them on the crest.
    x = sine(48000, 1.0, frequency_hz=1000.0, level_db=-3.0, num_channels=2)
    r = measure_true_peak(x, 48000)
    assert r.sample_peak_dbfs == pytest.approx(-3.0, abs=1e-5)
    # a low-frequency sine has its true peak at a sample
    assert r.true_peak_dbtp == pytest.approx(-3.0, abs=0.01)


def test_counts_clipped_samples_and_runs():
    x = np.zeros((2, 1000), dtype=np.float32)
    x[0, 100:103] = 1.0  # a run of 3: one clip event
    x[0, 200] = -1.0  # isolated full-scale sample: clipped, no event
    x[0, 300:302] = 32767 / 32768  # 16-bit full scale, run of 2: no event
    x[1, 500:510] = -1.2  # float overshoot, run of 10: one event
    x[1, 995:] = 1.0  # run of 5 reaching the end: one event
    r = measure_true_peak(x, 48000)
    assert r.clipped_samples_per_channel == (6, 15)
    assert r.clipped_samples == 21
    assert r.clip_events == 3
    assert r.sample_peak_dbfs == pytest.approx(20 * np.log10(1.2), abs=1e-6)


def test_clip_runs_across_block_boundaries():
    x = np.zeros((1, 5000), dtype=np.float32)
    x[0, 990:1010] = 1.0
    x[0, 2000:2002] = 1.0
    x[0, 3000:3003] = -1.0
    whole = measure_true_peak(x, 48000)
    meter = TruePeakMeter(48000, 1)
    cuts = [0, 995, 1000, 1001, 1005, 2001, 3001, 3002, 5000]
    for a, b in zip(cuts, cuts[1:]):
        meter.push(x[:, a:b])
    chunked = meter.result()
    assert whole.clip_events == chunked.clip_events == 2
    assert whole.clipped_samples == chunked.clipped_samples == 25


@pytest.mark.parametrize("num_channels", [1, 2])
def test_chunked_equals_one_shot(rng, num_channels):
    x = band_limited_noise(44100, 2.0, rng=rng, low_hz=20.0, high_hz=20000.0, level_db=-10.0, num_channels=num_channels)
    whole = measure_true_peak(x, 44100)
    meter = TruePeakMeter(44100, num_channels)
    for block in split_blocks(x, rng, max_block=5000):
        meter.push(block)
    chunked = meter.result()
    # float32 FIR: identical to float32 round-off whatever the block boundaries
    assert chunked.true_peak_dbtp == pytest.approx(whole.true_peak_dbtp, abs=1e-5)
    assert chunked.sample_peak_dbfs == whole.sample_peak_dbfs


def test_result_does_not_stop_the_meter():
    x = sine(48000, 1.0, level_db=-6.0)
    meter = TruePeakMeter(48000, 1)
    meter.push(x[:, :24000])
    first = meter.result()
    meter.push(x[:, 24000:] * 2)
    assert meter.result().true_peak_dbtp > first.true_peak_dbtp


def test_silence_reads_minus_infinity_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = measure_true_peak(silence(48000, 1.0, num_channels=2), 48000)
        empty = measure_true_peak(silence(48000, 0.0, num_channels=2), 48000)
    assert r.true_peak_dbtp == r.sample_peak_dbfs == -np.inf
    assert empty.true_peak_dbtp == -np.inf
    assert r.clipped_samples == r.clip_events == 0


def test_rejects_bad_parameters_and_non_finite_audio():
    with pytest.raises(InvalidParameterError) as err:
        TruePeakMeter(48000, 2, min_clip_run_samples=0)
    assert err.value.code == "parameter.clip_run"
    meter = TruePeakMeter(48000, 1)
    with pytest.raises(InvalidAudioError) as err:
        meter.push(np.array([[0.0, np.inf]], dtype=np.float32))
    assert err.value.code == "audio.non_finite"
