"""Reference names: the PubChem tables shipped by `chemicals`, and a rule-based name (openclatura).

The three identifier TSVs (`pubchem large` 71k rows, `pubchem small`, `example user db`) are
imported once into an indexed SQLite file in the user cache dir; later runs open it read-only.
TSV columns (no header): cid, CAS, formula, MW, SMILES, InChI, InChIKey, IUPAC name, common name,
synonyms... Names are lowercase PubChem style, some old ("oxidanyl", "chloranyl").

The rule-based namer runs in a long-lived child process: openclatura can take seconds or never
return on odd structures, and only a process can be stopped from outside.
"""
from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import itertools
import json
import os
import queue
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chemnamer import paths

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


_table: ReferenceTable | None = None
_table_lock = threading.Lock()


def get_reference_table() -> ReferenceTable:
    """The process-wide table; the first call may build it (a few seconds, once per machine)."""
    global _table
    with _table_lock:
        if _table is None:
            _table = ReferenceTable()
        return _table


# --- rule-based names ----------------------------------------------------------------------------


@dataclass
class RuleName:
    name: str | None
    error: str | None
    ms: float


WORKER_FLAG = "--chemnamer-rule-worker"


# The rule-based namers, in the order their names are preferred (openclatura: 97.6 % structure-correct
# on 1,000 drug-like PubChem compounds, nispo 93.2 %, either one 99.1 %).
NAMERS = ("openclatura", "nispo")


def _worker_command(namer: str = "openclatura") -> list[str]:
    if getattr(sys, "frozen", False):
        # A frozen app has no `python -c`: its entry point must call run_worker_if_requested() first.
        return [sys.executable, WORKER_FLAG, namer]
    return [sys.executable, "-c", f"from chemnamer.reference import _rule_worker; _rule_worker({namer!r})"]


def run_worker_if_requested(argv: list[str] | None = None) -> None:
    """For frozen builds: become the rule-based worker when started with WORKER_FLAG [NAMER]."""
    argv = sys.argv if argv is None else argv
    if WORKER_FLAG in argv:
        rest = argv[argv.index(WORKER_FLAG) + 1:]
        _rule_worker(rest[0] if rest else "openclatura")
        sys.exit(0)


def _namer_function(namer: str):
    """SMILES → name ('' or an exception when it has none), after paying the import and warm-up cost
    before 'ready' (nispo's first call loads its rule tables: ~2-17 s, longer than a naming timeout)."""
    if namer == "openclatura":
        import openclatura

        return openclatura.name_smiles
    if namer == "nispo":
        import nispo

        nispo.smiles_to_iupac("CCO")
        return nispo.smiles_to_iupac
    raise ValueError(f"unknown rule-based namer {namer!r}; one of {', '.join(NAMERS)}")


def _rule_worker(namer: str = "openclatura") -> None:
    """Child process: JSON lines in (SMILES), JSON lines out ([name, error]) until stdin closes."""
    # The protocol keeps the real stdout; a library's stray print goes to stderr instead.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    try:
        import warnings

        from rdkit import RDLogger

        warnings.simplefilter("ignore")
        RDLogger.DisableLog("rdApp.*")
        name_smiles = _namer_function(namer)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a value
        out.write(json.dumps(["ready", f"{namer} unavailable: {type(exc).__name__}: {exc}"]) + "\n")
        return
    out.write(json.dumps(["ready", None]) + "\n")
    for line in sys.stdin:
        smiles = json.loads(line)
        try:
            name = name_smiles(smiles)
            # the namers return '' rather than raising when they have no name
            result = [name, None] if name else [None, f"{namer} could not name this structure"]
        except Exception as exc:  # noqa: BLE001
            result = [None, f"{namer} failed: {type(exc).__name__}: {exc}"]
        out.write(json.dumps(result) + "\n")


