"""The one reader of the user's files. Batch naming (`batchio`) and training data (`data/userfile`) open,
decode and split a file here; each then decides what a record means to it (a structure to name, a
training pair).

Formats, by suffix, each also gzipped (`mols.csv.gz`): delimited text (.csv and .txt ',', .tsv and .tab
tab; the delimiter sniffed), `.smi` (a SMILES, then the rest of the line as its name), `.sdf` (records
split at '$$$$': title, connection table, '> <NAME>' properties), JSON lines (`.jsonl`, one object a
line) and a JSON array of objects (`.json`).

Text, one policy for both: UTF-8 with or without BOM; UTF-16 with a BOM (Excel's "Unicode text");
otherwise line by line, a line that is not UTF-8 read as Windows-1252 (Latin-1 where 1252 has no
character), which is what Excel on Windows saves as "CSV". A French "é" used to cost its row: in batch
naming until issue 18, in training data until the two readers became this one. Such lines are kept
and counted (`LineLog.recoded`, the first by number). Bytes no encoding reads (damaged UTF-16) show as
U+FFFD and their line is damaged: a record on it comes with a problem (reported, neither named nor
trained on) and the records after it are read as usual.

Delimiter: sniffed once from the first 64 KB among ',', ';' and tab: the one under which the header
holds the columns the caller asks for, then the one that gives every sampled row the header's width
('|' is no candidate: CXSMILES use it).

Records come as `Row`s numbered by the line they start on. A record that cannot be used has `problem`
set (its cells, where it has any, still in `values`); only problems with the whole file raise
`ReadError`, whose message is one line that names the file.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 64 * 1024
# What a file holds, by suffix: a delimiter for delimited text, else the format.
FORMATS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": ",", ".smi": "smi", ".smiles": "smi", ".sdf": "sdf",
           ".sd": "sdf", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
FORMATS_HINT = ".csv, .tsv, .txt, .smi, .sdf, .jsonl or .json, optionally .gz"
SMI_COLUMNS = ["smiles", "name"]  # Daylight's "SMILES name" lines; RDKit reads the second field as _Name
BOM = codecs.BOM_UTF8
FALLBACK = "windows-1252"
MAX_LISTED = 20  # line numbers a LineLog keeps for a message

# Undecodable bytes of a UTF-16 file first decode to this lone surrogate, which strict decoding never
# yields, so the line that holds them is known; it then shows as U+FFFD.
_DAMAGED = "\udfff"
codecs.register_error("chemnamer.readers.damaged", lambda exc: (_DAMAGED, exc.end))

# A 1 MB SMILES cell must reach the namer (which says "input too long"), not break the csv module.
csv.field_size_limit(64 * 1024 * 1024)


class ReadError(ValueError):
    """The whole file is unusable (missing, of an unknown type, empty, damaged); one line naming it."""


@dataclass(frozen=True)
class FileType:
    kind: str  # 'delimited', 'smi', 'sdf', 'jsonl' or 'json'
    delimiter: str = ","  # delimited text: the suffix's delimiter, the sniffer's default
    gzipped: bool = False


def file_type(path: Path) -> FileType:
    gzipped = path.suffix.lower() == ".gz"
    suffix = (Path(path.stem) if gzipped else path).suffix.lower()
    what = FORMATS.get(suffix)
    if what is None:
        shown = suffix + (".gz" if gzipped else "")
        raise ReadError(f"{path.name}: unsupported file type {shown or path.name!r} (use {FORMATS_HINT})")
    if what in DELIMITERS:
        return FileType("delimited", what, gzipped)
    return FileType(what, ",", gzipped)


# --- bytes and text -------------------------------------------------------------------------------

def open_bytes(path: Path):
    """The file's bytes, uncompressed when its name ends in .gz."""
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


