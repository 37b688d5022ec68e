"""File readers and the resumable CSV writer behind `chemnamer batch` (CLI and GUI).

The user's data comes back as it went in: every input column, its name and its cells unchanged and in
order (quoted multi-line cells included), then our columns (RESULT). Written back the same way: the
input's delimiter (a ';' CSV from a European Excel stays ';') and line ends, UTF-8.

Readers stream records (CSV/TSV/TXT with the structures in a `smiles` column in any case or the one
the user picks, `.smi`, `.sdf`) and never raise for one bad record: it becomes a `Record` with
`error` set. Only problems with the whole file (missing, empty, no such column) raise `InputError`,
whose message is one line.

Delimiter: sniffed from the first 64 KB among ',', ';' and tab: the one whose header holds the
structure column, then the one that gives every sampled row the header's width ('|' is no candidate:
CXSMILES use it).

Encoding: UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode text"), and otherwise line by
line: a line that is not UTF-8 is read as Windows-1252 (Latin-1 where 1252 has no character). A
French comment "é" saved by Excel used to be an error row that was never named (issue 18). When the
input was not plain UTF-8, the output starts with a BOM so that Excel reads the "é" back right.

Crash safety: rows are written in input order, one chunk per flush; `resume_point` finds the last
complete record (a record may span lines), cuts a partial one left by a kill, and checks that the
output's input cells match the input's, so a resume never mixes two files.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

RESULT = ["name", "verified", "chosen_from", "score", "canonical_smiles", "inchikey", "reference_pubchem",
          "reference_rule_based", "error"]
DEFAULT_COLUMN = "smiles"
DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 64 * 1024
# The file types both readers know, by suffix: a delimiter for delimited text, else the format.
SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": ",", ".smi": "smi", ".smiles": "smi", ".sdf": "sdf",
            ".sd": "sdf"}
BOM = codecs.BOM_UTF8
FALLBACK = "windows-1252"

# A 1 MB SMILES cell must reach the namer (which says "input too long"), not break the csv module.
csv.field_size_limit(64 * 1024 * 1024)


class InputError(Exception):
    """The whole input or output file is unusable; the message is one line for the user."""


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


# --- decoding -------------------------------------------------------------------------------------

def _decode(raw: bytes) -> str:
    """One line: UTF-8, else Windows-1252, else Latin-1 (1252 leaves 5 bytes unassigned). Line ends are
    single bytes in all three, so a file can be decoded line by line even when its encodings are mixed."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode(FALLBACK)
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _utf16(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def detect_encoding(path: Path) -> str:
    """'utf-8', 'utf-8-sig' (a BOM), 'utf-16' (a BOM), or FALLBACK: not valid UTF-8 somewhere (one
    streaming pass with an incremental decoder: ~10 ms for 10 MB)."""
    if _utf16(path):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        first = fh.read(len(BOM))
        bom = first == BOM
        try:
            decoder.decode(b"" if bom else first)
            for block in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return FALLBACK
    return "utf-8-sig" if bom else "utf-8"


def text_lines(path: Path) -> Iterator[str]:
    """The file's lines as text with their line ends (universal newlines, like open(newline='')), a
    leading BOM dropped, each line decoded by `_decode`."""
    if _utf16(path):
        with path.open(encoding="utf-16", errors="replace", newline="") as fh:  # an odd last byte: U+FFFD
            yield from fh
        return
    with path.open("rb") as raw:
        # Latin-1 maps bytes to characters one to one: the text wrapper only splits lines (\n, \r\n, \r).
        lines = io.TextIOWrapper(raw, encoding="latin-1", newline="")
        for i, line in enumerate(lines):
            data = line.encode("latin-1")
            if i == 0 and data.startswith(BOM):
                data = data[len(BOM):]
            yield _decode(data)


# --- records of delimited and SD text (shared with chemnamer.data.userfile) ------------------------

def csv_records(lines: Iterable[str], delimiter: str, first_line: int = 1
                ) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """(first line, last line, fields, None) for each record of delimited text (a quoted cell may span
    lines), or (first line, last line, None, the csv module's complaint) for one it cannot read, after
    which it goes on with the next line. Blank lines are no records. Lines count from `first_line`."""
    reader = csv.reader(lines, delimiter=delimiter)
    last = first_line - 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, last = last + 1, max(last + 1, reader.line_num + first_line - 1)
            yield start, last, None, str(exc)
            continue
        start, last = last + 1, reader.line_num + first_line - 1
        if fields:
            yield start, last, fields, None


def sd_blocks(lines: Iterable[str]) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, the record's lines) for each record of an SD file, split at '$$$$'
    (a last record without it included when it holds anything)."""
    block: list[str] = []
    start = 1
    lineno = 0
    for lineno, line in enumerate(lines, 1):
        if line.startswith("$$$$"):
            yield start, lineno, block
            block, start = [], lineno + 1
        else:
            block.append(line)
    if any(line.strip() for line in block):
        yield start, start + len(block), block


# --- sources --------------------------------------------------------------------------------------

class Source:
    columns: list[str]  # the input's own column names, in order
    column: str | None = None  # the column that holds the structures (CSV/TSV)
    delimiter: str = ","
    lineterminator: str = "\n"
    encoding: str = "utf-8"

    def __iter__(self) -> Iterator[Record]:
        raise NotImplementedError

    def count(self) -> int | None:
        """Number of records (a cheap streaming pre-pass, for the progress bar)."""
        return None

    def cells(self) -> Iterator[list[str]]:
        """Each record's input cells in column order: what the output repeats (resume checks them)."""
        for rec in self:
            yield [rec.extra.get(c, "") for c in self.columns]


def _find_column(columns: list[str], want: str) -> int | None:
    """Exact name first, then ignoring case and surrounding blanks."""
    if want in columns:
        return columns.index(want)
    key = want.strip().lower()
    found = [i for i, c in enumerate(columns) if c.strip().lower() == key]
    return found[0] if found else None


def _sample(path: Path) -> str:
    out, size = [], 0
    for line in text_lines(path):
        out.append(line)
        size += len(line)
        if size >= SNIFF_BYTES:
            break
    return "".join(out)


def sniff_delimiter(sample: str, want: str, default: str = ",") -> str:
    """The delimiter under which the header holds the column `want`, then the one that splits the
    sampled rows consistently into the header's width (and most columns), then `default`."""
    def score(d: str):
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(sample, newline=""), delimiter=d), 200))
        except csv.Error:
            return (False, False, 0, False)
        if not rows:
            return (False, False, 0, d == default)
        head, body = rows[0], [r for r in rows[1:-1] if r]  # the last sampled row may be cut short
        return (_find_column(head, want) is not None, len(head) > 1 and all(len(r) == len(head) for r in body),
                len(head), d == default)
    return max(DELIMITERS, key=score)


