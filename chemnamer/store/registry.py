"""Fine-tuned models known by id, so `--model run-12-final` finds their directory."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert

from chemnamer.store.db import session
from chemnamer.store.schema import RegisteredModel, utcnow


def register_model(
    id: str,
    path: str | os.PathLike[str],
    base_model: str | None,
    run_id: int | None = None,
    description: str = "",
    metrics: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Add a model, or replace what is known about an id already registered (keeps its created_at)."""
    values = dict(path=os.fspath(path), base_model=base_model, run_id=run_id, description=description,
                  metrics=dict(metrics) if metrics is not None else None, meta=dict(meta) if meta is not None else None)
    # One atomic statement: two processes registering the same id cannot collide.
    stmt = insert(RegisteredModel).values(id=id, created_at=utcnow(), **values)
    with session() as s:
        s.execute(stmt.on_conflict_do_update(index_elements=[RegisteredModel.id], set_=values))


def get_registered(id: str) -> dict[str, Any] | None:
    with session(readonly=True) as s:
        row = s.get(RegisteredModel, id)
        return row.as_dict() if row is not None else None


def registered_rows() -> list[dict[str, Any]]:
    """Every registration as plain columns, oldest first."""
    stmt = select(RegisteredModel).order_by(RegisteredModel.created_at, RegisteredModel.id)
    with session(readonly=True) as s:
        return [r.as_dict() for r in s.scalars(stmt)]


def unregister_model(id: str) -> bool:
    """Forget a model id (its files stay); returns whether it was registered."""
    with session() as s:
        return bool(s.execute(delete(RegisteredModel).where(RegisteredModel.id == id)).rowcount)  # type: ignore[attr-defined]
