"""Pairs from the user's own files: CSV/TSV, JSON lines, SDF, SMILES files; any input columns.

Task-agnostic: source and target are any two columns (SMILES → name, name → SMILES, SMILES → formula),
and more input columns ride along in `Pair.extra` under template-safe names (`input_names`), so a
template "SMILES: {source}\nRule: {rule}" trains a model on a SMILES and a rule-based name.
When the source is a SMILES, RDKit gives its InChIKey (for dedupe and leak-free splits).

Bad rows are counted by reason and skipped, and the first few are described with file:line, never
dropped silently. Only problems that make the whole file unusable raise `DataError` (missing file,
unknown format, a column that is not there): a wizard shows its message as is.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from chemnamer.batchio import SUFFIXES, csv_records, sd_blocks
from chemnamer.data.records import Pair

MAX_MESSAGES = 20
SMILES_COLUMN = "smiles"  # in an SDF without such a property: the SMILES of the molblock
_JSONL = {".jsonl", ".ndjson"}


class DataError(ValueError):
    """The file cannot be used at all; the message names the file and what to do."""


@dataclass
class FileReport:
    rows: int = 0
    kept: int = 0
    bad_rows: dict = field(default_factory=dict)  # reason -> count
    messages: list = field(default_factory=list)  # the first MAX_MESSAGES, "file:line: problem"

    def bad(self, reason: str, where: str, problem: str) -> None:
        self.bad_rows[reason] = self.bad_rows.get(reason, 0) + 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(f"{where}: {problem}")


@dataclass
class _Row:
    line: int  # 1-based line where the row starts
    values: dict  # column -> text
    problem: tuple[str, str] | None = None  # (reason, message) when the row is unreadable


# --- reading bytes as text -----------------------------------------------------------------------


def _kind(path: Path) -> tuple[str, bool]:
    """('csv'|'jsonl'|'json'|'sdf'|'smi', gzipped)."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes and not gz else "")
    kind = SUFFIXES.get(ext)  # the batch reader's table: delimiter, "smi" or "sdf"
    if kind in ("smi", "sdf"):
        return kind, gz
    if kind is not None:
        return "csv", gz
    if ext in _JSONL:
        return "jsonl", gz
    if ext == ".json":
        return "json", gz
    raise DataError(f"{path}: unknown file type '{ext or path.name}' "
                    f"(use .csv, .tsv, .txt, .jsonl, .json, .sdf or .smi, optionally .gz)")


def _open_bytes(path: Path, gz: bool):
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return _GzipGuard(gzip.open(path, "rb"), path) if gz else path.open("rb")


class _GzipGuard:
    """A gzip stream whose damage (bad header, cut short, bad CRC) surfaces as DataError, not as
    gzip's BadGzipFile / EOFError / zlib.error from deep inside a reader."""

    def __init__(self, fh, path: Path):
        self._fh, self._path = fh, path

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{self._path}: damaged or incomplete gzip file ({exc})") from None

    def read(self, *args):
        return self._guard(self._fh.read, *args)

    def readline(self, *args):
        return self._guard(self._fh.readline, *args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _text_lines(fh, where: str, bad_lines: dict) -> Iterator[str]:
    """Decode line by line as UTF-8 (BOM allowed); an undecodable line is replaced and noted in
    `bad_lines` (line number -> message) so the row it belongs to is reported instead of guessed."""
    head = fh.read(4)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        # Excel's "Unicode text": decodable, so read it rather than refuse it.
        data = head + fh.read()
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{where}: damaged UTF-16 text ({exc.reason} at byte {exc.start}); "
                            f"save the file as UTF-8") from None
        yield from io.StringIO(text, newline="")
        return
    first = True
    for lineno, raw in enumerate(_prepend(head, fh), 1):
        if first and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        first = False
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_lines[lineno] = (f"{where}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                                 f"{exc.start + 1}); save the file as UTF-8")
            yield raw.decode("utf-8", errors="replace")


