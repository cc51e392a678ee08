"""Known answers for the polyphase upsampler: flatness, image rejection, alignment, streaming."""

import numpy as np
import pytest
import scipy.signal

from mixlab.dsp.oversample import Upsampler, interpolation_filter, oversampling_factor, true_peak_envelope
from mixlab.errors import InvalidParameterError
from tests.fixtures.signals import split_blocks


@pytest.mark.parametrize(
    "sample_rate, factor",
    [(8000, 4), (44100, 4), (48000, 4), (88200, 2), (96000, 2), (176400, 1), (192000, 1), (384000, 1)],
)
def test_factor_follows_bs1770_annex_2(sample_rate, factor):
    assert oversampling_factor(sample_rate) == factor


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_passband_is_flat_and_images_are_rejected(factor):
    h = interpolation_filter(factor)
    # frequencies as fractions of the input rate
    _, passband = scipy.signal.freqz(h / factor, worN=np.linspace(0.0, 0.45, 500), fs=factor)
    _, stopband = scipy.signal.freqz(h / factor, worN=np.linspace(0.55, factor / 2, 2000), fs=factor)
    passband_db = 20 * np.log10(np.abs(passband))
    assert np.all(np.abs(passband_db) < 0.05)  # ripple < 0.05 dB up to 0.45 fs
    assert 20 * np.log10(np.abs(stopband).max()) < -50.0  # images of 0..0.45 fs
    assert len(h) == 2 * factor * 16 + 1
    np.testing.assert_allclose(h, h[::-1], atol=1e-15)  # linear phase


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("freq_fraction", [0.01, 0.2, 0.45])
def test_output_is_the_band_limited_sine(factor, freq_fraction):
    # y[factor*i + p] is the sine at input time i - D + p/factor; the error is bounded by the
    # passband ripple (0.05 dB = 0.6 %) plus images at -50 dB (0.3 %).
    n = 4000
    w = 2 * np.pi * freq_fraction
    x = np.sin(w * np.arange(n))[np.newaxis].astype(np.float32)
    up = Upsampler(factor, 1)
    y = up.process(x)[0]
    d = up.latency_samples
    t = np.arange(n * factor) / factor - d
    steady = slice(factor * (3 * d), factor * (n - d))
    np.testing.assert_allclose(y[steady], np.sin(w * t[steady]), atol=0.009)


def test_original_samples_pass_through_exactly(rng):
    # Nyquist (L-th band) filter: phase 0 is a pure delay of latency_samples.
    x = rng.standard_normal((2, 1000)).astype(np.float32)
    up = Upsampler(4, 2)
    y = up.process(x)
    d = up.latency_samples
    np.testing.assert_array_equal(y[:, 4 * d :: 4], x[:, : 1000 - d])


def test_impulse_response_is_centred_on_the_latency():
    x = np.zeros((1, 100), dtype=np.float32)
    x[0, 0] = 1.0
    up = Upsampler(4, 1)
    y = up.process(x)[0]
    assert up.latency_samples == 16
    assert int(np.argmax(np.abs(y))) == 4 * up.latency_samples
    np.testing.assert_allclose(y[: 4 * 32 + 1], interpolation_filter(4), atol=1e-7)


def test_dc_gain_is_exactly_one_in_every_phase():
    up = Upsampler(4, 1)
    y = up.process(np.ones((1, 200), dtype=np.float32))[0]
    np.testing.assert_allclose(y[4 * 32 :], 1.0, atol=1e-6)


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_chunked_equals_one_shot(rng, factor):
    x = rng.standard_normal((2, 20000)).astype(np.float32)
    whole = Upsampler(factor, 2).process(x)
    up = Upsampler(factor, 2)
    parts = [up.process(b) for b in split_blocks(x, rng, max_block=3000)]
    parts.insert(1, up.process(np.zeros((2, 0), dtype=np.float32)))  # empty blocks are fine
    # float32 FIR over the same samples: equal to round-off
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-6)


def test_peak_per_sample_is_the_max_over_each_input_samples_phases(rng):
    x = rng.standard_normal((2, 5000)).astype(np.float32)
    expected = np.abs(Upsampler(4, 2).process(x)).reshape(2, 5000, 4).max(axis=2)
    up = Upsampler(4, 2)
    env = np.concatenate([up.peak_per_sample(b) for b in split_blocks(x, rng, max_block=700)], axis=1)
    np.testing.assert_allclose(env, expected, rtol=0, atol=1e-6)


def test_tails_do_not_change_the_state(rng):
    x = rng.standard_normal((1, 3000)).astype(np.float32)
    up = Upsampler(4, 1)
    head = up.process(x[:, :1000])
    tail = up.process_tail()
    rest = up.process(x[:, 1000:])
    np.testing.assert_allclose(np.concatenate([head, rest], axis=1), Upsampler(4, 1).process(x), atol=1e-6)
    # the tail is what silence after the first 1000 samples would give
    padded = Upsampler(4, 1).process(np.concatenate([x[:, :1000], np.zeros((1, 16), np.float32)], axis=1))
    np.testing.assert_allclose(tail, padded[:, 4000:], atol=1e-6)


def test_float64_in_float64_out(rng):
    x = rng.standard_normal((1, 500))
    y = Upsampler(4, 1).process(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, Upsampler(4, 1).process(x.astype(np.float32)), atol=1e-5)


def test_true_peak_envelope_has_no_latency():
    # fs/4 at 45 degrees, peak 0.5: samples at 45, 135, 225, 315 degrees reach only 0.354.
    # env[j] covers sample j and the points up to j + 1: the crest at 90 degrees lies after
    # the sample at 45 degrees, the trough at 270 after the one at 225.
    n = np.arange(4800)
    x = (0.5 * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32)[np.newaxis]
    env = true_peak_envelope(x, 48000)
    assert env.shape == x.shape
    np.testing.assert_allclose(env[0, 100:-100:2], 0.5, atol=0.003)
    np.testing.assert_allclose(env[0, 101:-100:2], 0.5 * np.sin(3 * np.pi / 4), atol=0.003)
    assert np.all(env >= np.abs(x))


def test_true_peak_envelope_alignment_and_short_inputs(rng):
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    env = true_peak_envelope(x, 44100, block_size=777)
    up = Upsampler(4, 2)
    d = up.latency_samples
    streamed = np.concatenate([up.peak_per_sample(x), up.peak_per_sample_tail()], axis=1)
    np.testing.assert_allclose(env, streamed[:, d:], atol=1e-6)
    short = x[:, :5]
    np.testing.assert_allclose(true_peak_envelope(short, 44100), env_of(short), atol=1e-6)


def env_of(x):
    up = Upsampler(4, x.shape[0])
    d = up.latency_samples
    padded = np.concatenate([x, np.zeros((x.shape[0], d), np.float32)], axis=1)
    return up.peak_per_sample(padded)[:, d:]


def test_rejects_bad_parameters():
    with pytest.raises(InvalidParameterError) as err:
        Upsampler(0, 2)
    assert err.value.code == "parameter.oversampling_factor"
    with pytest.raises(InvalidParameterError) as err:
        Upsampler(4, 2).process(np.zeros((1, 10), dtype=np.float32))
    assert err.value.code == "audio.bad_shape"
