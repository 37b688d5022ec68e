"""The SQLite database: one cached engine per file, WAL, foreign keys, migrated to head on first open.

Several processes (CLI, GUI, a training run) share one file. WAL lets readers run beside a writer,
`busy_timeout` makes a writer wait for the lock instead of failing, and write transactions start
with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can hit SQLITE_BUSY at
once, without waiting, when another connection committed in between.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from chemnamer import paths

BUSY_TIMEOUT_S = 10.0


class StoreError(RuntimeError):
    """The database cannot be opened or written (read-only folder, disk full, locked too long, damaged
    file); the message names the file and is meant for the user. The original error is its __cause__."""


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _store_error(exc: BaseException, file: str) -> StoreError:
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror  # "Read-only file system", without the errno and path noise
    else:
        text = str(getattr(exc, "orig", None) or exc)  # sqlite3's own words, not SQLAlchemy's SQL dump
    reason = text.splitlines()[0] if text.strip() else type(exc).__name__
    folder = _nearest_existing(Path(file).parent)
    hint = ""
    if not os.access(folder, os.W_OK):
        hint = f" (the folder {folder} is not writable; set CHEMNAMER_HOME to a writable folder)"
    return StoreError(f"cannot use the database {file}: {reason}{hint}")


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# path -> (engine whose transactions BEGIN IMMEDIATE, same pool with deferred BEGIN for readers)
_engines: dict[str, tuple[Engine, Engine]] = {}
_lock = threading.Lock()


def _json_default(obj: Any) -> Any:
    """Let callers hand us dataclasses, numpy/torch scalars, paths and datetimes inside JSON columns."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return obj.tolist()
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


# One encoder for every JSON value: json.dumps(default=...) would build a new one per call.
_dumps = json.JSONEncoder(default=_json_default, ensure_ascii=False).encode


def _resolve(path: str | os.PathLike[str] | None) -> str:
    # Read at call time: tests (and portable installs) change CHEMNAMER_HOME while running.
    return str(Path(path if path is not None else paths.database_path()).expanduser().resolve())


def _enter_wal(cur: Any) -> None:
    """Switch the file to WAL, waiting out a second process doing the same.

    The switch needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy
    handler, when two connections that both read the fresh file race for it (waiting could deadlock).
    CI saw it: two processes opening a new database together, one failed with "database is locked"."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _create(file: str) -> tuple[Engine, Engine]:
    eng = create_engine(
        URL.create("sqlite", database=file),  # not an f-string: a '?' or '#' in the path stays a path
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        json_serializer=_dumps,
    )

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite must not BEGIN on its own; _on_begin does
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _enter_wal(cur)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a full fsync per step log is not needed
        cur.close()

    @event.listens_for(eng, "begin")
    def _on_begin(conn: Connection) -> None:
        deferred = conn.get_execution_options().get("chemnamer_readonly", False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return eng, eng.execution_options(chemnamer_readonly=True)


def alembic_config(connection: Connection | None = None) -> Any:
    """Alembic config for the packaged migrations (no alembic.ini: the scripts travel with the code).

    Developers: `command.revision(alembic_config(), autogenerate=True, message=...)` writes a new one."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _migrate(eng: Engine) -> None:
    from alembic import command

    # One IMMEDIATE transaction around the upgrade: a second process opening a fresh file waits here,
    # then finds the schema at head instead of racing to create the same tables.
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "head")


def _engines_for(path: str | os.PathLike[str] | None) -> tuple[Engine, Engine]:
    try:
        key = _resolve(path)
    except OSError as exc:  # CHEMNAMER_HOME cannot be created (read-only parent, ...)
        raise StoreError(f"cannot create the data folder {exc.filename or path}: {exc.strerror or exc} "
                         f"(set CHEMNAMER_HOME to a writable folder)") from exc
    pair = _engines.get(key)
    if pair is None:
        with _lock:
            pair = _engines.get(key)
            if pair is None:
                try:
                    Path(key).parent.mkdir(parents=True, exist_ok=True)
                    pair = _create(key)
                    _migrate(pair[0])
                except (OSError, DBAPIError) as exc:
                    if pair is not None:
                        pair[0].dispose()
                    raise _store_error(exc, key) from exc
                _engines[key] = pair
    return pair


def engine(path: str | os.PathLike[str] | None = None) -> Engine:
    """The engine for `path` (default: the user's database), created and migrated on first use."""
    return _engines_for(path)[0]


def init_db(path: str | os.PathLike[str] | None = None) -> Path:
    """Create or upgrade the database now (instead of on first use); returns its file."""
    return Path(engine(path).url.database or "")


@contextmanager
def session(readonly: bool = False, path: str | os.PathLike[str] | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on error.

    `readonly=True` starts a deferred transaction, so a reader never waits for a writer's lock."""
    writer, reader = _engines_for(path)
    with Session(reader if readonly else writer, expire_on_commit=False) as s:
        try:
            yield s
            if readonly:
                s.rollback()
            else:
                s.commit()
        except OperationalError as exc:  # read-only file, disk full, locked past busy_timeout, I/O error
            s.rollback()
            raise _store_error(exc, str(writer.url.database)) from exc
        except BaseException:
            s.rollback()
            raise


def integrity_check(path: str | os.PathLike[str] | None = None) -> str:
    """SQLite's own consistency check: 'ok' when the file is sound."""
    reader = _engines_for(path)[1]
    try:
        with reader.connect() as conn:
            rows = conn.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    except OperationalError as exc:
        raise _store_error(exc, str(reader.url.database)) from exc
    return "\n".join(str(r) for r in rows)


def dispose_all() -> None:
    """Close every pooled connection and forget the engines (tests; before deleting a database)."""
    with _lock:
        for writer, _reader in _engines.values():
            writer.dispose()
        _engines.clear()


def _after_fork() -> None:
    # A forked child (e.g. a DataLoader worker) must not reuse the parent's SQLite connections,
    # nor a lock another parent thread held at fork time.
    global _lock
    _lock = threading.Lock()
    for writer, _reader in _engines.values():
        writer.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
