"""Idle event streams cost the API nothing: they hold no thread, so many open streams leave
the latency of other requests low; each user may hold a bounded number; quiet streams send
keep-alive comments. On a real uvicorn on 127.0.0.1 (the in-process client cannot show it)."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mixlab.service import Settings, create_app
from mixlab.service import events as events_module
from mixlab.service.db import new_id, now_iso
from tests.service.live import live_server

STREAMS = 300


def _open_stream(host: str, port: int, path: str) -> tuple[socket.socket, bytes]:
    """A raw connection with the stream's request sent and its status line read."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


@contextmanager
def _streams(host: str, port: int, path: str, n: int) -> Iterator[list[tuple[socket.socket, bytes]]]:
    opened: list[tuple[socket.socket, bytes]] = []
    try:
        for _ in range(n):
            opened.append(_open_stream(host, port, path))
        yield opened
    finally:
        for sock, _ in opened:
            sock.close()


def _latency_s(host: str, port: int, path: str, n: int = 20) -> float:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            times.append(time.perf_counter() - t0)
    finally:
        conn.close()
    return statistics.median(times)


def _session(host: str, port: int) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/api/sessions", body=json.dumps({"name": "streams"}), headers={"content-type": "application/json"})
    sid = json.loads(conn.getresponse().read())["id"]
    conn.close()
    return sid


def test_idle_streams_do_not_slow_the_api(tmp_path: Path) -> None:
    """Regression: 100 idle session streams raised API latency from 9 ms to 2.3 s, 300 to
    9.6 s (each stream polled its session's jobs in the request thread pool ten times a
    second; here 300 of them made it about 1 s)."""
    app = create_app(Settings(data_dir=tmp_path / "data", max_event_streams=STREAMS + 10))
    store = app.state.services.store
    with live_server(app) as (host, port):
        sid = _session(host, port)
        for _ in range(20):  # a session with a history of jobs, as a real one has
            store.insert("jobs", {"id": new_id("j"), "session_id": sid, "owner": "local", "kind": "mix",
                                  "state": "done", "params": {"plan": {"values": list(range(200))}},
                                  "result": {"measured": {"integrated_lufs": -14.0}}, "created_at": now_iso()})
        quiet = _latency_s(host, port, f"/api/sessions/{sid}")
        with _streams(host, port, f"/api/sessions/{sid}/events", STREAMS) as opened:
            assert all(head.startswith(b"HTTP/1.1 200") for _, head in opened)
            time.sleep(0.5)
            busy = _latency_s(host, port, f"/api/sessions/{sid}", n=10)
        print(f"\nGET latency: {quiet * 1000:.1f} ms quiet, {busy * 1000:.1f} ms with {STREAMS} idle streams")
        assert busy < max(0.1, 5 * quiet)


def test_streams_per_user_are_capped_and_given_back(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", max_event_streams=4))
    with live_server(app) as (host, port):
        sid = _session(host, port)
        path = f"/api/sessions/{sid}/events"
        with _streams(host, port, path, 4) as opened:
            assert all(head.startswith(b"HTTP/1.1 200") for _, head in opened)
            sock, head = _open_stream(host, port, path)
            assert head.startswith(b"HTTP/1.1 429")
            headers, body = head.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in headers.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += sock.recv(4096)
            sock.close()
            error = json.loads(body)["error"]
            assert error["code"] == "events.too_many" and "close other" in error["message"]
        deadline = time.monotonic() + 10  # closed streams give their place back
        while True:
            sock, head = _open_stream(host, port, path)
            sock.close()
            if head.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert head.startswith(b"HTTP/1.1 200")


def test_quiet_streams_send_keep_alive_comments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "KEEPALIVE_S", 0.2)
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with live_server(app) as (host, port):
        sid = _session(host, port)
        with _streams(host, port, f"/api/sessions/{sid}/events", 1) as [(sock, head)]:
            received = head
            deadline = time.monotonic() + 5
            while received.count(b": keep-alive") < 2 and time.monotonic() < deadline:
                received += sock.recv(4096)
            assert received.count(b": keep-alive") >= 2
