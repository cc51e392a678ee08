"""``mixlab mix`` and ``mixlab render``: stems to a balanced mix, and a plan to the same mix again."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mixlab.cli.progress import ProgressBar
from mixlab.engine.plan import Plan
from mixlab.engine.profiles import genre_names
from mixlab.engine.targets import get_platform, platform_names
from mixlab.errors import InvalidParameterError


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mix",
        help="mix stems (a folder or a ZIP) into a balanced stereo mix, with an editable plan",
        description="Mix multitrack stems: levels solved across all tracks by role and genre, masking reduced with "
        "EQ, compression, panning, reverb and delay, leaving -6 dBTP of headroom for mastering. Every decision is "
        "written to the plan (--plan-out), where any value can be changed or locked and the AI re-solves around it "
        "(--plan-in).",
    )
    p.add_argument("stems", help="a folder of stems or a ZIP of them (WAV, AIFF, FLAC, MP3)")
    p.add_argument("-o", "--output", required=True, help="the mix (.wav, .flac or .aiff)")
    p.add_argument("--genre", choices=genre_names(), help="genre conventions for balance, dynamics and space")
    p.add_argument("--reference", help="a reference track whose tonal balance the mix bus leans toward")
    p.add_argument("--plan-in", help="a MixPlan to start from: its user-set and locked values are kept")
    p.add_argument("--plan-out", help="write the MixPlan here (JSON)")
    p.add_argument("--stems-out", help="also write each processed stem into this folder, named after its input")
    p.add_argument("--role", action="append", default=[], metavar="TRACK=ROLE",
                   help="override a track's role, e.g. --role 'Synth 3=bass' (repeatable)")
    p.add_argument("--lock", action="append", default=[], metavar="TRACK.PARAM=VALUE",
                   help="set and lock a track parameter, e.g. --lock 'Vox Lead.gain_db=3' (repeatable)")
    p.add_argument("--master-out", help="also master the mix into this file (.wav, .flac or .mp3)")
    p.add_argument("--target", choices=platform_names(), help="platform target for --master-out (default spotify)")
    p.add_argument("--bit-depth", choices=("16", "24", "32f"), default="24", help="bit depth of the mix and stems")
    p.add_argument("--sample-rate", type=int, help="session sample rate (default: the stems' most common rate)")
    p.add_argument("--no-cache", action="store_true", help="analyse every stem again instead of using the cache")
    p.add_argument("--max-duration-s", type=float, default=4 * 3600.0, help="refuse longer stems (default 4 h)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(run=run_mix)

    r = subparsers.add_parser(
        "render",
        help="render a MixPlan as it stands (nothing re-decided)",
        description="Render a MixPlan to a mix: the same plan and stems give the same samples every time.",
    )
    r.add_argument("plan", help="the MixPlan JSON")
    r.add_argument("-o", "--output", required=True, help="the mix (.wav, .flac or .aiff)")
    r.add_argument("--stems", help="the stems folder or ZIP (default: where the plan was made from)")
    r.add_argument("--stems-out", help="also write each processed stem into this folder")
    r.add_argument("--bit-depth", choices=("16", "24", "32f"), default="24", help="bit depth of the mix and stems")
    r.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    r.set_defaults(run=run_render)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split(item: str, sep: str, what: str) -> tuple[str, str]:
    if "=" not in item:
        raise InvalidParameterError(f"{what} '{item}': expected {sep}", code="cli.bad_assignment")
    left, right = item.rsplit("=", 1)
    return left.strip(), right.strip()


def apply_overrides(plan: Plan | None, roles: list[str], locks: list[str]) -> Plan | None:
    """Fold ``--role`` and ``--lock`` into a plan (a new one when there is none)."""
    if not roles and not locks:
        return plan
    from mixlab.engine.mix import MIX_SCHEMA, track_section

    plan = plan.copy() if plan is not None else Plan(schema=MIX_SCHEMA)
    for item in roles:
        track, role = _split(item, "TRACK=ROLE", "--role")
        plan.set_user(track_section(track), "role", role, "role set by the user")
    for item in locks:
        target, value = _split(item, "TRACK.PARAM=VALUE", "--lock")
        if "." not in target:
            raise InvalidParameterError(f"--lock '{item}': expected TRACK.PARAM=VALUE", code="cli.bad_assignment")
        track, name = target.rsplit(".", 1)
        section = track if track.startswith(("bus:", "session")) else track_section(track)
        plan.set_user(section, name, _value(value), "locked by the user")
    return plan


def run_mix(args: argparse.Namespace) -> int:
    from mixlab.engine.mixing import load_mix_plan, mix, notes_path_for, write_json, write_plan

    if args.target and not args.master_out:
        raise InvalidParameterError("--target applies to --master-out; add --master-out FILE", code="cli.target_without_master")
    plan_in = load_mix_plan(args.plan_in) if args.plan_in else None
    plan_in = apply_overrides(plan_in, args.role, args.lock)
    bar = ProgressBar()
    # --master-out masters a float copy: a mix whose kept output gain clips the file is not
    # mastered clipped (the notes say the file clips).
    float_copy = Path(args.output).with_name(f".{Path(args.output).stem}.float.wav") if args.master_out else None
    try:
        result = mix(args.stems, args.output, genre=args.genre, reference=args.reference, plan_in=plan_in,
                     stems_out=args.stems_out, bit_depth=args.bit_depth, sample_rate=args.sample_rate,
                     use_cache=not args.no_cache, max_duration_s=args.max_duration_s, float_copy=float_copy,
                     progress=bar)
        if args.plan_out:
            write_plan(result.plan, args.plan_out)
        notes_path = notes_path_for(Path(args.plan_out or args.output))
        write_json(notes_path, result.notes)
        result.notes_file = str(notes_path)
        if args.master_out:
            result.master = _master(args, bar, float_copy or Path(args.output))
    finally:
        bar.done()
        if float_copy is not None:
            float_copy.unlink(missing_ok=True)
    if args.json:
        print(json.dumps({**result.to_dict(), "plan": result.plan.to_dict()}, indent=2, default=str))
    else:
        _print_summary(result)
    return 0


def _master(args: argparse.Namespace, bar: ProgressBar, source: Path) -> list[dict[str, Any]]:
    from mixlab.engine.master import OutputSpec, TargetJob, master

    out = Path(args.master_out)
    if out.suffix.lower() not in (".wav", ".flac", ".mp3"):
        raise InvalidParameterError(f"{out}: choose a master ending in .wav, .flac or .mp3", code="audio.unsupported_format")
    job = TargetJob(get_platform(args.target or "spotify"), (OutputSpec(out, "24"),))
    results = master(source, [job], reference_path=args.reference, genre=args.genre, progress=bar)
    return [o for r in results for o in r.outputs]


def run_render(args: argparse.Namespace) -> int:
    from mixlab.engine.mixing import load_mix_plan, render

    plan = load_mix_plan(args.plan)
    bar = ProgressBar()
    try:
        result = render(plan, args.output, stems=args.stems, stems_out=args.stems_out, bit_depth=args.bit_depth,
                        progress=bar)
    finally:
        bar.done()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        m = result.measured
        print(f"{result.output}: {m['integrated_lufs']:.1f} LUFS, {m['true_peak_dbtp']:.1f} dBTP, {m['duration_s']:.1f} s")
        for s in result.stems:
            print(f"  stem {s}")
    return 0


def _print_summary(result) -> None:
    plan = result.plan
    session = plan.context.get("session", {})
    print(f"{session.get('stems')} stems, {session.get('duration_s')} s at {session.get('sample_rate')} Hz; "
          f"genre {plan.get('session', 'genre')}, {plan.get('session', 'tempo_bpm')} BPM")
    for c in session.get("resampled", []):
        print(f"  resampled {c['stem']}: {c['from_rate']} -> {c['to_rate']} Hz")
    for ig in session.get("ignored", []):
        print(f"  ignored {ig['file']}: {ig['why']}")
    for t in plan.context.get("tracks", []):
        s = t["section"]
        if t["silent"]:
            print(f"  {t['name']}: silent, left out")
            continue
        eq = plan.get(s, "eq")
        print(f"  {t['name']:<24} {plan.get(s, 'role'):<14} gain {plan.get(s, 'gain_db'):+6.1f} dB  "
              f"pan {plan.get(s, 'pan'):+.2f}  comp {plan.get(s, 'comp_ratio'):.1f}:1  eq {len(eq)} band(s)")
    m = result.measured
    print(f"{result.output}: {m['integrated_lufs']:.1f} LUFS, {m['true_peak_dbtp']:.1f} dBTP "
          f"(output gain {plan.get('bus:mix', 'output_gain_db'):+.1f} dB)")
    for s in result.stems:
        print(f"  stem {s}")
    for o in result.master:
        print(f"master {o['file']}: {o['integrated_lufs']:.2f} LUFS, {o['true_peak_dbtp']:.2f} dBTP")
    if result.notes is not None:
        c = result.notes["counts"]
        print(f"notes: {c['problem']} problem, {c['warn']} warn, {c['info']} info -> {result.notes_file} "
              "(mixlab notes STEMS --plan PLAN to read them)")
