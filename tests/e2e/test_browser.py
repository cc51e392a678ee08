"""End to end in real headless Chromium: upload stems, AI mix, move a fader (the preview graph and
the Mix Notes follow), apply a fix, render a Spotify master, download it and meter it.

Needs Debian's ``/usr/bin/chromium`` (driven by PyPI ``playwright``; never ``playwright install``).
Without it the tests skip, unless ``MIXLAB_REQUIRE_BROWSER=1``, which makes them fail.
``MIXLAB_E2E_URL`` points the tests at a server already running instead of starting one;
``MIXLAB_SCREENSHOTS_DIR`` is where the screenshots of the main screens go (``docs/screenshots``
via ``tests/e2e/screenshots.py``; a temporary folder otherwise).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (bench/bench_web.py imports them from here)

# budgets, generous for a loaded CI machine; the measured values are printed
NOTES_BUDGET_MS = 2000.0
PARAM_BUDGET_MS = 50.0
# a command to run, in advice shown in the page (issue 13, item 10: advice fits where it is shown)
CLI_COMMAND = re.compile(r"`mixlab [a-z]")


def _wait(pg, expression: str, timeout_s: float, what: str):
    try:
        pg.wait_for_function(expression, timeout=timeout_s * 1000)
    except Exception as exc:  # playwright's TimeoutError
        raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}; page errors: {pg.errors}") from exc


def slider_position(pg, section: str, name: str, value: float) -> int:
    """Where a parameter's slider sits for ``value`` (sliders follow a taper; mixer.js sliderPosition)."""
    return pg.evaluate("""async ([section, name, value]) => {
        const { spec } = await import('/plan.js'); const { sliderPosition } = await import('/mixer.js');
        return sliderPosition(spec(section, name), value); }""", [section, name, value])


def _set_range(pg, selector: str, value: float) -> float:
    """Move a parameter's slider to ``value`` as a drag would (input event); returns the page's timestamp."""
    section, name = pg.eval_on_selector(selector, "(el) => [el.closest('.pc').dataset.section, el.closest('.pc').dataset.param]")
    pos = slider_position(pg, section, name, value)
    return pg.eval_on_selector(selector, """(el, v) => { el.value = String(v); const t = performance.now();
        el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return t; }""", pos)


