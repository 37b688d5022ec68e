"""Child processes of this chemnamer: how each one is started, and the JSON-lines protocol over pipes.

Every child is `python -m chemnamer.childproc FLAG ARGS...` (in a frozen app, which has no `-m` nor
`-c`: `<app> FLAG ARGS...`), and `run_worker_if_requested` turns the process into the worker FLAG
names (WORKERS); the frozen app's entry point calls it first. Not multiprocessing 'spawn': spawn
re-imports the parent's __main__ (the CLI or GUI entry, with torch and Qt) in the child and fails
outright when that main is stdin; and a pipe that a killed child leaves half-written cannot corrupt a
queue shared with the other children.

The protocol (`JsonChild` in the parent, `serve` in the child): one JSON value per line each way. The
child pays its imports, then writes ["ready", null] (or ["ready", "why it cannot work"]); after that
it answers each request with one or more lines. A reader thread turns the child's stdout into a queue,
so waiting with a time-out works on every platform; a child that misses its time-out is killed (a
stuck one cannot be asked to stop). The training child (chemnamer.finetune.subprocess_run) is started
the same way but speaks through files in its run folder, since it must outlive the app.
"""
from __future__ import annotations

import importlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# flag -> "module:function", called with the arguments after the flag; what it returns is the exit status.
WORKERS = {
    "--chemnamer-rule-worker": "chemnamer.rulebased:rule_worker",
    "--chemnamer-zinc-worker": "chemnamer.data.zinc:label_worker",
    "--chemnamer-train-worker": "chemnamer.finetune.subprocess_run:child_main",
}
EOF = ("eof",)  # in a reply queue: the child's stdout closed (it exited or crashed)


def worker_command(flag: str, *args: str) -> list[str]:
    if flag not in WORKERS:
        raise ValueError(f"unknown worker {flag!r}")
    if getattr(sys, "frozen", False):
        return [sys.executable, flag, *args]
    return [sys.executable, "-m", "chemnamer.childproc", flag, *args]


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with this chemnamer importable in the child even when it is not installed (a
    source checkout)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def run_worker_if_requested(argv: list[str] | None = None) -> None:
    """Become the worker a flag in `argv` names, then exit; without one, return."""
    argv = sys.argv if argv is None else argv
    flag = next((a for a in argv if a in WORKERS), None)
    if flag is None:
        return
    module, function = WORKERS[flag].split(":")
    status = getattr(importlib.import_module(module), function)(*argv[argv.index(flag) + 1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown: with OPSIN's JVM started, a normal exit took 32 s on a busy 2-core box,
    # during which the parent saw the child as alive.
    os._exit(status or 0)


# --- parent side ----------------------------------------------------------------------------------

class JsonChild:
    """A worker process spoken to in JSON lines. `replies`: a queue shared by several children, each
    reply then tagged (tag, reply) so one `get` waits on all of them."""

    def __init__(self, flag: str, *args: str, replies: queue.Queue | None = None, tag: Any = None):
        self.tag = tag
        self.replies = replies if replies is not None else queue.Queue()
        self._shared = replies is not None
        self.proc = subprocess.Popen(worker_command(flag, *args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=child_env(), text=True, encoding="utf-8", bufsize=1)
        threading.Thread(target=self._pump, daemon=True, name=f"chemnamer-child-{flag[12:]}").start()

    def _pump(self) -> None:
        stream = self.proc.stdout
        try:
            for line in stream:
                try:
                    self._put(json.loads(line))
                except ValueError:
                    continue  # not ours (a stray line): the protocol lines are JSON
        except (OSError, ValueError):
            pass
        finally:
            stream.close()
            self._put(EOF)

    def _put(self, reply: Any) -> None:
        self.replies.put((self.tag, reply) if self._shared else reply)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, value: Any) -> bool:
        """False when the child is gone (its stdin closed)."""
        try:
            self.proc.stdin.write(json.dumps(value) + "\n")
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def get(self, timeout_s: float) -> Any:
        """The next reply; None after `timeout_s`; EOF when the child's stdout closed."""
        try:
            return self.replies.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def ready(self, timeout_s: float) -> str | None:
        """None once the child says it can work; else why not (its own reason, or that it did not start
        in time or died starting), and the child is gone."""
        reply = self.get(timeout_s)
        if reply is None or reply == EOF or not isinstance(reply, list) or reply[:1] != ["ready"]:
            self.kill()
            return "did not start" if reply is None else "died while starting"
        if reply[1]:
            self.kill()
        return reply[1]

    def request(self, value: Any, timeout_s: float) -> Any:
        """Send one request and wait for its one reply: the reply, or None (time-out) or EOF (the child
        died), after which the child is killed."""
        if not self.send(value):
            self.kill()
            return EOF
        reply = self.get(timeout_s)
        if reply is None or reply == EOF:
            self.kill()
        return reply

    def close(self, wait_s: float = 1.0) -> None:
        """Ask the child to end (EOF on its stdin), killing it when it does not within `wait_s`."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.close()


# --- child side -----------------------------------------------------------------------------------

def serve(start: Callable[[], Callable[[Any, Callable[[Any], None]], None] | str]) -> int:
    """The worker's loop. `start()` pays the imports and returns the request handler, or a string that
    says why this worker cannot work (an exception says it too); then each request read from stdin is
    given to `handler(request, send)`, which sends its reply line(s). Ends at EOF or a null request.

    The protocol keeps the real stdout; a library's stray print goes to stderr instead."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)

    def send(value: Any) -> None:
        out.write(json.dumps(value) + "\n")

    try:
        handler = start()
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a value
        handler = f"{type(exc).__name__}: {exc}"
    if isinstance(handler, str):
        send(["ready", handler])
        return 0
    send(["ready", None])
    for line in sys.stdin:
        request = json.loads(line)
        if request is None:
            break
        handler(request, send)
    return 0


if __name__ == "__main__":
    run_worker_if_requested()
    print(f"usage: python -m chemnamer.childproc {{{','.join(WORKERS)}}} ARGS...", file=sys.stderr)
    sys.exit(2)