def _prepend(head: bytes, fh) -> Iterator[bytes]:
    """Lines of fh as if `head` had not been read from it yet."""
    rest = fh.readline()
    yield from io.BytesIO(head + rest) if (head + rest) else ()
    yield from fh


# --- formats -------------------------------------------------------------------------------------


def _delimiter(header: str, default: str) -> str:
    """The extension's delimiter when the header uses it, else the most used of tab , ; |."""
    if default in header:
        return default
    counts = {d: header.count(d) for d in ("\t", ",", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else default


def _csv_rows(path: Path, gz: bool, where: str, report_lines: dict) -> tuple[list[str], Iterator[_Row]]:
    fh = _open_bytes(path, gz)
    lines = _text_lines(fh, where, report_lines)
    header_line = next(lines, None)
    if header_line is None or not header_line.strip():
        fh.close()
        raise DataError(f"{path}: empty file (the first line must name the columns)")
    ext = path.suffixes[-2 if gz else -1].lower()
    delim = _delimiter(header_line, SUFFIXES.get(ext, ","))
    try:
        columns = [c.strip() for c in next(csv.reader([header_line], delimiter=delim))]
    except csv.Error as exc:
        fh.close()
        raise DataError(f"{path}: unreadable header line ({exc})") from None

    def rows() -> Iterator[_Row]:
        try:
            for start, last, fields, error in csv_records(lines, delim, first_line=2):  # after the header
                if error is not None:  # the reader goes on with the next line
                    yield _Row(start, {}, ("malformed", f"unreadable row ({error})"))
                    continue
                if not any(f.strip() for f in fields):
                    continue  # blank line: not a row
                undecodable = [report_lines[n] for n in range(start, last + 1) if n in report_lines]
                if undecodable:
                    yield _Row(start, {}, ("encoding", undecodable[0].split(": ", 1)[1]))
                    continue
                while len(fields) > len(columns) and not fields[-1].strip():
                    fields.pop()  # "CCO,ethanol," from a trailing delimiter
                if len(fields) != len(columns):
                    yield _Row(start, {}, ("malformed", f"{len(fields)} fields, the header has {len(columns)}"))
                    continue
                yield _Row(start, dict(zip(columns, fields)))
        finally:
            fh.close()

    return columns, rows()


def _record_lines(path: Path, gz: bool, where: str, report_lines: dict) -> Iterator[tuple[int, "str | _Row"]]:
    """(line number, text) of each non-blank line of a one-record-per-line file; a line that did not
    decode comes as its 'encoding' error row instead of text, so it is reported, not dropped."""
    with _open_bytes(path, gz) as fh:
        for lineno, line in enumerate(_text_lines(fh, where, report_lines), 1):
            if not line.strip():
                continue
            if lineno in report_lines:
                yield lineno, _Row(lineno, {}, ("encoding", report_lines[lineno].split(": ", 1)[1]))
            else:
                yield lineno, line


def _smi_rows(path: Path, gz: bool, where: str, report_lines: dict) -> tuple[list[str], Iterator[_Row]]:
    """A .smi file: 'SMILES name...' per line, no header (a first line that RDKit rejects and that
    says 'smiles' is taken as a header)."""
    columns = [SMILES_COLUMN, "name"]

    def rows() -> Iterator[_Row]:
        for lineno, line in _record_lines(path, gz, where, report_lines):
            if isinstance(line, _Row):
                yield line
                continue
            parts = line.strip().split(None, 1)
            if lineno == 1 and parts[0].lower() == SMILES_COLUMN:
                continue
            yield _Row(lineno, {SMILES_COLUMN: parts[0], "name": parts[1] if len(parts) > 1 else ""})

    return columns, rows()


def _json_value(value) -> str | None:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return None  # lists, objects, booleans: not a text column


def _json_row(obj, lineno: int) -> _Row:
    if not isinstance(obj, dict):
        return _Row(lineno, {}, ("malformed", f"expected a JSON object, found {type(obj).__name__}"))
    values = {}
    for k, v in obj.items():
        text = _json_value(v)
        if text is not None:
            values[str(k)] = text
    return _Row(lineno, values)


def _jsonl_rows(path: Path, gz: bool, where: str, report_lines: dict) -> Iterator[_Row]:
    for lineno, line in _record_lines(path, gz, where, report_lines):
        if isinstance(line, _Row):
            yield line
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield _Row(lineno, {}, ("malformed", f"not JSON ({exc})"))
            continue
        yield _json_row(obj, lineno)


def _json_rows(path: Path, gz: bool, where: str) -> Iterator[_Row]:
    """A .json file: one array of objects (rows are numbered by position, not line)."""
    with _open_bytes(path, gz) as fh:
        data = fh.read()
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                        f"save the file as UTF-8") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON array of objects (or use .jsonl, one object per line)")
    for i, obj in enumerate(items, 1):
        yield _json_row(obj, i)


def _sdf_rows(path: Path, gz: bool, where: str, report_lines: dict, want_mol: bool) -> Iterator[_Row]:
    """Records split at '$$$$'; properties are the '> <NAME>' blocks; the molblock is kept in the row
    under a private key (parsed only when the 'smiles' column has to come from it)."""
    with _open_bytes(path, gz) as fh:
        for start, end, block in sd_blocks(_text_lines(fh, where, report_lines)):
            yield _sdf_record(block, start, end, report_lines, want_mol)


def _sdf_record(lines: list[str], start: int, end: int, report_lines: dict, want_mol: bool) -> _Row:
    bad = [report_lines[n] for n in range(start, end + 1) if n in report_lines]
    if bad:
        return _Row(start, {}, ("encoding", bad[0].split(": ", 1)[1]))
    try:
        end_mol = next(i for i, line in enumerate(lines) if line.startswith("M  END"))
    except StopIteration:
        return _Row(start, {}, ("malformed", "record without 'M  END'"))
    values: dict = {}
    name = None
    for line in lines[end_mol + 1:]:
        stripped = line.rstrip("\r\n")
        if stripped.startswith(">"):
            lt, gt = stripped.find("<"), stripped.rfind(">")
            name = stripped[lt + 1:gt] if 0 < lt < gt else None
            if name is not None:
                values[name] = ""
        elif name is not None:
            if not stripped.strip():
                name = None  # a blank line ends the value
            else:
                values[name] = (values[name] + "\n" + stripped) if values[name] else stripped
    if want_mol:
        values["\0molblock"] = "".join(lines[: end_mol + 1])
    return _Row(start, values)


def _molblock_smiles(molblock: str) -> tuple[str | None, str]:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromMolBlock(molblock)
    if mol is None:
        return None, "RDKit cannot read the molblock"
    return Chem.MolToSmiles(mol), ""


def _rows(path: Path, where: str, report_lines: dict, want_smiles: bool = False) -> tuple[list[str], Iterator[_Row]]:
    """Columns (from the header, or the first rows) and the rows of any supported file."""
    kind, gz = _kind(path)
    if kind == "csv":
        return _csv_rows(path, gz, where, report_lines)
    if kind == "smi":
        return _smi_rows(path, gz, where, report_lines)
    if kind == "sdf":
        rows = _sdf_rows(path, gz, where, report_lines, want_smiles)
    elif kind == "jsonl":
        rows = _jsonl_rows(path, gz, where, report_lines)
    else:
        rows = _json_rows(path, gz, where)
    # Keys can differ per row: columns are those of the first rows, in first-seen order.
    head = []
    for row in rows:
        head.append(row)
        if len(head) >= 50:
            break
    columns: list[str] = []
    for row in head:
        for key in row.values:
            if key not in columns and not key.startswith("\0"):
                columns.append(key)
    if kind == "sdf" and head and SMILES_COLUMN not in {c.lower() for c in columns}:
        columns.append(SMILES_COLUMN)
    return columns, _chain(head, rows)


def _chain(head: list, rest: Iterable) -> Iterator:
    yield from head
    yield from rest


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


def _resolve(column: str, columns: list[str], path: Path) -> str:
    """The exact column, else the only case-insensitive match ('SMILES' for 'smiles')."""
    if column in columns:
        return column
    matches = [c for c in columns if c.lower() == column.strip().lower()]
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(repr(c) for c in columns) or "none"
    raise DataError(f"{path}: no column {column!r} (columns: {shown})")


# --- public --------------------------------------------------------------------------------------


def file_pairs(path, source_column: str, target_column: str, smiles_source: bool = True,
               report: FileReport | None = None, extra_columns: Iterable[str] = ()) -> Iterator[Pair]:
    """Pairs (source, target) from two columns of a file; bad rows are counted in `report` and skipped.
    Each of `extra_columns` goes into `Pair.extra` under its `input_names` name (an empty cell is an
    empty input; a row without the key, in JSON or SDF, is a bad row).

    Raises DataError when the file as a whole cannot be used (not found, unknown type, no such column).
    Column names match exactly, else case-insensitively. In an SDF, the column 'smiles' comes from
    the molblock when no property has that name.
    """
    path = Path(path)
    report = report if report is not None else FileReport()
    where = path.name
    bad_lines: dict = {}
    extra_columns = list(extra_columns)
    needs_molblock = _kind(path)[0] == "sdf" and SMILES_COLUMN in {c.lower() for c in
                                                                  [source_column, target_column, *extra_columns]}
    columns, rows = _rows(path, where, bad_lines, want_smiles=needs_molblock)
    src = _resolve(source_column, columns, path)
    tgt = _resolve(target_column, columns, path)
    extras = {_resolve(c, columns, path): name for c, name in input_names(extra_columns).items()}
    if smiles_source:
        from chemnamer.chem import ChemError, parse_smiles
    for row in rows:
        report.rows += 1
        at = f"{where}:{row.line}"
        if row.problem:
            report.bad(row.problem[0], at, row.problem[1])
            continue
        values = row.values
        if SMILES_COLUMN in (src, tgt, *extras) and SMILES_COLUMN not in values and "\0molblock" in values:
            smiles, problem = _molblock_smiles(values["\0molblock"])
            if smiles is None:
                report.bad("invalid molecule", at, problem)
                continue
            values[SMILES_COLUMN] = smiles
        missing = next((c for c in (src, tgt, *extras) if c not in values), None)
        if missing is not None:
            report.bad("missing value", at, f"no {missing!r} in this row")
            continue
        source, target = values[src].strip(), values[tgt].strip()
        if not source:
            report.bad("empty source", at, f"empty {src!r}")
            continue
        if not target:
            report.bad("empty target", at, f"empty {tgt!r}")
            continue
        inchikey = ""
        if smiles_source:
            mol = parse_smiles(source)
            if isinstance(mol, ChemError):
                report.bad("invalid SMILES", at, f"{_short(source)}: {mol.message}")
                continue
            if not mol.inchikey:
                report.bad("no InChIKey", at, f"{_short(source)}: InChI cannot represent it")
                continue
            inchikey = mol.inchikey
        report.kept += 1
        yield Pair(source, target, inchikey, f"file:{where}:{row.line}",
                   {name: values[c].strip() for c, name in extras.items()})


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def preview(path, n: int = 10) -> tuple[list[str], list[list[str]]]:
    """Column names and the first n rows (as lists in column order) for the GUI's column pickers.

    Unreadable rows are left out; undecodable bytes show as '\ufffd'. Raises DataError like
    file_pairs for files that cannot be read at all.
    """
    path = Path(path)
    kind = _kind(path)[0]
    columns, rows = _rows(path, path.name, {}, want_smiles=kind == "sdf")
    out = []
    for row in rows:
        if len(out) >= n:
            break
        if row.problem:
            continue
        values = row.values
        if "\0molblock" in values and SMILES_COLUMN in columns and SMILES_COLUMN not in values:
            values[SMILES_COLUMN] = _molblock_smiles(values["\0molblock"])[0] or ""
        out.append([values.get(c, "") for c in columns])
    close = getattr(rows, "close", None)
    if close:
        close()  # release the file of a half-read generator now
    return columns, out
