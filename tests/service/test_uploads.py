"""Bad input at upload time: a clear message, the right status, and nothing left on disk."""

from __future__ import annotations

import bz2
import stat
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mixlab.service.db import now_iso
from mixlab.service.deps import current_user
from mixlab.service.uploads import browser_file_name, unique_file_name
from tests.service.conftest import make_client, new_session, session_folder, upload


def _files_left(client: TestClient, sid: str) -> list[str]:
    """Every file under the session folder (empty folders do not count)."""
    root = session_folder(client, sid)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_upload_over_the_limit_is_413_and_leaves_nothing(tmp_path: Path, stems: dict[str, Path]) -> None:
    with make_client(tmp_path / "data", max_upload_bytes=100_000) as client:
        sid = new_session(client)
        r = upload(client, sid, stems["Pad"])  # ~1.5 MB
        assert r.status_code == 413
        error = r.json()["error"]
        assert error["code"] == "upload.too_large" and error["details"]["max_upload_bytes"] == 100_000
        assert error["message"].startswith("Pad.wav: is larger than the 97.7 kB upload limit")
        assert _files_left(client, sid) == []
        assert client.get(f"/api/sessions/{sid}").json()["tracks"] == []


def test_limit_holds_while_receiving_even_when_the_length_lies(tmp_path: Path, stems: dict[str, Path]) -> None:
    """Regression guard: the limit must not rely on Content-Length (a client can leave it out
    or lie); the bytes are counted as they arrive."""
    with make_client(tmp_path / "data", max_upload_bytes=100_000) as client:
        sid = new_session(client)
        boundary = "xyzzy"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Pad.wav\"\r\n"
                "Content-Type: audio/wav\r\n\r\n").encode() + stems["Pad"].read_bytes() + f"\r\n--{boundary}--\r\n".encode()

        def chunks():  # no Content-Length: sent chunked
            for i in range(0, len(body), 65536):
                yield body[i:i + 65536]

        r = client.post(f"/api/sessions/{sid}/files", content=chunks(),
                        headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "upload.too_large"
        assert "Pad.wav" in r.json()["error"]["message"]
        assert _files_left(client, sid) == []


def test_text_renamed_wav_is_400_naming_the_file(client: TestClient, tmp_path: Path) -> None:
    fake = tmp_path / "Lead Vocal.wav"
    fake.write_text("these are my lyrics, not audio\n" * 50)
    sid = new_session(client)
    r = upload(client, sid, fake)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"].startswith("audio.") and "Lead Vocal.wav" in error["message"]
    assert _files_left(client, sid) == []


def test_truncated_wav_is_400(client: TestClient, tmp_path: Path, stems: dict[str, Path]) -> None:
    cut = tmp_path / "Snare.wav"
    cut.write_bytes(stems["Snare"].read_bytes()[:20000])
    sid = new_session(client)
    r = upload(client, sid, cut)
    assert r.status_code == 400 and r.json()["error"]["code"] == "audio.truncated"
    assert "Snare.wav" in r.json()["error"]["message"]
    assert _files_left(client, sid) == []


def test_not_an_audio_extension_is_refused(client: TestClient, tmp_path: Path) -> None:
    doc = tmp_path / "lyrics.docx"
    doc.write_bytes(b"PK-not-really")
    sid = new_session(client)
    r = upload(client, sid, doc)
    assert r.status_code == 400 and "lyrics.docx" in r.json()["error"]["message"]
    assert _files_left(client, sid) == []


def _zip_with(tmp_path: Path, name: str, entries: dict[str, bytes], **kwargs) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", **kwargs) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    return path


def test_zip_with_path_traversal_is_refused_whole(client: TestClient, tmp_path: Path, stems: dict[str, Path]) -> None:
    kick = stems["Kick"].read_bytes()
    archive = _zip_with(tmp_path, "stems.zip", {"Kick.wav": kick, "../evil.wav": kick})
    sid = new_session(client)
    r = upload(client, sid, archive)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "stems.zip_unsafe" and "../evil.wav" in error["message"]
    assert _files_left(client, sid) == []
    assert not (tmp_path / "evil.wav").exists() and not any(session_folder(client, sid).parent.glob("evil*"))


def test_zip_with_a_symlink_is_refused(client: TestClient, tmp_path: Path, stems: dict[str, Path]) -> None:
    path = tmp_path / "links.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Kick.wav", stems["Kick"].read_bytes())
        link = zipfile.ZipInfo("Snare.wav")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    sid = new_session(client)
    r = upload(client, sid, path)
    assert r.status_code == 400 and r.json()["error"]["code"] == "stems.zip_unsafe"
    assert _files_left(client, sid) == []


