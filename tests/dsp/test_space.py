"""Known answers for the reverb and delay impulse responses and the streaming convolver."""

import math

import numpy as np
import pytest
import scipy.signal

from mixlab.dsp.space import StereoConvolver, delay_ir, reverb_decay_times_s, reverb_ir
from mixlab.errors import InvalidAudioError, InvalidParameterError


def t30_s(h, sample_rate, centre_hz):
    """Reverberation time from an octave band of ``h``, by Schroeder backward integration.

    ISO 3382-1 T30: a line fitted to the energy decay curve between -5 and -35 dB, extrapolated
    to -60 dB. The octave filter is a 4th-order Butterworth band-pass (its own ringing is a few
    ms, short beside the decays measured here).
    """
    edges = [centre_hz / math.sqrt(2), centre_hz * math.sqrt(2)]
    band = scipy.signal.sosfilt(scipy.signal.butter(4, edges, btype="bandpass", fs=sample_rate, output="sos"), h)
    energy = np.cumsum(band[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(energy / energy[0])
    start, stop = np.argmax(edc_db <= -5.0), np.argmax(edc_db <= -35.0)
    t = np.arange(h.size) / sample_rate
    slope_db_per_s = np.polyfit(t[start:stop], edc_db[start:stop], 1)[0]
    return -60.0 / slope_db_per_s


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("rt60_s", [0.5, 1.5, 3.0])
def test_reverb_time_at_1_khz(sample_rate, rt60_s):
    ir = reverb_ir(sample_rate, rt60_s=rt60_s, seed=7)
    for channel in ir:
        # 10 %: the T30 of one noise realisation scatters by a few per cent around the envelope's
        # exact 60 dB per rt60_s.
        assert t30_s(channel, sample_rate, 1000.0) == pytest.approx(rt60_s, rel=0.10)


def test_damping_shortens_the_high_frequency_decay():
    sample_rate, rt60_s = 48000, 2.0
    damped = reverb_ir(sample_rate, rt60_s=rt60_s, damping_hz=6000.0, seed=1)
    bright = reverb_ir(sample_rate, rt60_s=rt60_s, damping_hz=1e6, seed=1)
    for channel in range(2):
        t_mid = t30_s(damped[channel], sample_rate, 1000.0)
        t_high = t30_s(damped[channel], sample_rate, 8000.0)
        # T(8 kHz) = 2.0 * (1 + (1/6)^2) / (1 + (8/6)^2) = 0.74 s at the band centre; the octave
        # band (5.7-11.3 kHz) spans 1.1 to 0.45 s and its slowest part dominates the T30.
        assert t_high < 0.6 * t_mid
        assert t_high == pytest.approx(float(reverb_decay_times_s(8000.0, rt60_s=rt60_s, damping_hz=6000.0)),
                                       rel=0.35)
        # Without damping the highs decay as the mids.
        assert t30_s(bright[channel], sample_rate, 8000.0) == pytest.approx(rt60_s, rel=0.10)


def test_decay_time_curve():
    f = np.array([50.0, 1000.0, 6000.0, 20000.0])
    times = reverb_decay_times_s(f, rt60_s=1.0, damping_hz=6000.0)
    np.testing.assert_allclose(times[:2], 1.0)  # flat at and below 1 kHz
    assert times[2] == pytest.approx((1 + (1 / 6) ** 2) / 2)  # about half at damping_hz
    assert times[3] < times[2]


def test_reverb_channels_are_decorrelated_and_unit_energy():
    ir = reverb_ir(44100, rt60_s=1.2, seed=3)
    assert abs(np.corrcoef(ir)[0, 1]) < 0.2
    np.testing.assert_allclose(np.sum(ir**2, axis=1), 1.0, rtol=1e-12)


def test_reverb_keeps_the_level_of_white_noise(rng):
    # 0 dB energy gain: for white noise the output power is the input power times sum(h^2) = 1.
    ir = reverb_ir(44100, rt60_s=0.8, seed=2)
    x = rng.standard_normal((1, 44100 * 6))
    conv = StereoConvolver(ir, 1, precision="double")
    y = conv.process(x)[:, 44100:]  # past the build-up of the tail
    level_db = 10 * np.log10(np.mean(y**2, axis=1))
    np.testing.assert_allclose(level_db, 0.0, atol=0.2)  # noise-estimate scatter over 5 s


def test_reverb_is_deterministic_and_shaped_as_documented():
    sample_rate = 48000
    a = reverb_ir(sample_rate, rt60_s=1.0, predelay_ms=20.0, seed=5)
    np.testing.assert_array_equal(a, reverb_ir(sample_rate, rt60_s=1.0, predelay_ms=20.0, seed=5))
    assert not np.array_equal(a, reverb_ir(sample_rate, rt60_s=1.0, predelay_ms=20.0, seed=6))
    predelay = 960
    assert a.shape == (2, predelay + sample_rate)
    assert not a[:, :predelay].any()
    # Early reflections: sparse at first (density 1 % rising with t^2), dense after 80 ms.
    first_10_ms = np.count_nonzero(a[:, predelay : predelay + 480]) / 960
    assert 0 < first_10_ms < 0.1
    assert np.count_nonzero(a[:, predelay + 3840 : predelay + 9600]) == 2 * 5760


def test_delay_echoes_are_exact():
    sample_rate = 48000
    ir = delay_ir(sample_rate, delay_ms=125.0, feedback=0.5)
    # feedback^(k-1) >= 1e-3 for k <= 10 (0.5^9 = 0.00195, 0.5^10 = 0.00098).
    positions = 6000 * np.arange(1, 11)
    expected = np.zeros(positions[-1] + 1)
    expected[positions] = 0.5 ** np.arange(10)
    np.testing.assert_array_equal(ir, np.stack([expected, expected]))


def test_ping_pong_alternates_and_no_feedback_is_one_echo():
    ir = delay_ir(44100, delay_ms=10.0, feedback=0.3, ping_pong=True)
    # 0.3^5 = 0.0024 >= 1e-3 > 0.3^6: six echoes, odd ones left, even ones right.
    np.testing.assert_array_equal(np.nonzero(ir[0])[0], [441, 1323, 2205])
    np.testing.assert_array_equal(np.nonzero(ir[1])[0], [882, 1764, 2646])
    np.testing.assert_allclose(ir[1, [882, 1764, 2646]], [0.3, 0.3**3, 0.3**5], rtol=1e-12)
    single = delay_ir(44100, delay_ms=10.0, feedback=0.0)
    assert single.shape == (2, 442) and single[0, 441] == 1.0 and np.count_nonzero(single) == 2


def test_delay_repeats_get_darker():
    sample_rate, lowpass_hz = 48000, 3000.0
    ir = delay_ir(sample_rate, delay_ms=100.0, feedback=0.6, lowpass_hz=lowpass_hz)
    b, a = scipy.signal.butter(1, lowpass_hz, fs=sample_rate)
    _, h = scipy.signal.freqz(b, a, worN=[lowpass_hz], fs=sample_rate)
    for k in range(1, 5):
        echo = ir[0, k * 4800 : (k + 1) * 4800]
        # A unit-DC-gain low-pass: each echo's samples sum to its gain feedback^(k-1).
        assert echo.sum() == pytest.approx(0.6 ** (k - 1), rel=1e-9)
        # Echo k went through k low-passes: |H(fc)|^k = 2^(-k/2).
        _, e = scipy.signal.freqz(echo, worN=[lowpass_hz], fs=sample_rate)
        assert abs(e[0]) == pytest.approx(0.6 ** (k - 1) * abs(h[0]) ** k, rel=1e-6)
    assert abs(h[0]) == pytest.approx(1 / math.sqrt(2), rel=1e-9)


@pytest.mark.parametrize("num_channels", [1, 2])
@pytest.mark.parametrize("precision", ["single", "double"])
def test_convolver_equals_fftconvolve(rng, num_channels, precision):
    ir = rng.standard_normal((2, 5000))
    x = rng.standard_normal((num_channels, 23456))
    conv = StereoConvolver(ir, num_channels, partition_size=1024, precision=precision)
    y = np.concatenate([conv.process(x), conv.flush(np.float64)], axis=1)
    expected = np.stack([scipy.signal.fftconvolve(x[c % num_channels], ir[c]) for c in range(2)])
    assert y.shape == expected.shape
    scale = np.sqrt(np.mean(expected**2))
    # Single precision: FFT round-off ~1e-6 of the output level; double: ~1e-15.
    atol = 1e-5 if precision == "single" else 1e-12
    np.testing.assert_allclose(y / scale, expected / scale, rtol=0, atol=atol)


def test_convolver_chunked_equals_one_shot(rng):
    ir = rng.standard_normal((2, 3000))
    x = rng.standard_normal((2, 20000)).astype(np.float32)
    one = StereoConvolver(ir, 2, partition_size=512).process(x)
    conv = StereoConvolver(ir, 2, partition_size=512)
    cuts = [0, 1, 2, 513, 1024, 1025, 1537, 5000, 7777, 19999, 20000]
    chunked = np.concatenate([conv.process(x[:, a:b]) for a, b in zip(cuts, cuts[1:])], axis=1)
    assert chunked.dtype == np.float32 and chunked.shape == (2, 20000)
    scale = np.sqrt(np.mean(one.astype(np.float64) ** 2))
    np.testing.assert_allclose(chunked / scale, one / scale, rtol=0, atol=1e-5)  # float32 FFT round-off


def test_flush_gives_the_tail_and_latency_is_zero():
    ir = np.zeros((2, 100))
    ir[0, 0] = 1.0  # direct path on the left
    ir[1, 99] = 0.5  # one late reflection on the right
    conv = StereoConvolver(ir, 1, partition_size=32, precision="double")
    x = np.arange(1, 11, dtype=np.float64)[np.newaxis, :]
    y = conv.process(x)
    np.testing.assert_allclose(y[0], x[0], atol=1e-12)  # no latency: index 0 is the direct path
    np.testing.assert_allclose(y[1], 0.0, atol=1e-12)
    tail = conv.flush(np.float64)
    assert tail.shape == (2, 99)
    np.testing.assert_allclose(tail[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(tail[1, :89], 0.0, atol=1e-12)
    np.testing.assert_allclose(tail[1, 89:], 0.5 * x[0], atol=1e-12)
    assert conv.latency_samples == 0
    # After the flush the convolver carries on as if the input had been silent.
    np.testing.assert_allclose(conv.process(np.ones((1, 5))), [[1.0] * 5, [0.0] * 5], atol=1e-12)


def test_convolver_edges():
    conv = StereoConvolver(np.ones((2, 10)), 2)
    assert conv.process(np.zeros((2, 0), np.float32)).shape == (2, 0)
    assert not conv.process(np.zeros((2, 1000), np.float32)).any()
    with pytest.raises(InvalidAudioError) as err:
        conv.process(np.zeros((1, 10)))
    assert err.value.code == "audio.bad_channels"
    with pytest.raises(InvalidParameterError) as err:
        StereoConvolver(np.ones((1, 10)), 1)
    assert err.value.code == "convolver.bad_ir"


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        (reverb_ir, {"rt60_s": 0.05}),
        (reverb_ir, {"rt60_s": 1.0, "predelay_ms": -1.0}),
        (reverb_ir, {"rt60_s": 1.0, "damping_hz": 400.0}),
        (delay_ir, {"delay_ms": 0.0}),
        (delay_ir, {"delay_ms": 100.0, "feedback": 0.95}),
        (delay_ir, {"delay_ms": 100.0, "lowpass_hz": 30000.0}),
    ],
)
def test_bad_bus_parameters_are_refused(function, kwargs):
    with pytest.raises(InvalidParameterError, match="range|too low") as err:
        function(48000, **kwargs)
    assert err.value.code in ("reverb.bad_parameter", "delay.bad_parameter")
