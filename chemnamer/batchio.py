"""File readers and the resumable CSV writer behind `chemnamer batch`.

Readers stream records (CSV/TSV with a `smiles` column in any case, `.smi`, `.sdf`) and never raise
for one bad record: it becomes a `Record` with `error` set. Only problems with the whole file
(missing, not UTF-8 at the header, no smiles column) raise `InputError`, whose message is one line.

Encoding: files must be UTF-8 (a BOM is fine). An undecodable header is a file error; an undecodable
row becomes an error row and the rest of the file is still named.

Output: one physical line per record (newlines inside values become spaces), written in input order
with a `row` index, so a killed run leaves complete rows plus at most one partial last line, and
`resume_point` can continue after the last complete row.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CORE = ["smiles", "name", "verified", "score", "reference_pubchem", "reference_rule_based", "error", "chosen_from"]
ROW = "row"
SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".smi": "smi", ".smiles": "smi", ".sdf": "sdf",
            ".sd": "sdf"}

# A 1 MB SMILES cell must reach the namer (which says "input too long"), not break the csv module.
csv.field_size_limit(64 * 1024 * 1024)


class InputError(Exception):
    """The whole input or output file is unusable; the message is one line for the user."""


@dataclass
class Record:
    row: int
    text: str | None  # what to name (SMILES or a name); None when the record itself is broken
    extra: dict = field(default_factory=dict)  # the input's own columns, by input column name
    error: str | None = None


# --- decoding helpers -----------------------------------------------------------------------------

def _bad_byte(text: str) -> int | None:
    """First undecodable byte kept by errors='surrogateescape', or None."""
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            return ord(ch) - 0xDC00
    return None


def _clean(text: str) -> str:
    """Undecodable bytes as U+FFFD: the output file is always valid UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate outside surrogateescape's range (JSON's "\ud800")
        return text.encode("utf-8", "replace").decode("utf-8")


def _not_utf8(path: Path, byte: int, where: str) -> InputError:
    raw = path.open("rb").read(2)
    hint = "; it looks like UTF-16" if raw in (b"\xff\xfe", b"\xfe\xff") else ""
    return InputError(f"{path.name} is not UTF-8 text (byte 0x{byte:02X} in {where}{hint}); re-save it as UTF-8")


# --- sources --------------------------------------------------------------------------------------

class Source:
    columns: list[str]  # the input's own column names, in order

    def __iter__(self) -> Iterator[Record]:
        raise NotImplementedError

    def count(self) -> int | None:
        """Number of records (a cheap streaming pre-pass, for the progress bar)."""
        return None


class DelimitedSource(Source):
    def __init__(self, path: Path, delimiter: str | None):
        self.path = path
        with self._open() as fh:
            first = fh.readline()
        if not first.strip():
            raise InputError(f"{path.name} is empty (a header line with a 'smiles' column is needed)")
        bad = _bad_byte(first)
        if bad is not None:
            raise _not_utf8(path, bad, "the header line")
        self.delimiter = delimiter or ("\t" if "\t" in first else ",")
        self.columns = [c.strip() for c in next(csv.reader([first], delimiter=self.delimiter))]
        lowered = [c.lower() for c in self.columns]
        if "smiles" not in lowered:
            found = ", ".join(repr(c) for c in self.columns) or "none"
            raise InputError(f"{path.name} has no 'smiles' column (found: {found})")
        self.smiles_at = lowered.index("smiles")

    def _open(self):
        # utf-8-sig: a BOM from Excel is not part of the first column's name
        return self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")

    def _rows(self):
        with self._open() as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            next(reader, None)  # header
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # a broken quote: report it, the reader goes on with the next line
                    yield None, f"CSV error: {exc}"
                    continue
                if fields:  # blank lines are not records
                    yield fields, None

    def __iter__(self):
        width = len(self.columns)
        for row, (fields, error) in enumerate(self._rows()):
            if fields is None:
                yield Record(row, None, {}, error)
                continue
            if len(fields) > width and any(f.strip() for f in fields[width:]):
                error = f"{len(fields)} fields, the header has {width}"
            fields = (fields + [""] * width)[:width]
            extra = {c: _clean(v) for c, v in zip(self.columns, fields)}
            for c, v in zip(self.columns, fields):
                bad = _bad_byte(v)
                if bad is not None:
                    error = error or f"not valid UTF-8 (byte 0x{bad:02X} in column {c!r})"
            yield Record(row, None if error else fields[self.smiles_at].strip(), extra, error)

    def count(self):
        return sum(1 for _ in self._rows())


