"""Training runs: their recipe, step logs, evaluation metrics, checkpoints and how they ended."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from chemnamer.store.db import session
from chemnamer.store.schema import Checkpoint, EpochMetric, Run, StepLog, utcnow

STATUSES = ("running", "completed", "cancelled", "failed", "interrupted")
FINAL_STATUSES = ("completed", "cancelled", "failed", "interrupted")
# valid/test: the recipe's own splits; the rest: the generalization sets of `chemnamer eval --sets`
# (chemnamer.data.evalsets), saved against the run whose model was scored.
GENERALIZATION_SETS = ("aromatic", "randomized", "oldstyle", "druglike", "common")
SPLITS = ("valid", "test", *GENERALIZATION_SETS)
DECODINGS = ("greedy", "beam")
CHECKPOINT_KINDS = ("step", "epoch", "final", "cancel")
_STEP_COLUMNS = StepLog.column_names() - {"id", "run_id"}

# Runs created by this process: a run whose pid equals ours but is not in here was left by an
# earlier process that happened to get the same pid (common in containers).
_own_runs: set[int] = set()


def _check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, not {value!r}")
    return value


def _run(s: Any, run_id: int) -> Run:
    run = s.get(Run, run_id)
    if run is None:
        raise KeyError(f"no run with id {run_id}")
    return run


def create_run(
    name: str,
    config: Mapping[str, Any],
    data_hash: str | None,
    base_model: str | None,
    method: str,
    hardware: Mapping[str, Any] | None,
    output_dir: str | os.PathLike[str] | None,
) -> int:
    """Record a run that starts now in this process; returns its id."""
    now = utcnow()
    run = Run(
        run_uid=uuid.uuid4().hex, name=name, created_at=now, started_at=now, status="running",
        config=dict(config), data_hash=data_hash, base_model=base_model, method=method,
        hardware=dict(hardware or {}), pid=os.getpid(),
        output_dir=os.fspath(output_dir) if output_dir is not None else None,
    )
    with session() as s:
        s.add(run)
        s.flush()
        _own_runs.add(run.id)
        return run.id


def log_steps(run_id: int, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append training steps (dicts with step, epoch, loss, lr, tokens_seen, examples_seen, elapsed_s)."""
    values = [{**dict.fromkeys(_STEP_COLUMNS), **{k: v for k, v in r.items() if k in _STEP_COLUMNS}, "run_id": run_id}
              for r in rows]
    if values:
        with session() as s:
            s.execute(insert(StepLog), values)


def log_epoch_metrics(
    run_id: int,
    epoch: float | None,
    step: int | None,
    split: str,
    decoding: str,
    metrics: Mapping[str, Any],
    examples_seen: int | None = None,
    elapsed_s: float | None = None,
) -> int:
    row = EpochMetric(
        run_id=run_id, epoch=epoch, step=step, split=_check(split, SPLITS, "split"),
        decoding=_check(decoding, DECODINGS, "decoding"), metrics=dict(metrics),
        examples_seen=examples_seen, elapsed_s=elapsed_s,
    )
    with session() as s:
        s.add(row)
        s.flush()
        return row.id


def log_generalization(run_id: int, report: Mapping[str, Any]) -> None:
    """A `chemnamer eval --sets` report ({"beams": b, "forms": f, "sets": {name: summary}}) on the run's
    model: one beam-decoding metrics row per set, step and epoch empty (it is the finished model's)."""
    beams, forms = report.get("beams"), report.get("forms", 1)  # reports before pooled forms: one
    with session() as s:
        for name, summary in report["sets"].items():
            s.add(EpochMetric(run_id=run_id, epoch=None, step=None, split=_check(name, SPLITS, "split"),
                              decoding="beam", metrics={**summary, "beams": beams, "forms": forms,
                                                                     "report": "generalization"}))


def generalization(run_ids: Iterable[int] | None = None) -> dict[int, dict[str, dict[str, Any]]]:
    """run id -> set -> the latest `log_generalization` summary of each set."""
    stmt = select(EpochMetric).where(EpochMetric.step.is_(None), EpochMetric.decoding == "beam") \
        .order_by(EpochMetric.id)
    if run_ids is not None:
        stmt = stmt.where(EpochMetric.run_id.in_(list(run_ids)))
    out: dict[int, dict[str, dict[str, Any]]] = {}
    with session(readonly=True) as s:
        for row in s.scalars(stmt):
            if (row.metrics or {}).get("report") == "generalization":
                out.setdefault(row.run_id, {})[row.split] = row.metrics
    return out


def add_checkpoint(run_id: int, step: int | None, epoch: float | None, path: str | os.PathLike[str], kind: str) -> int:
    row = Checkpoint(run_id=run_id, step=step, epoch=epoch, path=os.fspath(path),
                     kind=_check(kind, CHECKPOINT_KINDS, "checkpoint kind"))
    with session() as s:
        s.add(row)
        s.flush()
        return row.id