def test_zip_bomb_is_refused_before_unpacking(client: TestClient, tmp_path: Path) -> None:
    # 200 MB of zeros in bzip2 packs to a few hundred bytes: a ratio no audio reaches.
    assert len(bz2.compress(bytes(1 << 20))) < 100
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:
        with zf.open("Kick.wav", "w", force_zip64=True) as entry:
            block = bytes(1 << 20)
            for _ in range(200):
                entry.write(block)
    assert path.stat().st_size < 100_000
    sid = new_session(client)
    r = upload(client, sid, path)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "stems.zip_bomb" and "bomb.zip" in r.json()["error"]["message"]
    assert _files_left(client, sid) == []


def test_zip_too_large_when_unpacked_is_413(tmp_path: Path) -> None:
    with make_client(tmp_path / "data", max_upload_bytes=300_000) as client:
        archive = _zip_with(tmp_path, "big.zip", {"Pad.wav": bytes(2_000_000)}, compression=zipfile.ZIP_DEFLATED)
        sid = new_session(client)
        r = upload(client, sid, archive)
        assert r.status_code == 413 and r.json()["error"]["code"] == "stems.zip_too_large"
        assert _files_left(client, sid) == []


def test_zip_with_a_bad_stem_keeps_none_of_it(client: TestClient, tmp_path: Path, stems: dict[str, Path]) -> None:
    archive = _zip_with(tmp_path, "mixed.zip", {"Kick.wav": stems["Kick"].read_bytes(), "Broken.wav": b"RIFF1234WAVE"})
    sid = new_session(client)
    r = upload(client, sid, archive)
    assert r.status_code == 400 and "Broken.wav" in r.json()["error"]["message"]
    assert _files_left(client, sid) == []


def test_another_users_session_is_404(client: TestClient, stems: dict[str, Path]) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.store.transaction() as db:
        db.execute("INSERT INTO users (id, name, created_at) VALUES ('someone', 'Someone', ?)", (now_iso(),))
    theirs = services.store.create_session("someone", "Their song", "stems")
    sid = theirs["id"]
    for method, url in (("GET", f"/api/sessions/{sid}"), ("GET", f"/api/sessions/{sid}/plan"),
                        ("GET", f"/api/sessions/{sid}/versions"), ("GET", f"/api/sessions/{sid}/notes/audio"),
                        ("DELETE", f"/api/sessions/{sid}"),
                        ("POST", f"/api/sessions/{sid}/mix")):
        r = client.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 404 and r.json()["error"]["code"] == "http.not_found", (method, url)
    assert upload(client, sid, stems["Kick"]).status_code == 404
    assert sid not in [s["id"] for s in client.get("/api/sessions").json()["sessions"]]
    # ... and the owner sees it.
    client.app.dependency_overrides[current_user] = lambda: "someone"  # type: ignore[attr-defined]
    try:
        assert client.get(f"/api/sessions/{sid}").status_code == 200
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_one_mix_at_a_time_per_session(client: TestClient, stems: dict[str, Path]) -> None:
    sid = new_session(client)
    for p in stems.values():
        assert upload(client, sid, p).status_code == 201
    first = client.post(f"/api/sessions/{sid}/mix", json={})
    assert first.status_code == 202
    second = client.post(f"/api/sessions/{sid}/mix", json={})
    assert second.status_code == 409 and second.json()["error"]["code"] == "session.busy"
    assert upload(client, sid, stems["Kick"]).status_code == 409
    assert client.app.state.services.runner.wait_idle(120)  # type: ignore[attr-defined]


