"""Rule-labelled ZINC pairs: MOSES SMILES named by openclatura, kept when OPSIN reads the name back.

A pair is kept only when OPSIN parses openclatura's name to the same standard InChIKey as the SMILES,
so every target is a name that at least one independent parser agrees with.

The set is built in chunks (`cache_dir()/zinc/chunk-000123.jsonl` + `.json` counts), each written
atomically by a worker; a chunk exists once its .jsonl exists, so an interrupted build resumes where
it stopped. `cached_zinc_pairs` reads the chunks in order, so its first N pairs never change.

Processes: each worker is a chemnamer.childproc child (JSON lines over its own pipes; a new process,
since JPype's JVM does not survive fork) with its own openclatura and OPSIN. A worker bounds each
molecule with SIGALRM; a hang the alarm cannot break (inside C code), or a crash, is caught by the
parent from the worker's per-molecule heartbeats: it kills the worker, marks the molecule, and hands
the chunk to a fresh worker.
"""
from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import queue
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from chemnamer import paths
from chemnamer.data.records import Pair, read_jsonl, write_jsonl

CACHE_VERSION = 1
MOSES_FILES = ("train.csv.gz", "test.csv.gz")  # MOSES' ZINC clean-leads subset, 1.76M SMILES
HELD_OUT = "test.csv.gz"  # MOSES' test split: evaluation (evalsets.druglike, the bench), not training
START_TIMEOUT_S = 300.0  # worker start: imports + JVM, slow on a busy machine
MAX_RETRIES = 5  # a chunk whose worker dies more often is written empty and reported as failed
WORKER_FLAG = "--chemnamer-zinc-worker"  # see chemnamer.childproc


class ZincError(RuntimeError):
    """The ZINC cache cannot serve what was asked; the message says what to run."""


# --- source SMILES -------------------------------------------------------------------------------


