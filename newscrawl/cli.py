"""`newscrawl` command: one sub-command per module of newscrawl.commands."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module has `register(subparsers)` which adds its parser with `func=run`.
COMMANDS = ["demo", "clean", "eval", "validate", "report", "explain"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl", description="News-article crawler that writes clean text as JSONL."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"newscrawl.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("newscrawl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
