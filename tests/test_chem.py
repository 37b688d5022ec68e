"""chem.py on hand-checked molecules: parsing, canonical form, InChIKey, errors, depiction."""
import subprocess
import sys

import pytest

from chemnamer.chem import (
    MAX_HEAVY_ATOMS,
    ChemError,
    Molecule,
    depict_png,
    depict_svg,
    descriptors,
    inchikey_of_smiles,
    looks_like_smiles,
    parse_smiles,
)
from chemnamer.inputs import parse_input


def _opsin_missing():
    from chemnamer.opsin import get_opsin

    return not get_opsin().available()


needs_opsin = pytest.mark.skipif("_opsin_missing()", reason="OPSIN/Java unavailable")

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ASPIRIN_KEY = "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
L_ALANINE = "C[C@@H](C(=O)O)N"
L_ALANINE_KEY = "QNAYBMKLOCPYGJ-REOHCLBHSA-N"


def test_aspirin():
    m = parse_smiles("  " + ASPIRIN + "\n")
    assert isinstance(m, Molecule)
    assert m.input == ASPIRIN
    assert m.smiles == "CC(=O)Oc1ccccc1C(=O)O"
    assert m.inchikey == ASPIRIN_KEY
    assert (m.formula, m.heavy_atoms, m.fragments, m.source) == ("C9H8O4", 13, 1, "smiles")


def test_canonical_form_is_input_independent():
    kekule = parse_smiles("OC(=O)C1=CC=CC=C1OC(C)=O")
    assert kekule.smiles == parse_smiles(ASPIRIN).smiles
    assert kekule.inchikey == ASPIRIN_KEY


def test_salt_keeps_both_fragments():
    m = parse_smiles("[Na+].CC([O-])=O")
    assert m.fragments == 2
    assert sorted(m.smiles.split(".")) == ["CC(=O)[O-]", "[Na+]"]
    assert m.inchikey == "VMHLLURERBWHNL-UHFFFAOYSA-M"
    assert m.formula == "C2H3NaO2"


def test_stereo_kept():
    ala = parse_smiles(L_ALANINE)
    assert "@" in ala.smiles and ala.inchikey == L_ALANINE_KEY
    d_ala = parse_smiles("C[C@H](C(=O)O)N")
    assert d_ala.inchikey != ala.inchikey and d_ala.inchikey[:14] == ala.inchikey[:14]
    trans = parse_smiles("C/C=C/C")
    cis = parse_smiles("C/C=C\\C")
    assert trans.smiles == "C/C=C/C" and cis.smiles == "C/C=C\\C"
    assert trans.inchikey == "IAQRGUVFOMOMEM-ONEGZZNKSA-N"
    assert cis.inchikey == "IAQRGUVFOMOMEM-ARJAWSKDSA-N"


@pytest.mark.parametrize("text, expected", [
    ("", "empty input"),
    ("   \n", "empty input"),
    ("C1CC", "invalid SMILES: unclosed ring"),
    ("CC(C", "invalid SMILES: extra open parentheses at position 3"),
    ("c1cccc1", "invalid SMILES: Can't kekulize mol"),
    ("CN(C)(C)(C)C", "invalid SMILES: Explicit valence for atom # 1 N"),
    ("[Xx]CC", "unknown element 'Xx'"),
    ("CCO ethanol", "invalid SMILES: contains whitespace"),
    ("C" * 212, f"too large: 212 heavy atoms (limit {MAX_HEAVY_ATOMS})"),
    ("C" * (1 << 20), "input too long: 1048576 characters (limit 2000)"),
])
def test_errors_are_values_with_clear_messages(text, expected):
    result = parse_smiles(text)
    assert isinstance(result, ChemError)
    assert result.message.startswith(expected), result.message


