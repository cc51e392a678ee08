"""Benchmark "the notes agree with the mix" (issue 13): on a fresh AI mix of each real song, no warn
or problem note asks for a change of more than 6 dB to a value the AI set.

Usage (from the repository root, after ``bench/render_stems.py``)::

    .venv/bin/python bench/bench_agree.py [--songs ID ...] [--seconds S] [--snapshot [REV]]
    .venv/bin/python bench/bench_agree.py --self-test     # the counting logic on a synthetic plan, instantly

Per song (the ``NN-<name>.wav`` stems in ``bench/songs/stems/<id>/``, not ``mix.wav``):

1. the stems are hard-linked (copied if that fails) into ``bench/out/agree/<id>/stems/``, or with
   ``--seconds S`` their first S seconds are written there (32-bit float);
2. ``mixlab mix stems/ -o mix.wav --plan-out plan.json --genre G --no-cache`` runs in a child
   process, exactly as a user would; it writes the notes of its plan to ``plan.notes.json``;
3. every note of severity warn or problem whose fix is a plan patch is checked, change by change,
   against the plan the AI made, where that parameter's source is ``ai``:

   * a numeric dB parameter (name ending ``_db``: ``gain_db``, ``comp_makeup_db``, ``comp_threshold_db``,
     ``deess_threshold_db``, ``reverb_send_db``, ...): the change is |new - old| dB;
   * an EQ band list (``eq``): the new list is matched band by band against the old one (an
     identical band is unchanged; else an old band of the same kind within a third of an octave, the
     rule ``mixlab.engine.notes`` replaces bands by, is the band it changes; else it is added, from
     0 dB; an old band left unmatched is removed, to 0 dB); each band's change is |gain_new -
     gain_old| dB;
   * anything else (pan, offsets, mutes, frequencies) is counted but has no size in dB.

   A change of more than ``LIMIT_DB`` (6 dB) is a violation; a note with at least one is a violating
   note. Changes to parameters the user set, parameters absent from the plan and dB parameters the
   AI left off (``None``: no de-esser, no send) are counted apart and never violate.

Nothing is taken from mixlab but the two files it writes. Results: a table on stdout,
``bench/out/agree.json`` and a timestamped copy in ``bench/out/agree/``. The exit code is 0 whatever
the result (1 only when the self-test fails).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402
from bench_mix import DEFAULT_GENRE, GENRE, STEMS_DIR, available_songs  # noqa: E402

OUT_DIR = bl.OUT_DIR / "agree"
RESULT_JSON = bl.OUT_DIR / "agree.json"
LIMIT_DB = 6.0                       # the issue: no fix moves an AI value by more than this
SEVERITIES_CHECKED = ("warn", "problem")
SEVERITIES = ("info", "warn", "problem")
EQ_PARAMS = ("eq",)
SAME_BAND_OCTAVES = 1.0 / 3.0        # mixlab.engine.notes._with_bands: a band replaces one of its kind this near
EPS = 1e-9
SUBPROCESS_TIMEOUT_S = 3600


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- the comparison
def plan_param(plan: dict, section: str, name: str) -> dict | None:
    """``{"value", "source", ...}`` of ``section.name`` in a plan document, or None."""
    p = plan.get("sections", {}).get(section, {}).get(name)
    if p is None:
        return None
    if not isinstance(p, dict) or "value" not in p:  # a bare value in a hand-edited plan is the user's
        return {"value": p, "source": "user"}
    return p


def _num(x) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _band_label(b: dict) -> str:
    f = _num(b.get("freq_hz"))
    where = "?" if f is None else (f"{f / 1000:.3g} kHz" if f >= 1000 else f"{f:.0f} Hz")
    return f"{b.get('kind', '?')}@{where}"


def _same_band(a: dict, b: dict) -> bool:
    if a.get("kind") != b.get("kind"):
        return False
    for k in ("freq_hz", "gain_db", "q"):
        x, y = _num(a.get(k)), _num(b.get(k))
        if (x is None) != (y is None) or (x is not None and abs(x - y) > 1e-6):
            return False
    return True


def eq_band_changes(old: list, new: list) -> list[dict]:
    """The bands of ``new`` that differ from ``old``: each with old/new gain and the size in dB.

    An identical band is unchanged. Otherwise a new band changes the nearest old band of the same
    kind within a third of an octave (how ``_with_bands`` in mixlab's notes replaces bands), or is
    added (from 0 dB); an old band nothing matches is removed (to 0 dB).
    """
    pool = [dict(b) for b in (old or []) if isinstance(b, dict)]
    out = []
    fresh = []
    for b in new or []:
        if not isinstance(b, dict):
            continue
        hit = next((k for k, o in enumerate(pool) if _same_band(o, b)), None)
        if hit is not None:
            pool.pop(hit)
        else:
            fresh.append(b)
    for b in fresh:
        f = _num(b.get("freq_hz"))
        best, best_d = None, None
        for k, o in enumerate(pool):
            fo = _num(o.get("freq_hz"))
            if o.get("kind") != b.get("kind") or f is None or fo is None or f <= 0 or fo <= 0:
                continue
            d = abs(math.log2(f / fo))
            if d < SAME_BAND_OCTAVES and (best_d is None or d < best_d):
                best, best_d = k, d
        g_new = _num(b.get("gain_db")) or 0.0
        if best is None:
            out.append(dict(what="added", band=_band_label(b), old_gain_db=None, new_gain_db=g_new, size_db=abs(g_new)))
        else:
            o = pool.pop(best)
            g_old = _num(o.get("gain_db")) or 0.0
            lo, lb = _band_label(o), _band_label(b)
            out.append(dict(what="changed", band=lo if lo == lb else f"{lo} -> {lb}", old_gain_db=g_old,
                            new_gain_db=g_new, size_db=abs(g_new - g_old)))
    for o in pool:
        g_old = _num(o.get("gain_db")) or 0.0
        out.append(dict(what="removed", band=_band_label(o), old_gain_db=g_old, new_gain_db=None, size_db=abs(g_old)))
    return out


def classify_change(plan: dict, change: dict) -> list[dict]:
    """One fix change against the plan: a list of rows (one per EQ band changed, else one).

    Each row: ``kind`` (``db`` | ``eq`` | ``other`` | ``user`` | ``absent`` | ``off``), ``section``,
    ``param``, ``old``, ``new``, ``size_db`` (None when not a dB change), ``violation``.
    """
    section, name, new = change.get("section"), change.get("param"), change.get("value")
    base = dict(section=section, param=name)
    p = plan_param(plan, section, name)
    if p is None:
        return [dict(base, kind="absent", old=None, new=new, size_db=None, violation=False)]
    old = p.get("value")
    if p.get("source") != "ai":
        return [dict(base, kind="user", old=old, new=new, size_db=None, violation=False)]
    if name in EQ_PARAMS and isinstance(new, list):
        rows = []
        for c in eq_band_changes(old if isinstance(old, list) else [], new):
            rows.append(dict(base, kind="eq", band=c["band"], what=c["what"], old=c["old_gain_db"],
                             new=c["new_gain_db"], size_db=c["size_db"], violation=c["size_db"] > LIMIT_DB + EPS))
        return rows or [dict(base, kind="eq", band=None, what="unchanged", old=None, new=None, size_db=0.0,
                             violation=False)]
    if str(name).endswith("_db"):
        o, n = _num(old), _num(new)
        if o is None or n is None:  # off (None) on either side: no size in dB
            return [dict(base, kind="off", old=old, new=new, size_db=None, violation=False)]
        size = abs(n - o)
        return [dict(base, kind="db", old=o, new=n, size_db=size, violation=size > LIMIT_DB + EPS)]
    return [dict(base, kind="other", old=old, new=new, size_db=None, violation=False)]


def judge_notes(plan: dict, notes_doc: dict) -> dict:
    """Check every warn/problem note's plan patch against ``plan`` (see the module docstring)."""
    notes = notes_doc.get("notes", [])
    counts = {s: sum(1 for n in notes if n.get("severity") == s) for s in SEVERITIES}
    kinds = dict(db=0, eq=0, other=0, user=0, absent=0, off=0)
    checked = advice = 0
    sizes: list[float] = []
    violating = []
    for i, n in enumerate(notes):
        if n.get("severity") not in SEVERITIES_CHECKED:
            continue
        fix = n.get("fix") or {}
        if fix.get("kind") != "patch":
            advice += 1
            continue
        checked += 1
        rows = [r for c in fix.get("changes", []) for r in classify_change(plan, c)]
        for r in rows:
            kinds[r["kind"]] += 1
            if r["size_db"] is not None:
                sizes.append(r["size_db"])
        bad = [r for r in rows if r["violation"]]
        if bad:
            violating.append(dict(index=i, code=n.get("code"), severity=n.get("severity"), title=n.get("title"),
                                  tracks=n.get("tracks", []), changes=bad, max_size_db=max(r["size_db"] for r in bad)))
    codes: dict[str, dict[str, int]] = {}
    for n in notes:
        codes.setdefault(n.get("code"), {s: 0 for s in SEVERITIES})[n.get("severity")] += 1
    return dict(counts=counts, codes=codes, patch_notes_checked=checked, advice_notes=advice, change_kinds=kinds,
                db_changes=len(sizes), max_change_db=max(sizes) if sizes else None,
                violating_notes=len(violating), violating_changes=sum(len(v["changes"]) for v in violating),
                violations=violating)


# --------------------------------------------------------------------------- per song
def prepare_stems(sid: str, dest: Path, seconds: float | None) -> tuple[list[str], float]:
    """The song's ``NN-*.wav`` stems in ``dest`` (hard links, or the first ``seconds`` of each)."""
    src = STEMS_DIR / sid
    man = json.loads((src / "stems_manifest.json").read_text())
    files = [t["file"] for t in man["tracks"] if t.get("file")]
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    duration = float(man["duration_s"])
    for f in files:
        if seconds is None:
            try:
                os.link(src / f, dest / f)
            except OSError:
                shutil.copy2(src / f, dest / f)
        else:
            with sf.SoundFile(str(src / f)) as r:
                x = r.read(int(round(seconds * r.samplerate)), dtype="float32", always_2d=True)
                sf.write(str(dest / f), x, r.samplerate, subtype="FLOAT")
                duration = x.shape[0] / r.samplerate
    return files, duration


def run_mixlab(mixlab_cmd: list[str], stems: Path, d: Path, *, genre: str, help_text: str, use_cache: bool) -> dict:
    cmd = mixlab_cmd + ["mix", str(stems), "-o", str(d / "mix.wav"), "--plan-out", str(d / "plan.json"),
                        "--genre", genre]
    if not use_cache and "--no-cache" in help_text:
        cmd.append("--no-cache")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    (d / "mixlab.stdout.txt").write_text(res.stdout)
    (d / "mixlab.stderr.txt").write_text(res.stderr)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"mixlab mix: exit {res.returncode}: " + " | ".join(tail))
    return dict(wall_s=wall, command="mixlab " + " ".join(cmd[len(mixlab_cmd):]))


