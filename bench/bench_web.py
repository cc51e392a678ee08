"""Benchmark the browser app: a new user's flow, the page's responsiveness while jobs run, and the
Mix Notes latency on a big session. Run by hand (not in CI: timings depend on the machine).

Usage (from the repository root)::

    .venv/bin/python bench/bench_web.py [--stems 8] [--seconds 180] [--big-tracks 32] [--big-seconds 240]
                                        [--notes-repeats 30] [--page-moves 20] [--skip flow,big,page]

Needs Debian's ``/usr/bin/chromium`` driven by PyPI ``playwright`` (never ``playwright install``),
as ``tests/e2e/test_browser.py`` does. Each part starts its own ``mixlab serve`` (the README's run
command, the venv's ``mixlab`` script) on a free port with an empty temporary data folder, and
stops it at the end.

1. **New-user flow** (``flow``): ``--stems`` synthesised stems of ``--seconds`` (24-bit WAV,
   ``examples/make_example_stems.py``'s ``write_many``); in headless Chromium, only through the
   page: open it, "New mix (stems)", the stems through the drop zone's file input, wait for every
   track (prepare job, previews decoded), "AI Mix" and wait for its plan and notes, "Render…",
   Spotify and WAV 24 only (other dialog defaults left as they are), "Render", wait for the Spotify
   master in Versions and download it through its link. Wall time of each step (Python's clock
   around the page actions; no think time) and the total; the master's loudness and true peak
   with ``mixlab.analysis``.
2. **Responsiveness**: a probe injected before the page's own scripts records requestAnimationFrame
   gaps, the lateness of a 20 ms ``setInterval`` and Long Tasks (PerformanceObserver). Reported per
   step, and for a second mix job ("Re-run AI") during which a track fader is clicked every
   ``--move-every-s`` with the real mouse: from the pointerdown's timestamp (when the browser got
   the input) to the fader's ``input`` handler having set the AudioParam, and to the track's
   GainNode ``gain.value`` being 90 % of the way to its new value (10 ms glide), polled in the page.
   The same moves are made with no job running, for comparison.
3. **Notes latency on a big session** (``big``): ``--big-tracks`` stems of ``--big-seconds``,
   uploaded, prepared and mixed through the API; then ``POST /api/sessions/{sid}/notes`` with the
   plan, one fader moved each time, ``--notes-repeats`` times (after one untimed warm-up), end to end
   from Python (httpx, keep-alive); median, p95, max. Then (``page``) the session opened in the page
   and a fader clicked ``--page-moves`` times, each when the previous notes were shown: pointerdown
   -> notes list updated (the page debounces notes requests by 60 ms; included).

Results: a summary on stdout and ``bench/out/web/results.json`` (and a timestamped copy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.fixtures.multitrack import write_many  # noqa: E402
from tests.fixtures.server import running_server as mixlab_server  # noqa: E402

OUT = ROOT / "bench" / "out" / "web"

# Injected into every page before its own scripts: main-thread stall probe and fader-move timing.
PROBE_JS = r"""
(() => {
  const P = window.__probe = { raf: [], drift: [], longtasks: [], frames: 0, moves: [], down: null };
  let last = null;
  const frame = (t) => { if (last !== null && t - last > 25) P.raf.push([last, t - last]); last = t; P.frames++; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  const STEP = 20;
  let expect = performance.now() + STEP;
  setInterval(() => { const now = performance.now(); if (now - expect > 5) P.drift.push([expect, now - expect]); expect = now + STEP; }, STEP);
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) P.longtasks.push([e.startTime, e.duration]); })
      .observe({ type: 'longtask', buffered: true });
  } catch (e) { P.noLongtask = String(e); }
  // fader moves: pointerdown timestamp (when the browser got the input) -> input handled -> GainNode there
  document.addEventListener('pointerdown', (e) => { P.down = e.timeStamp; }, true);
  const fader = (e) => { const m = (e.target.getAttribute?.('aria-label') || '').match(/^track:(.+) gain_db$/); return m && m[1]; };
  document.addEventListener('input', (e) => {
    const name = fader(e); const t = name && window.mixlab?.graph?.tracks?.[name];
    if (t) P.before = { name, from: t.fader.gain.value };
  }, true);
  document.addEventListener('input', async (e) => {
    const name = fader(e);
    if (!name || !P.before || P.before.name !== name || P.down === null) return;
    const handled = performance.now();
    const down = P.down; P.down = null;
    const gain = window.mixlab.graph.tracks[name].fader.gain;
    const db = window.mixlab.plan.sections['track:' + name].gain_db.value;
    const from = P.before.from, to = 10 ** (db / 20);
    const rec = { name, db, down, handled, inputMs: handled - down, appParamMs: window.mixlab.metrics.controlToParamMs, reachMs: null };
    P.moves.push(rec);
    if (Math.abs(to - from) < 1e-6) return;
    while (Math.abs(gain.value - to) > 0.1 * Math.abs(to - from)) {
      if (performance.now() - handled > 3000) return;
      await new Promise((r) => setTimeout(r, 0));
    }
    rec.reachMs = performance.now() - down;
  });
})();
"""


# ------------------------------------------------------------------------------------- helpers

@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    context.add_init_script(PROBE_JS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def wait(page, expression: str, timeout_s: float, what: str, arg=None) -> None:
    try:
        page.wait_for_function(expression, arg=arg, timeout=timeout_s * 1000, polling=50)
    except Exception as exc:
        raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}; page errors: {page.errors}") from exc


def now_ms(page) -> float:
    return page.evaluate("() => performance.now()")


def stalls(page, t0: float, t1: float) -> dict[str, object]:
    """Main-thread stalls recorded by the probe between page times t0 and t1 (ms)."""
    p = page.evaluate("() => ({ raf: __probe.raf, drift: __probe.drift, longtasks: __probe.longtasks, noLongtask: __probe.noLongtask || null })")

    def inside(rows):
        return [d for s, d in rows if t0 <= s <= t1]

    raf, drift, lt = inside(p["raf"]), inside(p["drift"]), inside(p["longtasks"])
    return {"seconds": round((t1 - t0) / 1000, 2),
            "raf_max_gap_ms": round(max(raf), 1) if raf else None,  # None: no gap over 25 ms
            "raf_gaps_over_50ms": sum(d > 50 for d in raf), "raf_gaps_over_100ms": sum(d > 100 for d in raf),
            "interval_max_late_ms": round(max(drift), 1) if drift else 0.0,
            "longtasks": len(lt), "longtask_max_ms": round(max(lt), 1) if lt else 0.0,
            "longtask_total_ms": round(sum(lt), 1), **({"longtask_unsupported": p["noLongtask"]} if p["noLongtask"] else {})}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def summary_ms(values: list[float]) -> dict[str, float]:
    v = [x for x in values if x is not None]
    if not v:
        return {"n": 0}
    return {"n": len(v), "median": round(statistics.median(v), 1), "p95": round(pct(v, 95), 1),
            "max": round(max(v), 1), "min": round(min(v), 1)}


def fader_selector(track: str) -> str:
    return f".track[data-track={json.dumps(track)}] input[aria-label={json.dumps(f'track:{track} gain_db')}]"


def click_fader(page, track: str) -> None:
    """A real mouse click on the track's fader, on the far side of its thumb (the thumb jumps there:
    about -49 or -1 dB)."""
    loc = page.locator(fader_selector(track))
    loc.scroll_into_view_if_needed()
    box = loc.bounding_box()
    at = loc.evaluate("(el) => (el.value - el.min) / (el.max - el.min)")
    page.mouse.click(box["x"] + box["width"] * (0.15 if at > 0.5 else 0.85), box["y"] + box["height"] / 2)


def fader_moves(page, tracks: list[str], *, until, every_s: float, max_moves: int) -> list[dict]:
    """Click faders (tracks in turn, alternating positions) every ``every_s`` until ``until()`` or
    ``max_moves``; returns the probe's records of these moves."""
    start = page.evaluate("() => __probe.moves.length")
    k = 0
    while k < max_moves and not until():
        t = time.perf_counter()
        click_fader(page, tracks[k % len(tracks)])
        k += 1
        time.sleep(max(0.0, every_s - (time.perf_counter() - t)))
    page.wait_for_timeout(300)  # the last move's GainNode glide
    return page.evaluate("(n) => __probe.moves.slice(n)", start)


