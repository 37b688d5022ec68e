"""Leak-free splits: by InChIKey skeleton (stereoisomers stay together) or by Murcko scaffold."""
from __future__ import annotations

import hashlib
from collections import defaultdict

from chemnamer.data.records import Pair


def _rank(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def group_key(pair: Pair, how: str) -> str:
    if how == "scaffold":
        from rdkit import Chem
        from rdkit.Chem.Scaffolds import MurckoScaffold

        mol = Chem.MolFromSmiles(pair.source)
        if mol is not None:
            try:
                return "scaffold:" + MurckoScaffold.MurckoScaffoldSmiles(mol=mol)
            except Exception:  # RDKit raises on some odd valences; such molecules form their own group
                pass
    # The first InChIKey block encodes the skeleton: stereoisomers share it, so none leaks across splits.
    return (pair.inchikey or pair.source).split("-")[0]


def split_pairs(pairs: list[Pair], n_valid: int, n_test: int, seed: int = 0, how: str = "inchikey"):
    """Deterministic split: groups ordered by a seeded hash; test first, then valid, the rest train."""
    groups: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        groups[group_key(p, how)].append(p)
    order = sorted(groups, key=lambda k: _rank(k, seed))
    test, valid, train = [], [], []
    for key in order:
        members = groups[key]
        if len(test) < n_test:
            test.extend(members)
        elif len(valid) < n_valid:
            valid.extend(members)
        else:
            train.extend(members)
    # Training order: shuffled by the same seed, independent of the input file's order.
    train.sort(key=lambda p: _rank(p.inchikey or p.source, seed + 1))
    return train, valid, test
