"""Accuracy of a model on the default recipe's held-out PubChem test split, in the three ways issue 5 asks.

    python training/evaluate_default.py --model default [--limit 1000] [--beams 4] [--out FILE.json]

* mode `model`, greedy and beam: the language model alone (structure-correct = OPSIN parses the
  name to the input's InChIKey; exact match is case-insensitive against PubChem's name, whose case we
  restore the same way for the case-sensitive figure);
* mode `best`: the Namer's choice (verified model candidate, else a verified reference name);
* "a ✓ is never wrong": every name marked verified is re-checked independently (canonical SMILES
  of OPSIN's structure vs the input, not only the InChIKey).
Also prints the learning curve (validation metrics vs examples seen) of the run that made the model,
read from the runs database.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def evaluate(model_id: str, limit: int, beams: int) -> dict:
    from chemnamer import models
    from chemnamer.bench import bench_smiles  # noqa: F401  (same split as the benchmark)
    from chemnamer.chem import parse_smiles
    from chemnamer.data.build import build_splits
    from chemnamer.finetune.config import load_recipe
    from chemnamer.finetune.evaluate import evaluate_pairs
    from chemnamer.generate import Generator
    from chemnamer.naming import Namer
    from chemnamer.opsin import get_opsin

    cfg = load_recipe(ROOT / "training" / "recipes" / "default.toml")
    _, _, test, report = build_splits(cfg.data)
    test = test[:limit]
    loaded = models.load(model_id)
    gen = Generator.from_loaded(loaded)
    out: dict = {"model": model_id, "n": len(test), "test_hash": report["hash"]["test"]}
    for label, b in (("model_greedy", 1), (f"model_beam{beams}", beams)):
        t0 = time.perf_counter()
        m, items = evaluate_pairs(gen, test, beams=b, batch_size=16 if b == 1 else 8)
        m["seconds"] = round(time.perf_counter() - t0, 1)
        out[label] = m
        print(label, json.dumps(m), flush=True)

    namer = Namer(model_id, beams=beams, mode="best", store=False)
    opsin = get_opsin()
    t0 = time.perf_counter()
    chosen = {"model": 0, "pubchem": 0, "rule_based": 0, None: 0}
    correct = verified = wrong_checks = 0
    for i in range(0, len(test), 8):
        chunk = test[i:i + 8]
        for pair, r in zip(chunk, namer.name_many([p.source for p in chunk])):
            chosen[r.chosen_from] = chosen.get(r.chosen_from, 0) + 1
            ok = bool(r.name) and opsin.verify(r.name, pair.inchikey).verified
            correct += bool(ok)
            if r.verified:
                verified += 1
                parsed = opsin.name_to_structure(r.name)
                mol = parse_smiles(parsed.smiles) if parsed.smiles else None
                ref = parse_smiles(pair.source)
                same = hasattr(mol, "smiles") and hasattr(ref, "smiles") and mol.smiles == ref.smiles
                wrong_checks += not (same or ok)
    out["best"] = {"structure_match": correct / len(test), "verified": verified / len(test),
                   "chosen_from": {str(k): v for k, v in chosen.items()}, "checkmarks_wrong": wrong_checks,
                   "seconds": round(time.perf_counter() - t0, 1)}
    print("best", json.dumps(out["best"]), flush=True)
    return out


def learning_curve(run_id: int | None) -> list[dict]:
    if run_id is None:
        return []
    from chemnamer.store import runs

    rows = []
    for m in runs.run_metrics(run_id):
        if m["decoding"] == "greedy":
            rows.append({"examples_seen": m["examples_seen"], "epoch": round(m["epoch"] or 0, 2),
                         **{k: m["metrics"].get(k) for k in ("exact_match_ci", "structure_match", "levenshtein", "bleu")}})
    return rows


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="default")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--run-id", type=int)
    p.add_argument("--out")
    args = p.parse_args()
    result = evaluate(args.model, args.limit, args.beams)
    result["learning_curve"] = learning_curve(args.run_id)
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
