"""`chemnamer eval`: a model's name quality on held-out pairs (a file, or a recipe's split)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# Printed in this order; the rest of evaluate_pairs' summary follows.
SHOWN = [("exact_match", "exact match (case-sensitive)"), ("exact_match_ci", "exact match (case-insensitive)"),
         ("levenshtein", "Levenshtein similarity"), ("bleu", "BLEU (characters)"),
         ("opsin_parsable", "OPSIN-parsable"), ("structure_match", "structure match")]


def add(sub) -> None:
    p = sub.add_parser("eval", help="score a model on held-out pairs (exact match, Levenshtein, BLEU, OPSIN)",
                       description="Data: --data FILE (JSONL of source/target[/inchikey] pairs as the training "
                                   "splits are written, or CSV/TSV with 'smiles' and 'name' columns), or "
                                   "--recipe FILE.toml --split test (the recipe's own held-out split).")
    p.add_argument("--model", help="model id or directory (default: the shipped default model)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", help="JSONL, CSV or TSV of (SMILES, name) pairs")
    src.add_argument("--recipe", help="TOML recipe whose split to evaluate on")
    p.add_argument("--split", choices=["train", "valid", "test"], default="test", help="with --recipe (default test)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="with --recipe: override a recipe value (repeatable)")
    p.add_argument("--source-column", default="smiles", help="CSV/TSV: the SMILES column (default smiles)")
    p.add_argument("--target-column", default="name", help="CSV/TSV: the reference name column (default name)")
    p.add_argument("--limit", type=int, default=0, help="first N pairs only (default: all)")
    p.add_argument("--beams", type=int, default=1, help="1 = greedy (default); N > 1 = beam search")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--no-structures", action="store_true", help="skip the OPSIN checks (faster)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sets", help="generalization report instead: comma-separated of test, aromatic, randomized "
                                  "(the recipe's split rewritten), oldstyle (converted old-style names of "
                                  "--oldstyle-recipe's test split), druglike (MOSES test molecules by size bin), "
                                  "common (everyday molecules with PubChem's names); "
                                  "scored as --mode model does: beams, first OPSIN-verified candidate")
    p.add_argument("--druglike-n", type=int, default=1000,
                   help="--sets druglike: molecules (default 1000); with --split valid, a validation "
                   "sample that shares no molecule with the test one")
    p.add_argument("--forms", type=int, default=None,
                   help="--sets: SMILES forms per molecule whose candidates are pooled, for a model trained "
                   "on every form (default: as naming does, chemnamer.naming.NAME_FORMS)")
    p.add_argument("--items", metavar="FILE.jsonl",
                   help="--sets: also write one JSON line per molecule (set, SMILES, reference, chosen name, "
                   "structure_correct, exact, bin), to read what the model named")
    p.add_argument("--oldstyle-recipe", default="training/recipes/guided.toml",
                   help="--sets oldstyle: a recipe with data.convert_old_style (default the guided one)")
    p.set_defaults(func=cmd_eval)


def load_pairs(args) -> tuple[list, str]:
    """(pairs, a description of where they came from). Raises ValueError-family errors for bad input."""
    if args.recipe:
        from chemnamer.data.build import build_splits
        from chemnamer.recipe import load_recipe

        cfg = load_recipe(args.recipe, args.overrides)
        train, valid, test, _ = build_splits(cfg.data)
        return {"train": train, "valid": valid, "test": test}[args.split], f"{args.recipe}:{args.split}"
    path = Path(args.data)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if _is_pair_jsonl(path):
        from chemnamer.data.records import read_jsonl

        return list(read_jsonl(path)), str(path)
    from chemnamer.data.userfile import FileReport, file_pairs

    report = FileReport()
    pairs = list(file_pairs(path, args.source_column, args.target_column, smiles_source=True, report=report))
    for msg in report.messages:
        print(f"warning: skipped {msg}", file=sys.stderr)
    if report.recoded:
        from chemnamer.readers import recoded_note

        print(f"note: {recoded_note(path.name, report.recoded, report.recoded_lines)}", file=sys.stderr)
    return pairs, str(path)


def _is_pair_jsonl(path: Path) -> bool:
    """JSON lines written by chemnamer.data.records.write_jsonl: objects with 'source' and 'target'."""
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        return False
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                return isinstance(obj, dict) and "source" in obj and "target" in obj
    return False


def generalization_sets(args) -> dict:
    """name → pairs for `--sets`."""
    from chemnamer.data import evalsets

    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = set(wanted) - {"test", *evalsets.GENERALIZATION_SETS}
    if unknown:
        raise ValueError(f"unknown set(s) {', '.join(sorted(unknown))}")
    out: dict = {}
    split = None
    if {"test", "aromatic", "randomized"} & set(wanted):
        if not (args.recipe or args.data):
            raise ValueError("--sets test/aromatic/randomized need --recipe (or --data) for the molecules")
        split, _ = load_pairs(args)
    for name in wanted:
        if name == "test":
            out[name] = split
        elif name in ("aromatic", "randomized"):
            out[name] = evalsets.rewritten(split, name, seed=0)
        elif name == "oldstyle":
            from chemnamer.data.build import build_splits
            from chemnamer.recipe import load_recipe

            _, _, test, _ = build_splits(load_recipe(args.oldstyle_recipe, []).data)
            out[name] = evalsets.oldstyle(test)
        elif name == "druglike":
            # --split valid: a sample disjoint from the test one, for choosing (not for reporting)
            out[name] = (evalsets.druglike_valid(args.druglike_n) if args.split == "valid"
                         else evalsets.druglike(args.druglike_n, seed=0))
        elif name == "common":
            out[name] = evalsets.common()
        if args.limit:
            out[name] = out[name][: args.limit]
    return out


def cmd_sets(args) -> int:
    from chemnamer.model import loading
    from chemnamer.recipe import ConfigError
    from chemnamer.finetune.generalization import ensure_drafts, report_lines, score_set
    from chemnamer.model.generate import Generator

    try:
        sets = generalization_sets(args)
        loaded = loading.load(args.model, device=args.device)
    except (ConfigError, OSError, ValueError, loading.ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gen = Generator.from_loaded(loaded)
    from chemnamer.naming import NAME_FORMS

    # what the model really reads: one form unless it was trained on every form (chem.smiles_forms)
    forms = (args.forms if args.forms is not None else NAME_FORMS) if gen.input_forms == "any" else 1
    report = {"model": loaded.spec.id, "beams": args.beams, "forms": forms,
              "choice": "first OPSIN-verified candidate", "sets": {}}
    items_file = open(args.items, "w", encoding="utf-8") if args.items else None
    for name, pairs in sets.items():
        if "rule" in gen.template.fields:
            pairs = ensure_drafts(pairs)
        items: list = []
        report["sets"][name] = score_set(gen, pairs, beams=args.beams, batch_size=args.batch_size, forms=forms,
                                         items=items)
        if items_file:
            items_file.writelines(json.dumps({"set": name, **item}) + "\n" for item in items)
            items_file.flush()
        if not args.json:
            print("\n".join(report_lines({name: report["sets"][name]})), flush=True)
    if items_file:
        items_file.close()
    # The runs dashboard keeps reports on the test sets; one on a recipe's validation split chooses
    # checkpoints and beams and is not the model's result.
    run_id = _run_of(loaded.spec) if not (args.recipe and args.split != "test") else None
    if run_id is not None:
        from chemnamer import store

        store.log_generalization(run_id, report)
        report["saved_to_run"] = run_id
        if not args.json:
            print(f"saved with run {run_id} (chemnamer runs --show {run_id}, the Runs view)")
    if args.json:
        print(json.dumps(report))
    return 0


def _run_of(spec) -> int | None:
    """The training run that made this model: a registered model's, also when given by its folder."""
    from chemnamer import store

    here = Path(spec.path).resolve() if spec.path and spec.kind in ("finetuned", "local") else None
    try:
        rows = store.registered_rows()
    except store.StoreError:  # an unusable database loses the dashboard entry, not the report
        return None
    for row in rows:
        if row["run_id"] is not None and (row["id"] == spec.id or (
                here is not None and row["path"] and Path(row["path"]).resolve() == here)):
            return row["run_id"]
    return None


