"""Measurements of the service, run by hand (not a test: timings depend on the machine).

    .venv/bin/python -m tests.service.measure_service [--upload-mb 200] [--tracks 32]

1. **Upload memory**: starts ``mixlab serve`` in a subprocess, streams an upload of
   ``--upload-mb`` MB to it (a WAV header and silence, sent chunked, never held in memory
   here), and reads the server's peak resident memory (VmHWM) before and after.
2. **Notes request time**: a session of ``--tracks`` synthesised stems (30 s each) is uploaded,
   prepared and mixed in-process; then ``POST /notes`` for a moved fader is timed end to end
   (median and worst of 20), against the 200 ms budget.
3. **Mix job time** for the test session (six 4-second stems).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _wav_stream(total_bytes: int, boundary: str):
    """A multipart body with a stereo 16-bit WAV of silence, generated chunk by chunk."""
    data_bytes = total_bytes - 44
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Long.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    wav = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 44100,
                                                                                   44100 * 4, 4, 16)
    wav += b"data" + struct.pack("<I", data_bytes)
    yield head + wav
    chunk = bytes(1 << 20)
    left = data_bytes
    while left > 0:
        n = min(left, len(chunk))
        yield chunk[:n]
        left -= n
    yield f"\r\n--{boundary}--\r\n".encode()


def measure_upload(upload_mb: int) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="mixlab-measure-"))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mixlab.cli.main", "serve", "--port", str(port), "--data",
                             str(data)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/api/options", timeout=1.0)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        sid = httpx.post(base + "/api/sessions", json={"name": "memory"}).json()["id"]
        before = _vm(proc.pid, "VmHWM")
        boundary = "measureboundary"
        total = upload_mb * 2**20
        t0 = time.perf_counter()
        r = httpx.post(f"{base}/api/sessions/{sid}/files", content=_wav_stream(total, boundary), timeout=600,
                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        elapsed = time.perf_counter() - t0
        after = _vm(proc.pid, "VmHWM")
        assert r.status_code == 201, r.text
        return {"upload_mb": upload_mb, "seconds": round(elapsed, 2), "rss_peak_before_mb": round(before / 2**20, 1),
                "rss_peak_after_mb": round(after / 2**20, 1), "growth_mb": round((after - before) / 2**20, 1)}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["rm", "-rf", str(data)], check=False)


def _many_stems(folder: Path, n: int, duration_s: float, sample_rate: int = 44100) -> list[Path]:
    from tests.fixtures.multitrack import render_parts

    parts = render_parts(sample_rate, duration_s, seed=1)
    names = list(parts)
    out = []
    rng = np.random.default_rng(5)
    for k in range(n):
        base = names[k % len(names)]
        audio = parts[base] * np.float32(10 ** (rng.uniform(-6, 0) / 20))
        path = folder / f"{base} {k + 1}.wav"
        sf.write(path, audio.T, sample_rate, subtype="PCM_16")
        out.append(path)
    return out


def measure_notes_and_mix(tracks: int, duration_s: float) -> dict[str, object]:
    from fastapi.testclient import TestClient

    from mixlab.service import Settings, create_app
    from tests.service.conftest import new_session, upload, wait_job, write_stems

    tmp = Path(tempfile.mkdtemp(prefix="mixlab-measure-"))
    results: dict[str, object] = {}
    with TestClient(create_app(Settings(data_dir=tmp / "data"))) as client:
        # the test session: six 4 s stems
        sid = new_session(client, "test session")
        for p in write_stems(tmp / "small").values():
            upload(client, sid, p)
        wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
        t0 = time.perf_counter()
        job = wait_job(client, client.post(f"/api/sessions/{sid}/mix", json={}).json()["id"])
        results["mix_job_test_session_s"] = round(time.perf_counter() - t0, 2)
        results["mix_job_engine_timings_s"] = job["result"]["timings_s"]

        # notes on a big session
        folder = tmp / "big"
        folder.mkdir()
        sid = new_session(client, "big")
        for p in _many_stems(folder, tracks, duration_s):
            upload(client, sid, p)
        t0 = time.perf_counter()
        wait_job(client, client.get(f"/api/sessions/{sid}").json()["job"]["id"])
        results[f"prepare_{tracks}_tracks_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        job = wait_job(client, client.post(f"/api/sessions/{sid}/mix", json={}).json()["id"], timeout_s=1200)
        results[f"mix_job_{tracks}_tracks_s"] = round(time.perf_counter() - t0, 2)
        plan = client.get(f"/api/sessions/{sid}/plan").json()
        first = next(s for s in plan["sections"] if s.startswith("track:"))
        times = []
        for k in range(20):
            plan["sections"][first]["gain_db"] = {"value": -float(k), "source": "user", "reason": "", "locked": False}
            t0 = time.perf_counter()
            r = client.post(f"/api/sessions/{sid}/notes", json={"plan": plan})
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        results["notes_request_ms"] = {"tracks": tracks, "median": round(1000 * statistics.median(times), 1),
                                       "worst": round(1000 * max(times), 1),
                                       "evaluate_ms": round(1000 * r.json()["timings_s"]["evaluate"], 1)}
        # after a restart the NotesSession is rebuilt from the disk cache on the first request
        client.app.state.services.notes.forget(sid)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        client.post(f"/api/sessions/{sid}/notes", json={"plan": plan})
        results["notes_first_request_cold_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-mb", type=int, default=200)
    parser.add_argument("--tracks", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    os.environ.setdefault("MIXLAB_WORKERS", "2")
    print(json.dumps({"upload": measure_upload(args.upload_mb)}, indent=2), flush=True)
    print(json.dumps(measure_notes_and_mix(args.tracks, args.seconds), indent=2), flush=True)


if __name__ == "__main__":
    main()
