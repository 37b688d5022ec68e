"""Accuracy of a model on the default recipe's held-out PubChem test split, in the three ways issue 5 asks.

    python training/evaluate_default.py --model default [--limit 1000] [--beams 4] [--out FILE.json]
        [--run-id STAGE1 --run-id STAGE2]

* mode `model`, greedy and beam: the language model alone (structure-correct = the structure OPSIN
  builds from the name is the input's, tautomer and stereo included: `Opsin.check`; exact match is
  case-insensitive against PubChem's name, whose case we restore the same way for the case-sensitive
  figure);
* mode `best`: the Namer's choice (verified model candidate, else a verified reference name);
* "a ✓ is never wrong": every name the Namer shows, in modes `model` and `best`, is re-checked
  independently of chemnamer's verification code: OPSIN's own command line (a separate JVM) reads the
  name, and RDKit's canonical isomeric SMILES of that structure must equal the input's. Both verdicts
  are reported with every disagreement; neither overrides the other.
Also prints the learning curve (validation metrics vs examples seen) of the run that made the model,
read from the runs database.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def evaluate(model_id: str, limit: int, beams: int) -> dict:
    from chemnamer import metrics
    from chemnamer.model import loading
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe
    from chemnamer.finetune.evaluate import evaluate_pairs
    from chemnamer.model.generate import Generator
    from chemnamer.naming import Namer

    cfg = load_recipe(ROOT / "training" / "recipes" / "default.toml")
    _, _, test, report = build_splits(cfg.data)
    test = test[:limit]
    loaded = loading.load(model_id)
    gen = Generator.from_loaded(loaded)
    out: dict = {"model": model_id, "n": len(test), "test_hash": report["hash"]["test"]}
    t0 = time.perf_counter()
    m, _ = evaluate_pairs(gen, test, beams=1, batch_size=16)
    m["seconds"] = round(time.perf_counter() - t0, 1)
    out["model_greedy"] = m
    print("model_greedy", json.dumps(m), flush=True)

    # One beam pass serves three rows: raw top beam, mode `model` (verified candidate first) and mode `best`.
    # one SMILES form: the figures this script's docs quote were measured so
    namer = Namer(model_id, beams=beams, mode="best", store=False, forms=1)
    top, model_mode, best = [], [], []
    shown: dict = {"model": [], "best": []}  # (name, input SMILES, verified) of each name shown
    chosen: dict = {}
    verified = 0
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
            verified += bool(r.verified)
            if pick:
                shown["model"].append((pick.name, pair.source, pick.verified is True))
            if r.name:
                shown["best"].append((r.name, pair.source, r.verified is True))
    seconds = round(time.perf_counter() - t0, 1)
    for label, items in ((f"model_beam{beams}_top1", top), (f"model_beam{beams}_verified_first", model_mode),
                         ("best", best)):
        m = metrics.summarize(metrics.check_structures(items))
        m["seconds"] = seconds
        out[label] = m
        print(label, json.dumps(m), flush=True)
    out["best"].update({"verified": verified / len(test), "chosen_from": chosen})
    recheck = independent_recheck(sorted({(n, s) for rows in shown.values() for n, s, _ in rows}))
    for mode, rows in shown.items():
        out[f"recheck_{mode}"] = m = tally_recheck(rows, recheck)
        print(f"recheck_{mode}", json.dumps({k: v for k, v in m.items() if k != "disagreements"}), flush=True)
    return out


# --- the independent re-check: no chemnamer code on this path -------------------------------------

def opsin_cli_smiles(names: list[str]) -> list[str | None]:
    """OPSIN's command line on a file of names, in a JVM of its own: one SMILES per name (None where
    OPSIN fails). Not chemnamer.opsin: no re-casing of locants, no cache, no standardization."""
    spec = importlib.util.find_spec("py2opsin")
    jar = sorted(glob.glob(os.path.join(list(spec.submodule_search_locations)[0], "opsin*.jar")))[-1]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "names.txt", Path(tmp) / "smiles.txt"
        src.write_text("".join(" ".join(n.split()) + "\n" for n in names), encoding="utf-8")
        subprocess.run(["java", "-jar", jar, "-osmi", str(src), str(dst)], check=True, capture_output=True)
        lines = dst.read_text(encoding="utf-8").split("\n")[:len(names)]
    return [line.strip() or None for line in lines] + [None] * (len(names) - len(lines))


def rdkit_canonical(smiles: str | None) -> str | None:
    """RDKit's canonical isomeric SMILES, nothing else (no standardization)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


def independent_recheck(pairs: list[tuple[str, str]]) -> dict:
    """(name, input SMILES) → (same structure?, OPSIN's canonical SMILES or None)."""
    read = opsin_cli_smiles([n for n, _ in pairs])
    out = {}
    for (name, smiles), opsin_smiles in zip(pairs, read):
        got = rdkit_canonical(opsin_smiles)
        out[(name, smiles)] = (got is not None and got == rdkit_canonical(smiles), got)
    return out


def tally_recheck(rows: list[tuple[str, str, bool]], recheck: dict) -> dict:
    """Check marks against the re-check, both ways: a ✓ the re-check denies is a wrong check mark, a
    missing ✓ the re-check would give is a missed one."""
    m = {"names": len(rows), "checkmarks": 0, "agree": 0, "checkmarks_wrong": 0, "checkmarks_missed": 0,
         "disagreements": []}
    for name, smiles, ok in rows:
        same, got = recheck[(name, smiles)]
        m["checkmarks"] += ok
        if ok == same:
            m["agree"] += 1
            continue
        m["checkmarks_wrong" if ok else "checkmarks_missed"] += 1
        m["disagreements"].append({"name": name, "smiles": smiles, "verified": ok, "recheck_smiles": got})
    return m


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
