"""Inference benchmark: cold start, greedy and beam+verify latency, batch throughput.

Molecules come from the default recipe's held-out test split (PubChem), so the numbers describe the
molecules the accuracy is measured on. Nothing here asserts a target: it prints numbers.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def bench_smiles(n: int) -> list[str]:
    from chemnamer.data.build import build_splits
    from chemnamer.finetune.config import load_recipe
    from chemnamer.paths import REPO_ROOT

    recipe = REPO_ROOT / "training" / "recipes" / "default.toml"
    cfg = load_recipe(recipe if recipe.is_file() else None)
    _, _, test, _ = build_splits(cfg.data)
    return [p.source for p in test[:n]]


def cold_start_s(model_id: str | None, smiles: str) -> float:
    """A fresh process: import, load the model, start OPSIN, name one molecule (caches already warm)."""
    code = ("import time,sys; t=time.perf_counter(); from chemnamer.naming import Namer; "
            f"n=Namer({model_id!r}, beams=1, references=False, rule_based=False, store=False); "
            f"r=n.name({smiles!r}); print(time.perf_counter()-t)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return wall


def run(model_id: str | None = None, n: int = 100, beams: int = 4, batch_size: int = 16,
        device: str | None = None) -> dict:
    from chemnamer.naming import Namer

    smiles = bench_smiles(n)
    result = {"model": model_id or "default", "n": len(smiles), "beams": beams}
    result["cold_start_s"] = cold_start_s(model_id, smiles[0])

    namer = Namer(model_id, device=device, beams=beams, references=False, rule_based=False, store=False)
    namer.load()
    if namer.model_error:
        raise RuntimeError(namer.model_error)
    result["device"] = namer.device_label
    namer.name(smiles[0], beams=1)  # warm-up: first-call allocations, JVM start
    greedy, beam = [], []
    for s in smiles:
        t0 = time.perf_counter()
        namer.name(s, beams=1)
        greedy.append((time.perf_counter() - t0) * 1000)
    for s in smiles:
        t0 = time.perf_counter()
        namer.name(s, beams=beams)  # includes OPSIN verification of every candidate
        beam.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    for i in range(0, len(smiles), batch_size):
        namer.name_many(smiles[i:i + batch_size], beams=1)
    batch_s = time.perf_counter() - t0
    result.update({
        "greedy_p50_ms": statistics.median(greedy), "greedy_p95_ms": percentile(greedy, 0.95),
        "beam_p50_ms": statistics.median(beam), "beam_p95_ms": percentile(beam, 0.95),
        "batch_mol_per_s": len(smiles) / batch_s, "batch_size": batch_size,
        "threads": __import__("torch").get_num_threads(),
    })
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