@contextmanager
def _gzip_damage_as_read_error(path: Path):
    """gzip reports a bad header, a stream cut short or a bad CRC from deep inside a read (BadGzipFile,
    EOFError, zlib.error); the user gets one ReadError that names the file."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ReadError(f"{path.name}: damaged or incomplete gzip file ({exc})") from None


def _utf16(head: bytes) -> bool:
    return head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def detect_encoding(path: Path) -> str:
    """'utf-8', 'utf-8-sig' (a BOM), 'utf-16' (a BOM), or FALLBACK: not valid UTF-8 somewhere (one
    streaming pass with an incremental decoder: ~10 ms for 10 MB)."""
    with _gzip_damage_as_read_error(path), open_bytes(path) as fh:
        first = fh.read(len(BOM))
        if _utf16(first):
            return "utf-16"
        bom = first == BOM
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            decoder.decode(b"" if bom else first)
            for block in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return FALLBACK
    return "utf-8-sig" if bom else "utf-8"


@dataclass
class LineLog:
    """What one pass over a file's text met: lines read as FALLBACK because they were not UTF-8 (counted,
    the first MAX_LISTED by number) and damaged lines (a record on one is not used)."""
    encoding: str = "utf-8"  # what the lines were decoded from: 'utf-8' or 'utf-16'
    recoded: int = 0
    recoded_lines: list = field(default_factory=list)
    damaged: set = field(default_factory=set)

    def note_recoded(self, lineno: int) -> None:
        self.recoded += 1
        if len(self.recoded_lines) < MAX_LISTED:
            self.recoded_lines.append(lineno)

    def damage(self, first: int, last: int) -> str | None:
        """Why lines first..last cannot be used, when one of them is damaged."""
        if not self.damaged:
            return None
        bad = next((n for n in range(first, last + 1) if n in self.damaged), None)
        return None if bad is None else f"line {bad} holds bytes that are not {self.encoding.upper()} text"


def recoded_note(name: str, count: int, first: list) -> str:
    """'a.csv: 3 lines (2, 5, 9) not UTF-8, read as Windows-1252', for the user to check those lines."""
    more = ", …" if count > len(first) else ""
    lines = f"{count} line{'s' if count != 1 else ''} ({', '.join(map(str, first))}{more})"
    return f"{name}: {lines} not UTF-8, read as Windows-1252"


def _decode(raw: bytes) -> tuple[str, bool]:
    """(text, whether it was UTF-8): UTF-8, else Windows-1252, else Latin-1 (1252 leaves 5 bytes
    unassigned). Line ends are single bytes in all three, so a file decodes line by line even when its
    encodings are mixed (a Latin-1 line pasted into UTF-8)."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        try:
            return raw.decode(FALLBACK), False
        except UnicodeDecodeError:
            return raw.decode("latin-1"), False


def text_lines(path: Path, log: LineLog | None = None) -> Iterator[str]:
    """The file's lines as text with their line ends (split at \\n, \\r\\n and \\r, like open(newline='')),
    a leading BOM dropped, decoded as the module says; `log` learns the lines that were not plain UTF-8."""
    log = log if log is not None else LineLog()
    with _gzip_damage_as_read_error(path), open_bytes(path) as raw:
        if _utf16(raw.peek(2)[:2]):
            log.encoding = "utf-16"
            lines = io.TextIOWrapper(raw, encoding="utf-16", errors="chemnamer.readers.damaged", newline="")
            for lineno, line in enumerate(lines, 1):
                if _DAMAGED in line:
                    log.damaged.add(lineno)
                    line = line.replace(_DAMAGED, "\ufffd")
                yield line
            return
        # Latin-1 maps bytes to characters one to one: the text wrapper only splits lines.
        for lineno, line in enumerate(io.TextIOWrapper(raw, encoding="latin-1", newline=""), 1):
            data = line.encode("latin-1")
            if lineno == 1 and data.startswith(BOM):
                data = data[len(BOM):]
            text, utf8 = _decode(data)
            if not utf8:
                log.note_recoded(lineno)
            yield text


def _sample(path: Path) -> str:
    """The first SNIFF_BYTES characters of text, in whole lines."""
    out, size = [], 0
    for line in text_lines(path):
        out.append(line)
        size += len(line)
        if size >= SNIFF_BYTES:
            break
    return "".join(out)


# --- delimited text -------------------------------------------------------------------------------

def find_column(columns: list[str], want: str) -> int | None:
    """Exact name first, then the first one equal ignoring case and surrounding blanks."""
    if want in columns:
        return columns.index(want)
    key = want.strip().lower()
    return next((i for i, c in enumerate(columns) if c.strip().lower() == key), None)


def sniff_delimiter(sample: str, *wanted: str, default: str = ",") -> str:
    """The delimiter under which the header holds most of the `wanted` columns, then the one that splits
    the sampled rows consistently into the header's width (and most columns), then `default`."""
    def score(d: str):
        try:
            rows = [r for r in itertools.islice(csv.reader(io.StringIO(sample, newline=""), delimiter=d), 200) if r]
        except csv.Error:
            return (0, False, 0, False)
        if not rows:
            return (0, False, 0, d == default)
        head, body = rows[0], rows[1:-1]  # the last sampled row may be cut short
        found = sum(find_column(head, w) is not None for w in wanted)
        return (found, len(head) > 1 and all(len(r) == len(head) for r in body), len(head), d == default)
    return max(DELIMITERS, key=score)


def csv_records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """(first line, last line, fields, None) for each record of delimited text (a quoted cell may span
    lines), or (first line, last line, None, the csv module's complaint) for one it cannot read, after
    which it goes on with the next line. Blank lines are no records; lines count from 1."""
    reader = csv.reader(lines, delimiter=delimiter)
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, last = last + 1, max(last + 1, reader.line_num)
            yield start, last, None, str(exc)
            continue
        start, last = last + 1, reader.line_num
        if fields:
            yield start, last, fields, None