def test_upload_mix_adjust_fix_render_download(page, server, stems, shots):
    pg = page
    pg.goto(server + "/")
    pg.wait_for_selector("text=Drop your stems here")

    # a new stems session; the stems go through the file input of the drop zone, one XHR each
    pg.click("#new-mix")
    pg.wait_for_selector("#stem-files", state="attached")
    pg.set_input_files("#stem-files", [str(p) for p in stems])
    pg.wait_for_selector(".upload")
    names = [p.stem for p in stems]
    _wait(pg, f"() => {json.dumps(names)}.every(n => window.mixlab.graph.tracks[n])", 90, "every track's preview decoded")
    _wait(pg, "() => document.querySelectorAll('.track').length === %d" % len(stems), 10, "a row per track")

    # the AI mix
    pg.click("#mix-btn")
    _wait(pg, "() => window.mixlab.plan && window.mixlab.notesVersion > 0", 240, "the AI mix's plan and its notes")
    _wait(pg, "() => !document.querySelector('#mix-btn').disabled", 60, "the mix job to finish")
    assert pg.evaluate("() => window.mixlab.plan.schema") == "mixlab.mixplan/1"
    track = "Vox Lead" if "Vox Lead" in names else names[-1]
    section = f"track:{track}"
    plan_gain = pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(section)}].gain_db.value")
    _wait(pg, f"() => Math.abs(window.mixlab.graph.tracks[{json.dumps(track)}].fader.gain.value - 10 ** ({plan_gain} / 20)) < 1e-3",
          5, "the preview fader to follow the plan")

    # the preview's filters are the engine's: each track's high-pass + EQ biquads in Web Audio, and
    # the editor's curve (eq-curve.js), against engine.mix.track_eq_sos at the context's rate
    _check_eq_matches_engine(pg)

    # select the track: the inspector with its EQ
    pg.click(f".track[data-track='{track}'] .edit")
    pg.wait_for_selector(".eq-canvas")
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(shots / "mixer-eq.png"))

    # move the fader: the GainNode follows at once, the notes within the budget
    notes_before = pg.evaluate("() => JSON.stringify(window.mixlab.notes)")
    version_before = pg.evaluate("() => window.mixlab.notesVersion")
    undo_before = pg.evaluate("() => window.mixlab.store.undoStack.length")
    fader = f".track[data-track='{track}'] input[aria-label='{section} gain_db']"
    before = pg.evaluate(f"() => window.mixlab.graph.tracks[{json.dumps(track)}].fader.gain.value")
    _set_range(pg, fader, -40)
    param_ms = pg.evaluate("() => window.mixlab.metrics.controlToParamMs")
    assert param_ms is not None and param_ms < PARAM_BUDGET_MS, f"control -> AudioParam took {param_ms} ms"
    assert pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(section)}].gain_db.source") == "user"
    _wait(pg, f"() => Math.abs(window.mixlab.graph.tracks[{json.dumps(track)}].fader.gain.value - 0.01) < 0.002",
          2, "the GainNode to reach -40 dB")
    after = pg.evaluate(f"() => window.mixlab.graph.tracks[{json.dumps(track)}].fader.gain.value")
    assert after != pytest.approx(before)
    _wait(pg, f"() => window.mixlab.notesVersion > {version_before}", NOTES_BUDGET_MS / 1000, "the notes to update")
    notes_ms = pg.evaluate("() => window.mixlab.metrics.controlToNotesMs")
    assert notes_ms < NOTES_BUDGET_MS
    assert pg.evaluate("() => JSON.stringify(window.mixlab.notes)") != notes_before, "the notes did not change after a -40 dB fader move"
    assert pg.evaluate("() => window.mixlab.store.undoStack.length") == undo_before + 1
    heard_ms = _control_to_gain_ms(pg, fader, track, -6.0)
    latency = pg.evaluate("() => { const c = window.mixlab.graph.context; return [c.baseLatency || 0, c.outputLatency || 0]; }")
    print(f"\ncontrol -> AudioParam set {param_ms:.2f} ms; gain 90 % there after {heard_ms:.1f} ms "
          f"(+ output latency {1000 * sum(latency):.1f} ms); control -> notes shown {notes_ms:.0f} ms")
    assert heard_ms + 1000 * latency[0] < 50.0 + 30.0  # 50 ms target; 30 ms of slack for a loaded CI machine

    # the reason of a control, on hover
    pg.hover(f".track[data-track='{track}'] .pc[data-param='pan']")
    reason = pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(section)}].pan.reason")
    assert reason in pg.inner_text(".reason-line")

    # the ruler: click seeks, drag sets a loop
    box = pg.locator(".ruler").bounding_box()
    duration = pg.evaluate("() => window.mixlab.engine.duration")
    pg.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert pg.evaluate("() => window.mixlab.engine.position") == pytest.approx(duration / 2, abs=duration / 100)
    pg.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + 10)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + 10, steps=5)
    pg.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 10, steps=5)
    pg.mouse.up()
    loop = pg.evaluate("() => window.mixlab.engine.loop")
    assert loop["on"] and loop["start"] == pytest.approx(duration * 0.25, abs=duration / 50) and loop["end"] == pytest.approx(duration * 0.5, abs=duration / 50)
    pg.click("button.loop")
    assert not pg.evaluate("() => window.mixlab.engine.loop.on")

    # A/B: the raw sum is loudness-matched to the AI mix with the session's measurements
    levels = pg.evaluate("() => window.mixlab.state.session.loudness")
    pg.click(".seg[data-mode=raw]")
    want = 10 ** ((levels["mix_lufs"] - levels["raw_sum_lufs"]) / 20)
    _wait(pg, f"() => Math.abs(window.mixlab.graph.paths.raw.gain.value - {want}) < 1e-3 * {want} && window.mixlab.graph.paths.mix.gain.value < 1e-4",
          2, "the raw-sum path at its matched gain")
    pg.click(".seg[data-mode=mix]")

    # apply a fix: one undo step, its changes in the plan as the user's
    pg.wait_for_selector(".note .apply")
    note = pg.evaluate("() => window.mixlab.notes.find(n => n.fix && n.fix.kind === 'patch')")
    undo_before = pg.evaluate("() => window.mixlab.store.undoStack.length")
    pg.click(f".note[data-code='{note['code']}'] .apply")
    change = note["fix"]["changes"][0]
    got = pg.evaluate(f"() => window.mixlab.plan.sections[{json.dumps(change['section'])}][{json.dumps(change['param'])}]")
    assert got["value"] == change["value"] and got["source"] == "user"
    assert pg.evaluate("() => window.mixlab.store.undoStack.length") == undo_before + 1
    # click a note: seek to its first range
    first = pg.evaluate("() => window.mixlab.notes.find(n => n.ranges && n.ranges.length)")
    if first:
        pg.click(f".note[data-code='{first['code']}']")
        pos = pg.evaluate("() => window.mixlab.engine.position")
        assert pos == pytest.approx(min(first["ranges"][0]["start_s"], pg.evaluate("() => window.mixlab.engine.duration")), abs=0.05)
    # play a few seconds: the meters run on the monitor output
    pg.evaluate("() => window.mixlab.engine.play()")
    _wait(pg, "() => Number.isFinite(window.mixlab.engine.meterValues?.short_term_lufs ?? NaN) || window.mixlab.engine.position > 3.5",
          15, "playback")
    pg.wait_for_timeout(3600)
    pg.screenshot(path=str(shots / "mixer-notes.png"))
    advice = pg.locator(".note .advice").all_inner_texts()
    assert not [t for t in advice if CLI_COMMAND.search(t)], advice
    pg.evaluate("() => window.mixlab.engine.pause()")

    # render a Spotify master (WAV 24) and download it
    _render(pg, "spotify", "wav24")
    _wait(pg, "() => [...document.querySelectorAll('.version a.dl')].some(a => /spotify/i.test(a.getAttribute('href')) || /spotify/i.test(a.closest('tr')?.textContent || ''))",
          300, "the Spotify master in the versions list")
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(shots / "render-versions.png"))
    link = pg.locator(".version tr", has_text="Spotify").locator("a.dl").first
    with pg.expect_download() as dl:
        link.click()
    path = Path(dl.value.path())
    from mixlab.analysis.loudness import measure_loudness
    from mixlab.analysis.truepeak import measure_true_peak

    audio, sr = sf.read(path, always_2d=True, dtype="float32")
    loudness = measure_loudness(np.ascontiguousarray(audio.T), sr).integrated_lufs
    peak = measure_true_peak(np.ascontiguousarray(audio.T), sr).true_peak_dbtp
    print(f"downloaded Spotify master: {loudness:.2f} LUFS, {peak:.2f} dBTP")
    assert abs(loudness - -14.0) <= 0.5
    assert peak <= -1.0 + 0.05  # 0.05 dB: our meter's own tolerance against the limiter's
    # A/B: the master plays as Spotify would (turned down only)
    pg.click(".seg[data-mode=master]")
    _wait(pg, "() => window.mixlab.engine.mode === 'master' && window.mixlab.engine.masterBuffer", 30, "the master in A/B")
    # the notes on the rendered master, then back to the live notes of the plan
    version = pg.evaluate("() => window.mixlab.notesVersion")
    pg.locator(".version tr", has_text="Spotify").locator("button.file-notes").click()
    _wait(pg, f"() => window.mixlab.notesVersion > {version}", 60, "the notes on the master")
    assert "Spotify master" in pg.inner_text(".notes-source")
    assert not {"true_peak_over", "too_loud_for_platform"} & set(pg.evaluate("() => window.mixlab.notes.map(n => n.code)"))
    version = pg.evaluate("() => window.mixlab.notesVersion")
    pg.click(".notes-source button")
    _wait(pg, f"() => window.mixlab.notesVersion > {version}", 10, "the live notes again")
    assert pg.is_hidden(".notes-source")
    assert not pg.errors, pg.errors


