"""Shared reverb and delay buses: synthetic impulse responses and a streaming stereo convolver.

A bus is wet only: its impulse responses hold no direct sound (a reverb starts after its
pre-delay, a delay's first echo comes after one delay time). The mixer sends each track to the
bus and adds the bus output to the mix.

- :func:`reverb_ir`: deterministic (seeded) stereo reverb tail: exponentially decaying noise
  whose decay time falls above ``damping_hz``, sparse early reflections thickening into a dense
  tail, independent left and right channels, unit energy per channel.
- :func:`delay_ir`: echoes at multiples of the delay time with gain ``feedback ** (k - 1)``,
  optionally ping-pong and darker with every repeat.
- :class:`StereoConvolver`: uniformly partitioned FFT convolution, streaming, no latency.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import scipy.signal

from mixlab.errors import InvalidAudioError, InvalidParameterError

#: ln(1000): an amplitude envelope exp(-LN_1000 t / T) falls by 60 dB in T seconds.
LN_1000 = math.log(1000.0)
#: The reverberation time ``rt60_s`` holds at and below this frequency (the mid band).
MID_FREQ_HZ = 1000.0
MIN_RT60_S, MAX_RT60_S = 0.1, 10.0
MAX_PREDELAY_MS = 500.0
MIN_DAMPING_HZ = 500.0
MAX_DELAY_MS = 4000.0
MAX_FEEDBACK = 0.9
MIN_DELAY_LOWPASS_HZ = 200.0
#: Repeats of a delay are kept while their gain is at least -60 dB.
ECHO_FLOOR_LIN = 1e-3


def _bad(message: str, code: str, **details) -> InvalidParameterError:
    return InvalidParameterError(message, code=code, **details)


def reverb_decay_times_s(freqs_hz: np.ndarray, *, rt60_s: float, damping_hz: float) -> np.ndarray:
    """Reverberation time of :func:`reverb_ir` at each frequency, in seconds.

    ``T(f) = rt60_s`` up to :data:`MID_FREQ_HZ` (1 kHz); above it
    ``T(f) = rt60_s (1 + (f_mid / d)^2) / (1 + (f / d)^2)`` with ``d = damping_hz``: half the
    mid-band time near ``d`` and falling with ``f^2`` above, like air absorption.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    ratio = (1.0 + (MID_FREQ_HZ / damping_hz) ** 2) / (1.0 + (f / damping_hz) ** 2)
    return rt60_s * np.minimum(1.0, ratio)


