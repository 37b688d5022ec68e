#!/usr/bin/env python
"""kill -9 at random moments, then resume: nothing lost, nothing twice, the database sound.

    python benchmarks/crash_safety.py                          # 3 batch rounds + 2 training rounds
    python benchmarks/crash_safety.py --batch-rounds 10 --train-rounds 0 --kills 3

batch: `chemnamer batch IN.csv -o OUT.csv` on a tiny model is killed (SIGKILL) at a random moment
  after it has written some rows, `--resume` is killed again (--kills times in all), and a last
  `--resume` finishes. Every input row must appear exactly once in OUT, in order, with its own id
  column; `PRAGMA integrity_check` must say ok after every kill.
train: `chemnamer train --recipe smoke.toml --set model.base=tiny` is killed at a random moment after
  its first checkpoint. The latest checkpoint must load (`chemnamer.model.loading.load`), `mark_interrupted()`
  must mark the run, the database must be sound; `--resume --output DIR` (killed again if --kills > 1)
  must finish the run as 'completed' at the planned step, under the same run id.

Exit status 1 on any failure; a JSON summary with --json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "training" / "recipes" / "smoke.toml"
INPUTS = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "C1CC", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "[Xx]",
          "C[C@@H](N)C(=O)O", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccncc1", "", "OC1CCCCC1", "ethanol"]


def _tiny(workdir: Path, behaviour: str) -> Path:
    from chemnamer.model.tinydir import make_tiny_model

    return make_tiny_model(workdir / f"tiny-{behaviour}", behaviour)


def _env(home: Path) -> dict:
    return dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
                TOKENIZERS_PARALLELISM="false")


def _integrity(home: Path) -> str:
    code = ("from chemnamer.store import integrity_check; print(integrity_check())")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(home), capture_output=True, text=True, cwd=REPO)
    return proc.stdout.strip() or proc.stderr.strip()[-500:]


def _kill_when(proc: subprocess.Popen, ready, delay_s: float, deadline_s: float = 3600) -> bool:
    """SIGKILL `proc` `delay_s` after `ready()` first holds; False when it ended first."""
    t_end = time.monotonic() + deadline_s
    while not ready():
        if proc.poll() is not None:
            return False
        if time.monotonic() > t_end:
            proc.kill()
            raise TimeoutError("the process never got ready to be killed")
        time.sleep(0.01)
    t_kill = time.monotonic() + delay_s
    while time.monotonic() < t_kill:
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


# --- batch -----------------------------------------------------------------------------------------

def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def batch_round(workdir: Path, model: Path, rows: int, kills: int, rng: random.Random) -> dict:
    src, out, home = workdir / "in.csv", workdir / "out.csv", workdir / "home"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "SMILES", "note"])
        for i in range(rows):
            w.writerow([f"m{i}", INPUTS[i % len(INPUTS)], f"row {i}, \"quoted\""])
    cmd = [sys.executable, "-m", "chemnamer", "batch", str(src), "-o", str(out), "--model", str(model),
           "--beams", "1", "--threads", "1", "--batch-size", str(rng.choice([1, 2, 4, 8]))]
    events = []
    for k in range(kills):
        proc = subprocess.Popen(cmd + (["--resume"] if k else ["--force"]), env=_env(home), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        at_least = _lines(out) + rng.randint(1, 6)
        killed = _kill_when(proc, lambda: _lines(out) >= at_least, rng.uniform(0, 0.5))
        events.append({"killed": killed, "lines_at_kill": _lines(out), "partial_line": not out.read_bytes().endswith(b"\n")
                       if out.exists() else False, "integrity": _integrity(home)})
        if not killed:
            break
    done = subprocess.run(cmd + ["--resume"], env=_env(home), cwd=REPO, capture_output=True, text=True)
    with open(out, encoding="utf-8", newline="") as fh:
        got = list(csv.DictReader(fh))
    problems = []
    if done.returncode not in (0, 1):
        problems.append(f"final --resume exited {done.returncode}: {done.stderr[-1000:]}")
    if [r["id"] for r in got] != [f"m{i}" for i in range(rows)]:
        problems.append("input ids out of order, missing or repeated")
    integrity = _integrity(home)
    if integrity != "ok" or any(e["integrity"] != "ok" for e in events):
        problems.append(f"integrity: {integrity}; after kills: {[e['integrity'] for e in events]}")
    return {"rows": rows, "kills": events, "problems": problems}


# --- training --------------------------------------------------------------------------------------

def _train_cmd(out: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "chemnamer", "train", "--recipe", str(SMOKE), "--output", str(out),
            "--set", "model.base=tiny", "--set", f"train.max_steps={steps}", "--set", "train.checkpoint_every=2",
            "--set", "train.eval_limit=1", "--set", "train.keep_checkpoints=2", "--set", "train.threads=1", *extra]


_CHECK = """
import json, sys
from pathlib import Path
from chemnamer.model import loading
from chemnamer.finetune.trainer import RUN_FILE, latest_checkpoint
from chemnamer.store import integrity_check, runs
out = Path(sys.argv[1])
last = latest_checkpoint(out)
step = json.loads((last / RUN_FILE).read_text())["step"] if last else None
try:
    loading.load(str(last), device="cpu"); loads = True
