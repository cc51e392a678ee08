"""Known answers for the crossover, the FIR EQ, width and stream latency compensation."""

import numpy as np
import pytest
import scipy.signal

from mixlab.dsp.crossover import BandSplitter, StreamingSOS, linkwitz_riley_sos
from mixlab.dsp.fir import StreamingFIR, design_curve_fir, fir_response_db
from mixlab.dsp.stream import run_compensated


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
def test_linkwitz_riley_is_minus_6_db_at_cutoff(sample_rate, kind):
    # LR4 = Butterworth^2: each half is -3.01 dB at the cutoff, so -6.02 dB in all.
    sos = linkwitz_riley_sos(1000.0, sample_rate, kind=kind)
    _, h = scipy.signal.sosfreqz(sos, worN=[1000.0], fs=sample_rate)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-6.02, abs=0.01)


@pytest.mark.parametrize("sample_rate", [44100, 96000])
def test_band_split_sums_to_flat_magnitude(sample_rate):
    splitter = BandSplitter([120.0, 2500.0], sample_rate, 1)
    impulse = np.zeros((1, 1 << 16))
    impulse[0, 0] = 1.0
    total = sum(splitter.process(impulse))
    magnitude_db = 20 * np.log10(np.abs(np.fft.rfft(total[0])))
    # An all-pass: flat to within numerical noise (the response has decayed well within 65536 samples).
    np.testing.assert_allclose(magnitude_db, 0.0, atol=1e-3)


def test_allpass_equals_the_linkwitz_riley_sum():
    # LP4 + HP4 = the 2nd-order all-pass with the Butterworth's poles (s^4 + w^4 factorises).
    from mixlab.dsp.crossover import butterworth_allpass_sos

    f = np.geomspace(20, 20000, 50)
    _, lp = scipy.signal.sosfreqz(linkwitz_riley_sos(700.0, 48000, kind="lowpass"), worN=f, fs=48000)
    _, hp = scipy.signal.sosfreqz(linkwitz_riley_sos(700.0, 48000, kind="highpass"), worN=f, fs=48000)
    _, ap = scipy.signal.sosfreqz(butterworth_allpass_sos(700.0, 48000), worN=f, fs=48000)
    np.testing.assert_allclose(ap, lp + hp, atol=1e-9)


def test_band_split_chunked_equals_one_shot(rng):
    x = rng.standard_normal((2, 10000))
    one = BandSplitter([200.0, 3000.0], 48000, 2).process(x)
    splitter = BandSplitter([200.0, 3000.0], 48000, 2)
    parts = [splitter.process(x[:, a:b]) for a, b in [(0, 1), (1, 3333), (3333, 10000)]]
    for band in range(3):
        chunked = np.concatenate([p[band] for p in parts], axis=1)
        np.testing.assert_allclose(chunked, one[band], rtol=1e-10, atol=1e-12)


def test_streaming_sos_equals_sosfilt(rng):
    sos = scipy.signal.butter(4, 500, fs=44100, output="sos")
    x = rng.standard_normal((2, 5000))
    f = StreamingSOS(sos, 2)
    chunked = np.concatenate([f.process(x[:, :1234]), f.process(x[:, 1234:])], axis=1)
    np.testing.assert_allclose(chunked, scipy.signal.sosfilt(sos, x, axis=-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_fir_follows_its_curve(sample_rate):
    freqs = [50.0, 100.0, 1000.0, 4000.0, 10000.0]
    gains = [3.0, 3.0, 0.0, -4.0, -4.0]
    taps = design_curve_fir(freqs, gains, sample_rate)
    response = fir_response_db(taps, np.array([60.0, 1000.0, 6000.0]), sample_rate)
    # Between anchors of equal gain the response is flat at that gain (window ripple < 0.1 dB).
    np.testing.assert_allclose(response, [3.0, 0.0, -4.0], atol=0.15)
    # Linear phase: symmetric taps, so the delay is exactly (N - 1) / 2.
    np.testing.assert_allclose(taps, taps[::-1], atol=1e-12)


def test_streaming_fir_equals_convolution(rng):
    taps = rng.standard_normal(257)
    x = rng.standard_normal((2, 3000))
    fir = StreamingFIR(taps, 2)
    out = np.concatenate([fir.process(x[:, :100]), fir.process(x[:, 100:2900]), fir.process(x[:, 2900:]), fir.flush()], axis=1)
    expected = np.stack([np.convolve(x[c], taps) for c in range(2)])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)  # float32 output


def test_run_compensated_removes_a_pure_delay(rng):
    delay = 37

    class Delay:
        def __init__(self):
            self.fifo = np.zeros((2, delay))

        def __call__(self, block):
            data = np.concatenate([self.fifo, block], axis=1)
            self.fifo = data[:, block.shape[1]:]
            return data[:, : block.shape[1]]

    x = rng.standard_normal((2, 1000)).astype(np.float32)
    blocks = [x[:, :300], x[:, 300:301], x[:, 301:]]
    out = np.concatenate(list(run_compensated(blocks, Delay(), latency_samples=delay, block_multiple=32)), axis=1)
    np.testing.assert_array_equal(out, x)


def test_run_ahead_keeps_order_and_raises_the_producers_error():
    from mixlab.dsp.stream import run_ahead

    blocks = [np.full((1, 3), i) for i in range(10)]
    assert [int(b[0, 0]) for b in run_ahead(iter(blocks))] == list(range(10))

    def failing():
        yield np.zeros((1, 1))
        raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"):
        list(run_ahead(failing()))
