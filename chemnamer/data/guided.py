"""Training pairs for guided naming: each PubChem row with its verified rule-based draft.

The guided model reads `SMILES + rule-based name` and writes PubChem's name. Drafts are openclatura's
names for the PubChem table's rows, computed once and cached by `chemnamer data build --source
pubchem-rules` (kept only where OPSIN reads them back to the row's structure), joined here by the
row's origin ("pubchem:large:<line>").

Copy examples teach faithful copying of long drafts: drug-like ZINC molecules whose target is the
draft itself, under their own task tag ("Copy"), so copying is learned while the PubChem style is
learned from the PubChem rows only (the probe without them paraphrased long drafts: 1.5 %
structure-correct on drug-like molecules).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from chemnamer.data.records import Pair
from chemnamer.data.zinc import ZincError, cached_zinc_pairs

COPY_TASK = "Copy"


def cached_drafts() -> dict[str, str]:
    """origin → verified rule-based name, for every PubChem row the rules cache holds."""
    return {p.origin: p.target for p in cached_zinc_pairs(source="pubchem")}  # ZincError names the build


def attach_drafts(pairs: Iterable[Pair], drafts: dict[str, str], report: dict) -> list[Pair]:
    """Pairs with extra["rule"] set; pairs without a verified draft are dropped and counted."""
    out = []
    for p in pairs:
        draft = drafts.get(p.origin)
        if draft is None:
            report["no_draft"] = report.get("no_draft", 0) + 1
            continue
        out.append(replace(p, extra={**p.extra, "rule": draft}))
    report["with_draft"] = report.get("with_draft", 0) + len(out)
    return out


def copy_examples(n: int, exclude: set[str] = frozenset()) -> list[Pair]:
    """The first n cached ZINC pairs (MOSES train rows come first) as draft → same draft examples.

    Molecules whose InChIKey skeleton is in `exclude` (validation/test molecules) are skipped."""
    out = []
    for p in cached_zinc_pairs():
        if p.inchikey.split("-")[0] in exclude:
            continue
        out.append(replace(p, extra={"rule": p.target, "task": COPY_TASK}))
        if len(out) >= n:
            break
    if len(out) < n:
        raise ZincError(f"{len(out)} ZINC pairs are built, {n} copy examples asked: run "
                        f"`chemnamer data build --source zinc --pairs {n}`")
    return out