def test_master_a_mix_with_its_notes(page, server, tmp_path, shots):
    # A finished mix pushed 6 dB into a hard clip: its notes say so on upload; the notes on its
    # Spotify master (from Versions) judge the master, which is neither clipped nor over -1 dBTP.
    sr = 44100
    t = np.arange(int(12.0 * sr)) / sr
    beat = (np.sin(2 * np.pi * 55 * t) * np.exp(-8 * (t % 0.5)) + 0.5 * np.sin(2 * np.pi * 330 * t)
            * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t)))
    mix = np.clip(2.0 * beat / np.abs(beat).max(), -1.0, 1.0)
    path = tmp_path / "Finished mix.wav"
    sf.write(path, np.stack([mix, 0.9 * mix]).T.astype(np.float32), sr, subtype="PCM_24")
    pg = page
    pg.goto(server + "/")
    pg.wait_for_selector("#new-master")
    pg.set_input_files("#master-file", [str(path)])
    _wait(pg, "() => window.mixlab.notesVersion > 0 && window.mixlab.notes.some(n => n.code === 'clipping')", 90,
          "the notes on the uploaded mix")
    assert "your mix" in pg.inner_text(".notes-source")
    clip = pg.evaluate("() => window.mixlab.notes.find(n => n.code === 'clipping')")
    assert clip["severity"] == "problem" and clip["fix"]["kind"] == "advice"
    assert pg.locator(".note .advice").count() >= 1 and pg.locator(".note .apply").count() == 0

    _render(pg, "spotify", "wav24")
    _wait(pg, "() => [...document.querySelectorAll('.version tr')].some(r => /Spotify/.test(r.textContent))", 120,
          "the Spotify master in Versions")
    version = pg.evaluate("() => window.mixlab.notesVersion")
    pg.locator(".version tr", has_text="Spotify").locator("button.file-notes").click()
    _wait(pg, f"() => window.mixlab.notesVersion > {version}", 60, "the notes on the master")
    assert "Spotify master" in pg.inner_text(".notes-source")
    codes = pg.evaluate("() => window.mixlab.notes.map(n => n.code)")
    assert not {"true_peak_over", "too_loud_for_platform", "too_quiet"} & set(codes), codes
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(shots / "master-session.png"))
    cli_advice = [t for t in pg.locator(".note .advice").all_inner_texts() if CLI_COMMAND.search(t)]
    pg.click(".notes-source button")  # back to the notes on the upload
    _wait(pg, "() => window.mixlab.notes.some(n => n.code === 'clipping')", 30, "the notes on the mix again")
    cli_advice += [t for t in pg.locator(".note .advice").all_inner_texts() if CLI_COMMAND.search(t)]
    assert not pg.errors, pg.errors
    # advice shown in the page fits the page: no command line to run (issue 13, item 10)
    assert not cli_advice, cli_advice


