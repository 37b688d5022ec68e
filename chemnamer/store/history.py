"""Naming history: every name produced by the CLI, batch or GUI, searchable page by page.

Pages for a lazily-loading table over ~100k rows: ORDER BY uses the created_at index (id breaks ties,
and SQLite keeps the rowid in every index, so no sort step); the text search is a substring LIKE,
which scans but stops once the page is full.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select

from chemnamer.store.db import session
from chemnamer.store.schema import Naming, utcnow

SORTABLE = frozenset({"created_at", "id", "input", "name", "smiles", "inchikey", "model_id", "score", "verified"})
_COLUMNS = Naming.column_names() - {"id"}
_DELETE_CHUNK = 500  # stay far below SQLite's limit on bound parameters


def _values(record: Mapping[str, Any]) -> dict[str, Any]:
    """Column values from a record; unknown keys are ignored.

    Also understands the CLI's JSON shape (`model`, `ms`, `reference` {pubchem, rule_based}), so a
    naming result can be stored as it is printed."""
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)
    values.update((k, v) for k, v in record.items() if k in _COLUMNS)
    if values["model_id"] is None and isinstance(record.get("model"), str):
        values["model_id"] = record["model"]
    if values["ms_json"] is None and isinstance(record.get("ms"), Mapping):
        values["ms_json"] = dict(record["ms"])
    ref = record.get("reference")
    if isinstance(ref, Mapping):
        values["reference_pubchem"] = values["reference_pubchem"] or ref.get("pubchem")
        values["reference_rule_based"] = values["reference_rule_based"] or ref.get("rule_based")
        if values["reference_json"] is None:
            values["reference_json"] = dict(ref)
    if values["created_at"] is None:
        values["created_at"] = utcnow()
    if values["candidates"] is None:
        values["candidates"] = []
    return values


def save_naming(record: Mapping[str, Any]) -> int:
    """Store one naming; returns its id."""
    with session() as s:
        row = Naming(**_values(record))
        s.add(row)
        s.flush()
        return row.id


def save_namings(records: Iterable[Mapping[str, Any]]) -> int:
    """Store many namings in one transaction (batch jobs, imports); returns how many."""
    rows = [_values(r) for r in records]
    if rows:
        with session() as s:
            # Core insert on the table: every row has every key, so this is one executemany
            # (the ORM bulk path adds ~40% for nothing here).
            s.execute(insert(Naming.__table__), rows)
    return len(rows)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter(
    stmt: Select[Any],
    search: str | None,
    verified: bool | None,
    model_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip())}%"
        # SQLite's LIKE ignores ASCII case already; ilike's lower() on every row would only cost time.
        columns = (Naming.name, Naming.smiles, Naming.inchikey, Naming.input)
        stmt = stmt.where(or_(*(c.like(pattern, escape="\\") for c in columns)))
    if verified is not None:
        stmt = stmt.where(Naming.verified.is_(verified))
    if model_id is not None:
        stmt = stmt.where(Naming.model_id == model_id)
    if since is not None:
        stmt = stmt.where(Naming.created_at >= since)
    if until is not None:
        stmt = stmt.where(Naming.created_at < until)
    return stmt


def query_history(
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
    verified: bool | None = None,
    model_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    order_by: str = "created_at",
    descending: bool = True,
) -> list[dict[str, Any]]:
    """One page of namings, newest first by default. `until` is exclusive."""
    if order_by not in SORTABLE:
        raise ValueError(f"cannot order history by {order_by!r}; choose from {sorted(SORTABLE)}")
    column = getattr(Naming, order_by)
    keys = [column.desc(), Naming.id.desc()] if descending else [column.asc(), Naming.id.asc()]
    stmt = _filter(select(Naming), search, verified, model_id, since, until)
    stmt = stmt.order_by(*keys).limit(limit).offset(offset)
    with session(readonly=True) as s:
        return [row.as_dict() for row in s.scalars(stmt)]


def count_history(
    search: str | None = None,
    verified: bool | None = None,
    model_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """How many namings match the same filters as query_history."""
    stmt = _filter(select(func.count()).select_from(Naming), search, verified, model_id, since, until)
    with session(readonly=True) as s:
        return int(s.scalar(stmt) or 0)


def get_naming(naming_id: int) -> dict[str, Any] | None:
    with session(readonly=True) as s:
        row = s.get(Naming, naming_id)
        return row.as_dict() if row is not None else None


def delete_namings(ids: Iterable[int]) -> int:
    """Delete namings by id; returns how many existed."""
    ids = list(ids)
    deleted = 0
    with session() as s:
        for i in range(0, len(ids), _DELETE_CHUNK):
            result = s.execute(delete(Naming).where(Naming.id.in_(ids[i : i + _DELETE_CHUNK])))
            deleted += result.rowcount  # type: ignore[attr-defined]
    return deleted
