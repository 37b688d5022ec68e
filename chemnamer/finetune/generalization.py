"""Generalization report: a model scored on the sets of chemnamer.data.evalsets, each with n and a
standard error and by heavy-atom bin (issue 14's bins; the PubChem sets' bins show how exact match
against PubChem's names holds up on drug-sized molecules, which the MOSES set has no names for).

Scoring is the app's `--mode model` choice: beams, then the first candidate that OPSIN verifies
against the input structure (strict: tautomers and stereo count), else the top one. A guided model
(a template with {rule}) gets each molecule's verified rule-based draft, computed once per InChIKey
and cached; molecules without a verified draft are counted as misses for the rewrite and reported.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from chemnamer import metrics, paths
from chemnamer.data.records import Pair


def standard_error(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n else 0.0


def _drafts_path() -> Path:
    return paths.cache_dir() / "evalsets" / "rule-drafts.json"


def ensure_drafts(pairs: list[Pair], timeout_s: float = 5.0) -> list[Pair]:
    """Pairs with extra["rule"] = the first verified rule-based name (openclatura, then nispo), or
    without it when neither verifies. Cached by InChIKey across runs."""
    from chemnamer.naming import first_verified_rule_name

    path = _drafts_path()
    cache: dict = json.loads(path.read_text()) if path.is_file() else {}
    out, dirty = [], False
    for p in pairs:
        if "rule" in p.extra:
            out.append(p)
            continue
        key = p.inchikey or p.source
        if key not in cache:
            draft = first_verified_rule_name(p.source, timeout_s)
            cache[key] = draft.name if draft.verified else None
            dirty = True
        out.append(Pair(p.source, p.target, p.inchikey, p.origin,
                        {**p.extra, "rule": cache[key]} if cache[key] else dict(p.extra)))
    if dirty:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(path)
    return out


def _prompt_inputs(gen, p: Pair, forms: int = 1) -> list:
    """The pair as naming hands it to the model: mode guided takes the SMILES as typed, mode model
    as the model's training forms ask (chem.smiles_forms: Kekulé form for a PubChem-SMILES model; up
    to `forms` SMILES forms, pooled, for a model trained on every form)."""
    if "rule" in gen.template.fields:
        return [gen.template.inputs(p)]
    from chemnamer.chem import parse_smiles, smiles_forms

    if forms == 1:
        return smiles_forms(p.source, p.source, gen.input_forms)
    # the canonical SMILES beside the typed one, as naming passes them (it seeds the random forms)
    parsed = parse_smiles(p.source)
    return smiles_forms(p.source, getattr(parsed, "smiles", p.source), gen.input_forms, forms)


def _bin_of(p: Pair) -> str | None:
    """The pair's heavy-atom bin: the set's own, else counted from its SMILES (None if it does not parse)."""
    if p.extra.get("bin"):
        return p.extra["bin"]
    from chemnamer.chem import Molecule, parse_smiles
    from chemnamer.data.evalsets import size_bin

    parsed = parse_smiles(p.source)
    return size_bin(parsed.heavy_atoms) if isinstance(parsed, Molecule) else None


def score_set(gen, pairs: list[Pair], beams: int = 4, batch_size: int = 8, forms: int = 1,
              items: list | None = None) -> dict:
    """Verified-first naming of each pair; exact match (any case) when a reference exists. `forms`:
    SMILES forms of each molecule whose candidates are pooled, as `Namer(forms=...)` names. `items`,
    when given, receives one dict per molecule (SMILES, reference, chosen name, verdicts, bin)."""
    from chemnamer.opsin import get_opsin

    opsin = get_opsin()
    guided = "rule" in gen.template.fields
    t0 = time.perf_counter()
    rows = []
    runnable = [p for p in pairs if not guided or "rule" in p.extra]
    chosen: dict[int, tuple[str, bool]] = {}
    for i in range(0, len(runnable), batch_size):
        chunk = runnable[i:i + batch_size]
        cands = gen.generate_pooled([_prompt_inputs(gen, p, forms) for p in chunk], beams=beams, num_return=beams)
        for p, cs in zip(chunk, cands):
            pick, ok = (cs[0].name if cs else ""), False
            for c in cs:
                if opsin.check(c.name, p.source).verified:
                    pick, ok = c.name, True
                    break
            chosen[id(p)] = (pick, ok)
    for p in pairs:
        name, ok = chosen.get(id(p), ("", False))
        rows.append({"name": name, "structure_correct": ok, "bin": _bin_of(p),
                     "exact": bool(p.target) and metrics.exact(name, p.target, case_sensitive=False),
                     "has_reference": bool(p.target), "drafted": "rule" in p.extra})
        if items is not None:
            items.append({"smiles": p.source, "reference": p.target, **rows[-1]})
    return {**_summary(rows), "seconds": round(time.perf_counter() - t0, 1),
            **({"without_draft": sum(not r["drafted"] for r in rows)} if guided else {})}


def _summary(rows: list[dict]) -> dict:
    n = len(rows)
    sc = sum(r["structure_correct"] for r in rows) / n if n else 0.0
    out = {"n": n, "structure_correct": round(sc, 4), "structure_correct_se": round(standard_error(sc, n), 4)}
    with_ref = [r for r in rows if r["has_reference"]]
    if with_ref:
        em = sum(r["exact"] for r in with_ref) / len(with_ref)
        out.update(exact_match_ci=round(em, 4), exact_match_ci_se=round(standard_error(em, len(with_ref)), 4))
    bins = sorted({r["bin"] for r in rows if r["bin"]})
    if bins:
        from chemnamer.data.evalsets import SIZE_BINS

        order = [label for label, _, _ in SIZE_BINS]
        out["by_bin"] = {b: _summary([{**r, "bin": None} for r in rows if r["bin"] == b])
                         for b in sorted(bins, key=order.index)}
    return out


def summary_text(r: dict) -> str:
    """One set's summary in words: "n=1000  structure-correct 34.0 % ± 1.5  exact match 20.1 % ± 1.3"."""
    text = f"n={r['n']:5d}  structure-correct {100 * r['structure_correct']:5.1f} % ± {100 * r['structure_correct_se']:.1f}"
    if "exact_match_ci" in r:
        text += f"  exact match {100 * r['exact_match_ci']:5.1f} % ± {100 * r['exact_match_ci_se']:.1f}"
    if "without_draft" in r:
        text += f"  (no verified draft: {r['without_draft']})"
    return text


def report_lines(sets: dict, indent: str = "") -> list[str]:
    """A report's sets as lines, the drug-like set's size bins indented under it."""
    lines = []
    for name, r in sets.items():
        lines.append(f"{indent}{name:12s} {summary_text(r)}")
        lines += report_lines({f"atoms {b}": sub for b, sub in r.get("by_bin", {}).items()}, indent + "  ")
    return lines
