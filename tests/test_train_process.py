"""The training process on its own (issue 18): detached from whoever started it, it checkpoints on a
time interval, on request, and on SIGTERM/SIGINT, which leave the run 'interrupted' and resumable.
Real child processes on the tiny model and real signals; no Qt."""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chemnamer.finetune import subprocess_run
from chemnamer.finetune.callbacks import Callback, CancelToken
from chemnamer.recipe import load_recipe
from chemnamer.finetune.trainer import train

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "training" / "recipes" / "smoke.toml"


class State:
    """A TaskState stand-in: events into a list, cancel hooks called on `cancel()`."""

    def __init__(self):
        self.events: list[tuple[str, object]] = []
        self._hooks = []

    def on_cancel(self, fn):
        self._hooks.append(fn)

    def cancel(self):
        for fn in self._hooks:
            fn()

    def emit(self, kind, payload=None):
        self.events.append((kind, payload))

    def steps(self) -> list[int]:
        return [p["state"]["step"] for k, p in self.events if k in ("step", "log")]


def request(out: Path, resume=None, **train_overrides) -> dict:
    cfg = load_recipe(SMOKE, ["train.eval_limit=1", "train.batch_size=1", "train.log_every=1",
                              "train.checkpoint_every=100000", "train.checkpoint_minutes=0",
                              *(f"train.{k}={v}" for k, v in train_overrides.items())]).to_dict()
    return {"config": cfg, "output_dir": str(out), "resume": resume, "threads": 1}


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def run_in_thread(fn, *args, **kwargs) -> dict:
    box: dict = {}

    def target():
        try:
            box["result"] = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            box["error"] = exc

    box["thread"] = threading.Thread(target=target, daemon=True)
    box["thread"].start()
    return box


def test_sigterm_to_the_training_checkpoints_interrupted_then_resumes(home, tmp_path):
    from chemnamer.store import runs

    out, state = tmp_path / "run", State()
    proc, folder, log_start = subprocess_run.launch(request(out, epochs=2))
    try:
        assert folder == out and os.getsid(proc.pid) == proc.pid != os.getsid(0)  # its own session
        box = run_in_thread(subprocess_run.follow, state, out, proc.pid, proc=proc, log_offset=log_start)
        wait_for(lambda: len(state.steps()) >= 3, 180, "training steps")
        proc.send_signal(signal.SIGTERM)  # a logout or `kill`: stop at the next step with a checkpoint
        box["thread"].join(120)
        result = box["result"]
        t0 = time.monotonic()
        proc.wait(120)  # it leaves by itself once the result is written
        print(f"\n[train process] exit {time.monotonic() - t0:.1f} s after its result")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0 and result["status"] == "interrupted"
    run = runs.get_run(result["run_id"])
    assert run["status"] == "interrupted" and run["error"].startswith("stopped by SIGTERM at step ")
    ckpt = runs.latest_checkpoint(run["id"])
    assert ckpt["kind"] == "cancel" and ckpt["step"] == result["state"]["step"] > 0

    # Resume it as the Runs view does: same run, from that checkpoint, to the end.
    state = State()
    done = subprocess_run.run_training(state, request(out, resume=True, epochs=2))
    assert done["status"] == "completed" and done["run_id"] == run["id"]
    assert min(state.steps()) > ckpt["step"] and done["state"]["step"] == done["state"]["total_steps"]
    assert runs.get_run(run["id"])["status"] == "completed"


def test_checkpoint_on_request_then_cancel_through_the_run_folder(home, tmp_path):
    """What the app sends through `control`: "checkpoint" (training goes on), then "cancel"."""
    from chemnamer.store import runs

    out, state = tmp_path / "run", State()
    box = run_in_thread(subprocess_run.run_training, state, request(out, epochs=20))
    launched = wait_for(lambda: next((p for k, p in state.events if k == "launched"), None), 60, "the launch")
    wait_for(lambda: len(state.steps()) >= 2, 180, "training steps")
    subprocess_run.send_control(out, "checkpoint")
    ckpt = wait_for(lambda: next((p for k, p in state.events if k == "checkpoint"), None), 60, "the checkpoint")
    assert ckpt["kind"] == "step" and Path(ckpt["path"], "trainer_state.json").is_file()
    at = ckpt["state"]["step"]
    wait_for(lambda: state.steps()[-1] > at + 3, 60, "training to go on after the checkpoint")
    state.cancel()  # the app's Cancel: control "cancel"
    box["thread"].join(120)
    result = box["result"]
    assert result["status"] == "cancelled" and runs.get_run(result["run_id"])["status"] == "cancelled"
    assert runs.latest_checkpoint(result["run_id"])["kind"] == "cancel"
    assert not subprocess_run._alive(launched["pid"])


