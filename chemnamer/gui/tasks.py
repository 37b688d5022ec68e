"""Task functions behind the Name view and the app's start-up: plain Python, no Qt.

Each one takes a `TaskState` first (see chemnamer.gui.concurrent) and calls the library; they shape
results into plain dataclasses the widgets render, and the chemistry and ML live in the library
modules they call. Each other view has its own: batch_tasks, history_tasks, runs_tasks, wizard_tasks.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
        from chemnamer.reference import get_reference_table
        from chemnamer.rulebased import get_rule_namer

        get_reference_table().lookup("BSYNRYMUTXBXSQ-UHFFFAOYSA-N")
        out["rule_based"] = get_rule_namer().start()
    except Exception as exc:  # noqa: BLE001
        out["reference"] = str(exc)
    return out


def prepare_guided(state, namer) -> str | None:
    """Mode guided names with the guided model and drafts from both rule-based namers: load the model
    and start the namers' workers now (nispo's takes 2-17 s to start) rather than at the first naming.
    Returns why the guided model is unavailable, if it is."""
    from chemnamer.rulebased import NAMERS, get_rule_namer

    namer.load_guided()
    for rule_namer in NAMERS:
        get_rule_namer(rule_namer).start()
    return namer.guided_error


def list_model_specs() -> list:
    from chemnamer.model import loading

    return loading.list_models()


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
