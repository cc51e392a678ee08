"""Panning, stereo balance and mid/side width.

Stateless: every function works on a whole block or any piece of it with the same result, and
has no latency. Outputs keep the input's float dtype (``float32`` in, ``float32`` out); inputs
are never modified.
"""

from __future__ import annotations

import math

import numpy as np

from mixlab.errors import InvalidAudioError, InvalidParameterError

#: Pan laws by their nominal names, from constant amplitude (-6) to a shallow -1.5 dB.
MIN_LAW_DB, MAX_LAW_DB = -6.03, -1.5
MAX_WIDTH = 2.0


def _check_pan(pan: float, law_db: float) -> None:
    if not -1.0 <= pan <= 1.0:
        raise InvalidParameterError(
            f"pan {pan:g} is out of range: use -1 (hard left) to 1 (hard right), 0 is centre.",
            code="pan.bad_pan", pan=pan,
        )
    if not MIN_LAW_DB <= law_db <= MAX_LAW_DB:
        raise InvalidParameterError(
            f"pan law {law_db:g} dB is out of range: use {MIN_LAW_DB:g} to {MAX_LAW_DB:g} dB "
            "(-3 dB is constant power, -6 dB constant amplitude).",
            code="pan.bad_law", law_db=law_db, min_law_db=MIN_LAW_DB, max_law_db=MAX_LAW_DB,
        )


def _float_dtype(block: np.ndarray) -> np.dtype:
    return block.dtype if block.dtype in (np.float32, np.float64) else np.dtype(np.float32)


def pan_gains(pan: float, *, law_db: float = -3.0) -> tuple[float, float]:
    """Left and right gains (linear) for a mono source at ``pan``.

    With the constant-power law (``law_db = -3``) the gains are ``cos(theta)`` and
    ``sin(theta)``, ``theta = (pan + 1) pi / 4``: their squares sum to 1 at every position, each
    is -3.01 dB at centre, and hard left is exactly ``(1, 0)``. Another law raises both to the
    power ``law_db / -3``, which keeps the hard-pan gains: -6 gives constant amplitude (the
    gains sum to 1, -6.02 dB each at centre), -4.5 the common compromise (-4.52 dB). As in
    mixing desks, ``law_db`` is the law's nominal name; the exact centre level is
    ``law_db * 1.0034`` dB.

    Parameters
    ----------
    pan : float
        -1 (hard left) .. 1 (hard right), 0 centre.
    law_db : float
        Nominal level of each side at centre, -6.03..-1.5 dB (see above).

    Returns
    -------
    tuple of float
        ``(left_lin, right_lin)``.

    Raises
    ------
    InvalidParameterError
        ``pan.bad_pan`` or ``pan.bad_law``.

    Examples
    --------
    >>> pan_gains(-1.0)
    (1.0, 0.0)
    >>> [round(g, 4) for g in pan_gains(0.0)]
    [0.7071, 0.7071]
    """
    _check_pan(pan, law_db)
    exponent = law_db / -3.0
    # sin(theta) written as cos(pi/2 - theta), so that mirrored pans give mirrored gains exactly.
    left, right = math.cos((1.0 + pan) * math.pi / 4.0), math.cos((1.0 - pan) * math.pi / 4.0)
    # Exact ends: cos(pi/2) is 6e-17 in floating point, not 0.
    if pan == 1.0:
        left = 0.0
    if pan == -1.0:
        right = 0.0
    return left**exponent, right**exponent


def apply_pan(block: np.ndarray, pan: float, *, law_db: float = -3.0) -> np.ndarray:
    """Pan a mono block into stereo, or set the balance of a stereo block.

    - Mono ``(1, n)``: the output is ``(2, n)``, the block times :func:`pan_gains`.
    - Stereo ``(2, n)``: a balance control. Only the side opposite the pan is turned down, with
      the same law normalised to unity at centre: panning left by ``p`` scales the right
      channel by ``g_right(-p) / g_right(0)`` and leaves the left alone. Centre is the identity;
      hard left keeps the left channel at unity and silences the right. The left channel is
      not folded into the right (a stereo image is narrowed with :func:`apply_width`).

    Parameters
    ----------
    block : np.ndarray
        ``(1, n)`` or ``(2, n)``.
    pan : float
        -1..1.
    law_db : float
        See :func:`pan_gains`.

    Returns
    -------
    np.ndarray
        ``(2, n)``, the input's float dtype.

    Raises
    ------
    InvalidParameterError
        For a bad ``pan`` or ``law_db``.
    InvalidAudioError
        ``audio.bad_channels`` for a block that is neither mono nor stereo.
    """
    block = np.asarray(block)
    dtype = _float_dtype(block)
    left_lin, right_lin = pan_gains(pan, law_db=law_db)
    if block.ndim == 2 and block.shape[0] == 1:
        gains = np.array([[left_lin], [right_lin]], dtype=dtype)
        return block.astype(dtype, copy=False) * gains
    if block.ndim == 2 and block.shape[0] == 2:
        centre_lin, _ = pan_gains(0.0, law_db=law_db)
        gains = np.ones((2, 1), dtype=dtype)
        if pan < 0:
            gains[1, 0] = right_lin / centre_lin
        elif pan > 0:
            gains[0, 0] = left_lin / centre_lin
        return block.astype(dtype, copy=False) * gains
    raise InvalidAudioError(
        f"panning needs mono or stereo audio of shape (channels, samples); got shape {block.shape}.",
        code="audio.bad_channels", shape=list(block.shape),
    )


def apply_width(block: np.ndarray, width: float) -> np.ndarray:
    """Scale the side (L - R) of a stereo block against its mid (L + R).

    ``mid = (L + R) / 2``, ``side = width * (L - R) / 2``, out ``L = mid + side``,
    ``R = mid - side``. Width 0 folds to mono (L == R == mid), 1 is the identity, 2 doubles the
    side. Mid is never changed, so a mono-compatible fold-down stays the same.

    Parameters
    ----------
    block : np.ndarray
        ``(2, n)``.
    width : float
        0..2.

    Returns
    -------
    np.ndarray
        ``(2, n)``, the input's float dtype.

    Raises
    ------
    InvalidParameterError
        ``pan.bad_width`` for a width out of range.
    InvalidAudioError
        ``audio.bad_channels`` for a block that is not stereo.
    """
    if not 0.0 <= width <= MAX_WIDTH:
        raise InvalidParameterError(
            f"stereo width {width:g} is out of range: use 0 (mono) to {MAX_WIDTH:g}; 1 leaves it unchanged.",
            code="pan.bad_width", width=width, max_width=MAX_WIDTH,
        )
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[0] != 2:
        raise InvalidAudioError(
            f"stereo width needs stereo audio of shape (2, samples); got shape {block.shape}.",
            code="audio.bad_channels", shape=list(block.shape),
        )
    dtype = _float_dtype(block)
    left, right = block[0], block[1]
    # L' = (1+w)/2 L + (1-w)/2 R, R' = (1-w)/2 L + (1+w)/2 R
    same, cross = (1.0 + width) / 2.0, (1.0 - width) / 2.0
    out = np.empty(block.shape, dtype=dtype)
    np.multiply(left, same, out=out[0], casting="unsafe")
    out[0] += cross * right
    np.multiply(right, same, out=out[1], casting="unsafe")
    out[1] += cross * left
    return out
