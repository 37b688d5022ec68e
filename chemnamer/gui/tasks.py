"""Task functions behind the GUI's views: plain Python, no Qt.

Each one takes a `TaskState` first (see chemnamer.gui.concurrent) and calls the library: naming,
model loading, batch files, history export, training data counts. They shape results into plain
dataclasses the widgets render; the chemistry and ML live in the library modules they call.
"""
from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chemnamer.batch import BatchRow

DEPICTION_SIZE = (460, 340)


# --- naming ---------------------------------------------------------------------------------------

@dataclass
class NamingOutcome:
    """What the naming view shows: the library's result plus a depiction and comparison metrics."""

    result: Any  # chemnamer.naming.NamingResult
    svg: str | None = None
    formula: str | None = None
    generated: str | None = None  # the name shown (what the agreement and the metrics describe)
    compare: dict = field(default_factory=dict)  # exact, exact_ci, levenshtein, bleu vs PubChem
    agreement: dict = field(default_factory=dict)  # same_string, same_structure vs PubChem
    stored_at: datetime | None = None  # set when re-opened from the history
    seconds: float = 0.0


def compare_with_reference(pred: str | None, ref: str | None) -> dict:
    if not pred or not ref:
        return {}
    from chemnamer import metrics

    return {"reference": ref, "exact": metrics.exact(pred, ref), "exact_ci": metrics.exact(pred, ref, False),
            "levenshtein": metrics.levenshtein_similarity(pred, ref), "bleu": metrics.bleu([pred], [ref])}


def depict(smiles: str | None, size: tuple[int, int] = DEPICTION_SIZE) -> str | None:
    if not smiles:
        return None
    from chemnamer import chem

    try:
        return chem.depict_svg(smiles, *size)
    except Exception:  # noqa: BLE001 - a structure RDKit cannot draw still gets its names shown
        return None


def outcome_of(result, stored_at: datetime | None = None, seconds: float = 0.0) -> NamingOutcome:
    gen = result.name  # the name shown, whichever source it came from (not the model's top candidate)
    formula = getattr(result, "formula", None)
    if result.smiles and not formula:
        from chemnamer import chem

        parsed = chem.parse_smiles(result.smiles)
        formula = getattr(parsed, "formula", None)
    return NamingOutcome(result, depict(result.smiles), formula, gen,
                         compare_with_reference(gen, result.comparable_reference), result.agreement(gen),
                         stored_at, seconds)


def name_text(state, namer, text: str) -> NamingOutcome:
    """Name one input (SMILES or IUPAC name) and prepare everything the view shows."""
    t0 = time.perf_counter()
    result = namer.name(text)
    return outcome_of(result, seconds=time.perf_counter() - t0)


def reopen_naming(state, naming_id: int) -> NamingOutcome:
    from chemnamer.naming import NamingResult
    from chemnamer.store import history

    rec = history.get_naming(naming_id)
    if rec is None:
        raise LookupError(f"naming {naming_id} is no longer in the history")
    return outcome_of(NamingResult.from_record(rec), stored_at=rec.get("created_at"))


# --- models and start-up ---------------------------------------------------------------------------

def available_devices() -> list[str]:
    import torch

    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def default_threads() -> int:
    """Torch threads for the GUI process: leave a core for the event loop."""
    return max(1, (os.cpu_count() or 2) - 1)


def load_namer(state, model_id: str | None, device: str | None, beams: int = 8, mode: str = "model",
               required: bool = True, direct_model_id: str | None = None):
    """A Namer with its model loaded. `required`: a model that does not load is an error (a model the
    user picked); otherwise the Namer falls back to reference names (the default model at start).

    A guided model (its prompt takes the rule-based draft) cannot name without one, so it takes the
    Namer's guided slot and the Namer's own mode becomes "guided"; modes model and best keep
    `direct_model_id` (the model active before), loaded at their first naming."""
    from chemnamer.model import loading
    from chemnamer.model.loading import quiet_libraries
    from chemnamer.naming import Namer

    quiet_libraries()
    import torch

    torch.set_num_threads(default_threads())
    state.progress(None, f"loading {model_id or 'default'}…")
    device = None if device == "auto" else device
    if model_id is not None and loading.is_guided(model_id):
        namer = Namer(model_id=direct_model_id, guided_model_id=model_id, device=device, beams=beams, mode="guided")
        namer.load_guided()
        if namer.guided_error and required:
            raise RuntimeError(namer.guided_error)
        return namer
    namer = Namer(model_id=model_id, device=device, beams=beams, mode=mode)
    namer.load()
    if namer.model_error and required:
        raise RuntimeError(namer.model_error)
    return namer