def bench_song(sid: str, *, mixlab_cmd: list[str], help_text: str, genre: str, seconds: float | None,
               use_cache: bool) -> dict:
    d = OUT_DIR / sid
    d.mkdir(parents=True, exist_ok=True)
    for f in ("plan.json", "plan.notes.json", "mix.wav"):
        (d / f).unlink(missing_ok=True)
    files, duration = prepare_stems(sid, d / "stems", seconds)
    log(f"== {sid}: {len(files)} stems, {duration:.1f} s, genre {genre}")
    out = dict(song=sid, genre=genre, num_stems=len(files), duration_s=duration)
    try:
        r = run_mixlab(mixlab_cmd, d / "stems", d, genre=genre, help_text=help_text, use_cache=use_cache)
    except Exception as exc:
        log(f"  mixlab: FAILED: {exc}")
        out["error"] = str(exc)
        return out
    out.update(r)
    plan = json.loads((d / "plan.json").read_text())
    notes_path = d / "plan.notes.json"
    if not notes_path.exists():
        out["error"] = f"no {notes_path.name} next to the plan"
        log(f"  {out['error']}")
        return out
    out.update(judge_notes(plan, json.loads(notes_path.read_text())))
    c = out["counts"]
    log(f"  mixlab mix {r['wall_s']:.1f} s; notes {c['problem']} problem, {c['warn']} warn, {c['info']} info; "
        f"{out['patch_notes_checked']} patch fixes checked, {out['violating_notes']} violating")
    return out