class RuleNamer:
    """A rule-based namer (openclatura or nispo) in a reusable worker process; killed and restarted
    after a timeout.

    The worker is a plain `python -c` child speaking JSON lines, not a multiprocessing 'spawn'
    Process: spawn re-imports the parent's __main__ (the CLI or GUI entry, with torch and Qt) in the
    child and fails outright when that main is stdin. Starting costs about a second (RDKit +
    openclatura imports), so the worker is kept between calls; calls are serialized.
    """

    START_TIMEOUT_S = 120.0  # a cold start on a busy machine; not counted in the naming timeout

    def __init__(self, namer: str = "openclatura"):
        if namer not in NAMERS:
            raise ValueError(f"unknown rule-based namer {namer!r}; one of {', '.join(NAMERS)}")
        self.namer = namer
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._replies: queue.Queue | None = None
        self._error: str | None = None  # permanent: openclatura cannot be imported
        self.starts = 0

    def _ensure_started(self) -> str | None:
        if self._proc is not None and self._proc.poll() is None:
            return None
        self._stop()
        env = dict(os.environ)
        # The child must import this chemnamer even when it is not installed (a source checkout).
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(_worker_command(self.namer), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=env, text=True, encoding="utf-8", bufsize=1)
        replies: queue.Queue = queue.Queue()
        # A reader thread turns the pipe into a queue: queue.get(timeout=) works on every platform.
        threading.Thread(target=_pump, args=(proc.stdout, replies), daemon=True,
                         name="chemnamer-rule-reader").start()
        self.starts += 1
        self._proc, self._replies = proc, replies
        reply = self._reply(self.START_TIMEOUT_S)
        if reply is None or reply is _EOF or reply[0] != "ready":
            self._kill()
            return "rule-based namer did not start"
        if reply[1]:
            self._kill()
            self._error = reply[1]
        return reply[1]

    def _reply(self, timeout_s: float):
        try:
            return self._replies.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _stop(self) -> None:
        proc, self._proc, self._replies = self._proc, None, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # the worker's loop ends at EOF
        except OSError:
            pass
        try:
            proc.wait(1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _kill(self) -> None:
        """A stuck worker cannot be asked to stop: kill it; the next call starts a fresh one."""
        if self._proc is not None:
            self._proc.kill()
        self._stop()

    def start(self) -> str | None:
        """Start the worker now (e.g. in the background at app start); returns an error or None."""
        with self._lock:
            return self._error or self._ensure_started()

    def name(self, smiles: str, timeout_s: float = 5.0) -> RuleName:
        with self._lock:
            if self._error:
                return RuleName(None, self._error, 0.0)
            error = self._ensure_started()
            if error:
                return RuleName(None, error, 0.0)
            t0 = time.perf_counter()
            try:
                self._proc.stdin.write(json.dumps(smiles) + "\n")
                self._proc.stdin.flush()
            except OSError:
                self._kill()
                return RuleName(None, "rule-based namer crashed", 0.0)
            reply = self._reply(timeout_s)
            ms = (time.perf_counter() - t0) * 1000
            if reply is None:
                self._kill()
                return RuleName(None, f"rule-based naming timed out after {timeout_s:g} s", ms)
            if reply is _EOF:
                self._kill()
                return RuleName(None, "rule-based namer crashed", ms)
            return RuleName(reply[0], reply[1], ms)

    def close(self) -> None:
        with self._lock:
            self._stop()


_EOF = object()  # the worker's stdout closed


def _pump(stream, replies: queue.Queue) -> None:
    try:
        for line in stream:
            try:
                replies.put(json.loads(line))
            except ValueError:
                continue
    except (OSError, ValueError):
        pass
    finally:
        stream.close()
    replies.put(_EOF)


_rule_namers: dict[str, RuleNamer] = {}
_rule_lock = threading.Lock()


def get_rule_namer(namer: str = "openclatura") -> RuleNamer:
    """The process-wide worker of one namer; each namer has its own process, so both run at once."""
    with _rule_lock:
        if namer not in _rule_namers:
            _rule_namers[namer] = RuleNamer(namer)
            atexit.register(_rule_namers[namer].close)  # let the worker see EOF and exit cleanly
        return _rule_namers[namer]


def rule_based_name(smiles: str, timeout_s: float = 5.0, namer: str = "openclatura") -> RuleName:
    """A rule-based namer's name for a SMILES, bounded by `timeout_s` (the worker is restarted after)."""
    return get_rule_namer(namer).name(smiles, timeout_s)
