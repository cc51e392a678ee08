"""Helpers for the audio I/O, resampling and dither tests: signals built in code, tone meters.

The seeded ``rng`` fixture comes from tests/conftest.py.
"""

from __future__ import annotations

import numpy as np


def sine(
    *,
    freq_hz: float,
    sample_rate: int,
    duration_s: float,
    num_channels: int = 1,
    level_db: float = -6.0,
    phase_rad: float = 0.0,
) -> np.ndarray:
    """Sine of peak ``level_db`` dBFS, ``float32 (num_channels, n)``; channel c is shifted by c rad."""
    n = int(round(duration_s * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    amp = 10.0 ** (level_db / 20.0)
    rows = [amp * np.sin(2 * np.pi * freq_hz * t + phase_rad + c) for c in range(num_channels)]
    return np.asarray(rows, dtype=np.float32)


def tone(x: np.ndarray, *, freq_hz: float, sample_rate: int, start: int = 0, stop: int | None = None) -> complex:
    """Complex amplitude of ``freq_hz`` in a 1-D signal ``x[start:stop]`` (least squares).

    ``abs()`` is the peak amplitude of that sinusoid and ``angle()`` its phase at sample 0
    (sine convention); accurate when the window holds many periods.
    """
    stop = len(x) if stop is None else stop
    t = np.arange(start, stop, dtype=np.float64) / sample_rate
    w = 2 * np.pi * freq_hz * t
    basis = np.stack([np.sin(w), np.cos(w)], axis=1)
    (a_sin, a_cos), *_ = np.linalg.lstsq(basis, np.asarray(x[start:stop], dtype=np.float64), rcond=None)
    return complex(a_sin, a_cos)


def freq_error_hz(x: np.ndarray, *, freq_hz: float, sample_rate: int) -> float:
    """How far the tone in ``x`` is from ``freq_hz``: phase drift between the two halves."""
    n = len(x)
    quarter = n // 4
    first = tone(x, freq_hz=freq_hz, sample_rate=sample_rate, start=quarter // 2, stop=quarter // 2 + quarter)
    second = tone(x, freq_hz=freq_hz, sample_rate=sample_rate, start=n - quarter // 2 - quarter, stop=n - quarter // 2)
    dt_s = (n - quarter // 2 - quarter - quarter // 2) / sample_rate
    dphi = np.angle(second / first)  # tone() phases are absolute, so a true tone gives 0
    return float(dphi / (2 * np.pi * dt_s))

