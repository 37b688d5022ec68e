"""Training and the app's life (issue 18): the training process outlives the app. The app killed with
kill -9 mid-run: the run goes on to its model. SIGTERM (a logout): the app closes at once, a checkpoint
is written, and the next app re-attaches to the run (Runs view: live progress, stop, resume). Closing
the window asks: keep training in the background, stop with a checkpoint, or stay.

Real processes throughout: the app is `python` running the real main window (offscreen Qt), its
training child the real detached process on the tiny model, the kills real signals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guihelpers import tiny_config

import chemnamer
from chemnamer.finetune import subprocess_run

REPO = Path(chemnamer.__file__).resolve().parent.parent

# The app as `chemnamer gui` runs it (app.main), with the wizard's "Start training" done by code.
APP = r"""
import json, os, sys
from chemnamer.gui.app import build, make_app, quit_on_signals

request, model = json.loads(sys.argv[1]), sys.argv[2]
app = make_app()
session, window = build(model, "cpu")
notifier = quit_on_signals(app, window)
window.controller.event.connect(
    lambda kind, p: print(json.dumps(p), flush=True) if kind == "launched" else None)
window.show()
window.controller.start(request)
status = app.exec()
sys.stdout.flush()
os._exit(status)
"""


def long_config(epochs: float, **train) -> dict:
    """The tiny model one pair per step: ~100 steps per epoch, ~10-20 steps/s on a 2-core box."""
    cfg = tiny_config(epochs=epochs)
    cfg["train"].update(batch_size=1, log_every=1, **train)
    return cfg


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def events(out: Path) -> list[dict]:
    try:
        lines = (out / subprocess_run.EVENTS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.endswith("}")]


def last_step(out: Path) -> int:
    return max([(e.get("state") or {}).get("step") or 0 for e in events(out)], default=0)


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture
def app_with_training(tiny_dir):
    """Start the app with a training running; yields (app process, training pid, run folder). Whatever
    the test does, no training process outlives it."""
    started = []

    def start(config: dict):
        request = {"config": config, "output_dir": None, "resume": None, "threads": 1}
        app = subprocess.Popen([sys.executable, "-c", APP, json.dumps(request), str(tiny_dir)], cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        launched = json.loads(app.stdout.readline() or "null") or {}
        assert launched.get("pid"), f"the app did not start a training: {app.stderr.read()[-3000:]}"
        started.append((app, launched["pid"]))
        out = Path(launched["output_dir"])
        wait_for(lambda: last_step(out) >= 2, 240, "the training to take its first steps")
        return app, launched["pid"], out

    yield start
    for app, pid in started:
        if app.poll() is None:
            app.kill()
        app.wait()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_kill_9_of_the_app_leaves_the_training_running_to_its_model(app_with_training):
    from chemnamer.store import runs

    app, pid, out = app_with_training(long_config(epochs=3))
    os.kill(app.pid, signal.SIGKILL)  # the app dies without a word: no close event, no signal handler
    assert app.wait(30) == -signal.SIGKILL
    at_kill = last_step(out)
    time.sleep(1.0)
    assert alive(pid), (out / subprocess_run.LOG).read_text()[-2000:]  # no BrokenPipeError: no pipe
    wait_for(lambda: last_step(out) > at_kill, 60, "steps after the app died")
    result = wait_for(lambda: next((e["result"] for e in events(out) if e["event"] == "result"), None), 300,
                      "the run's result")
    assert result["status"] == "completed" and result["state"]["step"] == result["state"]["total_steps"] > 200
    run = runs.get_run(result["run_id"])
    assert run["status"] == "completed" and run["model_id"] == f"run-{run['id']}" and run["pid"] == pid
    assert Path(result["model_dir"], "config.json").is_file()


def test_sigterm_checkpoints_then_the_next_app_reattaches_stops_and_resumes(app_with_training, tiny_dir, qtbot,
                                                                           monkeypatch):
    from chemnamer.gui.app import build, make_app
    from chemnamer.store import runs

    monkeypatch.setattr("chemnamer.gui.tasks.default_threads", lambda: 1)

    # Checkpoints by steps and by time off: the one that appears is the one SIGTERM asked for.
    app, pid, out = app_with_training(long_config(epochs=40, checkpoint_every=100_000, checkpoint_minutes=0.0))
    t0, at_signal = time.monotonic(), last_step(out)
    app.send_signal(signal.SIGTERM)  # a logout: the app closes without questions
    assert app.wait(60) == 0, app.stderr.read()[-3000:]
    closed_in = time.monotonic() - t0
    assert "SIGTERM: closing; training run" in app.stderr.read()
    run_id = next(e["state"]["run_id"] for e in events(out) if e["event"] == "start")
    ckpt = wait_for(lambda: next((k for k in runs.run_checkpoints(run_id) if k["kind"] == "step"), None), 60,
                    "the checkpoint SIGTERM asked for")  # 'step': by steps and by time are off, so the request's
    assert ckpt["step"] >= at_signal and Path(ckpt["path"]).name.startswith("checkpoint-")
    assert alive(pid) and runs.get_run(run_id)["status"] == "running"
    print(f"\n[app life] SIGTERM to closed app: {closed_in:.1f} s; signal at step {at_signal}, checkpoint at "
          f"step {ckpt['step']}")

    # The app starts again: it finds the run still training and follows it.
    make_app()
    _session, win = build(str(tiny_dir), "cpu")
    qtbot.addWidget(win)
    win.show()
    try:
        c = win.controller
        assert c.running and c.run_id == run_id and c.pid == pid
        steps = []
        c.event.connect(lambda kind, p: steps.append(p["state"]["step"]) if kind in ("step", "log") else None)
        qtbot.waitUntil(lambda: len(steps) >= 3, timeout=60_000)  # live events from the running process
        monitor = win.monitor_dialog.monitor
        assert monitor.losses and "Run" in monitor.title.text()

        win.show_view("runs")
        view = win.runs
        qtbot.waitUntil(lambda: any(r["id"] == run_id and r["status"] == "running" for r in view.runs),
                        timeout=30_000)
        view.select_ids([run_id])
        qtbot.waitUntil(lambda: view.stop_button.isEnabled() and view.follow_button.isEnabled(), timeout=10_000)
        view.follow_button.click()
        assert win.monitor_dialog.isVisible()
        with qtbot.waitSignal(c.ended, timeout=120_000) as ended:
            view.stop_button.click()
        assert ended.args[0] == "cancelled"
        assert runs.get_run(run_id)["status"] == "cancelled"
        assert runs.latest_checkpoint(run_id)["kind"] == "cancel"
        wait_for(lambda: not alive(pid), 120, "the training process to end")
        qtbot.waitUntil(lambda: any(r["id"] == run_id and r["status"] == "cancelled" for r in view.runs),
                        timeout=30_000)
        view.select_ids([run_id])
        qtbot.waitUntil(lambda: view.resume_button.isEnabled(), timeout=10_000)
        win.close()
    finally:  # a failed check must not leave the close question waiting for an answer in the teardown
        win._closing = True
        win.controller.detach(checkpoint=False)


def test_closing_mid_run_asks(window, qtbot, monkeypatch):
    """The close question: "Keep working" stays; "Stop training and quit" checkpoints and stops;
    "Quit, keep training" closes the window and the training goes on in its process."""
    from chemnamer.store import runs

    c = window.controller
    steps = []
    c.event.connect(lambda kind, p: steps.append(p["state"]["step"]) if kind == "log" else None)
    c.start({"config": tiny_config(epochs=20), "output_dir": None, "resume": None, "threads": 1})
    qtbot.waitUntil(lambda: bool(steps), timeout=180_000)

    asked = []
    monkeypatch.setattr(window, "ask_about_training", lambda: asked.append(1) or None)
    window.close()  # "Keep working"
    assert asked and window.isVisible() and c.running

    monkeypatch.setattr(window, "ask_about_training", lambda: "stop")
    window.close()  # "Stop training and quit": a checkpoint, then the window closes
    qtbot.waitUntil(lambda: not c.running and not window.isVisible(), timeout=120_000)
    run = runs.get_run(c.run_id)
    assert run["status"] == "cancelled" and runs.latest_checkpoint(c.run_id)["kind"] == "cancel"


def test_quit_keep_training(window, qtbot, monkeypatch):
    from chemnamer.store import runs

    c = window.controller
    c.start({"config": long_config(epochs=40, checkpoint_every=100_000, checkpoint_minutes=0.0),
             "output_dir": None, "resume": None, "threads": 1})
    qtbot.waitUntil(lambda: c.run_id is not None and (c.state.get("step") or 0) >= 2, timeout=180_000)
    run_id, pid, out = c.run_id, c.pid, Path(c.output_dir)
    try:
        monkeypatch.setattr(window, "ask_about_training", lambda: "background")
        with qtbot.waitSignal(c.ended, timeout=30_000) as ended:
            window.close()
        assert ended.args[0] == "detached" and not window.isVisible()
        assert alive(pid) and runs.get_run(run_id)["status"] == "running"
        ckpt = wait_for(lambda: runs.latest_checkpoint(run_id), 60, "the checkpoint asked for on quitting")
        assert ckpt["kind"] == "step"
        at = last_step(out)
        wait_for(lambda: last_step(out) > at + 5, 60, "training after the window closed")
    finally:
        subprocess_run.stop_run(runs.get_run(run_id))  # from outside, as the Runs view of another app would
        wait_for(lambda: not alive(pid), 120, "the training process to stop")
    assert runs.get_run(run_id)["status"] == "cancelled"
