"""Training in its own process that outlives the app: the GUI's wizard starts it, follows it, and
finds it again after a restart. No Qt here.

Why a child process: `train` runs Python between its torch ops, so in a thread of the GUI process it
competes with the event loop for the GIL; tokenizer and checkpoint I/O hold the GIL for hundreds of
milliseconds. In its own process it cannot stall the window, and a crash (out of memory) cannot take
the window down.

Why detached, with files instead of pipes: a pipe tied the child's life to the app's. When the app was
killed (or logged out), the child's next write raised BrokenPipeError, the run was marked failed and,
the first checkpoint being due at step 500, "Resume" had nothing (issue 18). Now the child runs in
its own session with no pipe to the app, and everything goes through its run folder:
  launch.json    the request {config, output_dir, resume, threads}, written by the app;
  events.jsonl   one JSON object per line {"event": start|log|step|evaluate|checkpoint|end|result|error}
                 appended by the child; the app tails it (and a restarted app re-attaches to it);
  train.log      the child's stdout and stderr;
  control        a word from the app: "cancel" (checkpoint, stop, run 'cancelled') or "checkpoint"
                 (one checkpoint now, training goes on: the app asks for it when it quits).
The database holds what lasts (the run with the child's pid, losses, metrics, checkpoints), as for
`chemnamer train`. SIGTERM/SIGINT to the child (logout, shutdown, kill): checkpoint at the next step,
run 'interrupted', resumable. Checkpoints also come every `train.checkpoint_minutes`, so only a
kill -9 of the training process itself loses work, at most those minutes.

`run_training(state, request)` is the task function the GUI's QThread worker runs ("process", the
default, or "thread" for debugging: CHEMNAMER_GUI_TRAIN=thread); `attach(state, run)` follows a run
that an earlier app started.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WORKER_FLAG = "--chemnamer-train-worker"  # see chemnamer.childproc
LAUNCH, EVENTS, LOG, CONTROL = "launch.json", "events.jsonl", "train.log", "control"
STEP_EVENT_INTERVAL_S = 0.5  # 'step' events: ~3 KB/s at most in events.jsonl, smooth enough for a bar
POLL_S = 0.2  # how often the app reads the files and the child reads `control`


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

    def __init__(self, send):
        self.send = send
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
    from chemnamer.recipe import config_from_dict

    cfg = config_from_dict(request["config"])
    result = train(cfg, [_callback(relay)], cancel=cancel, output_dir=request.get("output_dir"),
                   resume=request.get("resume"), log_to_db=request.get("log_to_db", True))
    return {"status": result.status, "run_id": result.run_id, "output_dir": result.output_dir,
            "model_dir": result.model_dir, "model_id": result.model_id, "metrics": _clean(result.metrics),
            "state": _state_dict(result.state)}


# --- the run folder's files -----------------------------------------------------------------------

def send_control(output_dir: str | os.PathLike, word: str) -> None:
    """Tell the training in `output_dir` to "cancel" or to save a "checkpoint" (atomic: never half read)."""
    path = Path(output_dir) / CONTROL
    tmp = path.with_name(CONTROL + f".{os.getpid()}.tmp")
    tmp.write_text(f"{word} {time.time_ns()}\n", encoding="utf-8")  # the stamp makes each request new
    os.replace(tmp, path)


def _watch_control(output_dir: Path, cancel, stop: threading.Event) -> None:
    """Child side: act on each new word in `control`."""
    path, seen = output_dir / CONTROL, None
    while not stop.wait(POLL_S):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        if text == seen:
            continue
        seen = text
        word = text.split()[0] if text.split() else ""
        if word == "cancel":
            cancel.cancel()
        elif word == "checkpoint":
            cancel.request_checkpoint()


class _Tail:
    """New complete lines of a growing file (a partial last line waits for its end)."""

    def __init__(self, path: Path, offset: int = 0):
        self.path, self.offset, self._rest = path, offset, b""

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self._rest + data
        *done, self._rest = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in done]


# --- child process --------------------------------------------------------------------------------

def child_main(*args: str) -> int:
    """`python -m chemnamer.childproc --chemnamer-train-worker RUN_DIR/launch.json`: one training run."""
    from chemnamer.finetune.callbacks import CancelToken, cancel_on_signals

    if len(args) != 1:
        print(f"usage: {WORKER_FLAG} RUN_DIR/launch.json", file=sys.stderr)
        return 2
    launch = Path(args[0])
    request = json.loads(launch.read_text(encoding="utf-8"))
    out_dir = launch.parent
    fd = os.open(out_dir / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    lock = threading.Lock()

    def send(event: dict) -> None:
        data = (json.dumps(event) + "\n").encode("utf-8")
        with lock:  # O_APPEND, whole lines: a reader never sees two events interleaved
            while data:
                data = data[os.write(fd, data):]

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    cancel = CancelToken()
    stop = threading.Event()
    threading.Thread(target=_watch_control, args=(out_dir, cancel, stop), daemon=True,
                     name="chemnamer-train-control").start()
    try:
        with cancel_on_signals(cancel):
            result = _train(request, EventRelay(send), cancel)
    except Exception as exc:  # noqa: BLE001 - the app shows it
        import traceback

        traceback.print_exc()
        send({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        stop.set()
    send({"event": "result", "result": result})
    return 0


# --- app side -------------------------------------------------------------------------------------

def output_dir_for(request: dict) -> Path:
    """The run folder: the request's, a checkpoint's parent (resume from a checkpoint), or a new one
    named like `chemnamer train` names it."""
    from chemnamer import paths

    resume, out = request.get("resume"), request.get("output_dir")
    if isinstance(resume, str) and Path(resume).name.startswith("checkpoint-"):
        return Path(resume).parent
    if out:
        return Path(out)
    name = (request.get("config") or {}).get("name") or "run"
    return paths.home() / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def launch(request: dict) -> tuple[subprocess.Popen, Path, int]:
    """Start the training child, detached (own session, no pipes); returns it, its run folder and where
    its lines start in train.log (a resumed run's folder holds the earlier processes' lines)."""
    out = output_dir_for(request)
    out.mkdir(parents=True, exist_ok=True)
    for name in (EVENTS, CONTROL):  # a resumed run's folder: the last process's events are done with
        (out / name).unlink(missing_ok=True)
    (out / EVENTS).touch()
    path = out / LAUNCH
    path.write_text(json.dumps(_clean({**request, "output_dir": str(out)})), encoding="utf-8")
    from chemnamer.childproc import child_env, worker_command

    env = child_env(PYTHONUNBUFFERED="1")
    detach: dict = {"start_new_session": True}  # no SIGHUP/SIGINT of the app's terminal or process group
    if os.name == "nt":
        detach = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
    with (out / LOG).open("ab") as log:
        log_start = log.seek(0, os.SEEK_END)
        proc = subprocess.Popen(worker_command(WORKER_FLAG, str(path)), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, **detach)
    return proc, out, log_start


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:  # noqa: BLE001 - gone, or no permission to look (then it is not ours to follow)
        return False


def follow(state, output_dir: str | os.PathLike, pid: int, proc: subprocess.Popen | None = None,
           offset: int = 0, log_offset: int | None = None, detached: threading.Event | None = None) -> dict:
    """Relay the run's events to `state.emit` until it ends; its result dict. `detached` set: stop
    following and return {"status": "detached"}, the training goes on. Cancelling `state` asks the
    child to stop (checkpoint, run 'cancelled'). RuntimeError when the run failed or its process died."""
    out = Path(output_dir)
    detached = detached or threading.Event()
    state.on_cancel(lambda: None if detached.is_set() else send_control(out, "cancel"))
    if log_offset is None:
        log_offset = (out / LOG).stat().st_size if (out / LOG).is_file() else 0
    events, log = _Tail(out / EVENTS, offset), _Tail(out / LOG, log_offset)
    tail: list[str] = []
    error = None
    while True:
        ended = proc.poll() is not None if proc is not None else not _alive(pid)
        for line in log.lines():
            line = line.rstrip()
            if line:
                tail.append(line)
                del tail[:-40]
                state.emit("stderr", line)
        for line in events.lines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind == "result":
                if proc is not None:  # our child: reap it (it leaves right after its result), no zombie
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        pass
                return ev["result"]
            if kind == "error":
                error = ev.get("message") or "training failed"
            state.emit(kind, ev)
        if error is not None and ended:
            raise RuntimeError(error)
        if ended:  # gone without a result: killed (kill -9, out of memory) or crashed
            rc = proc.returncode if proc is not None else None
            status = f" (exit status {rc})" if rc is not None else ""
            raise RuntimeError(f"the training process ended unexpectedly{status}" + (f": {tail[-1]}" if tail else ""))
        if detached.wait(POLL_S):
            return {"status": "detached", "output_dir": str(out)}


def run_training(state, request: dict, mode: str | None = None, detached: threading.Event | None = None) -> dict:
    """Task function (chemnamer.gui.concurrent): run one training, relaying events to `state.emit`.

    Events: start, log, step, evaluate, checkpoint, end (payloads as in the module docstring), 'launched'
    {pid, output_dir} first and 'stderr' lines of the child. Returns the result dict; raises
    RuntimeError on a failed run.
    """
    mode = mode or os.environ.get("CHEMNAMER_GUI_TRAIN", "process")
    if mode == "thread":
        return _run_in_thread(state, request)
    proc, out, log_start = launch(request)
    state.emit("launched", {"pid": proc.pid, "output_dir": str(out)})
    return follow(state, out, proc.pid, proc=proc, log_offset=log_start, detached=detached)


def attach(state, run: dict, detached: threading.Event | None = None) -> dict:
    """Task function: follow a run that an earlier app started and that is still going (re-attach).
    The last 'start' event is replayed (the monitor's summary); then events from now on."""
    out = Path(run["output_dir"])
    offset = (out / EVENTS).stat().st_size
    start = None
    with (out / EVENTS).open("rb") as fh:
        for line in fh:
            if line.startswith(b'{"event": "start"'):
                start = line
    if start is not None:
        state.emit("start", json.loads(start))
    return follow(state, out, run["pid"], offset=offset, detached=detached)


def attachable_runs() -> list[dict]:
    """Runs still going whose events can be followed (started from the app), newest first."""
    from chemnamer.store import runs

    runs.mark_interrupted()
    return [r for r in runs.list_runs() if r["status"] == "running" and r.get("output_dir")
            and (Path(r["output_dir"]) / EVENTS).is_file() and _alive(r.get("pid")) and r["pid"] != os.getpid()]


def stop_run(run: dict) -> None:
    """Stop a running run from outside: through its control file when the app started it, else (a
    `chemnamer train` in a terminal) with SIGTERM, which that command turns into a checkpoint."""
    out = run.get("output_dir")
    if out and (Path(out) / EVENTS).is_file():
        send_control(out, "cancel")
    elif _alive(run.get("pid")):
        import signal

        os.kill(run["pid"], signal.SIGTERM)


def _run_in_thread(state, request: dict) -> dict:
    from chemnamer.finetune.callbacks import CancelToken

    cancel = CancelToken()
    state.on_cancel(cancel.cancel)
    relay = EventRelay(lambda ev: state.emit(ev["event"], ev))
    return _train(request, relay, cancel)

