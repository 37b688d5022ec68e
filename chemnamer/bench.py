"""Inference benchmark: cold start, single-molecule latency (greedy; beams + verification; guided),
batch throughput, per heavy-atom size bin, with the machine's load and where the time goes.

Two molecule sets:
  * "pubchem" (today's): the default recipe's held-out test split, the molecules the accuracy is
    measured on (mostly small: half have at most 15 heavy atoms);
  * "druglike": a fixed, seeded sample of MOSES test molecules (ZINC clean leads, shipped in the
    `molsets` package) drawn per size bin; MOSES holds no molecule over 40 heavy atoms (MW 250-350),
    so that bin stays empty there and the pubchem set covers it.
Nothing here asserts a target: it prints numbers. On a shared machine wall time depends on the other
work; the load average is recorded beside each figure, with the CPU time the naming itself used.
"""
from __future__ import annotations

import gzip
import os
import random
import statistics
import subprocess
import sys
import time

SIZE_BINS = (("<=15", 0, 15), ("16-25", 16, 25), ("26-40", 26, 40), (">40", 41, 10**9))
SETS = ("pubchem", "druglike")
STAGES = ("parse", "generate", "verify", "reference", "rule_based", "rule_based_wait")
PHASES = ("greedy", "beam", "gui", "guided", "batch", "guided_batch")
DRUGLIKE_SCAN = 20_000  # MOSES lines read (seeded order) to fill the bins: ~135 at <=15, ~370 at 26-40


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def size_bin(heavy_atoms: int) -> str:
    return next(label for label, lo, hi in SIZE_BINS if lo <= heavy_atoms <= hi)


def _heavy_atoms(smiles: str) -> int | None:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    return mol.GetNumHeavyAtoms() if mol is not None else None


def bench_smiles(n: int) -> list[str]:
    """Today's set: the first n molecules of the default recipe's test split."""
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe
    from chemnamer.paths import REPO_ROOT

    recipe = REPO_ROOT / "training" / "recipes" / "default.toml"
    cfg = load_recipe(recipe if recipe.is_file() else None)
    _, _, test, _ = build_splits(cfg.data)
    return [p.source for p in test[:n]]


def druglike_smiles(per_bin: int, seed: int = 0, scan: int = DRUGLIKE_SCAN) -> dict[str, list[str]]:
    """Up to `per_bin` MOSES test molecules per size bin: the file's lines in a seeded order, the
    first `scan` of them, each kept while its bin has room. Fixed for a given seed."""
    from chemnamer.data.zinc import HELD_OUT, moses_files

    path = next(p for p in moses_files() if p.name == HELD_OUT)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        fh.readline()  # header
        lines = [line.strip() for line in fh if line.strip()]
    random.Random(seed).shuffle(lines)
    bins: dict[str, list[str]] = {label: [] for label, _, _ in SIZE_BINS}
    for smiles in lines[:scan]:
        heavy = _heavy_atoms(smiles)
        if heavy is not None and len(bins[size_bin(heavy)]) < per_bin:
            bins[size_bin(heavy)].append(smiles)
        if all(len(v) >= per_bin for v in bins.values()):
            break
    return bins


def pubchem_by_bin(n: int) -> dict[str, list[str]]:
    bins: dict[str, list[str]] = {label: [] for label, _, _ in SIZE_BINS}
    for smiles in bench_smiles(n):
        heavy = _heavy_atoms(smiles)
        if heavy is not None:
            bins[size_bin(heavy)].append(smiles)
    return bins


