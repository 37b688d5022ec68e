#!/usr/bin/env python
"""Event-loop responsiveness of the naming view while real namings run: the numbers behind the 100 ms goal.

    python benchmarks/gui_responsiveness.py                      # shipped model, 8 beams, 12 molecules
    python benchmarks/gui_responsiveness.py --model PATH --molecules 30 --json

The app (Qt offscreen unless QT_QPA_PLATFORM says otherwise) names each molecule as a user would:
the SMILES is typed key by key (debounced naming as you type), then Enter; a typed name is checked in
the "Check a name" card. A 10 ms timer in the GUI thread records every gap between its ticks; a gap
is time the user could not interact. Printed: ticks, max, p99, p95, median, and the share of the
time spent in gaps over the goal. Exit status 1 when the longest gap exceeds --goal-ms (default 100),
so a release can be gated on it on a quiet machine; on a shared, busy CPU read the numbers instead.
The tests (tests/gui) keep only a sanity bound: 99 % of the ticks within the goal.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "gui"))

MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CN1CCC[C@H]1c1cccnc1", "O=C1C=CC=CN1",
             "CC(=O)Nc1ccc(O)cc1", "CN1C=NC2=C1C(=O)N(C)C(=O)N2C", "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O",
             "C1CCC(CC1)N", "CCOC(=O)c1ccccc1N", "Clc1ccc(cc1)C(c1ccccc1)N1CCNCC1", "CC(C)NCC(O)COc1cccc2ccccc12",
             "O=C(O)c1ccccc1O"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model id or directory (default: the shipped model)")
    p.add_argument("--molecules", type=int, default=len(MOLECULES))
    p.add_argument("--goal-ms", type=float, default=100.0)
    p.add_argument("--timeout-s", type=float, default=1800.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("CHEMNAMER_HOME", tempfile.mkdtemp(prefix="chemnamer-bench-home-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from guihelpers import GapMeter
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from chemnamer.gui.app import build, make_app

    app = make_app()
    session, win = build(args.model, "cpu")
    win.show()
    view, card = win.naming, win.naming.name_check
    smiles = (MOLECULES * (args.molecules // len(MOLECULES) + 1))[:args.molecules]
    meter = GapMeter()
    run = {"state": "starting", "todo": list(smiles), "typing": "", "t0": time.perf_counter(), "failed": None}

    # Everything below runs inside app.exec(), as in the app: a polling timer drives the steps, a
    # typing timer types a key every 15 ms (a fast typist). Waiting loops around processEvents or
    # QTest.qWait would hold the GIL while Qt waits and starve the naming worker.
    def step():
        state = run["state"]
        if state == "starting" and session.namer is not None and session.warm_info:
            run["start_s"] = time.perf_counter() - run["t0"]
            meter.start()
            run["t0"] = time.perf_counter()
            next_molecule()
        elif state == "naming":
            o = view.outcome
            if o is not None and o.result.input == run["current"] and not view.busy:
                card.input.setText("pyridin-2-ol")
                card.check_now()
                run["state"] = "checking"
        elif state == "checking" and card.verification is not None:
            next_molecule()

    def next_molecule():
        if not run["todo"]:
            run["state"], run["seconds"] = "done", time.perf_counter() - run["t0"]
            meter.stop()
            app.quit()
            return
        run["current"] = run["typing"] = run["todo"].pop(0)
        view.input.clear()
        run["state"] = "typing"
        typer.start()

    def type_key():
        if run["typing"]:
            QTest.keyClick(view.input, run["typing"][0])
            run["typing"] = run["typing"][1:]
        else:
            typer.stop()
            QTest.keyClick(view.input, Qt.Key_Return)
            run["state"] = "naming"

    def give_up():
        run["failed"] = f"timed out in state {run['state']}"
        app.quit()

    poller, typer = QTimer(), QTimer()
    poller.setInterval(20)
    poller.timeout.connect(step)
    typer.setInterval(15)
    typer.timeout.connect(type_key)
    QTimer.singleShot(int(args.timeout_s * 1000), give_up)
    poller.start()
    app.exec()
    if run["failed"]:
        raise SystemExit(run["failed"])
    start_s, seconds = run["start_s"], run["seconds"]
    over = sum(g for g in meter.gaps if g * 1000 > args.goal_ms)
    result = {"model": session.model_label, "molecules": len(smiles), "start_s": round(start_s, 1),
              "seconds": round(seconds, 1), "ticks": len(meter.gaps), "max_ms": round(meter.max_ms, 1),
              "p99_ms": round(meter.pct_ms(0.99), 1), "p95_ms": round(meter.pct_ms(0.95), 1),
              "median_ms": round(meter.pct_ms(0.5), 1), "share_over_goal": round(over / max(seconds, 1e-9), 4),
              "goal_ms": args.goal_ms, "load_avg": round(os.getloadavg()[0], 1), "cpus": os.cpu_count()}
    win.close()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['molecules']} namings + name checks in {result['seconds']} s on {result['model']} "
              f"(load average {result['load_avg']} on {result['cpus']} CPUs): {meter.summary()}, "
              f"p95 {result['p95_ms']} ms; {result['share_over_goal']:.2%} of the time in gaps over "
              f"{args.goal_ms:.0f} ms")
    return 0 if result["max_ms"] <= args.goal_ms else 1


if __name__ == "__main__":
    raise SystemExit(main())
