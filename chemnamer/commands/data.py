"""`chemnamer data`: build training data (rule-labelled ZINC, PubChem counts, a recipe's splits)."""
from __future__ import annotations

import json
import sys


def add(sub) -> None:
    p = sub.add_parser("data", help="build and inspect training data")
    data_sub = p.add_subparsers(dest="data_command")
    b = data_sub.add_parser("build", help="build a data source or a recipe's splits",
                            description="--source zinc: name MOSES/ZINC SMILES with openclatura, keep OPSIN-verified "
                                        "pairs (cached, resumable). --source pubchem-rules: the same for the "
                                        "PubChem table's rows (the drafts guided naming is trained on). "
                                        "--source pubchem: count the PubChem table "
                                        "through the recipe's filters. --recipe: build the splits a recipe asks for.")
    b.add_argument("--source", choices=["zinc", "pubchem-rules", "pubchem"], help="data source to build")
    b.add_argument("--recipe", help="TOML recipe: build its train/valid/test splits and print the report")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set data.seed=1 (repeatable)")
    b.add_argument("--pairs", type=int, default=100_000, help="zinc: verified pairs wanted (default 100000)")
    b.add_argument("--workers", type=int, default=2, help="zinc: worker processes (default 2)")
    b.add_argument("--chunk-size", type=int, help="zinc: SMILES per cached chunk (default: the cache's, else 500)")
    b.add_argument("--seed", type=int, help="zinc: 0 = MOSES csv order, else a seeded shuffle (default: the "
                                            "cache's, else 0)")
    b.add_argument("--timeout", type=float, default=10.0, help="zinc: seconds openclatura may spend on a molecule")
    b.add_argument("--no-cache", action="store_true", help="pubchem/recipe: rebuild instead of reading the cache")
    b.set_defaults(func=cmd_build)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_build(args) -> int:
    if not (args.source or args.recipe) or (args.source in ("zinc", "pubchem-rules") and args.recipe):
        print("error: give --source zinc, --source pubchem [--recipe FILE.toml] or --recipe FILE.toml",
              file=sys.stderr)
        return 2
    if args.source in ("zinc", "pubchem-rules"):
        return _zinc(args)
    return _splits(args)


def _zinc(args) -> int:
    from chemnamer.data.zinc import build_zinc, cached_settings

    source = "pubchem" if args.source == "pubchem-rules" else "moses"
    # A resumed build must keep its chunking and order: unless told otherwise, continue the cache's.
    settings = cached_settings(source) or {"chunk_size": 500, "seed": 0}
    chunk_size = args.chunk_size if args.chunk_size is not None else settings["chunk_size"]
    seed = args.seed if args.seed is not None else settings["seed"]
    if args.pairs < 1 or args.workers < 1 or chunk_size < 1:
        print("error: --pairs, --workers and --chunk-size must be >= 1", file=sys.stderr)
        return 2
    report = build_zinc(args.pairs, workers=args.workers, chunk_size=chunk_size, seed=seed,
                        timeout_s=args.timeout, progress=sys.stderr.isatty(), source=source)
    print(json.dumps(report, indent=2))
    if report.get("error"):
        print(f"error: {report['error']}", file=sys.stderr)
        return 1
    return 0


def _splits(args) -> int:
    from chemnamer.data.build import build_splits
    from chemnamer.data.userfile import DataError
    from chemnamer.data.zinc import ZincError
    from chemnamer.recipe import ConfigError, load_recipe

    try:
        # --source pubchem: the recipe's (or the default) data section with the source forced to pubchem
        overrides = list(args.overrides) + (["data.source=pubchem"] if args.source == "pubchem" else [])
        cfg = load_recipe(args.recipe, overrides)
        _, _, _, report = build_splits(cfg.data, cache=not args.no_cache)
    except (ConfigError, DataError, ZincError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    if args.source == "pubchem":
        pub = report["sources"].get("pubchem", {})
        report = {
            "rows": pub.get("rows"),
            "malformed": pub.get("malformed"),
            "empty_name": pub.get("empty_name"),
            "old_style_dropped": pub.get("old_style"),
            "case_changed": pub.get("case_changed"),
            "after_source": pub.get("kept"),
            "filter_rejections": report["filters"]["rejected"],
            "kept_after_filters": report["filters"]["kept"],
            "sizes": report["sizes"],
            "dir": report["dir"],
        }
    print(json.dumps(report, indent=2))
    return 0
