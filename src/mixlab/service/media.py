"""What the browser needs of each track: a preview it can decode and a waveform overview.

Both are made in one streamed pass over the stem *conformed* to the session (its rate and
length), so every preview starts at the same instant and has the same number of frames: the
page can play them side by side in a Web Audio graph. Previews are FLAC 16-bit, which every
browser decodes (Chromium does not decode AIFF) at about half the size of WAV.

Peaks are kept at a fine resolution (at most :data:`STORED_POINTS` per channel) and reduced to
what the page asks for (``?points=1200``) on request: min of minima, max of maxima.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixlab.analysis.loudness import LoudnessMeter
from mixlab.analysis.truepeak import TruePeakMeter
from mixlab.audio import io as audio_io
from mixlab.audio.stems import StemSession
from mixlab.dsp.pan import apply_pan

STORED_POINTS = 8192
PEAKS_SCHEMA = "mixlab.peaks/1"


class PeakAccumulator:
    """Min and max per ``hop`` frames per channel, from blocks of any size."""

    def __init__(self, num_channels: int, hop: int) -> None:
        self.hop = max(1, int(hop))
        self.num_channels = num_channels
        self._carry = np.zeros((num_channels, 0), np.float32)
        self._mins: list[np.ndarray] = []
        self._maxs: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        x = np.concatenate([self._carry, block], axis=1) if self._carry.shape[1] else block
        whole = x.shape[1] // self.hop
        if whole:
            frames = x[:, : whole * self.hop].reshape(self.num_channels, whole, self.hop)
            self._mins.append(frames.min(axis=2))
            self._maxs.append(frames.max(axis=2))
        self._carry = np.array(x[:, whole * self.hop:], dtype=np.float32)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mins, maxs)``, each ``(channels, points)``."""
        mins, maxs = list(self._mins), list(self._maxs)
        if self._carry.shape[1]:
            mins.append(self._carry.min(axis=1, keepdims=True))
            maxs.append(self._carry.max(axis=1, keepdims=True))
        if not mins:
            empty = np.zeros((self.num_channels, 0), np.float32)
            return empty, empty
        return np.concatenate(mins, axis=1), np.concatenate(maxs, axis=1)


@dataclass(frozen=True)
class PreviewResult:
    num_channels: int
    num_frames: int
    sample_rate: int
    loudness_lufs: float


def write_preview(session: StemSession, index: int, preview: Path, peaks: Path, *,
                  write_json: Any, measure_loudness: bool = False) -> PreviewResult:
    """Stream stem ``index`` conformed to ``session`` into a FLAC 16-bit preview and its peaks.

    ``write_json(path, document)`` stores the peaks atomically (the storage's writer); the
    preview is written by :class:`~mixlab.audio.io.AudioWriter`, which is atomic too. With
    ``measure_loudness`` the stem's integrated loudness comes back as well (a mix to master).
    """
    stem = session.stems[index]
    ch = stem.info.num_channels
    total = session.num_frames
    acc = PeakAccumulator(ch, math.ceil(total / STORED_POINTS))
    meter = LoudnessMeter(session.sample_rate, ch) if measure_loudness else None
    frames = 0
    with audio_io.AudioWriter(preview, sample_rate=session.sample_rate, num_channels=ch, bit_depth="16") as writer:
        for block in session.blocks(index):
            writer.write(block)
            acc.push(block)
            if meter is not None:
                meter.push(block)
            frames += block.shape[1]
    mins, maxs = acc.result()
    write_json(peaks, {
        "schema": PEAKS_SCHEMA,
        "sample_rate": session.sample_rate,
        "num_frames": frames,
        "hop": acc.hop,
        "min": np.round(mins, 4).tolist(),
        "max": np.round(maxs, 4).tolist(),
    })
    loudness = float(meter.result().integrated_lufs) if meter is not None else float("nan")
    return PreviewResult(num_channels=ch, num_frames=frames, sample_rate=session.sample_rate, loudness_lufs=loudness)


def reduce_peaks(document: dict[str, Any], points: int) -> dict[str, Any]:
    """The stored peaks reduced to ``points`` per channel (fewer if fewer are stored)."""
    mins = np.asarray(document["min"], dtype=np.float32)
    maxs = np.asarray(document["max"], dtype=np.float32)
    stored = mins.shape[1] if mins.ndim == 2 else 0
    n = max(0, min(int(points), stored))
    duration_s = document["num_frames"] / document["sample_rate"]
    if n == 0:
        return {"points": 0, "duration_s": round(duration_s, 3), "channels": [[] for _ in range(len(mins))]}
    starts = np.linspace(0, stored, n + 1).astype(np.int64)[:-1]
    lo = np.minimum.reduceat(mins, starts, axis=1)
    hi = np.maximum.reduceat(maxs, starts, axis=1)
    channels = [np.round(np.stack([lo[c], hi[c]], axis=1), 4).tolist() for c in range(lo.shape[0])]
    return {"points": n, "duration_s": round(duration_s, 3), "channels": channels}


def raw_sum_loudness(session: StemSession) -> float:
    """Integrated loudness (LUFS) of every stem summed at unity gain, centred (mono stems
    with the mixer's own -3 dB pan law): the stems as delivered, to compare the mix with."""
    meter = LoudnessMeter(session.sample_rate, 2)
    iters = [session.blocks(i) for i in range(len(session.stems))]
    try:
        for blocks in zip(*iters):
            total = np.zeros((2, blocks[0].shape[1]), np.float32)
            for b in blocks:
                total += apply_pan(b, 0.0).astype(np.float32, copy=False)
            meter.push(total)
    finally:
        for it in iters:
            close = getattr(it, "close", None)
            if close is not None:
                close()
    return float(meter.result().integrated_lufs)


def measure_file(path: Path) -> tuple[float, float]:
    """``(integrated_lufs, true_peak_dbtp)`` of an audio file, streamed."""
    info = audio_io.probe(path)
    loud = LoudnessMeter(info.sample_rate, info.num_channels)
    peak = TruePeakMeter(info.sample_rate, info.num_channels)
    blocks: Iterable[np.ndarray] = audio_io.iter_blocks(path)
    for block in blocks:
        loud.push(block)
        peak.push(block)
    return float(loud.result().integrated_lufs), float(peak.result().true_peak_dbtp)


def finite_or_none(value: float, digits: int = 2) -> float | None:
    """JSON has no infinity: silence measures -inf LUFS and is reported as null."""
    return round(float(value), digits) if value is not None and math.isfinite(value) else None


__all__ = ["PeakAccumulator", "PreviewResult", "STORED_POINTS", "finite_or_none", "measure_file", "raw_sum_loudness",
           "reduce_peaks", "write_preview"]
