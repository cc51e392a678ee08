"""The job functions: ``prepare``, ``mix`` and ``render``, each ``fn(job_id, store, storage)``.

They drive the same engine functions as the CLI (``engine.mixing.mix`` and ``render``,
``engine.master.master``) on the session's folders, and record what the page shows in the
database. Outputs of a mix or render are written into a hidden folder and renamed into
``versions/<vid>`` only when everything succeeded, so a failed job leaves no half version.
"""

from __future__ import annotations

import logging
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

from mixlab.analysis.track import AnalysisCache
from mixlab.audio.stems import Stem, StemSession, open_stems
from mixlab.engine.master import OutputSpec, TargetJob, master
from mixlab.engine.mix import MIX_SCHEMA
from mixlab.engine.mixing import analyze_stems, mix, render
from mixlab.engine.plan import Plan
from mixlab.engine.targets import get_platform, platform_names
from mixlab.errors import InvalidParameterError, MixlabError
from mixlab.service import media, notes_store
from mixlab.service.db import Store, new_id, now_iso
from mixlab.service.jobs.runner import JobProgress
from mixlab.service.plan_io import plan_out, without_paths
from mixlab.service.storage import Storage

log = logging.getLogger(__name__)

#: API format name -> (file extension, bit depth).
FORMATS = {"wav16": (".wav", "16"), "wav24": (".wav", "24"), "flac": (".flac", "24"), "mp3": (".mp3", "24")}
MAX_STEMS = 256


# ---------------------------------------------------------------------------------------------
# shared helpers


