"""Batch naming's files: the records of the user's input to name (`open_input`, read by the shared reader
`chemnamer.readers`) and the resumable CSV behind `chemnamer batch` (CLI and GUI).

The user's data comes back as it went in: every input column, its name and its cells unchanged and in
order (quoted multi-line cells included), then our columns (RESULT). Written back the same way: the
input's delimiter (a ';' CSV from a European Excel stays ';') and line ends, UTF-8; when the input was
not plain UTF-8, the output starts with a BOM so that Excel reads an "é" back right.

Any file `chemnamer.readers` reads: CSV/TSV/TXT and JSON (lines) with the structures in a `smiles`
column in any case or the one the user picks, `.smi`, `.sdf`; gzipped too. A record never stops the
batch: one that cannot be named becomes a `Record` with `error` set (its cells still in the output).
Only problems with the whole file (missing, empty, no such column) raise `InputError`, whose message
is one line.

Crash safety: rows are written in input order, one chunk per flush; `resume_point` finds the last
complete record (a record may span lines), cuts a partial one left by a kill, and checks that the
output's input cells match the input's, so a resume never mixes two files.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chemnamer.readers import ReadError, Row, Table, find_column, molblock_smiles, open_table, recoded_note

RESULT = ["name", "verified", "chosen_from", "score", "canonical_smiles", "inchikey", "reference_pubchem",
          "reference_rule_based", "error"]
DEFAULT_COLUMN = "smiles"

InputError = ReadError  # the reader's error: the whole input or output file is unusable; one line


class MissingColumn(InputError):
    """The structure column is not in the file; `columns` lists what is (the GUI offers them)."""

    def __init__(self, message: str, columns: list[str]):
        super().__init__(message)
        self.columns = columns


@dataclass
class Record:
    row: int
    text: str | None  # what to name (SMILES or a name); None when the record itself is broken
    extra: dict = field(default_factory=dict)  # the input's own cells, by input column name
    error: str | None = None


# --- input ----------------------------------------------------------------------------------------

class Source:
    """The records of one input file, numbered from 0 in file order: what to name and the input's cells."""

    def __init__(self, table: Table, column: str | None):
        self.table = table
        self.columns = list(table.columns)  # the input's own column names, in order
        self.column = column  # the column that holds the structures; None for SD records (their molblock)
        self.column_choice = table.kind in ("delimited", "jsonl", "json")  # whether the user may pick that column
        self.delimiter, self.lineterminator = table.delimiter, table.lineterminator

    @property
    def encoding(self) -> str:
        return self.table.encoding

    def __iter__(self) -> Iterator[Record]:
        for n, row in enumerate(self.table.rows()):
            yield self._record(n, row)

    def _record(self, n: int, row: Row) -> Record:
        if row.problem is not None:
            return Record(n, None, row.values, row.problem)
        if self.column is None:
            smiles, why = molblock_smiles(row.molblock)
            return Record(n, smiles, row.values, None if smiles is not None else f"broken SD record: {why}")
        text = row.values.get(self.column)
        if text is None:  # a JSON object without the key
            return Record(n, None, row.values, f"no {self.column!r} in this record")
        return Record(n, text.strip(), row.values)

    def count(self) -> int:
        """Number of records (a streaming pass, for the progress bar)."""
        return self.table.count()

    def recoded_note(self) -> str | None:
        """After `count`: which lines were not UTF-8 and were read as Windows-1252, for the user to check."""
        log = self.table.log
        if not log.recoded:
            return None
        return recoded_note(self.table.path.name, log.recoded, log.recoded_lines)

    def cells(self) -> Iterator[list[str]]:
        """Each record's input cells in column order: what the output repeats (resume checks them).
        Straight from the reader: no RDKit pass over an SD file."""
        for row in self.table.rows():
            yield [row.values.get(c, "") for c in self.columns]


def open_input(path: str | os.PathLike, column: str | None = None) -> Source:
    """A reader for `path`. `column`: the column with the structures in delimited text or JSON (default
    'smiles', any case); a .smi or SD file has one structure per record."""
    want = column or DEFAULT_COLUMN
    table = open_table(path, want)
    name = table.path.name
    if table.kind in ("smi", "sdf"):
        if column:
            raise InputError(f"{name}: --column applies to CSV/TSV and JSON files; a .{table.kind} file has one "
                             "structure per record")
        return Source(table, "smiles" if table.kind == "smi" else None)
    at = find_column(table.columns, want)
    if at is None:
        found = ", ".join(repr(c) for c in table.columns) or "none"
        hint = "" if column else "; name the column that holds the structures with --column"
        raise MissingColumn(f"{name} has no {want!r} column (found: {found}){hint}", list(table.columns))
    return Source(table, table.columns[at])


# --- output ---------------------------------------------------------------------------------------

