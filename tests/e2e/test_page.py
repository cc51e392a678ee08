"""The page in Chromium against a session mixed through the API: the top bar at laptop and desktop
sizes, controls that hold every value the engine's schema allows, and the polish of issue 13
(track order, names, roles, failed tracks, the upload strip, the clock, A/B, Versions)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.e2e.test_browser import _wait

VIEWPORTS = [(1280, 720), (1366, 768), (1920, 1080)]
TRACK_READY = "() => window.mixlab && window.mixlab.ws && window.mixlab.plan && Object.keys(window.mixlab.graph.tracks).length >= 6"


def _finish_job(client: httpx.Client, sid: str, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = client.get(f"/api/sessions/{sid}").json()
        job = s["job"]
        if all(t["ready"] or t["problem"] for t in s["tracks"]) and not (job and job["state"] in ("queued", "running")):
            return
        time.sleep(0.3)
    raise AssertionError(f"session {sid} still busy after {timeout_s:g} s")


@pytest.fixture(scope="module")
def mixed(server, tmp_path_factory) -> str:
    """A stems session with six 8-second stems and an AI mix, made through the API; its id."""
    from tests.fixtures.multitrack import write_session

    folder = tmp_path_factory.mktemp("stems8")
    paths = sorted(write_session(folder, sr=44100, duration_s=8.0, subtype="PCM_16").values())
    with httpx.Client(base_url=server, timeout=120) as c:
        sid = c.post("/api/sessions", json={"name": "Page checks", "kind": "stems"}).json()["id"]
        for p in paths:
            c.post(f"/api/sessions/{sid}/files", files={"file": (p.name, p.read_bytes(), "audio/wav")}).raise_for_status()
        _finish_job(c, sid)
        c.post(f"/api/sessions/{sid}/mix", json={}).raise_for_status()
        _finish_job(c, sid)
        # the widest top bar: three platforms and a reference with a long name
        ref = _wav(folder / "A reference master with a rather long file name (final v3).wav", 4.0, 440.0, channels=2)
        c.post(f"/api/sessions/{sid}/reference", files={"file": (ref.name, ref.read_bytes(), "audio/wav")}).raise_for_status()
        c.patch(f"/api/sessions/{sid}", json={"targets": ["spotify", "apple-music", "youtube"]}).raise_for_status()
        _finish_job(c, sid)
        assert c.get(f"/api/sessions/{sid}").json()["has_plan"]
    return sid


@pytest.fixture(scope="module")
def layout_shots(tmp_path_factory) -> Path:
    """Where the layout screenshots go: ``MIXLAB_LAYOUT_SHOTS_DIR``, else a temporary folder (printed)."""
    folder = Path(os.environ.get("MIXLAB_LAYOUT_SHOTS_DIR") or tmp_path_factory.mktemp("layout-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(pg, server: str, sid: str) -> None:
    pg.goto(f"{server}/#/s/{sid}")
    _wait(pg, TRACK_READY, 60, "the session's tracks and plan")


# ------------------------------------------------------------------------------ top bar layout

TOPBAR_CONTROLS = """() => [...document.querySelectorAll('.topbar button, .topbar select, .topbar input, .topbar a, .topbar .clock, .topbar .ab-info')]
    .filter((el) => el.type !== 'file' && !el.closest('[hidden]') && getComputedStyle(el).display !== 'none')"""


@pytest.mark.parametrize("size", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_every_topbar_control_is_in_view_and_clickable(browser, server, mixed, layout_shots, size):
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    try:
        _open(pg, server, mixed)
        for job in (None, {"id": "j_test", "kind": "render", "state": "running", "fraction": 0.4, "message": "mastering for Apple Music"}):
            if job:  # the widest state: a job's progress shown next to the buttons
                pg.evaluate("(j) => window.mixlab.ws.showJob(j)", job)
            boxes = pg.evaluate(f"""() => ({TOPBAR_CONTROLS})().map((el) => {{
                const r = el.getBoundingClientRect();
                const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                return {{ what: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 24) || el.tagName, left: r.left, right: r.right,
                          top: r.top, bottom: r.bottom, w: r.width, h: r.height, hit: !!hit && (hit === el || el.contains(hit)) }};
            }})""")
            names = [b["what"] for b in boxes]
            for want in ("session name", "genre", "Reference…", "play", "Raw sum", "AI mix", "Master", "undo", "redo", "Re-run AI", "Render…"):
                assert any(want == n or n.startswith(want) for n in names), f"{want} not in the top bar at {width}x{height}: {names}"
            for b in boxes:
                assert b["w"] > 0 and b["h"] > 0, f"{b['what']} has no size at {width}x{height}"
                assert b["left"] >= 0 and b["right"] <= width and b["top"] >= 0 and b["bottom"] <= height, f"{b['what']} is outside the {width}x{height} viewport: {b}"
                assert b["hit"], f"{b['what']} is covered at {width}x{height}: {b}"
            # no control overlaps another
            for i, a in enumerate(boxes):
                for b in boxes[i + 1:]:
                    dx = min(a["right"], b["right"]) - max(a["left"], b["left"])
                    dy = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
                    assert dx <= 1 or dy <= 1, f"{a['what']} and {b['what']} overlap at {width}x{height}: {a} {b}"
            # playwright agrees: each one can be clicked where it is (trial: nothing is pressed)
            for loc in pg.locator(".topbar button:visible, .topbar select:visible").all():
                if loc.is_enabled():
                    loc.click(trial=True, timeout=2000)
            assert pg.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth"), \
                "the page needs a sideways scroll"
            # the clock holds one line
            assert pg.evaluate("() => { const c = document.querySelector('.clock'); return c.getClientRects().length === 1 && c.scrollHeight <= c.clientHeight + 1 && c.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(c).lineHeight); }")
            pg.screenshot(path=str(layout_shots / f"topbar-{width}x{height}{'-job' if job else ''}.png"))
        print(f"\nlayout screenshots: {layout_shots}")
        assert not errors, errors
    finally:
        context.close()


# ------------------------------------------------------------------------------ ranges from the schema

def _plan_value(pg, section: str, name: str):
    return pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(section)}][{json.dumps(name)}].value")


def _type(pg, selector: str, text: str) -> None:
    pg.fill(selector, text)
    pg.press(selector, "Enter")


def test_controls_hold_every_value_the_engine_allows(page, server, mixed, layout_shots):
    pg = page
    _open(pg, server, mixed)
    params = pg.evaluate("() => window.mixlab.state.options.params")
    section = "track:Pad"
    # the AI set +17.6 dB (beyond the old +12 dB fader): the fader shows it, below its top
    pg.evaluate("""(s) => { const p = structuredClone(window.mixlab.plan); p.sections[s].gain_db = { ...p.sections[s].gain_db, value: 17.6, source: 'ai', reason: 'test' };
        window.mixlab.store.load(p, { keepHistory: true }); }""", section)
    row = f".track[data-track='Pad']"
    fader = f"{row} input[aria-label='{section} gain_db']"
    readout = f"{row} input[aria-label='{section} gain_db value']"
    assert pg.input_value(readout) == "+17.6 dB"
    pos = int(pg.input_value(fader))
    assert 0 < pos < 1000, pos
    # an arrow key moves one step of the parameter (0.1 dB), from where it is
    pg.focus(fader)
    pg.keyboard.press("ArrowUp")
    assert _plan_value(pg, section, "gain_db") == pytest.approx(17.7)
    pg.keyboard.press("ArrowDown")
    pg.keyboard.press("ArrowDown")
    assert _plan_value(pg, section, "gain_db") == pytest.approx(17.5)
    assert pg.input_value(readout) == "+17.5 dB"
    # typing keeps the value; beyond the engine's range it stops at the engine's limit
    _type(pg, readout, "17.6")
    assert _plan_value(pg, section, "gain_db") == pytest.approx(17.6)
    assert pg.input_value(readout) == "+17.6 dB"
    _type(pg, readout, "+30 dB")
    assert _plan_value(pg, section, "gain_db") == params["track"]["gain_db"]["max"] == 24
    pg.focus(fader)
    pg.keyboard.press("End")
    assert _plan_value(pg, section, "gain_db") == 24
    pg.keyboard.press("ArrowUp")  # at the top: stays
    assert _plan_value(pg, section, "gain_db") == 24
    pg.keyboard.press("Home")
    assert _plan_value(pg, section, "gain_db") == params["track"]["gain_db"]["min"] == -80
    _type(pg, readout, "-3")

    # the inspector: every control's range is its section's spec
    pg.click(f"{row} .edit")
    pg.wait_for_selector(".eq-canvas")
    _type(pg, f".inspector input[aria-label='{section} offset_ms value']", "+1000")
    assert _plan_value(pg, section, "offset_ms") == 1000
    # the preview follows the whole nudge: 100 ms in the delay line, the rest by starting the source later
    _wait(pg, "() => Math.abs(window.mixlab.graph.tracks.Pad.delay.delayTime.value - 0.2) < 1e-3", 2, "the delay line at its +100 ms end")
    assert pg.evaluate("() => window.mixlab.graph.tracks.Pad.sourceShiftS") == pytest.approx(0.9)
    pg.evaluate("() => window.mixlab.engine.play()")
    _type(pg, f".inspector input[aria-label='{section} offset_ms value']", "-600")  # while playing: its source restarts
    assert pg.evaluate("() => window.mixlab.graph.tracks.Pad.sourceShiftS") == pytest.approx(-0.5)
    pg.wait_for_timeout(300)
    pg.evaluate("() => window.mixlab.engine.pause()")
    _type(pg, f".inspector input[aria-label='{section} offset_ms value']", "+1000")
    pg.screenshot(path=str(layout_shots / "inspector-track-extremes.png"))
    _type(pg, f".inspector input[aria-label='{section} offset_ms value']", "-2.5")
    assert _plan_value(pg, section, "offset_ms") == -2.5
    checked = _ranges_match_schema(pg, params)
    pg.click(".inspector .tab:has-text('Buses')")
    pg.wait_for_selector(".inspector [data-section='bus:delay']")
    checked += _ranges_match_schema(pg, params)
    assert checked >= 25, checked
    _type(pg, ".inspector input[aria-label='bus:delay delay_ms value']", "4000")
    assert _plan_value(pg, "bus:delay", "delay_ms") == 4000
    _wait(pg, "() => Math.abs(window.mixlab.graph.buses.delay.first.R.delayTime.value - 8) < 1e-3", 2, "the preview's 4 s delay (right echo at 8 s)")
    _type(pg, ".inspector input[aria-label='bus:reverb highpass_hz value']", "1.5 kHz")
    assert _plan_value(pg, "bus:reverb", "highpass_hz") == 1500
    _type(pg, ".inspector input[aria-label='bus:mix output_gain_db value']", "20")
    assert _plan_value(pg, "bus:mix", "output_gain_db") == 20
    pg.screenshot(path=str(layout_shots / "inspector-buses-extremes.png"))

    # EQ bands: typed values stop at the engine's limits (10 < f <= 20000 Hz, ±24 dB, Q 0.1..20)
    pg.click(".inspector .tab:has-text('Track')")
    pg.wait_for_selector(".eq-band")
    bands = pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(section)}].eq.value.length")
    if bands == 0:
        pg.click(".eq-foot button")
    for label, typed, field, want in (("gain", "30", "gain_db", 24), ("gain", "-17.5", "gain_db", -17.5), ("frequency", "5", "freq_hz", 11),
                                      ("frequency", "25000", "freq_hz", 20000), ("Q", "50", "q", 20), ("Q", "0.01", "q", 0.1)):
        sel = f".eq-band input[aria-label='band 1 {label}']"
        pg.fill(sel, typed)
        pg.dispatch_event(sel, "change")
        got = pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(section)}].eq.value[0][{json.dumps(field)}]")
        assert got == pytest.approx(want), (label, typed, got)
    assert not pg.errors, pg.errors


def _ranges_match_schema(pg, params) -> int:
    """Every slider in the inspector spans its parameter's spec (section kind aware); their count."""
    got = pg.evaluate("""() => [...document.querySelectorAll('.inspector .pc input.pc-range')].map((el) => {
        const pc = el.closest('.pc'); return [pc.dataset.section, pc.dataset.param, Number(el.getAttribute('aria-valuemin')), Number(el.getAttribute('aria-valuemax'))]; })""")
    for section, name, lo, hi in got:
        kind = "track" if section.startswith("track:") else section
        spec = params[kind][name]
        assert (lo, hi) == (spec["min"], spec["max"]), f"{section}.{name}: the control spans {lo}..{hi}, the engine {spec['min']}..{spec['max']}"
    return len(got)