def reverb_ir(
    sample_rate: int,
    *,
    rt60_s: float,
    predelay_ms: float = 10.0,
    damping_hz: float = 6000.0,
    seed: int = 0,
) -> np.ndarray:
    """A synthetic stereo reverb impulse response (wet only), the same for the same arguments.

    How it is built:

    1. Independent white noise for each channel, cut into overlapping frames of about 11 ms
       (sine window, half overlap: the squared windows sum to one, so the frames add up to
       stationary noise). Each frame's spectrum is scaled by ``exp(-ln(1000) t (1/T(f) - 1/rt60_s))``
       at the frame's time ``t`` (:func:`reverb_decay_times_s`): highs die away faster.
    2. The whole tail is multiplied sample by sample by ``exp(-ln(1000) t / rt60_s)``, so at and
       below 1 kHz the level falls exactly 60 dB in ``rt60_s`` seconds.
    3. Early reflections: in the first ``min(80 ms, rt60_s / 4)`` only a random, growing share of
       samples is kept (reflection density rising with the square of time, as in a room), each
       scaled by ``1 / sqrt(share)`` so the expected energy follows the same decay.
    4. ``predelay_ms`` of silence in front; the response ends where the mid band is 60 dB down.
    5. Each channel is scaled to unit energy (sum of squares 1): white noise through either
       channel keeps its level, a 0 dB energy gain. Left and right come from independent noise,
       so they are decorrelated (a wide, diffuse image from a mono send).

    Parameters
    ----------
    sample_rate : int
        In Hz.
    rt60_s : float
        Reverberation time at and below 1 kHz, 0.1..10 s.
    predelay_ms : float
        0..500 ms before the first reflection.
    damping_hz : float
        >= 500 Hz: above about this frequency (and always above 1 kHz) the decay is markedly
        shorter; from 1 kHz up, the reverberation time at ``damping_hz`` is
        ``rt60_s * (1 + (1000 / damping_hz)^2) / 2``. A value far above half the sample rate
        gives an undamped (bright) tail.
    seed : int
        Seed of the noise; the same seed gives the same response.

    Returns
    -------
    np.ndarray
        float64, shape ``(2, round(predelay_ms * sample_rate / 1000) + ceil(rt60_s * sample_rate))``.

    Raises
    ------
    InvalidParameterError
        ``reverb.bad_parameter`` for a value out of range.

    References
    ----------
    M. R. Schroeder, "New method of measuring reverberation time", JASA 37(3), 1965 (the
    exponential decay and how it is measured); the noise-tail construction follows the
    usual practice of shaped-noise reverbs.
    """
    if not MIN_RT60_S <= rt60_s <= MAX_RT60_S:
        raise _bad(f"reverb time {rt60_s:g} s is out of range: use {MIN_RT60_S:g} to {MAX_RT60_S:g} s.",
                   "reverb.bad_parameter", rt60_s=rt60_s)
    if not 0.0 <= predelay_ms <= MAX_PREDELAY_MS:
        raise _bad(f"reverb pre-delay {predelay_ms:g} ms is out of range: use 0 to {MAX_PREDELAY_MS:g} ms.",
                   "reverb.bad_parameter", predelay_ms=predelay_ms)
    if not damping_hz >= MIN_DAMPING_HZ:
        raise _bad(f"reverb damping {damping_hz:g} Hz is too low: use {MIN_DAMPING_HZ:g} Hz or more.",
                   "reverb.bad_parameter", damping_hz=damping_hz)
    rng = np.random.default_rng(seed)
    tail_len = int(math.ceil(rt60_s * sample_rate))
    predelay = int(round(predelay_ms * 1e-3 * sample_rate))

    # 1. Frequency-dependent extra decay, frame by frame.
    frame = 1 << max(6, int(round(math.log2(0.0107 * sample_rate))))  # 512 at 44.1/48 kHz
    hop = frame // 2
    num_frames = -(-tail_len // hop) + 1
    window = np.sin(np.pi * (np.arange(frame) + 0.5) / frame)
    noise = rng.standard_normal((2, num_frames, frame))
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    decay_times = reverb_decay_times_s(freqs, rt60_s=rt60_s, damping_hz=damping_hz)
    centres_s = (np.arange(num_frames) * hop) / sample_rate  # frame k is centred on sample k * hop
    extra = np.exp(-LN_1000 * centres_s[:, np.newaxis] * (1.0 / decay_times - 1.0 / rt60_s)[np.newaxis, :])
    shaped = scipy.fft.irfft(scipy.fft.rfft(noise, axis=-1) * extra, frame, axis=-1) * window
    # Overlap-add; frame k starts at k * hop - hop, so the first frame is centred on sample 0.
    body = np.zeros((2, (num_frames + 1) * hop))
    for k in range(num_frames):
        body[:, k * hop : k * hop + frame] += shaped[:, k]
    tail = body[:, hop : hop + tail_len]

    # 2. Broadband decay, exact per sample.
    t_s = np.arange(tail_len) / sample_rate
    tail = tail * np.exp(-LN_1000 * t_s / rt60_s)

    # 3. Early reflections: density rising as t^2 from 1 % to 100 %.
    early_len = min(int(0.08 * sample_rate), tail_len // 4)
    if early_len > 0:
        share = np.minimum(1.0, 0.01 + 0.99 * (np.arange(early_len) / early_len) ** 2)
        keep = rng.random((2, early_len)) < share
        tail[:, :early_len] *= keep / np.sqrt(share)

    ir = np.zeros((2, predelay + tail_len))
    ir[:, predelay:] = tail
    # 5. Unit energy per channel (0 dB energy gain).
    ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True))
    return ir


