"""Track media (peaks, the conformed preview) and track removal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from mixlab.service import media, uploads
from mixlab.service.deps import ServicesDep, UserDep, WorkingSessionDep
from mixlab.service.errors import ApiError, not_found
from mixlab.service.jsonbody import StrictJSONRoute

router = APIRouter(prefix="/api/sessions/{sid}/tracks", tags=["tracks"], route_class=StrictJSONRoute)


def _track(services: Any, user: str, sid: str, tid: str) -> dict[str, Any]:
    track = services.store.track(user, sid, tid)
    if track is None:
        raise not_found("This track", track_id=tid)
    return track


def _not_ready(track: dict[str, Any]) -> ApiError:
    if track["problem"]:
        return ApiError(409, "track.problem", f"{track['file']}: {track['problem']}", file=track["file"])
    return ApiError(409, "track.not_ready", f"{track['file']}: still being prepared; try again in a moment.",
                    file=track["file"])


@router.get("/{tid}/peaks")
def track_peaks(tid: str, session: WorkingSessionDep, user: UserDep, services: ServicesDep,
                points: Annotated[int, Query(ge=1, le=20000)] = 1200) -> dict[str, Any]:
    track = _track(services, user, session["id"], tid)
    path = services.storage.folder(user, session["id"], "peaks") / f"{tid}.json"
    if not track["ready"] or not path.exists():
        raise _not_ready(track)
    return media.reduce_peaks(services.storage.read_json(path), points)


@router.get("/{tid}/audio")
def track_audio(tid: str, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> FileResponse:
    """The preview (FLAC 16-bit, conformed). Range requests are answered (206) by Starlette."""
    track = _track(services, user, session["id"], tid)
    path = services.storage.folder(user, session["id"], "preview") / f"{tid}.flac"
    if not track["ready"] or not path.exists():
        raise _not_ready(track)
    return FileResponse(path, media_type="audio/flac", filename=f"{track['name']}.flac", content_disposition_type="inline")


@router.delete("/{tid}")
def delete_track(tid: str, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    sid = session["id"]
    track = _track(services, user, sid, tid)
    if services.store.active_jobs(user, sid):
        raise ApiError(409, "session.busy", "A job is running on this session; remove the track when it has finished.")
    with services.upload_lock:
        with services.store.transaction() as db:
            db.execute("DELETE FROM tracks WHERE id = ? AND session_id = ? AND owner = ?", (tid, sid, user))
            db.execute("DELETE FROM files WHERE track_id = ? AND session_id = ? AND owner = ?", (tid, sid, user))
        uploads.remove_track_files(services.storage, user, sid, track)
    if services.store.tracks(user, sid):
        services.runner.submit(user, sid, "prepare")  # the session may be shorter now: conform again
    else:
        services.store.update("sessions", sid, {"sample_rate": None, "num_frames": None}, owner=user)
    return services.session_document(user, sid)
