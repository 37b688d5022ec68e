"""Evaluation sets that measure generalization, not memory of the training distribution.

* `aromatic`, `randomized`: a split's molecules rewritten as RDKit aromatic SMILES / randomized SMILES
  (the shipped default scored half on aromatic input of what it scored on PubChem's Kekulé form);
* `oldstyle`: molecules whose PubChem name was old-style and is converted (chemnamer.data.oldstyle),
  from a held-out split (their skeletons are in no training row);
* `druglike`: a fixed sample of the MOSES test split (ZINC drug-like molecules, no reference name:
  structure-correct means OPSIN reads the generated name back to the input), reported by size bin;
* `common`: everyday molecules a chemist names first (solvents, reagents, simple aromatics, drugs),
  with PubChem's name from the reference table. Many are in a no-size-bound recipe's training rows:
  this set asks whether they come out right, not whether the model generalizes.
"""
from __future__ import annotations

import gzip
import random
from dataclasses import replace

from rdkit import Chem, RDLogger

from chemnamer.data.records import Pair

RDLogger.DisableLog("rdApp.*")
GENERALIZATION_SETS = ("aromatic", "randomized", "oldstyle", "druglike", "common")
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


DRUGLIKE_TEST_N = 1000  # the test sample (seed 0) every model's card reports


def druglike_valid(n: int = 500, seed: int = 1) -> list[Pair]:
    """A drug-like validation sample: `druglike(n, seed)` less any molecule of the test sample
    (`druglike(DRUGLIKE_TEST_N, seed=0)`; ~0.1 % of a draw), so checkpoints and recipes are chosen on
    molecules the reported drug-like figure never sees."""
    if seed == 0:
        raise ValueError("seed 0 draws the drug-like test sample")
    held = {p.inchikey for p in druglike(DRUGLIKE_TEST_N, seed=0)}
    return [p for p in druglike(n, seed=seed) if p.inchikey not in held]


def oldstyle(split: list[Pair]) -> list[Pair]:
    """The rows of a held-out split whose PubChem name was old-style and is now converted.

    Take it from the test split of a recipe with `convert_old_style` (training/recipes/guided.toml):
    the split is by InChIKey skeleton, so no skeleton of this set is in that recipe's training rows,
    and the default model (old-style rows dropped, same hash order) never trained on them either."""
    from chemnamer.data.case import is_old_style

    return [p for p in split if is_old_style(p.extra.get("pubchem_name", ""))]


# Everyday molecules, as a chemist would type them (RDKit's aromatic SMILES); the names come from
# PubChem's table. The shipped default named benzene "cyclooctalene" and ethanol "ethynoxyethanol".
COMMON_SMILES = (
    "C", "CC", "CCC", "CCCCCC", "C1CCCCC1", "C=C", "C#C", "CO", "CCO", "CC(C)O", "OCCO", "OCC(O)CO",
    "OC1CCCCC1", "C=O", "CC=O", "CC(C)=O", "O=C1CCCCC1", "OC=O", "CC(=O)O", "OC(=O)C(=O)O", "OC(=O)CCC(=O)O",
    "CC(O)C(=O)O", "C=CC(=O)O", "OC(=O)CC(O)(CC(=O)O)C(=O)O", "CCOC(C)=O", "CC(=O)OC(C)=O", "CCOCC",
    "C1CCOC1", "CS(C)=O", "CN(C)C=O", "CC#N", "ClCCl", "ClC(Cl)Cl", "NC(N)=O", "CC(N)=O", "CCN", "CCN(CC)CC",
    "C1CCNCC1", "C1COCCN1", "NCC(=O)O", "c1ccccc1", "Cc1ccccc1", "Cc1ccccc1C", "C=Cc1ccccc1", "Oc1ccccc1",
    "COc1ccccc1", "OCc1ccccc1", "O=Cc1ccccc1", "Nc1ccccc1", "Clc1ccccc1", "[O-][N+](=O)c1ccccc1",
    "OC(=O)c1ccccc1", "Oc1ccc(O)cc1", "c1ccc2ccccc2c1", "c1ccncc1", "c1ccoc1", "c1ccsc1", "c1cc[nH]c1",
    "c1c[nH]cn1", "c1ccc2[nH]ccc2c1", "CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Nc1ccc(O)cc1",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
)


def common(table=None) -> list[Pair]:
    """COMMON_SMILES with PubChem's name (an old-style one in current style when OPSIN confirms the
    conversion, as the app shows it); a molecule the table lacks is left out."""
    from chemnamer.data.case import is_old_style
    from chemnamer.data.oldstyle import convert_verified
    from chemnamer.reference import get_reference_table

    table = table or get_reference_table()
    out = []
    for s in COMMON_SMILES:
        mol = Chem.MolFromSmiles(s)
        key = Chem.MolToInchiKey(mol)
        rec = table.lookup(key)
        if rec is None or not rec.iupac_name:
            continue
        name = rec.iupac_name
        if is_old_style(name):
            conv = convert_verified(name, s)
            name = conv.converted if conv.verified else name
        out.append(Pair(s, name, key, f"common:{rec.common_name or name}",
                        {"heavy_atoms": mol.GetNumHeavyAtoms()}))
    return out
