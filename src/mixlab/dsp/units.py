"""Unit conversions shared by processors."""

from __future__ import annotations


def ms_to_samples(time_ms: float, sample_rate: int) -> int:
    """Whole number of samples closest to ``time_ms`` at ``sample_rate`` (at least 1)."""
    return max(1, int(round(time_ms * 1e-3 * sample_rate)))
