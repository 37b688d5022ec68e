"""Run an experiment grid (issue 6): one training run per point, each evaluated on the grid's fixed test set.

    python training/experiments.py training/grids/inversion.toml [--only LABEL] [--dry-run]

A grid is a TOML file (see training/grids/): a base recipe, overrides common to every point, and one
`[[points]]` table per run with its own overrides. Everything lands in the runs database, which is
all training/report.py reads:
* each run is named `grid:<grid>:<label>`;
* when it completes, its model is evaluated on the first `test_limit` pairs of the recipe's test
  split (the split is taken before `limit_train`, so every point of a grid sees the same molecules),
  logged as split "test" with a `point` entry (grid, label, group, x value) in the metrics JSON;
* with `test_each_epoch = true` every epoch checkpoint is evaluated the same way (the epochs grid).

Resumable: a point whose completed run (same recipe) already has its test metrics is skipped; a
point interrupted or cancelled resumes from its last checkpoint, since its output directory is a
pure function of grid, label and recipe. Ctrl-C cancels cleanly at the next step (a second one
kills); run the same command again to continue.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import signal
import sys
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chemnamer import paths  # noqa: E402
from chemnamer.finetune.callbacks import Callback, CancelToken  # noqa: E402
from chemnamer.recipe import ConfigError, RunConfig, load_recipe  # noqa: E402

RUN_PREFIX = "grid:"
EPOCH_X = "epoch"  # x = the epoch of each test evaluation (one long run)


@dataclass
class Point:
    label: str
    set: list = field(default_factory=list)
    group: str = ""  # series in the plot (e.g. "equal time" vs "equal steps")
    x: float | str | None = None  # explicit x value; default: the grid's `x` key, else the label


@dataclass
class Grid:
    name: str
    base_recipe: str
    points: list[Point]
    set: list = field(default_factory=list)
    description: str = ""
    test_limit: int = 200
    x: str = ""  # dotted path into the run's stored config (e.g. "model.num_layers", "_info.examples") or "epoch"
    x_label: str = ""
    x_log: bool = False
    test_each_epoch: bool = False
    path: str = ""


@dataclass
class PointResult:
    label: str
    status: str  # skipped | evaluated | completed | cancelled | planned
    run_id: int | None = None
    metrics: dict = field(default_factory=dict)


# --- the grid file ------------------------------------------------------------------------------
def _checked(cls, values: dict, where: str) -> dict:
    known = {f.name for f in fields(cls)} - {"points", "path"}
    unknown = set(values) - known
    if unknown:  # a typo must not silently become a default, as in recipes
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} (known: {', '.join(sorted(known))})")
    return values


def load_grid(path: str | Path) -> Grid:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"grid not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    extra = set(data) - {"grid", "points"}
    if extra or "grid" not in data:
        raise ConfigError(f"{path}: expected a [grid] table and [[points]] tables (found {sorted(data)})")
    points = [Point(**_checked(Point, p, f"{path}: points[{i}]")) for i, p in enumerate(data.get("points", []))]
    grid = Grid(points=points, path=str(path), **_checked(Grid, data["grid"], f"{path}: [grid]"))
    labels = [p.label for p in points]
    if not grid.name or ":" in grid.name or "/" in grid.name:
        raise ConfigError(f"{path}: grid.name must be non-empty, without ':' or '/'")
    if not points:
        raise ConfigError(f"{path}: no [[points]]")
    if len(set(labels)) != len(labels) or not all(labels):
        raise ConfigError(f"{path}: point labels must be non-empty and unique ({labels})")
    if grid.test_limit < 1:
        raise ConfigError(f"{path}: grid.test_limit must be >= 1")
    return grid


def recipe_path(grid: Grid) -> Path:
    p = Path(grid.base_recipe)
    if p.is_absolute():
        return p
    # Relative to the repo (how the shipped grids name recipes), else to the grid file.
    return ROOT / p if (ROOT / p).exists() else Path(grid.path).parent / p


def run_name(grid: Grid, point: Point) -> str:
    return f"{RUN_PREFIX}{grid.name}:{point.label}"


def point_config(grid: Grid, point: Point) -> RunConfig:
    cfg = load_recipe(recipe_path(grid), [*grid.set, *point.set])
    cfg.name = run_name(grid, point)
    return cfg


def fingerprint(config: dict) -> str:
    """Hash of the recipe a run trained with (the DB copy minus our '_info' extras): a point whose
    recipe changed since is a new point, not one to skip or to resume."""
    clean = {k: v for k, v in config.items() if not k.startswith("_")}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()[:10]


def point_dir(grid: Grid, point: Point, fp: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", point.label).strip("_") or "point"
    return paths.home() / "experiments" / grid.name / f"{slug}-{fp}"


# --- what the database knows ----------------------------------------------------------------------
def matching_runs(name: str, fp: str) -> list[dict]:
    """Runs of this point trained with this exact recipe, newest first."""
    from chemnamer.store import runs

    return [r for r in runs.list_runs() if r["name"] == name and fingerprint(r["config"] or {}) == fp]


def final_test(run_id: int, test_limit: int) -> dict | None:
    from chemnamer.store import runs

    for row in reversed(runs.run_metrics(run_id)):
        point = (row["metrics"] or {}).get("point") or {}
        if row["split"] == "test" and point.get("final") and point.get("test_limit") == test_limit:
            return row
    return None


def plan(grid: Grid, point: Point) -> tuple[str, RunConfig, str, dict | None]:
    """(action, config, fingerprint, run): action is done | evaluate | resume | new."""
    cfg = point_config(grid, point)
    fp = fingerprint(json.loads(json.dumps(cfg.to_dict(), default=str)))
    found = matching_runs(cfg.name, fp)
    for run in found:
        if run["status"] == "completed":
            return ("done" if final_test(run["id"], grid.test_limit) else "evaluate"), cfg, fp, run
    from chemnamer.finetune.trainer import latest_checkpoint

    action = "resume" if latest_checkpoint(point_dir(grid, point, fp)) else "new"
    return action, cfg, fp, found[0] if found else None


# --- test evaluation --------------------------------------------------------------------------------
def test_pairs(cfg: RunConfig, limit: int) -> list:
    from chemnamer.data.build import build_splits

    return build_splits(cfg.data)[2][:limit]


def evaluate_model(model_ref: str, pairs: list) -> tuple[dict, float]:
    """Greedy metrics of a model (registered id or directory) on pairs, and the seconds it took."""
    from chemnamer.model import loading
    from chemnamer.finetune.evaluate import evaluate_pairs
    from chemnamer.model.generate import Generator

    t0 = time.perf_counter()
    gen = Generator.from_loaded(loading.load(model_ref))
    metrics, _items = evaluate_pairs(gen, pairs, beams=1)
    return metrics, time.perf_counter() - t0


def x_value(grid: Grid, point: Point, run: dict, epoch: float | None):
    if point.x is not None:
        return point.x
    if grid.x == EPOCH_X:
        return epoch
    if grid.x:
        value = run["config"]
        for part in grid.x.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    return point.label


def log_test(grid: Grid, point: Point, run_id: int, metrics: dict, eval_s: float, final: bool,
             epoch: float | None, step: int | None, examples_seen: int | None, elapsed_s: float | None) -> None:
    from chemnamer.store import runs

    run = runs.get_run(run_id)
    order = [p.label for p in grid.points].index(point.label)
    meta = {"grid": grid.name, "label": point.label, "group": point.group, "order": order,
            "x": x_value(grid, point, run, epoch), "x_key": grid.x, "x_label": grid.x_label or grid.x,
            "x_log": grid.x_log, "final": final, "test_limit": grid.test_limit, "eval_s": round(eval_s, 2)}
    runs.log_epoch_metrics(run_id, epoch, step, "test", "greedy", {**metrics, "point": meta},
                           examples_seen, elapsed_s)


class EpochTestEval(Callback):
    """Evaluates each epoch checkpoint on the test pairs (the epochs grid): the checkpoint is a
    complete model folder, so the trainer needs no hook into its model."""

    def __init__(self, grid: Grid, point: Point, pairs: list, log=print):
        self.grid, self.point, self.pairs, self.log = grid, point, pairs, log

    def on_checkpoint(self, state, path, kind):
        if kind != "epoch" or state.run_id is None:
            return
        metrics, secs = evaluate_model(path, self.pairs)
        log_test(self.grid, self.point, state.run_id, metrics, secs, False, state.epoch, state.step,
                 state.examples_seen, state.elapsed_s)
        self.log(f"  epoch {state.epoch:g}: {_short(metrics)} ({secs:.0f}s)")


def backfill_epochs(grid: Grid, point: Point, out_dir: Path, run_id: int | None, pairs: list, log=print) -> None:
    """An epoch checkpoint written just before a kill may have missed its test evaluation: do it now."""
    from chemnamer.finetune.trainer import RUN_FILE
    from chemnamer.store import runs

    if run_id is None:
        return
    done = {r["step"] for r in runs.run_metrics(run_id) if r["split"] == "test"}
    for ck in sorted(out_dir.glob("checkpoint-*")):
        st_file = ck / RUN_FILE
        if not st_file.is_file():
            continue
        st = json.loads(st_file.read_text())
        if st.get("kind") == "epoch" and st.get("run_id") == run_id and st["step"] not in done:
            metrics, secs = evaluate_model(str(ck), pairs)
            log_test(grid, point, run_id, metrics, secs, False, st["epoch"], st["step"],
                     st.get("examples_seen"), st.get("elapsed_s"))
            log(f"  epoch {st['epoch']:g} (backfilled): {_short(metrics)}")


def _short(m: dict) -> str:
    keys = ("exact_match_ci", "levenshtein", "bleu", "structure_match")
    return " ".join(f"{k}={m[k]:.3f}" for k in keys if isinstance(m.get(k), float))


# --- running ----------------------------------------------------------------------------------------
def run_point(grid: Grid, point: Point, callbacks=(), cancel: CancelToken | None = None, log=print) -> PointResult:
    from chemnamer.finetune.trainer import train
    from chemnamer.store import runs

    action, cfg, fp, run = plan(grid, point)
    out_dir = point_dir(grid, point, fp)
    if action == "done":
        log(f"[{point.label}] done (run {run['id']}), skipped")
        return PointResult(point.label, "skipped", run["id"], final_test(run["id"], grid.test_limit)["metrics"])
    pairs = test_pairs(cfg, grid.test_limit)
    if action in ("resume", "new"):
        log(f"[{point.label}] {'resuming from ' + str(out_dir) if action == 'resume' else 'training'} "
            f"({' '.join(point.set) or 'no overrides'})")
        cbs = list(callbacks)
        if grid.test_each_epoch:
            if run is not None:
                backfill_epochs(grid, point, out_dir, run["id"], pairs, log)
            cbs.append(EpochTestEval(grid, point, pairs, log))
        result = train(cfg, cbs, cancel=cancel, output_dir=out_dir, resume=True)
        if result.status != "completed":
            log(f"[{point.label}] {result.status} at step {result.state.step}; run again to resume")
            return PointResult(point.label, result.status, result.run_id)
        run = runs.get_run(result.run_id)
    steps = runs.run_steps(run["id"])
    last = steps[-1] if steps else {}
    model_ref = run["model_id"] or str(Path(run["output_dir"] or out_dir) / "model")
    metrics, secs = evaluate_model(model_ref, pairs)
    final_epoch = last.get("epoch")
    log_test(grid, point, run["id"], metrics, secs, True, final_epoch, last.get("step"),
             last.get("examples_seen"), last.get("elapsed_s"))
    # A completed point never resumes: its checkpoints (model + optimizer, ~260 MB each at 6 layers)
    # would only fill the disk; the final model stays in out_dir/model.
    for ck in out_dir.glob("checkpoint-*"):
        shutil.rmtree(ck, ignore_errors=True)
    log(f"[{point.label}] test: {_short(metrics)} (run {run['id']}, {secs:.0f}s)")
    return PointResult(point.label, "evaluated" if action == "evaluate" else "completed", run["id"], metrics)


def run_grid(grid: Grid, only: list[str] | None = None, callbacks=(), cancel: CancelToken | None = None,
             log=print) -> list[PointResult]:
    """Every point in order; stops at the first cancelled one (the rest wait for the next call)."""
    cancel = cancel or CancelToken()
    points = select(grid, only)
    for p in points:  # a bad override in the last point should fail now, not after an hour of training
        point_config(grid, p)
    results = []
    for p in points:
        if cancel.cancelled:
            break
        res = run_point(grid, p, callbacks, cancel, log)
        results.append(res)
        if res.status not in ("skipped", "evaluated", "completed"):
            break
    return results


def select(grid: Grid, only: list[str] | None) -> list[Point]:
    if not only:
        return list(grid.points)
    known = {p.label for p in grid.points}
    missing = [o for o in only if o not in known]
    if missing:
        raise ConfigError(f"{grid.path}: no point labelled {missing} (labels: {sorted(known)})")
    return [p for p in grid.points if p.label in only]


def dry_run(grid: Grid, only: list[str] | None = None, log=print) -> list[PointResult]:
    log(f"grid {grid.name}: {len(grid.points)} points, base {recipe_path(grid)}, test_limit {grid.test_limit}")
    out = []
    for p in select(grid, only):
        action, cfg, fp, run = plan(grid, p)
        t = cfg.train
        budget = f"max_steps={t.max_steps}" if t.max_steps else f"epochs={t.epochs:g}"
        if t.max_minutes:
            budget += f", max_minutes={t.max_minutes:g}"
        log(f"  {p.label:<24} {action:<8} run={run['id'] if run else '-'}  {budget}  "
            f"limit_train={cfg.data.limit_train} layers={cfg.model.num_layers or 'all'} method={cfg.model.method}"
            f"{f' r={cfg.model.lora_r}' if cfg.model.method == 'lora' else ''} inversion={cfg.format.inversion:g}"
            f"  -> {point_dir(grid, p, fp)}")
        out.append(PointResult(p.label, "planned", run["id"] if run else None))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("grid", help="grid TOML (training/grids/*.toml)")
    ap.add_argument("--only", action="append", metavar="LABEL", help="run only this point (repeatable)")
    ap.add_argument("--dry-run", action="store_true", help="show each point's plan (done/resume/new) and stop")
    args = ap.parse_args(argv)
    try:
        grid = load_grid(args.grid)
        if args.dry_run:
            dry_run(grid, args.only)
            return 0
        cancel = CancelToken()

        def on_signal(signum, _frame):  # first: stop at the next step with a checkpoint; second: die
            print("\ncancelling after this step (again to kill)...", file=sys.stderr, flush=True)
            cancel.cancel()
            signal.signal(signum, signal.SIG_DFL)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        results = run_grid(grid, args.only, cancel=cancel, log=lambda s: print(s, flush=True))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = sum(r.status in ("skipped", "evaluated", "completed") for r in results)
    print(f"grid {grid.name}: {done}/{len(select(grid, args.only))} points done")
    return 0 if done == len(select(grid, args.only)) else 1


if __name__ == "__main__":
    sys.exit(main())
