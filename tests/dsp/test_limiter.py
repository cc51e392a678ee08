"""Known answers for the true-peak limiter: it never exceeds its ceiling, and leaves quiet audio alone."""

import numpy as np
import pytest
import scipy.signal

from mixlab.dsp.limiter import TruePeakLimiter, release_envelope
from mixlab.dsp.oversample import Upsampler
from mixlab.dsp.stream import run_compensated
from tests.oracles import ideal_true_peak_db


def _limit(x, sample_rate, ceiling, blocks=(4096,), **kw):
    lim = TruePeakLimiter(ceiling, sample_rate, x.shape[0], **kw)
    cuts = np.cumsum([0, *blocks])
    parts = [x[:, a:b] for a, b in zip(cuts, cuts[1:])] + [x[:, cuts[-1]:]]
    return np.concatenate(list(run_compensated(parts, lim.process, latency_samples=lim.latency_samples)), axis=1)


def test_release_envelope_matches_the_recursion(rng):
    x = np.maximum(rng.standard_normal(30000) * 3, 0) * (rng.random(30000) < 0.01)
    coeff = 0.999
    y = release_envelope(x, coeff=coeff, previous_db=2.0)
    expected = np.empty_like(x)
    prev = 2.0
    for i, v in enumerate(x):
        prev = max(v, coeff * prev)
        expected[i] = prev
    np.testing.assert_allclose(y, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("ceiling", [-1.0, -0.3])
def test_output_never_exceeds_the_ceiling(rng, sample_rate, ceiling):
    n = sample_rate
    t = np.arange(n) / sample_rate
    # Loud noise with spikes, band-limited to the audio band (at most 0.45 fs) like any real
    # recording (an ideal interpolator finds peaks in energy at Nyquist that no real signal
    # carries), plus a hot 11.025 kHz sine whose peaks fall between samples at 44.1 kHz.
    raw = rng.standard_normal((2, n)) * 0.7
    raw[:, ::5000] += 2.5
    sos = scipy.signal.butter(8, min(0.45 * sample_rate, 21600.0), fs=sample_rate, output="sos")
    x = scipy.signal.sosfilt(sos, raw, axis=1) + 1.4 * np.sin(2 * np.pi * 11025.0 * t + np.pi / 4)
    y = _limit(x, sample_rate, ceiling)
    # 0.1 dB: what 8x detection can miss at 0.45 fs (cos(pi * 0.45 / 8) = -0.14 dB at worst).
    assert ideal_true_peak_db(y) <= ceiling + 0.1


def test_quiet_audio_passes_unchanged(rng):
    x = (rng.standard_normal((2, 20000)) * 0.05).astype(np.float32)
    y = _limit(x, 44100, -1.0)
    np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-7)


def test_chunked_equals_one_shot(rng):
    x = rng.standard_normal((2, 50000)) * 0.8
    one = _limit(x, 48000, -1.0, blocks=(50000,))
    chunked = _limit(x, 48000, -1.0, blocks=(1, 999, 7000, 20000))
    np.testing.assert_allclose(chunked, one, rtol=1e-6, atol=1e-6)


def test_external_envelope_gives_the_same_output(rng):
    sr = 44100
    x = rng.standard_normal((2, 30000)) * 0.9
    own = _limit(x, sr, -1.0)
    up = Upsampler(4, 2)

    def envelope_row(block):
        return np.concatenate([block, np.zeros((1, block.shape[1]))])

    # Build the aligned envelope the way the mastering stage does, then limit with it.
    from mixlab.dsp.limiter import TruePeakEnvelope

    det = TruePeakEnvelope(sr, 2)
    env = np.concatenate(list(run_compensated([x], det.process, latency_samples=det.latency_samples)), axis=1)
    lim = TruePeakLimiter(-1.0, sr, 2, external_envelope=True)
    with_env = np.concatenate(list(run_compensated([np.concatenate([x, env])], lim.process,
                                                   latency_samples=lim.latency_samples)), axis=1)
    np.testing.assert_allclose(with_env, own, rtol=1e-6, atol=1e-6)
    assert up.factor == 4 and envelope_row(x).shape[0] == 3
