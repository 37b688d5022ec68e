"""Choose the naming beam width on the VALIDATION split (never the test split).

    python training/choose_beams.py [--beams 1 4 8] [--limit 200] [--early-stopping true] [--json]

For each beam width, every validation molecule of the default recipe is named one at a time, as the
CLI and GUI do (mode `model`: the best-scoring verified candidate, else the best-scoring one; no
references), and we report
  * verified-first structure-correct: the chosen name's structure is the input's, by the Namer's
    own check (`verified`) and, independently, by chemnamer.metrics (OPSIN structure vs the pair's
    InChIKey);
  * latency per molecule (generation + verification): wall p50/p95 and process CPU p50 (the machine
    may be shared: CPU time is what the naming itself costs), with the load average at the time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(beams: int, pairs, namer) -> dict:
    from chemnamer import metrics
    from chemnamer.bench import percentile

    wall, cpu, items, verified = [], [], [], 0
    load0 = os.getloadavg()[0]
    for p in pairs:
        t0, c0 = time.perf_counter(), time.process_time()
        r = namer.name(p.source, beams=beams)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        verified += bool(r.verified)
        items.append(metrics.Scored(r.name or "", p.target, p.source, p.inchikey))
    m = metrics.summarize(metrics.check_structures(items))
    return {"beams": beams, "n": len(pairs), "verified_first_correct": round(verified / len(pairs), 4),
            "structure_match": m.get("structure_match"), "exact_match_ci": m.get("exact_match_ci"),
            "wall_p50_ms": round(statistics.median(wall), 1), "wall_p95_ms": round(percentile(wall, 0.95), 1),
            "cpu_p50_ms": round(statistics.median(cpu), 1), "cpu_mean_ms": round(statistics.fmean(cpu), 1),
            "load_avg": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def main(argv=None) -> int:
    import torch

    from chemnamer.model import generate
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe
    from chemnamer.naming import Namer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--limit", type=int, default=0, help="first N validation molecules (default: all)")
    ap.add_argument("--early-stopping", default=None, choices=["true", "false", "never"],
                    help="override chemnamer.model.generate.EARLY_STOPPING (Hugging Face's meaning)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.early_stopping:
        generate.EARLY_STOPPING = {"true": True, "false": False, "never": "never"}[args.early_stopping]

    cfg = load_recipe(ROOT / "training" / "recipes" / "default.toml")
    _, valid, _, report = build_splits(cfg.data)
    pairs = valid[: args.limit] if args.limit else valid
    # one SMILES form: the figures this script's docs quote were measured so
    namer = Namer("default", mode="model", references=False, rule_based=False, store=False, forms=1)
    namer.load()
    namer.name(pairs[0].source, beams=1)  # warm-up: first-call allocations, the JVM
    rows = [measure(b, pairs, namer) for b in args.beams]
    out = {"split": "valid", "valid_hash": report["hash"]["valid"], "early_stopping": generate.EARLY_STOPPING,
           "threads": args.threads, "rows": rows}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"validation split ({len(pairs)} molecules, hash {out['valid_hash']}), "
              f"early_stopping={generate.EARLY_STOPPING}, {args.threads} thread(s)")
        for r in rows:
            print(f"  beams {r['beams']}: verified-first correct {r['verified_first_correct']:.1%} "
                  f"(metrics structure match {r['structure_match']}), wall p50 {r['wall_p50_ms']} ms "
                  f"p95 {r['wall_p95_ms']} ms, CPU p50 {r['cpu_p50_ms']} ms, load {r['load_avg']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
