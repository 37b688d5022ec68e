"""Evaluation sets that measure generalization, not memory of the training distribution.

* `aromatic`, `randomized`: a split's molecules rewritten as RDKit aromatic SMILES / randomized SMILES
  (the shipped default scored half on aromatic input of what it scored on PubChem's Kekulé form);
* `oldstyle`: molecules whose PubChem name was old-style and is converted (chemnamer.data.oldstyle),
  from a held-out split (their skeletons are in no training row);
* `druglike`: a fixed sample of the MOSES test split (ZINC drug-like molecules, no reference name:
  structure-correct means OPSIN reads the generated name back to the input), reported by size bin.
"""
from __future__ import annotations

import gzip
import random
from dataclasses import replace

from rdkit import Chem, RDLogger

from chemnamer.data.records import Pair

RDLogger.DisableLog("rdApp.*")
GENERALIZATION_SETS = ("aromatic", "randomized", "oldstyle", "druglike")
# Heavy-atom bins of issue 14: small, typical, large drug-like, very large.
SIZE_BINS = (("<=15", 0, 15), ("16-25", 16, 25), ("26-40", 26, 40), (">40", 41, 10 ** 6))


def size_bin(heavy_atoms: int) -> str:
    for label, lo, hi in SIZE_BINS:
        if lo <= heavy_atoms <= hi:
            return label
    return SIZE_BINS[-1][0]


def rewritten(pairs: list[Pair], form: str, seed: int = 0) -> list[Pair]:
    """The pairs with their SMILES written as `form` ("aromatic" or "randomized"); unreadable kept."""
    from chemnamer.data.augment import smiles_form

    rng = random.Random(seed)
    out = []
    for p in pairs:
        mol = Chem.MolFromSmiles(p.source)
        if mol is None:
            out.append(p)
            continue
        chosen = "aromatic" if form == "aromatic" else rng.choice(("random_aromatic", "random_kekule"))
        out.append(replace(p, source=smiles_form(mol, chosen, rng) or p.source))
    return out


def druglike(n: int = 1000, seed: int = 0) -> list[Pair]:
    """n molecules drawn (seeded) from MOSES' test split; target empty, extra: heavy_atoms, bin."""
    from chemnamer.data.zinc import HELD_OUT, moses_files

    test_file = next(f for f in moses_files() if f.name == HELD_OUT)
    with gzip.open(test_file, "rt", encoding="utf-8") as fh:
        fh.readline()
        smiles = [line.strip() for line in fh if line.strip()]
    rng = random.Random(seed)
    out = []
    for s in rng.sample(smiles, min(len(smiles), 3 * n)):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            continue
        heavy = mol.GetNumHeavyAtoms()
        out.append(Pair(s, "", Chem.MolToInchiKey(mol), f"moses:test:{s}",
                        {"heavy_atoms": heavy, "bin": size_bin(heavy)}))
        if len(out) >= n:
            break
    return out


def oldstyle(split: list[Pair]) -> list[Pair]:
    """The rows of a held-out split whose PubChem name was old-style and is now converted.

    Take it from the test split of a recipe with `convert_old_style` (training/recipes/guided.toml):
    the split is by InChIKey skeleton, so no skeleton of this set is in that recipe's training rows,
    and the default model (old-style rows dropped, same hash order) never trained on them either."""
    from chemnamer.data.case import is_old_style

    return [p for p in split if is_old_style(p.extra.get("pubchem_name", ""))]