def meter(path: Path) -> dict[str, float]:
    from mixlab.analysis.loudness import measure_loudness
    from mixlab.analysis.truepeak import measure_true_peak

    audio, sr = sf.read(path, always_2d=True, dtype="float32")
    x = np.ascontiguousarray(audio.T)
    return {"lufs": round(measure_loudness(x, sr).integrated_lufs, 2),
            "true_peak_dbtp": round(measure_true_peak(x, sr).true_peak_dbtp, 2),
            "sample_rate": sr, "channels": x.shape[0], "seconds": round(x.shape[1] / sr, 2)}


# ------------------------------------------------------------------------------------- 1 + 2: the flow

def run_flow(args, work: Path) -> dict[str, object]:
    t = time.perf_counter()
    stems = write_many(work / "stems", args.stems, duration_s=args.seconds, subtype="PCM_24")
    gen_s = time.perf_counter() - t
    names = [p.stem for p in stems]
    print(f"flow: {len(stems)} stems x {args.seconds:g} s generated in {gen_s:.1f} s "
          f"({sum(p.stat().st_size for p in stems) / 2**20:.0f} MB): {', '.join(names)}", flush=True)
    res: dict[str, object] = {"stems": names, "stem_seconds": args.seconds,
                              "upload_mb": round(sum(p.stat().st_size for p in stems) / 2**20, 1)}
    steps: dict[str, float] = {}
    marks: dict[str, tuple[float, float]] = {}
    jobs: dict[str, object] = {}
    with mixlab_server(work / "data") as (url, startup_s), chromium() as browser:
        res["server_start_s"] = round(startup_s, 2)
        context, pg = new_page(browser)
        try:
            def step(name: str, action):
                p0 = now_ms(pg) if name != "open" else None
                t0 = time.perf_counter()
                action()
                steps[name] = time.perf_counter() - t0
                p1 = now_ms(pg)
                marks[name] = (p0 if p0 is not None else 0.0, p1)
                print(f"  {name:<14} {steps[name]:7.2f} s", flush=True)

            def job_timings(key: str) -> None:
                j = pg.evaluate("() => { const j = window.mixlab.state.job; return j && {kind: j.kind, state: j.state, result: j.result}; }")
                if j and isinstance(j.get("result"), dict):
                    jobs[key] = {"kind": j["kind"], "timings_s": j["result"].get("timings_s")}

            step("open", lambda: (pg.goto(url + "/"), pg.wait_for_selector("text=Drop your stems here")))
            step("new_session", lambda: (pg.click("#new-mix"), pg.wait_for_selector("#stem-files", state="attached")))
            step("upload", lambda: (pg.set_input_files("#stem-files", [str(p) for p in stems]),
                                    wait(pg, "(n) => (window.mixlab?.state.session?.tracks || []).length === n", 600,
                                         "every upload answered", len(stems))))
            step("prepare", lambda: wait(pg, "(names) => names.every(n => window.mixlab.graph.tracks[n]) && !document.querySelector('#mix-btn').disabled",
                                         900, "every track prepared and its preview decoded", names))
            step("ai_mix", lambda: (pg.click("#mix-btn"),
                                    wait(pg, "() => window.mixlab.plan && window.mixlab.notesVersion > 0 && !document.querySelector('#mix-btn').disabled",
                                         1200, "the AI mix's plan, notes and the job's end")))
            job_timings("ai_mix")

            def choose():
                c0 = time.perf_counter()
                pg.click("#render-btn")
                pg.wait_for_selector("dialog[open]")
                c1 = time.perf_counter()
                # click only the boxes that must change (as a user would)
                want = {"target": lambda v: v == "spotify", "format": lambda v: v == args.format}
                if args.render_stems in ("on", "off"):
                    want["stems"] = lambda v: args.render_stems == "on"
                boxes = pg.evaluate("() => [...document.querySelectorAll('dialog input[type=checkbox]')].map(i => [i.name, i.value, i.checked])")
                for name, value, checked in boxes:
                    rule = want.get(name)
                    if rule is not None and rule(value) != checked:
                        pg.click(f"dialog input[name={name}][value={json.dumps(value)}]")
                res["render_dialog_defaults"] = [f"{n}={v}" for n, v, c in boxes if c]
                res["render_choice"] = pg.evaluate("""() => [...document.querySelectorAll('dialog input')].filter(i => i.checked).map(i => `${i.name}=${i.value}`)""")
                c2 = time.perf_counter()
                pg.click("dialog button[type=submit]")
                res["render_dialog_detail_s"] = {"open": round(c1 - c0, 2), "choose": round(c2 - c1, 2),
                                                 "submit": round(time.perf_counter() - c2, 2)}

            step("render_dialog", choose)
            spotify = "() => [...document.querySelectorAll('.version tr')].some(tr => /spotify/i.test(tr.textContent) && tr.querySelector('a.dl'))"
            step("render", lambda: wait(pg, spotify, 1200, "the Spotify master in Versions"))
            job_timings("render")
            master = work / "spotify-master"

            def download():
                link = pg.locator(".version tr", has_text="Spotify").locator("a.dl").first
                with pg.expect_download(timeout=300_000) as dl:
                    link.click()
                dl.value.save_as(master)

            step("download", download)
            total = sum(steps.values())
            res["steps_s"] = {k: round(v, 2) for k, v in steps.items()}
            res["total_s"] = round(total, 2)
            res["total_with_server_start_s"] = round(total + startup_s, 2)
            res["master"] = {"file": pg.evaluate("() => document.querySelector('.version tr a.dl')?.getAttribute('download')"),
                             "bytes": master.stat().st_size, **meter(master)}
            m = res["master"]
            res["master"]["lufs_ok"] = abs(m["lufs"] - -14.0) <= 0.5
            res["master"]["true_peak_ok"] = m["true_peak_dbtp"] <= -1.0
            res["job_timings_s"] = jobs
            # responsiveness per step
            res["stalls_per_step"] = {k: stalls(pg, a, b) for k, (a, b) in marks.items() if k != "open"}
            res["frames_per_s_overall"] = round(pg.evaluate("() => __probe.frames / (performance.now() / 1000)"), 1)

            # 2: fader moves with no job running, then during a second mix job ("Re-run AI")
            movers = [n for n in names if n not in ("Kick", "Kick 2")][:4]
            idle0 = now_ms(pg)
            idle = fader_moves(pg, movers, until=lambda: False, every_s=args.move_every_s, max_moves=args.idle_moves)
            res["idle"] = {"stalls": stalls(pg, idle0, now_ms(pg)), "moves": _moves_summary(idle)}
            wait(pg, "() => !document.querySelector('#mix-btn').disabled", 60, "the mix button")
            pg.wait_for_timeout(1500)  # let the notes of the last move and the plan save settle
            r0 = now_ms(pg)
            t0 = time.perf_counter()
            pg.click("#mix-btn")
            wait(pg, "() => document.querySelector('#mix-btn').disabled", 10, "the re-run to start")
            busy = fader_moves(pg, movers, until=lambda: not pg.evaluate("() => document.querySelector('#mix-btn').disabled"),
                               every_s=args.move_every_s, max_moves=10_000)
            wait(pg, "() => !document.querySelector('#mix-btn').disabled", 1200, "the re-run to end")
            res["rerun_mix"] = {"seconds": round(time.perf_counter() - t0, 2), "stalls": stalls(pg, r0, now_ms(pg)),
                                "moves": _moves_summary(busy)}
            lat = pg.evaluate("() => { const c = window.mixlab.graph.context; return [c.baseLatency || 0, c.outputLatency || 0, c.state, c.sampleRate]; }")
            res["audio_context"] = {"base_latency_ms": round(1000 * lat[0], 1), "output_latency_ms": round(1000 * lat[1], 1),
                                    "state": lat[2], "sample_rate": lat[3]}
            res["page_errors"] = list(pg.errors)
        finally:
            context.close()
    return res


