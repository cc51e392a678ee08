"""Known answers for the split-band de-esser."""

import numpy as np
import pytest
import scipy.signal

from mixlab.dsp.crossover import butterworth_allpass_sos, linkwitz_riley_sos
from mixlab.dsp.deesser import DeEsser, DeEsserSettings
from mixlab.errors import InvalidAudioError, InvalidParameterError


def octave_noise(rng, sample_rate, duration_s, centre_hz, rms_db):
    """Seeded noise in the octave around ``centre_hz`` at the given RMS level (dBFS)."""
    edges = [centre_hz / np.sqrt(2), centre_hz * np.sqrt(2)]
    sos = scipy.signal.butter(4, edges, btype="bandpass", fs=sample_rate, output="sos")
    noise = scipy.signal.sosfilt(sos, rng.standard_normal(int(duration_s * sample_rate)))
    return noise * 10 ** (rms_db / 20) / np.std(noise)


def hard_knee_reduction_db(level_db, threshold_db, ratio):
    """Giannoulis et al. 2012 eq. 4 above the knee: (level - threshold)(1 - 1/ratio)."""
    return max(level_db - threshold_db, 0.0) * (1 - 1 / ratio)


def level_db(x):
    return 10 * np.log10(np.mean(np.square(x)))


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("num_channels", [1, 2])
def test_below_threshold_is_the_crossover_allpass(rng, sample_rate, num_channels):
    settings = DeEsserSettings(threshold_db=-20.0)
    x = (rng.standard_normal((num_channels, sample_rate // 2)) * 0.01).astype(np.float32)  # -40 dB
    y = DeEsser(settings, sample_rate, num_channels).process(x)
    # No reduction: low + high of a Linkwitz-Riley split is its 2nd-order all-pass.
    expected = scipy.signal.sosfilt(butterworth_allpass_sos(6000.0, sample_rate), x.astype(np.float64), axis=-1)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6 * np.max(np.abs(x)))  # float32 output


def test_no_reduction_means_flat_magnitude():
    impulse = np.zeros((1, 1 << 15))
    impulse[0, 0] = 1e-3  # far below threshold in every detector window
    y = DeEsser(DeEsserSettings(), 48000, 1).process(impulse) / 1e-3
    magnitude_db = 20 * np.log10(np.abs(np.fft.rfft(y[0])))
    np.testing.assert_allclose(magnitude_db, 0.0, atol=1e-6)


@pytest.mark.parametrize("rms_db", [-26.0, -20.0, -10.0])
def test_sibilant_noise_is_reduced_by_the_static_curve(rng, rms_db):
    sample_rate = 48000
    settings = DeEsserSettings(freq_hz=6000.0, threshold_db=-32.0, ratio=4.0, max_reduction_db=10.0)
    burst = octave_noise(rng, sample_rate, 1.0, 8000.0, rms_db)
    x = np.concatenate([np.zeros(sample_rate // 10), burst])[np.newaxis, :]
    y = DeEsser(settings, sample_rate, 1).process(x)[0]
    # The oracle: the side-chain level is the mean square of the LR4 high band; the static
    # curve gives the reduction g, applied to the high band only: y = LP4 x + g HP4 x
    # = AP x - (1 - g) HP4 x.
    high = scipy.signal.sosfilt(linkwitz_riley_sos(6000.0, sample_rate, kind="highpass"), x[0])
    allpass = scipy.signal.sosfilt(butterworth_allpass_sos(6000.0, sample_rate), x[0])
    steady = slice(sample_rate // 10 + sample_rate // 20, None)  # 50 ms after the onset
    side_db = level_db(high[steady])
    reduction_db = min(hard_knee_reduction_db(side_db, -32.0, 4.0), 10.0)
    assert side_db - (-32.0) > 2.0  # above the 2 dB knee, so the hard-knee formula applies
    g = 10 ** (-reduction_db / 20)
    expected = allpass - (1 - g) * high
    # Within 1 dB: the noise's level fluctuates within the 2 ms detector window and the
    # instant-attack hold catches its peaks, so slightly more is taken than for its mean
    # (0.3-0.6 dB here).
    assert level_db(y[steady]) == pytest.approx(level_db(expected[steady]), abs=1.0)
    assert level_db(y[steady]) <= level_db(expected[steady]) + 0.05
    # And the sibilance really is quieter by several dB.
    assert level_db(y[steady]) < level_db(x[0, steady]) - 1.5


def test_low_tone_at_the_same_level_is_untouched():
    sample_rate = 48000
    t = np.arange(sample_rate) / sample_rate
    x = (10 ** (-7 / 20) * np.sin(2 * np.pi * 200.0 * t))[np.newaxis, :]  # -10 dB mean square
    y = DeEsser(DeEsserSettings(threshold_db=-32.0), sample_rate, 1).process(x)
    steady = slice(sample_rate // 10, None)
    # The LR4 high-pass at 6 kHz leaves 200 Hz ~120 dB down: nothing is detected.
    assert level_db(y[0, steady]) == pytest.approx(level_db(x[0, steady]), abs=1e-4)


def test_attack_and_release_times(rng):
    sample_rate = 48000
    settings = DeEsserSettings(threshold_db=-40.0, ratio=10.0, max_reduction_db=12.0, release_ms=60.0)
    burst = octave_noise(rng, sample_rate, 0.2, 8000.0, -10.0)
    x = np.concatenate([np.zeros(4800), burst, np.zeros(sample_rate)])[np.newaxis, :]
    deesser = DeEsser(settings, sample_rate, 1)
    high = scipy.signal.sosfilt(linkwitz_riley_sos(6000.0, sample_rate, kind="highpass"), x)
    reduction = deesser.reduction_db(high)
    assert not reduction[:4800].any()
    # Fast attack: the full 12 dB within 10 ms of the onset (2 ms detector + 1 ms smoothing).
    assert np.all(reduction[4800 + 480 : 4800 + 9600] > 11.0)
    assert np.max(reduction) <= 12.0 + 1e-9  # never beyond max_reduction_db
    end = 4800 + burst.size
    # Release: exponential with 60 ms time constant; 12 dB * exp(-300/60) = 0.08 dB after 300 ms.
    assert reduction[end + int(0.3 * sample_rate)] < 0.1
    assert reduction[end + int(0.02 * sample_rate)] > 6.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_equals_one_shot(rng, dtype):
    sample_rate = 44100
    speech = rng.standard_normal((2, sample_rate)) * 0.05
    ess = np.zeros((2, sample_rate))
    ess[:, 10000:20000] = octave_noise(rng, sample_rate, 10000 / sample_rate, 7000.0, -12.0)
    x = (speech + ess).astype(dtype)
    original = x.copy()
    one = DeEsser(DeEsserSettings(), sample_rate, 2).process(x)
    deesser = DeEsser(DeEsserSettings(), sample_rate, 2)
    cuts = [0, 1, 2, 777, 10001, 10033, 15000, 30000, 44099, 44100]
    chunked = np.concatenate([deesser.process(x[:, a:b]) for a, b in zip(cuts, cuts[1:])], axis=1)
    assert one.dtype == dtype and one.shape == x.shape
    np.testing.assert_allclose(chunked, one, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(x, original)
    assert level_db(one[:, 10500:20000]) < level_db(x[:, 10500:20000]) - 3.0  # it did de-ess


def test_silence_and_empty_blocks():
    deesser = DeEsser(DeEsserSettings(), 48000, 2)
    assert not deesser.process(np.zeros((2, 4096), np.float32)).any()
    assert deesser.process(np.zeros((2, 0), np.float32)).shape == (2, 0)
    assert deesser.process(np.zeros((2, 1), np.float32)).shape == (2, 1)
    assert deesser.latency_samples == 0
    with pytest.raises(InvalidAudioError) as err:
        deesser.process(np.zeros((1, 8)))
    assert err.value.code == "audio.bad_channels"


@pytest.mark.parametrize(
    "kwargs",
    [{"freq_hz": 500.0}, {"ratio": 0.5}, {"max_reduction_db": 0.0}, {"attack_ms": 0.0}, {"knee_db": -1.0}],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(InvalidParameterError) as err:
        DeEsserSettings(**kwargs)
    assert err.value.code == "deesser.bad_parameter"


def test_frequency_above_the_rate_is_refused():
    with pytest.raises(InvalidParameterError, match="too high") as err:
        DeEsser(DeEsserSettings(freq_hz=22000.0), 44100, 1)
    assert err.value.code == "deesser.bad_parameter"
