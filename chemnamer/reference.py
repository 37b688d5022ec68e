"""Reference names: the PubChem tables shipped by `chemicals`.

The three identifier TSVs (`pubchem large` 71k rows, `pubchem small`, `example user db`) are
imported once into an indexed SQLite file in the user cache dir; later runs open it read-only.
TSV columns (no header): cid, CAS, formula, MW, SMILES, InChI, InChIKey, IUPAC name, common name,
synonyms... Names are lowercase PubChem style, some old ("oxidanyl", "chloranyl").
The rule-based names (openclatura, nispo) are chemnamer.rulebased's.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chemnamer import paths
from chemnamer.shared import process_wide

SCHEMA_VERSION = 1
# Preference order when the same InChIKey is in several files.
SOURCES = (
    ("pubchem large", "chemical identifiers pubchem large.tsv"),
    ("pubchem small", "chemical identifiers pubchem small.tsv"),
    ("example user db", "chemical identifiers example user db.tsv"),
)


@dataclass
class ReferenceRecord:
    cid: int | None
    cas: str
    smiles: str
    inchikey: str
    iupac_name: str
    common_name: str
    synonyms: list[str] = field(default_factory=list)
    source: str = ""
    formula: str = ""
    mw: float | None = None


class ReferenceDataError(Exception):
    """The reference data cannot be found or built; the message is for the user."""


# --- import --------------------------------------------------------------------------------------


def identifiers_dir() -> Path:
    spec = importlib.util.find_spec("chemicals")
    if spec is None or not spec.submodule_search_locations:
        raise ReferenceDataError("the 'chemicals' package is not installed (it ships the PubChem tables)")
    return Path(list(spec.submodule_search_locations)[0]) / "Identifiers"


def _signature(folder: Path) -> str:
    """Schema version + chemicals version + file sizes: any change means a rebuild."""
    try:
        version = importlib.metadata.version("chemicals")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    sizes = ",".join(str((folder / f).stat().st_size) for _, f in SOURCES if (folder / f).exists())
    return f"schema={SCHEMA_VERSION};chemicals={version};sizes={sizes}"


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE compound (
    id INTEGER PRIMARY KEY, rank INTEGER, source TEXT, cid INTEGER, cas TEXT, formula TEXT,
    mw REAL, smiles TEXT, inchikey TEXT, iupac_name TEXT, common_name TEXT, synonyms TEXT
);
-- every searchable text of a compound, lowercased once at import (names, CAS, InChIKey)
CREATE TABLE name (text TEXT, compound_id INTEGER);
"""
_INDEXES = """
CREATE INDEX ix_compound_inchikey ON compound (inchikey, rank);
CREATE INDEX ix_name_text ON name (text);
"""


def _rows(path: Path, rank: int, source: str, ids: Iterator[int]):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 9:
                continue
            cid = int(cols[0]) if cols[0].isdigit() else None
            try:
                mw = float(cols[3])
            except ValueError:
                mw = None
            synonyms = [s for s in cols[9:] if s]
            yield (next(ids), rank, source, cid, cols[1], cols[2], mw, cols[4],
                   cols[6].strip().upper(), cols[7], cols[8], "\n".join(synonyms))


