"""Streaming polyphase FIR upsampling, for true-peak metering and true-peak limiting.

The interpolation filter is a Kaiser-windowed sinc with its cut-off at the input Nyquist
frequency (``sample_rate / 2``), ``2 * half_length_samples`` input samples long. Because the
cut-off is exactly at the input Nyquist frequency the filter is a Nyquist (L-th band) filter:
its phase 0 is a pure delay, so every original sample passes through unchanged and only the
``factor - 1`` in-between phases are computed. Each phase is normalised to unit gain at DC.

With the default design (``half_length_samples=16``, ``kaiser_beta=5.0``, i.e. 32 taps per
phase) the response of the whole upsampler is flat within +-0.02 dB from DC to
``0.45 * sample_rate`` and images above ``0.55 * sample_rate`` are attenuated by more than
52 dB, for every factor. The latency is ``half_length_samples`` input samples.

Output layout and alignment
---------------------------
For a stream ``x[0], x[1], ...`` (zeros before ``x[0]``) and ``D = latency_samples``:

* :meth:`Upsampler.process` returns ``factor`` output values per input value; output
  ``y[factor * i + p]`` (``0 <= p < factor``) is the band-limited interpolation of ``x`` at
  input time ``i - D + p / factor``. In particular ``y[factor * i] == x[i - D]`` exactly.
* :meth:`Upsampler.peak_per_sample` returns one value per input value:
  ``env[i] = max(|x(t)|)`` over ``t = i - D + p / factor``, ``p = 0 .. factor - 1``, i.e.
  the sample ``x[i - D]`` and the interpolated points after it, up to (not including)
  ``x[i - D + 1]``.
* :func:`true_peak_envelope` is the zero-latency offline version: ``env[j]`` covers sample
  ``j`` and the interpolated points up to sample ``j + 1``, for a whole array.

References
----------
ITU-R BS.1770-4 (10/2015), Annex 2: "Guidelines for accurate measurement of 'true-peak'
level" (4x oversampling at 48 kHz, 2x at 96 kHz, none needed at 192 kHz).
J. F. Kaiser, "Nonrecursive digital filter design using the I0-sinh window function",
Proc. IEEE ISCAS 1974 (the window).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mixlab.errors import InvalidParameterError

#: Default half length of the interpolation filter, in input samples (= latency).
DEFAULT_HALF_LENGTH_SAMPLES = 16
#: Default Kaiser window shape parameter (stop-band attenuation ~53 dB, see module docstring).
DEFAULT_KAISER_BETA = 5.0
#: Largest supported oversampling factor.
MAX_FACTOR = 16

__all__ = [
    "DEFAULT_HALF_LENGTH_SAMPLES",
    "DEFAULT_KAISER_BETA",
    "Upsampler",
    "interpolation_filter",
    "oversampling_factor",
    "true_peak_envelope",
]


def oversampling_factor(sample_rate: int) -> int:
    """Oversampling factor a true-peak measurement needs at ``sample_rate``.

    4x below 88.2 kHz, 2x from 88.2 kHz up to (not including) 176.4 kHz, 1x from 176.4 kHz.
    BS.1770-4 Annex 2 asks for an oversampled rate of at least 192 kHz for 48 kHz audio;
    the same density at 44.1 kHz is 176.4 kHz, which is why 176.4 kHz needs no oversampling.

    Parameters
    ----------
    sample_rate : int
        In Hz, > 0.

    Returns
    -------
    int
        1, 2 or 4.

    Raises
    ------
    InvalidParameterError
        If ``sample_rate`` is not positive.

    References
    ----------
    ITU-R BS.1770-4, Annex 2, section 2.

    Examples
    --------
    >>> oversampling_factor(44100), oversampling_factor(96000), oversampling_factor(192000)
    (4, 2, 1)
    """
    if int(sample_rate) <= 0:
        raise InvalidParameterError(
            f"sample rate must be positive, got {sample_rate}", code="parameter.sample_rate"
        )
    if sample_rate < 88200:
        return 4
    if sample_rate < 176400:
        return 2
    return 1


def interpolation_filter(
    factor: int,
    *,
    half_length_samples: int = DEFAULT_HALF_LENGTH_SAMPLES,
    kaiser_beta: float = DEFAULT_KAISER_BETA,
) -> np.ndarray:
    """Prototype low-pass filter of the :class:`Upsampler`, at the output rate.

    Parameters
    ----------
    factor : int
        Oversampling factor, 1 .. 16.
    half_length_samples : int
        Half the filter length in input samples (>= 1); also the latency.
    kaiser_beta : float
        Kaiser window shape, >= 0.

    Returns
    -------
    np.ndarray
        ``float64``, ``2 * factor * half_length_samples + 1`` taps, symmetric. Its gain at DC
        is ``factor`` (each of the ``factor`` polyphase branches ``h[p::factor]`` sums to 1),
        so ``scipy.signal.freqz(h / factor, fs=factor * sample_rate)`` is the upsampler's
        response relative to the input.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range.
    """
    factor, half = _check_design(factor, half_length_samples, kaiser_beta)
    num_taps = 2 * factor * half + 1
    n = np.arange(num_taps) - factor * half
    # Windowed sinc with cut-off at the input Nyquist frequency (0.5 / factor of the output rate).
    h = np.sinc(n / factor) * np.kaiser(num_taps, kaiser_beta)
    # Nyquist filter: the taps at multiples of ``factor`` are exactly a delta (sinc zeros).
    h[::factor] = 0.0
    h[factor * half] = 1.0
    for p in range(1, factor):
        h[p::factor] /= h[p::factor].sum()
    return h


def check_positive_int(value: int, *, name: str, code: str) -> int:
    """``value`` as an ``int``, if it is a whole number >= 1.

    Raises
    ------
    InvalidParameterError
        ``"<name> must be a positive integer, got <value>"``, with ``code``, otherwise.
    """
    if int(value) != value or int(value) < 1:
        raise InvalidParameterError(f"{name} must be a positive integer, got {value}", code=code)
    return int(value)


def _check_design(factor: int, half_length_samples: int, kaiser_beta: float) -> tuple[int, int]:
    if int(factor) != factor or not 1 <= int(factor) <= MAX_FACTOR:
        raise InvalidParameterError(
            f"oversampling factor must be an integer from 1 to {MAX_FACTOR}, got {factor}",
            code="parameter.oversampling_factor",
        )
    half = check_positive_int(
        half_length_samples, name="filter half length", code="parameter.filter_length"
    )
    if not kaiser_beta >= 0.0:
        raise InvalidParameterError(
            f"Kaiser beta must be >= 0, got {kaiser_beta}", code="parameter.kaiser_beta"
        )
    return int(factor), half


class Upsampler:
    """Streaming polyphase FIR upsampler (see the module docstring for the alignment).

    The output is the same however the stream is cut into blocks (the filter history is
    kept between calls). Use one instance for one stream, and either :meth:`process` or
    :meth:`peak_per_sample` on it, not both: each call consumes its block.

    Parameters
    ----------
    factor : int
        Oversampling factor, 1 .. 16 (see :func:`oversampling_factor`). With 1 the upsampler
        passes audio through with no latency.
    num_channels : int
        Rows of every block, >= 1.
    half_length_samples : int
        Half the interpolation filter length in input samples; the latency.
    kaiser_beta : float
        Kaiser window shape (see :func:`interpolation_filter`).

    Attributes
    ----------
    factor : int
    num_channels : int
    latency_samples : int
        Delay of the output in input samples (0 when ``factor == 1``).

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range.

    References
    ----------
    ITU-R BS.1770-4, Annex 2.

    Examples
    --------
    >>> up = Upsampler(4, 1)
    >>> up.process(np.ones((1, 100), dtype=np.float32)).shape
    (1, 400)
    >>> up.latency_samples
    16
    """

    def __init__(
        self,
        factor: int,
        num_channels: int,
        *,
        half_length_samples: int = DEFAULT_HALF_LENGTH_SAMPLES,
        kaiser_beta: float = DEFAULT_KAISER_BETA,
    ) -> None:
        factor, half = _check_design(factor, half_length_samples, kaiser_beta)
        self.num_channels = check_positive_int(
            num_channels, name="number of channels", code="parameter.num_channels"
        )
        self.factor = factor
        self.latency_samples = half if factor > 1 else 0
        self._half = half
        h = interpolation_filter(factor, half_length_samples=half, kaiser_beta=kaiser_beta)
        # Branch p (p >= 1) has 2*half taps h[p + factor*k], k = 0 .. 2*half - 1:
        # y[factor*i + p] = sum_k h[p + factor*k] * x[i - k].
        self._phases64 = [h[p::factor][: 2 * half].copy() for p in range(1, factor)]
        self._phases32 = [g.astype(np.float32) for g in self._phases64]
        self._history: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next block is treated as following silence."""
        self._history = np.zeros((self.num_channels, 2 * self._half if self.factor > 1 else 0))

    # -- internals -------------------------------------------------------------------------

    def _prepare(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block)
        if x.ndim != 2 or x.shape[0] != self.num_channels:
            raise InvalidParameterError(
                f"expected a block of shape ({self.num_channels}, n), got {x.shape}",
                code="audio.bad_shape",
            )
        if x.dtype != np.float64:
            x = x.astype(np.float32, copy=False)
        return x

    def _extend(self, x: np.ndarray) -> np.ndarray:
        """History (2*half samples) followed by ``x``, in ``x``'s dtype."""
        history = self._history.astype(x.dtype, copy=False)
        return np.concatenate([history, x], axis=1)

    def _phase_outputs(self, ext: np.ndarray, n: int):
        """Yield ``(p, y_p)`` with ``y_p`` of shape (channels, n) for p = 1 .. factor-1."""
        phases = self._phases64 if ext.dtype == np.float64 else self._phases32
        for p, g in enumerate(phases, start=1):
            y = np.empty((ext.shape[0], n), dtype=ext.dtype)
            for c in range(ext.shape[0]):
                # out[i] = sum_k g[k] * ext[1 + i + 2*half - 1 - k] = sum_k g[k] * x[i - k]
                y[c] = np.convolve(ext[c, 1:], g, mode="valid")
            yield p, y

    def _run_process(self, ext: np.ndarray, n: int) -> np.ndarray:
        ch, f, d = ext.shape[0], self.factor, self._half
        out = np.empty((ch, n, f), dtype=ext.dtype)
        out[:, :, 0] = ext[:, d : d + n]
        for p, y in self._phase_outputs(ext, n):
            out[:, :, p] = y
        return out.reshape(ch, n * f)

    def _run_peak(self, ext: np.ndarray, n: int) -> np.ndarray:
        d = self._half
        env = np.abs(ext[:, d : d + n])
        for _, y in self._phase_outputs(ext, n):
            np.maximum(env, np.abs(y, out=y), out=env)
        return env

    def _advance(self, ext: np.ndarray) -> None:
        self._history = ext[:, ext.shape[1] - 2 * self._half :].copy()

    def _stream(
        self,
        block: np.ndarray,
        run: Callable[[np.ndarray, int], np.ndarray],
        passthrough: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Feed ``block`` through ``run`` (``_run_process`` or ``_run_peak``) and keep its history.

        With ``factor == 1`` there is no filter: the result is ``passthrough(block)``.
        """
        x = self._prepare(block)
        n = x.shape[1]
        if self.factor == 1:
            return passthrough(x)
        if n == 0:
            return np.zeros((self.num_channels, 0), dtype=x.dtype)
        ext = self._extend(x)
        out = run(ext, n)
        self._advance(ext)
        return out

    def _tail(self, run: Callable[[np.ndarray, int], np.ndarray], dtype: type) -> np.ndarray:
        """``run`` over ``latency_samples`` of silence after the stream, leaving the state alone."""
        d = self.latency_samples
        if d == 0:
            return np.zeros((self.num_channels, 0), dtype=dtype)
        ext = self._extend(np.zeros((self.num_channels, d), dtype=dtype))
        return run(ext, d)

    # -- public API ------------------------------------------------------------------------

    def process(self, block: np.ndarray) -> np.ndarray:
        """Upsample one block.

        Parameters
        ----------
        block : np.ndarray
            Shape ``(num_channels, n)``; ``float32`` (other dtypes are converted to it) or
            ``float64`` (computed and returned in ``float64``).

        Returns
        -------
        np.ndarray
            Shape ``(num_channels, n * factor)``: ``y[:, factor*i + p]`` is the signal at
            input time ``i - latency_samples + p / factor`` (stream-wide index ``i``).

        Raises
        ------
        InvalidParameterError
            If the block does not have ``num_channels`` rows.
        """
        return self._stream(block, self._run_process, np.ndarray.copy)

    def peak_per_sample(self, block: np.ndarray) -> np.ndarray:
        """Per input sample, the largest ``|x|`` over it and its interpolated points.

        ``env[:, i] = max |x(t)|`` for ``t = i - latency_samples + p / factor``,
        ``p = 0 .. factor - 1`` (stream-wide index ``i``): the original sample
        ``x[i - latency_samples]`` and the ``factor - 1`` interpolated points after it.
        Equal to ``abs(process(block)).reshape(ch, n, factor).max(axis=2)``, but faster.

        Parameters
        ----------
        block : np.ndarray
            Shape ``(num_channels, n)``, ``float32`` or ``float64``.

        Returns
        -------
        np.ndarray
            Shape ``(num_channels, n)``, >= 0, dtype as for :meth:`process`.

        Raises
        ------
        InvalidParameterError
            If the block does not have ``num_channels`` rows.
        """
        return self._stream(block, self._run_peak, np.abs)

    def process_tail(self, *, dtype: type = np.float32) -> np.ndarray:
        """The last ``latency_samples * factor`` outputs, as if silence followed the stream.

        Does not change the state: more blocks may still be pushed afterwards.

        Returns
        -------
        np.ndarray
            Shape ``(num_channels, latency_samples * factor)``.
        """
        return self._tail(self._run_process, dtype)

    def peak_per_sample_tail(self, *, dtype: type = np.float32) -> np.ndarray:
        """The last ``latency_samples`` values of :meth:`peak_per_sample`, as if silence followed.

        Does not change the state.

        Returns
        -------
        np.ndarray
            Shape ``(num_channels, latency_samples)``.
        """
        return self._tail(self._run_peak, dtype)


def true_peak_envelope(
    samples: np.ndarray,
    sample_rate: int,
    *,
    factor: int | None = None,
    block_size: int = 65536,
) -> np.ndarray:
    """Zero-latency true-peak envelope of a whole array.

    ``env[:, j]`` is the largest ``|x(t)|`` over ``t = j + p / factor``, ``p = 0 .. factor-1``:
    sample ``j`` and the interpolated points after it, up to (not including) sample ``j + 1``.
    The signal is taken to be silent before and after the array, so the interpolated points
    after the last sample are included. Computed block-wise with :class:`Upsampler` (memory
    stays bounded) and shifted back by its latency.

    Parameters
    ----------
    samples : np.ndarray
        ``(num_channels, num_samples)``, ``float32`` (or ``float64``).
    sample_rate : int
        In Hz; chooses the factor with :func:`oversampling_factor`.
    factor : int, optional
        Overrides the factor.
    block_size : int
        Samples per internal block, > 0.

    Returns
    -------
    np.ndarray
        Same shape as ``samples``, >= 0; ``float32`` for ``float32`` input.

    Raises
    ------
    InvalidParameterError
        If ``samples`` is not 2-D or a parameter is out of range.

    References
    ----------
    ITU-R BS.1770-4, Annex 2.

    Examples
    --------
    A sine at a quarter of the sample rate, peak 0.5, sampled 45 degrees off its peaks: the
    samples reach only 0.354, the envelope reaches 0.5.

    >>> n = np.arange(4800)
    >>> x = (0.5 * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32)[np.newaxis]
    >>> round(float(np.abs(x).max()), 3), round(float(true_peak_envelope(x, 48000)[0, 100:-100].max()), 2)
    (0.354, 0.5)
    """
    x = np.asarray(samples)
    if x.ndim != 2:
        raise InvalidParameterError(
            f"audio must have shape (channels, samples), got {x.shape}", code="audio.bad_shape"
        )
    if block_size < 1:
        raise InvalidParameterError(
            f"block size must be positive, got {block_size}", code="parameter.block_size"
        )
    f = oversampling_factor(sample_rate) if factor is None else factor
    up = Upsampler(f, x.shape[0])
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    d = up.latency_samples
    n = x.shape[1]
    out = np.empty(x.shape, dtype=dtype)
    for start in range(0, n, block_size):
        env = up.peak_per_sample(x[:, start : start + block_size])
        # stream index i holds sample i - d
        lo = start - d
        if lo + env.shape[1] > 0:
            out[:, max(0, lo) : lo + env.shape[1]] = env[:, max(0, -lo) :]
    tail = up.peak_per_sample_tail(dtype=dtype)
    # tail covers samples n - d .. n - 1 (fewer if the array is shorter than d)
    m = min(d, n)
    if m:
        out[:, n - m :] = tail[:, d - m :]
    return out
