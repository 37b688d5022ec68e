"""Compare the naming modes end to end (the app's own Namer: beams, strict OPSIN verification,
fallbacks) on a recipe's split and on drug-like MOSES molecules, by size bin.

Choose the default mode on validation data:
    python training/evaluate_modes.py --split valid --druglike-seed 1 --druglike-n 200
Read the test sets once, for the final model:
    python training/evaluate_modes.py --split test --druglike-seed 0 --druglike-n 1000

Reported per mode and set: n, structure-correct (the name shown verifies), exact match with PubChem's
name (any case) where a reference exists, where the name came from, and seconds per molecule.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chemnamer.data.build import build_splits  # noqa: E402
from chemnamer.data.evalsets import SIZE_BINS, druglike, druglike_valid  # noqa: E402
from chemnamer.recipe import load_recipe  # noqa: E402
from chemnamer.finetune.generalization import standard_error  # noqa: E402
from chemnamer.metrics import exact  # noqa: E402
from chemnamer.naming import Namer  # noqa: E402


def run(namer: Namer, pairs, mode: str, beams: int, batch: int) -> dict:
    rows = []
    t0 = time.perf_counter()
    for i in range(0, len(pairs), batch):
        chunk = pairs[i:i + batch]
        for p, r in zip(chunk, namer.name_many([p.source for p in chunk], beams=beams, mode=mode, store=False)):
            rows.append({"ok": bool(r.verified), "from": r.chosen_from, "bin": p.extra.get("bin"),
                         "exact": bool(p.target) and bool(r.name) and exact(r.name, p.target, False),
                         "ref": bool(p.target)})
    return {**summary(rows), "s_per_molecule": round((time.perf_counter() - t0) / max(1, len(pairs)), 3)}


def summary(rows) -> dict:
    n = len(rows)
    sc = sum(r["ok"] for r in rows) / n if n else 0.0
    out = {"n": n, "structure_correct": round(sc, 4), "se": round(standard_error(sc, n), 4),
           "chosen_from": {k: sum(r["from"] == k for r in rows) for k in sorted({str(r["from"]) for r in rows})}}
    with_ref = [r for r in rows if r["ref"]]
    if with_ref:
        em = sum(r["exact"] for r in with_ref) / len(with_ref)
        out.update(exact_match_ci=round(em, 4), exact_se=round(standard_error(em, len(with_ref)), 4))
    bins = [label for label, _, _ in SIZE_BINS if any(r["bin"] == label for r in rows)]
    if bins:
        out["by_bin"] = {b: summary([{**r, "bin": None} for r in rows if r["bin"] == b]) for b in bins}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="training/recipes/guided.toml")
    ap.add_argument("--split", choices=["valid", "test"], default="valid")
    ap.add_argument("--limit", type=int, default=0, help="first N molecules of the split")
    ap.add_argument("--druglike-n", type=int, default=200)
    ap.add_argument("--druglike-seed", type=int, default=1, help="1 = validation sample; 0 = the test sample")
    ap.add_argument("--modes", default="model,best,guided")
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--model", default=None, help="direct model (default: the shipped default)")
    ap.add_argument("--guided-model", default=None, help="guided model (default: the shipped guided)")
    ap.add_argument("--copy-bonus", type=float, default=None,
                    help="guided decoding: log-prob bonus for copying the draft (default: the Namer's)")
    args = ap.parse_args()

    _, valid, test, _ = build_splits(load_recipe(args.recipe, []).data)
    split = valid if args.split == "valid" else test
    if args.limit:
        split = split[: args.limit]
    # another seed: never a molecule of the test sample
    drug = (druglike(args.druglike_n, seed=0) if args.druglike_seed == 0
            else druglike_valid(args.druglike_n, seed=args.druglike_seed))
    # one SMILES form: the figures this script's docs quote were measured so
    namer = Namer(model_id=args.model, guided_model_id=args.guided_model, beams=args.beams, store=False,
                  forms=1)
    if args.copy_bonus is not None:
        namer.copy_bonus = args.copy_bonus
    report = {"split": f"{args.recipe}:{args.split}", "druglike_seed": args.druglike_seed, "beams": args.beams,
              "copy_bonus": namer.copy_bonus,
              "modes": {}}
    for mode in args.modes.split(","):
        report["modes"][mode] = {"split": run(namer, split, mode, args.beams, args.batch),
                                 "druglike": run(namer, drug, mode, args.beams, args.batch)}
        print(json.dumps({mode: report["modes"][mode]}), flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
