"""Training in a child process, reported as plain JSON events (the GUI's wizard runs it). No Qt here.

Why a child process: `train` runs Python between its torch ops, so in a thread of the GUI process it
competes with the event loop for the GIL; tokenizer and checkpoint I/O hold the GIL for hundreds of
milliseconds. In its own process it cannot stall the window, a crash (out of memory) cannot take
the window down, and the GUI thread only reads JSON lines.

Protocol (JSON lines):
  parent → child stdin: first line the request {config, output_dir, resume, threads}; then "cancel".
  child → parent stdout: {"event": start|log|step|evaluate|checkpoint|end|result|error, ...}.
If the parent disappears (stdin closes) the child cancels, saves a checkpoint and exits *without*
finishing the run: the run stays 'running' with a dead pid, and `runs.mark_interrupted()` (called at
the next app start) shows it as 'interrupted', resumable from that checkpoint.

`run_training(state, request)` is the task function the GUI's QThread worker runs: same events in
either mode ("process", the default, or "thread" for debugging: CHEMNAMER_GUI_TRAIN=thread).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

WORKER_FLAG = "--chemnamer-train-worker"
STEP_EVENT_INTERVAL_S = 0.25  # the child sends at most ~4 'step' events per second


# --- config <-> plain dict -----------------------------------------------------------------------

def config_from_dict(d: dict):
    """A RunConfig from `RunConfig.to_dict()` output (e.g. a run's stored config); unknown keys
    (like the '_info' the DB logger adds) are ignored."""
    from chemnamer.finetune.config import RunConfig

    def fill(obj, values):
        for f in fields(obj):
            if f.name not in values:
                continue
            current, value = getattr(obj, f.name), values[f.name]
            if is_dataclass(current) and isinstance(value, dict):
                fill(current, value)
            else:
                setattr(obj, f.name, value)
        return obj

    cfg = fill(RunConfig(), d or {})
    cfg.validate()
    return cfg


def _state_dict(state) -> dict:
    out = {k: getattr(state, k) for k in ("step", "total_steps", "epoch", "epoch_index", "examples_seen",
                                          "tokens_seen", "elapsed_s", "loss", "lr", "run_id", "status")}
    out["eta_s"] = state.eta_s
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, sets lists, other objects strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


# --- the callback that turns the loop into events -------------------------------------------------

class EventRelay:
    """A trainer Callback that hands plain dict events to `send(event_dict)`."""

    def __init__(self, send, parent_gone=lambda: False):
        self.send = send
        self.parent_gone = parent_gone
        self._last_step = 0.0

    def on_start(self, state, info):
        self.send({"event": "start", "state": _state_dict(state), "info": _clean(info)})

    def on_log(self, state, logs):
        self.send({"event": "log", "state": _state_dict(state), "rows": _clean(list(logs))})

    def on_step(self, state):
        now = time.monotonic()
        if now - self._last_step >= STEP_EVENT_INTERVAL_S or state.step >= state.total_steps:
            self._last_step = now
            self.send({"event": "step", "state": _state_dict(state)})

    def on_evaluate(self, state, split, decoding, metrics):
        self.send({"event": "evaluate", "state": _state_dict(state), "split": split, "decoding": decoding,
                   "metrics": _clean(metrics)})

    def on_checkpoint(self, state, path, kind):
        self.send({"event": "checkpoint", "state": _state_dict(state), "path": path, "kind": kind})
        if kind == "cancel" and self.parent_gone():
            # The app is gone: leave the run 'running' (→ 'interrupted' at the next start), with
            # this fresh checkpoint to resume from. The DB logger already recorded the checkpoint.
            os._exit(3)

    def on_end(self, state, status, result):
        self.send({"event": "end", "state": _state_dict(state), "status": status, "result": _clean(result)})


def _callback(relay: EventRelay):
    from chemnamer.finetune.callbacks import Callback

    class Relay(Callback):
        pass

    cb = Relay()
    for name in ("on_start", "on_log", "on_step", "on_evaluate", "on_checkpoint", "on_end"):
        setattr(cb, name, getattr(relay, name))
    return cb


def _train(request: dict, relay: EventRelay, cancel) -> dict:
    from chemnamer.finetune.trainer import train

    cfg = config_from_dict(request["config"])
    resume = request.get("resume")
    result = train(cfg, [_callback(relay)], cancel=cancel, output_dir=request.get("output_dir"),
                   resume=resume, log_to_db=request.get("log_to_db", True))
    return {"status": result.status, "run_id": result.run_id, "output_dir": result.output_dir,
            "model_dir": result.model_dir, "model_id": result.model_id, "metrics": _clean(result.metrics),
            "state": _state_dict(result.state)}


# --- child process --------------------------------------------------------------------------------

def child_main() -> int:
    """`python -m chemnamer.finetune.subprocess_run`: one training run driven over stdin/stdout."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # a library's print() must not corrupt the protocol
    lock = threading.Lock()

    def send(event: dict) -> None:
        with lock:
            out.write(json.dumps(event) + "\n")
            out.flush()

    line = sys.stdin.readline()
    if not line:
        return 2
    request = json.loads(line)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from chemnamer.finetune.callbacks import CancelToken

    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    cancel = CancelToken()
    gone = threading.Event()

    def listen() -> None:
        for cmd in sys.stdin:
            if cmd.strip() == "cancel":
                cancel.cancel()
        gone.set()  # EOF: the parent closed the pipe or died
        cancel.cancel()

    threading.Thread(target=listen, daemon=True, name="chemnamer-train-stdin").start()
    relay = EventRelay(send, gone.is_set)
    try:
        result = _train(request, relay, cancel)
    except Exception as exc:  # noqa: BLE001 - the parent shows it
        import traceback

        send({"event": "error", "message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
        return 1
    send({"event": "result", "result": result})
    return 0


def _child_command() -> list[str]:
    if getattr(sys, "frozen", False):
        # A frozen app has no `-m`: its entry point must call run_worker_if_requested() first.
        return [sys.executable, WORKER_FLAG]
    return [sys.executable, "-m", "chemnamer.finetune.subprocess_run"]


def run_worker_if_requested(argv: list[str] | None = None) -> None:
    """For frozen builds: become the training child when started with WORKER_FLAG."""
    if WORKER_FLAG in (sys.argv if argv is None else argv):
        sys.exit(child_main())


# --- parent side: the task function ---------------------------------------------------------------

def run_training(state, request: dict, mode: str | None = None) -> dict:
    """Task function (chemnamer.gui.concurrent): run one training, relaying events to `state.emit`.

    Events: start, log, step, evaluate, checkpoint, end (payloads as in the protocol above) and
    'stderr' lines of the child. Returns the result dict; raises RuntimeError on a failed run.
    """
    mode = mode or os.environ.get("CHEMNAMER_GUI_TRAIN", "process")
    if mode == "thread":
        return _run_in_thread(state, request)
    return _run_in_process(state, request)


def _run_in_thread(state, request: dict) -> dict:
    from chemnamer.finetune.callbacks import CancelToken

    cancel = CancelToken()
    state.on_cancel(cancel.cancel)
    relay = EventRelay(lambda ev: state.emit(ev["event"], ev))
    return _train(request, relay, cancel)


def _run_in_process(state, request: dict) -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(_child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True, encoding="utf-8", bufsize=1)
    write_lock = threading.Lock()

    def write(text: str) -> None:
        with write_lock:
            try:
                proc.stdin.write(text + "\n")
                proc.stdin.flush()
            except (OSError, ValueError):
                pass

    tail: list[str] = []

    def pump_stderr() -> None:
        for line in proc.stderr:
            line = line.rstrip()
            if line:
                tail.append(line)
                del tail[:-40]
                state.emit("stderr", line)

    threading.Thread(target=pump_stderr, daemon=True, name="chemnamer-train-stderr").start()
    write(json.dumps(_clean(request)))
    state.on_cancel(lambda: write("cancel"))
    result, error = None, None
    try:
        for line in proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind == "result":
                result = ev["result"]
            elif kind == "error":
                error = ev.get("message") or "training failed"
                state.emit("error", ev)
            else:
                state.emit(kind, ev)
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        rc = proc.wait()
    if result is not None:
        return result
    if error is None:
        error = f"the training process ended unexpectedly (exit status {rc})" + \
            (f": {tail[-1]}" if tail else "")
    raise RuntimeError(error)


if __name__ == "__main__":
    sys.exit(child_main())