def _render(pg, target: str, fmt: str) -> None:
    """Open the render dialog, tick only this platform and format, and start the render."""
    pg.click("#render-btn")
    pg.wait_for_selector("dialog[open]")
    for name, value in (("target", target), ("format", fmt)):
        for box in pg.query_selector_all(f"dialog input[name={name}]"):
            (box.check if box.get_attribute("value") == value else box.uncheck)()
    pg.click("dialog button[type=submit]")


def _check_eq_matches_engine(pg) -> None:
    from mixlab.dsp.eq import sos_response_db
    from mixlab.engine.mix import strip_eq_sos, track_eq_sos
    from mixlab.engine.plan import Plan

    freqs = [25.0, 40.0, 63.0, 100.0, 160.0, 250.0, 400.0, 630.0, 1000.0, 1600.0, 2500.0, 4000.0, 6300.0, 10000.0, 16000.0]
    pg.wait_for_timeout(400)  # AudioParams glide (10 ms time constant) to the plan's values
    got = pg.evaluate("""async (freqs) => {
        const { stripSections, responseDb } = await import('/eq-curve.js');
        const g = window.mixlab.graph, sr = g.context.sampleRate, f = new Float32Array(freqs);
        const db = (nodes) => freqs.map((_, i) => nodes.reduce((acc, n) => {
            const mag = new Float32Array(freqs.length), ph = new Float32Array(freqs.length);
            n.getFrequencyResponse(f, mag, ph); return acc + 20 * Math.log10(mag[i]); }, 0));
        const out = { sr, tracks: {}, editor: {}, bus: db(g.buses.mix.eq) };
        for (const [name, t] of Object.entries(g.tracks)) {
            out.tracks[name] = db([...t.highpass, ...t.eqSlots]);
            const s = window.mixlab.plan.sections['track:' + name];
            const secs = stripSections(s.eq.value, s.highpass_hz.value, sr);
            out.editor[name] = freqs.map((x) => responseDb(secs, x, sr));
        }
        return out;
    }""", freqs)
    plan = Plan.from_dict(pg.evaluate("() => window.mixlab.plan"), expected_schema="mixlab.mixplan/1")
    sr = int(got["sr"])
    for name, preview in got["tracks"].items():
        engine_db = sos_response_db(track_eq_sos(plan, f"track:{name}", sr), freqs, sr)
        # float32 response read-out and coefficient rounding in Chromium: 0.05 dB
        np.testing.assert_allclose(preview, engine_db, atol=0.05, err_msg=f"preview EQ of {name}")
        # the editor's curve is the engine's formula in double precision
        np.testing.assert_allclose(got["editor"][name], engine_db, atol=1e-6, err_msg=f"editor curve of {name}")
    # mix-bus EQ: Web Audio shelves are fixed at S = 1 (Q 0.7071); the engine's bus shelves use Q 0.7
    bus_db = sos_response_db(strip_eq_sos(plan.get("bus:mix", "eq"), None, sr), freqs, sr)
    np.testing.assert_allclose(got["bus"], bus_db, atol=0.15, err_msg="preview mix-bus EQ")


