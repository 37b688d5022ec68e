"""Accuracy of a model on the default recipe's held-out PubChem test split, in the three ways issue 5 asks.

    python training/evaluate_default.py --model default [--limit 1000] [--beams 4] [--out FILE.json]
        [--run-id STAGE1 --run-id STAGE2]

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
    from chemnamer import metrics, models
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
    t0 = time.perf_counter()
    m, _ = evaluate_pairs(gen, test, beams=1, batch_size=16)
    m["seconds"] = round(time.perf_counter() - t0, 1)
    out["model_greedy"] = m
    print("model_greedy", json.dumps(m), flush=True)

    # One beam pass serves three rows: raw top beam, mode `model` (verified candidate first) and mode `best`.
    namer = Namer(model_id, beams=beams, mode="best", store=False)
    opsin = get_opsin()
    top, model_mode, best = [], [], []
    chosen: dict = {}
    verified = wrong_checks = 0
    t0 = time.perf_counter()
    for i in range(0, len(test), 8):
        chunk = test[i:i + 8]
        for pair, r in zip(chunk, namer.name_many([p.source for p in chunk])):
            cands = r.candidates
            pick = next((c for c in cands if c.verified), cands[0] if cands else None)
            top.append(metrics.Scored(cands[0].name if cands else "", pair.target, pair.source, pair.inchikey))
            model_mode.append(metrics.Scored(pick.name if pick else "", pair.target, pair.source, pair.inchikey))
            best.append(metrics.Scored(r.name or "", pair.target, pair.source, pair.inchikey))
            chosen[str(r.chosen_from)] = chosen.get(str(r.chosen_from), 0) + 1
            if r.verified:
                verified += 1
                # Independent re-check of every check mark: canonical SMILES of OPSIN's structure.
                parsed = opsin.name_to_structure(r.name)
                mol = parse_smiles(parsed.smiles) if parsed.smiles else None
                ref = parse_smiles(pair.source)
                same = getattr(mol, "inchikey", None) == getattr(ref, "inchikey", "")
                wrong_checks += not same and not opsin.verify(r.name, pair.inchikey).verified
    seconds = round(time.perf_counter() - t0, 1)
    for label, items in ((f"model_beam{beams}_top1", top), (f"model_beam{beams}_verified_first", model_mode),
                         ("best", best)):
        m = metrics.summarize(metrics.check_structures(items))
        m["seconds"] = seconds
        out[label] = m
        print(label, json.dumps(m), flush=True)
    out["best"].update({"verified": verified / len(test), "chosen_from": chosen, "checkmarks_wrong": wrong_checks})
    return out


def learning_curve(run_ids: list[int]) -> list[dict]:
    """Validation metrics vs examples seen, over consecutive runs (stage 2 continues stage 1: its
    examples count on from where stage 1 stopped)."""
    from chemnamer.store import runs

    rows, offset = [], 0
    for stage, run_id in enumerate(run_ids, 1):
        last = 0
        for m in runs.run_metrics(run_id):
            last = max(last, m["examples_seen"] or 0)
            if m["decoding"] == "greedy":
                rows.append({"stage": stage, "examples_seen": offset + m["examples_seen"],
                             "epoch": round(m["epoch"] or 0, 2),
                             **{k: m["metrics"].get(k) for k in ("exact_match_ci", "structure_match", "levenshtein", "bleu")}})
        offset += last
    return rows


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="default")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--run-id", type=int, action="append", default=[],
                   help="run(s) that made the model, in order, for the learning curve (repeatable)")
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
