"""Independent measurements for checking our own meters and engine (not built on mixlab code)."""

import numpy as np


def ideal_true_peak_db(x: np.ndarray, factor: int = 8) -> float:
    """True peak by FFT (band-limited, ideal) interpolation, silence-padded so the ends do not wrap."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    padded = np.concatenate([np.zeros((x.shape[0], 256)), x, np.zeros((x.shape[0], 256))], axis=1)
    n = padded.shape[1]
    up = np.fft.irfft(np.fft.rfft(padded, axis=1), n * factor, axis=1) * factor
    return float(20 * np.log10(np.max(np.abs(up))))


def pyloudnorm_lufs(x: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness by pyloudnorm, an independent implementation."""
    import pyloudnorm

    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(np.asarray(x, dtype=np.float64).T))


def bs1770_true_peak_db(x: np.ndarray, sample_rate: int) -> float:
    """True peak per BS.1770-4 Annex 2 (4x oversampling), with a long interpolation filter
    flat to 20 kHz (scipy's firwin + upfirdn; not the filter mixlab uses)."""
    import scipy.signal

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    h = scipy.signal.firwin(1025, min(20000.0, 0.49 * sample_rate), fs=4 * sample_rate, window=("kaiser", 9.0)) * 4
    return float(20 * np.log10(np.max(np.abs(scipy.signal.upfirdn(h, x, up=4, axis=1)))))
