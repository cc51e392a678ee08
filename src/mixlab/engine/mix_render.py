"""Render a MixPlan: stems + plan -> mix (and processed stems), block-streamed, bounded memory.

All tracks advance together one block at a time, so memory holds one block per track and bus
whatever the song's length. Each track's strip is::

    offset -> polarity -> high-pass + EQ -> compressor -> de-esser -> fader -> pan
        -> drum bus or mix bus;  post-fader sends -> reverb bus, delay bus

The drum bus has a glue compressor; the reverb (high-passed send, convolution with a seeded
synthetic room) and the delay (tempo echo) return to the mix bus, which has a tonal EQ, a glue
compressor and the output gain. Tracks are processed by two worker threads, each summing its
own fixed set of tracks, and the partial sums are added in a fixed order: the same plan gives
the same samples on every run, from the CLI or the service.

The render writes the un-trimmed mix (32-bit float) to a temporary file while metering its true
peak, then :func:`finalise` applies the output gain into the requested file. Processed stems
follow the same path.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np

from mixlab.analysis.loudness import LoudnessMeter
from mixlab.analysis.truepeak import TruePeakMeter
from mixlab.audio import io as audio_io
from mixlab.audio.stems import StemSession
from mixlab.dsp.crossover import StreamingSOS
from mixlab.dsp.deesser import DeEsser, DeEsserSettings
from mixlab.dsp.dynamics import FRAME_SAMPLES, Compressor, CompressorSettings
from mixlab.dsp.eq import EQBand, ParametricEQ, eq_sos, highpass_sos
from mixlab.dsp.pan import apply_pan
from mixlab.dsp.space import StereoConvolver, delay_ir, reverb_ir
from mixlab.engine.mix import track_eq_sos, track_section
from mixlab.engine.params import check_value
from mixlab.engine.plan import Plan
from mixlab.errors import InvalidParameterError

BLOCK_SIZE = 32768
assert BLOCK_SIZE % FRAME_SAMPLES == 0
WORKERS = max(1, int(os.environ.get("MIXLAB_WORKERS", "2")))
REVERB_SEED = 1

Progress = Callable[[str, float], None]


def _no_progress(stage: str, fraction: float) -> None:
    pass


def _gain(db: float) -> float:
    return 10.0 ** (float(db) / 20.0)


def _value(plan: Plan, section: str, name: str) -> Any:
    """A plan value checked by type and range against its spec (:mod:`mixlab.engine.params`)."""
    return check_value(section, name, plan.get(section, name))


def _compressor(plan: Plan, section: str, sample_rate: int) -> Compressor | None:
    ratio = _value(plan, section, "comp_ratio")
    if ratio <= 1.0:
        return None
    return Compressor(
        CompressorSettings(
            threshold_db=_value(plan, section, "comp_threshold_db"),
            ratio=ratio,
            attack_ms=_value(plan, section, "comp_attack_ms"),
            release_ms=_value(plan, section, "comp_release_ms"),
            knee_db=_value(plan, section, "comp_knee_db"),
            makeup_db=_value(plan, section, "comp_makeup_db"),
        ),
        sample_rate,
    )


def _reblock(blocks: Iterable[np.ndarray], num_channels: int, total: int, block_size: int, shift: int) -> Iterator[np.ndarray]:
    """Yield ``total`` frames in blocks of ``block_size`` (last one shorter), delayed by ``shift``
    frames (advanced when negative), zero-filled at the edges."""
    source = iter(blocks)
    pending: list[np.ndarray] = []
    have = 0
    if shift > 0:
        pending.append(np.zeros((num_channels, shift), dtype=np.float32))
        have = shift
    skip = -shift if shift < 0 else 0
    done = 0
    exhausted = False
    while done < total:
        want = min(block_size, total - done)
        while have < want and not exhausted:
            try:
                b = next(source)
            except StopIteration:
                exhausted = True
                break
            if skip:
                cut = min(skip, b.shape[1])
                b = b[:, cut:]
                skip -= cut
            if b.shape[1]:
                pending.append(b)
                have += b.shape[1]
        joined = np.concatenate(pending, axis=1) if len(pending) > 1 else (pending[0] if pending else np.zeros((num_channels, 0), np.float32))
        out = joined[:, :want]
        if out.shape[1] < want:
            out = np.concatenate([out, np.zeros((num_channels, want - out.shape[1]), dtype=np.float32)], axis=1)
        rest = joined[:, want:]
        pending = [rest] if rest.shape[1] else []
        have = rest.shape[1]
        done += want
        yield out


class TrackStrip:
    """One track's channel strip, built from its plan section."""

    def __init__(self, plan: Plan, name: str, session: StemSession, index: int, *, block_size: int) -> None:
        s = track_section(name)
        self.section = s
        sr = session.sample_rate
        stem = session.stems[index]
        self.num_channels = stem.info.num_channels
        self.muted = _value(plan, s, "mute")
        offset_ms = _value(plan, s, "offset_ms")
        shift = int(round(offset_ms * sr / 1000.0))
        self.blocks = _reblock(session.blocks(index, block_size=block_size), self.num_channels, session.num_frames,
                               block_size, shift) if not self.muted else None
        polarity = -1.0 if _value(plan, s, "polarity_inverted") else 1.0
        self.fader = polarity * _gain(_value(plan, s, "gain_db"))
        _value(plan, s, "highpass_hz"), _value(plan, s, "eq")
        sos = track_eq_sos(plan, s, sr)
        self.eq = ParametricEQ(sos, self.num_channels) if len(sos) else None
        self.compressor = _compressor(plan, s, sr)
        deess = _value(plan, s, "deess_threshold_db")
        self.deesser = None
        if deess is not None:
            freq = _value(plan, s, "deess_freq_hz")
            if freq > 0.45 * sr:
                raise InvalidParameterError(
                    f"{s}.deess_freq_hz must be at most {0.45 * sr:g} Hz at {sr} Hz, got {freq:g}",
                    code="plan.bad_parameter", parameter=f"{s}.deess_freq_hz")
            self.deesser = DeEsser(DeEsserSettings(freq_hz=freq, threshold_db=deess), sr, self.num_channels)
        self.pan = _value(plan, s, "pan")
        rv, dl = _value(plan, s, "reverb_send_db"), _value(plan, s, "delay_send_db")
        self.reverb_send = None if rv is None else _gain(rv)
        self.delay_send = None if dl is None else _gain(dl)
        self.bus = _value(plan, s, "bus")

    def process(self, block: np.ndarray) -> np.ndarray:
        x = block
        if self.eq is not None:
            x = self.eq.process(x)
        if self.compressor is not None:
            x = self.compressor.process(x)
        if self.deesser is not None:
            x = self.deesser.process(x)
        x = np.asarray(x, dtype=np.float32) * np.float32(self.fader)
        return apply_pan(x, self.pan).astype(np.float32, copy=False)


