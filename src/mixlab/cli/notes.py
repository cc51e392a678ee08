"""``mixlab notes``: timestamped feedback on a mix or a stems session, each note with its fix."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mixlab.cli.progress import ProgressBar
from mixlab.engine.profiles import genre_names
from mixlab.engine.targets import platform_names

STEMS_SUFFIXES = (".zip",)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "notes",
        help="Mix Notes: what is wrong with a mix or stems, where, why, and how to fix it",
        description="Mix Notes on a mix file or on stems (a folder or a ZIP): clipping, hum, masking, balance, "
        "tone, stereo, phase, loudness for the platforms... each with its time ranges, the tracks involved and a fix. "
        "On stems without --plan the notes are about the stems as delivered (summed at unity gain); with --plan "
        "they are about that MixPlan.",
    )
    p.add_argument("input", help="a mix (.wav, .flac, .aiff, .mp3) or a stems folder / ZIP")
    p.add_argument("--plan", help="a MixPlan (from mixlab mix --plan-out) to judge instead of the stems as delivered")
    p.add_argument("--genre", choices=genre_names(), help="genre conventions for tone, balance and dynamics")
    p.add_argument("--target", choices=platform_names(), default="spotify", help="platform the loudness notes are about")
    p.add_argument("--no-cache", action="store_true", help="analyse the stems again instead of using the cache")
    p.add_argument("--json", action="store_true", help="print the notes with their fixes as JSON")
    p.set_defaults(run=run_notes)


def run_notes(args: argparse.Namespace) -> int:
    from mixlab.engine.mixing import load_mix_plan
    from mixlab.engine.notes import NotesSession, notes_document

    path = Path(args.input)
    stems = path.is_dir() or path.suffix.lower() in STEMS_SUFFIXES
    plan = load_mix_plan(args.plan) if args.plan else None
    genre = args.genre or (plan.get("session", "genre") if plan is not None and plan.param("session", "genre") else None)
    bar = ProgressBar()
    t0 = time.perf_counter()
    try:
        if stems:
            session = NotesSession.from_stems(path, genre=genre, target=args.target, use_cache=not args.no_cache,
                                              progress=bar)
        else:
            session = NotesSession.from_mix(path, genre=genre, target=args.target)
    finally:
        bar.done()
    t1 = time.perf_counter()
    notes = session.evaluate(plan)
    t2 = time.perf_counter()
    doc = notes_document(session, notes, input_name=str(path),
                         timings_s={"analyse": round(t1 - t0, 3), "evaluate": round(t2 - t1, 4)})
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_notes(doc)
    return 0


def _mmss(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def print_notes(doc: dict) -> None:
    """Human output: grouped by severity, worst first, with mm:ss times."""
    notes = doc["notes"]
    counts = doc["counts"]
    print(f"{doc['input']}: {len(notes)} note(s) - {counts['problem']} problem, {counts['warn']} warn, "
          f"{counts['info']} info (genre {doc['genre']}, target {doc['target']})")
    for severity, heading in (("problem", "PROBLEMS"), ("warn", "WARNINGS"), ("info", "INFO")):
        group = [n for n in notes if n["severity"] == severity]
        if not group:
            continue
        print(f"\n{heading}")
        for n in group:
            where = ", ".join(f"{_mmss(r['start_s'])}-{_mmss(r['end_s'])}" for r in n["ranges"][:4]) or "whole"
            if len(n["ranges"]) > 4:
                where += f" (+{len(n['ranges']) - 4})"
            print(f"  [{n['code']}] {n['title']}  ({where})")
            print(f"      {n['message']}")
            fix = n["fix"]
            if fix.get("kind") == "patch":
                for c in fix["changes"]:
                    print(f"      fix: {c['section']}.{c['param']} -> {json.dumps(c['value'])}  ({c['reason']})")
            elif fix.get("kind") == "advice":
                print(f"      advice: {fix['text']}")
    if not notes:
        print("  nothing to report")
