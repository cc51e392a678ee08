"""The mixing job: stems in, a plan and a rendered mix out (and optionally processed stems and a master).

This is the Python API behind ``mixlab mix`` and ``mixlab render`` (and the service's jobs)::

    from mixlab.engine.mixing import mix, render
    result = mix("stems/", "mix.wav", genre="rock", plan_out="plan.json")
    render(result.plan, "mix-again.wav")     # the same samples

Originals are never modified: every output is written to a temporary file and renamed into
place, and an output that would overwrite an input is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixlab.analysis.roles import classify_role
from mixlab.analysis.spectrum import band_power, third_octave_bands
from mixlab.analysis.defects import DefectAnalyzer, StemDefects
from mixlab.analysis.track import AnalysisCache, TrackAnalyzer, TrackFeatures
from mixlab.audio import io as audio_io
from mixlab.audio.stems import StemSession, open_stems
from mixlab.engine import mix_render
from mixlab.engine.mix import MIX_SCHEMA, ReferenceTone, TrackInput, decide_mix, finalise_output_gain
from mixlab.engine.notes import NotesSession, notes_document
from mixlab.engine.plan import Plan, load_plan
from mixlab.errors import InvalidParameterError

Progress = Callable[[str, float], None]
WORKERS = mix_render.WORKERS
OUTPUT_SUFFIXES = (".wav", ".flac", ".aiff", ".aif")


def _no_progress(stage: str, fraction: float) -> None:
    pass


@dataclass
class MixResult:
    plan: Plan
    output: str
    stems: list[str]
    measured: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)
    master: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] | None = None
    notes_file: str | None = None
    #: The measurements behind ``notes``, to evaluate edited plans without analysing again
    #: (the service keeps it per session).
    notes_session: NotesSession | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "stems": self.stems, "measured": self.measured, "timings_s": self.timings_s,
                "master": self.master, "notes": self.notes}


def analyze_stems(session: StemSession, *, cache: AnalysisCache | None = None, progress: Progress = _no_progress,
                  with_defects: bool = False):
    """Analyse every stem of ``session`` (from the cache when its content was seen before).

    Returns the tracks, or with ``with_defects`` ``(tracks, {name: StemDefects})``: the
    recording defects are measured in the same pass over each stem.
    """
    done = [0]

    def one(i: int) -> tuple[TrackFeatures, StemDefects | None]:
        stem = session.stems[i]
        key = cache.key(stem.path, sample_rate=session.sample_rate) if cache is not None else None
        features = cache.get(key) if cache is not None else None
        defects = _cached_defects(cache, key) if with_defects and cache is not None else None
        if features is None or (with_defects and defects is None):
            ch = stem.info.num_channels
            analyzer = TrackAnalyzer(session.sample_rate, ch)
            detector = DefectAnalyzer(session.sample_rate, ch) if with_defects else None
            for block in session.blocks(i):
                analyzer.push(block)
                if detector is not None:
                    detector.push(block)
            features = analyzer.result()
            defects = detector.result() if detector is not None else None
            if cache is not None:
                cache.put(key, features)
                if defects is not None:
                    _store_defects(cache, key, defects)
        done[0] += 1
        progress("analyse", done[0] / len(session.stems))
        return features, defects

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(one, range(len(session.stems))))
    out = []
    for stem, (f, _) in zip(session.stems, results):
        guess = classify_role(f, stem.name)
        out.append(TrackInput(name=stem.name, file_name=stem.file_name, source=stem.source, features=f, guess=guess))
    if with_defects:
        return out, {stem.name: d for stem, (_, d) in zip(session.stems, results)}
    return out


def _defects_path(cache: AnalysisCache, key: str) -> Path:
    return cache.folder / f"{key}.defects.json"


def _cached_defects(cache: AnalysisCache, key: str) -> StemDefects | None:
    try:
        return StemDefects.from_dict(json.loads(_defects_path(cache, key).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store_defects(cache: AnalysisCache, key: str, defects: StemDefects) -> None:
    path = _defects_path(cache, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(defects.to_dict()))
        tmp.replace(path)
    except OSError:
        pass  # the cache only saves time


def reference_tone(path: str | os.PathLike[str]) -> ReferenceTone:
    """The 1/3-octave tonal balance of a reference track."""
    from mixlab.engine.master import analyze_source

    source = analyze_source(path)
    _, centres, lower, upper = third_octave_bands()
    keep = upper < source.sample_rate / 2
    levels = 10.0 * np.log10(np.maximum(band_power(source.freqs_hz, source.power, lower[keep], upper[keep]), 1e-30))
    return ReferenceTone(name=Path(path).name, centres_hz=centres[keep], levels_db=levels)


def _check_output(path: Path, inputs: list[Path], what: str) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InvalidParameterError(f"{path}: the {what} must end in .wav, .flac or .aiff", code="mix.bad_output",
                                    file=str(path))
    if not path.parent.exists():
        raise InvalidParameterError(f"{path.parent}: folder does not exist", code="mix.no_folder", file=str(path))
    for i in inputs:
        if path.exists() and audio_io.same_file(path, i):
            raise InvalidParameterError(
                f"{path}: would overwrite an input file. Originals are never modified; choose another output name.",
                code="mix.overwrite_input", file=str(path))


def _stem_outputs(session: StemSession, plan: Plan, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    inputs = {s.path.resolve() for s in session.stems}
    for t in plan.context["tracks"]:
        if t.get("silent"):
            continue
        path = folder / (Path(t["file"]).stem + ".wav")
        if path.resolve() in inputs:
            raise InvalidParameterError(
                f"{path}: the processed stem would overwrite its original. Choose another --stems-out folder.",
                code="mix.overwrite_input", file=str(path))
        out[t["name"]] = path
    return out


def _render_and_finalise(plan: Plan, session: StemSession, output: Path, *, stems_out: Path | None, bit_depth: str,
                         decide_gain: bool, progress: Progress,
                         float_copy: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    work = Path(os_tempdir(output.parent))
    try:
        untrimmed = work / "mix.wav"
        stem_targets = _stem_outputs(session, plan, stems_out) if stems_out is not None else {}
        stem_temps = {name: work / f"stem{k}.wav" for k, name in enumerate(stem_targets)}
        stats = mix_render.render_untrimmed(plan, session, untrimmed, stem_paths=stem_temps or None, progress=progress)
        if decide_gain:
            finalise_output_gain(plan, stats.true_peak_dbtp)
        gain = float(plan.get("bus:mix", "output_gain_db"))
        written = mix_render.finalise(untrimmed, output, gain, bit_depth=bit_depth)
        if float_copy is not None:
            mix_render.finalise(untrimmed, float_copy, gain, bit_depth="32f")
        stems = []
        for name, target in stem_targets.items():
            mix_render.finalise(stem_temps[name], target, gain, bit_depth=bit_depth)
            stems.append(str(target))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    measured = {
        "true_peak_dbtp": round(stats.true_peak_dbtp + gain, 2),
        "sample_peak_dbfs": round(written["sample_peak_dbfs"], 2),
        "integrated_lufs": round(stats.integrated_lufs + gain, 2),
        "clipped_samples": written["clipped_samples"],
        "duration_s": round(stats.num_frames / stats.sample_rate, 3),
        "sample_rate": stats.sample_rate,
    }
    return measured, stems


def os_tempdir(near: Path) -> str:
    import tempfile

    return tempfile.mkdtemp(prefix=".mixlab-render-", dir=near)


def mix(
    stems: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    genre: str | None = None,
    reference: str | os.PathLike[str] | None = None,
    plan_in: Plan | None = None,
    stems_out: str | os.PathLike[str] | None = None,
    bit_depth: str = "24",
    sample_rate: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    max_duration_s: float | None = None,
    notes_target: str = "spotify",
    notes_surface: str = "cli",
    float_copy: str | os.PathLike[str] | None = None,
    progress: Progress = _no_progress,
) -> MixResult:
    """Analyse the stems, decide every parameter not kept in ``plan_in``, render the mix, and
    evaluate the Mix Notes of the plan (``MixResult.notes``), their advice worded for
    ``notes_surface`` (``"cli"``: ``mixlab`` commands; ``"web"``: the browser's controls).
    ``float_copy``: also write the mix there as 32-bit float (see :func:`render`)."""
    output = Path(output)
    stems_path = Path(stems)
    _check_output(output, [stems_path], "mix")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if plan_in is not None and sample_rate is None:
        sample_rate = plan_in.context.get("session", {}).get("sample_rate")
    with open_stems(stems_path, sample_rate=sample_rate, max_duration_s=max_duration_s) as session:
        _check_output(output, [s.path for s in session.stems], "mix")
        cache = AnalysisCache(Path(cache_dir) if cache_dir else None) if use_cache else None
        tracks, defects = analyze_stems(session, cache=cache, progress=progress, with_defects=True)
        tone = reference_tone(reference) if reference is not None else None
        timings["analyse"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        plan = decide_mix(tracks, sample_rate=session.sample_rate, genre=genre, reference=tone, plan=plan_in,
                          context=_session_context(session, stems_path))
        timings["decide"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        measured, written = _render_and_finalise(plan, session, output, stems_out=Path(stems_out) if stems_out else None,
                                                 bit_depth=bit_depth, decide_gain=True, progress=progress,
                                                 float_copy=Path(float_copy) if float_copy else None)
        timings["render"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        notes_session = NotesSession.from_session(session, tracks, defects, genre=plan.get("session", "genre"),
                                                  target=notes_target)
        # the measured peaks with the notes' model of this plan's level: edited plans' peaks follow from it
        plan.context["result"] = {**measured, "peak_model_db": round(notes_session.peak_model_db(plan), 3)}
        notes = notes_document(notes_session, notes_session.evaluate(plan, surface=notes_surface),
                               input_name=str(stems_path))
        timings["notes"] = time.perf_counter() - t3
    return MixResult(plan=plan, output=str(output), stems=written, measured=measured,
                     timings_s={k: round(v, 3) for k, v in timings.items()}, notes=notes,
                     notes_session=notes_session)


def render(
    plan: Plan,
    output: str | os.PathLike[str],
    *,
    stems: str | os.PathLike[str] | None = None,
    stems_out: str | os.PathLike[str] | None = None,
    bit_depth: str = "24",
    float_copy: str | os.PathLike[str] | None = None,
    progress: Progress = _no_progress,
) -> MixResult:
    """Render a plan as it stands (nothing is re-decided): the same plan gives the same samples.

    ``float_copy``: also write the mix as 32-bit float there, where samples over full scale
    survive: the source to master from when the user's output gain or faders clip ``output``.
    """
    if plan.schema != MIX_SCHEMA:
        raise InvalidParameterError(f"this plan is '{plan.schema}', expected '{MIX_SCHEMA}'", code="plan.bad_schema")
    source = stems or plan.context.get("stems_path")
    if not source:
        raise InvalidParameterError("the plan does not say where its stems are; give them with --stems",
                                    code="mix.no_stems")
    output = Path(output)
    _check_output(output, [Path(source)], "mix")
    rate = plan.context.get("session", {}).get("sample_rate")
    t0 = time.perf_counter()
    with open_stems(source, sample_rate=rate) as session:
        _check_output(output, [s.path for s in session.stems], "mix")
        measured, written = _render_and_finalise(plan, session, output, stems_out=Path(stems_out) if stems_out else None,
                                                 bit_depth=bit_depth, decide_gain=False, progress=progress,
                                                 float_copy=Path(float_copy) if float_copy else None)
    return MixResult(plan=plan, output=str(output), stems=written, measured=measured,
                     timings_s={"render": round(time.perf_counter() - t0, 3)})


def _session_context(session: StemSession, stems_path: Path) -> dict[str, Any]:
    return {
        "stems_path": str(stems_path.resolve()),
        "session": {
            "sample_rate": session.sample_rate,
            "num_frames": session.num_frames,
            "duration_s": round(session.num_frames / session.sample_rate, 3),
            "stems": len(session.stems),
            "resampled": [{"stem": c.stem, "from_rate": c.from_rate, "to_rate": c.to_rate} for c in session.conversions],
            "ignored": [{"file": f, "why": why} for f, why in session.ignored],
        },
    }


def load_mix_plan(path: str | os.PathLike[str]) -> Plan:
    return load_plan(path, expected_schema=MIX_SCHEMA)


def write_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write a plan atomically (temporary file, then rename)."""
    write_json(path, plan.to_dict())


def write_json(path: str | os.PathLike[str], document: Any) -> None:
    """Write a JSON document atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(document, indent=2, allow_nan=False))
    os.replace(tmp, path)


def notes_path_for(path: Path) -> Path:
    """Where ``mixlab mix`` writes the notes: next to the plan (or the mix), ``<name>.notes.json``."""
    return path.with_name(f"{path.stem}.notes.json")


__all__ = ["MixResult", "analyze_stems", "load_mix_plan", "mix", "notes_path_for", "reference_tone", "render", "write_json",
           "write_plan"]