@dataclass
class _Partial:
    mix: np.ndarray
    drums: np.ndarray
    reverb: np.ndarray
    delay: np.ndarray
    stems: list[tuple[int, np.ndarray]] = field(default_factory=list)


def _run_strips(strips: list[tuple[int, TrackStrip]], n: int, keep_stems: bool) -> _Partial:
    part = _Partial(*(np.zeros((2, n), dtype=np.float32) for _ in range(4)))
    for index, strip in strips:
        block = next(strip.blocks)
        out = strip.process(block)
        (part.drums if strip.bus == "drums" else part.mix).__iadd__(out)
        if strip.reverb_send is not None:
            part.reverb += out * np.float32(strip.reverb_send)
        if strip.delay_send is not None:
            part.delay += out * np.float32(strip.delay_send)
        if keep_stems:
            part.stems.append((index, out))
    return part


class Buses:
    """The drum bus, reverb, delay and mix bus of a plan."""

    def __init__(self, plan: Plan, sample_rate: int) -> None:
        self.drums = _compressor(plan, "bus:drums", sample_rate)
        rt60 = _value(plan, "bus:reverb", "rt60_s")
        ir = reverb_ir(sample_rate, rt60_s=rt60,
                       predelay_ms=_value(plan, "bus:reverb", "predelay_ms"),
                       damping_hz=_value(plan, "bus:reverb", "damping_hz"),
                       seed=REVERB_SEED)
        self.reverb = StereoConvolver(ir)
        hp = _value(plan, "bus:reverb", "highpass_hz")
        self.reverb_hp = StreamingSOS(highpass_sos(hp, sample_rate, slope_db_per_octave=12), 2)
        self.delay = StereoConvolver(delay_ir(
            sample_rate,
            delay_ms=_value(plan, "bus:delay", "delay_ms"),
            feedback=_value(plan, "bus:delay", "feedback"),
            ping_pong=True,
            lowpass_hz=_value(plan, "bus:delay", "lowpass_hz"),
        ))
        bands = [EQBand(**b) for b in _value(plan, "bus:mix", "eq")]
        sos = eq_sos(bands, sample_rate)
        self.mix_eq = ParametricEQ(sos, 2) if len(sos) else None
        self.glue = _compressor(plan, "bus:mix", sample_rate)
        self.any_reverb = False
        self.any_delay = False

    def process(self, part: _Partial) -> np.ndarray:
        mix = part.mix.astype(np.float64)
        drums = part.drums
        if self.drums is not None:
            drums = self.drums.process(drums)
        mix += drums
        if self.any_reverb:
            mix += self.reverb.process(self.reverb_hp.process(part.reverb))
        if self.any_delay:
            mix += self.delay.process(part.delay)
        if self.mix_eq is not None:
            mix = self.mix_eq.process(mix)
        if self.glue is not None:
            mix = self.glue.process(mix)
        return np.asarray(mix, dtype=np.float32)


