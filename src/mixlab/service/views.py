"""Database rows shaped as the API's JSON objects (docs/API.md: Session, Track, Job, Version).

Storage records and API objects are kept apart: the database may hold more (paths, revisions,
parameters), and the API names things as the page expects them.
"""

from __future__ import annotations

from typing import Any

from mixlab.engine.mix import track_section
from mixlab.engine.plan import USER, Plan


def job_json(job: dict[str, Any] | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job["id"],
        "session_id": job["session_id"],
        "kind": job["kind"],
        "state": job["state"],
        "stage": job["stage"],
        "fraction": round(float(job["fraction"]), 4),
        "message": job["message"],
        "error": job["error"],
        "result": job["result"],
        "created_at": job["created_at"],
        "finished_at": job["finished_at"],
    }


def track_json(track: dict[str, Any], plan: Plan | None = None) -> dict[str, Any]:
    role, source, reason = track["role"], track["role_source"], track["role_reason"]
    if plan is not None:
        # A role the user chose lives in the plan (the page edits the plan), and wins.
        p = plan.param(track_section(track["name"]), "role")
        if p is not None and p.source == USER:
            role, source, reason = p.value, "user", p.reason or "set by the user"
    return {
        "id": track["id"],
        "name": track["name"],
        "file": track["file"],
        "channels": track["channels"],
        "sample_rate": track["sample_rate"],
        "duration_s": track["duration_s"],
        "size_bytes": track["size_bytes"],
        "ready": bool(track["ready"]),
        "role": role,
        "role_source": source,
        "role_reason": reason,
        "silent": bool(track["silent"]),
        "problem": track["problem"],
    }


def session_state(session: dict[str, Any], tracks: list[dict[str, Any]]) -> str:
    if not tracks:
        return "empty"
    if session["has_plan"]:
        return "mixed"
    if all(t["ready"] or t["problem"] for t in tracks):
        return "ready"
    return "uploading"


def _session_head(session: dict[str, Any]) -> dict[str, Any]:
    return {k: session[k] for k in ("id", "name", "kind", "created_at", "genre")}


def session_json(session: dict[str, Any], tracks: list[dict[str, Any]], job: dict[str, Any] | None,
                 plan: Plan | None = None) -> dict[str, Any]:
    rate, frames = session["sample_rate"], session["num_frames"]
    return {
        **_session_head(session),
        "targets": session["targets"],
        "state": session_state(session, tracks),
        "sample_rate": rate,
        "duration_s": round(frames / rate, 3) if rate and frames is not None else None,
        "tracks": [track_json(t, plan) for t in tracks],
        "reference": session["reference"],
        "loudness": session["loudness"],
        "job": job_json(job),
        "has_plan": bool(session["has_plan"]),
    }


def session_summary_json(session: dict[str, Any], num_tracks: int) -> dict[str, Any]:
    return {
        **_session_head(session),
        "num_tracks": num_tracks,
        "has_plan": bool(session["has_plan"]),
        "versions": session["version_count"],
    }


def version_json(version: dict[str, Any]) -> dict[str, Any]:
    base = f"/api/sessions/{version['session_id']}/versions/{version['id']}/files"
    files = [dict(f, url=f"{base}/{f['name']}") for f in version["files"]]
    plan_file = next((f for f in files if f["kind"] == "plan"), None)
    return {
        "id": version["id"],
        "n": version["n"],
        "created_at": version["created_at"],
        "kind": version["kind"],
        "plan_url": plan_file["url"] if plan_file else None,
        "files": files,
    }


__all__ = ["job_json", "session_json", "session_state", "session_summary_json", "track_json", "version_json"]
