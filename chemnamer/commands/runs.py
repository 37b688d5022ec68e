"""`chemnamer runs`: the training runs in the database, or one run with its metrics per epoch."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

# (column, metric key) of the final/epoch metrics shown in tables; the full set is in --json.
METRIC_COLUMNS = [("em", "exact_match"), ("em_ci", "exact_match_ci"), ("lev", "levenshtein"), ("bleu", "bleu"),
                  ("parse", "opsin_parsable"), ("struct", "structure_match")]


def add(sub) -> None:
    p = sub.add_parser("runs", help="list training runs (status, steps, final metrics, model id)")
    p.add_argument("--show", type=int, metavar="ID", help="one run in detail, with its metrics per epoch")
    p.add_argument("--json", action="store_true", help="print JSON (a list, or one object with --show)")
    p.set_defaults(func=cmd_runs)


def cmd_runs(args) -> int:
    from chemnamer.store import runs

    runs.mark_interrupted()  # a run left 'running' by a killed process must not show as running
    if args.show is not None:
        try:
            return _show(runs, args.show, args.json)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 1
    rows = [_summary(r, _last_step(r["id"])) for r in runs.list_runs()]
    if args.json:
        print(json.dumps(rows, default=_jsonable))
        return 0
    if not rows:
        print("no training runs yet (chemnamer train --recipe training/recipes/smoke.toml)")
        return 0
    header = ["id", "name", "status", "base", "method", "steps", *[c for c, _ in METRIC_COLUMNS], "model", "started"]
    table = [[str(r["id"]), r["name"] or "", r["status"], r["base_model"] or "", r["method"] or "",
              "" if r["steps"] is None else str(r["steps"]),
              *[_fmt(r["final_metrics"].get(k)) for _, k in METRIC_COLUMNS], r["model_id"] or "",
              _when(r["started_at"])] for r in rows]
    _print_table(header, table)
    return 0


def _summary(run: dict, steps: int | None) -> dict:
    return {"id": run["id"], "name": run["name"], "status": run["status"], "base_model": run["base_model"],
            "method": run["method"], "num_layers": ((run["config"] or {}).get("model") or {}).get("num_layers"),
            "steps": steps, "final_metrics": run["final_metrics"] or {}, "model_id": run["model_id"],
            "started_at": run["started_at"], "finished_at": run["finished_at"], "output_dir": run["output_dir"],
            "error": run["error"]}


def _last_step(run_id: int) -> int | None:
    """The last logged step, without loading every step row of a long run."""
    from sqlalchemy import func, select

    from chemnamer.store.db import session
    from chemnamer.store.schema import StepLog

    with session(readonly=True) as s:
        return s.scalar(select(func.max(StepLog.step)).where(StepLog.run_id == run_id))


def _show(runs, run_id: int, as_json: bool) -> int:
    run = runs.get_run(run_id)
    metrics = [m for m in runs.run_metrics(run_id) if m["split"] in ("valid", "test")]
    generalization = runs.generalization([run_id]).get(run_id, {})
    checkpoints = runs.run_checkpoints(run_id)
    info = (run["config"] or {}).get("_info") or {}
    summary = _summary(run, _last_step(run_id))
    if as_json:
        print(json.dumps({**summary, "config": run["config"], "hardware": run["hardware"],
                          "data_hash": run["data_hash"], "epoch_metrics": metrics, "generalization": generalization,
                          "checkpoints": checkpoints},
                         default=_jsonable))
        return 0
    layers = summary["num_layers"] or "all"
    print(f"run {run['id']}  {run['name']}  [{run['status']}]")
    print(f"  model      {run['base_model']} ({run['method']}, {layers} layers) -> {run['model_id'] or '-'}")
    print(f"  steps      {summary['steps'] if summary['steps'] is not None else '-'}"
          f"{' (' + str(info['steps_per_epoch']) + ' per epoch)' if info.get('steps_per_epoch') else ''}"
          f", {info.get('examples', '?')} training examples, data {run['data_hash'] or '-'}")
    print(f"  time       {_when(run['started_at'])} -> {_when(run['finished_at'])} ({_duration(run)})")
    print(f"  device     {(run['hardware'] or {}).get('device', '?')}, world {info.get('world', 1)}, "
          f"bf16 {info.get('bf16', '?')}")
    print(f"  output     {run['output_dir'] or '-'}")
    if run["error"]:
        print(f"  error      {run['error']}")
    if run["final_metrics"]:
        shown = ", ".join(f"{c} {_fmt(run['final_metrics'].get(k))}" for c, k in METRIC_COLUMNS
                          if k in run["final_metrics"])
        print(f"  final      {shown}")
    if metrics:
        print("\nmetrics per epoch:")
        _print_table(["epoch", "step", "examples", "split", "decoding", *[c for c, _ in METRIC_COLUMNS], "n"],
                     [[_fmt(m["epoch"], 2), str(m["step"]), str(m["examples_seen"] or ""), m["split"],
                       (m["metrics"] or {}).get("decoding", m["decoding"]),
                       *[_fmt((m["metrics"] or {}).get(k)) for _, k in METRIC_COLUMNS],
                       str((m["metrics"] or {}).get("n", ""))] for m in metrics])
    if generalization:
        from chemnamer.finetune.generalization import report_lines

        beams = {m.get("beams") for m in generalization.values()}
        forms = {m.get("forms", 1) for m in generalization.values()}  # reports before pooled forms: one
        print(f"\ngeneralization (chemnamer eval --sets, {'/'.join(map(str, sorted(beams, key=str)))} beams, "
              f"SMILES forms: {'/'.join(map(str, sorted(forms, key=str)))}, first verified candidate):")
        print("\n".join(report_lines(generalization, "  ")))
    if checkpoints:
        print("\ncheckpoints:")
        _print_table(["step", "epoch", "kind", "path"],
                     [[str(c["step"]), _fmt(c["epoch"], 2), c["kind"],
                       c["path"] + ("" if Path(c["path"]).exists() else "  (pruned)")] for c in checkpoints])
    return 0


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


def _duration(run: dict) -> str:
    if not run["started_at"] or not run["finished_at"]:
        return "running" if run["status"] == "running" else "-"
    s = int((run["finished_at"] - run["started_at"]).total_seconds())
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