def cold_start_s(model_id: str | None, smiles: str) -> float:
    """A fresh process: import, load the model, start OPSIN, name one molecule (caches already warm)."""
    code = ("import time,sys; t=time.perf_counter(); from chemnamer.naming import Namer; "
            f"n=Namer({model_id!r}, beams=1, references=False, rule_based=False, store=False); "
            f"r=n.name({smiles!r}); print(time.perf_counter()-t)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return wall


class _Clock:
    """Wall and process-CPU time of a block, and the stage times (NamingResult.ms) of its results."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpus: list[float] = []
        self.stages = {s: 0.0 for s in STAGES}
        self.molecules = 0

    def run(self, fn, *args):
        t0, c0 = time.perf_counter(), time.process_time()
        results = fn(*args)
        self.wall.append((time.perf_counter() - t0) * 1000)
        self.cpus.append((time.process_time() - c0) * 1000)
        for r in results:
            self.molecules += 1
            for s in STAGES:
                self.stages[s] += r.ms.get(s, 0.0)
        return results

    def summary(self, prefix: str) -> dict:
        n = max(self.molecules, 1)
        out = {f"{prefix}_p50_ms": statistics.median(self.wall) if self.wall else float("nan"),
               f"{prefix}_p95_ms": percentile(self.wall, 0.95),
               f"{prefix}_cpu_ms_per_mol": sum(self.cpus) / n,
               f"{prefix}_cpu_p95_ms": percentile(self.cpus, 0.95),
               f"{prefix}_stages_ms_per_mol": {s: round(v / n, 1) for s, v in self.stages.items() if v}}
        return out


def _forget(namer) -> None:
    """Each phase meets the molecules as new: OPSIN's parse cache would otherwise serve the batch
    phase the names the beam phase already checked (verify 3 ms instead of ~90 ms per molecule), and
    the Namer's session cache the rule-based drafts."""
    from chemnamer.opsin import get_opsin

    clear = getattr(get_opsin().name_to_structure, "cache_clear", None)
    if clear:
        clear()
    namer.forget()


def _measure(namer, smiles: list[str], beams: int, batch_beams: int, batch_size: int, extra: set) -> dict:
    from chemnamer.naming import BATCH_FORMS

    clocks = {k: _Clock() for k in PHASES}
    _forget(namer)
    for s in smiles:
        clocks["greedy"].run(lambda x: [namer.name(x, beams=1, forms=1)], s)  # one form, one beam
    _forget(namer)
    for s in smiles:
        clocks["beam"].run(lambda x: [namer.name(x, beams=beams)], s)  # OPSIN checks every candidate
    # From here on as the app and `chemnamer batch` name: with the PubChem and rule-based references.
    namer.references = namer.rule_based = True
    try:
        if "gui" in extra:  # one molecule at a time, the GUI's beams
            _forget(namer)
            for s in smiles:
                clocks["gui"].run(lambda x: [namer.name(x, beams=beams)], s)
        if "guided" in extra:  # at the guided mode's own beam width (naming.GUIDED_BEAMS)
            _forget(namer)
            for s in smiles:
                clocks["guided"].run(lambda x: [namer.name(x, mode="guided")], s)
        _forget(namer)
        for i in range(0, len(smiles), batch_size):
            clocks["batch"].run(lambda xs: namer.name_many(xs, beams=batch_beams, forms=BATCH_FORMS),
                                 smiles[i:i + batch_size])
        if "guided" in extra:
            _forget(namer)
            for i in range(0, len(smiles), batch_size):
                clocks["guided_batch"].run(lambda xs: namer.name_many(xs, mode="guided"), smiles[i:i + batch_size])
    finally:
        namer.references = namer.rule_based = False
    return clocks


def _figures(clocks: dict, extra: set) -> dict:
    out = {"n": clocks["greedy"].molecules, **clocks["greedy"].summary("greedy"), **clocks["beam"].summary("beam")}
    for phase in ("gui", "guided"):
        if phase in extra:
            out.update(clocks[phase].summary(phase))
    batch = clocks["batch"]
    batch_s = sum(batch.wall) / 1000
    out.update({"batch_mol_per_s": batch.molecules / batch_s if batch_s else float("nan"),
                "batch_cpu_ms_per_mol": sum(batch.cpus) / max(batch.molecules, 1),
                "batch_stages_ms_per_mol": batch.summary("b")["b_stages_ms_per_mol"]})
    if "guided" in extra:
        gb = clocks["guided_batch"]
        gb_s = sum(gb.wall) / 1000
        out.update({"guided_batch_mol_per_s": gb.molecules / gb_s if gb_s else float("nan"),
                    "guided_batch_stages_ms_per_mol": gb.summary("b")["b_stages_ms_per_mol"]})
    return out


def _merge(parts: list[dict]) -> dict:
    merged = {k: _Clock() for k in parts[0]}
    for part in parts:
        for k, c in part.items():
            m = merged[k]
            m.wall += c.wall
            m.cpus += c.cpus
            m.molecules += c.molecules
            for s in STAGES:
                m.stages[s] += c.stages[s]
    return merged


def run(model_id: str | None = None, n: int = 100, beams: int | None = None, batch_size: int = 16,
        device: str | None = None, molecule_set: str = "pubchem", limit: int | None = None,
        batch_beams: int | None = None, guided: bool = False, cold_start: bool = True, seed: int = 0,
        threads: int | None = None, gui: bool = False) -> dict:
    """n: molecules of the pubchem set (binned after); limit: molecules per size bin (druglike: 20
    unless given; pubchem: all n). gui: also time naming as the GUI does (beams, verification, PubChem
    and rule-based references); guided: also time guided mode.
    threads: torch threads, by default the GUI's (all cores but one): on this 2-core machine at load
    ~9.5, greedy naming of the druglike sample took p50 9.1 s with 2 threads against 0.7 s with 1
    (threads spinning against the background work)."""
    import torch

    from chemnamer.naming import BATCH_BEAMS, BATCH_FORMS, NAME_BEAMS, Namer

    if molecule_set not in SETS:
        raise ValueError(f"molecule set must be one of {SETS}")
    beams = beams or NAME_BEAMS
    batch_beams = batch_beams or BATCH_BEAMS
    if molecule_set == "druglike":
        bins = druglike_smiles(limit or 20, seed)
    else:
        bins = {k: v[:limit] if limit else v for k, v in pubchem_by_bin(n).items()}
    every = [s for v in bins.values() for s in v]
    if not every:
        raise RuntimeError("no molecules to measure")
    load_start = os.getloadavg()
    result = {"model": model_id or "default", "set": molecule_set, "n": len(every), "beams": beams,
              "batch_beams": batch_beams, "batch_forms": BATCH_FORMS,
              "batch_size": batch_size, "cpus": os.cpu_count(),
              "load_avg_start": [round(x, 2) for x in load_start]}
    if molecule_set == "druglike":
        result["sample"] = {"source": "molsets MOSES test.csv.gz", "seed": seed, "lines_scanned_at_most": DRUGLIKE_SCAN}
    if cold_start:
        result["cold_start_s"] = cold_start_s(model_id, every[0])

    namer = Namer(model_id, device=device, beams=beams, references=False, rule_based=False, store=False)
    namer.load()
    if namer.model_error:
        raise RuntimeError(namer.model_error)
    if guided and hasattr(namer, "load_guided"):
        namer.load_guided()
        guided = getattr(namer, "guided_error", None) is None
        if not guided:
            result["guided_unavailable"] = namer.guided_error
    elif guided:
        guided, result["guided_unavailable"] = False, "this Namer has no guided mode"
    extra = {p for p, on in (("gui", gui), ("guided", guided)) if on}
    result["device"] = namer.device_label
    result["forms"] = namer.model_forms  # what single-molecule naming reads (one for a Kekulé-trained model)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) - 1))
    result["threads"] = torch.get_num_threads()
    try:
        namer.name(every[0], beams=1)  # warm-up: first-call allocations, JVM start
        result["bins"], measured = {}, []
        for label, smiles in bins.items():
            if smiles:
                measured.append(_measure(namer, smiles, beams, batch_beams, batch_size, extra))
                result["bins"][label] = _figures(measured[-1], extra)
            else:
                result["bins"][label] = {"n": 0}
    finally:
        torch.set_num_threads(before)
    result["all"] = _figures(_merge(measured), extra)  # batches stay within a bin: grouped by size
    for key in ("greedy_p50_ms", "greedy_p95_ms", "beam_p50_ms", "beam_p95_ms", "batch_mol_per_s"):
        result[key] = result["all"][key]  # the headline figures, as before
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return _rounded(result)


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
