"""What an interactive session writes to the history: one row per naming the user asked for.

The naming view names as the user types (after a 400 ms pause), again on Enter, on each click of Name
and when the fallback is toggled. Storing each of those gave one molecule three rows or more, plus a
row for every prefix the typist paused on ("CC(=O)O" on the way to aspirin). The rule, as a lab
notebook keeps it:
  * one row per (input, model) in a session: naming it again rewrites that row, dated now. The
    fallback mode is not part of the key: it only picks among the same candidates and references,
    which the row keeps either way, and two rows that differ only in it read as duplicates;
  * a result shown while typing is a draft: the next one replaces it, so only what was in the box
    when the typing stopped is kept; Enter, Name or copying the result keeps the draft for good;
  * a draft that does not parse (half a ring closure) is not stored.
Plain Python (no Qt): the GUI's naming worker calls it, the tests drive it directly too.
"""
from __future__ import annotations

import threading
from datetime import datetime


class Notebook:
    def __init__(self):
        self._rows: dict[tuple, int] = {}  # (input, model) -> id of the row written for it
        self._stamps: dict[int, datetime] = {}  # id -> the created_at written: is the row still ours?
        self._kept: set[int] = set()  # rows the user asked for: a later draft never replaces them
        self._draft: tuple | None = None  # key of the row that the next as-you-type result replaces
        self._lock = threading.Lock()

    def save(self, result, committed: bool) -> int | None:
        """Store a NamingResult (sets `result.id`); `committed` is False for an as-you-type result.
        Returns the row id, or None when nothing was stored. A failing database is a note on the
        result, never an exception: the naming itself must still be shown."""
        from chemnamer.store import history
        from chemnamer.store.schema import utcnow

        key = (result.input.strip(), result.model)
        with self._lock:
            if result.error and not committed:
                return None
            replace = self._rows.get(key)
            stale = None  # a draft left behind: the box now holds an input that already has its row
            if self._draft is not None and self._draft != key:
                draft_id = self._rows.pop(self._draft, None)
                if replace is None:
                    replace = draft_id
                else:
                    stale = draft_id
            record = {**result.to_record(), "created_at": utcnow()}
            try:
                # Deleted in the history view meanwhile, its id perhaps reused by SQLite: not ours to rewrite.
                replace = replace if replace is not None and self._ours(history, replace) else None
                result.id = history.save_naming(record, replace_id=replace)
                if stale is not None and self._ours(history, stale):
                    history.delete_namings([stale])
            except Exception as exc:  # noqa: BLE001 - history is a convenience, the naming is not
                result.note = (result.note + "; " if result.note else "") + f"not saved to history: {exc}"
                return None
            self._stamps[result.id] = record["created_at"]
            # an id SQLite reused (its row deleted in the history view) no longer belongs to an older key
            self._rows = {k: v for k, v in self._rows.items() if v != result.id}
            self._rows[key] = result.id
            if result.id != replace:
                self._kept.discard(result.id)
            if committed:
                self._kept.add(result.id)
            self._draft = None if result.id in self._kept else key
            return result.id

    def keep(self) -> None:
        """The shown draft stays as its own row (the user pressed Enter on it, or copied from it)."""
        with self._lock:
            if self._draft is not None and self._draft in self._rows:
                self._kept.add(self._rows[self._draft])
            self._draft = None

    def _ours(self, history, naming_id: int) -> bool:
        row = history.get_naming(naming_id)
        return row is not None and row["created_at"] == self._stamps.get(naming_id)