def warm_up(state) -> dict:
    """Start what the first naming would otherwise wait for: OPSIN's JVM, the rule-based worker, the
    reference table. Also says which devices this machine offers."""
    out: dict = {}
    try:
        out["devices"] = available_devices()
    except Exception as exc:  # noqa: BLE001
        out["devices"], out["torch_error"] = ["auto", "cpu"], str(exc)
    try:
        from chemnamer.opsin import get_opsin

        opsin = get_opsin()
        out["opsin"] = None if opsin.available() else opsin.unavailable_reason
    except Exception as exc:  # noqa: BLE001
        out["opsin"] = str(exc)
    try:
        from chemnamer.reference import get_reference_table, get_rule_namer

        get_reference_table().lookup("BSYNRYMUTXBXSQ-UHFFFAOYSA-N")
        out["rule_based"] = get_rule_namer().start()
    except Exception as exc:  # noqa: BLE001
        out["reference"] = str(exc)
    return out


def list_model_specs() -> list:
    from chemnamer.model import loading

    return loading.list_models()


# --- batch ----------------------------------------------------------------------------------------

def batch_columns(path: str) -> tuple[list[str], str | None]:
    """(the file's columns, the one holding the structures or None when the user must pick it). Reads
    the header and a 64 KB sample: fast enough for the GUI thread. InputError for an unusable file."""
    from chemnamer import batchio

    try:
        source = batchio.open_input(path)
    except batchio.MissingColumn as exc:
        return exc.columns, None
    return list(source.columns), source.column


def batch_name(state, namer, path: str, chunk_size: int = 8, column: str | None = None,
               mode: str | None = None) -> dict:
    """Name every record of a CSV/TSV/SMI/SDF file (`column`: the CSV/TSV column with the structures;
    `mode`: model, best or guided, default the Namer's). Events: 'start' {columns, column, total, path,
    source}, 'rows' [BatchRow]."""
    from chemnamer import batchio
    from chemnamer.batch import name_records
    from chemnamer.naming import BATCH_BEAMS

    source = batchio.open_input(path, column)
    total = source.count() or 0
    state.emit("start", {"columns": list(source.columns), "column": source.column, "total": total,
                         "path": str(path), "source": source})
    t0, n = time.perf_counter(), 0
    for rows in name_records(namer, source, chunk_size, BATCH_BEAMS, mode, check=state.check):
        state.emit("rows", rows)
        n += len(rows)
        _batch_progress(state, n, total, time.perf_counter() - t0)
    _batch_progress(state, n, total, time.perf_counter() - t0, force=True)
    return {"rows": n, "seconds": time.perf_counter() - t0, "path": str(path)}


def _batch_progress(state, n: int, total: int, elapsed: float, force: bool = False) -> None:
    if total:
        eta = elapsed / max(n, 1) * max(0, total - n)
        state.progress(min(1.0, n / total), f"{n} of {total} · {format_duration(eta)} left", force=force)
    else:
        state.progress(None, f"{n} named", force=force)


def export_batch_csv(state, rows: list[BatchRow], columns: list[str], path: str, source=None) -> int:
    """The `chemnamer batch` CSV layout (same columns, the input's delimiter and encoding kept as the CLI
    keeps them: batchio.output_dialect), so files from the GUI and the CLI match."""
    from chemnamer import batchio

    dialect = batchio.output_dialect(source, path) if source is not None else {}
    writer = batchio.CsvWriter(path, batchio.output_columns(columns), append=False, **dialect)
    try:
        writer.write(r.output_row(columns) for r in rows)
    finally:
        writer.close()
    return len(rows)


def export_batch_sdf(state, rows: list[BatchRow], columns: list[str], path: str) -> int:
    """An SD file: one record per named molecule, the name (and its checks) as SD fields."""
    from rdkit import Chem

    written = 0
    writer = Chem.SDWriter(str(path))
    try:
        for r in rows:
            res = r.result
            if res is None or not res.smiles:
                continue
            mol = Chem.MolFromSmiles(res.smiles)
            if mol is None:
                continue
            mol.SetProp("_Name", res.name or r.extra.get("title", "") or "")
            props = {"IUPAC_NAME": res.name, "NAME_VERIFIED": res.verified, "NAME_SCORE": res.score,
                     "NAME_SOURCE": res.chosen_from, "MODEL": res.model, "SMILES": res.smiles,
                     "INCHIKEY": res.inchikey, "REFERENCE_PUBCHEM": res.reference.pubchem,
                     "REFERENCE_RULE_BASED": res.reference.rule_based}
            for c in columns:
                props.setdefault(c if c.upper() not in props else f"input_{c}", r.extra.get(c))
            for k, v in props.items():
                if v is not None and v != "":
                    mol.SetProp(k, _sd_text(v))
            writer.write(mol)
            written += 1
    finally:
        writer.close()
    return written


def _sd_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.5g}"
    return " ".join(str(v).splitlines())


# --- history --------------------------------------------------------------------------------------

