"""The Batch view's task functions (plain Python, no Qt; see chemnamer.gui.concurrent): the file's
columns, naming it with the shared batch loop (chemnamer.batch), CSV and SD file exports."""
from __future__ import annotations

import time

from chemnamer.batch import BatchRow
from chemnamer.gui.tasks import format_duration


def batch_columns(path: str) -> tuple[list[str], str | None, bool]:
    """(the file's columns, the one holding the structures or None, whether the user picks that column:
    not in a .smi or SD file, whose records hold one structure each). Reads the header and a 64 KB
    sample of delimited text: fast enough for the GUI thread (an SD or JSON file is read through once
    for its columns). InputError for an unusable file."""
    from chemnamer import batchio

    try:
        source = batchio.open_input(path)
    except batchio.MissingColumn as exc:
        return exc.columns, None, True
    return list(source.columns), source.column, source.column_choice


def batch_name(state, namer, path: str, chunk_size: int = 8, column: str | None = None,
               mode: str | None = None) -> dict:
    """Name every record of a file batchio reads (`column`: the CSV/TSV/JSON column with the structures;
    `mode`: model, best or guided, default the Namer's). Events: 'start' {columns, column, total, path,
    source}, 'rows' [BatchRow]."""
    from chemnamer import batchio
    from chemnamer.batch import name_records
    from chemnamer.naming import BATCH_BEAMS, BATCH_FORMS

    source = batchio.open_input(path, column)
    total = source.count() or 0
    state.emit("start", {"columns": list(source.columns), "column": source.column, "total": total,
                         "path": str(path), "source": source})
    t0, n = time.perf_counter(), 0
    for rows in name_records(namer, source, chunk_size, BATCH_BEAMS, mode, check=state.check,
                             forms=BATCH_FORMS):
        state.emit("rows", rows)
        n += len(rows)
        _batch_progress(state, n, total, time.perf_counter() - t0)
    _batch_progress(state, n, total, time.perf_counter() - t0, force=True)
    return {"rows": n, "seconds": time.perf_counter() - t0, "path": str(path)}


def _batch_progress(state, n: int, total: int, elapsed: float, force: bool = False) -> None:
    if total:
        eta = elapsed / max(n, 1) * max(0, total - n)
        state.progress(min(1.0, n / total), f"{n} of {total} · {format_duration(eta)} left", force=force)
    else:
        state.progress(None, f"{n} named", force=force)


def export_batch_csv(state, rows: list[BatchRow], columns: list[str], path: str, source=None) -> int:
    """The `chemnamer batch` CSV layout (same columns, the input's delimiter and encoding kept as the CLI
    keeps them: batchio.output_dialect), so files from the GUI and the CLI match."""
    from chemnamer import batchio

    dialect = batchio.output_dialect(source, path) if source is not None else {}
    writer = batchio.CsvWriter(path, batchio.output_columns(columns), append=False, **dialect)
    try:
        writer.write(r.output_row(columns) for r in rows)
    finally:
        writer.close()
    return len(rows)


def export_batch_sdf(state, rows: list[BatchRow], columns: list[str], path: str) -> int:
    """An SD file: one record per named molecule, the name (and its checks) as SD fields."""
    from rdkit import Chem

    written = 0
    writer = Chem.SDWriter(str(path))
    try:
        for r in rows:
            res = r.result
            if res is None or not res.smiles:
                continue
            mol = Chem.MolFromSmiles(res.smiles)
            if mol is None:
                continue
            mol.SetProp("_Name", res.name or r.extra.get("title", "") or "")
            props = {"IUPAC_NAME": res.name, "NAME_VERIFIED": res.verified, "NAME_SCORE": res.score,
                     "NAME_SOURCE": res.chosen_from, "MODEL": res.model, "SMILES": res.smiles,
                     "INCHIKEY": res.inchikey, "REFERENCE_PUBCHEM": res.reference.pubchem,
                     "REFERENCE_RULE_BASED": res.reference.rule_based}
            for c in columns:
                props.setdefault(c if c.upper() not in props else f"input_{c}", r.extra.get(c))
            for k, v in props.items():
                if v is not None and v != "":
                    mol.SetProp(k, _sd_text(v))
            writer.write(mol)
            written += 1
    finally:
        writer.close()
    return written


def _sd_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.5g}"
    return " ".join(str(v).splitlines())
