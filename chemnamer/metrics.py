"""Name-quality metrics: exact match, normalized Levenshtein similarity, BLEU, OPSIN structure checks.

BLEU is computed by sacrebleu on characters: IUPAC names have no spaces, so word-level BLEU would
collapse into exact match. All rates are fractions in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein


def exact(pred: str, ref: str, case_sensitive: bool = True) -> bool:
    pred, ref = pred.strip(), ref.strip()
    return pred == ref if case_sensitive else pred.lower() == ref.lower()


def levenshtein_similarity(pred: str, ref: str) -> float:
    """1 - edit distance / length of the longer string (1.0 = identical)."""
    return Levenshtein.normalized_similarity(pred.strip(), ref.strip())


def bleu(preds: list[str], refs: list[str]) -> float:
    import sacrebleu

    if not preds:
        return 0.0
    return sacrebleu.corpus_bleu([p.strip() for p in preds], [[r.strip() for r in refs]], tokenize="char").score / 100


@dataclass
class Scored:
    pred: str
    ref: str
    source: str = ""
    inchikey: str = ""
    parsable: bool | None = None
    structure_match: bool | None = None


def summarize(items: list[Scored]) -> dict:
    n = len(items)
    if not n:
        return {"n": 0}
    out = {
        "n": n,
        "exact_match": sum(exact(i.pred, i.ref) for i in items) / n,
        "exact_match_ci": sum(exact(i.pred, i.ref, False) for i in items) / n,
        "levenshtein": sum(levenshtein_similarity(i.pred, i.ref) for i in items) / n,
        "bleu": bleu([i.pred for i in items], [i.ref for i in items]),
    }
    checked = [i for i in items if i.parsable is not None]
    if checked:
        out["opsin_parsable"] = sum(bool(i.parsable) for i in checked) / len(checked)
        out["structure_match"] = sum(bool(i.structure_match) for i in checked) / len(checked)
    return out


def check_structures(items: list[Scored]) -> list[Scored]:
    """Fill parsable/structure_match with OPSIN; leaves them None when OPSIN is unavailable."""
    from chemnamer import chem
    from chemnamer.opsin import get_opsin

    opsin = get_opsin()
    if not opsin.available():
        return items
    for i in items:
        if not i.pred:
            i.parsable = i.structure_match = False
            continue
        if i.inchikey:
            # Against the structure when the source is one (tautomer and stereo count, as for a check
            # mark), else against the InChIKey. Both accept OPSIN's re-cased reading of lowercase
            # locants ("n,n-dimethyl...").
            structure = chem.identity(i.source) if i.source else None
            v = opsin.check(i.pred, i.source) if isinstance(structure, chem.Identity) else \
                opsin.verify(i.pred, i.inchikey)
            i.structure_match = bool(v.verified)
            i.parsable = bool(v.verified or v.smiles)
        else:
            i.parsable = bool(opsin.name_to_structure(i.pred).inchikey)
            i.structure_match = False
    return items