HISTORY_EXPORT_COLUMNS = ["id", "created_at", "input", "smiles", "inchikey", "name", "verified", "score",
                          "chosen_from", "model_id", "reference_pubchem", "reference_rule_based", "error"]


def history_page(state, filters: dict, order_by: str, descending: bool, limit: int):
    """(total, first page, ms) for the history table."""
    from chemnamer.store import history

    t0 = time.perf_counter()
    total = history.count_history(**filters)
    rows = history.query_history(limit=limit, offset=0, order_by=order_by, descending=descending, **filters)
    return total, rows, (time.perf_counter() - t0) * 1000


def export_history(state, path: str, filters: dict, order_by: str = "created_at", descending: bool = True,
                   page: int = 2000) -> int:
    """Every history row that matches `filters` (query_history's keywords) into a CSV file."""
    from chemnamer.batchio import cell
    from chemnamer.store import history

    total = history.count_history(**filters)
    n = 0
    tmp = Path(str(path) + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HISTORY_EXPORT_COLUMNS)
        while True:
            state.check()
            rows = history.query_history(limit=page, offset=n, order_by=order_by, descending=descending, **filters)
            for rec in rows:
                w.writerow([cell(rec.get(c).isoformat() if isinstance(rec.get(c), datetime) else rec.get(c))
                            for c in HISTORY_EXPORT_COLUMNS])
            n += len(rows)
            state.progress(n / total if total else None, f"{n} of {total}")
            if len(rows) < page:
                break
    os.replace(tmp, path)
    return n


# --- training data (wizard) -----------------------------------------------------------------------

def file_preview(state, path: str, n: int = 8) -> tuple[list[str], list[list[str]]]:
    from chemnamer.data.userfile import preview

    return preview(path, n)


def data_counts(state, config: dict) -> dict:
    """Build (or read from the cache) the splits a data config gives; counts and a few examples.

    The splits are cached by the config's hash, so the training run that follows starts at once."""
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import config_from_dict

    cfg = config_from_dict({"data": config}).data
    t0 = time.perf_counter()
    train, valid, test, report = build_splits(cfg)
    sample = [(p.source, p.target, p.extra) for p in train[:12]]  # extra: the other input columns
    return {"sizes": report.get("sizes", {}), "filters": report.get("filters", {}),
            "sources": report.get("sources", {}), "sample": sample, "seconds": time.perf_counter() - t0}


def format_preview(pairs: list[tuple], instruction: str, marker: str, inversion: float,
                   seed: int = 0) -> list:
    """The formatted training examples (prompt, response, inverted) for a handful of pairs, each
    (source, target) or (source, target, extra inputs). An input a pair lacks shows as "<name>": the
    page says which inputs exist; the preview only shows the layout."""
    from chemnamer.data.formatting import Template, format_pairs
    from chemnamer.data.records import Pair

    template = Template(instruction, marker)
    template = Template(instruction, marker, {f: f"<{f}>" for f in template.fields})
    return format_pairs([Pair(p[0], p[1], extra=dict(p[2]) if len(p) > 2 else {}) for p in pairs], template,
                        inversion, seed=seed)


# --- runs -----------------------------------------------------------------------------------------

def runs_overview(state=None) -> list[dict]:
    from chemnamer.store import runs

    runs.mark_interrupted()
    out = []
    for r in runs.list_runs():
        r = dict(r)
        r["last_step"] = None
        out.append(r)
    last = runs.last_steps() if out else {}
    for r in out:
        r["last_step"], r["elapsed_s"] = last.get(r["id"], (None, None))
    return out


def run_curves(state, run_ids: list[int]) -> dict:
    """Loss per step and metrics per evaluation for each run."""
    from chemnamer.store import runs

    out = {}
    for rid in run_ids:
        steps = runs.run_steps(rid)
        out[rid] = {"steps": [(s["step"], s["loss"], s["epoch"]) for s in steps if s["loss"] is not None],
                    "metrics": [(m["epoch"], m["step"], m["split"], m["decoding"], m["metrics"] or {})
                                for m in runs.run_metrics(rid)]}
    return out


def resume_request(run: dict, threads: int | None = None) -> dict:
    """The training request that continues `run` from its latest checkpoint in its output folder."""
    config = {k: v for k, v in (run.get("config") or {}).items() if not k.startswith("_")}
    out_dir = run.get("output_dir")
    if not out_dir or not Path(out_dir).is_dir():
        raise FileNotFoundError(f"run {run['id']}: its folder {out_dir!r} is gone; it cannot be resumed")
    from chemnamer.finetune.trainer import latest_checkpoint

    if latest_checkpoint(Path(out_dir)) is None:
        raise FileNotFoundError(f"run {run['id']}: no checkpoint in {out_dir} to resume from")
    return {"config": config, "output_dir": out_dir, "resume": True, "threads": threads}


# --- formatting helpers (plain text) --------------------------------------------------------------

def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
