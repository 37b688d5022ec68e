"""The Runs view's task functions (plain Python, no Qt): the runs with their last step and
generalization report, loss and metric curves, the request that resumes a run."""
from __future__ import annotations

from pathlib import Path


def runs_overview(state=None) -> list[dict]:
    from chemnamer.store import runs

    runs.mark_interrupted()
    out = []
    for r in runs.list_runs():
        r = dict(r)
        r["last_step"] = None
        out.append(r)
    last = runs.last_steps() if out else {}
    reports = runs.generalization() if out else {}
    for r in out:
        r["last_step"], r["elapsed_s"] = last.get(r["id"], (None, None))
        r["generalization"] = reports.get(r["id"], {})  # `chemnamer eval --sets` on the run's model
    return out


def run_curves(state, run_ids: list[int]) -> dict:
    """Loss per step and metrics per evaluation for each run."""
    from chemnamer.store import runs

    out = {}
    for rid in run_ids:
        steps = runs.run_steps(rid)
        out[rid] = {"steps": [(s["step"], s["loss"], s["epoch"]) for s in steps if s["loss"] is not None],
                    "metrics": [(m["epoch"], m["step"], m["split"], m["decoding"], m["metrics"] or {})
                                for m in runs.run_metrics(rid)
                                if (m["metrics"] or {}).get("report") != "generalization"]}  # shown as details
    return out


def resume_request(run: dict, threads: int | None = None) -> dict:
    """The training request that continues `run` from its latest checkpoint in its output folder."""
    config = {k: v for k, v in (run.get("config") or {}).items() if not k.startswith("_")}
    out_dir = run.get("output_dir")
    if not out_dir or not Path(out_dir).is_dir():
        raise FileNotFoundError(f"run {run['id']}: its folder {out_dir!r} is gone; it cannot be resumed")
    from chemnamer.finetune.trainer import latest_checkpoint

    if latest_checkpoint(Path(out_dir)) is None:
        raise FileNotFoundError(f"run {run['id']}: no checkpoint in {out_dir} to resume from")
    return {"config": config, "output_dir": out_dir, "resume": True, "threads": threads}