def moses_files() -> list[Path]:
    spec = importlib.util.find_spec("moses")  # finds without importing (moses imports torch and more)
    if spec is None or not spec.submodule_search_locations:
        raise ZincError("the 'molsets' package is missing: pip install --no-deps molsets")
    folder = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "data"
    files = [folder / f for f in MOSES_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ZincError(f"MOSES data files missing: {', '.join(missing)}")
    return files


SOURCES = ("moses", "pubchem")  # what a build labels: MOSES' ZINC SMILES, or the PubChem table's rows
ORIGIN_PREFIX = {"moses": "zinc", "pubchem": "pubchem:large"}


def pubchem_rows() -> Iterator[tuple[int, str]]:
    """(line number from 1, SMILES) of the PubChem large table: the numbering `pubchem_pairs` puts in
    its origins ("pubchem:large:<line>"), so a rule-based name joins back to its PubChem row."""
    from chemnamer.data.pubchem import COL_SMILES, TABLES, identifiers_dir

    with (identifiers_dir() / TABLES["large"]).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = line.rstrip("\n").split("\t")
            if len(cols) > COL_SMILES and cols[COL_SMILES]:
                yield lineno, cols[COL_SMILES]


def source_files(source: str) -> list[Path]:
    if source == "pubchem":
        from chemnamer.data.pubchem import TABLES, identifiers_dir

        return [identifiers_dir() / TABLES["large"]]
    return moses_files()


def smiles_rows(seed: int = 0, source: str = "moses") -> Iterator[tuple[int, str]]:
    """(row, SMILES) in build order. MOSES rows count train.csv.gz from 0 (test.csv.gz is held out);
    PubChem rows are the table's line numbers.

    seed 0 keeps the file order (MOSES' rows are already in random order; streaming needs no memory);
    any other seed is a seeded permutation of all rows.
    """
    if source not in SOURCES:
        raise ZincError(f"unknown SMILES source {source!r}; one of {', '.join(SOURCES)}")

    def csv_order():
        if source == "pubchem":
            yield from pubchem_rows()
            return
        row = 0
        for path in moses_files():
            if path.name == HELD_OUT:
                return  # never labelled for training: the drug-like evaluation set is drawn from it
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                fh.readline()  # header: SMILES
                for line in fh:
                    smiles = line.strip()
                    if smiles:
                        yield row, smiles
                    row += 1

    if seed == 0:
        yield from csv_order()
        return
    rows = list(csv_order())
    random.Random(seed).shuffle(rows)
    yield from rows


# --- labelling one molecule ----------------------------------------------------------------------


class _Timeout(BaseException):
    """BaseException: openclatura's own `except Exception` must not swallow our alarm."""


def _on_alarm(signum, frame):
    raise _Timeout()


@dataclass
class Labelled:
    smiles: str
    name: str | None = None
    inchikey: str = ""
    reason: str | None = None  # None: verified; else why the molecule was rejected
    detail: str = ""
    seconds: dict = field(default_factory=lambda: {"rdkit": 0.0, "openclatura": 0.0, "opsin": 0.0})


def label_smiles(smiles: str, timeout_s: float = 10.0, opsin=None) -> Labelled:
    """Name one SMILES with openclatura and check the name with OPSIN. Never raises for bad input.

    The time limit needs SIGALRM (POSIX, main thread); elsewhere openclatura runs unbounded.
    """
    import openclatura
    from rdkit import Chem

    if opsin is None:
        from chemnamer.opsin import get_opsin

        opsin = get_opsin()
    out = Labelled(smiles)
    t0 = time.perf_counter()
    mol = Chem.MolFromSmiles(smiles)
    key = Chem.MolToInchiKey(mol) if mol is not None else ""
    out.seconds["rdkit"] = time.perf_counter() - t0
    if mol is None:
        out.reason = "invalid_smiles"
        return out
    if not key:
        out.reason = "no_inchikey"
        return out
    out.inchikey = key

    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    t0 = time.perf_counter()
    try:
        if alarm:
            previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            name = openclatura.name_rdkit_mol(mol)
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
    except _Timeout:
        out.reason, out.detail = "timeout", f"openclatura took over {timeout_s:g} s"
        return out
    except Exception as exc:  # noqa: BLE001 - openclatura bugs are data here, not failures
        out.reason, out.detail = "namer_error", f"{type(exc).__name__}: {exc}"[:200]
        return out
    finally:
        out.seconds["openclatura"] = time.perf_counter() - t0
    if not name:
        out.reason = "no_name"
        return out
    out.name = name

    t0 = time.perf_counter()
    # Strict: OPSIN's structure must be the input's, tautomer and stereo included (a standard
    # InChIKey would accept "pyridin-2-ol" for 2-pyridone).
    check = opsin.check(name, smiles)
    out.seconds["opsin"] = time.perf_counter() - t0
    if check.verified is None:
        raise ZincError(f"OPSIN unavailable: {check.reason}")  # the whole build is pointless then
    if not check.verified:
        out.reason = {"unparsable": "opsin_unparsable", "constitution": "opsin_other_structure"}.get(
            check.kind, f"opsin_{check.kind}")
        out.detail = check.reason
    return out


# --- chunk files ---------------------------------------------------------------------------------


def zinc_dir(source: str = "moses") -> Path:
    """One cache folder per source; MOSES keeps its historical name."""
    return paths.cache_dir() / ("zinc" if source == "moses" else f"rules-{source}")


def _chunk_path(folder: Path, index: int, suffix: str) -> Path:
    return folder / f"chunk-{index:06d}{suffix}"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _new_stats() -> dict:
    return {"molecules": 0, "verified": 0, "rejected": {},
            "seconds": {"rdkit": 0.0, "openclatura": 0.0, "opsin": 0.0, "total": 0.0}}


def _write_chunk(folder: Path, index: int, pairs: list[Pair], stats: dict) -> None:
    # Counts first, pairs last: the .jsonl is the marker that the chunk is complete.
    _write_json(_chunk_path(folder, index, ".json"), stats)
    write_jsonl(pairs, _chunk_path(folder, index, ".jsonl"))


def _chunk_stats(folder: Path, index: int) -> dict | None:
    """Counts of a finished chunk, None when it is not finished."""
    if not _chunk_path(folder, index, ".jsonl").is_file():
        return None
    try:
        return json.loads(_chunk_path(folder, index, ".json").read_text())
    except (OSError, ValueError):
        # Counts lost (the pairs are what matters): recount the pairs.
        stats = _new_stats()
        stats["verified"] = sum(1 for _ in read_jsonl(_chunk_path(folder, index, ".jsonl")))
        return stats


def _prefix(folder: Path) -> Iterator[tuple[int, dict]]:
    """Finished chunks 0, 1, 2 ... up to the first gap: the pairs `cached_zinc_pairs` serves."""
    for index in itertools.count():
        stats = _chunk_stats(folder, index)
        if stats is None:
            return
        yield index, stats


def cached_settings(source: str = "moses") -> dict | None:
    """chunk_size and seed of the build in the cache (a rerun must use them), None when there is none."""
    try:
        manifest = json.loads((zinc_dir(source) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return {"chunk_size": manifest.get("chunk_size"), "seed": manifest.get("seed")}


def _manifest(chunk_size: int, seed: int, source: str = "moses") -> dict:
    sizes = {p.name: p.stat().st_size for p in source_files(source)}
    manifest = {"version": CACHE_VERSION, "chunk_size": chunk_size, "seed": seed, "sources": sizes}
    if source != "moses":  # MOSES manifests written before sources existed stay valid
        manifest["source"] = source
    return manifest


# --- worker process ------------------------------------------------------------------------------


def label_worker(timeout_s: str = "10") -> int:
    """Child process (chemnamer.childproc): tasks [index, rows, skip, folder, prefix] in; a heartbeat
    ["mol", position, verified] per molecule, then ["done", index, stats] (the chunk is written by
    then) out; ["fatal", message] when OPSIN fails mid-way."""
    from chemnamer.childproc import serve

    timeout = float(timeout_s)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us

    def start():
        try:
            import warnings

            from rdkit import RDLogger

            warnings.simplefilter("ignore")
            RDLogger.DisableLog("rdApp.*")
            import openclatura  # noqa: F401 - import cost paid before 'ready'

            from chemnamer.opsin import get_opsin

            opsin = get_opsin()
            if not opsin.available():
                return f"OPSIN unavailable: {opsin.unavailable_reason}"
            label_smiles("CCO", timeout, opsin)  # warm both up
        except Exception as exc:  # noqa: BLE001 - reported to the parent as a value
            return f"worker could not start: {type(exc).__name__}: {exc}"

        def handle(task, send):
            index, rows, skip, folder, prefix = task
            skip = {int(pos): reason for pos, reason in skip.items()}  # JSON keys are strings
            t0 = time.perf_counter()
            stats, pairs = _new_stats(), []
            for pos, (row, smiles) in enumerate(rows):
                stats["molecules"] += 1
                if pos in skip:
                    reason = skip[pos]
                    stats["rejected"][reason] = stats["rejected"].get(reason, 0) + 1
                    send(["mol", pos, False])
                    continue
                try:
                    lab = label_smiles(smiles, timeout, opsin)
                except ZincError as exc:
                    send(["fatal", str(exc)])
                    return
                for k, v in lab.seconds.items():
                    stats["seconds"][k] += v
                if lab.reason is None:
                    stats["verified"] += 1
                    pairs.append(Pair(smiles, lab.name, lab.inchikey, f"{prefix}:{row}"))
                else:
                    stats["rejected"][lab.reason] = stats["rejected"].get(lab.reason, 0) + 1
                send(["mol", pos, lab.reason is None])
            stats["seconds"]["total"] = time.perf_counter() - t0
            _write_chunk(Path(folder), index, pairs, stats)
            send(["done", index, stats])

        return handle

    return serve(start)


@dataclass
class _Slot:
    """The parent's view of one worker process."""
    child: object  # childproc.JsonChild
    tag: int
    ready: bool = False
    task: tuple | None = None  # (index, rows, skip)
    pos: int = -1  # last molecule reported in the task
    verified: int = 0  # verified so far in the task (progress to undo when the task is lost)
    since: float = field(default_factory=time.monotonic)  # last sign of life


def _spawn(replies, tag: int, timeout_s: float) -> _Slot:
    from chemnamer.childproc import JsonChild

    return _Slot(JsonChild(WORKER_FLAG, repr(float(timeout_s)), replies=replies, tag=tag), tag)


def _stop(slot: _Slot, kill: bool = False) -> None:
    if kill:
        slot.child.kill()
    else:
        slot.child.close(5.0)  # EOF ends the worker's loop


# --- build ---------------------------------------------------------------------------------------


def _merge(total: dict, stats: dict) -> None:
    total["molecules"] += stats.get("molecules", 0)
    total["verified"] += stats.get("verified", 0)
    for k, v in stats.get("rejected", {}).items():
        total["rejected"][k] = total["rejected"].get(k, 0) + v
    for k, v in stats.get("seconds", {}).items():
        total["seconds"][k] = total["seconds"].get(k, 0.0) + v


def build_zinc(n_pairs: int, workers: int = 2, chunk_size: int = 500, progress: bool = True, seed: int = 0,
               timeout_s: float = 10.0, source: str = "moses") -> dict:
    """Make sure at least `n_pairs` verified pairs are cached; returns a report (counts, timings).

    `source` "pubchem" labels the PubChem table's rows instead (rule-based drafts for guided naming).

    Errors come back as report["error"] (no Java, molsets missing, a cache built with other settings).
    """
    t_start = time.perf_counter()
    folder = zinc_dir(source)
    report: dict = {"folder": str(folder), "requested": n_pairs, "chunk_size": chunk_size, "seed": seed,
                    "workers": workers, "source": source}
    try:
        manifest = _manifest(chunk_size, seed, source)
    except ZincError as exc:
        return {**report, "error": str(exc)}
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old != manifest:
            return {**report, "error": f"{folder} holds a ZINC build with other settings "
                                       f"(chunk_size={old.get('chunk_size')}, seed={old.get('seed')}, "
                                       f"sources={old.get('sources')}); use those or delete the folder"}
    else:
        _write_json(manifest_path, manifest)

    from tqdm import tqdm

    run = _new_stats()  # this run's work only
    counts = {"cached": 0, "built": 0, "failed": 0}
    total = 0  # verified pairs in the chunks passed so far (cached or built)
    rows = smiles_rows(seed, source)
    next_index = 0
    exhausted = False
    retries: list[tuple] = []  # tasks lost with a dead worker, to hand out first
    attempts: dict[int, int] = {}
    error = None
    ready_s = None  # until the first worker could work: imports + JVM start

    def next_task():
        nonlocal next_index, total, exhausted
        while total < n_pairs and not exhausted:
            chunk = list(itertools.islice(rows, chunk_size))
            index, next_index = next_index, next_index + 1
            if not chunk:
                exhausted = True
                return None
            stats = _chunk_stats(folder, index)
            if stats is None:
                return index, chunk, {}
            counts["cached"] += 1
            total += stats.get("verified", 0)
            bar.update(stats.get("verified", 0))
        return None

    from chemnamer.childproc import EOF

    replies: queue.Queue = queue.Queue()  # every worker's lines, tagged with the worker's number
    tags = itertools.count()
    bar = tqdm(total=n_pairs, unit="pair", desc="ZINC", disable=not progress, smoothing=0.05)
    slots: list[_Slot] = []
    try:
        task = next_task()
        if task is not None:
            retries.append(task)
            slots = [_spawn(replies, next(tags), timeout_s) for _ in range(max(1, workers))]
        while error is None:
            for slot in slots:
                if slot.ready and slot.task is None:
                    task = retries.pop(0) if retries else next_task()
                    if task is None:
                        break
                    slot.task, slot.pos, slot.verified, slot.since = task, -1, 0, time.monotonic()
                    index, chunk, skip = task
                    slot.child.send([index, chunk, skip, str(folder), ORIGIN_PREFIX[source]])
            if not retries and not any(s.task for s in slots):
                if exhausted or total >= n_pairs:  # else: workers are (re)starting
                    break
            messages = []
            try:
                messages.append(replies.get(timeout=1.0))
                while True:
                    messages.append(replies.get_nowait())
            except queue.Empty:
                pass
            by_tag = {slot.tag: slot for slot in slots}
            ended = set()  # tags of workers whose output closed
            for tag, msg in messages:
                slot = by_tag.get(tag)
                if slot is None:
                    continue  # the last words of a worker already replaced
                slot.since = time.monotonic()
                if msg == EOF:
                    ended.add(tag)
                elif msg[0] == "ready":
                    if msg[1]:
                        error = msg[1]
                    slot.ready = True
                    ready_s = ready_s if ready_s is not None else time.perf_counter() - t_start
                elif msg[0] == "fatal":
                    error = msg[1]
                elif msg[0] == "mol":
                    slot.pos = msg[1]
                    if msg[2]:
                        slot.verified += 1
                        bar.update(1)
                elif msg[0] == "done":
                    _merge(run, msg[2])
                    total += msg[2]["verified"]
                    counts["built"] += 1
                    slot.task = None
                    bar.set_postfix(molecules=run["molecules"], timeouts=run["rejected"].get("timeout", 0))
            if error is not None:
                break  # no Java, no openclatura ...: every worker would fail the same way
            for i, slot in enumerate(slots):
                lost = None  # why the worker has to be replaced
                if slot.tag in ended or not slot.child.alive:
                    lost = "worker_lost"
                if lost is None and slot.task is not None and time.monotonic() - slot.since > 3 * timeout_s + 30:
                    lost = "timeout"  # stuck where the alarm cannot reach (C code)
                if lost is None and not slot.ready and time.monotonic() - slot.since > START_TIMEOUT_S:
                    error = f"a ZINC worker did not start within {START_TIMEOUT_S:g} s"
                if lost is None:
                    continue
                if not slot.ready:
                    slot.child.proc.wait()
                    error = error or f"a ZINC worker died while starting (exit code {slot.child.proc.returncode})"
                    continue
                _stop(slot, kill=True)
                if slot.task is not None:
                    index, chunk, skip = slot.task
                    bar.update(-slot.verified)
                    attempts[index] = attempts.get(index, 0) + 1
                    # The molecule after the last one reported is the culprit: skip it next time.
                    skip = {**skip, slot.pos + 1: lost}
                    if attempts[index] > MAX_RETRIES:
                        stats = _new_stats()
                        stats.update(molecules=len(chunk), failed=f"worker lost {attempts[index]} times")
                        stats["rejected"] = {"worker_lost": len(chunk)}
                        _write_chunk(folder, index, [], stats)
                        _merge(run, stats)
                        counts["failed"] += 1
                    else:
                        retries.append((index, chunk, skip))
                slots[i] = _spawn(replies, next(tags), timeout_s)
    except KeyboardInterrupt:
        error = "interrupted (finished chunks are kept; run again to resume)"
    finally:
        bar.close()
        for slot in slots:
            _stop(slot, kill=error is not None)

    available = _new_stats()
    chunks = 0
    for _, stats in _prefix(folder):
        _merge(available, stats)
        chunks += 1
    wall = time.perf_counter() - t_start
    report.update({
        "pairs": available["verified"],  # what cached_zinc_pairs can serve now
        "molecules": available["molecules"],
        "rejected": available["rejected"],
        "timeouts": available["rejected"].get("timeout", 0),
        "chunks": {**counts, "available": chunks},
        "exhausted": exhausted,
        "run": {"molecules": run["molecules"], "verified": run["verified"], "rejected": run["rejected"],
                "wall_s": round(wall, 1), "ready_s": round(ready_s, 1) if ready_s is not None else None,
                "pairs_per_hour": round(run["verified"] / wall * 3600) if run["molecules"] else None,
                # summed over workers: where the CPU time went
                "cpu_s": {k: round(v, 1) for k, v in run["seconds"].items()}},
    })
    if error:
        report["error"] = error
    return report


def cached_zinc_pairs(limit: int = 0, source: str = "moses") -> Iterator[Pair]:
    """The built pairs in build order; the first `limit` of them (0 = all).

    Raises ZincError when fewer are built than asked: training on a silently smaller set is worse.
    """
    folder = zinc_dir(source)
    chunks = list(_prefix(folder))
    available = sum(stats.get("verified", 0) for _, stats in chunks)
    if not chunks or (limit and available < limit):
        if source == "pubchem":  # the PubChem rows' drafts: one build covers the whole table
            raise ZincError(f"no rule-based drafts are built in {folder}: run "
                            f"`chemnamer data build --source pubchem-rules`")
        raise ZincError(f"{available} ZINC pairs are built in {folder}, {limit or 'some'} needed: run "
                        f"`chemnamer data build --source zinc --pairs {limit or 100000}`")
    n = 0
    for index, _ in chunks:
        for pair in read_jsonl(_chunk_path(folder, index, ".jsonl")):
            yield pair
            n += 1
            if limit and n >= limit:
                return