# --------------------------------------------------------------------------- report
def _v(x) -> str:
    if x is None:
        return "off"
    if isinstance(x, float):
        return f"{x:+.1f}"
    return json.dumps(x) if not isinstance(x, str) else x


def change_text(r: dict) -> str:
    where = f"{r['section']}.{r['param']}"
    if r["kind"] == "eq":
        if r["what"] == "added":
            return f"{where}: new band {r['band']} {_v(r['new'])} dB ({r['size_db']:.1f} dB)"
        if r["what"] == "removed":
            return f"{where}: band {r['band']} {_v(r['old'])} dB removed ({r['size_db']:.1f} dB)"
        return f"{where}: band {r['band']} {_v(r['old'])} -> {_v(r['new'])} dB ({r['size_db']:.1f} dB)"
    return f"{where} {_v(r['old'])} -> {_v(r['new'])} dB ({r['size_db']:.1f} dB)"


def print_table(results: list[dict]) -> None:
    hdr = (f"{'song':17s} {'stems':>5s} {'len s':>6s} {'problem':>7s} {'warn':>5s} {'info':>5s} {'patches':>7s} "
           f"{'dB chg':>6s} {'max dB':>6s} {'viol notes':>10s} {'viol chg':>8s} {'time s':>6s}")
    log(hdr)
    log("-" * len(hdr))
    tot = dict(problem=0, warn=0, info=0, patches=0, dbc=0, vn=0, vc=0)
    mx = None
    for s in results:
        if "error" in s:
            log(f"{s['song']:17s} {s['num_stems']:5d} {s['duration_s']:6.1f}  ERROR: {s['error']}")
            continue
        c = s["counts"]
        log(f"{s['song']:17s} {s['num_stems']:5d} {s['duration_s']:6.1f} {c['problem']:7d} {c['warn']:5d} {c['info']:5d} "
            f"{s['patch_notes_checked']:7d} {s['db_changes']:6d} "
            f"{'' if s['max_change_db'] is None else format(s['max_change_db'], '.1f'):>6s} "
            f"{s['violating_notes']:10d} {s['violating_changes']:8d} {s['wall_s']:6.1f}")
        for k, key in (("problem", "problem"), ("warn", "warn"), ("info", "info")):
            tot[k] += c[key]
        tot["patches"] += s["patch_notes_checked"]
        tot["dbc"] += s["db_changes"]
        tot["vn"] += s["violating_notes"]
        tot["vc"] += s["violating_changes"]
        if s["max_change_db"] is not None:
            mx = s["max_change_db"] if mx is None else max(mx, s["max_change_db"])
    log("-" * len(hdr))
    log(f"{'total':17s} {'':5s} {'':6s} {tot['problem']:7d} {tot['warn']:5d} {tot['info']:5d} {tot['patches']:7d} "
        f"{tot['dbc']:6d} {'' if mx is None else format(mx, '.1f'):>6s} {tot['vn']:10d} {tot['vc']:8d}")
    log()
    log("warn and problem notes by code:")
    for s in results:
        if "error" in s:
            continue
        codes = [f"{k} {v['problem']}p/{v['warn']}w" for k, v in sorted(s["codes"].items()) if v["problem"] or v["warn"]]
        log(f"  {s['song']:17s} {', '.join(codes) or '-'}")
    log()
    for s in results:
        if "error" in s or not s["violations"]:
            continue
        log(f"{s['song']}: {s['violating_notes']} violating note(s)")
        for v in s["violations"]:
            log(f"  [{v['severity']}] {v['code']}: {v['title']}")
            for r in v["changes"]:
                log(f"      {change_text(r)}")
    skipped = {k: sum(s["change_kinds"][k] for s in results if "error" not in s) for k in ("user", "absent", "off", "other")}
    by_code = summarise(results)["violating_notes_by_code"]
    if by_code:
        log("violating notes by code: " + ", ".join(f"{k} {v}" for k, v in sorted(by_code.items(), key=lambda x: -x[1])))
    log(f"changes not sized in dB: {skipped['other']} other params (pan, offsets, mutes, frequencies), "
        f"{skipped['off']} dB params off on one side, {skipped['user']} on user-set params, "
        f"{skipped['absent']} on params absent from the plan")


