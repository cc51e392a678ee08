"""Known-answer tests for explicit resampling (src/mixlab/audio/resample.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mixlab.audio.buffer import AudioBuffer
from mixlab.audio.resample import StreamResampler, resample
from mixlab.errors import InvalidParameterError, ProcessingError

from .conftest import freq_error_hz, sine, tone


@pytest.mark.parametrize("num_channels", [1, 2])
@pytest.mark.parametrize(("in_rate", "out_rate"), [(44100, 48000), (48000, 44100), (96000, 48000), (44100, 96000)])
def test_sine_keeps_frequency_amplitude_and_length(in_rate: int, out_rate: int, num_channels: int) -> None:
    """A 1 kHz sine at -6 dBFS comes out as a 1 kHz sine at -6 dBFS.

    Known answers: amplitude 10^(-6/20) within 0.01 dB (soxr VHQ passband ripple is far
    smaller; the fit skips 50 ms at each end for the filter edges); frequency within 0.01 Hz
    (phase drift over the signal); length round(n * out/in) +- 1.
    """
    x = sine(freq_hz=1000.0, sample_rate=in_rate, duration_s=1.0, num_channels=num_channels)
    out = resample(AudioBuffer(x, in_rate), out_rate)
    assert out.sample_rate == out_rate
    assert out.samples.dtype == np.float32 and out.num_channels == num_channels
    assert abs(out.num_samples - round(x.shape[1] * out_rate / in_rate)) <= 1
    edge = int(0.05 * out_rate)
    expected = 10 ** (-6 / 20)
    for c in range(num_channels):
        y = out.samples[c]
        amp = abs(tone(y, freq_hz=1000.0, sample_rate=out_rate, start=edge, stop=len(y) - edge))
        assert abs(20 * np.log10(amp / expected)) < 0.01
        assert abs(freq_error_hz(y[edge:-edge], freq_hz=1000.0, sample_rate=out_rate)) < 0.01


def test_time_alignment_is_kept() -> None:
    """soxr compensates its filter delay: the phase of the tone at t = 0 is unchanged."""
    x = sine(freq_hz=1000.0, sample_rate=44100, duration_s=1.0, phase_rad=0.3)
    y = resample(AudioBuffer(x, 44100), 48000).samples[0]
    phase = np.angle(tone(y, freq_hz=1000.0, sample_rate=48000, start=2400, stop=len(y) - 2400))
    assert phase == pytest.approx(np.angle(tone(x[0], freq_hz=1000.0, sample_rate=44100)), abs=1e-3)


def test_downsampling_removes_content_above_the_new_nyquist() -> None:
    """A 30 kHz tone at 96 kHz has no place at 44.1 kHz: it must vanish, not alias to 14.1 kHz."""
    x = sine(freq_hz=30000.0, sample_rate=96000, duration_s=0.5, level_db=0.0)
    y = resample(AudioBuffer(x, 96000), 44100).samples[0]
    core = y[2205:-2205]
    assert abs(tone(core, freq_hz=44100 - 30000, sample_rate=44100)) < 1e-5  # below -100 dB
    assert np.sqrt(np.mean(core.astype(np.float64) ** 2)) < 1e-5


@pytest.mark.parametrize("num_channels", [1, 2])
def test_streaming_equals_one_shot(num_channels: int, rng: np.random.Generator) -> None:
    x = (0.25 * rng.standard_normal((num_channels, 44100))).astype(np.float32)
    whole = resample(AudioBuffer(x, 44100), 48000).samples
    stream = StreamResampler(44100, 48000, num_channels)
    cuts = np.unique(np.concatenate([[0, x.shape[1]], rng.integers(0, x.shape[1], 12)]))
    parts = [stream.process(x[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    parts.append(stream.flush())
    streamed = np.concatenate(parts, axis=1)
    assert all(p.dtype == np.float32 and p.shape[0] == num_channels for p in parts)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-5)  # float32 round-off


def test_stream_last_block_flag_and_reset() -> None:
    x = sine(freq_hz=440.0, sample_rate=48000, duration_s=0.5, num_channels=2)
    stream = StreamResampler(48000, 44100, 2)
    first = np.concatenate([stream.process(x[:, :10000]), stream.process(x[:, 10000:], last=True)], axis=1)
    with pytest.raises(ProcessingError) as info:
        stream.process(x)
    assert info.value.code == "audio.resampler_finished"
    stream.reset()
    second = np.concatenate([stream.process(x), stream.flush()], axis=1)
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)


def test_same_rate_is_a_no_op() -> None:
    buffer = AudioBuffer(sine(freq_hz=440.0, sample_rate=48000, duration_s=0.1), 48000)
    assert resample(buffer, 48000) is buffer
    stream = StreamResampler(48000, 48000, 1)
    np.testing.assert_array_equal(stream.process(buffer.samples, last=True), buffer.samples)


def test_input_is_not_modified_and_empty_input_works() -> None:
    x = sine(freq_hz=440.0, sample_rate=44100, duration_s=0.1, num_channels=2)
    before = x.copy()
    resample(AudioBuffer(x, 44100), 48000)
    np.testing.assert_array_equal(x, before)
    empty = resample(AudioBuffer(np.zeros((2, 0), np.float32), 44100), 48000)
    assert empty.samples.shape == (2, 0)


@pytest.mark.parametrize("target", [0, 100, 10_000_000, 44100.5, True])
def test_bad_target_rate(target: object) -> None:
    with pytest.raises(InvalidParameterError) as info:
        resample(AudioBuffer(np.zeros((1, 10), np.float32), 44100), target)  # type: ignore[arg-type]
    assert info.value.code == "parameter.bad_sample_rate"


def test_bad_quality_channels_and_shape() -> None:
    with pytest.raises(InvalidParameterError) as info:
        resample(AudioBuffer(np.zeros((1, 10), np.float32), 44100), 48000, quality="best")
    assert info.value.code == "parameter.bad_quality"
    with pytest.raises(InvalidParameterError) as info:
        StreamResampler(44100, 48000, 0)
    assert info.value.code == "parameter.bad_num_channels"
    with pytest.raises(InvalidParameterError) as info:
        StreamResampler(44100, 48000, 2).process(np.zeros((1, 100), np.float32))
    assert info.value.code == "audio.bad_shape"
