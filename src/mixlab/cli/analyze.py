"""``mixlab analyze FILE``: loudness, peaks, stereo image and tonal balance of a file.

The file is streamed in blocks (memory stays bounded for any length) through
:class:`mixlab.analysis.report.ReportBuilder`. Prints a table, or JSON with ``--json``
(:meth:`AnalysisReport.to_dict`, plus the file's format under ``"file"``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, TextIO

from mixlab.analysis.report import AnalysisReport, ReportBuilder

BLOCK_SIZE = 65536

#: Bands shown on the compact spectrum line (nominal 1/3-octave centres, Hz).
_SPECTRUM_LINE_HZ = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``analyze FILE [--json]`` on ``subparsers``."""
    p = subparsers.add_parser(
        "analyze",
        help="measure loudness (LUFS, LRA), true peak, stereo image and spectrum of a file",
        description="Measure a file: integrated loudness and loudness range (EBU R 128), true peak "
        "(BS.1770-4), peak-to-loudness ratio, crest factor, stereo correlation, mono compatibility "
        "and the 1/3-octave spectrum.",
    )
    p.add_argument("file", help="the audio file: WAV, AIFF, FLAC, MP3 or OGG")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument(
        "--max-duration-s", type=float, default=None, help="refuse files longer than this (seconds)"
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Analyse ``args.file`` and print the report; return the exit status (0).

    Raises
    ------
    MixlabError
        From reading the file (unreadable, unsupported, damaged); the caller prints
        its message.
    """
    from mixlab.audio import io as audio_io

    stream = sys.stdout if out is None else out
    max_duration_s = getattr(args, "max_duration_s", None)
    info = audio_io.probe(args.file, max_duration_s=max_duration_s)
    builder = ReportBuilder(info.sample_rate, info.num_channels)
    for block in audio_io.iter_blocks(args.file, block_size=BLOCK_SIZE, max_duration_s=max_duration_s):
        builder.push(block)
    report = builder.result()
    if args.json:
        data: dict[str, Any] = {
            "file": {
                "path": info.path,
                "format": info.format,
                "subtype": info.subtype,
                "sample_rate": info.sample_rate,
                "num_channels": info.num_channels,
                "num_frames": info.num_frames,
                "duration_s": info.duration_s,
            },
            "analysis": report.to_dict(),
        }
        stream.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    else:
        stream.write(format_report(report, title=f"{info.path}  ({info.format}, {info.subtype})") + "\n")
    return 0


def _num(value: float, unit: str, *, digits: int = 1, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return ("-inf" if value < 0 else "+inf") + (f" {unit}" if unit else "")
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return f"{text} {unit}" if unit else text


def _duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60.0)
    return f"{int(minutes)}:{secs:06.3f}"


def format_report(report: AnalysisReport, *, title: str = "") -> str:
    """Human-readable table of an :class:`AnalysisReport`."""
    channels = {1: "mono", 2: "stereo"}.get(report.num_channels, f"{report.num_channels} ch")
    rows = [
        ("Duration", f"{_duration(report.duration_s)}  ({report.sample_rate} Hz, {channels})"),
        ("Integrated loudness", _num(report.integrated_lufs, "LUFS")),
        ("Loudness range", _num(report.lra_lu, "LU")),
        ("Max momentary / short-term", f"{_num(report.max_momentary_lufs, 'LUFS')} / {_num(report.max_short_term_lufs, 'LUFS')}"),
        ("True peak", _num(report.true_peak_dbtp, "dBTP", signed=True)),
        ("Sample peak", _num(report.sample_peak_dbfs, "dBFS", signed=True)),
        ("PLR (true peak - loudness)", _num(report.plr_db, "dB")),
        ("Crest factor (peak - RMS)", _num(report.crest_factor_db, "dB")),
        ("Stereo correlation", _num(report.correlation, "", digits=2, signed=True)),
        ("Mono fold-down loss", _num(report.mono_loss_lu, "LU")),
        ("Clipped samples", f"{report.clipped_samples} ({report.clip_events} runs of 3+)"),
    ]
    if report.stereo_bands:
        rows.insert(
            9,
            (
                "Correlation low/mid/high",
                " / ".join(_num(b.correlation, "", digits=2, signed=True) for b in report.stereo_bands),
            ),
        )
    width = max(len(name) for name, _ in rows)
    lines = [title] if title else []
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines.append("  Octave spectrum from 1/3-octave bands, dB relative to the loudest:")
    lines.append("  " + _spectrum_line(report))
    for warning in report.warnings:
        lines.append(f"  warning: {warning.message}")
    return "\n".join(lines)


def _spectrum_line(report: AnalysisReport) -> str:
    """Octave levels (each the power sum of three 1/3-octave bands), relative to the loudest."""
    levels = list(report.third_octave_db)
    centres = list(report.third_octave_hz)
    shown = []
    for hz in _SPECTRUM_LINE_HZ:
        i = centres.index(hz)
        parts = [v for v in levels[max(i - 1, 0) : i + 2] if not math.isnan(v)]
        power = sum(10.0 ** (v / 10.0) for v in parts if math.isfinite(v))
        shown.append((hz, 10.0 * math.log10(power) if power > 0 else (-math.inf if parts else math.nan)))
    finite = [v for _, v in shown if math.isfinite(v)]
    top = max(finite) if finite else 0.0
    cells = []
    for hz, level in shown:
        label = f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"
        value = f"{level - top:+.0f}" if math.isfinite(level) else "--"
        cells.append(f"{label}:{value}")
    return "  ".join(cells)
