"""Naming history: every name produced by the CLI, batch or GUI, searchable page by page.

Pages for a lazily-loading table over ~100k rows: ORDER BY uses the created_at index (id breaks ties,
and SQLite keeps the rowid in every index, so no sort step); the text search is a substring LIKE,
which scans but stops once the page is full.

The search reads every name a row holds, as a chemist would look for it: the input, the chosen name,
SMILES, InChIKey, PubChem's and the rule-based name, and the common name and synonyms the PubChem
record gave (from `reference_json`, read with SQLite's JSON functions: "aspirin" finds the naming of
CC(=O)Oc1ccccc1C(=O)O).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Text, and_, delete, exists, func, insert, or_, select, type_coerce, update

from chemnamer.store.db import session
from chemnamer.store.schema import Naming, utcnow

SORTABLE = frozenset({"created_at", "id", "input", "name", "smiles", "inchikey", "model_id", "score", "verified",
                      "user_verdict"})
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


def save_naming(record: Mapping[str, Any], replace_id: int | None = None) -> int:
    """Store one naming; returns its id. With `replace_id`, that row is rewritten in place (and dated
    now) instead of adding one: naming the same thing again must not fill the history with copies.
    A `replace_id` that is gone (deleted meanwhile) adds a new row."""
    values = _values(record)
    with session() as s:
        if replace_id is not None:
            if not _VERDICT_COLUMNS & record.keys():  # a re-naming keeps the chemist's verdict
                values.update(_verdict_after_rewrite(s, replace_id, values))
            done = s.execute(update(Naming).where(Naming.id == replace_id).values(**values))
            if done.rowcount:  # type: ignore[attr-defined]
                return replace_id
        row = Naming(**values)
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
        columns = (Naming.name, Naming.smiles, Naming.inchikey, Naming.input, Naming.reference_pubchem,
                   Naming.reference_rule_based, Naming.user_name)
        stmt = stmt.where(or_(*(c.like(pattern, escape="\\") for c in columns), _alias_hit(pattern)))
    if verified is not None:
        stmt = stmt.where(Naming.verified.is_(verified))
    if model_id is not None:
        stmt = stmt.where(Naming.model_id == model_id)
    if since is not None:
        stmt = stmt.where(Naming.created_at >= since)
    if until is not None:
        stmt = stmt.where(Naming.created_at < until)
    return stmt


def _alias_hit(pattern: str):
    """The PubChem record's common name or one of its synonyms matches. A LIKE over the raw JSON text
    picks the few candidate rows (as fast as the name columns: 100k rows ~0.1 s); only those are
    parsed, to drop hits on a key ("synonyms", "cid") or across two names. Parsing every row costs
    ~0.7 s per 100k (json_extract and json_each, measured on the 2-core box)."""
    synonyms = func.json_each(Naming.reference_json, "$.synonyms").table_valued("value")
    return and_(
        type_coerce(Naming.reference_json, Text).like(pattern, escape="\\"),
        or_(func.json_extract(Naming.reference_json, "$.common_name").like(pattern, escape="\\"),
            exists(select(1).select_from(synonyms).where(synonyms.c.value.like(pattern, escape="\\")))))


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


def naming_model_ids() -> list[str]:
    """The models that named anything in the history, sorted."""
    with session(readonly=True) as s:
        return sorted(x for x in s.scalars(select(Naming.model_id).distinct()) if x)


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


# --- the chemist's verdict (issue 18): mark a name correct or type the right one ------------------------
# A row with a verdict is a training pair: its structure and the name the chemist vouches for.
# `export_corrections` writes them as the CSV the training wizard's "Your file" source reads.

CORRECT, CORRECTED = "correct", "corrected"
VERDICTS = (CORRECT, CORRECTED)
CORRECTIONS_COLUMNS = ("smiles", "name", "inchikey", "input", "verdict")
_VERDICT_COLUMNS = frozenset({"user_verdict", "user_name", "user_verdict_at"})


class UnknownNaming(LookupError):
    """No naming with this id (never stored, or deleted)."""

    def __init__(self, naming_id: int):
        super().__init__(f"no naming with id {naming_id}")
        self.naming_id = naming_id


def _verdict_after_rewrite(s: Any, naming_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """save_naming(replace_id=...) rewrites a row: the chemist's verdict stays while the structure is
    the same (it vouches for a name of that structure, whatever the new naming chose), re-labelled
    'correct' when the new chosen name is the one vouched for and 'corrected' when not."""
    old = s.execute(select(Naming.smiles, Naming.user_verdict, Naming.user_name, Naming.user_verdict_at)
                    .where(Naming.id == naming_id)).first()
    if old is None or old.user_verdict is None or old.smiles != values.get("smiles"):
        return dict.fromkeys(_VERDICT_COLUMNS)
    verdict = CORRECT if old.user_name == values.get("name") else CORRECTED
    return {"user_verdict": verdict, "user_name": old.user_name, "user_verdict_at": old.user_verdict_at}


def _set_verdict(naming_id: int, verdict: str | None, name: str | None, smiles: str | None) -> None:
    with session() as s:
        row = s.get(Naming, naming_id)
        if row is None:
            raise UnknownNaming(naming_id)
        if verdict is not None and row.smiles != smiles:  # re-named with another input while we checked
            raise RuntimeError(f"naming {naming_id} changed meanwhile; try again")
        row.user_verdict, row.user_name = verdict, name
        row.user_verdict_at = utcnow() if verdict is not None else None


def _naming_or_raise(naming_id: int) -> dict[str, Any]:
    row = get_naming(naming_id)
    if row is None:
        raise UnknownNaming(naming_id)
    return row


def mark_correct(naming_id: int):
    """The chosen name of this naming is right. A name OPSIN did not verify when it was named is
    checked again and refused (CorrectionRefused, the reason in words) when OPSIN reads it as another
    structure; UnknownNaming for an id that is not there. Returns the CorrectionCheck."""
    from chemnamer.corrections import CorrectionCheck, CorrectionRefused, check_correction

    row = _naming_or_raise(naming_id)
    if not row["name"]:
        raise CorrectionRefused(CorrectionCheck(False, False, "unavailable",
                                                f"naming {naming_id} has no name to mark correct"
                                                + (f" ({row['error']})" if row["error"] else "")))
    if row["verified"] is True and row["smiles"]:
        check = CorrectionCheck(True, True, "verified", "OPSIN verified the name when it was named")
    else:
        check = check_correction(row["name"], row["smiles"])
        if not check.accepted:
            raise CorrectionRefused(check)
    _set_verdict(naming_id, CORRECT, row["name"], row["smiles"])
    return check


def set_correction(naming_id: int, name: str):
    """The right name for this naming's structure is `name`: checked by OPSIN against the structure
    first (chemnamer.corrections.check_correction); CorrectionRefused when it reads as another structure
    or not at all. The chosen name itself typed again is the same as mark_correct. Returns the check."""
    from chemnamer.corrections import CorrectionRefused, check_correction

    row = _naming_or_raise(naming_id)
    name = " ".join((name or "").split())
    check = check_correction(name, row["smiles"])
    if not check.accepted:
        raise CorrectionRefused(check)
    _set_verdict(naming_id, CORRECT if name == row["name"] else CORRECTED, name, row["smiles"])
    return check


def clear_verdict(naming_id: int) -> bool:
    """Forget the chemist's verdict on this naming; returns whether it had one."""
    had = _naming_or_raise(naming_id)["user_verdict"] is not None
    _set_verdict(naming_id, None, None, None)
    return had


def corrections(limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Namings with a verdict, in the order they were given (oldest first)."""
    stmt = (select(Naming).where(Naming.user_verdict.is_not(None))
            .order_by(Naming.user_verdict_at.asc(), Naming.id.asc()).limit(limit).offset(offset))
    with session(readonly=True) as s:
        return [row.as_dict() for row in s.scalars(stmt)]


def count_corrections() -> int:
    with session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(Naming).where(Naming.user_verdict.is_not(None))) or 0)


def export_corrections(path: str | os.PathLike[str], page: int = 2000) -> int:
    """Write the namings with a verdict as CSV (CORRECTIONS_COLUMNS: `name` is the name the chemist
    vouches for), UTF-8, written whole or not at all; returns how many rows. The training wizard's
    "Your file" source reads it with its default columns (smiles → name)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".part")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(CORRECTIONS_COLUMNS)
            while True:
                rows = corrections(limit=page, offset=n)
                w.writerows([r["smiles"], r["user_name"], r["inchikey"] or "", r["input"] or "", r["user_verdict"]]
                            for r in rows)
                n += len(rows)
                if len(rows) < page:
                    break
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return n