def test_checkpoints_by_time(home, tmp_path):
    """checkpoint_minutes: a checkpoint at the first step that ends once that much time has passed since
    the last one, whatever the step count says. Checked against the steps' own clock, so it holds on a
    machine of any speed or load (a step ends in on_step, just before the loop decides)."""
    interval = 0.6
    cfg = load_recipe(SMOKE, ["train.eval_limit=1", "train.batch_size=1", "train.checkpoint_every=100000",
                              f"train.checkpoint_minutes={interval / 60}", "train.max_steps=300",
                              "train.keep_checkpoints=100"])

    class Clock(Callback):
        def __init__(self):
            self.step_end, self.saved, self.saved_at, self.start = {}, [], {}, None

        def on_start(self, state, info):
            self.start = time.monotonic()  # just before the loop starts its checkpoint clock

        def on_step(self, state):
            self.step_end[state.step] = time.monotonic()

        def on_checkpoint(self, state, path, kind):
            self.saved.append((state.step, kind))
            self.saved_at[state.step] = time.monotonic()  # after the loop decided (and saved)

    clock = Clock()
    t0 = time.monotonic()
    res = train(cfg, [clock], output_dir=tmp_path / "run", log_to_db=False)
    assert res.status == "completed"
    by_time = [s for s, k in clock.saved if k == "step"]
    assert by_time, clock.saved
    t = clock.step_end
    gaps, previous = [], None
    for s in by_time:
        start = t[previous] if previous else clock.start
        # Never before it is due. Exact, whatever the load: the loop's clock started after `start`
        # and decided before `saved_at`, so a due decision means saved_at - start >= interval.
        assert clock.saved_at[s] - start >= interval, (s, previous, clock.saved_at[s] - start)
        gaps.append(t[s] - start)
        previous = s
    # and not long after: steps take milliseconds, so a checkpoint late by more than the interval
    # itself is a bug, not the scheduler (a single gap can be stretched by a loaded machine, seen
    # 1.0 s for 0.6 s with the 2 cores at load 6, so the median is bounded, not each gap)
    assert statistics.median(gaps) < 2 * interval, gaps
    print(f"\n[train process] {len(by_time)} time checkpoints in {res.state.step} steps, "
          f"{time.monotonic() - t0:.1f} s")


def test_cli_train_ctrl_c_checkpoints_and_says_how_to_resume(home, tmp_path):
    from chemnamer.store import runs

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "chemnamer", "train", "--recipe", str(SMOKE), "--output", str(out),
           "--set", "train.eval_limit=1", "--set", "train.batch_size=1", "--set", "train.log_every=1",
           "--set", "train.checkpoint_every=100000", "--set", "train.checkpoint_minutes=0"]
    env = {**os.environ, "CHEMNAMER_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # the non-tty progress: one JSON "log" line per step
            if line.startswith('{"log"') and json.loads(line)["log"]["step"] >= 3:
                break
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert "stopped by SIGINT at step " in stderr and f"--resume --output {out}" in stderr, stderr[-2000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["status"] == "interrupted"
    assert runs.latest_checkpoint(result["run_id"])["kind"] == "cancel"


def test_cancel_token_signal_handler_is_main_thread_only_and_restored():
    from chemnamer.finetune.callbacks import cancel_on_signals

    before = signal.getsignal(signal.SIGTERM)
    token = CancelToken()
    with cancel_on_signals(token):
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(lambda: token.cancelled, 5, "the handler")
        assert token.reason == "SIGTERM"
        assert signal.getsignal(signal.SIGTERM) == before  # the next one acts at once
    assert signal.getsignal(signal.SIGTERM) == before
    box = run_in_thread(lambda: cancel_on_signals(CancelToken()).__enter__())
    box["thread"].join(5)
    assert "error" not in box  # off the main thread: no handler, no ValueError


@pytest.fixture(autouse=True)
def _no_orphans():
    """No training process outlives its test."""
    yield
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if "--chemnamer-train-worker" in child.cmdline():
                child.kill()
        except psutil.Error:  # gone, or a zombie: nothing left to stop
            pass
