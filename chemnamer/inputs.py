"""What the user types -> a Molecule: a SMILES by RDKit (chem), else a name by OPSIN.

Above both chem and opsin (OPSIN's check of a name uses chem), so neither imports the other's caller.
"""
from __future__ import annotations

from typing import Any

from chemnamer import chem
from chemnamer.chem import ChemError, Molecule


def parse_input(text: str, opsin: Any = None) -> Molecule | ChemError:
    """SMILES first; otherwise, if it reads like a name, OPSIN gives the structure (source='name').

    `opsin` defaults to the process-wide `chemnamer.opsin.get_opsin()`.
    """
    checked = chem.precheck(text)
    if isinstance(checked, ChemError):
        return checked
    as_smiles = chem.parse_smiles(checked)
    if isinstance(as_smiles, Molecule) or not chem.looks_like_name(checked):
        return as_smiles
    if as_smiles.message.startswith("too large"):
        return as_smiles
    if opsin is None:
        from chemnamer.opsin import get_opsin  # late: OPSIN starts a JVM, only names need it

        opsin = get_opsin()
    smiles_problem = as_smiles.message.removeprefix("invalid SMILES: ")
    if not opsin.available():
        return ChemError(f"not a valid SMILES ({smiles_problem}); reading it as a name needs OPSIN: "
                         f"{opsin.unavailable_reason}")
    parsed = opsin.name_to_structure(checked)
    if parsed.smiles is None:
        return ChemError(f"neither a valid SMILES ({smiles_problem}) nor a name OPSIN can read "
                         f"({parsed.error})")
    return chem.molecule_from_name(checked, parsed.smiles)
