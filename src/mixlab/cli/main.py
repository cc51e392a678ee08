"""The ``mixlab`` command: one subcommand per job, all over the same engine."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from mixlab import __version__
from mixlab.errors import MixlabError


def build_parser() -> argparse.ArgumentParser:
    from mixlab.cli import analyze, master, mix, notes, serve

    parser = argparse.ArgumentParser(prog="mixlab", description="AI mixing and mastering for music producers.")
    parser.add_argument("--version", action="version", version=f"mixlab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    subparsers = parser.add_subparsers(dest="command", required=True)
    analyze.add_parser(subparsers)
    master.add_parser(subparsers)
    mix.add_parsers(subparsers)
    notes.add_parser(subparsers)
    serve.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except MixlabError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": exc.to_dict()}, indent=2, default=str))
        print(f"mixlab {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
