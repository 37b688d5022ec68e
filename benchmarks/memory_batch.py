#!/usr/bin/env python
"""Peak memory of `chemnamer batch` against the number of rows: it must stay flat (streaming).

    python benchmarks/memory_batch.py                      # 200 vs 2000 rows, tiny "stop" model
    python benchmarks/memory_batch.py --rows 200 2000 20000 --model default

Each size runs `python -m chemnamer batch IN.smi -o OUT.csv` in a fresh process (history stored, as a
user's batch would be). Peak RSS comes from the kernel (getrusage RUSAGE_CHILDREN of a wrapper process
that runs only that batch: the largest resident set any process of the run reached) and, as a second
opinion, from psutil sampling the batch process plus its children (the rule-based worker) every 50 ms.

Pass: the largest run's peak exceeds the smallest's by at most --max-growth-mb (default 40 MB) and
--max-growth-ratio (default 1.15). A per-row leak of even 10 kB shows as 18 MB over 1800 extra rows;
the default tolerance allows allocator and cache noise (OPSIN's bounded name cache, SQLite pages).
The default model is a 2-layer model that stops at once ("stop"): memory per row, not generation,
is what is measured; --model takes any model id or directory instead.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Drug-like inputs plus a few broken ones (error rows take the same path to the output).
SMILES = [
    "CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C[C@@H](N)C(=O)O",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccncc1", "OC1CCCCC1", "CCN(CC)CC", "O=C(O)c1ccccc1", "Clc1ccc(Cl)cc1",
    "CC(C)(C)OC(=O)N[C@@H](Cc1ccccc1)C(=O)O", "COc1ccc2[nH]cc(CCN)c2c1", "C1CCNCC1", "CC#N", "C=CC(=O)OC",
    "NC(=O)c1cccnc1", "OC(=O)CC(O)(CC(=O)O)C(=O)O", "CCCCCCCCCCCCCCCC(=O)O", "c1ccc2ccccc2c1", "C1CC1",
    "C1CC", "[Xx]", "not a smiles",
]

_WRAPPER = ("import resource, subprocess, sys\n"
            "rc = subprocess.call(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(rc)\n")


def write_input(path: Path, rows: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(f"{SMILES[i % len(SMILES)]} mol{i}\n")
    return path


def stop_model(workdir: Path) -> Path:
    from chemnamer.model.tinydir import make_tiny_model

    return make_tiny_model(workdir / "tiny-stop", "stop")


def measure(rows: int, model: str, workdir: Path, home: Path, extra: list[str] = (), timeout: float = 7200) -> dict:
    """Run one batch of `rows` rows; peak RSS in MB (kernel and sampled), seconds, rows written."""
    import psutil

    src = write_input(workdir / f"in-{rows}.smi", rows)
    out = workdir / f"out-{rows}.csv"
    cmd = [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "chemnamer", "batch", str(src), "-o", str(out),
           "--force", "--model", model, "--beams", "1", "--threads", "1", *extra]
    env = dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wrapper = psutil.Process(proc.pid)
    sampled_main = sampled_tree = 0
    while proc.poll() is None:
        try:
            kids = wrapper.children()
            if kids:
                batch = kids[0]
                tree = [batch, *batch.children(recursive=True)]
                rss = [p.memory_info().rss for p in tree]
                sampled_main = max(sampled_main, rss[0])
                sampled_tree = max(sampled_tree, sum(rss))
        except psutil.Error:
            pass
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    secs = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # 1: every row failed (not expected here, but not a crash)
        raise RuntimeError(f"batch of {rows} rows exited {proc.returncode}: {stderr[-2000:]}")
    kernel_kb = int(stdout.strip().splitlines()[-1])
    with open(out, encoding="utf-8") as fh:
        written = sum(1 for _ in fh) - 1
    return {"rows": rows, "written": written, "peak_mb": round(kernel_kb / 1024, 1),
            "sampled_main_mb": round(sampled_main / 2 ** 20, 1), "sampled_tree_mb": round(sampled_tree / 2 ** 20, 1),
            "seconds": round(secs, 1), "ms_per_row": round(1000 * secs / max(1, rows), 1)}


def compare(results: list[dict], max_growth_mb: float, max_growth_ratio: float) -> tuple[bool, str]:
    small, large = results[0], results[-1]
    growth = large["peak_mb"] - small["peak_mb"]
    ratio = large["peak_mb"] / small["peak_mb"]
    ok = growth <= max_growth_mb and ratio <= max_growth_ratio
    return ok, (f"peak RSS {small['peak_mb']} MB at {small['rows']} rows, {large['peak_mb']} MB at {large['rows']} "
                f"rows: +{growth:.1f} MB (x{ratio:.3f}); limits +{max_growth_mb} MB, x{max_growth_ratio}")


def run(rows: list[int], model: str | None = None, workdir: Path | None = None, max_growth_mb: float = 40.0,
        max_growth_ratio: float = 1.15, extra: list[str] = ()) -> tuple[bool, str, list[dict]]:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="chemnamer-membatch-"))
    workdir.mkdir(parents=True, exist_ok=True)
    model = model or str(stop_model(workdir))
    results = []
    for n in sorted(rows):
        # A fresh history per size: the database's own size must not favour either run.
        r = measure(n, model, workdir, workdir / f"home-{n}", extra)
        if r["written"] != n:
            raise RuntimeError(f"{n} input rows but {r['written']} output rows")
        results.append(r)
    ok, summary = compare(results, max_growth_mb, max_growth_ratio)
    return ok, summary, results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--model", help="model id or directory (default: a tiny model that stops at once)")
    ap.add_argument("--max-growth-mb", type=float, default=40.0)
    ap.add_argument("--max-growth-ratio", type=float, default=1.15)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--workdir")
    args = ap.parse_args(argv)
    ok, summary, results = run(args.rows, args.model, Path(args.workdir) if args.workdir else None,
                               args.max_growth_mb, args.max_growth_ratio)
    for r in results:
        print(f"{r['rows']:>7} rows: peak {r['peak_mb']:7.1f} MB (sampled: batch {r['sampled_main_mb']} MB, "
              f"with worker {r['sampled_tree_mb']} MB), {r['seconds']} s, {r['ms_per_row']} ms/row")
    print(("PASS " if ok else "FAIL ") + summary)
    if args.json:
        Path(args.json).write_text(json.dumps({"ok": ok, "summary": summary, "results": results}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
