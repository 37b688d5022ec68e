"""The `chemnamer` command: one subcommand per job, each a thin wrapper over the library."""
from __future__ import annotations

import argparse
import importlib

from chemnamer import __version__

# Each module in chemnamer/commands registers its own subcommands (keeps merges and imports small).
COMMAND_MODULES = ["naming", "check", "batch", "history", "models_cmd", "train", "data", "evaluate", "runs", "bench", "gui"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chemnamer", description="Name molecules with a fine-tuned language model.")
    parser.add_argument("--version", action="version", version=f"chemnamer {__version__}")
    sub = parser.add_subparsers(dest="command")
    for name in COMMAND_MODULES:
        # No try: a command module that fails to import is a broken install, said at once with its
        # traceback, never a subcommand that silently goes missing from --help.
        importlib.import_module(f"chemnamer.commands.{name}").add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from chemnamer.store.db import StoreError

    try:
        return args.func(args)
    except StoreError as exc:  # read-only data folder, disk full, damaged database: a message, not a traceback
        import sys

        print(f"error: {exc}", file=sys.stderr)
        return 2
