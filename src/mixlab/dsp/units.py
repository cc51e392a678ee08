"""Unit conversions shared by every processor and meter."""

from __future__ import annotations

import numpy as np

#: Floor for logarithms, so silence gives a defined (very low) level instead of -inf warnings.
LEVEL_FLOOR_DB = -200.0


def db_to_lin(gain_db: float | np.ndarray) -> float | np.ndarray:
    """Amplitude ratio for a gain in dB (``+6.02 dB -> 2.0``)."""
    return np.power(10.0, np.asarray(gain_db) / 20.0) if isinstance(gain_db, np.ndarray) else 10.0 ** (gain_db / 20.0)


def lin_to_db(value_lin: float | np.ndarray, *, floor_db: float = LEVEL_FLOOR_DB) -> float | np.ndarray:
    """Level in dB of an amplitude ratio, floored at ``floor_db`` so zero gives a finite value."""
    floor_lin = 10.0 ** (floor_db / 20.0)
    if isinstance(value_lin, np.ndarray):
        return 20.0 * np.log10(np.maximum(np.abs(value_lin), floor_lin))
    return 20.0 * float(np.log10(max(abs(float(value_lin)), floor_lin)))


def ms_to_samples(time_ms: float, sample_rate: int) -> int:
    """Whole number of samples closest to ``time_ms`` at ``sample_rate`` (at least 1)."""
    return max(1, int(round(time_ms * 1e-3 * sample_rate)))