# ------------------------------------------------------------------------------ polish

def _wav(path: Path, seconds: float, freq: float, channels: int = 1) -> Path:
    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    sf.write(path, np.tile(x[:, None], (1, channels)).astype(np.float32), sr, subtype="PCM_24")
    return path


def test_tracks_keep_file_order_names_and_role_labels(page, server, tmp_path):
    from mixlab.analysis.roles import ROLE_LABELS

    # the first file is the largest: its upload finishes last, yet its row comes first
    files = [_wav(tmp_path / "Zither long take.wav", 40.0, 330.0, channels=2),
             _wav(tmp_path / 'Vox "Lead".wav', 3.0, 220.0),
             _wav(tmp_path / "A very long stem name that a track header cannot show in full.wav", 3.0, 110.0)]
    pg = page
    pg.goto(server + "/")
    pg.click("#new-mix")
    pg.wait_for_selector("#stem-files", state="attached")
    pg.set_input_files("#stem-files", [str(f) for f in files])
    # the upload strip shows the names as the files have them
    assert pg.locator(".upload .up-name", has_text='Vox "Lead".wav').count() == 1
    _wait(pg, "() => document.querySelectorAll('.track').length === 3", 60, "three rows")
    sid = pg.evaluate("() => window.mixlab.state.session.id")
    _wait(pg, "() => window.mixlab.state.session.tracks.every((t) => t.ready)", 90, "the tracks prepared")
    api_names = [t["name"] for t in pg.evaluate("() => window.mixlab.state.session.tracks")]
    rows = pg.evaluate("() => [...document.querySelectorAll('.track')].map((r) => r.dataset.track)")
    by_file = {t["file"]: t["name"] for t in pg.evaluate("() => window.mixlab.state.session.tracks")}
    print(f"\nserver order {api_names}; rows {rows}")
    assert rows[0] == "Zither long take" and rows[-1].startswith("A very long stem name"), rows
    # after a reload the rows keep that order
    pg.reload()
    _wait(pg, "() => document.querySelectorAll('.track').length === 3", 30, "three rows after a reload")
    assert pg.evaluate("() => [...document.querySelectorAll('.track')].map((r) => r.dataset.track)") == rows

    # a truncated name can be read: a tooltip and the row's accessible name carry it in full
    long = rows[-1]
    assert pg.evaluate(f"() => {{ const r = document.querySelector('.track:last-child'); const n = r.querySelector('.tname');"
                       f" return n.scrollWidth > n.clientWidth && n.title.startsWith({json.dumps(long)}) && r.getAttribute('aria-label').startsWith({json.dumps(long)}); }}")

    # every role has its human label (none shown raw, "percussion" included)
    labels = pg.evaluate("() => [...document.querySelector('select.role').options].filter((o) => o.value).map((o) => [o.value, o.textContent])")
    assert dict(labels) == ROLE_LABELS, labels
    pg.select_option(".track:first-child select.role", "percussion")
    assert pg.evaluate("() => { const s = document.querySelector('.track:first-child select.role'); return s.options[s.selectedIndex].textContent; }") == "Toms / percussion"

    # a quote in a file name: the browser sends it as %22 (the HTML multipart encoding)
    quoted = next(n for f, n in by_file.items() if "Lead" in f)
    assert quoted == 'Vox "Lead"'
    assert pg.locator(".track .tname", has_text='Vox "Lead"').count() == 1
    assert sid


