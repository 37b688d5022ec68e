"""Training and the app's life: the app killed mid-run leaves an 'interrupted' run that the runs
dashboard resumes; closing the app mid-run asks, then stops the run with a checkpoint."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from guihelpers import tiny_config

import chemnamer

REPO = Path(chemnamer.__file__).resolve().parent.parent


def test_killed_app_leaves_interrupted_run_resumed_from_dashboard(window, qtbot, tmp_path):
    from chemnamer.store import runs

    # The training child as the app starts it; the app then "dies": its end of the pipe closes.
    out = tmp_path / "run"
    request = {"config": tiny_config(epochs=3), "output_dir": str(out), "resume": None, "threads": 1}
    child = subprocess.Popen([sys.executable, "-m", "chemnamer.finetune.subprocess_run"], cwd=REPO, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    child.stdin.write(json.dumps(request) + "\n")
    child.stdin.flush()
    for line in child.stdout:  # wait until it is training
        ev = json.loads(line)
        if ev.get("event") == "log" and ev["state"]["step"] >= 2:
            break
    child.stdin.close()  # the parent is gone
    assert child.wait(timeout=120) == 3  # checkpointed and left without finishing the run
    (run,) = [r for r in runs.list_runs() if r["output_dir"] == str(out)]
    assert run["status"] == "running"
    assert runs.latest_checkpoint(run["id"])["kind"] == "cancel"

    # Next start of the dashboard: the run shows as interrupted and can be resumed.
    window.show_view("runs")
    view = window.runs
    qtbot.waitUntil(lambda: any(r["id"] == run["id"] and r["status"] == "interrupted" for r in view.runs),
                    timeout=30_000)
    view.select_ids([run["id"]])
    qtbot.waitUntil(lambda: view.resume_button.isEnabled(), timeout=10_000)
    with qtbot.waitSignal(window.controller.ended, timeout=240_000) as ended:
        view.resume_button.click()
        qtbot.waitUntil(lambda: window.monitor_dialog is not None and window.monitor_dialog.isVisible())
    assert ended.args[0] == "completed", ended.args[1]
    assert window.monitor_dialog.monitor.losses  # the old steps and the new ones
    done = runs.get_run(run["id"])
    assert done["status"] == "completed" and done["model_id"] == f"run-{run['id']}"
    qtbot.waitUntil(lambda: any(r["id"] == run["id"] and r["status"] == "completed" for r in view.runs),
                    timeout=30_000)
    # ... and its model can be opened in the naming view
    view.select_ids([run["id"]])
    qtbot.waitUntil(lambda: view.open_button.isEnabled(), timeout=10_000)
    view.open_button.click()
    qtbot.waitUntil(lambda: window.session.model_id == f"run-{run['id']}" and not window.session.loading,
                    timeout=60_000)
    assert window.stack.currentWidget() is window.naming
    assert f"run-{run['id']}" in window.model_status.text()


def test_closing_mid_run_asks_then_stops_with_checkpoint(window, qtbot, monkeypatch):
    from chemnamer.store import runs

    c = window.controller
    steps = []
    c.event.connect(lambda kind, p: steps.append(p["state"]["step"]) if kind == "log" else None)
    c.start({"config": tiny_config(epochs=20), "output_dir": None, "resume": None, "threads": 1})
    qtbot.waitUntil(lambda: bool(steps), timeout=180_000)

    asked = []
    monkeypatch.setattr(window, "confirm_stop_training", lambda: asked.append(1) or False)
    window.close()  # "Keep working"
    assert asked and window.isVisible() and c.running

    monkeypatch.setattr(window, "confirm_stop_training", lambda: True)
    window.close()  # "Stop training and quit": a checkpoint, then the window closes
    qtbot.waitUntil(lambda: not c.running and not window.isVisible(), timeout=120_000)
    run = runs.get_run(c.run_id)
    assert run["status"] == "cancelled" and runs.latest_checkpoint(c.run_id)["kind"] == "cancel"