def _control_to_gain_ms(pg, selector: str, track: str, gain_db: float) -> float:
    """Time from a slider's input event until the track's GainNode has moved 90 % of the way."""
    pos = slider_position(pg, f"track:{track}", "gain_db", gain_db)
    return pg.eval_on_selector(selector, """async (el, [track, db, pos]) => {
        const gain = window.mixlab.graph.tracks[track].fader.gain;
        const from = gain.value, to = 10 ** (db / 20);
        const t0 = performance.now();
        el.value = String(pos); el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));
        while (Math.abs(gain.value - to) > 0.1 * Math.abs(to - from)) {
            if (performance.now() - t0 > 2000) return Infinity;
            await new Promise((r) => setTimeout(r, 0));
        }
        return performance.now() - t0;
    }""", [track, gain_db, pos])


def _traversal_zip(folder: Path) -> Path:
    import io
    import zipfile

    buf = io.BytesIO()
    sf.write(buf, np.zeros((4410, 1), dtype=np.float32), 44100, format="WAV")
    path = folder / "stems.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Kick.wav", buf.getvalue())
        z.writestr("../../escape.wav", buf.getvalue())
    return path


@pytest.mark.parametrize("kind", ["text renamed .wav", "ZIP with a path traversal"])
def test_bad_upload_shows_the_servers_message(page, server, tmp_path, shots, kind):
    if kind == "text renamed .wav":
        bogus = tmp_path / "Notes from the session.wav"
        bogus.write_text("this is a text file, not audio\n" * 50)
    else:
        bogus = _traversal_zip(tmp_path)
    pg = page
    pg.goto(server + "/")
    pg.wait_for_selector(".session-item, .session-list .empty")
    if kind == "text renamed .wav":
        pg.screenshot(path=str(shots / "start.png"))
    pg.click("#new-mix")
    pg.wait_for_selector("#stem-files", state="attached")
    with pg.expect_response(lambda r: r.url.endswith("/files") and r.request.method == "POST") as resp:
        pg.set_input_files("#stem-files", [str(bogus)])
    answer = resp.value
    assert answer.status in (400, 413, 415, 422)
    message = answer.json()["error"]["message"]
    pg.wait_for_selector(".upload.failed")
    shown = pg.inner_text(".upload.failed .up-msg")
    assert shown == message
    if kind == "text renamed .wav":
        pg.screenshot(path=str(shots / "upload-error.png"))