except Exception as exc:
    loads = f"{type(exc).__name__}: {exc}"
marked = runs.mark_interrupted()
print(json.dumps({"checkpoint": last.name if last else None, "step": step, "loads": loads, "marked": marked,
                  "statuses": [r["status"] for r in runs.list_runs()], "integrity": integrity_check()}))
"""


def train_round(workdir: Path, steps: int, kills: int, rng: random.Random) -> dict:
    out, home = workdir / "run", workdir / "home"
    events, problems = [], []
    for k in range(kills):
        proc = subprocess.Popen(_train_cmd(out, steps, *(["--resume"] if k else [])), env=_env(home), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def ready(before=frozenset(p.parent.name for p in out.glob("checkpoint-*/trainer_state.json"))):
            return bool({p.parent.name for p in out.glob("checkpoint-*/trainer_state.json")} - before)

        killed = _kill_when(proc, ready, rng.uniform(0, 3.0))
        check = subprocess.run([sys.executable, "-c", _CHECK, str(out)], env=_env(home), cwd=REPO,
                               capture_output=True, text=True)
        try:
            state = json.loads(check.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            state = {"error": check.stderr[-1000:]}
        state["killed"] = killed
        events.append(state)
        if not killed:
            break
        if state.get("loads") is not True:
            problems.append(f"kill {k + 1}: the latest checkpoint does not load: {state}")
        if state.get("marked") != 1 or "interrupted" not in state.get("statuses", []):
            problems.append(f"kill {k + 1}: the run was not marked interrupted: {state}")
        if state.get("integrity") != "ok":
            problems.append(f"kill {k + 1}: integrity {state.get('integrity')}")
    done = subprocess.run(_train_cmd(out, steps, "--resume"), env=_env(home), cwd=REPO, capture_output=True, text=True)
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"error": done.stderr[-2000:]}
    if done.returncode != 0 or result.get("status") != "completed" or result.get("step") != steps:
        problems.append(f"resume did not complete: exit {done.returncode}, {result}")
    final = subprocess.run([sys.executable, "-c", _CHECK, str(out)], env=_env(home), cwd=REPO,
                           capture_output=True, text=True)
    try:
        state = json.loads(final.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        state = {"error": final.stderr[-1000:]}
    if state.get("statuses") != ["completed"] or state.get("integrity") != "ok":
        problems.append(f"after resume: {state}")
    return {"steps": steps, "kills": events, "result": {k: result.get(k) for k in ("status", "step", "run_id")},
            "problems": problems}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch-rounds", type=int, default=3)
    ap.add_argument("--train-rounds", type=int, default=2)
    ap.add_argument("--kills", type=int, default=2, help="kills per round before the last resume (default 2)")
    ap.add_argument("--rows", type=int, default=60)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--model", help="model directory for batch (default: tiny random model)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2 ** 32)
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="chemnamer-crash-"))
    print(f"seed {seed}, work in {work}", flush=True)
    model = Path(args.model) if args.model else _tiny(work, "random")
    summary = {"seed": seed, "batch": [], "train": []}
    failures = 0
    for i in range(args.batch_rounds):
        t0 = time.perf_counter()
        (work / f"batch-{i}").mkdir()
        r = batch_round(work / f"batch-{i}", model, args.rows, args.kills, rng)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        summary["batch"].append(r)
        failures += bool(r["problems"])
        kills = ", ".join(f"{e['lines_at_kill'] - 1} rows{' +partial' if e['partial_line'] else ''}" for e in r["kills"]
                          if e["killed"])
        print(f"batch {i + 1}: killed at [{kills}] -> {'OK' if not r['problems'] else 'FAIL ' + '; '.join(r['problems'])}"
              f" ({r['seconds']} s)", flush=True)
    for i in range(args.train_rounds):
        t0 = time.perf_counter()
        (work / f"train-{i}").mkdir()
        r = train_round(work / f"train-{i}", args.steps, args.kills, rng)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        summary["train"].append(r)
        failures += bool(r["problems"])
        kills = ", ".join(f"step {e.get('step')}" for e in r["kills"] if e.get("killed"))
        print(f"train {i + 1}: killed after [{kills}] -> {'OK' if not r['problems'] else 'FAIL ' + '; '.join(r['problems'])}"
              f" ({r['seconds']} s)", flush=True)
    summary["failures"] = failures
    print(f"{failures} failed round(s) of {args.batch_rounds + args.train_rounds}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