def _moves_summary(moves: list[dict]) -> dict[str, object]:
    return {"n": len(moves),
            "pointer_to_param_set_ms": summary_ms([m["inputMs"] for m in moves]),
            "handler_param_ms": summary_ms([m["appParamMs"] for m in moves]),
            "pointer_to_gain_90pct_ms": summary_ms([m["reachMs"] for m in moves]),
            "gain_not_reached": sum(m["reachMs"] is None for m in moves)}


# ------------------------------------------------------------------------------------- 3: big session

def run_big(args, work: Path, browser_part: bool) -> dict[str, object]:
    t = time.perf_counter()
    stems = write_many(work / "big-stems", args.big_tracks, duration_s=args.big_seconds, subtype="PCM_24", seed=7)
    size = sum(p.stat().st_size for p in stems)
    print(f"big: {len(stems)} stems x {args.big_seconds:g} s generated in {time.perf_counter() - t:.1f} s ({size / 2**20:.0f} MB)", flush=True)
    res: dict[str, object] = {"tracks": len(stems), "stem_seconds": args.big_seconds, "upload_mb": round(size / 2**20, 1)}
    with mixlab_server(work / "big-data") as (url, _), httpx.Client(base_url=url, timeout=600) as c:
        sid = c.post("/api/sessions", json={"name": "Big session", "kind": "stems"}).json()["id"]
        t0 = time.perf_counter()
        for p in stems:
            with open(p, "rb") as f:
                r = c.post(f"/api/sessions/{sid}/files", files={"file": (p.name, f, "audio/wav")})
            r.raise_for_status()
        res["upload_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        _wait_session_idle(c, sid, 3600)
        res["prepare_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        job = c.post(f"/api/sessions/{sid}/mix", json={}).json()
        job = _wait_job(c, job["id"], 3600)
        res["mix_job_s"] = round(time.perf_counter() - t0, 2)
        res["mix_job_engine_timings_s"] = (job.get("result") or {}).get("timings_s")
        print(f"  upload {res['upload_s']} s, prepare {res['prepare_s']} s, mix job {res['mix_job_s']} s", flush=True)

        plan = c.get(f"/api/sessions/{sid}/plan").json()
        tracks = [s for s in plan["sections"] if s.startswith("track:")]
        section = tracks[len(tracks) // 2]
        base = plan["sections"][section]["gain_db"]["value"]

        def post(value: float) -> tuple[float, dict]:
            plan["sections"][section]["gain_db"] = {"value": value, "source": "user", "reason": "set by you", "locked": False}
            t0 = time.perf_counter()
            r = c.post(f"/api/sessions/{sid}/notes", json={"plan": plan})
            ms = 1000 * (time.perf_counter() - t0)
            r.raise_for_status()
            return ms, r.json()

        first_ms, _ = post(base - 0.5)
        times, evaluate = [], []
        for k in range(args.notes_repeats):
            ms, doc = post(round(base - 1.0 - 0.5 * (k % 12), 1) if k % 2 else round(base + 0.5 + 0.5 * (k % 6), 1))
            times.append(ms)
            if isinstance(doc.get("timings_s"), dict) and "evaluate" in doc["timings_s"]:
                evaluate.append(1000 * doc["timings_s"]["evaluate"])
        res["notes_api"] = {"section": section, "first_request_ms": round(first_ms, 1), "request_ms": summary_ms(times),
                            "server_evaluate_ms": summary_ms(evaluate), "all_ms": [round(x, 1) for x in times],
                            "notes": len(doc.get("notes", []))}
        print(f"  POST /notes x{len(times)}: median {res['notes_api']['request_ms']['median']} ms, "
              f"p95 {res['notes_api']['request_ms']['p95']} ms (first {first_ms:.0f} ms)", flush=True)
        c.put(f"/api/sessions/{sid}/plan", json=c.get(f"/api/sessions/{sid}/plan").json())

        if browser_part:
            res["notes_page"] = _page_notes(args, url, sid, [s[6:] for s in tracks])
    return res


def _page_notes(args, url: str, sid: str, tracks: list[str]) -> dict[str, object]:
    with chromium() as browser:
        context, pg = new_page(browser)
        try:
            t0 = time.perf_counter()
            pg.goto(f"{url}/#/s/{sid}")
            wait(pg, "(n) => window.mixlab?.plan && document.querySelectorAll('.track').length === n && window.mixlab.notesVersion > 0",
                 300, "the plan, the rows and the first notes", len(tracks))
            plan_s = time.perf_counter() - t0
            decoded = True
            try:
                wait(pg, "(names) => names.every(n => window.mixlab.graph.tracks[n])", 600, "every preview decoded", tracks)
            except RuntimeError:
                decoded = False
            open_s = time.perf_counter() - t0
            pg.wait_for_timeout(1000)
            movers = tracks[1:5]
            rows = []
            s0 = now_ms(pg)
            for k in range(args.page_moves):
                v0 = pg.evaluate("() => window.mixlab.notesVersion")
                n0 = pg.evaluate("() => __probe.moves.length")
                click_fader(pg, movers[k % len(movers)])
                try:
                    wait(pg, "(v) => window.mixlab.notesVersion > v", 30, "the notes after a fader move", v0)
                except RuntimeError:
                    print("page state:", pg.evaluate("(n) => JSON.stringify({moves: __probe.moves.slice(n), v: window.mixlab.notesVersion, st: document.querySelector('.notes-status')?.textContent, focus: document.activeElement?.outerHTML?.slice(0, 200)})", n0))
                    raise
                m = pg.evaluate("(n) => __probe.moves[n] || null", n0)
                notes_ms = pg.evaluate("() => window.mixlab.metrics.controlToNotesMs")
                rows.append({"control_to_notes_ms": notes_ms,
                             "pointer_to_notes_ms": notes_ms + m["inputMs"] if m else None,
                             "pointer_to_param_set_ms": m["inputMs"] if m else None})
                pg.wait_for_timeout(int(1000 * args.page_gap_s))
            return {"open_to_plan_and_notes_s": round(plan_s, 2), "open_to_previews_decoded_s": round(open_s, 2),
                    "previews_decoded": decoded, "moves": len(rows),
                    "control_to_notes_ms": summary_ms([r["control_to_notes_ms"] for r in rows]),
                    "pointer_to_notes_ms": summary_ms([r["pointer_to_notes_ms"] for r in rows]),
                    "pointer_to_param_set_ms": summary_ms([r["pointer_to_param_set_ms"] for r in rows]),
                    "stalls": stalls(pg, s0, now_ms(pg)), "page_errors": list(pg.errors)}
        finally:
            context.close()


def _wait_job(c: httpx.Client, jid: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = c.get(f"/api/jobs/{jid}").json()
        if job["state"] in ("done", "failed"):
            if job["state"] == "failed":
                raise RuntimeError(f"job {jid} failed: {job.get('error')}")
            return job
        time.sleep(0.2)
    raise RuntimeError(f"job {jid} did not finish in {timeout_s} s")


def _wait_session_idle(c: httpx.Client, sid: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = c.get(f"/api/sessions/{sid}").json()
        busy = (s.get("job") or {}).get("state") in ("queued", "running")
        if not busy and all(t["ready"] or t["problem"] for t in s["tracks"]):
            return s
        time.sleep(0.3)
    raise RuntimeError(f"session {sid} not ready in {timeout_s} s")


# ------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stems", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--format", default="wav24", choices=["wav16", "wav24", "flac", "mp3"])
    ap.add_argument("--render-stems", default="default", choices=["default", "on", "off"],
                    help="the dialog's 'Processed stems (ZIP)' box: as the page sets it (default), or forced")
    ap.add_argument("--move-every-s", type=float, default=0.4)
    ap.add_argument("--idle-moves", type=int, default=20)
    ap.add_argument("--big-tracks", type=int, default=32)
    ap.add_argument("--big-seconds", type=float, default=240.0)
    ap.add_argument("--notes-repeats", type=int, default=30)
    ap.add_argument("--page-moves", type=int, default=20)
    ap.add_argument("--page-gap-s", type=float, default=0.5)
    ap.add_argument("--skip", default="", help="comma-separated: flow, big, page")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (stems, data, master)")
    ap.add_argument("--out", type=Path, default=OUT / "results.json")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not CHROMIUM.exists() and not {"flow", "page"} <= skip:
        sys.exit(f"{CHROMIUM} is missing: install Debian's chromium, or --skip flow,page")

    work = Path(tempfile.mkdtemp(prefix="mixlab-bench-web-"))
    started = dt.datetime.now()
    results: dict[str, object] = {"started": started.isoformat(timespec="seconds"), "args": {k: str(v) for k, v in vars(args).items()},
                                  "cpus": os.cpu_count(), "work": str(work)}
    try:
        if "flow" not in skip:
            results["flow"] = run_flow(args, work)
            print(json.dumps(results["flow"], indent=1), flush=True)
        if "big" not in skip:
            results["big"] = run_big(args, work, browser_part="page" not in skip)
            print(json.dumps(results["big"], indent=1), flush=True)
    finally:
        results["minutes"] = round((dt.datetime.now() - started).total_seconds() / 60, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(results, indent=1)
        args.out.write_text(text)
        (args.out.parent / f"results-{started:%Y%m%d-%H%M%S}.json").write_text(text)
        print(f"wrote {args.out}", flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