def test_failed_and_pending_tracks(page, server, mixed, layout_shots):
    """A track the server could not prepare shows its reason and a way out (Remove track); AI Mix
    says why it waits, and is enabled once the failed track is removed; a track not yet analysed
    says "detecting…" instead of a role."""
    pg = page
    failure = "Preparation was interrupted by a server restart and could not resume: upload Kick.wav again."
    fake = {"pending": True, "failed": True, "deleted": []}

    def handle(route):
        resp = route.fetch()
        s = resp.json()
        s["has_plan"] = False
        for t in s["tracks"]:
            if t["name"] == "Kick" and fake["failed"]:
                t.update(ready=False, problem=failure)
            if t["name"] == "Bass" and fake["pending"]:
                t.update(ready=False, role=None, role_source=None, role_reason=None)
        route.fulfill(response=resp, json=s)

    def delete(route):  # the shared session keeps its Kick: the removal is answered here
        if route.request.method != "DELETE":
            return route.continue_()
        fake["deleted"].append(route.request.url)
        fake["failed"] = False
        route.fulfill(status=204)

    pg.route(f"**/api/sessions/{mixed}", handle)
    pg.route(f"**/api/sessions/{mixed}/tracks/*", delete)
    pg.goto(f"{server}/#/s/{mixed}")
    pg.wait_for_selector(".track.failed")
    kick = ".track[data-track='Kick']"
    assert pg.is_visible(f"{kick} .track-failure")
    assert failure in pg.inner_text(f"{kick} .track-failure")
    assert pg.is_visible(f"{kick} .track-failure button:has-text('Remove track')")
    assert failure in pg.get_attribute(f"{kick} .tstatus", "title")
    bass_role = ".track[data-track='Bass'] select.role"
    assert pg.evaluate(f"() => {{ const s = document.querySelector({json.dumps(bass_role)}); return s.options[s.selectedIndex].textContent; }}") == "detecting…"
    assert pg.is_disabled("#mix-btn")
    assert "prepared" in pg.get_attribute("#mix-btn", "title")
    pg.screenshot(path=str(layout_shots / "failed-and-pending-tracks.png"))
    # the other tracks ready: AI Mix names the failed track and what to do
    fake["pending"] = False
    _wait(pg, "() => /Kick could not be prepared: remove it/.test(document.querySelector('#mix-btn').title)", 10,
          "AI Mix to say which track keeps it disabled")
    assert pg.is_disabled("#mix-btn")
    assert pg.evaluate(f"() => {{ const s = document.querySelector({json.dumps(bass_role)}); return s.options[s.selectedIndex].textContent; }}") == "Bass"
    # Remove track: the page deletes it and AI Mix is enabled
    pg.click(f"{kick} .track-failure button:has-text('Remove track')")
    _wait(pg, "() => !document.querySelector('#mix-btn').disabled", 10, "AI Mix enabled once the failed track is removed")
    assert len(fake["deleted"]) == 1 and fake["deleted"][0].split("/tracks/")[1]
    assert not pg.is_visible(".track.failed")
    assert not pg.errors, pg.errors


