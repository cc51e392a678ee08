"""Uploads: stems (one file or a ZIP per request), a master session's mix, the reference.

The handler only receives (streamed, limit enforced while receiving); the checks run in a
worker thread (a ZIP is unpacked there) and the decoding, previews and analysis in the
``prepare`` job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mixlab.service import uploads, views
from mixlab.service.deps import Services, ServicesDep, UserDep, WorkingSessionDep
from mixlab.service.errors import ApiError
from mixlab.service.jobs.runner import EXCLUSIVE_KINDS
from mixlab.service.jsonbody import StrictJSONRoute

router = APIRouter(prefix="/api/sessions/{sid}", tags=["files"], route_class=StrictJSONRoute)


def _refuse_while_mixing(services: Services, user: str, sid: str) -> None:
    busy = [j for j in services.store.active_jobs(user, sid) if j["kind"] in EXCLUSIVE_KINDS]
    if busy:
        raise ApiError(409, "session.busy", f"A {busy[0]['kind']} job is running on this session; upload again "
                       "when it has finished.", job_id=busy[0]["id"])


async def _receive(request: Request, services: Services, user: str, sid: str) -> tuple[uploads.ReceivedFile, Path]:
    work = services.storage.temp_dir(user, sid, "upload-")
    try:
        received = await uploads.receive_file(request, work, limit=services.settings.max_upload_bytes,
                                              stop=lambda: services.guard.is_deleting(user, sid))
    except BaseException:
        uploads.discard(work)
        raise
    return received, work


@router.post("/files", status_code=201)
async def upload_file(request: Request, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    sid = session["id"]
    await run_in_threadpool(_refuse_while_mixing, services, user, sid)
    received, work = await _receive(request, services, user, sid)
    try:
        is_master = session["kind"] == "master"
        checked, ignored = await run_in_threadpool(
            uploads.check_upload, received, work, allow_zip=not is_master, max_stems=services.settings.max_stems,
            max_total_bytes=services.settings.unpacked_limit)
        if not checked:
            raise ApiError(400, "upload.no_audio", f"{received.name}: holds no audio files.")
        rows = await run_in_threadpool(uploads.keep_files, services, user, sid, checked, replace=is_master,
                                       kind=session["kind"])
    finally:
        uploads.discard(work)
    await run_in_threadpool(services.runner.submit, user, sid, "prepare")
    return {"tracks": [views.track_json(r | {"ready": 0, "role": None, "role_source": None, "role_reason": None,
                                             "silent": 0, "problem": None}) for r in rows],
            "ignored": ignored}


@router.post("/reference")
async def upload_reference(request: Request, session: WorkingSessionDep, user: UserDep,
                           services: ServicesDep) -> dict[str, Any]:
    sid = session["id"]
    await run_in_threadpool(_refuse_while_mixing, services, user, sid)
    received, work = await _receive(request, services, user, sid)
    try:
        checked, _ = await run_in_threadpool(uploads.check_upload, received, work, allow_zip=False, max_stems=1,
                                             max_total_bytes=1)
        await run_in_threadpool(_keep_reference, services, user, session, checked[0])
    finally:
        uploads.discard(work)
    await run_in_threadpool(services.runner.submit, user, sid, "prepare")
    return await run_in_threadpool(services.session_document, user, sid)


def _keep_reference(services: Services, user: str, session: dict[str, Any], checked: uploads.CheckedFile) -> None:
    folder = services.storage.folder(user, session["id"], "reference")
    for old in folder.iterdir():
        services.storage.remove(old)
    services.storage.commit(checked.path, folder / checked.file_name)
    services.store.update("sessions", session["id"], {"reference": {
        "name": checked.file_name, "file": checked.file_name, "duration_s": checked.duration_s,
        "sample_rate": checked.sample_rate, "channels": checked.channels, "loudness_lufs": None}}, owner=user)


@router.delete("/reference")
def delete_reference(session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    _refuse_while_mixing(services, user, session["id"])
    services.storage.remove(services.storage.folder(user, session["id"], "reference"))
    services.store.update("sessions", session["id"], {"reference": None}, owner=user)
    return services.session_document(user, session["id"])