# --- SD files -------------------------------------------------------------------------------------

_SD_PROPERTY = re.compile(r"^>.*?<([^>]+)>")


def sd_blocks(lines: Iterable[str]) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, the record's lines) for each record of an SD file, split at '$$$$'
    (a last record without it included when it holds anything). Split here, not by RDKit's
    ForwardSDMolSupplier: that reader swallows the next record after a data item without a trailing
    blank line (and all records after an empty property name), so molecules went missing unreported."""
    block: list[str] = []
    start = 1
    for lineno, line in enumerate(lines, 1):
        if line.startswith("$$$$"):
            yield start, lineno, block
            block, start = [], lineno + 1
        else:
            block.append(line)
    if any(line.strip() for line in block):
        yield start, start + len(block) - 1, block


def sd_properties(lines: list[str]) -> dict[str, str]:
    """The '> <NAME>' data items after 'M  END': each value is its lines up to a blank line or the next item."""
    found: dict[str, str] = {}
    name, values = None, []
    for line in [*lines, ""]:
        if line.startswith(">") or not line.strip():
            if name is not None:
                found[name] = "\n".join(values)
            m = _SD_PROPERTY.match(line)
            name, values = (m.group(1).strip() if m else None), []
        elif name is not None:
            values.append(line)
    return found


def molblock_smiles(molblock: str) -> tuple[str | None, str]:
    """(canonical SMILES, '') of a connection table, or (None, RDKit's reason in one line)."""
    from rdkit import Chem

    from chemnamer.chem import _rdkit_log  # RDKit's complaints as text, not stderr noise

    with _rdkit_log() as log:
        try:
            mol = Chem.MolFromMolBlock(molblock)
        except Exception as exc:  # noqa: BLE001 - RDKit raises assorted types on junk
            mol, log = None, [f"{type(exc).__name__}: {exc}"]
    if mol is None:
        return None, " ".join(log[0].split()).removeprefix("ERROR: ") if log else "RDKit could not read it"
    return Chem.MolToSmiles(mol), ""


# --- records --------------------------------------------------------------------------------------

@dataclass
class Row:
    line: int  # the line it starts on (a JSON array: its position, from 1)
    values: dict  # column -> text; an SD record's title and properties
    problem: str | None = None  # why it cannot be used, in a sentence
    reason: str = ""  # the problem's kind, for counts: 'malformed' or 'encoding'
    molblock: str | None = None  # an SD record's connection table, for RDKit


def _delimited_rows(table: Table, lines: Iterator[str], log: LineLog) -> Iterator[Row]:
    records = csv_records(lines, table.delimiter)
    next(records, None)  # the header
    width = len(table.columns)
    for start, last, fields, error in records:
        if error is not None:  # a broken quote: reported, the reader goes on
            yield Row(start, {}, f"unreadable row ({error})", "malformed")
            continue
        if not any(f.strip() for f in fields):
            continue  # an all-blank row (Excel's ",,") is no record, like a blank line
        while len(fields) > width and not fields[-1].strip():
            fields.pop()  # "CCO,ethanol," from a trailing delimiter
        values = dict(zip(table.columns, fields + [""] * (width - len(fields))))  # short rows: empty cells
        damage = log.damage(start, last)
        if damage:
            yield Row(start, values, damage, "encoding")
        elif len(fields) > width:
            yield Row(start, values, f"{len(fields)} fields, the header has {width}", "malformed")
        else:
            yield Row(start, values)


def _smi_rows(table: Table, lines: Iterator[str], log: LineLog) -> Iterator[Row]:
    """`SMILES [whitespace name]` per line; blank and '#' lines skipped; a 'smiles ...' first line is a header."""
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 1)
        if lineno == 1 and parts[0].lower() == "smiles":
            continue
        values = dict(zip(SMI_COLUMNS, [parts[0], parts[1] if len(parts) > 1 else ""]))
        damage = log.damage(lineno, lineno)
        yield Row(lineno, values, damage, "encoding" if damage else "")


def _sdf_rows(table: Table, lines: Iterator[str], log: LineLog) -> Iterator[Row]:
    for start, last, block in sd_blocks(lines):
        row = _sd_record([line.rstrip("\r\n") for line in block], start)
        damage = log.damage(start, last)
        if damage:
            row.problem, row.reason = damage, "encoding"
        yield row