class SmiSource(Source):
    """`SMILES [whitespace id]` per line; blank and '#' lines skipped; a 'smiles ...' first line is a header."""

    columns = ["smiles", "id"]

    def __init__(self, path: Path):
        self.path = path

    def _lines(self):
        with self.path.open(encoding="utf-8", errors="surrogateescape", newline=None) as fh:
            for i, line in enumerate(fh):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if i == 0 and line.split()[0].lower() == "smiles":
                    continue
                yield line

    def __iter__(self):
        for row, line in enumerate(self._lines()):
            parts = line.split(None, 1)
            smiles, ident = parts[0], (parts[1] if len(parts) > 1 else "")
            bad = _bad_byte(line)
            error = f"not valid UTF-8 (byte 0x{bad:02X})" if bad is not None else None
            yield Record(row, None if error else smiles, {"smiles": _clean(smiles), "id": _clean(ident)}, error)

    def count(self):
        return sum(1 for _ in self._lines())


_SD_PROP = re.compile(rb"^>.*?<([^>]+)>")


class SdfSource(Source):
    """RDKit's ForwardSDMolSupplier (streaming). Columns: the record title and every SD property name,
    found by a first text pass over the file (constant memory in the number of records)."""

    def __init__(self, path: Path):
        self.path = path
        names: dict[str, None] = {}
        self._count, titled, start, content = 0, False, True, False
        with path.open("rb") as fh:
            for line in fh:
                if start:
                    titled = titled or bool(line.strip())
                    start = False
                if line.startswith(b"$$$$"):
                    self._count, start, content = self._count + 1, True, False
                    continue
                content = content or bool(line.strip())
                m = _SD_PROP.match(line)
                if m:
                    names[m.group(1).decode("utf-8", "replace").strip()] = None
        self._count += content  # a last record without its $$$$
        self.columns = (["title"] if titled else []) + list(names)

    def count(self):
        return self._count

    def __iter__(self):
        # Records are split at '$$$$' here, not by RDKit's ForwardSDMolSupplier: that reader swallows the
        # next record after a data item without a trailing blank line (and all records after an empty
        # property name), so molecules would go missing from the output without an error row.
        row = 0
        for block in self._blocks():
            yield self._record(row, block)
            row += 1

    def _blocks(self):
        with self.path.open("rb") as fh:
            block: list[bytes] = []
            for line in fh:
                if line.startswith(b"$$$$"):
                    yield block
                    block = []
                else:
                    block.append(line)
            if any(line.strip() for line in block):
                yield block

    def _record(self, row: int, block: list[bytes]) -> Record:
        from rdkit import Chem

        from chemnamer.chem import _rdkit_log  # RDKit's complaints as text, not stderr noise

        try:
            lines = [line.decode("utf-8").rstrip("\r\n") for line in block]
        except UnicodeDecodeError as exc:
            return Record(row, None, {}, f"SD record is not valid UTF-8 ({exc.reason})")
        end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), None)
        if end is None:
            return Record(row, None, {}, "broken SD record: no 'M  END' line")
        extra: dict = {}
        if "title" in self.columns:
            extra["title"] = lines[0].strip() if lines else ""
        name, values = None, []
        for line in lines[end + 1:] + [""]:
            if line.startswith(">") or not line.strip():
                if name is not None:
                    extra[name] = "\n".join(values)
                name, values = None, []
                m = _SD_PROP.match(line.encode("utf-8")) if line.startswith(">") else None
                if m:
                    name = m.group(1).decode("utf-8", "replace").strip()
            elif name is not None:
                values.append(line)
        with _rdkit_log() as log:
            try:
                mol = Chem.MolFromMolBlock("\n".join(lines[:end + 1]) + "\n")
            except Exception as exc:  # noqa: BLE001 - RDKit raises assorted types on junk
                mol, log = None, [f"{type(exc).__name__}: {exc}"]
        if mol is None:
            why = " ".join(log[0].split()).removeprefix("ERROR: ") if log else "RDKit could not read it"
            return Record(row, None, extra, f"broken SD record: {why}")
        return Record(row, Chem.MolToSmiles(mol), extra, None)


