"""A track is never left "preparing" for good: a restart resumes its preparation (or, after
repeated interruptions, fails it with a message the page shows), and a preparation that fails
gives its tracks the failure."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mixlab.service.db import Store, new_id, now_iso
from mixlab.service.jobs import tasks
from tests.service.conftest import make_client, new_session, upload, wait_job


def _prepared_session(data: Path, stems: dict[str, Path]) -> tuple[str, str]:
    with make_client(data) as client:
        sid = new_session(client)
        r = upload(client, sid, stems["Kick"])
        tid = r.json()["tracks"][0]["id"]
        assert wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])["state"] == "done"
    return sid, tid


def _crash_while_preparing(data: Path, sid: str, params: dict[str, Any] | None = None) -> None:
    """What a restart in the middle of a prepare leaves: the track not ready, its job 'running'."""
    store = Store(data / "mixlab.db")
    with store.transaction() as db:
        db.execute("UPDATE tracks SET ready = 0, preview_shape = NULL, role = NULL WHERE session_id = ?", (sid,))
    store.insert("jobs", {"id": new_id("j"), "session_id": sid, "owner": "local", "kind": "prepare",
                          "state": "running", "stage": "preview", "params": params or {}, "created_at": now_iso()})
    store.close()


def _track_when_settled(client: TestClient, sid: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        track = client.get(f"/api/sessions/{sid}").json()["tracks"][0]
        if track["ready"] or track["problem"]:
            return track
        time.sleep(0.05)
    raise AssertionError(f"the track is still preparing after {timeout_s} s")


def test_preparation_interrupted_by_a_restart_resumes(tmp_path: Path, stems: dict[str, Path]) -> None:
    sid, _tid = _prepared_session(tmp_path / "data", stems)
    _crash_while_preparing(tmp_path / "data", sid)
    with make_client(tmp_path / "data") as client:
        job = client.get(f"/api/sessions/{sid}").json()["job"]
        assert job["kind"] == "prepare" and job["state"] in ("queued", "running")  # a new one, resumed
        assert wait_job(client, job["id"], timeout_s=30)["state"] == "done"
        track = client.get(f"/api/sessions/{sid}").json()["tracks"][0]
        assert track["ready"] and track["problem"] is None and track["role"] == "kick"


def test_a_track_left_without_any_job_is_prepared_after_a_restart(tmp_path: Path, stems: dict[str, Path]) -> None:
    """A crash between keeping the upload and queueing its prepare leaves no job at all."""
    sid, _tid = _prepared_session(tmp_path / "data", stems)
    store = Store(tmp_path / "data" / "mixlab.db")
    with store.transaction() as db:
        db.execute("UPDATE tracks SET ready = 0, preview_shape = NULL WHERE session_id = ?", (sid,))
        db.execute("DELETE FROM jobs WHERE session_id = ?", (sid,))
        db.execute("UPDATE sessions SET last_job = NULL WHERE id = ?", (sid,))
    store.close()
    with make_client(tmp_path / "data") as client:
        assert _track_when_settled(client, sid, timeout_s=30)["ready"]


def test_repeatedly_interrupted_preparation_fails_visibly(tmp_path: Path, stems: dict[str, Path]) -> None:
    sid, _tid = _prepared_session(tmp_path / "data", stems)
    _crash_while_preparing(tmp_path / "data", sid, {"resumed": tasks.MAX_PREPARE_RESUMES})
    with make_client(tmp_path / "data") as client:
        track = _track_when_settled(client, sid, timeout_s=10)
        assert not track["ready"] and "restarted" in track["problem"] and "upload it again" in track["problem"]
        assert client.get(f"/api/sessions/{sid}").json()["state"] == "ready"  # nothing is left waiting
        r = client.post(f"/api/sessions/{sid}/mix", json={})
        job = wait_job(client, r.json()["id"])
        assert job["state"] == "failed" and "Kick.wav" in job["error"]["message"]


def test_a_failed_preparation_gives_its_tracks_the_failure(client: TestClient, stems: dict[str, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tasks, "_prepare_tracks", broken)
    sid = new_session(client)
    upload(client, sid, stems["Bass"])
    job = wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
    assert job["state"] == "failed"
    track = client.get(f"/api/sessions/{sid}").json()["tracks"][0]
    assert not track["ready"] and track["problem"].startswith("could not be prepared")
    assert "disk on fire" not in track["problem"]  # our fault: no internal text, the job id instead
    assert job["id"] in track["problem"]
