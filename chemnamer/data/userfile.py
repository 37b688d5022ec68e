"""Pairs from the user's own files, read by the shared reader `chemnamer.readers` (CSV/TSV, .smi, SDF,
JSON lines, JSON; gzipped too); any input columns.

Task-agnostic: source and target are any two columns (SMILES → name, name → SMILES, SMILES → formula),
and more input columns ride along in `Pair.extra` under template-safe names (`input_names`), so a
template "SMILES: {source}\nRule: {rule}" trains a model on a SMILES and a rule-based name.
When the source is a SMILES, RDKit gives its InChIKey (for dedupe and leak-free splits).

Bad rows are counted by reason and skipped, and the first few are described with file:line, never
dropped silently; lines that were not UTF-8 (read as Windows-1252, kept) are counted and listed too.
Only problems that make the whole file unusable raise `DataError` (missing file, unknown format, a
column that is not there): a wizard shows its message as is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from chemnamer.data.records import Pair
from chemnamer.readers import MAX_LISTED, LineLog, ReadError, Row, Table, find_column, molblock_smiles, open_table

MAX_MESSAGES = 20
SMILES_COLUMN = "smiles"  # in an SDF without such a property: the SMILES of the molblock

DataError = ReadError  # the reader's error: the file cannot be used at all; the message names the file


@dataclass
class FileReport:
    rows: int = 0
    kept: int = 0
    bad_rows: dict = field(default_factory=dict)  # reason -> count
    messages: list = field(default_factory=list)  # the first MAX_MESSAGES, "file:line: problem"
    recoded: int = 0  # lines that were not UTF-8, read as Windows-1252 and kept
    recoded_lines: list = field(default_factory=list)  # the first MAX_LISTED of them, by number

    def bad(self, reason: str, where: str, problem: str) -> None:
        self.bad_rows[reason] = self.bad_rows.get(reason, 0) + 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(f"{where}: {problem}")

    def add_text_log(self, log: LineLog) -> None:
        self.recoded += log.recoded
        self.recoded_lines += log.recoded_lines[: MAX_LISTED - len(self.recoded_lines)]


def input_names(columns: Iterable[str]) -> dict[str, str]:
    """{column: its name as a template input}: lowercased, runs of other characters as "_", never
    "source" (the first input's) nor a name given twice, so "Rule name" is {rule_name} and "Rule" is
    {rule} (the input guided naming fills)."""
    out: dict[str, str] = {}
    taken = {"source"}
    for column in columns:
        base = re.sub(r"\W+", "_", column.strip().lower(), flags=re.ASCII).strip("_") or "input"
        if base[0].isdigit():
            base = f"c{base}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out[column] = name
    return out


def _columns(table: Table) -> list[str]:
    """The file's columns; an SDF with records but no 'smiles' property gets one, made from each molblock."""
    columns = list(table.columns)
    if table.kind == "sdf" and table.count() and SMILES_COLUMN not in {c.lower() for c in columns}:
        columns.append(SMILES_COLUMN)
    return columns


def _resolve(column: str, columns: list[str], path: Path) -> str:
    """The exact column, else the first one equal ignoring case and blanks ('SMILES' for 'smiles')."""
    at = find_column(columns, column)
    if at is None:
        shown = ", ".join(repr(c) for c in columns) or "none"
        raise DataError(f"{path.name}: no column {column!r} (columns: {shown})")
    return columns[at]


@dataclass
class _Wanted:
    """The columns file_pairs reads, resolved against the file's."""
    source: str
    target: str
    extras: dict  # column -> its name as a template input

    def columns(self) -> tuple[str, ...]:
        return (self.source, self.target, *self.extras)


def _molblock_smiles_into(row: Row) -> str:
    """Fill an SD row's virtual 'smiles' column from its molblock; why it cannot, or ''."""
    if SMILES_COLUMN in row.values or row.molblock is None:
        return ""
    smiles, why = molblock_smiles(row.molblock)
    if smiles is not None:
        row.values[SMILES_COLUMN] = smiles
    return why


# --- public --------------------------------------------------------------------------------------


def file_pairs(path, source_column: str, target_column: str, smiles_source: bool = True,
               report: FileReport | None = None, extra_columns: Iterable[str] = ()) -> Iterator[Pair]:
    """Pairs (source, target) from two columns of a file; bad rows are counted in `report` and skipped.
    Each of `extra_columns` goes into `Pair.extra` under its `input_names` name (an empty cell is an
    empty input; a row without the key, in JSON or SDF, is a bad row).

    Raises DataError when the file as a whole cannot be used (not found, unknown type, no such column).
    Column names match exactly, else ignoring case and blanks. In an SDF, the column 'smiles' comes
    from the molblock when no property has that name.
    """
    path = Path(path)
    report = report if report is not None else FileReport()
    extra_columns = list(extra_columns)
    table = open_table(path, source_column, target_column, *extra_columns)
    columns = _columns(table)
    wanted = _Wanted(_resolve(source_column, columns, path), _resolve(target_column, columns, path),
                     {_resolve(c, columns, path): name for c, name in input_names(extra_columns).items()})
    log = LineLog()
    try:
        for row in table.rows(log):
            report.rows += 1
            pair = _pair(row, wanted, f"{path.name}:{row.line}", smiles_source, report)
            if pair is not None:
                report.kept += 1
                yield pair
    finally:
        report.add_text_log(log)


def _pair(row: Row, wanted: _Wanted, at: str, smiles_source: bool, report: FileReport) -> Pair | None:
    """The row's pair, or None once its problem is in `report`."""
    if row.problem:
        report.bad(row.reason, at, row.problem)
        return None
    values = row.values
    if SMILES_COLUMN in wanted.columns():
        why = _molblock_smiles_into(row)
        if why:
            report.bad("invalid molecule", at, why)
            return None
    missing = next((c for c in wanted.columns() if c not in values), None)
    if missing is not None:
        report.bad("missing value", at, f"no {missing!r} in this row")
        return None
    source, target = values[wanted.source].strip(), values[wanted.target].strip()
    if not source:
        report.bad("empty source", at, f"empty {wanted.source!r}")
        return None
    if not target:
        report.bad("empty target", at, f"empty {wanted.target!r}")
        return None
    inchikey = ""
    if smiles_source:
        from chemnamer.chem import ChemError, parse_smiles

        mol = parse_smiles(source)
        if isinstance(mol, ChemError):
            report.bad("invalid SMILES", at, f"{_short(source)}: {mol.message}")
            return None
        if not mol.inchikey:
            report.bad("no InChIKey", at, f"{_short(source)}: InChI cannot represent it")
            return None
        inchikey = mol.inchikey
    return Pair(source, target, inchikey, f"file:{at}", {name: values[c].strip() for c, name in wanted.extras.items()})


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def preview(path, n: int = 10) -> tuple[list[str], list[list[str]]]:
    """Column names and the first n rows (as lists in column order) for the GUI's column pickers.

    Unusable rows are left out. Raises DataError like file_pairs for files that cannot be read at all.
    """
    table = open_table(path)
    columns = _columns(table)
    rows = table.rows()
    out = []
    try:
        for row in rows:
            if len(out) >= n:
                break
            if row.problem:
                continue
            if SMILES_COLUMN in columns:
                _molblock_smiles_into(row)
            out.append([row.values.get(c, "") for c in columns])
    finally:
        rows.close()  # release the file of a half-read generator now
    return columns, out