def _job_context(job_id: str, store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    job = store.job_by_id(job_id)
    if job is None:
        raise InvalidParameterError(f"job {job_id} does not exist", code="job.not_found")
    session = store.session(job["owner"], job["session_id"])
    if session is None:
        raise InvalidParameterError("the session of this job was deleted", code="session.deleted")
    return job, session


def session_plan(storage: Storage, owner: str, sid: str) -> Plan | None:
    """The session's current MixPlan, or None before the first mix."""
    path = storage.session_dir(owner, sid) / "plan.json"
    try:
        raw = storage.read_json(path)
    except FileNotFoundError:
        return None
    return Plan.from_dict(raw, expected_schema=MIX_SCHEMA)


def conformed_stems(storage: Storage, store: Store, owner: str, sid: str, *, sample_rate: int | None = None,
                    include_problems: bool = False) -> tuple[StemSession, list[dict[str, Any]]]:
    """The session's tracks as a :class:`StemSession` over the originals folder, in track
    order, and the matching track rows. Files on disk without a track row (left by a crash
    between storing and recording) are not part of the session."""
    originals = storage.folder(owner, sid, "originals")
    tracks = [t for t in store.tracks(owner, sid) if include_problems or not t["problem"]]
    if not tracks:
        raise InvalidParameterError("This session has no usable tracks yet. Upload your stems first.",
                                    code="session.no_tracks")
    with open_stems(originals, sample_rate=sample_rate, max_stems=MAX_STEMS) as found:
        by_file = {s.source: s for s in found.stems}
        rate = found.sample_rate
    stems: list[Stem] = []
    rows: list[dict[str, Any]] = []
    for t in tracks:
        stem = by_file.get(t["file"])
        if stem is not None:
            stems.append(stem)
            rows.append(t)
    if not stems:
        raise InvalidParameterError("This session has no usable tracks yet. Upload your stems first.",
                                    code="session.no_tracks")
    return StemSession(stems=stems, sample_rate=rate), rows


def notes_target(session: dict[str, Any]) -> str:
    """The platform the Mix Notes judge loudness for: the session's first target."""
    targets = [t for t in session["targets"] or [] if t in platform_names()]
    return targets[0] if targets else "spotify"


def _check_no_problems(store: Store, owner: str, sid: str) -> None:
    bad = [t for t in store.tracks(owner, sid) if t["problem"]]
    if bad:
        names = ", ".join(t["file"] for t in bad)
        raise InvalidParameterError(
            f"{names}: could not be read ({bad[0]['problem']}). Remove {'it' if len(bad) == 1 else 'them'} from the "
            "session (or upload a good export) and try again.",
            code="session.track_problem", files=[t["file"] for t in bad])


def _reference_path(storage: Storage, owner: str, session: dict[str, Any]) -> Path | None:
    ref = session["reference"]
    if not ref:
        return None
    return storage.folder(owner, session["id"], "reference") / ref["file"]


def _file_record(path: Path, kind: str, *, target: str | None = None, fmt: str | None = None,
                 loudness_lufs: float | None = None, true_peak_dbtp: float | None = None) -> dict[str, Any]:
    return {"name": path.name, "kind": kind, "target": target, "format": fmt, "size_bytes": path.stat().st_size,
            "loudness_lufs": media.finite_or_none(loudness_lufs) if loudness_lufs is not None else None,
            "true_peak_dbtp": media.finite_or_none(true_peak_dbtp) if true_peak_dbtp is not None else None}


def _new_version_folder(storage: Storage, owner: str, sid: str) -> tuple[str, Path]:
    vid = new_id("v")
    partial = storage.folder(owner, sid, "versions") / f".{vid}.partial"
    partial.mkdir()
    return vid, partial


def _commit_version(store: Store, storage: Storage, job: dict[str, Any], vid: str, partial: Path, kind: str,
                    files: list[dict[str, Any]], session_values: dict[str, Any] | None = None) -> int:
    owner, sid = job["owner"], job["session_id"]
    storage.commit(partial, storage.folder(owner, sid, "versions") / vid)
    with store.transaction() as db:
        row = db.execute("SELECT version_count FROM sessions WHERE id = ? AND owner = ?", (sid, owner)).fetchone()
        n = int(row["version_count"]) + 1
        store.insert("versions", {"id": vid, "session_id": sid, "owner": owner, "n": n, "kind": kind,
                                  "created_at": now_iso(), "files": files, "job_id": job["id"]}, db=db)
        store.update("sessions", sid, {"version_count": n, **(session_values or {})}, owner=owner, db=db)
    return n


# ---------------------------------------------------------------------------------------------
# prepare


#: A preparation interrupted by a restart is resumed this many times; then its tracks fail.
MAX_PREPARE_RESUMES = 2


def run_prepare(job_id: str, store: Store, storage: Storage) -> dict[str, Any]:
    """Decode-check every track, write its preview and peaks, analyse it (role, silence).

    A track that fails to decode gets ``problem`` (the engine's message) and the others go on.
    When a new track changes the session's rate or length, every preview is written again, so
    all previews keep the same length. If the job fails as a whole, every track it left
    unprepared gets the failure as its ``problem``: a track never stays "preparing" for good.
    """
    job, session = _job_context(job_id, store)
    owner, sid = job["owner"], job["session_id"]
    progress = JobProgress(store, job_id)
    result: dict[str, Any] = {"problems": []}
    try:
        if store.tracks(owner, sid):
            result = _prepare_tracks(store, storage, session, owner, progress)
        _measure_reference(store, storage, owner, sid, progress)
    except Exception as exc:
        why = storage.hide_paths(exc.message) if isinstance(exc, MixlabError) else (
            f"something went wrong on our side while preparing it (job {job_id})")
        fail_unprepared(store, owner, sid, f"could not be prepared: {why}. Remove it and upload it again.")
        raise
    return result


def fail_unprepared(store: Store, owner: str, sid: str, problem: str) -> None:
    """Give every track of the session that is neither prepared nor failed ``problem``."""
    with store.transaction() as db:
        db.execute("UPDATE tracks SET problem = ? WHERE session_id = ? AND owner = ? AND ready = 0 AND problem IS NULL",
                   (problem, sid, owner))


def resume_preparation(store: Store, submit: Any, interrupted: list[dict[str, Any]]) -> int:
    """After a restart: every session with tracks neither prepared nor failed gets a prepare
    job (``submit(owner, sid, "prepare", params)``), unless one is queued; a session whose
    preparation was already resumed :data:`MAX_PREPARE_RESUMES` times and interrupted again
    has those tracks failed, with a message the page shows. Returns how many were resumed."""
    resumes = {(j["owner"], j["session_id"]): int(j["params"].get("resumed", 0))
               for j in interrupted if j["kind"] == "prepare"}
    resumed = 0
    for row in store.query("SELECT DISTINCT owner, session_id FROM tracks WHERE ready = 0 AND problem IS NULL"):
        owner, sid = row["owner"], row["session_id"]
        if any(j["kind"] == "prepare" and j["state"] == "queued" for j in store.active_jobs(owner, sid)):
            continue
        tries = resumes.get((owner, sid), 0)
        if tries >= MAX_PREPARE_RESUMES:
            fail_unprepared(store, owner, sid, f"could not be prepared: the server was restarted while preparing "
                            f"it, {tries + 1} times. Remove it and upload it again.")
            continue
        submit(owner, sid, "prepare", {"resumed": tries + 1})
        resumed += 1
    return resumed


def _prepare_tracks(store: Store, storage: Storage, session: dict[str, Any], owner: str,
                    progress: JobProgress) -> dict[str, Any]:
    sid = session["id"]
    is_master = session["kind"] == "master"
    problems: list[dict[str, str]] = []
    for _attempt in range(3):  # a track that fails changes the session length: conform again
        try:
            stems, rows = conformed_stems(storage, store, owner, sid)
        except InvalidParameterError as exc:
            if exc.code == "session.no_tracks":
                return {"problems": problems}
            raise
        with stems:
            shape = [stems.sample_rate, stems.num_frames]
            failed = False
            preview_dir = storage.folder(owner, sid, "preview")
            peaks_dir = storage.folder(owner, sid, "peaks")
            for i, (stem, row) in enumerate(zip(stems.stems, rows)):
                progress.set("preview", 0.5 * i / len(rows), f"preparing {row['file']}", force=True)
                preview = preview_dir / f"{row['id']}.flac"
                if row["ready"] and row["preview_shape"] == shape and preview.exists():
                    continue
                try:
                    done = media.write_preview(stems, i, preview, peaks_dir / f"{row['id']}.json",
                                               write_json=storage.write_json, measure_loudness=is_master)
                except MixlabError as exc:
                    failed = True
                    message = storage.hide_paths(exc.message)
                    problems.append({"file": row["file"], "message": message})
                    store.update("tracks", row["id"], {"problem": message, "ready": False}, owner=owner)
                    continue
                store.update("tracks", row["id"], {"ready": True, "preview_shape": shape, "problem": None},
                             owner=owner)
                if is_master:
                    store.update("sessions", sid, {"loudness": {"raw_sum_lufs": None,
                                                                "mix_lufs": media.finite_or_none(done.loudness_lufs)}},
                                 owner=owner)
            if failed:
                continue
            store.update("sessions", sid, {"sample_rate": stems.sample_rate, "num_frames": stems.num_frames},
                         owner=owner)
            if not is_master:
                _analyse(store, storage, owner, sid, stems, rows, progress)
            return {"problems": problems, "sample_rate": stems.sample_rate,
                    "duration_s": round(stems.duration_s, 3)}
    return {"problems": problems}


def _analyse(store: Store, storage: Storage, owner: str, sid: str, stems: StemSession, rows: list[dict[str, Any]],
             progress: JobProgress) -> None:
    cache = AnalysisCache(storage.folder(owner, sid, "cache"))
    callback = progress.stages({"analyse": (0.5, 1.0, "analysing the tracks")})
    tracks, _defects = analyze_stems(stems, cache=cache, progress=callback, with_defects=True)
    for row, t in zip(rows, tracks):
        store.update("tracks", row["id"], {"role": t.guess.role, "role_source": t.guess.source,
                                           "role_reason": t.guess.reason, "silent": t.silent}, owner=owner)


def _measure_reference(store: Store, storage: Storage, owner: str, sid: str, progress: JobProgress) -> None:
    session = store.session(owner, sid)
    if session is None or not session["reference"] or session["reference"].get("loudness_lufs") is not None:
        return
    path = _reference_path(storage, owner, session)
    if path is None or not path.exists():
        return
    progress.set("reference", 1.0, "measuring the reference", force=True)
    loudness, _peak = media.measure_file(path)
    store.update("sessions", sid, {"reference": dict(session["reference"], loudness_lufs=media.finite_or_none(loudness))},
                 owner=owner)


# ---------------------------------------------------------------------------------------------
# mix


MIX_SPANS = {"analyse": (0.0, 0.4, "analysing the stems"), "render": (0.4, 0.9, "rendering the mix")}


def run_mix(job_id: str, store: Store, storage: Storage) -> dict[str, Any]:
    """The AI mix around the given (or current) plan's user values and locks: a new version
    with ``mix.wav`` and ``plan.json``; the plan becomes the session's plan."""
    job, session = _job_context(job_id, store)
    owner, sid = job["owner"], job["session_id"]
    if session["kind"] != "stems":
        raise InvalidParameterError("A master session has no stems to mix; render it to get masters.",
                                    code="session.not_stems")
    _check_no_problems(store, owner, sid)
    progress = JobProgress(store, job_id)
    raw = job["params"].get("plan")
    plan_in = Plan.from_dict(raw, expected_schema=MIX_SCHEMA) if raw else session_plan(storage, owner, sid)
    t0 = time.perf_counter()
    vid, partial = _new_version_folder(storage, owner, sid)
    try:
        stems, _rows = conformed_stems(storage, store, owner, sid)  # tracks exist and are readable
        stems.close()
        target = notes_target(session)
        result = mix(storage.folder(owner, sid, "originals"), partial / "mix.wav", genre=session["genre"],
                     reference=_reference_path(storage, owner, session), plan_in=plan_in,
                     cache_dir=storage.folder(owner, sid, "cache"), notes_target=target, notes_surface="web",
                     progress=progress.stages(MIX_SPANS))
        progress.set("loudness", 0.92, "measuring the raw sum", force=True)
        rate = result.plan.context["session"]["sample_rate"]
        stems, _rows = conformed_stems(storage, store, owner, sid, sample_rate=rate)
        with stems:
            raw_lufs = media.raw_sum_loudness(stems)
        storage.write_json(partial / "plan.json", plan_out(result.plan))
        measured = result.measured
        files = [
            _file_record(partial / "mix.wav", "mix", fmt="wav24", loudness_lufs=measured["integrated_lufs"],
                         true_peak_dbtp=measured["true_peak_dbtp"]),
            _file_record(partial / "plan.json", "plan"),
        ]
        loudness = {"raw_sum_lufs": media.finite_or_none(raw_lufs),
                    "mix_lufs": media.finite_or_none(measured["integrated_lufs"])}
        session_dir = storage.session_dir(owner, sid)
        storage.write_json(session_dir / "plan.json", plan_out(result.plan))
        if result.notes is not None:
            storage.write_json(session_dir / "notes.json", result.notes)
        if result.notes_session is not None:
            key = notes_store.notes_key(store, owner, sid, sample_rate=rate, genre=result.plan.get("session", "genre"),
                                        target=target)
            notes_store.save(storage, key, result.notes_session)
        n = _commit_version(store, storage, job, vid, partial, "mix", files,
                            {"has_plan": True, "loudness": loudness, "sample_rate": rate,
                             "num_frames": result.plan.context["session"]["num_frames"]})
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return {"version_id": vid, "n": n, "measured": measured, "loudness": loudness,
            "notes": result.notes["counts"] if result.notes else None,
            "timings_s": dict(result.timings_s, total=round(time.perf_counter() - t0, 3))}


# ---------------------------------------------------------------------------------------------
# render


RENDER_SPANS = {"render": (0.0, 0.4, "rendering the mix"), "analyse": (0.4, 0.5, "analysing the mix"),
                "process": (0.5, 0.7, "mastering"), "loudness": (0.7, 0.9, "setting the loudness"),
                "write": (0.9, 1.0, "writing the masters")}
MASTER_SPANS = {"analyse": (0.0, 0.2, "analysing the mix"), "process": (0.2, 0.6, "mastering"),
                "loudness": (0.6, 0.85, "setting the loudness"), "write": (0.85, 1.0, "writing the masters")}


def run_render(job_id: str, store: Store, storage: Storage) -> dict[str, Any]:
    """Render the plan (stems sessions) and master the mix for every target in every format;
    for a master session, master the uploaded mix. One new version with every file."""
    job, session = _job_context(job_id, store)
    owner, sid = job["owner"], job["session_id"]
    params = job["params"]
    targets = [get_platform(t) for t in params.get("targets") or session["targets"] or ["spotify"]]
    formats = params.get("formats") or ["wav24"]
    for fmt in formats:
        if fmt not in FORMATS:
            raise InvalidParameterError(f"unknown format '{fmt}'; choose from {', '.join(FORMATS)}",
                                        code="render.bad_format")
    progress = JobProgress(store, job_id)
    t0 = time.perf_counter()
    vid, partial = _new_version_folder(storage, owner, sid)
    files: list[dict[str, Any]] = []
    try:
        if session["kind"] == "stems":
            _check_no_problems(store, owner, sid)
            raw = params.get("plan")
            plan = Plan.from_dict(raw, expected_schema=MIX_SCHEMA) if raw else session_plan(storage, owner, sid)
            if plan is None:
                raise InvalidParameterError("There is no mix yet: run the AI mix first, then render.",
                                            code="plan.not_ready")
            stems_out = partial / "stems" if params.get("stems") else None
            # The masters come from a float copy: a mix the user pushed past full scale is clipped
            # in mix.wav (the notes say so), but mastering brings it down, and need not inherit it.
            source = partial / ".mix-float.wav"
            result = render(plan, partial / "mix.wav", stems=storage.folder(owner, sid, "originals"),
                            stems_out=stems_out, float_copy=source, progress=progress.stages(RENDER_SPANS))
            m = result.measured
            files.append(_file_record(partial / "mix.wav", "mix", fmt="wav24", loudness_lufs=m["integrated_lufs"],
                                      true_peak_dbtp=m["true_peak_dbtp"]))
            if stems_out is not None:
                _zip_folder(stems_out, partial / "stems.zip")
                shutil.rmtree(stems_out)
                files.append(_file_record(partial / "stems.zip", "stems", fmt="zip"))
            storage.write_json(partial / "plan.json", plan_out(plan))
            files.append(_file_record(partial / "plan.json", "plan"))
            spans = RENDER_SPANS
        else:
            mixes = [t for t in store.tracks(owner, sid) if not t["problem"]]
            if not mixes:
                raise InvalidParameterError("Upload the mix to master first.", code="session.no_tracks")
            source = storage.folder(owner, sid, "originals") / mixes[-1]["file"]
            spans = MASTER_SPANS
        jobs = [TargetJob(target, tuple(OutputSpec(partial / f"{target.name}-{fmt}{FORMATS[fmt][0]}", FORMATS[fmt][1])
                                        for fmt in formats)) for target in targets]
        results = master(source, jobs, reference_path=_reference_path(storage, owner, session),
                         genre=session["genre"], progress=progress.stages(spans))
        if source.parent == partial:
            source.unlink()
        for r in results:
            for fmt, out in zip(formats, r.outputs):
                files.append(_file_record(Path(out["file"]), "master", target=r.target.name, fmt=fmt,
                                          loudness_lufs=out["integrated_lufs"], true_peak_dbtp=out["true_peak_dbtp"]))
        storage.write_json(partial / "master-plans.json", {r.target.name: without_paths(r.plan.to_dict()) for r in results})
        files.append(_file_record(partial / "master-plans.json", "plan"))
        n = _commit_version(store, storage, job, vid, partial, "render", files)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return {"version_id": vid, "n": n, "files": [f["name"] for f in files],
            "timings_s": {"total": round(time.perf_counter() - t0, 3)}}


def _zip_folder(folder: Path, target: Path) -> None:
    """The processed stems in one ZIP (stored, not deflated: audio barely compresses, and
    storing is ten times faster)."""
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    partial.replace(target)


TASKS = {"prepare": run_prepare, "mix": run_mix, "render": run_render}

__all__ = ["FORMATS", "MAX_PREPARE_RESUMES", "TASKS", "conformed_stems", "fail_unprepared", "notes_target",
           "resume_preparation", "run_mix", "run_prepare", "run_render", "session_plan"]
