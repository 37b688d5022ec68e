"""Tables and plots of the experiment grids, from the runs database alone (issue 6).

    python training/report.py [--grid NAME] [--out training/reports]

For each grid found in the database (runs named `grid:<grid>:<label>` with test metrics logged by
training/experiments.py) writes `<grid>.md` (one Markdown table) and `<grid>.png` (exact match,
Levenshtein, BLEU and structure-correct against the grid's x). Nothing is read from the grid files:
what a point is (label, group, x value) travels in the test metrics' `point` entry, and wall time and
tokens seen come from the run's step logs. A point's newest evaluated run is the one shown (so a
point re-run with a changed recipe replaces the old one). Plots use pyqtgraph (already a dependency, for the GUI)
rendered offscreen: no display, no matplotlib.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN_PREFIX = "grid:"
METRICS = [  # key, heading, shown as percent
    ("exact_match_ci", "exact match (ci)", True),
    ("levenshtein", "Levenshtein sim.", False),
    ("bleu", "BLEU", False),
    ("structure_match", "structure correct", True),
]


@dataclass
class Row:
    grid: str
    label: str
    group: str
    order: int
    x: object
    x_label: str
    x_log: bool
    run_id: int
    status: str
    final: bool
    epoch: float | None
    step: int | None
    examples_seen: int | None
    tokens_seen: int | None
    train_s: float | None  # wall time of training up to this evaluation, without our test evaluations
    metrics: dict


# --- from the database ------------------------------------------------------------------------------
def collect(grid: str | None = None) -> dict[str, list[Row]]:
    """Rows per grid: the final test evaluation of each point's latest run, plus, where a run was
    evaluated after each epoch, one row per epoch."""
    from chemnamer.store import runs

    latest: dict[tuple[str, str], dict] = {}
    for run in runs.list_runs():  # newest first: the first run seen for a point is its latest
        name = run["name"] or ""
        if not name.startswith(RUN_PREFIX) or name.count(":") < 2:
            continue
        g, label = name[len(RUN_PREFIX):].split(":", 1)
        if grid and g != grid:
            continue
        tests = [m for m in runs.run_metrics(run["id"]) if m["split"] == "test" and (m["metrics"] or {}).get("point")]
        if tests and (g, label) not in latest:
            latest[(g, label)] = {"run": run, "tests": tests}
    out: dict[str, list[Row]] = defaultdict(list)
    for (g, label), found in latest.items():
        run, tests = found["run"], found["tests"]
        steps = runs.run_steps(run["id"])
        by_step: dict[tuple, dict] = {}
        for m in tests:  # a re-evaluation (new test_limit) replaces the older row at the same step
            by_step[(m["step"], bool(m["metrics"]["point"].get("final")))] = m
        epoch_eval_s = sorted((m["step"] or 0, m["metrics"]["point"].get("eval_s") or 0.0)
                              for m in by_step.values() if not m["metrics"]["point"].get("final"))
        for m in sorted(by_step.values(), key=lambda r: (r["step"] or 0, r["id"])):
            p = m["metrics"]["point"]
            log = _step_at(steps, m["step"])
            elapsed = m["elapsed_s"] if m["elapsed_s"] is not None else log.get("elapsed_s")
            # Per-epoch test evaluations ran inside the training loop: take their time back out.
            spent = sum(s for st, s in epoch_eval_s if st < (m["step"] or 0))
            out[g].append(Row(
                grid=g, label=label, group=p.get("group") or "", order=p.get("order", 0), x=p.get("x"),
                x_label=p.get("x_label") or "", x_log=bool(p.get("x_log")), run_id=run["id"], status=run["status"],
                final=bool(p.get("final")), epoch=m["epoch"], step=m["step"],
                examples_seen=m["examples_seen"] if m["examples_seen"] is not None else log.get("examples_seen"),
                tokens_seen=log.get("tokens_seen"),
                train_s=None if elapsed is None else max(0.0, elapsed - spent),
                metrics={k: v for k, v in m["metrics"].items() if k != "point"}))
    for rows in out.values():
        rows.sort(key=lambda r: (r.order, r.step or 0, not r.final))
    return dict(out)


def _step_at(steps: list[dict], step: int | None) -> dict:
    """The last step log at or before `step` (the whole run when step is unknown)."""
    best: dict = {}
    for s in steps:
        if step is None or s["step"] <= step:
            best = s
    return best


def grid_rows(rows: list[Row]) -> list[Row]:
    """Per-epoch grids (several rows per run) keep every row; others keep each point's final row."""
    if any(not r.final for r in rows):
        return rows
    return [r for r in rows if r.final]


# --- Markdown -----------------------------------------------------------------------------------------
def _fmt(value, percent: bool = False) -> str:
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}" if percent else f"{value:.3f}"


def _count(n) -> str:
    if n is None:
        return "–"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def _x_text(x) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return "–" if x is None else str(x)


