"""The producer's path through the API: session, stems, prepare, mix, plan, notes, render, download.

One session is built once for the module (upload, prepare, mix take about two seconds on
4-second stems) and the tests read it in order.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from mixlab.analysis.loudness import LoudnessMeter
from mixlab.analysis.truepeak import measure_true_peak
from mixlab.audio.io import read_audio
from mixlab.errors import ProcessingError
from mixlab.service.jobs import tasks
from tests.service.conftest import SAMPLE_RATE, make_client, new_session, upload, wait_job


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with make_client(tmp_path_factory.mktemp("data")) as c:
        yield c


@pytest.fixture(scope="module")
def prepared(api: TestClient, stems: dict[str, Path]) -> dict[str, Any]:
    sid = new_session(api, "Flow song")
    answers = [upload(api, sid, p) for p in stems.values()]
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    job = api.get(f"/api/sessions/{sid}").json()["job"]
    assert job["kind"] == "prepare"
    assert wait_job(api, job["id"])["state"] == "done"
    return api.get(f"/api/sessions/{sid}").json()


@pytest.fixture(scope="module")
def mixed(api: TestClient, prepared: dict[str, Any]) -> dict[str, Any]:
    sid = prepared["id"]
    r = api.post(f"/api/sessions/{sid}/mix", json={})
    assert r.status_code == 202, r.text
    job = wait_job(api, r.json()["id"])
    assert job["state"] == "done", job["error"]
    return {"sid": sid, "job": job, "session": api.get(f"/api/sessions/{sid}").json()}


def test_upload_names_tracks_as_the_plan_will(prepared: dict[str, Any], stems: dict[str, Path]) -> None:
    assert prepared["state"] == "ready"
    assert [t["name"] for t in prepared["tracks"]] == list(stems)
    assert all(t["ready"] and t["problem"] is None for t in prepared["tracks"])
    roles = {t["name"]: t["role"] for t in prepared["tracks"]}
    assert roles["Kick"] == "kick" and roles["Vox Lead"] == "lead_vocal"
    assert prepared["sample_rate"] == SAMPLE_RATE
    assert prepared["duration_s"] == pytest.approx(4.0, abs=1e-3)  # the longest stem


def test_previews_are_flac_conformed_to_one_rate_and_length(api: TestClient, prepared: dict[str, Any]) -> None:
    sid = prepared["id"]
    lengths = set()
    for t in prepared["tracks"]:
        r = api.get(f"/api/sessions/{sid}/tracks/{t['id']}/audio")
        assert r.status_code == 200 and r.headers["content-type"] == "audio/flac"
        info = sf.info(io.BytesIO(r.content))
        assert (info.format, info.subtype, info.samplerate) == ("FLAC", "PCM_16", SAMPLE_RATE)
        assert info.channels == t["channels"]
        lengths.add(info.frames)
    # The 48 kHz pad and the 3 s hi-hat are conformed: every preview starts and ends together.
    assert lengths == {int(4.0 * SAMPLE_RATE)}


def test_preview_answers_range_requests(api: TestClient, prepared: dict[str, Any]) -> None:
    tid = prepared["tracks"][0]["id"]
    r = api.get(f"/api/sessions/{prepared['id']}/tracks/{tid}/audio", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100


def test_peaks_bound_the_preview(api: TestClient, prepared: dict[str, Any]) -> None:
    sid = prepared["id"]
    for t in prepared["tracks"]:
        peaks = api.get(f"/api/sessions/{sid}/tracks/{t['id']}/peaks?points=300").json()
        assert peaks["points"] == 300 and peaks["duration_s"] == pytest.approx(4.0, abs=1e-3)
        audio, _ = sf.read(io.BytesIO(api.get(f"/api/sessions/{sid}/tracks/{t['id']}/audio").content),
                           always_2d=True, dtype="float32")
        assert len(peaks["channels"]) == audio.shape[1]
        for c, points in enumerate(peaks["channels"]):
            lo, hi = np.array(points).T
            assert np.all(lo <= hi)
            # Peaks come from the float stems, the preview is 16-bit dithered: 1e-3 covers both.
            assert hi.max() == pytest.approx(audio[:, c].max(), abs=1e-3)
            assert lo.min() == pytest.approx(audio[:, c].min(), abs=1e-3)


def test_mix_makes_a_version_the_plan_and_the_loudness(api: TestClient, mixed: dict[str, Any]) -> None:
    session = mixed["session"]
    assert session["state"] == "mixed" and session["has_plan"]
    loud = session["loudness"]
    assert loud["mix_lufs"] < loud["raw_sum_lufs"]  # mixed for -6 dBTP of headroom
    versions = api.get(f"/api/sessions/{mixed['sid']}/versions").json()["versions"]
    assert versions[0]["kind"] == "mix" and versions[0]["n"] == 1
    files = {f["name"]: f for f in versions[0]["files"]}
    assert set(files) == {"mix.wav", "plan.json"}
    assert files["mix.wav"]["true_peak_dbtp"] == pytest.approx(-6.0, abs=0.1)
    mix = api.get(files["mix.wav"]["url"])
    assert mix.status_code == 200 and "attachment" in mix.headers["content-disposition"]
    assert api.get(versions[0]["plan_url"]).json()["schema"] == "mixlab.mixplan/1"
    plan = api.get(f"/api/sessions/{mixed['sid']}/plan").json()
    assert {f"track:{t['name']}" for t in session["tracks"]} <= set(plan["sections"])


def test_plan_is_404_before_the_first_mix_and_notes_409(api: TestClient) -> None:
    sid = new_session(api, "Empty")
    r = api.get(f"/api/sessions/{sid}/plan")
    assert r.status_code == 404 and r.json()["error"]["code"] == "plan.not_found"
    r = api.post(f"/api/sessions/{sid}/notes", json={"plan": {"schema": "mixlab.mixplan/1", "sections": {}}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "notes.not_ready"


def test_out_of_range_value_is_400_naming_the_parameter(api: TestClient, mixed: dict[str, Any]) -> None:
    plan = api.get(f"/api/sessions/{mixed['sid']}/plan").json()
    plan["sections"]["track:Kick"]["pan"] = {"value": 3.0, "source": "user", "reason": "", "locked": False}
    r = api.put(f"/api/sessions/{mixed['sid']}/plan", json=plan)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "plan.bad_parameter" and "track:Kick.pan" in r.json()["error"]["message"]
    r = api.put(f"/api/sessions/{mixed['sid']}/plan", json={"schema": "mixlab.masterplan/1"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "plan.bad_schema"


def test_notes_follow_a_moved_fader(api: TestClient, mixed: dict[str, Any]) -> None:
    sid = mixed["sid"]
    plan = api.get(f"/api/sessions/{sid}/plan").json()
    before = api.post(f"/api/sessions/{sid}/notes", json={"plan": plan})
    assert before.status_code == 200, before.text
    moved = copy.deepcopy(plan)
    moved["sections"]["track:Vox Lead"]["gain_db"] = {"value": -30.0, "source": "user", "reason": "test",
                                                      "locked": False}
    after = api.post(f"/api/sessions/{sid}/notes", json={"plan": moved}).json()
    codes = {(n["code"], tuple(n["tracks"])) for n in after["notes"]}
    assert codes != {(n["code"], tuple(n["tracks"])) for n in before.json()["notes"]}
    buried = [n for n in after["notes"] if n["code"] in ("buried_lead", "level_balance") and "Vox Lead" in n["tracks"]]
    assert buried, codes
    assert after["schema"] == "mixlab.notes/1" and set(after["counts"]) == {"info", "warn", "problem"}


def test_apply_fix_returns_the_patched_plan(api: TestClient, mixed: dict[str, Any]) -> None:
    sid = mixed["sid"]
    plan = api.get(f"/api/sessions/{sid}/plan").json()
    plan["sections"]["track:Vox Lead"]["gain_db"] = {"value": -30.0, "source": "user", "reason": "", "locked": False}
    notes = api.post(f"/api/sessions/{sid}/notes", json={"plan": plan}).json()["notes"]
    index = next(i for i, n in enumerate(notes) if n["fix"].get("kind") == "patch")
    fixed = api.post(f"/api/sessions/{sid}/notes/apply", json={"plan": plan, "index": index}).json()["plan"]
    for change in notes[index]["fix"]["changes"]:
        param = fixed["sections"][change["section"]][change["param"]]
        assert param["value"] == change["value"] and param["source"] == "user" and not param["locked"]
    r = api.post(f"/api/sessions/{sid}/notes/apply", json={"plan": plan, "index": 999})
    assert r.status_code == 400 and r.json()["error"]["code"] == "notes.bad_index"


def test_locked_fader_survives_a_remix_exactly(api: TestClient, mixed: dict[str, Any]) -> None:
    sid = mixed["sid"]
    plan = api.get(f"/api/sessions/{sid}/plan").json()
    plan["sections"]["track:Bass"]["gain_db"] = {"value": -7.25, "source": "user", "reason": "mine", "locked": True}
    assert api.put(f"/api/sessions/{sid}/plan", json=plan).status_code == 200
    job = wait_job(api, api.post(f"/api/sessions/{sid}/mix", json={}).json()["id"])  # around the session's plan
    assert job["state"] == "done", job["error"]
    again = api.get(f"/api/sessions/{sid}/plan").json()["sections"]["track:Bass"]["gain_db"]
    assert again == {"value": -7.25, "source": "user", "reason": "mine", "locked": True}
    # ... and around a posted plan as well.
    plan["sections"]["track:Bass"]["gain_db"]["value"] = -9.5
    job = wait_job(api, api.post(f"/api/sessions/{sid}/mix", json={"plan": plan}).json()["id"])
    assert job["state"] == "done", job["error"]
    assert api.get(f"/api/sessions/{sid}/plan").json()["sections"]["track:Bass"]["gain_db"]["value"] == -9.5
    versions = api.get(f"/api/sessions/{sid}/versions").json()["versions"]
    assert [v["n"] for v in versions][:3] == [3, 2, 1]


def _measure(data: bytes, suffix: str, tmp_path: Path) -> tuple[float, float, float]:
    path = tmp_path / f"master{suffix}"
    path.write_bytes(data)
    audio = read_audio(path)
    meter = LoudnessMeter(audio.sample_rate, audio.num_channels)
    meter.push(audio.samples)
    ours = meter.result().integrated_lufs
    peak = measure_true_peak(audio.samples, audio.sample_rate).true_peak_dbtp
    theirs = pyloudnorm.Meter(audio.sample_rate).integrated_loudness(audio.samples.T.astype(np.float64))
    return ours, peak, theirs


def test_render_spotify_masters_hit_the_target(api: TestClient, mixed: dict[str, Any], tmp_path: Path) -> None:
    sid = mixed["sid"]
    r = api.post(f"/api/sessions/{sid}/render", json={"targets": ["spotify"], "formats": ["mp3", "wav24"],
                                                     "stems": True})
    assert r.status_code == 202, r.text
    job = wait_job(api, r.json()["id"])
    assert job["state"] == "done", job["error"]
    version = api.get(f"/api/sessions/{sid}/versions").json()["versions"][0]
    assert version["kind"] == "render" and version["id"] == job["result"]["version_id"]
    files = {(f["kind"], f["format"]): f for f in version["files"]}
    assert {("mix", "wav24"), ("stems", "zip"), ("plan", None), ("master", "mp3"), ("master", "wav24")} <= set(files)
    for fmt, suffix in (("wav24", ".wav"), ("mp3", ".mp3")):
        record = files[("master", fmt)]
        assert record["target"] == "spotify"
        body = api.get(record["url"])
        assert body.status_code == 200 and len(body.content) == record["size_bytes"]
        ours, peak, theirs = _measure(body.content, suffix, tmp_path)
        assert ours == pytest.approx(-14.0, abs=0.5), fmt
        assert theirs == pytest.approx(-14.0, abs=0.5), fmt  # pyloudnorm agrees
        assert peak <= -1.0 + 0.05, fmt  # 0.05 dB: our 4x-oversampled meter's own error bound
        assert record["loudness_lufs"] == pytest.approx(ours, abs=0.05)
    stems_zip = zipfile.ZipFile(io.BytesIO(api.get(files[("stems", "zip")]["url"]).content))
    assert sorted(stems_zip.namelist()) == sorted(f"{t['name']}.wav" for t in mixed["session"]["tracks"])


def test_failed_render_leaves_no_version(api: TestClient, mixed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    sid = mixed["sid"]
    count = len(api.get(f"/api/sessions/{sid}/versions").json()["versions"])
    plan = api.get(f"/api/sessions/{sid}/plan").json()
    plan["sections"]["bus:reverb"]["rt60_s"]["value"] = 99.0  # out of range: refused before anything is queued
    r = api.post(f"/api/sessions/{sid}/render", json={"plan": plan})
    assert r.status_code == 400 and r.json()["error"]["details"]["parameter"] == "bus:reverb.rt60_s"

    def broken_master(*args: Any, **kwargs: Any) -> None:  # fails after the mix was written
        raise ProcessingError("the mastering failed", code="master.failed")

    monkeypatch.setattr(tasks, "master", broken_master)
    job = wait_job(api, api.post(f"/api/sessions/{sid}/render", json={}).json()["id"])
    assert job["state"] == "failed" and job["error"]["code"] == "master.failed"
    assert len(api.get(f"/api/sessions/{sid}/versions").json()["versions"]) == count
    folder = api.app.state.services.storage.folder("local", sid, "versions")  # type: ignore[attr-defined]
    assert len(list(folder.iterdir())) == count  # no half-written folder


def test_zip_of_stems_becomes_tracks(api: TestClient, stems: dict[str, Path], tmp_path: Path) -> None:
    archive = tmp_path / "Song stems.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in stems.values():
            zf.write(p, f"Drums and all/{p.name}")
        zf.writestr("__MACOSX/._Kick.wav", b"junk")
        zf.writestr("notes.txt", b"hello")
    sid = new_session(api, "Zipped")
    r = upload(api, sid, archive)
    assert r.status_code == 201, r.text
    assert sorted(t["name"] for t in r.json()["tracks"]) == sorted(stems)
    assert {i["file"] for i in r.json()["ignored"]} >= {"notes.txt"}
    job = api.get(f"/api/sessions/{sid}").json()["job"]
    assert wait_job(api, job["id"])["state"] == "done"
    # A second "Kick.wav" becomes "Kick (2)", the name open_stems gives it in the plan.
    r = upload(api, sid, stems["Kick"])
    assert r.json()["tracks"][0]["name"] == "Kick (2)" and r.json()["tracks"][0]["file"] == "Kick (2).wav"


def test_master_session_masters_the_uploaded_mix(api: TestClient, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(int(4.0 * SAMPLE_RATE)) / SAMPLE_RATE
    song = 0.2 * np.stack([np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 165 * t)]) + 0.02 * rng.standard_normal((2, t.size))
    path = tmp_path / "My mix.wav"
    sf.write(path, song.T.astype(np.float32), SAMPLE_RATE, subtype="PCM_24")
    sid = new_session(api, "Master only", kind="master")
    r = upload(api, sid, path)
    assert r.status_code == 201 and len(r.json()["tracks"]) == 1
    tid = r.json()["tracks"][0]["id"]
    wait_job(api, api.get(f"/api/sessions/{sid}").json()["job"]["id"])
    session = api.get(f"/api/sessions/{sid}").json()
    assert session["loudness"]["mix_lufs"] is not None and session["tracks"][0]["ready"]
    assert api.get(f"/api/sessions/{sid}/tracks/{tid}/audio").status_code == 200
    # a second master session takes its own mix (track ids are unique across sessions)
    other = new_session(api, "Another master", kind="master")
    r = upload(api, other, path)
    assert r.status_code == 201 and r.json()["tracks"][0]["id"] != tid
    job = wait_job(api, api.post(f"/api/sessions/{sid}/render", json={"targets": ["apple-music"],
                                                                      "formats": ["wav16"]}).json()["id"])
    assert job["state"] == "done", job["error"]
    files = api.get(f"/api/sessions/{sid}/versions").json()["versions"][0]["files"]
    master = next(f for f in files if f["kind"] == "master")
    assert master["target"] == "apple-music" and master["loudness_lufs"] == pytest.approx(-16.0, abs=0.1)
    r = api.post(f"/api/sessions/{sid}/mix", json={})
    assert r.status_code == 400 and r.json()["error"]["code"] == "session.not_stems"


def test_notes_on_the_mix_to_master_and_on_its_masters(api: TestClient, tmp_path: Path) -> None:
    # A mix driven 6 dB into a hard clip: the notes on the upload say so (advice, no plan patch),
    # the notes on the master of that version judge the master, and a stems session's plan notes
    # stay where they are.
    t = np.arange(int(4.0 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t) ** 2)
    clipped = np.clip(2.0 * tone, -1.0, 1.0)
    path = tmp_path / "Hot mix.wav"
    sf.write(path, np.stack([clipped, clipped]).T.astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    sid = new_session(api, "Hot master", kind="master")
    assert api.get(f"/api/sessions/{sid}/notes/audio").json()["error"]["code"] == "notes.not_ready"
    upload(api, sid, path)
    wait_job(api, api.get(f"/api/sessions/{sid}").json()["job"]["id"])
    doc = api.get(f"/api/sessions/{sid}/notes/audio").json()
    assert doc["input"] == "Hot mix.wav"
    clip = [n for n in doc["notes"] if n["code"] == "clipping"]
    assert clip and clip[0]["severity"] == "problem" and clip[0]["fix"]["kind"] == "advice"
    job = wait_job(api, api.post(f"/api/sessions/{sid}/render", json={"targets": ["spotify"],
                                                                      "formats": ["wav24"]}).json()["id"])
    assert job["state"] == "done", job["error"]
    version = api.get(f"/api/sessions/{sid}/versions").json()["versions"][0]
    master = next(f for f in version["files"] if f["kind"] == "master")
    r = api.get(f"/api/sessions/{sid}/notes/audio", params={"version": version["id"], "file": master["name"]})
    assert r.status_code == 200, r.text
    codes = {n["code"] for n in r.json()["notes"]}
    assert r.json()["input"] == master["name"] and not codes & {"true_peak_over", "too_loud_for_platform", "too_quiet"}
    plan_file = next(f for f in version["files"] if f["kind"] == "plan")
    for params in ({"version": version["id"], "file": plan_file["name"]}, {"version": version["id"], "file": "../x.wav"},
                   {"version": "v_nope", "file": master["name"]}):
        r = api.get(f"/api/sessions/{sid}/notes/audio", params=params)
        assert r.status_code == 404, params


def test_delete_session_removes_its_files(api: TestClient, stems: dict[str, Path]) -> None:
    sid = new_session(api, "To delete")
    upload(api, sid, stems["Kick"])
    wait_job(api, api.get(f"/api/sessions/{sid}").json()["job"]["id"])
    folder = api.app.state.services.storage.session_dir("local", sid)  # type: ignore[attr-defined]
    assert folder.exists()
    assert api.delete(f"/api/sessions/{sid}").status_code == 204
    assert not folder.exists()
    assert api.get(f"/api/sessions/{sid}").status_code == 404
    listed = [s["id"] for s in api.get("/api/sessions").json()["sessions"]]
    assert sid not in listed


def test_options_and_openapi(api: TestClient) -> None:
    options = api.get("/api/options").json()
    assert "spotify" in [t["name"] for t in options["targets"]]
    assert options["formats"] == ["wav16", "wav24", "flac", "mp3"]
    assert len(options["corridor"]["centres_hz"]) == len(options["corridor"]["genres"]["pop"]["target_db"])
    assert options["limits"]["max_upload_bytes"] == 2 * 2**30
    schema = api.get("/openapi.json").json()
    assert "/api/sessions/{sid}/files" in schema["paths"]
    json.dumps(schema)


def test_a_mix_pushed_past_full_scale_is_not_mastered_clipped(api: TestClient, mixed: dict[str, Any]) -> None:
    """Regression (issue 13, item 7): with the mix-bus output raised 20 dB over the AI's trim,
    mix.wav clips (the live notes say so) and the masters were made from that clipped file. A
    master now comes from a float copy of the mix, where the samples over full scale survive:
    it is the same master as the AI plan's (mastering sets the loudness), not a squared-off one.
    Compared by crest factor (sample peak over RMS, dB), which clipping 14 dB deep flattens."""
    sid = mixed["sid"]
    plan = api.get(f"/api/sessions/{sid}/plan").json()

    def master_crest_db(the_plan: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        job = wait_job(api, api.post(f"/api/sessions/{sid}/render", json={"plan": the_plan, "targets": ["spotify"],
                                                                          "formats": ["wav24"]}).json()["id"])
        assert job["state"] == "done", job["error"]
        version = api.get(f"/api/sessions/{sid}/versions").json()["versions"][0]
        assert not any(f["name"].startswith(".") for f in version["files"])  # the float copy is not kept
        master = next(f for f in version["files"] if f["kind"] == "master")
        x, _ = sf.read(io.BytesIO(api.get(master["url"]).content), dtype="float64")
        return 20 * np.log10(np.max(np.abs(x)) / np.sqrt(np.mean(x ** 2))), version

    ai_crest, _ = master_crest_db(plan)
    out = plan["sections"]["bus:mix"]["output_gain_db"]
    out.update(value=out["value"] + 20.0, source="user")
    live = api.post(f"/api/sessions/{sid}/notes", json={"plan": plan}).json()["notes"]
    assert any(n["code"] == "clipping" for n in live)  # the live notes see it before the render
    hot_crest, version = master_crest_db(plan)
    mix_file = next(f for f in version["files"] if f["kind"] == "mix")
    x, _ = sf.read(io.BytesIO(api.get(mix_file["url"]).content), dtype="float64")
    assert np.count_nonzero(np.abs(x) >= 1.0 - 2.0 ** -22) > 1000  # mix.wav holds what the user asked for
    # 1 dB: the limiter works on the same signal either way; clipping 14 dB deep takes far more
    assert hot_crest == pytest.approx(ai_crest, abs=1.0)