def test_uploads_share_one_queued_prepare(client: TestClient, stems: dict[str, Path]) -> None:
    sid = new_session(client)
    runner = client.app.state.services.runner  # type: ignore[attr-defined]
    jobs = set()
    with runner._session_locks[sid]:  # hold the worker back, as a busy worker would
        for p in stems.values():
            assert upload(client, sid, p).status_code == 201
            jobs.add(client.get(f"/api/sessions/{sid}").json()["job"]["id"])
    assert len(jobs) == 1  # every upload joined the prepare that had not started
    assert runner.wait_idle(120)
    assert all(t["ready"] for t in client.get(f"/api/sessions/{sid}").json()["tracks"])


@pytest.mark.parametrize(("name", "taken", "expected"), [
    ("Kick.wav", set(), "Kick.wav"),
    ("Kick.wav", {"kick"}, "Kick (2).wav"),
    ("kick.flac", {"kick", "kick (2)"}, "kick (3).flac"),
])
def test_unique_file_name(name: str, taken: set[str], expected: str) -> None:
    assert unique_file_name(name, taken) == expected


def test_restart_sweeps_temporary_and_orphan_files(tmp_path: Path, stems: dict[str, Path]) -> None:
    """After a crash: half uploads in tmp/ and originals without a track row are removed, and
    a job that was running is reported as interrupted."""
    with make_client(tmp_path / "data") as client:
        sid = new_session(client)
        assert upload(client, sid, stems["Kick"]).status_code == 201
        assert client.app.state.services.runner.wait_idle(60)  # type: ignore[attr-defined]
        folder = session_folder(client, sid)
        store = client.app.state.services.store  # type: ignore[attr-defined]
        store.insert("jobs", {"id": "j_crashed", "session_id": sid, "owner": "local", "kind": "mix",
                              "state": "running", "created_at": now_iso()})
    (folder / "tmp" / "upload-x").mkdir(parents=True)
    (folder / "tmp" / "upload-x" / "upload.wav").write_bytes(b"half")
    (folder / "originals" / "Orphan.wav").write_bytes(stems["Snare"].read_bytes())
    with make_client(tmp_path / "data") as client:
        assert not (folder / "tmp" / "upload-x").exists()
        assert sorted(p.name for p in (folder / "originals").iterdir()) == ["Kick.wav"]
        job = client.get("/api/jobs/j_crashed").json()
        assert job["state"] == "failed" and job["error"]["code"] == "job.interrupted"


def test_deflated_zip_bomb_upload_is_refused_and_leaves_nothing(client: TestClient, tmp_path: Path) -> None:
    """Regression: a 261 kB ZIP became a 256 MB stored track (deflated silence is ~1000:1,
    under the per-entry limit); an upload is now held to 32 times its size unpacked."""
    archive = _zip_with(tmp_path, "silence.zip", {"Pad.wav": bytes(48 * 2**20)}, compression=zipfile.ZIP_DEFLATED)
    sid = new_session(client)
    r = upload(client, sid, archive)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "stems.zip_bomb" and error["message"].startswith("silence.zip:")
    assert _files_left(client, sid) == []
    assert client.get(f"/api/sessions/{sid}").json()["tracks"] == []


def test_a_browser_escaped_file_name_keeps_its_quotes(client: TestClient, stems: dict[str, Path]) -> None:
    """Browsers send ``Vox "Lead".wav`` as ``Vox %22Lead%22.wav`` (HTML form-data encoding)."""
    sid = new_session(client)
    r = upload(client, sid, stems["Kick"], name="Vox %22Lead%22.wav")
    assert r.status_code == 201 and r.json()["tracks"][0]["name"] == 'Vox "Lead"'
    assert browser_file_name("100%41 %0d%0Amix.wav") == "100%41 \r\nmix.wav"
