"""Two-process data-parallel training on CPU (gloo), launched the way a multi-GPU run is: torchrun.

Batch size 18 makes 15 batches per epoch, an odd count: each rank must still take the same number of
steps (7), or one rank would wait forever in the gradient all-reduce.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "training" / "recipes" / "smoke.toml"


def torchrun() -> list[str]:
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.skip("torchrun not installed")
    return [exe]


def test_two_process_data_parallel_run(home, tmp_path):
    from chemnamer.model import loading
    from chemnamer.model.generate import Generator
    from chemnamer.store import runs

    out = tmp_path / "run"
    env = {**os.environ, "CHEMNAMER_HOME": str(home), "OMP_NUM_THREADS": "1"}
    cmd = [*torchrun(), "--standalone", "--nproc_per_node", "2", "-m", "chemnamer", "train",
           "--recipe", str(SMOKE), "--output", str(out), "--set", "train.batch_size=18",
           "--set", "train.eval_limit=2", "--set", "train.log_every=1"]
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    # Only rank 0 logs to the DB, saves checkpoints and registers the model: exactly one run.
    (run,) = runs.list_runs()
    assert run["status"] == "completed" and run["model_id"] == f"run-{run['id']}"
    info = run["config"]["_info"]
    assert info["world"] == 2 and info["steps_per_epoch"] == 7  # 15 batches: 7 per rank, the odd one dropped
    steps = runs.run_steps(run["id"])
    assert [s["step"] for s in steps] == list(range(1, 15))
    assert steps[-1]["examples_seen"] > 14 * 18  # both ranks' batches count
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert [c["kind"] for c in runs.run_checkpoints(run["id"])][-1] == "final"
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["model_id"] for r in results if r["model_id"]] == [run["model_id"]]

    loaded = loading.load(run["model_id"], device="cpu")
    cands = Generator.from_loaded(loaded).generate(["CCO"], beams=2, max_new_tokens=8)
    assert len(cands) == 1


def test_two_process_run_resumed_in_its_second_epoch_ends_as_if_never_stopped(home, tmp_path):
    """Resumed from step 10 (epoch 2 of 7-step epochs), both ranks must take epoch 2's batches, not
    replay epoch 1's: the final weights equal those of the uninterrupted run."""
    import shutil

    from safetensors.torch import load_file

    env = {**os.environ, "CHEMNAMER_HOME": str(home), "OMP_NUM_THREADS": "1"}

    def run(out, *extra):
        cmd = [*torchrun(), "--standalone", "--nproc_per_node", "2", "-m", "chemnamer", "train",
               "--recipe", str(SMOKE), "--output", str(out), "--no-db", "--set", "train.batch_size=18",
               "--set", "train.eval_limit=1", "--set", "train.checkpoint_every=10",
               "--set", "train.keep_checkpoints=0", *extra]
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    run(whole)
    resumed.mkdir()
    shutil.copytree(whole / "checkpoint-10", resumed / "checkpoint-10")
    run(resumed, "--resume")
    a, b = load_file(str(whole / "model" / "model.safetensors")), load_file(str(resumed / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)



ONE_RANK_RUN = """
import sys, torch.distributed as dist
from chemnamer.cli import main
from chemnamer.commands.train import leave_process_group
leave_process_group()  # no group yet: nothing to do, no error
dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
rc = main(["train", "--recipe", sys.argv[2], "--output", sys.argv[3], "--no-db", "--set", "train.epochs=1",
           "--set", "data.limit_train=32", "--set", "train.eval_limit=1"])
print("rc", rc, "initialized", dist.is_initialized())
"""


def test_train_command_leaves_its_process_group_before_exit(home, tmp_path):
    """A rank that exits with a live gloo group can abort in interpreter teardown (SIGABRT): the
    command destroys the group once training returned. A one-rank group in its own interpreter: a group
    (and the accelerate state built on it) must not leak into the other tests' process."""
    env = {**os.environ, "CHEMNAMER_HOME": str(home), "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", ONE_RANK_RUN, str(tmp_path / "rendezvous"), str(SMOKE),
                           str(tmp_path / "run")], env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rc 0 initialized False" in done.stdout
