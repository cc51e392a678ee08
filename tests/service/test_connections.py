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
