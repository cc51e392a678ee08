"""Server-sent events: a job's stream carries its progress and ends with its final state."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mixlab.service import events as events_module
from mixlab.service.db import Store, now_iso

from tests.service.conftest import new_session, upload, wait_job


def _events(client: TestClient, url: str) -> list[dict]:
    out = []
    with client.stream("GET", url) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[len("data: "):]))
    return out


def test_job_events_rise_to_done_and_the_stream_closes(client: TestClient, stems: dict[str, Path]) -> None:
    sid = new_session(client)
    for p in stems.values():
        upload(client, sid, p)
    wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
    job = client.post(f"/api/sessions/{sid}/mix", json={}).json()
    events = _events(client, f"/api/jobs/{job['id']}/events")
    assert events[-1]["state"] == "done" and events[-1]["fraction"] == 1.0 and events[-1]["result"]["version_id"]
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions)
    assert len({e["fraction"] for e in events}) >= 3  # progress in between, not only start and end
    assert all(e["id"] == job["id"] and e["kind"] == "mix" for e in events)
    # A stream opened after the end sends the final state once and closes.
    assert [e["state"] for e in _events(client, f"/api/jobs/{job['id']}/events")] == ["done"]


def test_failed_job_ends_the_stream_with_its_error(client: TestClient) -> None:
    sid = new_session(client)
    job = client.post(f"/api/sessions/{sid}/mix", json={}).json()  # no tracks yet
    events = _events(client, f"/api/jobs/{job['id']}/events")
    assert events[-1]["state"] == "failed"
    assert events[-1]["error"]["code"] == "session.no_tracks" and "Upload" in events[-1]["error"]["message"]


def test_unknown_job_is_404(client: TestClient) -> None:
    r = client.get("/api/jobs/j_nothing/events")
    assert r.status_code == 404 and r.json()["error"]["code"] == "http.not_found"


def test_session_stream_follows_its_jobs_and_ends_when_the_session_is_deleted(
        client: TestClient, stems: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "KEEPALIVE_S", 0.2)
    sid = new_session(client)
    upload(client, sid, stems["Kick"])
    job = wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
    seen: list[dict] = []

    later: list[str] = []

    def delete_soon() -> None:
        time.sleep(0.3)
        upload(client, sid, stems["Bass"])  # a new job while the stream is open
        later.append(wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])["id"])
        time.sleep(0.3)
        assert client.delete(f"/api/sessions/{sid}").status_code == 204

    def follow() -> None:
        with client.stream("GET", f"/api/sessions/{sid}/events") as r:  # ends once the session is gone
            for line in r.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[len("data: "):]))

    threads = [threading.Thread(target=f, daemon=True) for f in (follow, delete_soon)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert (seen[0]["id"], seen[0]["state"]) == (job["id"], "done")  # the latest job first, once
    assert all(e["id"] == later[0] for e in seen[1:]) and seen[-1]["state"] == "done"
    assert [e["fraction"] for e in seen[1:]] == sorted(e["fraction"] for e in seen[1:])


def test_the_shared_poll_sees_a_job_that_starts_and_ends_between_two_polls(tmp_path: Path) -> None:
    """Also after a session's jobs were deleted (SQLite gives their row ids again)."""
    store = Store(tmp_path / "mixlab.db")
    store.insert("sessions", {"id": "s_a", "owner": "local", "name": "a", "kind": "stems", "created_at": now_iso()})
    watch = events_module.JobWatch(store)

    def job(jid: str, state: str) -> None:
        store.insert("jobs", {"id": jid, "session_id": "s_a", "owner": "local", "kind": "prepare", "state": state,
                              "params": {}, "created_at": now_iso()})

    job("j_old1", "done")
    job("j_old2", "running")
    assert sorted(r["id"] for r in watch._changes()) == ["j_old1", "j_old2"]  # the first poll reports all it reads
    assert watch._changes() == []
    store.update_job("j_old2", {"state": "done"})
    with store.transaction() as db:
        db.execute("DELETE FROM jobs WHERE id = 'j_old2'")  # the highest row id goes
    job("j_new", "queued")
    store.update_job("j_new", {"state": "done"})  # and the new job ends before the next poll
    assert [r["id"] for r in watch._changes()] == ["j_new"]
    assert watch._changes() == []  # reported once


def test_a_change_before_the_first_poll_reaches_the_stream(tmp_path: Path) -> None:
    """Regression: the shared poll's first reading was taken as a baseline and not reported, so
    a job that failed between a stream's first read and that reading was never sent, and
    the stream waited for good (seen as a hung test under load)."""
    store = Store(tmp_path / "mixlab.db")
    store.insert("sessions", {"id": "s_a", "owner": "local", "name": "a", "kind": "stems", "created_at": now_iso()})
    store.insert("jobs", {"id": "j_1", "session_id": "s_a", "owner": "local", "kind": "mix", "state": "queued",
                          "params": {}, "created_at": now_iso()})
    watch = events_module.JobWatch(store, poll_s=0.01)
    updated = threading.Event()
    polls = watch._changes

    def first_poll_after_the_change() -> list[dict]:
        updated.wait(5)
        return polls()

    def first() -> list[dict]:
        row = store.one("SELECT rowid AS _rowid, * FROM jobs WHERE id = 'j_1'")
        store.update_job("j_1", {"state": "failed", "error": {"code": "x", "message": "failed"}})
        updated.set()
        return [row]

    watch._changes = first_poll_after_the_change  # type: ignore[method-assign]

    async def follow() -> list[str]:
        stream = events_module.job_stream(watch, first, lambda r: r["id"] == "j_1", until_final="j_1")
        return [json.loads(e[len("data: "):])["state"] async for e in stream if e.startswith("data: ")]

    # In a thread of its own: the browser tests' playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        states = pool.submit(asyncio.run, asyncio.wait_for(follow(), timeout=5)).result()
    assert states == ["queued", "failed"]
