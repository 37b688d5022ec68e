"""Experiment grids end to end on the tiny random model: run, interrupt, resume, skip, report.

Uses the smoke recipe's data (its split is cached once per machine, shared with test_finetune), a few
steps per point and a 4-molecule test set: the numbers mean nothing, the bookkeeping is what's tested.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from chemnamer.finetune.callbacks import Callback, CancelToken
from chemnamer.recipe import ConfigError

REPO = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"training_{name}", REPO / "training" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


experiments = _load("experiments")
report = _load("report")

GRID = """
[grid]
name = "tinygrid"
base_recipe = "{recipe}"
test_limit = 4
x = "format.inversion"
x_label = "inverted fraction"
set = ["train.max_steps=6", "train.checkpoint_every=2", "train.keep_checkpoints=5", "train.log_every=1",
       "train.eval_limit=2", "train.warmup_steps=0", "train.threads=1"]

[[points]]
label = "0%"
set = ["format.inversion=0.0"]

[[points]]
label = "50%"
set = ["format.inversion=0.5"]
"""


@pytest.fixture
def grid_file(home, tmp_path):
    from chemnamer.store import db

    path = tmp_path / "tiny.toml"
    path.write_text(GRID.format(recipe=REPO / "training" / "recipes" / "smoke.toml"))
    yield path
    db.dispose_all()


class CancelAt(Callback):
    def __init__(self, token: CancelToken, step: int):
        self.token, self.step = token, step

    def on_step(self, state):
        if state.step >= self.step:
            self.token.cancel()


def test_grid_interrupt_resume_skip_and_report(grid_file, tmp_path):
    from chemnamer.store import runs

    grid = experiments.load_grid(grid_file)
    quiet = lambda *_: None  # noqa: E731

    # Interrupted half-way: the first point is cancelled after 2 steps, the grid stops there.
    token = CancelToken()
    res = experiments.run_grid(grid, callbacks=[CancelAt(token, 2)], cancel=token, log=quiet)
    assert [(r.label, r.status) for r in res] == [("0%", "cancelled")]
    first = runs.get_run(res[0].run_id)
    assert first["name"] == "grid:tinygrid:0%" and first["status"] == "cancelled"
    assert [p.status for p in experiments.dry_run(grid, log=quiet)] == ["planned", "planned"]
    assert experiments.plan(grid, grid.points[0])[0] == "resume"

    # Run again: the cancelled point resumes from its checkpoint (same run row) and both complete.
    res = experiments.run_grid(grid, log=quiet)
    assert [(r.label, r.status) for r in res] == [("0%", "completed"), ("50%", "completed")]
    assert res[0].run_id == first["id"]
    steps = runs.run_steps(first["id"])
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]  # steps 1-2 before the cancel, 3-6 after resuming
    for r in res:
        run = runs.get_run(r.run_id)
        assert run["status"] == "completed"
        tests = [m for m in runs.run_metrics(r.run_id) if m["split"] == "test"]
        assert len(tests) == 1 and tests[0]["metrics"]["n"] == 4 and tests[0]["metrics"]["point"]["final"]
        assert {"exact_match_ci", "levenshtein", "bleu"} <= set(tests[0]["metrics"])
    n_runs = len(runs.list_runs())

    # And again: nothing left to do, nothing trained.
    res = experiments.run_grid(grid, log=quiet)
    assert [r.status for r in res] == ["skipped", "skipped"]
    assert len(runs.list_runs()) == n_runs

    # The report, from the database alone.
    out = tmp_path / "reports"
    written = report.render(out)
    assert sorted(p.name for p in written) == ["tinygrid.md", "tinygrid.png"]
    md = (out / "tinygrid.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(table) == 3 and table[1].startswith("| 0% |") and table[2].startswith("| 50% |")
    assert "inverted fraction" in table[0] and "tokens seen" in table[0]
    png = (out / "tinygrid.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    rows = report.collect("tinygrid")["tinygrid"]
    assert [r.x for r in rows] == [0.0, 0.5] and all(r.tokens_seen and r.train_s for r in rows)


def test_grid_file_errors(home, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\nname = "g"\nbase_recipe = "x.toml"\ntest_limt = 3\n[[points]]\nlabel = "a"\n')
    with pytest.raises(ConfigError, match="test_limt"):
        experiments.load_grid(bad)
    bad.write_text('[grid]\nname = "g"\nbase_recipe = "training/recipes/smoke.toml"\n'
                   '[[points]]\nlabel = "a"\nset = ["train.lrr=1"]\n')
    with pytest.raises(ConfigError, match="lrr"):  # every point's recipe is checked before any training
        experiments.run_grid(experiments.load_grid(bad), log=lambda *_: None)


def test_shipped_grids_load():
    grids = sorted((REPO / "training" / "grids").glob("*.toml"))
    assert {g.stem for g in grids} >= {"data_size", "epochs", "model_size", "inversion", "adapters"}
    for path in grids:
        grid = experiments.load_grid(path)
        for p in grid.points:
            experiments.point_config(grid, p)  # every override names a real key with a valid value
