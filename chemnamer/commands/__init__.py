"""CLI subcommands: each module has `add(subparsers)` that registers its parser and handler."""
