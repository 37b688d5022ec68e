"""SMILES augmentation: the same molecule written in another valid form.

Measured on the shipped default (issue 14): PubChem's Kekulé SMILES 30.8 % structure-correct, the same
molecules as RDKit aromatic SMILES 14.2 %; a model that only ever saw one form reads the others worse.
Training pairs therefore show each molecule in a form drawn from: the source as given, RDKit's
canonical aromatic and Kekulé forms, and randomized atom orders of both (seeded, reproducible). The data
build draws the first epoch's forms (`augment_pairs`); training draws each later epoch's anew
(`epoch_forms`), so a molecule is seen under a different SMILES each epoch.
"""
from __future__ import annotations

import random
from dataclasses import replace
from typing import Iterable

from rdkit import Chem, RDLogger

from chemnamer.chem import write_smiles
from chemnamer.data.records import Pair

RDLogger.DisableLog("rdApp.*")
FORMS = ("as_given", "aromatic", "kekule", "random_aromatic", "random_kekule")


def smiles_form(mol: Chem.Mol, form: str, rng: random.Random) -> str | None:
    """`mol` written in one of FORMS (None for "as_given"; chem.write_smiles writes the others)."""
    if form == "as_given":
        return None
    return write_smiles(mol, form, rng)


def variants(smiles: str, n: int, seed: int = 0) -> list[str]:
    """n valid SMILES of the molecule (for tests and inspection), each parsing to the same structure."""
    mol = Chem.MolFromSmiles(smiles)
    rng = random.Random(seed)
    return [smiles_form(mol, FORMS[1 + i % (len(FORMS) - 1)], rng) for i in range(n)]


def augment_pairs(pairs: Iterable[Pair], seed: int = 0) -> list[Pair]:
    """Each pair's SMILES source replaced by a form drawn uniformly from FORMS (the original kept in
    extra["smiles"]). Pairs whose source RDKit cannot read are kept as they are."""
    rng = random.Random(seed)
    out = []
    for p in pairs:
        form = rng.choice(FORMS)
        mol = Chem.MolFromSmiles(p.source)
        written = smiles_form(mol, form, rng) if mol is not None else None
        out.append(replace(p, source=written, extra={**p.extra, "smiles": p.source}) if written else p)
    return out


def epoch_forms(pairs: list[Pair], seed: int, epoch: int) -> list[Pair]:
    """The augmented training pairs as epoch `epoch` shows them: epoch 0 is the data build's draw,
    each later epoch draws every molecule's form again from its original SMILES, seeded by (seed,
    epoch) alone, so a resumed run sees the same forms as an uninterrupted one."""
    if epoch == 0:
        return list(pairs)
    originals = [replace(p, source=p.extra["smiles"]) if "smiles" in p.extra else p for p in pairs]
    return augment_pairs(originals, seed * 1_000_003 + epoch)