def output_columns(input_columns: list[str]) -> list[str]:
    """The input's columns unchanged, then RESULT; a result column whose name the input already uses
    (any case) becomes `chemnamer_<name>`, so no column is ever renamed or replaced in the user's data."""
    taken = {c.strip().lower() for c in input_columns}
    out = []
    for c in RESULT:
        name = c
        while name.lower() in taken:
            name = "chemnamer_" + name
        taken.add(name.lower())
        out.append(name)
    return [*input_columns, *out]


def result_cells(result, error: str | None = None) -> list:
    """RESULT's values for one record: `result` is a NamingResult, or None (then `error` says why)."""
    if result is None:
        return [None] * (len(RESULT) - 1) + [error]
    ref = result.reference
    return [result.name, result.verified, result.chosen_from, result.score, result.smiles, result.inchikey,
            ref.pubchem, ref.rule_based, error or result.error]


def output_row(cells: list[str], result, error: str | None = None) -> list:
    return [*cells, *result_cells(result, error)]


def output_dialect(source: Source, out_path: str | os.PathLike) -> dict:
    """How to write OUT for this input: tab for a .tsv/.tab OUT; else the input's ';' kept (the Excel
    that wrote it expects it back), otherwise ','. The input's line ends; a BOM when the input was not
    plain UTF-8 (Excel reads BOM-less UTF-8 as its ANSI code page)."""
    suffix = Path(out_path).suffix.lower()
    delimiter = "\t" if suffix in (".tsv", ".tab") else ";" if source.delimiter == ";" else ","
    return {"delimiter": delimiter, "lineterminator": source.lineterminator,
            "bom": source.encoding not in ("utf-8",)}


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.5g}"
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): the output is always valid UTF-8
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _records_with_ends(fh, delimiter: str) -> Iterator[tuple[list[str] | None, int, bool]]:
    """(fields, byte offset just past the record, whether it ended with a line end) for each CSV record
    of a binary file handle; fields None for a record csv cannot parse (a kill inside a quoted cell).
    csv.reader pulls one line at a time, so after each record the bytes read are exactly the ones up
    to its end. strict: a file that ends inside quotes is an error, not a record."""
    pos = 0
    last = b""

    def lines():
        nonlocal pos, last
        for i, raw in enumerate(fh):
            pos += len(raw)
            last = raw
            text = raw.decode("utf-8", "replace")
            yield text[1:] if i == 0 and text.startswith("\ufeff") else text

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None, pos, False
            return
        yield fields, pos, last.endswith(b"\n")


def resume_point(path: str | os.PathLike, header: list[str], delimiter: str = ",",
                 expected: Iterable[list[str]] | None = None) -> int:
    """How many records OUT already holds; cuts a partial last record left by a kill (0 and an empty
    file when not even the header is complete). `expected`: the input's cells per record (Source.cells);
    an output whose input cells differ was written from another file and is refused."""
    path = Path(path)
    if not path.is_file():
        return 0
    width, n_input = len(header), len(header) - len(RESULT)
    keep, k, partial = 0, 0, False
    wanted = iter(expected) if expected is not None else None
    with path.open("rb") as fh:
        for fields, end, complete in _records_with_ends(fh, delimiter):
            if fields is None or not complete or (k > 0 and len(fields) != width):
                partial = True  # the cut record of a killed write: it must be the last one (checked below)
                break
            if k == 0:
                if fields != header:
                    raise InputError(f"{path.name} was written for other columns; cannot resume it "
                                     f"(expected {delimiter.join(header[:12])}{delimiter}...)")
            elif wanted is not None and fields[:n_input] != next(wanted, None):
                raise InputError(f"{path.name}: record {k} does not match input record {k}; cannot resume a file "
                                 "that was edited or written from another input")
            keep, k = end, k + 1
        if partial and fh.read(1):
            raise InputError(f"{path.name}: a broken record in the middle (record {k}); cannot resume it")
    if keep != path.stat().st_size:
        with path.open("rb+") as fh:
            fh.truncate(keep)
    return max(0, k - 1)


class CsvWriter:
    """Appends rows; `flush()` after each chunk so a kill loses at most the chunk in progress."""

    def __init__(self, path: str | os.PathLike, header: list[str], append: bool, delimiter: str = ",",
                 lineterminator: str = "\n", bom: bool = False):
        self.path = Path(path)
        fresh = not append or not self.path.exists() or self.path.stat().st_size == 0
        self._fh = self.path.open("a" if append else "w", encoding="utf-8", newline="")
        self.delimiter, self.lineterminator = delimiter, lineterminator
        if fresh:
            if bom:
                self._fh.write("\ufeff")
            self.write([header])
            self.flush()

    def _line(self, values) -> str:
        # Written with '\r\n' and then given the wanted line end: csv quotes a field that holds a
        # character of its line terminator only, so with '\n' alone a lone '\r' would go unquoted.
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.delimiter, lineterminator="\r\n").writerow([cell(v) for v in values])
        return buf.getvalue()[:-2] + self.lineterminator

    def write(self, rows) -> None:
        self._fh.write("".join(self._line(r) for r in rows))

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
