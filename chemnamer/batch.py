"""The batch loop shared by `chemnamer batch` and the app's Batch view: records (batchio) in chunks
-> named rows. Streaming: memory does not grow with the file. A bad record is an error row and a crash
on one molecule costs only its row; neither stops the batch."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chemnamer import batchio


@dataclass
class BatchRow:
    row: int
    input: str | None
    extra: dict  # the record's input cells by column
    result: Any = None  # NamingResult
    error: str | None = None  # why the record was not named (unreadable, an internal error)

    @property
    def problem(self) -> str | None:
        return self.error or (self.result.error if self.result is not None else None)

    def output_row(self, columns: list[str]) -> list:
        """The output CSV row: the input's cells unchanged, then batchio.RESULT."""
        return batchio.output_row([self.extra.get(c, "") for c in columns], self.result, self.problem)


def chunks(records: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def name_chunk(namer, chunk: list, beams: int | None = None, mode: str | None = None,
               forms: int | None = None) -> list[BatchRow]:
    """One BatchRow per record, in order; records with an error are passed through unnamed."""
    todo = [rec for rec in chunk if rec.error is None]
    results: dict = {}
    if todo:
        try:
            results = dict(zip((r.row for r in todo), namer.name_many([r.text for r in todo], beams, mode, forms=forms)))
        except Exception:  # noqa: BLE001 - one molecule must not sink the chunk: retry one by one
            for rec in todo:
                try:
                    results[rec.row] = namer.name(rec.text, beams, mode, forms=forms)
                except Exception as exc:  # noqa: BLE001
                    results[rec.row] = f"internal error: {type(exc).__name__}: {exc}"
    rows = []
    for rec in chunk:
        res = results.get(rec.row)
        if isinstance(res, str):
            rows.append(BatchRow(rec.row, rec.text, rec.extra, None, res))
        else:
            rows.append(BatchRow(rec.row, rec.text, rec.extra, res, rec.error))
    return rows


def name_records(namer, records: Iterable, chunk_size: int = 8, beams: int | None = None,
                 mode: str | None = None, check: Callable[[], None] | None = None,
                 forms: int | None = None) -> Iterator[list[BatchRow]]:
    """The named rows, a chunk at a time (`Namer.name_many` per chunk). `check` runs before each chunk
    (a task's cancel check); beams, mode and forms default to the Namer's."""
    for chunk in chunks(records, chunk_size):
        if check is not None:
            check()
        yield name_chunk(namer, chunk, beams, mode, forms)