def _sd_record(lines: list[str], start: int) -> Row:
    """Title (when it has one), properties and connection table of one SD record."""
    values = {"title": lines[0].strip()} if lines and lines[0].strip() else {}
    end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), None)
    if end is None:
        return Row(start, values, "broken SD record: no 'M  END' line", "malformed")
    values.update(sd_properties(lines[end + 1:]))
    return Row(start, values, molblock="\n".join(lines[:end + 1]) + "\n")


def _json_value(value) -> str | None:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return None  # lists, objects, booleans: not a text column


def _json_row(obj, line: int) -> Row:
    if not isinstance(obj, dict):
        return Row(line, {}, f"expected a JSON object, found {type(obj).__name__}", "malformed")
    texts = {str(k): _json_value(v) for k, v in obj.items()}
    return Row(line, {k: v for k, v in texts.items() if v is not None})


def _jsonl_rows(table: Table, lines: Iterator[str], log: LineLog) -> Iterator[Row]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        damage = log.damage(lineno, lineno)
        if damage:
            yield Row(lineno, {}, damage, "encoding")
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested past Python's stack
            yield Row(lineno, {}, f"not JSON ({exc})", "malformed")
            continue
        yield _json_row(obj, lineno)


def _json_rows(table: Table, lines: Iterator[str], log: LineLog) -> Iterator[Row]:
    """A JSON array of objects: one document, so damage anywhere makes the file unusable."""
    name = table.path.name
    text = "".join(lines)
    if log.damaged:
        first = min(log.damaged)
        raise ReadError(f"{name}: {log.damage(first, first)}; save it again as UTF-8")
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ReadError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise ReadError(f"{name}: expected a JSON array of objects (or use .jsonl, one object per line)")
    for i, obj in enumerate(items, 1):
        yield _json_row(obj, i)


_ROWS = {"delimited": _delimited_rows, "smi": _smi_rows, "sdf": _sdf_rows, "jsonl": _jsonl_rows, "json": _json_rows}


class Table:
    """One user file, opened: its columns, and a fresh pass over its records on each `rows()`."""

    def __init__(self, path: Path, ftype: FileType, wanted: tuple[str, ...] = ()):
        self.path, self.type = path, ftype
        self.delimiter, self.lineterminator = ",", "\n"  # what a delimited file uses, for writing it back
        self.columns: list[str] = list(SMI_COLUMNS)  # a .smi file's; the others' come from the file
        self.log = LineLog()  # of the latest complete pass (`count`, the column scan)
        self._count: int | None = None
        if ftype.kind == "delimited":
            self._read_header(wanted)
        elif ftype.kind != "smi":
            self._scan_keys()

    @property
    def kind(self) -> str:
        return self.type.kind

    @cached_property
    def encoding(self) -> str:
        """detect_encoding's answer (a pass over the bytes): batch naming writes a BOM unless it is 'utf-8'."""
        return detect_encoding(self.path)

    def _read_header(self, wanted: tuple[str, ...]) -> None:
        name = self.path.name
        sample = _sample(self.path)
        if not sample.strip():
            raise ReadError(f"{name} is empty (the first line must name the columns)")
        self.delimiter = sniff_delimiter(sample, *wanted, default=self.type.delimiter)
        first = io.StringIO(sample, newline="").readline()
        self.lineterminator = "\r\n" if first.endswith("\r\n") else "\n"
        _start, _last, header, error = next(csv_records(io.StringIO(sample, newline=""), self.delimiter),
                                            (0, 0, None, "no fields"))
        if header is None:
            raise ReadError(f"{name}: unreadable header line ({error})")
        self.columns = header

    def _scan_keys(self) -> None:
        """Keyed records (SD properties, JSON objects) need not share their keys: the columns are all of
        them, in first-seen order (an SD title first), from one pass over the file in constant memory."""
        keys: dict[str, None] = {}
        log, n = LineLog(), 0
        for row in self.rows(log):
            keys.update(dict.fromkeys(row.values))
            n += 1
        titled = self.kind == "sdf" and "title" in keys
        self.columns = (["title"] if titled else []) + [k for k in keys if not (titled and k == "title")]
        self._count, self.log = n, log

    def rows(self, log: LineLog | None = None) -> Iterator[Row]:
        """Every record, in order, problem records included; `log` learns about the text (see LineLog)."""
        log = log if log is not None else LineLog()
        return _ROWS[self.kind](self, text_lines(self.path, log), log)

    def count(self) -> int:
        """How many records `rows()` gives (one pass, remembered)."""
        if self._count is None:
            log = LineLog()
            self._count = sum(1 for _ in self.rows(log))
            self.log = log
        return self._count


def open_table(path, *wanted: str) -> Table:
    """`path` opened as a Table; `wanted`: the columns the caller will look up (they settle a delimited
    file's delimiter). ReadError for a missing, unknown, empty or unreadable file."""
    path = Path(path)
    ftype = file_type(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    return Table(path, ftype, wanted)