def summarise(results: list[dict]) -> dict:
    ok = [s for s in results if "error" not in s]
    sizes = [s["max_change_db"] for s in ok if s["max_change_db"] is not None]
    by_code: dict[str, int] = {}
    for s in ok:
        for v in s["violations"]:
            by_code[v["code"]] = by_code.get(v["code"], 0) + 1
    return dict(songs=len(ok), failed=[s["song"] for s in results if "error" in s],
                counts={k: sum(s["counts"][k] for s in ok) for k in SEVERITIES},
                patch_notes_checked=sum(s["patch_notes_checked"] for s in ok),
                db_changes=sum(s["db_changes"] for s in ok),
                max_change_db=max(sizes) if sizes else None,
                violating_notes=sum(s["violating_notes"] for s in ok),
                violating_changes=sum(s["violating_changes"] for s in ok),
                violating_notes_by_code=by_code,
                met=bool(ok) and not any(s["violating_notes"] for s in ok) and len(ok) == len(results))


# --------------------------------------------------------------------------- self-test
def _check(ok: bool, detail=None) -> None:
    if not ok:
        raise RuntimeError(f"self-test failed: {detail!r}")


def self_test() -> int:
    """The counting logic on a synthetic plan and notes, against answers worked out by hand."""
    def p(value, source="ai"):
        return dict(value=value, source=source, reason="", locked=False)

    def note(code, sev, *changes, kind="patch"):
        fix = dict(kind=kind, changes=[dict(section=s, param=n, value=v, reason="") for s, n, v in changes])
        if kind == "advice":
            fix = dict(kind="advice", text="by ear")
        return dict(code=code, severity=sev, title=code, tracks=[], fix=fix)

    eq_a = [dict(kind="peak", freq_hz=1000.0, gain_db=-2.0, q=1.4), dict(kind="low_shelf", freq_hz=120.0, gain_db=1.0, q=0.7)]
    plan = dict(schema="mixlab.mixplan/1", sections={
        "track:a": dict(gain_db=p(0.0), eq=p(eq_a), pan=p(0.3), deess_threshold_db=p(None), comp_makeup_db=p(2.0)),
        "track:u": dict(gain_db=p(0.0, "user"), eq=p([], "user")),
        "bus:mix": dict(eq=p([])),
    })
    notes = [
        note("level_balance", "warn", ("track:a", "gain_db", 8.0)),                 # 0 -> +8: one violation
        note("level_balance", "warn", ("track:a", "gain_db", 5.0)),                 # 0 -> +5: none
        note("level_balance", "problem", ("track:a", "gain_db", -6.0)),             # exactly 6: none (more than 6)
        note("buried_lead", "problem", ("track:u", "gain_db", 10.0)),               # a user value: not counted
        note("level_balance", "info", ("track:a", "gain_db", 12.0)),                # info: not checked
        note("masking", "warn", ("track:a", "eq", eq_a + [dict(kind="peak", freq_hz=3000.0, gain_db=-9.0, q=1.4)])),
        note("masking", "warn", ("track:a", "eq", [dict(kind="peak", freq_hz=1100.0, gain_db=-7.0, q=1.4), eq_a[1]])),
        note("hum", "warn", ("track:u", "eq", [dict(kind="peak", freq_hz=50.0, gain_db=-24.0, q=8.0)])),
        note("dull", "warn", ("bus:mix", "eq", [dict(kind="high_shelf", freq_hz=10000.0, gain_db=6.5, q=0.7)])),
        note("stereo_imbalance", "warn", ("track:a", "pan", 0.15)),
        note("sibilance", "warn", ("track:a", "deess_threshold_db", -30.0), ("track:a", "comp_makeup_db", 9.5)),
        note("clipping", "problem", kind="advice"),
        note("silent_track", "warn", ("track:gone", "mute", True)),
    ]
    r = judge_notes(plan, dict(notes=notes))
    _check(r["counts"] == dict(info=1, warn=9, problem=3), r["counts"])
    _check(r["advice_notes"] == 1 and r["patch_notes_checked"] == 11, r)
    got = [(v["index"], [(c["param"], round(c["size_db"], 3)) for c in v["changes"]]) for v in r["violations"]]
    want = [(0, [("gain_db", 8.0)]), (5, [("eq", 9.0)]), (8, [("eq", 6.5)]), (10, [("comp_makeup_db", 7.5)])]
    _check(got == want, got)
    _check(r["violating_notes"] == 4 and r["violating_changes"] == 4, r)
    # the band moved from 1 kHz -2 dB to 1.1 kHz -7 dB (same kind, within 1/3 octave) is a 5 dB change
    rows = classify_change(plan, notes[6]["fix"]["changes"][0])
    _check([(x["what"], x["size_db"]) for x in rows] == [("changed", 5.0)], rows)
    _check(r["change_kinds"] == dict(db=4, eq=3, other=1, user=2, absent=1, off=1), r["change_kinds"])
    _check(abs(r["max_change_db"] - 9.0) < 1e-9, r["max_change_db"])
    # a removed band counts its gain; a band identical in both lists is no change
    _check(eq_band_changes(eq_a, eq_a[:1]) == [dict(what="removed", band="low_shelf@120 Hz", old_gain_db=1.0,
                                                    new_gain_db=None, size_db=1.0)])
    _check(eq_band_changes(eq_a, list(reversed(eq_a))) == [])
    # a plain value in the plan is the user's
    _check(classify_change(dict(sections={"s": {"gain_db": 0.0}}), dict(section="s", param="gain_db", value=9.0))[0]["kind"]
           == "user")
    log("self-test passed: AI gain 0 -> +8 dB is one violation, +5 and exactly -6 none; user-set params, info notes, "
        "advice and absent params not counted; EQ bands matched (added 9 dB, moved -2 -> -7 dB = 5 dB, removed, "
        "reordered); off -> on not sized")
    return 0


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", nargs="*", help="song ids (default: every song with stems)")
    ap.add_argument("--seconds", type=float, help="mix only the first S seconds of each stem (default: the whole song)")
    ap.add_argument("--genre", help="one genre for every song (default: bench_mix.py's per song)")
    ap.add_argument("--cache", action="store_true", help="let mixlab use its analysis cache (default --no-cache)")
    ap.add_argument("--snapshot", nargs="?", const="HEAD", metavar="REV",
                    help="benchmark mixlab's src/ as committed at REV (default HEAD), not the working tree")
    ap.add_argument("--mixlab-cmd", help="run this command instead of .venv/bin/mixlab (e.g. a stand-in for testing)")
    ap.add_argument("--self-test", action="store_true", help="check the counting logic on a synthetic plan and exit")
    args = ap.parse_args(argv)
    if args.self_test:
        try:
            return self_test()
        except RuntimeError as exc:
            log(str(exc))
            return 1
    mixlab_src = bl.snapshot_src(args.snapshot) if args.snapshot else bl.REPO_DIR / "src"
    if args.snapshot:
        log(f"mixlab source: snapshot of {args.snapshot} in {mixlab_src}")

    songs = available_songs()
    if not songs:
        log("no stems in bench/songs/stems/: run bench/render_stems.py first")
        return 0
    if args.songs:
        missing = set(args.songs) - set(songs)
        if missing:
            log(f"no stems for {sorted(missing)}; have {songs}")
        songs = [s for s in songs if s in args.songs]

    if args.mixlab_cmd:
        mixlab_cmd, mixlab_note = shlex.split(args.mixlab_cmd), f"--mixlab-cmd {args.mixlab_cmd}"
    else:
        mixlab_cmd, mixlab_note = bl.find_mixlab("mix")
    if mixlab_cmd is None:
        log(f"mixlab: `mixlab mix --help` does not work: {mixlab_note}; nothing to judge")
        return 0
    help_text = subprocess.run(mixlab_cmd + ["mix", "--help"], capture_output=True, text=True).stdout
    log(f"mixlab: {' '.join(mixlab_cmd)} ({mixlab_note})")
    versions = dict(repo=subprocess.run(["git", "-C", str(bl.REPO_DIR), "describe", "--always", "--dirty"],
                                        capture_output=True, text=True).stdout.strip(),
                    mixlab_source=(f"git {args.snapshot} snapshot" if args.snapshot else "working tree")
                    + f": {mixlab_src}")
    res = subprocess.run(mixlab_cmd + ["--version"], capture_output=True, text=True)
    versions["mixlab"] = (res.stdout or res.stderr).strip()

    started = dt.datetime.now().astimezone()
    t0 = time.monotonic()
    results = []
    for sid in songs:
        results.append(bench_song(sid, mixlab_cmd=mixlab_cmd, help_text=help_text,
                                  genre=args.genre or GENRE.get(sid, DEFAULT_GENRE), seconds=args.seconds,
                                  use_cache=args.cache))
    log()
    print_table(results)
    summary = summarise(results)
    log()
    log(f"bar (no warn/problem note asks for more than {LIMIT_DB:g} dB on an AI value, on every song): "
        f"{'MET' if summary['met'] else 'NOT MET'} ({summary['violating_notes']} violating notes over "
        f"{summary['songs']} songs; {time.monotonic() - t0:.0f} s)")

    out = dict(schema="mixlab.bench.agree/1", started=started.isoformat(timespec="seconds"),
               finished=dt.datetime.now().astimezone().isoformat(timespec="seconds"), versions=versions,
               mixlab=mixlab_note,
               settings=dict(limit_db=LIMIT_DB, severities=SEVERITIES_CHECKED, seconds=args.seconds,
                             genre=args.genre, cache=args.cache),
               songs=results, summary=summary)
    bl.write_json(RESULT_JSON, out)
    bl.write_json(OUT_DIR / f"agree-{started.strftime('%Y%m%d-%H%M%S')}.json", out)
    log(f"\nwrote {RESULT_JSON} (and {OUT_DIR.relative_to(bl.REPO_DIR)}/agree-{started.strftime('%Y%m%d-%H%M%S')}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