def test_uploads_ab_readout_master_tooltip_and_versions(page, server, mixed, tmp_path, layout_shots):
    pg = page
    pg.set_viewport_size({"width": 1280, "height": 720})
    _open(pg, server, mixed)
    # A/B: a measured value (or a dash), never a clipped "raw -…"
    for mode in ("raw", "mix"):
        pg.click(f".seg[data-mode={mode}]")
        info = pg.evaluate("() => { const e = document.querySelector('.ab-info'); return [e.textContent, e.scrollWidth <= e.clientWidth]; }")
        assert info[1], f"the A/B read-out is cut: {info[0]!r}"
        assert info[0] == "—" or "LUFS" in info[0], info[0]
        assert not info[0].lower().startswith("raw")
    # the disabled Master button says why
    assert pg.is_disabled(".seg[data-mode=master]")
    assert "render" in (pg.get_attribute(".seg[data-mode=master]", "title") or "").lower()

    # a failed upload stays listed under the rows, not over them
    bogus = tmp_path / "Not audio.wav"
    bogus.write_text("text, not audio\n" * 40)
    pg.set_input_files("#stem-files", [str(bogus)])
    pg.wait_for_selector(".upload.failed")
    overlap = pg.evaluate("""() => { const a = document.querySelector('.upload-list').getBoundingClientRect(), b = document.querySelector('.tracks-scroll').getBoundingClientRect();
        return Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top)); }""")
    assert overlap == 0, f"the upload list covers {overlap:.0f} px of the track rows"
    last = ".track:last-child .tname"
    pg.locator(last).scroll_into_view_if_needed()
    pg.click(last, trial=True)

    # 16 masters: one row per platform, no sideways overflow, the list scrolls
    _wait(pg, "() => window.mixlab.state.versions.length > 0", 10, "the session's versions")
    pg.evaluate("""() => {
      const o = window.mixlab.state.options, files = [];
      for (const t of o.targets) for (const f of ['wav24', 'mp3']) files.push({ kind: 'master', target: t.name, format: f, name: `master-${t.name}.${f === 'mp3' ? 'mp3' : 'wav'}`,
        url: '#', loudness_lufs: t.loudness_lufs, true_peak_dbtp: t.true_peak_dbtp - 0.2, size_bytes: 12e6 });
      files.push({ kind: 'mix', name: 'mix.wav', url: '#', size_bytes: 3e7 }, { kind: 'stems', name: 'stems.zip', url: '#', size_bytes: 9e7 });
      const v = (id, n) => ({ id, n, kind: 'render', created_at: new Date().toISOString(), plan_url: '#', files });
      window.mixlab.ws.versions.set([v('v_b', 3), v('v_a', 2)]);
      window.mixlab.ws.showTab('versions');
    }""")
    n_targets = pg.evaluate("() => window.mixlab.state.options.targets.length")
    assert pg.locator(".version.open tr").count() == n_targets
    assert pg.locator(".version:not(.open)").count() == 1  # the older version folded
    panel = pg.evaluate("""() => { const l = document.querySelector('.versions-list'), side = document.querySelector('.side').getBoundingClientRect();
        return { sw: l.scrollWidth, cw: l.clientWidth, sh: l.scrollHeight, ch: l.clientHeight,
                 out: [...l.querySelectorAll('a, button')].filter((e) => e.getBoundingClientRect().right > side.right + 0.5).length }; }""")
    assert panel["sw"] <= panel["cw"] and panel["out"] == 0, panel
    pg.locator(".version.open tr").last.scroll_into_view_if_needed()
    pg.locator(".version.open tr").last.locator("button.file-notes").click(trial=True)
    pg.click(".version:not(.open) button.fold")
    assert pg.locator(".version.open").count() == 2
    pg.screenshot(path=str(layout_shots / "versions-16-masters.png"))
    assert not pg.errors, pg.errors
