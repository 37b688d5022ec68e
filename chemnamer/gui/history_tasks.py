"""The History view's task functions (plain Python, no Qt): a page of the table, the CSV export."""
from __future__ import annotations

import csv
import os
import time
from datetime import datetime
from pathlib import Path


HISTORY_EXPORT_COLUMNS = ["id", "created_at", "input", "smiles", "inchikey", "name", "verified", "score",
                          "chosen_from", "model_id", "reference_pubchem", "reference_rule_based", "error"]


def history_page(state, filters: dict, order_by: str, descending: bool, limit: int):
    """(total, first page, ms) for the history table."""
    from chemnamer.store import history

    t0 = time.perf_counter()
    total = history.count_history(**filters)
    rows = history.query_history(limit=limit, offset=0, order_by=order_by, descending=descending, **filters)
    return total, rows, (time.perf_counter() - t0) * 1000


def export_history(state, path: str, filters: dict, order_by: str = "created_at", descending: bool = True,
                   page: int = 2000) -> int:
    """Every history row that matches `filters` (query_history's keywords) into a CSV file."""
    from chemnamer.batchio import cell
    from chemnamer.store import history

    total = history.count_history(**filters)
    n = 0
    tmp = Path(str(path) + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HISTORY_EXPORT_COLUMNS)
        while True:
            state.check()
            rows = history.query_history(limit=page, offset=n, order_by=order_by, descending=descending, **filters)
            for rec in rows:
                w.writerow([cell(rec.get(c).isoformat() if isinstance(rec.get(c), datetime) else rec.get(c))
                            for c in HISTORY_EXPORT_COLUMNS])
            n += len(rows)
            state.progress(n / total if total else None, f"{n} of {total}")
            if len(rows) < page:
                break
    os.replace(tmp, path)
    return n