def delay_ir(
    sample_rate: int,
    *,
    delay_ms: float,
    feedback: float = 0.35,
    ping_pong: bool = False,
    lowpass_hz: float | None = None,
) -> np.ndarray:
    """Stereo impulse response of a feedback delay (wet only).

    Echo ``k`` (``k = 1, 2, ...``) arrives at sample ``k * D``, ``D = round(delay_ms *
    sample_rate / 1000)``, with gain ``feedback ** (k - 1)``; echoes are kept while that gain is
    at least -60 dB (one echo when ``feedback`` is 0). With ``lowpass_hz`` every echo passes once
    more through a first-order Butterworth low-pass than the one before (echo ``k`` through ``k``
    of them), like the filter in a tape or analogue delay's feedback loop. With ``ping_pong``
    odd echoes are on the left only and even echoes on the right only; otherwise both channels
    are the same.

    Parameters
    ----------
    sample_rate : int
        In Hz.
    delay_ms : float
        0 < delay_ms <= 4000, and at least one sample.
    feedback : float
        0..0.9, the gain from one echo to the next.
    ping_pong : bool
        Alternate echoes between left and right.
    lowpass_hz : float, optional
        Cutoff of the per-repeat low-pass in Hz, 200 Hz up to 95 % of half the sample rate;
        ``None`` for none (exact echoes).

    Returns
    -------
    np.ndarray
        float64, shape ``(2, n)``: ``n = K * D + 1`` for ``K`` echoes without the low-pass, a
        little longer with it (until the filtered tail is below 1e-9 of the peak).

    Raises
    ------
    InvalidParameterError
        ``delay.bad_parameter`` for a value out of range.
    """
    delay = int(round(delay_ms * 1e-3 * sample_rate))
    if not (0 < delay_ms <= MAX_DELAY_MS and delay >= 1):
        raise _bad(f"delay time {delay_ms:g} ms is out of range: use more than 0 and at most {MAX_DELAY_MS:g} ms.",
                   "delay.bad_parameter", delay_ms=delay_ms)
    if not 0.0 <= feedback <= MAX_FEEDBACK:
        raise _bad(f"delay feedback {feedback:g} is out of range: use 0 to {MAX_FEEDBACK:g}.",
                   "delay.bad_parameter", feedback=feedback)
    top_hz = 0.95 * sample_rate / 2.0
    if lowpass_hz is not None and not MIN_DELAY_LOWPASS_HZ <= lowpass_hz <= top_hz:
        raise _bad(f"delay low-pass {lowpass_hz:g} Hz is out of range: use {MIN_DELAY_LOWPASS_HZ:g} to "
                   f"{top_hz:.0f} Hz.", "delay.bad_parameter", lowpass_hz=lowpass_hz)
    if feedback > 0:
        # feedback ** (k - 1) >= 1e-3  <=>  k <= 1 + ln(1e-3) / ln(feedback)
        num_echoes = 1 + int(math.floor(math.log(ECHO_FLOOR_LIN) / math.log(feedback) + 1e-9))
    else:
        num_echoes = 1
    gains = feedback ** np.arange(num_echoes, dtype=np.float64)

    if lowpass_hz is None:
        ir = np.zeros((2, num_echoes * delay + 1))
        for k in range(1, num_echoes + 1):
            ir[(k - 1) % 2 if ping_pong else slice(None), k * delay] = gains[k - 1]
        return ir

    # Echo k is the impulse through k cascaded low-passes. Each echo is given ``tail_len``
    # samples, doubled until the last (longest) one has died away to 1e-9 of its peak.
    b, a = scipy.signal.butter(1, lowpass_hz, fs=sample_rate)
    time_constant = -1.0 / math.log(min(max(abs(a[1]), 1e-12), 0.999999))  # samples; the pole is -a[1]
    tail_len = int(64 + (4 * num_echoes + 40 * math.sqrt(num_echoes)) * time_constant)
    while True:
        ir = np.zeros((2, num_echoes * delay + tail_len))
        echo = np.zeros(tail_len)
        echo[0] = 1.0
        for k in range(1, num_echoes + 1):
            echo = scipy.signal.lfilter(b, a, echo)
            rows = (k - 1) % 2 if ping_pong else slice(None)
            ir[rows, k * delay : k * delay + tail_len] += gains[k - 1] * echo
        if abs(echo[-1]) <= 1e-9 * np.max(np.abs(echo)):
            break
        tail_len *= 2
    # Trim the silent end (below 1e-9 of the IR's peak).
    loud = np.nonzero(np.max(np.abs(ir), axis=0) > 1e-9 * np.max(np.abs(ir)))[0]
    return ir[:, : int(loud[-1]) + 1]