def open_input(path: str | os.PathLike) -> Source:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind = SUFFIXES.get(path.suffix.lower(), "?")
    if kind == "?":
        raise InputError(f"{path.name}: unsupported file type {path.suffix!r} (use .csv, .tsv, .smi or .sdf)")
    if kind == "smi":
        return SmiSource(path)
    if kind == "sdf":
        return SdfSource(path)
    return DelimitedSource(path, kind)


# --- output ---------------------------------------------------------------------------------------

def output_columns(input_columns: list[str]) -> list[str]:
    """CORE + row + the input's columns; an input name that clashes (any case) gets an `input_` prefix."""
    taken = {c.lower() for c in [*CORE, ROW]}
    out = []
    for c in input_columns:
        name = c or "column"
        while name.lower() in taken:
            name = "input_" + name
        taken.add(name.lower())
        out.append(name)
    return [*CORE, ROW, *out]


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.5g}"
    text = _clean(str(value))
    # One physical line per record: resume_point relies on it (real names never contain newlines).
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def _last_newline(fh) -> int:
    """Offset just past the last b'\\n' (0 if none), reading backwards in blocks."""
    end = fh.seek(0, os.SEEK_END)
    pos = end
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        fh.seek(pos)
        block = fh.read(step)
        i = block.rfind(b"\n")
        if i >= 0:
            return pos + i + 1
    return 0


def resume_point(path: str | os.PathLike, header: list[str]) -> int:
    """How many rows OUT already holds (rows 0..k-1). Drops a partial last line left by a kill.

    Returns 0 for a missing or header-less file (it is then rewritten from the start)."""
    path = Path(path)
    if not path.is_file():
        return 0
    with path.open("rb+") as fh:
        keep = _last_newline(fh)
        if keep != fh.seek(0, os.SEEK_END):
            fh.truncate(keep)  # the partial line of a killed write
    if keep == 0:
        path.write_bytes(b"")
        return 0
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        found = next(reader, None)
        if found != header:
            raise InputError(f"{path.name} was written for other columns; cannot resume it "
                             f"(expected {','.join(header[:9])},...)")
        at = header.index(ROW)
        k = 0
        for fields in reader:
            if len(fields) <= at or fields[at] != str(k):
                raise InputError(f"{path.name}: row {k} expected at line {k + 2}; cannot resume a file "
                                 "that was edited or written by another input")
            k += 1
    return k


class CsvWriter:
    """Appends rows; `flush()` after each chunk so a kill loses at most the chunk in progress."""

    def __init__(self, path: str | os.PathLike, header: list[str], append: bool):
        self.path = Path(path)
        fresh = not append or not self.path.exists() or self.path.stat().st_size == 0
        self._fh = self.path.open("a" if append else "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh, lineterminator="\n")
        if fresh:
            self._csv.writerow(header)
            self.flush()

    def write(self, rows) -> None:
        self._csv.writerows([[cell(v) for v in r] for r in rows])

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
