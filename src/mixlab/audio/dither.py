"""TPDF dither and word-length reduction for integer output formats.

Reducing float audio to 16 bits by plain rounding turns the rounding error into distortion
that follows the signal (quiet fades and reverb tails grow harmonics, very quiet passages
vanish). Adding triangular (TPDF) dither of +-1 LSB peak before rounding makes the error a
steady noise of power LSB^2/4 that does not depend on the signal, and keeps signals far below
1 LSB audible as signal. Neither soundfile nor pedalboard dithers, so we do it here.

Streaming
---------
Dither is drawn from a seeded :class:`numpy.random.Generator` in time-major order (sample by
sample, then channel, then the two uniform draws), and ``Generator.random`` draws its numbers
one after another from a single stream. So as long as one Generator is used for a whole file
and for nothing else, the dither does not depend on how the audio is cut into blocks: writing a
file in one block or in many blocks of any sizes gives bit-identical output. The writer in
:mod:`mixlab.audio.io` keeps one Generator per file for this reason.

References
----------
S. P. Lipshitz, R. A. Wannamaker, J. Vanderkooy, "Quantization and Dither: A Theoretical
Survey", J. Audio Eng. Soc. 40(5), 1992: TPDF dither of 2 LSB peak-to-peak makes the first and
second moments of the total error independent of the signal; total error power is
LSB^2/12 (rounding) + LSB^2/6 (dither) = LSB^2/4.
"""

from __future__ import annotations

import numpy as np

from mixlab.errors import InvalidParameterError

__all__ = ["lsb", "tpdf_dither", "quantize"]


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= int(bits) <= 32:
        raise InvalidParameterError(
            f"bits must be an integer from 2 to 32, got {bits!r}", code="parameter.bad_bits", bits=bits
        )
    return int(bits)


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            "rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)",
            code="parameter.bad_rng",
        )
    return rng


def _check_samples(samples: np.ndarray) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.ndim != 2:
        raise InvalidParameterError(
            f"audio must have shape (channels, samples), got {arr.shape}", code="audio.bad_shape"
        )
    return arr


def lsb(bits: int) -> float:
    """Size of one least significant bit at ``bits`` bits, full scale +-1.0: ``2**-(bits-1)``.

    Examples
    --------
    >>> lsb(16) == 1 / 32768
    True
    """
    return 2.0 ** -(_check_bits(bits) - 1)


def _tpdf_noise_lsb(num_channels: int, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """TPDF noise in LSB units, float64 ``(num_channels, num_samples)``, range (-1, 1).

    Sum of two independent uniform variables on [-0.5, 0.5): triangular PDF, peak +-1 LSB,
    variance 2 * 1/12 = 1/6 LSB^2. Drawn time-major so that block boundaries do not matter
    (see the module docstring).
    """
    u = rng.random((num_samples, num_channels, 2))
    noise = u[..., 0] + u[..., 1] - 1.0  # (n, ch)
    return noise.T


def tpdf_dither(samples: np.ndarray, *, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``samples`` plus TPDF dither of +-1 LSB peak at ``bits`` bits.

    The dither is the sum of two independent uniform variables of +-0.5 LSB each (triangular
    PDF, variance LSB^2/6). Round the result to the ``bits`` grid (see :func:`quantize`) to get
    a total error of zero mean and variance LSB^2/4 whatever the signal.

    Parameters
    ----------
    samples : np.ndarray
        Audio, shape ``(channels, samples)``, full scale +-1.0. Not modified.
    bits : int
        Target word length, 2..32 (16 for CD audio). One LSB is ``2**-(bits-1)``.
    rng : numpy.random.Generator
        Source of the dither. Seed it for reproducible output and keep one per file: the
        draws are time-major, so splitting the audio into blocks gives the same dither.

    Returns
    -------
    np.ndarray
        ``float32``, same shape as ``samples``.

    Raises
    ------
    InvalidParameterError
        ``bits`` out of range, ``rng`` not a Generator, or ``samples`` not 2-D.
    """
    step = lsb(bits)
    rng = _check_rng(rng)
    arr = _check_samples(samples)
    noise = _tpdf_noise_lsb(arr.shape[0], arr.shape[1], rng)
    return (arr.astype(np.float64) + noise * step).astype(np.float32)


def quantize(samples: np.ndarray, *, bits: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Scale full-scale float audio to ``bits``-bit integers: dither (optional), round, clip.

    Values are scaled by ``2**(bits-1)`` (so -1.0 maps to the most negative code, the
    convention libsndfile uses when it reads integers back as float), TPDF-dithered if ``rng``
    is given, rounded to the nearest integer and clipped to the signed range, so samples
    beyond +-1.0 are clipped. The arithmetic is in float64 so that the dither is not lost to
    float32 round-off.

    Parameters
    ----------
    samples : np.ndarray
        Audio, shape ``(channels, samples)``, full scale +-1.0. Must be finite. Not modified.
    bits : int
        Word length, 2..32.
    rng : numpy.random.Generator or None
        Dither source (see :func:`tpdf_dither`); ``None`` rounds without dither.

    Returns
    -------
    np.ndarray
        Integer codes, shape ``(channels, samples)``: ``int16`` if ``bits`` <= 16, else ``int32``.
    """
    bits = _check_bits(bits)
    arr = _check_samples(samples)
    scale = 2.0 ** (bits - 1)
    scaled = arr.astype(np.float64) * scale
    if rng is not None:
        scaled += _tpdf_noise_lsb(arr.shape[0], arr.shape[1], _check_rng(rng))
    np.rint(scaled, out=scaled)
    np.clip(scaled, -scale, scale - 1.0, out=scaled)
    return scaled.astype(np.int16 if bits <= 16 else np.int32)