def cmd_eval(args) -> int:
    if args.forms is not None and (args.forms < 1 or not args.sets):
        print("error: --forms must be >= 1 and goes with --sets", file=sys.stderr)
        return 2
    if args.items and not args.sets:
        print("error: --items goes with --sets", file=sys.stderr)
        return 2
    if args.sets:
        return cmd_sets(args)
    if not (args.data or args.recipe):
        print("error: give --data FILE, --recipe FILE.toml or --sets", file=sys.stderr)
        return 2
    from chemnamer.model import loading
    from chemnamer.recipe import ConfigError
    from chemnamer.finetune.evaluate import evaluate_pairs
    from chemnamer.model.generate import Generator

    if args.beams < 1 or args.limit < 0 or args.batch_size < 1:
        print("error: --beams and --batch-size must be >= 1, --limit >= 0", file=sys.stderr)
        return 2
    try:
        pairs, origin = load_pairs(args)
    except (ConfigError, OSError, ValueError) as exc:  # DataError and JSON errors are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        pairs = pairs[: args.limit]
    if not pairs:
        print(f"error: no usable pairs in {origin}", file=sys.stderr)
        return 1
    try:
        loaded = loading.load(args.model, device=args.device)
    except loading.ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    gen = Generator.from_loaded(loaded)
    progress = _progress_bar(len(pairs)) if sys.stderr.isatty() and not args.json else None
    t0 = time.perf_counter()
    summary, _items = evaluate_pairs(gen, pairs, beams=args.beams, check_structures=not args.no_structures,
                                     batch_size=args.batch_size, progress=progress)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    result = {"model": loaded.spec.id, "data": origin, "beams": args.beams, "device": loaded.device, **summary}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {result['model']} on {origin} ({summary['n']} pairs, "
          f"{'greedy' if args.beams == 1 else f'beam {args.beams}'}, {loaded.device})")
    shown = dict(SHOWN)
    for key, value in summary.items():
        if key in ("n", "seconds"):
            continue
        label = shown.get(key, key)
        print(f"  {label:32s} {value:.4f}" if isinstance(value, float) else f"  {label:32s} {value}")
    if "opsin_parsable" not in summary and not args.no_structures:
        print("  (OPSIN unavailable: no structure checks)")
    print(f"  {'n':32s} {summary['n']}")
    print(f"  {'seconds':32s} {summary['seconds']}")
    return 0


def _progress_bar(total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, unit="mol", file=sys.stderr)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return update