class DelimitedSource(Source):
    def __init__(self, path: Path, default_delimiter: str, column: str | None = None):
        self.path = path
        self.encoding = detect_encoding(path)
        sample, want = _sample(path), column or DEFAULT_COLUMN
        if not sample.strip():
            raise InputError(f"{path.name} is empty (a header line with a {want!r} column is needed)")
        self.delimiter = sniff_delimiter(sample, want, default_delimiter)
        first = sample.splitlines(keepends=True)[0]
        self.lineterminator = "\r\n" if first.endswith("\r\n") else "\n"
        self.columns = next(csv.reader(io.StringIO(sample, newline=""), delimiter=self.delimiter))
        at = _find_column(self.columns, want)
        if at is None:
            found = ", ".join(repr(c) for c in self.columns) or "none"
            hint = "" if column else "; name the column that holds the structures with --column"
            raise MissingColumn(f"{path.name} has no {want!r} column (found: {found}){hint}", list(self.columns))
        self.column_at = at
        self.column = self.columns[at]

    def _rows(self):
        records = csv_records(text_lines(self.path), self.delimiter)
        next(records, None)  # header
        for _start, _end, fields, error in records:  # a broken quote: reported, the reader goes on
            yield fields, None if error is None else f"CSV error: {error}"

    def __iter__(self):
        width = len(self.columns)
        for row, (fields, error) in enumerate(self._rows()):
            if fields is None:
                yield Record(row, None, {}, error)
                continue
            if len(fields) > width and any(f.strip() for f in fields[width:]):
                error = f"{len(fields)} fields, the header has {width}"
            fields = (fields + [""] * width)[:width]
            extra = dict(zip(self.columns, fields))
            yield Record(row, None if error else fields[self.column_at].strip(), extra, error)

    def count(self):
        return sum(1 for _ in self._rows())


class SmiSource(Source):
    """`SMILES [whitespace id]` per line; blank and '#' lines skipped; a 'smiles ...' first line is a header."""

    columns = ["smiles", "id"]
    column = "smiles"

    def __init__(self, path: Path):
        self.path = path
        self.encoding = detect_encoding(path)

    def _lines(self):
        for i, line in enumerate(text_lines(self.path)):
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
            yield Record(row, smiles, {"smiles": smiles, "id": ident}, None)

    def count(self):
        return sum(1 for _ in self._lines())


_SD_PROP = re.compile(r"^>.*?<([^>]+)>")


class SdfSource(Source):
    """Columns: the record title and every SD property name, found by a first text pass over the file
    (constant memory in the number of records)."""

    def __init__(self, path: Path):
        self.path = path
        self.encoding = detect_encoding(path)
        names: dict[str, None] = {}
        self._count, titled, start, content = 0, False, True, False
        for line in text_lines(path):
            if start:
                titled = titled or bool(line.strip())
                start = False
            if line.startswith("$$$$"):
                self._count, start, content = self._count + 1, True, False
                continue
            content = content or bool(line.strip())
            m = _SD_PROP.match(line)
            if m:
                names[m.group(1).strip()] = None
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
        for _start, _end, block in sd_blocks(text_lines(self.path)):
            yield block

    def _record(self, row: int, block: list[str]) -> Record:
        from rdkit import Chem

        from chemnamer.chem import _rdkit_log  # RDKit's complaints as text, not stderr noise

        lines = [line.rstrip("\r\n") for line in block]
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
                m = _SD_PROP.match(line) if line.startswith(">") else None
                if m:
                    name = m.group(1).strip()
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


def open_input(path: str | os.PathLike, column: str | None = None) -> Source:
    """A reader for `path`. `column`: the CSV/TSV column with the structures (default 'smiles', any case)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind = SUFFIXES.get(path.suffix.lower(), "?")
    if kind == "?":
        raise InputError(f"{path.name}: unsupported file type {path.suffix!r} (use .csv, .tsv, .smi or .sdf)")
    if kind in ("smi", "sdf"):
        if column:
            raise InputError(f"{path.name}: --column applies to CSV/TSV files; a .{kind} file has one structure "
                             "per record")
        return SmiSource(path) if kind == "smi" else SdfSource(path)
    return DelimitedSource(path, kind, column)


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
