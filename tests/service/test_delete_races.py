"""Deleting a session is serialised with the work on it: an upload or a mix racing the delete
gets a clean answer (never a 500), nothing the user was told was accepted disappears, and no
folder is left behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import new_session, session_folder, upload, wait_job

TRIALS = 8


def _race(first: Any, second: Any, delay_s: float) -> tuple[Any, Any]:
    """Run ``first()`` and, ``delay_s`` later, ``second()`` on two threads; their answers."""
    out: list[Any] = [None, None]
    start = threading.Barrier(2)

    def run(k: int, fn: Any, wait_s: float) -> None:
        start.wait(timeout=10)
        time.sleep(wait_s)
        out[k] = fn()

    threads = [threading.Thread(target=run, args=(0, first, 0.0), daemon=True),
               threading.Thread(target=run, args=(1, second, delay_s), daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    return out[0], out[1]


def _settle(client: TestClient) -> None:
    assert client.app.state.services.runner.wait_idle(60)  # type: ignore[attr-defined]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_upload_racing_a_delete(client: TestClient, stems: dict[str, Path], trial: int) -> None:
    sid = new_session(client)
    folder = session_folder(client, sid)
    up, gone = _race(lambda: upload(client, sid, stems["Kick"]), lambda: client.delete(f"/api/sessions/{sid}"),
                     delay_s=0.004 * trial)
    _settle(client)
    assert up.status_code in (201, 404), up.text
    assert gone.status_code in (204, 409), gone.text
    if gone.status_code == 204:
        assert client.get(f"/api/sessions/{sid}").status_code == 404
        assert not folder.exists(), sorted(str(p) for p in folder.rglob("*"))  # no orphan folder
    else:
        tracks = client.get(f"/api/sessions/{sid}").json()["tracks"]
        assert len(tracks) == 1 and (folder / "originals" / tracks[0]["file"]).is_file()
        assert client.delete(f"/api/sessions/{sid}").status_code == 204
        assert not folder.exists()


@pytest.mark.parametrize("trial", range(TRIALS))
def test_mix_racing_a_delete_is_never_lost(client: TestClient, stems: dict[str, Path], trial: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sid = new_session(client)
    upload(client, sid, stems["Kick"])
    wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
    runner = client.app.state.services.runner  # type: ignore[attr-defined]

    def slow_mix(job_id: str, store: Any, storage: Any) -> dict[str, Any]:
        time.sleep(0.5)
        return {}

    runner.functions["mix"] = slow_mix
    store = client.app.state.services.store  # type: ignore[attr-defined]
    delete_rows = store.delete_session

    def slow_delete(owner: str, session_id: str) -> None:
        time.sleep(0.05)  # widen the window between the delete's checks and its removal
        delete_rows(owner, session_id)

    monkeypatch.setattr(store, "delete_session", slow_delete)
    folder = session_folder(client, sid)
    gone, mix = _race(lambda: client.delete(f"/api/sessions/{sid}"),
                      lambda: client.post(f"/api/sessions/{sid}/mix", json={}), delay_s=0.006 * trial)
    assert mix.status_code in (202, 404), mix.text
    assert gone.status_code in (204, 409), gone.text
    # Exactly one wins: an accepted mix is never deleted under the user, and a deleted session takes no mix.
    assert (mix.status_code == 202) != (gone.status_code == 204), (mix.text, gone.status_code)
    if mix.status_code == 202:
        assert wait_job(client, mix.json()["id"])["state"] == "done"
        assert gone.json()["error"]["code"] == "session.busy"
    else:
        _settle(client)
        assert not folder.exists()
