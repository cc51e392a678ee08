"""``mixlab master``: platform masters of a stereo mix, to a reference or a genre profile."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mixlab.cli.progress import ProgressBar
from mixlab.engine.master import MASTER_SCHEMA, OutputSpec, TargetJob, UserSettings, master
from mixlab.engine.plan import load_plan
from mixlab.engine.profiles import genre_names
from mixlab.engine.targets import PlatformTarget, custom_target, get_platform, platform_names
from mixlab.errors import InvalidParameterError

OUTPUT_FORMATS = ("wav", "flac", "mp3")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "master",
        help="master a stereo mix for streaming platforms, a reference or a genre",
        description="Master a finished stereo mix: matching EQ toward a reference or genre profile, gentle "
        "multiband dynamics where needed, mono-safe low end, a true-peak limiter, and loudness hit exactly.",
    )
    p.add_argument("input", help="the mix: WAV, AIFF, FLAC, MP3 or OGG")
    p.add_argument("-o", "--output", required=True,
                   help="output file (.wav, .flac or .mp3), or a folder with --all-targets")
    p.add_argument("--target", choices=platform_names(), help="platform target (default: spotify, "
                   "or the reference's loudness when --reference is given)")
    p.add_argument("--all-targets", action="store_true", help="write one master per platform into the -o folder")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="wav", help="file format with --all-targets (default wav)")
    p.add_argument("--lufs", type=float, help="custom integrated loudness target (LUFS)")
    p.add_argument("--ceiling-dbtp", type=float, help="custom true-peak ceiling (dBTP)")
    p.add_argument("--reference", help="a reference track whose tone, width and loudness to match")
    p.add_argument("--genre", choices=genre_names(), help="genre profile for the tonal target (default: balanced)")
    p.add_argument("--bit-depth", choices=("16", "24", "32f"), default="24", help="WAV/FLAC bit depth (16 is dithered)")
    p.add_argument("--amount", type=float, help="overall strength of the AI's changes, 0-100 %% (default 100)")
    p.add_argument("--eq-amount", type=float, help="how far the EQ goes toward the tonal target, 0-100 %%")
    p.add_argument("--width", type=float, help="stereo width of mids and highs (1.0 = as mixed, 0 = mono)")
    p.add_argument("--plan-in", help="a MasterPlan JSON to start from (its user and locked values are kept)")
    p.add_argument("--plan-out", help="write the MasterPlan(s) here (JSON)")
    p.add_argument("--report", help="write a JSON report of every output's measured loudness and true peak")
    p.add_argument("--max-duration-s", type=float, default=4 * 3600.0, help="refuse longer inputs (default 4 h)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(run=run)


def _percent(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not 0.0 <= value <= 100.0:
        raise InvalidParameterError(f"{name} must be between 0 and 100 %, got {value:g}", code="cli.bad_percent")
    return value / 100.0


def _resolve_target(args: argparse.Namespace) -> PlatformTarget | None:
    if (args.lufs is None) != (args.ceiling_dbtp is None):
        raise InvalidParameterError("give both --lufs and --ceiling-dbtp for a custom target", code="cli.custom_target")
    if args.lufs is not None:
        if args.target:
            raise InvalidParameterError("choose --target or --lufs/--ceiling-dbtp, not both", code="cli.custom_target")
        return custom_target(args.lufs, args.ceiling_dbtp)
    if args.target:
        return get_platform(args.target)
    if args.reference:
        return PlatformTarget(name="reference", label="the reference's loudness", target_lufs=float("nan"),
                              ceiling_dbtp=-1.0, source="loudness of the reference track, at most -1 dBTP")
    return get_platform("spotify")


def build_jobs(args: argparse.Namespace) -> list[TargetJob]:
    out = Path(args.output)
    if args.all_targets:
        if args.target or args.lufs is not None:
            raise InvalidParameterError("--all-targets writes every platform; drop --target/--lufs", code="cli.all_targets")
        if out.suffix.lower() in (".wav", ".flac", ".mp3"):
            raise InvalidParameterError(f"{out}: with --all-targets, -o names a folder", code="cli.all_targets")
        if not out.exists():
            out.mkdir(parents=True)
            args.created_folder = out
        stem = Path(args.input).stem
        return [
            TargetJob(get_platform(name), (OutputSpec(out / f"{stem}.{name}.{args.format}", args.bit_depth),))
            for name in platform_names()
        ]
    if out.suffix.lower().lstrip(".") not in OUTPUT_FORMATS:
        raise InvalidParameterError(
            f"{out}: choose an output ending in .wav, .flac or .mp3", code="audio.unsupported_format", file=str(out)
        )
    if args.bit_depth == "32f" and out.suffix.lower() != ".wav":
        raise InvalidParameterError("32-bit float output is WAV only", code="cli.bit_depth")
    if not out.parent.exists():
        raise InvalidParameterError(f"{out.parent}: folder does not exist", code="cli.no_folder")
    return [TargetJob(_resolve_target(args), (OutputSpec(out, args.bit_depth),))]


def run(args: argparse.Namespace) -> int:
    jobs = build_jobs(args)
    plan_in = load_plan(args.plan_in, expected_schema=MASTER_SCHEMA) if args.plan_in else None
    user = UserSettings(
        amount=_percent(args.amount, "--amount"),
        eq_amount=_percent(args.eq_amount, "--eq-amount"),
        width=args.width,
    )
    bar = ProgressBar()
    try:
        results = master(args.input, jobs, reference_path=args.reference, genre=args.genre, plan_in=plan_in,
                         user=user, max_duration_s=args.max_duration_s, progress=bar)
    except BaseException:
        created = getattr(args, "created_folder", None)
        if created is not None and not any(created.iterdir()):
            created.rmdir()
        raise
    finally:
        bar.done()
    outputs = [o for r in results for o in r.outputs]
    plans = [r.plan.to_dict() for r in results]
    if args.plan_out:
        Path(args.plan_out).write_text(json.dumps(plans[0] if len(plans) == 1 else plans, indent=2))
    summary: dict[str, Any] = {"input": str(args.input), "outputs": outputs}
    if args.report:
        Path(args.report).write_text(json.dumps({**summary, "plans": plans}, indent=2))
    if args.json:
        print(json.dumps({**summary, "plans": plans}, indent=2))
    else:
        _print_human(results)
    return 0


def _print_human(results: list) -> None:
    first = results[0].plan
    inp = first.context.get("input", {})
    print(f"{inp.get('file')}: {inp.get('integrated_lufs')} LUFS, peak {inp.get('peak_dbfs')} dBFS, "
          f"PLR {inp.get('plr_db')} dB, {inp.get('duration_s')} s at {inp.get('sample_rate')} Hz")
    print("decisions:")
    for section, params in first.sections.items():
        for name, p in params.items():
            if section == "loudness" or (section, name) in (("eq", "curve"),):
                value = "(curve)" if name == "curve" else p.value
            else:
                value = p.value
            if name == "curve":
                print(f"  eq.curve: {p.reason}")
            elif section not in ("loudness",):
                print(f"  {section}.{name} = {_short(value)}  [{p.source}] {p.reason}")
    print("outputs:")
    for r in results:
        for o in r.outputs:
            print(f"  {o['file']}: {o['integrated_lufs']:.2f} LUFS (target {o['target_lufs']:g}), "
                  f"{o['true_peak_dbtp']:.2f} dBTP (ceiling {o['ceiling_dbtp']:g})")


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)
