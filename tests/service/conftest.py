"""Fixtures for the API tests: synthesised stems, an app on a temporary data folder, and
helpers to wait for jobs. Everything runs in-process (Starlette's TestClient); no server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from mixlab.service import Settings, create_app
from tests.fixtures.multitrack import render_parts

SAMPLE_RATE = 44100
DURATION_S = 4.0


def write_stems(folder: Path) -> dict[str, Path]:
    """The example session's six stems, 4 s; "Pad" at 48 kHz and "HiHat" 1 s shorter, so the
    previews have to be conformed (resampled, padded) to line up."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, audio in render_parts(SAMPLE_RATE, DURATION_S, seed=0).items():
        rate = SAMPLE_RATE
        if name == "Pad":
            import soxr

            audio = soxr.resample(audio.T, SAMPLE_RATE, 48000).T.astype(np.float32)
            rate = 48000
        if name == "HiHat":
            audio = audio[:, : int(3.0 * SAMPLE_RATE)]
        path = folder / f"{name}.wav"
        sf.write(path, audio.T, rate, subtype="PCM_24")
        paths[name] = path
    return paths


@pytest.fixture(scope="session")
def stems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_stems(tmp_path_factory.mktemp("stems"))


def make_client(data_dir: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir, **settings)))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path / "data") as c:
        yield c


def wait_job(client: TestClient, job_id: str, *, timeout_s: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def upload(client: TestClient, sid: str, path: Path, *, name: str | None = None, what: str = "files") -> Any:
    return client.post(f"/api/sessions/{sid}/{what}", files={"file": (name or path.name, path.read_bytes())})


def new_session(client: TestClient, name: str = "Song", kind: str = "stems") -> str:
    r = client.post("/api/sessions", json={"name": name, "kind": kind})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def session_folder(client: TestClient, sid: str) -> Path:
    services = client.app.state.services  # type: ignore[attr-defined]
    return services.storage.session_dir("local", sid)


def mixed_session(client: TestClient, stems: dict[str, Path], names: tuple[str, ...] = ("Kick", "Bass")) -> tuple[str, dict[str, Any]]:
    """A session of a few stems, prepared and mixed by the AI: its id and its plan."""
    sid = new_session(client)
    for name in names:
        assert upload(client, sid, stems[name]).status_code == 201
    wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
    job = wait_job(client, client.post(f"/api/sessions/{sid}/mix", json={}).json()["id"])
    assert job["state"] == "done", job
    return sid, client.get(f"/api/sessions/{sid}/plan").json()


def post_json(client: TestClient, method: str, url: str, body: Any) -> Any:
    """Send ``body`` as Python's json writes it (NaN and Infinity included, as a careless
    client would), not as httpx would (it refuses them)."""
    return client.request(method, url, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