@dataclass
class RenderStats:
    """What the un-trimmed render measured."""

    true_peak_dbtp: float
    sample_peak_dbfs: float
    integrated_lufs: float
    num_frames: int
    sample_rate: int


def render_untrimmed(
    plan: Plan,
    session: StemSession,
    mix_path: Path,
    *,
    stem_paths: dict[str, Path] | None = None,
    progress: Progress = _no_progress,
    block_size: int = BLOCK_SIZE,
) -> RenderStats:
    """Render ``plan`` over ``session`` into ``mix_path`` (32-bit float WAV, before the output gain).

    ``stem_paths`` maps a track name to a file for its processed stem (also 32-bit float).
    """
    names = {s.name: i for i, s in enumerate(session.stems)}
    tracks = [t for t in plan.context.get("tracks", [])]
    missing = [t["name"] for t in tracks if t["name"] not in names]
    if missing:
        raise InvalidParameterError(
            f"the plan names stems that are not in the session: {', '.join(missing)}. "
            "Render it with the stems it was made from.", code="mix.missing_stems", stems=missing,
        )
    sr = session.sample_rate
    strips = [(names[t["name"]], TrackStrip(plan, t["name"], session, names[t["name"]], block_size=block_size))
              for t in tracks]
    live = [(i, s) for i, s in strips if not s.muted]
    buses = Buses(plan, sr)
    buses.any_reverb = any(s.reverb_send is not None for _, s in live)
    buses.any_delay = any(s.delay_send is not None for _, s in live)
    groups = [live[k::WORKERS] for k in range(WORKERS)] if live else [[]]
    groups = [g for g in groups if g] or [[]]
    writers: dict[int, audio_io.AudioWriter] = {}
    tp = TruePeakMeter(sr, 2)
    loud = LoudnessMeter(sr, 2)
    peak = 0.0
    total = session.num_frames
    keep = bool(stem_paths)
    try:
        with audio_io.AudioWriter(mix_path, sample_rate=sr, num_channels=2, bit_depth="32f") as out:
            if keep:
                for i, s in live:
                    name = session.stems[i].name
                    writers[i] = audio_io.AudioWriter(stem_paths[name], sample_rate=sr, num_channels=2, bit_depth="32f")
            done = 0
            with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                while done < total:
                    n = min(block_size, total - done)
                    parts = list(pool.map(lambda g: _run_strips(g, n, keep), groups))
                    part = parts[0]
                    for other in parts[1:]:
                        part.mix += other.mix
                        part.drums += other.drums
                        part.reverb += other.reverb
                        part.delay += other.delay
                        part.stems.extend(other.stems)
                    mixed = buses.process(part)
                    for i, stem_block in part.stems:
                        writers[i].write(stem_block)
                    out.write(mixed)
                    tp.push(mixed)
                    loud.push(mixed)
                    peak = max(peak, float(np.max(np.abs(mixed))) if n else 0.0)
                    done += n
                    progress("render", done / total)
            for w in writers.values():
                w.close()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    tp_result = tp.result()
    return RenderStats(
        true_peak_dbtp=float(getattr(tp_result, "true_peak_dbtp", tp_result)),
        sample_peak_dbfs=20.0 * math.log10(peak) if peak > 0 else float("-inf"),
        integrated_lufs=float(loud.result().integrated_lufs),
        num_frames=total,
        sample_rate=sr,
    )


def finalise(source: Path, destination: Path, gain_db: float, *, bit_depth: str) -> dict[str, float]:
    """Write ``source`` scaled by ``gain_db`` to ``destination`` (format from its extension)."""
    g = np.float32(_gain(gain_db))
    info, blocks = audio_io.open_blocks(source)
    peak = 0.0
    over = 0
    with audio_io.AudioWriter(destination, sample_rate=info.sample_rate, num_channels=info.num_channels,
                              bit_depth=bit_depth) as out:
        for block in blocks:
            scaled = block * g
            if scaled.size:
                m = float(np.max(np.abs(scaled)))
                peak = max(peak, m)
                if m > 1.0:
                    over += int(np.count_nonzero(np.abs(scaled) > 1.0))
            out.write(scaled)
    return {"sample_peak_dbfs": 20.0 * math.log10(peak) if peak > 0 else float("-inf"), "clipped_samples": over}


def temp_path(folder: Path, stem: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".untrimmed.wav", dir=folder)
    os.close(fd)
    return Path(name)


__all__ = ["BLOCK_SIZE", "Buses", "RenderStats", "TrackStrip", "finalise", "render_untrimmed", "temp_path"]