class StereoConvolver:
    """Streaming convolution of mono or stereo audio with a 2-channel impulse response.

    Input channel ``c`` is convolved with IR channel ``c``; a mono input feeds both IR channels.
    The output of each :meth:`process` call has as many samples as its input (always 2
    channels); the reverberant tail of the last input comes out of later calls, or of
    :meth:`flush`. There is no latency: output sample ``t`` includes ``ir[:, 0] * x[t]``, so an
    IR's direct path is its index 0 and nothing needs compensating (:attr:`latency_samples` is 0).
    The output is the same however the stream is cut into blocks (to float round-off).

    How: uniformly partitioned overlap-save convolution (the IR cut into ``P`` partitions of
    ``partition_size`` samples, a frequency-domain delay line of the last ``P`` input-block
    spectra). Whenever a whole partition of input arrives at once it costs one FFT, ``P``
    spectral multiply-adds and one inverse FFT. So that no latency is needed, a partition that
    arrives in pieces is split: the part of the output due to earlier partitions is computed
    when the partition starts, and the part due to its own samples (through the first IR
    partition only) by a direct FFT convolution of each piece.

    Parameters
    ----------
    ir : np.ndarray
        Shape ``(2, L)``, ``L >= 1``.
    num_channels : int
        Input channels, 1 or 2 (default 2).
    partition_size : int
        Samples per partition (a power of two works best). Larger is faster for long IRs and
        uses more memory; any value gives the same output.
    precision : str
        ``"single"`` (default; complex64 spectra, relative error around 1e-6 of the output
        level, ample for audio) or ``"double"``.

    References
    ----------
    F. Wefers, "Partitioned convolution algorithms for real-time auralization", PhD thesis,
    RWTH Aachen, 2015, ch. 5 (uniformly partitioned overlap-save, UPOLS).
    """

    latency_samples = 0

    def __init__(self, ir: np.ndarray, num_channels: int = 2, *, partition_size: int = 8192,
                 precision: str = "single") -> None:
        ir = np.asarray(ir, dtype=np.float64)
        if ir.ndim != 2 or ir.shape[0] != 2 or ir.shape[1] < 1:
            raise InvalidParameterError(
                f"a convolution needs a stereo impulse response of shape (2, samples); got {ir.shape}",
                code="convolver.bad_ir", shape=list(ir.shape),
            )
        if num_channels not in (1, 2):
            raise InvalidParameterError(
                f"the convolver takes mono or stereo input, not {num_channels} channels",
                code="convolver.bad_channels", num_channels=num_channels,
            )
        if not partition_size >= 16:
            raise InvalidParameterError("partition_size must be at least 16 samples",
                                        code="convolver.bad_partition", partition_size=partition_size)
        if precision not in ("single", "double"):
            raise InvalidParameterError('precision must be "single" or "double"',
                                        code="convolver.bad_precision", precision=precision)
        self.num_channels = int(num_channels)
        self.tail_samples = ir.shape[1] - 1
        self._real = np.float32 if precision == "single" else np.float64
        self._complex = np.complex64 if precision == "single" else np.complex128
        size = int(partition_size)
        self._size = size
        num_parts = -(-ir.shape[1] // size)
        self._num_parts = num_parts
        padded = np.zeros((2, num_parts * size))
        padded[:, : ir.shape[1]] = ir
        parts = padded.reshape(2, num_parts, size).transpose(1, 0, 2)  # (P, 2, B)
        spectra = scipy.fft.rfft(parts, 2 * size, axis=-1)  # each part zero-padded to 2B
        # Reversed, so that a chronological window of the delay line lines up with it.
        self._spectra_rev = np.ascontiguousarray(spectra[::-1]).astype(self._complex)
        self._first_part = padded[:, :size].astype(self._real)  # h_0, for pieces of a partition
        bins = size + 1
        # Delay line, written twice (slots j mod P and j mod P + P) so the last P spectra are
        # always one contiguous slice, oldest first.
        self._fdl = np.zeros((2 * num_parts, self.num_channels, bins), dtype=self._complex)
        self._block_index = 0  # complete input partitions so far
        self._prev = np.zeros((self.num_channels, size), dtype=self._real)
        self._cur = np.zeros((self.num_channels, size), dtype=self._real)
        self._fill = 0
        self._past = np.zeros((2, size), dtype=self._real)
        self._own = np.zeros((2, size), dtype=self._real)
        self._sum = np.empty((2, bins), dtype=self._complex)
        self._term = np.empty((2, bins), dtype=self._complex)

    def _push(self, spectrum: np.ndarray) -> None:
        slot = self._block_index % self._num_parts
        self._fdl[slot] = spectrum
        self._fdl[slot + self._num_parts] = spectrum
        self._block_index += 1

    def _accumulate(self, window: np.ndarray, spectra: np.ndarray) -> np.ndarray:
        """``sum_i window[i] * spectra[i]`` into ``self._sum`` (broadcasting mono input)."""
        total, term = self._sum, self._term
        total.fill(0)
        for i in range(window.shape[0]):
            np.multiply(window[i], spectra[i], out=term)
            total += term
        return total

    def _window(self, count: int) -> np.ndarray:
        """The last ``count`` pushed spectra, oldest first."""
        end = (self._block_index - 1) % self._num_parts + self._num_parts + 1
        return self._fdl[end - count : end]

    def _full_block(self, block: np.ndarray) -> np.ndarray:
        size = self._size
        spectrum = scipy.fft.rfft(np.concatenate([self._prev, block], axis=1), axis=1)
        self._push(spectrum)
        total = self._accumulate(self._window(self._num_parts), self._spectra_rev)
        self._prev = block.copy()
        return scipy.fft.irfft(total, 2 * size, axis=1)[:, size:]

    def _start_partial(self) -> None:
        """Output due to all earlier input over the partition now starting (overlap-save terms)."""
        size, parts = self._size, self._num_parts
        # p >= 1: S_{j-p} H_p, with the window oldest first against H reversed (H_{P-1} .. H_1).
        total = self._accumulate(self._window(parts - 1), self._spectra_rev[:-1]) if parts > 1 else None
        prev_only = scipy.fft.rfft(np.concatenate([self._prev, np.zeros_like(self._prev)], axis=1), axis=1)
        head = prev_only * self._spectra_rev[-1]
        if total is not None:
            head += total
        self._past = scipy.fft.irfft(head, 2 * size, axis=1)[:, size:].astype(self._real)
        self._own.fill(0)

    def _piece(self, piece: np.ndarray) -> np.ndarray:
        size, start = self._size, self._fill
        if start == 0:
            self._start_partial()
        n = piece.shape[1]
        reach = size - start  # outputs left in this partition
        nfft = scipy.fft.next_fast_len(n + reach - 1, real=True)
        conv = scipy.fft.irfft(
            scipy.fft.rfft(piece, nfft, axis=1) * scipy.fft.rfft(self._first_part[:, :reach], nfft, axis=1),
            nfft, axis=1,
        )
        self._own[:, start:] += conv[:, :reach]
        out = self._past[:, start : start + n] + self._own[:, start : start + n]
        self._cur[:, start : start + n] = piece
        self._fill += n
        if self._fill == size:
            self._push(scipy.fft.rfft(np.concatenate([self._prev, self._cur], axis=1), axis=1))
            self._prev = self._cur.copy()
            self._fill = 0
        return out

    def process(self, block: np.ndarray) -> np.ndarray:
        """Convolve the next ``(num_channels, n)`` block; returns ``(2, n)`` in the input's float dtype."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.num_channels:
            raise InvalidAudioError(
                f"the convolver was set up for {self.num_channels} channel(s); got a block of shape {block.shape}",
                code="audio.bad_channels", shape=list(block.shape),
            )
        out_dtype = block.dtype if block.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        n = block.shape[1]
        out = np.empty((2, n), dtype=out_dtype)
        x = block.astype(self._real, copy=False)
        size, pos = self._size, 0
        while pos < n:
            take = min(size - self._fill, n - pos)
            piece = x[:, pos : pos + take]
            if take == size:
                out[:, pos : pos + take] = self._full_block(piece)
            else:
                out[:, pos : pos + take] = self._piece(piece)
            pos += take
        return out

    def flush(self, dtype: type = np.float32) -> np.ndarray:
        """The rest of the tail: the output for ``tail_samples`` (``L - 1``) samples of silence.

        Afterwards the convolver carries on as if the input had continued with that silence.
        Returns ``(2, L - 1)`` of ``dtype``.
        """
        return self.process(np.zeros((self.num_channels, self.tail_samples), dtype=dtype))