def build(path: Path | None = None) -> float:
    """(Re)build the SQLite table from the TSVs; returns the seconds it took. Atomic: temp + rename."""
    t0 = time.perf_counter()
    folder = identifiers_dir()
    path = Path(path or default_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".reference-", suffix=".sqlite", dir=path.parent)
    os.close(fd)
    try:
        con = sqlite3.connect(tmp)
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        ids = itertools.count(1)
        total = 0
        for rank, (source, filename) in enumerate(SOURCES):
            file = folder / filename
            if not file.exists():
                continue
            rows = list(_rows(file, rank, source, ids))
            total += len(rows)
            con.executemany("INSERT INTO compound VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            con.executemany("INSERT INTO name VALUES (?, ?)", _names(rows))
        if total == 0:
            raise ReferenceDataError(f"no identifier tables found in {folder}")
        con.executescript(_INDEXES)
        con.execute("INSERT INTO meta VALUES ('signature', ?)", (_signature(folder),))
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.commit()
        con.close()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return time.perf_counter() - t0


def _names(rows):
    for row in rows:
        compound_id, cas = row[0], row[4]
        inchikey, iupac, common, synonyms = row[8:12]
        texts = {t.strip().lower() for t in (cas, inchikey, iupac, common, *synonyms.split("\n"))}
        texts.discard("")
        for text in texts:
            yield text, compound_id


def default_path() -> Path:
    return paths.cache_dir() / "reference.sqlite"


def _is_current(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            row = con.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    try:
        signature = _signature(identifiers_dir())
    except ReferenceDataError:
        return version == SCHEMA_VERSION  # sources gone: the table we have is all there is
    return version == SCHEMA_VERSION and row is not None and row[0] == signature


# --- queries -------------------------------------------------------------------------------------

_COLUMNS = "cid, cas, smiles, inchikey, iupac_name, common_name, synonyms, source, formula, mw"


def _record(row) -> ReferenceRecord:
    cid, cas, smiles, inchikey, iupac, common, synonyms, source, formula, mw = row
    return ReferenceRecord(cid, cas, smiles, inchikey, iupac, common,
                           synonyms.split("\n") if synonyms else [], source, formula, mw)


class ReferenceTable:
    """Read-only queries; one SQLite connection per thread (built on first use if missing)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path or default_path())
        self.build_s: float | None = None  # seconds spent building, when this instance built it
        if not _is_current(self.path):
            self.build_s = build(self.path)
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            self._local.con = con
        return con

    def lookup(self, inchikey: str) -> ReferenceRecord | None:
        """The record for a standard InChIKey; PubChem large before small before the user db."""
        key = (inchikey or "").strip().upper()
        if not key:
            return None
        row = self._con().execute(
            f"SELECT {_COLUMNS} FROM compound WHERE inchikey = ? ORDER BY rank LIMIT 1", (key,)
        ).fetchone()
        return _record(row) if row else None

    def search(self, text: str, limit: int = 20) -> list[ReferenceRecord]:
        """Case-insensitive match on IUPAC/common name, synonyms, CAS, InChIKey.

        Exact matches first, then names starting with the text, then names containing it.
        """
        needle = (text or "").strip().lower()
        if not needle or limit <= 0:
            return []
        con = self._con()
        ids: list[int] = []
        queries = (
            ("SELECT DISTINCT compound_id FROM name WHERE text = ? ORDER BY compound_id LIMIT ?",
             (needle,)),
            # A range on the index: LIKE 'x%' would not use it (and would treat _ and % as wildcards).
            ("SELECT compound_id FROM name WHERE text > ? AND text < ? ORDER BY text LIMIT ?",
             (needle, needle + "\U0010ffff")),
            ("SELECT compound_id FROM name WHERE instr(text, ?) > 0 LIMIT ?", (needle,)),
        )
        for sql, args in queries:
            for (compound_id,) in con.execute(sql, (*args, 4 * limit)):
                if compound_id not in ids:
                    ids.append(compound_id)
            if len(ids) >= limit:
                break
        ids = ids[:limit]
        if not ids:
            return []
        rows = con.execute(
            f"SELECT id, {_COLUMNS} FROM compound WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        by_id = {row[0]: _record(row[1:]) for row in rows}
        return [by_id[i] for i in ids]

    def iter_records(self) -> Iterator[ReferenceRecord]:
        """Every record, preferred source first (a separate connection: safe to interleave)."""
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            for row in con.execute(f"SELECT {_COLUMNS} FROM compound ORDER BY rank, id"):
                yield _record(row)
        finally:
            con.close()

    def __len__(self) -> int:
        return self._con().execute("SELECT count(*) FROM compound").fetchone()[0]


@process_wide
def get_reference_table() -> ReferenceTable:
    """The process-wide table; the first call may build it (a few seconds, once per machine)."""
    return ReferenceTable()