def markdown(grid: str, rows: list[Row]) -> str:
    rows = grid_rows(rows)
    x_label = next((r.x_label for r in rows if r.x_label), "x")
    grouped = any(r.group for r in rows)
    per_epoch = any(not r.final for r in rows)
    head = ["point", *(["group"] if grouped else []), x_label,
            *[h + (" %" if pct else "") for _, h, pct in METRICS], "n", "steps", "examples seen", "tokens seen",
            "train wall (min)", "run"]
    lines = [f"# Grid `{grid}`", "",
             f"Test split, greedy decoding; exact match is case-insensitive. {len(rows)} "
             f"{'evaluations (one per epoch)' if per_epoch else 'points'}, from the runs database.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.label, *([r.group or "–"] if grouped else []), _x_text(r.x),
                 *[_fmt(r.metrics.get(k), pct) for k, _, pct in METRICS], str(r.metrics.get("n", "–")),
                 _count(r.step), _count(r.examples_seen), _count(r.tokens_seen),
                 "–" if r.train_s is None else f"{r.train_s / 60:.1f}", str(r.run_id)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- the plot ---------------------------------------------------------------------------------------------
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def _qt_app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed (CI, ssh, cron)
    import pyqtgraph as pg

    return pg.mkQApp()


def plot(grid: str, rows: list[Row], path: Path, width: int = 1100, height: int = 800) -> Path:
    """2x2 panels, one per metric; one series per group; numeric x as lines, categorical x as bars."""
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter

    app = _qt_app()
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    rows = grid_rows(rows)
    x_label = next((r.x_label for r in rows if r.x_label), "x")
    numeric = all(isinstance(r.x, (int, float)) and not isinstance(r.x, bool) for r in rows)
    x_log = numeric and any(r.x_log for r in rows) and all(r.x > 0 for r in rows)
    categories = [] if numeric else list(dict.fromkeys(_x_text(r.x) for r in rows))
    groups = list(dict.fromkeys(r.group for r in rows))

    win = pg.GraphicsLayoutWidget()
    win.resize(width, height)
    win.ci.addLabel(f"grid: {grid} (test split, greedy)", row=0, col=0, colspan=2, size="13pt")
    for i, (key, title, pct) in enumerate(METRICS):
        p = win.addPlot(row=1 + i // 2, col=i % 2, title=title + (" (%)" if pct else ""))
        p.showGrid(x=True, y=True, alpha=0.25)
        p.setLabel("bottom", x_label)
        p.setYRange(0, 100 if pct else 1, padding=0.05)
        if len(groups) > 1 or (groups and groups[0]):
            p.addLegend(offset=(-10, 10))
        for gi, g in enumerate(groups):
            color = COLORS[gi % len(COLORS)]
            pts = [(r.x, r.metrics.get(key)) for r in rows if r.group == g and isinstance(r.metrics.get(key), (int, float))]
            if not pts:
                continue
            ys = [(100 * y if pct else y) for _, y in pts]
            if numeric:
                xs = [math.log10(x) if x_log else x for x, _ in pts]
                order = sorted(range(len(xs)), key=xs.__getitem__)
                p.plot([xs[j] for j in order], [ys[j] for j in order], pen=pg.mkPen(color, width=2),
                       symbol="o", symbolBrush=color, symbolPen=color, name=g or None)
            else:
                w = 0.8 / max(1, len(groups))
                xs = [categories.index(_x_text(x)) - 0.4 + w * (gi + 0.5) for x, _ in pts]
                bars = pg.BarGraphItem(x=xs, height=ys, width=w * 0.9, brush=pg.mkBrush(*color), pen=pg.mkPen(color))
                p.addItem(bars)
                if p.legend is not None and g:
                    p.legend.addItem(bars, g)
        axis = p.getAxis("bottom")
        if categories:
            axis.setTicks([list(enumerate(categories))])
            p.setXRange(-0.6, len(categories) - 0.4, padding=0)
        elif x_log:  # ticks at the measured points, labelled in plain numbers (1k, 3k, ...)
            xs = sorted({r.x for r in rows})
            axis.setTicks([[(math.log10(x), _count(x)) for x in xs]])
    win.show()  # offscreen: lays the panels out at the window's size before the export
    app.processEvents()
    exporter = ImageExporter(win.scene())
    exporter.parameters()["width"] = width
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter.export(str(path))
    win.close()
    return path


def render(out_dir: str | Path, grid: str | None = None) -> list[Path]:
    out_dir = Path(out_dir)
    written = []
    for name, rows in sorted(collect(grid).items()):
        md = out_dir / f"{name}.md"
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(markdown(name, rows) + f"\n![{name}]({name}.png)\n", encoding="utf-8")
        written += [md, plot(name, rows, out_dir / f"{name}.png")]
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", help="only this grid (default: every grid in the database)")
    ap.add_argument("--out", default=str(ROOT / "training" / "reports"), help="output folder")
    args = ap.parse_args(argv)
    written = render(args.out, args.grid)
    if not written:
        print("no grid results in the runs database" + (f" for grid {args.grid!r}" if args.grid else ""),
              file=sys.stderr)
        return 1
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