def test_no_rdkit_noise_on_stderr():
    # RDKit logs from C++ straight to fd 2, so only a separate process can observe it.
    code = ("from chemnamer.chem import parse_smiles, depict_svg\n"
            "for s in ['C1CC', 'c1cccc1', '[Xx]', 'CN(C)(C)(C)C', 'C[C@H]', 'CC(C']:\n"
            "    parse_smiles(s)\n"
            "depict_svg('C[C@@H](F)Cl')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_looks_like_smiles():
    assert looks_like_smiles(ASPIRIN)
    assert looks_like_smiles("[Na+].[Cl-]")
    assert not looks_like_smiles("acetic acid")
    assert not looks_like_smiles("n-methylacetamide")
    assert not looks_like_smiles("C1CC")
    assert not looks_like_smiles("")


def test_inchikey_of_smiles():
    assert inchikey_of_smiles(ASPIRIN) == ASPIRIN_KEY
    assert inchikey_of_smiles("C1CC") is None
    assert inchikey_of_smiles("") is None


@needs_opsin
def test_parse_input_smiles_and_name():
    assert parse_input(ASPIRIN).source == "smiles"
    by_name = parse_input("2-acetyloxybenzoic acid")
    assert isinstance(by_name, Molecule), by_name
    assert by_name.source == "name" and by_name.inchikey == ASPIRIN_KEY
    assert by_name.smiles == parse_smiles(ASPIRIN).smiles
    salt = parse_input("sodium acetate")
    assert salt.fragments == 2 and salt.source == "name"
    # PubChem-style lowercase names, as in our data
    assert parse_input("(2s)-2-aminopropanoic acid").inchikey == L_ALANINE_KEY
    assert parse_input("9-ethyl-9h-purin-6-amine").inchikey == "MUIPLRMGAXZWSQ-UHFFFAOYSA-N"


@needs_opsin
def test_parse_input_neither():
    err = parse_input("2-acetyloxybenzoic acd")
    assert isinstance(err, ChemError)
    assert err.message.startswith("neither a valid SMILES") and "acd" in err.message
    # Not name-like: the SMILES error alone, OPSIN is not consulted.
    assert parse_input("C1CC").message == "invalid SMILES: unclosed ring"
    assert parse_input("[Xx]").message == "unknown element 'Xx'"
    assert parse_input("").message == "empty input"


def test_depict_svg_png():
    svg = depict_svg(parse_smiles(ASPIRIN), 300, 200)
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg and "width='300px'" in svg
    png = depict_png(ASPIRIN, 300, 200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert "</svg>" in depict_svg("CC(=O)[O-].[Na+]")  # several fragments
    assert "</svg>" in depict_svg(parse_smiles(ASPIRIN).mol)  # a plain RDKit Mol
    with pytest.raises(ValueError, match="unclosed ring"):
        depict_svg("C1CC")


def test_depiction_shows_cip_labels():
    assert "CIP_Code" in depict_svg(L_ALANINE)  # (S)
    assert "CIP_Code" in depict_svg("C/C=C/C")  # (E)
    assert "CIP_Code" not in depict_svg("CCO")


def test_descriptors():
    d = descriptors(parse_smiles("c1ccccc1-c1ccncc1.CC(=O)[O-].[Na+]"))
    assert d["elements"] == {"C", "H", "N", "O", "Na"}
    assert d["phenyl_rings"] == 1  # the pyridine is aromatic but not a benzene ring
    assert d["aromatic_rings"] == 2 and d["rings"] == 2
    asp = descriptors(ASPIRIN)
    assert asp["mw"] == pytest.approx(180.159, abs=0.01)
    assert asp["fsp3"] == pytest.approx(1 / 9)
    assert descriptors("ClCl")["elements"] == {"Cl"}  # no hydrogen at all
    cyclohexane = descriptors("C1CCCCC1")
    assert (cyclohexane["phenyl_rings"], cyclohexane["rings"], cyclohexane["fsp3"]) == (0, 1, 1.0)


# --- structure identity (chem.compare): pure RDKit, both sides written by hand ---------------------

@pytest.mark.parametrize("want, got, kind", [
    # the same molecule written differently: the same standardization on both sides makes them equal
    ("O=C1C=CC=CN1", "O=c1cccc[nH]1", "same"),
    ("O=N(=O)c1ccccc1", "[O-][N+](=O)c1ccccc1", "same"),  # nitro: pentavalent N vs charge-separated
    ("C[S+](C)[O-]", "CS(C)=O", "same"),  # sulfoxide
    ("CC(=O)O[Na]", "CC(=O)[O-].[Na+]", "same"),  # bond to a metal vs ions
    ("[H]OC([H])([H])C", "CCO", "same"),  # explicit hydrogens
    # mobile H (InChI merges these) and keto/enol (InChI does not; RDKit's tautomer rules do)
    ("O=C1C=CC=CN1", "Oc1ccccn1", "tautomer"),
    ("O=c1cc[nH]c(=O)[nH]1", "Oc1ccnc(O)n1", "tautomer"),
    ("CC(=O)CC(C)=O", "CC(O)=CC(C)=O", "tautomer"),
    # stereo: left open by the name, or different
    ("C[C@H](N)C(=O)O", "CC(N)C(=O)O", "stereo_unspecified"),
    ("C[C@@H](O)[C@H](N)C(=O)O", "CC(O)[C@H](N)C(=O)O", "stereo_unspecified"),
    ("C/C=C/C", "CC=CC", "stereo_unspecified"),
    ("C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "other_stereo"),
    ("C[C@@H](O)[C@H](N)C(=O)O", "C[C@H](O)[C@H](N)C(=O)O", "other_stereo"),  # one of two centres
    ("C[C@@H](O)[C@H](N)C(=O)O", "C[C@H](O)C(N)C(=O)O", "other_stereo"),  # less, and what it says is wrong
    ("O[C@H]1CC[C@H](O)CC1", "O[C@H]1CC[C@@H](O)CC1", "other_stereo"),  # trans vs cis: relative stereo
    ("C/C=C/C", "C/C=C\\C", "other_stereo"),
    ("CC(N)C(=O)O", "C[C@H](N)C(=O)O", "other_stereo"),  # the name is more specific than the input
    # constitution
    ("CC(C)O", "CCCO", "constitution"),
    ("CC(=O)[O-]", "CC(=O)O", "constitution"),  # protonation
    ("CCO", "[2H]CCO", "constitution"),  # isotopes
    ("CCO", "CCCO", "constitution"),
])
def test_compare_kinds(want, got, kind):
    from chemnamer.chem import compare, identity

    diff = compare(identity(want), identity(got))
    assert diff.kind == kind, diff


def test_compare_reasons_say_what_differs():
    from chemnamer.chem import compare, identity

    assert compare(identity("O=C1C=CC=CN1"), identity("Oc1ccccn1")).reason == \
        "the name denotes another tautomer (Oc1ccccn1)"
    assert compare(identity("CC(=O)[O-]"), identity("CC(=O)O")).reason == \
        "the name denotes another protonation state (C2H4O2, not C2H3O2-)"
    assert compare(identity("C[C@@H](O)[C@H](N)C(=O)O"), identity("CC(O)[C@H](N)C(=O)O")).reason == \
        "the name leaves stereo unspecified (1 of 2 stereo elements)"
    assert compare(identity("CC(N)C(=O)O"), identity("C[C@H](N)C(=O)O")).reason == \
        "the name specifies stereo that the structure leaves open"


def test_identity_forms():
    from chemnamer.chem import identity

    ala = identity("N[C@@H](C)C(=O)O")
    assert (ala.smiles, ala.flat, ala.formula, ala.stereo) == ("C[C@H](N)C(=O)O", "CC(N)C(=O)O", "C3H7NO2", 1)
    assert ala.inchikey == L_ALANINE_KEY
    assert identity("trans-diol").message.startswith("invalid SMILES")  # errors are values here too


def test_compare_stereo_with_too_many_open_elements_says_so():
    """Past MAX_STEREO_ISOMERS the isomers a name leaves open are not enumerated (time bound)."""
    from rdkit import Chem

    from chemnamer.chem import MAX_STEREO_ISOMERS, compare, identity

    polyol = "C" + "[C@H](O)" * 10 + "C"  # 10 stereocentres, all given
    want = identity(polyol)
    mol = Chem.MolFromSmiles(polyol)
    for atom in list(mol.GetAtoms())[3:]:  # keep the first centre, open the other 9: 512 isomers
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    got = identity(Chem.MolToSmiles(mol))
    assert (want.stereo, got.stereo) == (10, 1) and 2 ** 9 > MAX_STEREO_ISOMERS
    assert compare(want, got).reason == \
        "the name's stereo differs from the structure's (too many open stereo elements to say how)"
    few = Chem.MolFromSmiles(polyol)
    for atom in list(few.GetAtoms())[15:]:  # open the last 3 of 10: 8 isomers, enumerated
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    assert compare(want, identity(Chem.MolToSmiles(few))).kind == "stereo_unspecified"
