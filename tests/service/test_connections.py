"""Connections on a real server: a 500 must not cost the client its keep-alive connection."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from mixlab.service import Settings, create_app
from tests.service.live import live_server


def test_connection_survives_a_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: Starlette's ServerErrorMiddleware re-raised after sending the 500, and
    uvicorn closed the connection, so the next request on it failed (7 of 12 trials)."""
    app = create_app(Settings(data_dir=tmp_path / "data"))

    def broken(owner: str) -> list:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.services.store, "sessions", broken)
    with live_server(app) as (host, port):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("GET", "/api/options")
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            sock = conn.sock
            for _ in range(12):
                conn.request("GET", "/api/sessions")
                r = conn.getresponse()
                body = json.loads(r.read())
                assert r.status == 500 and body["error"]["code"] == "server.error"
                assert "a bug" not in json.dumps(body)  # no traceback or internal text
                conn.request("GET", "/api/options")
                r = conn.getresponse()
                r.read()
                assert r.status == 200
                assert conn.sock is sock  # the same connection, not a new one
        finally:
            conn.close()


def test_connection_survives_a_refused_upload_with_its_body_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload refused before its body is read (409 while a mix runs) and a POST that fails
    with a 500: the client's next request on the same connection is answered."""
    app = create_app(Settings(data_dir=tmp_path / "data"))
    services = app.state.services

    def broken(owner: str, name: str, kind: str) -> dict:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services.store, "create_session", broken)
    sid = "s_fixed01"
    services.store.insert("sessions", {"id": sid, "owner": "local", "name": "x", "kind": "stems", "created_at": "now",
                                       "targets": ["spotify"]})
    boundary = "b0undary"
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Kick.wav\"\r\n"
               "Content-Type: audio/wav\r\n\r\n").encode() + bytes(300_000) + f"\r\n--{boundary}--\r\n".encode()
    with live_server(app) as (host, port):
        # A mix running (inserted after the start, which fails jobs a restart interrupted).
        services.store.insert("jobs", {"id": "j_busy0001", "session_id": sid, "owner": "local", "kind": "mix",
                                       "state": "running", "params": {}, "created_at": "now"})
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            for _ in range(6):
                conn.request("POST", f"/api/sessions/{sid}/files", body=payload,
                             headers={"content-type": f"multipart/form-data; boundary={boundary}"})
                r = conn.getresponse()
                assert r.status == 409 and json.loads(r.read())["error"]["code"] == "session.busy"
                sock = conn.sock
                conn.request("POST", "/api/sessions", body=json.dumps({"name": "x"}),
                             headers={"content-type": "application/json"})
                r = conn.getresponse()
                assert r.status == 500 and json.loads(r.read())["error"]["code"] == "server.error"
                conn.request("GET", "/api/options")
                r = conn.getresponse()
                r.read()
                assert r.status == 200 and conn.sock is sock
        finally:
            conn.close()