def latest_checkpoint(run_id: int) -> dict[str, Any] | None:
    """The checkpoint to resume from: highest step, latest written among equals."""
    stmt = (select(Checkpoint).where(Checkpoint.run_id == run_id)
            .order_by(Checkpoint.step.desc().nulls_last(), Checkpoint.id.desc()).limit(1))
    with session(readonly=True) as s:
        row = s.scalars(stmt).first()
        return row.as_dict() if row is not None else None


def finish_run(
    run_id: int,
    status: str,
    error: str | None = None,
    final_metrics: Mapping[str, Any] | None = None,
    model_id: str | None = None,
) -> None:
    _check(status, FINAL_STATUSES, "final status")
    with session() as s:
        run = _run(s, run_id)
        run.status, run.finished_at, run.error = status, utcnow(), error
        if final_metrics is not None:
            run.final_metrics = dict(final_metrics)
        if model_id is not None:
            run.model_id = model_id


def set_status(run_id: int, status: str) -> None:
    """Change the status; back to 'running' means resumed here: this process owns it from now on."""
    _check(status, STATUSES, "status")
    with session() as s:
        run = _run(s, run_id)
        run.status = status
        if status == "running":
            # started_at moves too, or mark_interrupted would take our newer process for a recycled pid
            run.pid, run.started_at, run.finished_at = os.getpid(), utcnow(), None
            _own_runs.add(run_id)
        elif run.finished_at is None:
            run.finished_at = utcnow()


def _started_after(pid: int, when: datetime | None) -> bool:
    """True when `pid` is a process that began after `when`, so it cannot be the run's process."""
    try:
        import psutil

        return when is not None and psutil.Process(pid).create_time() > when.timestamp() + 1.0
    except Exception:  # no psutil, no such process, no permission: cannot tell
        return False


def _pid_alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # killed, not yet reaped
        except psutil.NoSuchProcess:
            return False
        except psutil.Error:
            return True
    if os.name == "nt":
        return True  # os.kill(pid, 0) would terminate the process on Windows: assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to another user
    return True


def mark_interrupted() -> int:
    """Runs still 'running' whose process is gone become 'interrupted' (call at startup); returns how many."""
    with session() as s:
        gone = []
        for run in s.scalars(select(Run).where(Run.status == "running")):
            if run.pid == os.getpid():
                dead = run.id not in _own_runs
            else:
                dead = not _pid_alive(run.pid) or (run.pid is not None and _started_after(run.pid, run.started_at))
            if dead:
                gone.append(run.id)
        if gone:
            s.execute(update(Run).where(Run.id.in_(gone)).values(
                status="interrupted", finished_at=utcnow(), error="the training process ended without finishing"))
    return len(gone)


def get_run(run_id: int) -> dict[str, Any]:
    """The run's columns; KeyError when there is no such run."""
    with session(readonly=True) as s:
        return _run(s, run_id).as_dict()


def list_runs() -> list[dict[str, Any]]:
    """All runs, newest first, with their final metrics."""
    with session(readonly=True) as s:
        return [r.as_dict() for r in s.scalars(select(Run).order_by(Run.id.desc()))]


def last_steps() -> dict[int, tuple[int, float | None]]:
    """run id -> (last logged step, elapsed seconds then) for every run that logged a step."""
    stmt = select(StepLog.run_id, func.max(StepLog.step), func.max(StepLog.elapsed_s)).group_by(StepLog.run_id)
    with session(readonly=True) as s:
        return {run_id: (step, elapsed) for run_id, step, elapsed in s.execute(stmt)}


def run_steps(run_id: int) -> list[dict[str, Any]]:
    stmt = select(StepLog).where(StepLog.run_id == run_id).order_by(StepLog.step, StepLog.id)
    with session(readonly=True) as s:
        return [r.as_dict() for r in s.scalars(stmt)]


def run_metrics(run_id: int) -> list[dict[str, Any]]:
    stmt = select(EpochMetric).where(EpochMetric.run_id == run_id).order_by(EpochMetric.step, EpochMetric.id)
    with session(readonly=True) as s:
        return [r.as_dict() for r in s.scalars(stmt)]


def run_checkpoints(run_id: int) -> list[dict[str, Any]]:
    stmt = select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step, Checkpoint.id)
    with session(readonly=True) as s:
        return [r.as_dict() for r in s.scalars(stmt)]


def delete_run(run_id: int) -> bool:
    """Delete a run with its logs, metrics and checkpoint records (files on disk are left alone)."""
    with session() as s:
        return bool(s.execute(delete(Run).where(Run.id == run_id)).rowcount)  # type: ignore[attr-defined]
