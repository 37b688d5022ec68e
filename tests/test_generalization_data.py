"""Data for generalization and guided naming: old-style conversion, SMILES augmentation, two-input
templates, rule-based drafts of PubChem rows, evaluation sets. Real RDKit, OPSIN and PubChem rows."""
import random

import pytest
from rdkit import Chem

from chemnamer.data.augment import augment_pairs, variants
from chemnamer.data.formatting import Template, format_pairs
from chemnamer.data.oldstyle import convert, convert_verified
from chemnamer.data.records import Pair



@pytest.mark.parametrize("old, new", [
    ("4-chloranyl-1-(4-chloranylphenoxy)-2-nitro-benzene", "4-chloro-1-(4-chlorophenoxy)-2-nitrobenzene"),
    ("5-chloranyl-2,4-bis(oxidanyl)benzoic acid", "5-chloro-2,4-dihydroxybenzoic acid"),
    ("2-methyl-4-oxidanyl-benzaldehyde", "4-hydroxy-2-methylbenzaldehyde"),  # hydroxy now sorts first
    ("2-chloranyl-n-(2,2,6,6-tetramethyl-1-oxidanyl-piperidin-4-yl)ethanamide",
     "2-chloro-n-(1-hydroxy-2,2,6,6-tetramethylpiperidin-4-yl)acetamide"),  # re-sorted inside brackets
    ("3-oxidanylidenebutyl ethanoate", "3-oxobutyl acetate"),
    ("1-(4-bromophenyl)-2,2,2-tris(fluoranyl)ethanone", "1-(4-bromophenyl)-2,2,2-trifluoroethanone"),
    ("azanylidynemethane", "azanylidynemethane"),  # not a substituent word: left for OPSIN to judge
    ("2-methylpropan-1-ol", "2-methylpropan-1-ol"),  # current style: untouched
])
def test_convert(old, new):
    assert convert(old) == new


def test_conversion_round_trips_on_real_rows(opsin):
    """Every kept conversion denotes the row's own structure; most old-style rows are recovered."""
    from chemnamer.data.case import is_old_style
    from chemnamer.data.pubchem import COL_INCHIKEY, COL_IUPAC, COL_SMILES, TABLES, identifiers_dir

    rows = []
    with (identifiers_dir() / TABLES["large"]).open(encoding="utf-8") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > COL_IUPAC and is_old_style(cols[COL_IUPAC]) and ";" not in cols[COL_IUPAC]:
                rows.append(cols)
    sample = random.Random(0).sample(rows, 150)
    kept = 0
    for cols in sample:
        c = convert_verified(cols[COL_IUPAC], cols[COL_SMILES], opsin)
        assert not is_old_style(c.converted) or "idyne" in c.converted or "idyl" in c.converted
        if c.verified:
            kept += 1
            key = Chem.MolToInchiKey(Chem.MolFromSmiles(opsin.name_to_structure(c.converted).smiles))
            assert key == cols[COL_INCHIKEY].strip().upper()
    assert kept >= 0.85 * len(sample), kept  # single-component rows: 96 % measured


@pytest.mark.parametrize("smiles", ["Oc1ccc(Cl)cc1Br", "CN1CCC(CC1)Oc1ccccc1", "C[C@H](N)C(=O)O",
                                    "O=C1C=CC=CN1", "c1ccc2[nH]ccc2c1"])
def test_augmentation_keeps_the_molecule(smiles):
    key = Chem.MolToInchiKey(Chem.MolFromSmiles(smiles))
    forms = variants(smiles, 12, seed=3)
    assert len(set(forms)) >= 3  # really different strings
    for s in forms:
        assert Chem.MolToInchiKey(Chem.MolFromSmiles(s)) == key, s
    pairs = augment_pairs([Pair(smiles, "x", key)] * 20, seed=1)
    assert pairs == augment_pairs([Pair(smiles, "x", key)] * 20, seed=1)  # seeded
    assert all(Chem.MolToInchiKey(Chem.MolFromSmiles(p.source)) == key for p in pairs)
    assert all(p.extra["smiles"] == smiles for p in pairs if p.source != smiles)


def test_two_input_template():
    t = Template("SMILES: {source}\nRule: {rule}", "\n{task}: ", {"task": "IUPAC"})
    assert t.fields == ("rule", "task")
    named = Pair("CCO", "ethanol", extra={"rule": "ethan-1-ol"})
    copy = Pair("CCO", "ethan-1-ol", extra={"rule": "ethan-1-ol", "task": "Copy"})
    examples = format_pairs([named, copy], t)
    assert examples[0].prompt == "SMILES: CCO\nRule: ethan-1-ol\nIUPAC: " and examples[0].response == "ethanol"
    assert examples[1].prompt == "SMILES: CCO\nRule: ethan-1-ol\nCopy: "
    with pytest.raises(KeyError, match="rule"):
        t.prompt("CCO")
    # a value holding a placeholder is text, not a field
    assert t.prompt({"source": "{rule}", "rule": "x"}) == "SMILES: {rule}\nRule: x\nIUPAC: "
    assert Template.from_dict(t.to_dict()) == t
    plain = Template("SMILES: {source}", "\nIUPAC: ")
    assert plain.fields == () and plain.inputs(named) == "CCO"


def test_drafts_join_pubchem_rows(tmp_path, monkeypatch, opsin):
    """A small rules build over the PubChem table: drafts verified, joined back to their rows."""
    pytest.importorskip("openclatura")
    from chemnamer.data import zinc
    from chemnamer.data.guided import attach_drafts, cached_drafts
    from chemnamer.data.pubchem import PubChemOptions, pubchem_pairs

    monkeypatch.setenv("CHEMNAMER_CACHE", str(tmp_path))
    report = zinc.build_zinc(8, workers=1, chunk_size=12, progress=False, source="pubchem")
    assert "error" not in report, report
    drafts = cached_drafts()
    assert len(drafts) == report["pairs"] >= 8
    rows = [p for p, _ in zip(pubchem_pairs(PubChemOptions(drop_old_style=False)), range(12))]
    info: dict = {}
    joined = attach_drafts(rows, drafts, info)
    assert info["with_draft"] == len(joined) and info["with_draft"] + info.get("no_draft", 0) == len(rows)
    for p in joined:
        assert opsin.verify(p.extra["rule"], p.inchikey).verified


def test_druglike_set_is_fixed_and_binned():
    from chemnamer.data.evalsets import SIZE_BINS, druglike, size_bin

    try:
        a = druglike(40, seed=0)
    except Exception as exc:  # molsets missing
        pytest.skip(str(exc))
    assert a == druglike(40, seed=0) and len(a) == 40
    for p in a:
        assert p.extra["bin"] == size_bin(Chem.MolFromSmiles(p.source).GetNumHeavyAtoms())
    assert {label for label, _, _ in SIZE_BINS} >= {p.extra["bin"] for p in a}
    assert [size_bin(n) for n in (15, 16, 25, 26, 40, 41)] == ["<=15", "16-25", "16-25", "26-40", "26-40", ">40"]


def test_common_set_names_everyday_molecules_as_pubchem_does(opsin):
    from chemnamer.data.evalsets import COMMON_SMILES, common

    pairs = common()
    assert len(pairs) == len(COMMON_SMILES)  # every everyday molecule is in PubChem's table
    assert {p.target for p in pairs} >= {"ethanol", "benzene", "propan-2-one", "cyclohexanol"}
    for p in pairs:  # each reference name is the molecule's own (OPSIN reads it back to it)
        assert opsin.check(p.target, p.source).verified, (p.source, p.target)


def test_druglike_validation_sample_shares_no_molecule_with_the_test_sample():
    from chemnamer.data.evalsets import DRUGLIKE_TEST_N, druglike, druglike_valid

    try:
        test = {p.inchikey for p in druglike(DRUGLIKE_TEST_N, seed=0)}
    except Exception as exc:  # molsets missing
        pytest.skip(str(exc))
    valid = druglike_valid(300)
    assert len(valid) >= 290 and valid == druglike_valid(300)
    assert not test & {p.inchikey for p in valid}
    with pytest.raises(ValueError):
        druglike_valid(10, seed=0)


def test_rule_style_counts_verified_names_that_are_openclaturas():
    """training/rule_style.py: of the structure-correct names only, how many are openclatura's own name
    (real openclatura); an unverified name is not counted, a different verified name is an example."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("openclatura")
    from chemnamer.rulebased import rule_based_name

    path = Path(__file__).resolve().parents[1] / "training" / "rule_style.py"
    spec = importlib.util.spec_from_file_location("rule_style", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    own = rule_based_name("Oc1ccc(Cl)cc1Br").name
    assert own
    items = [{"smiles": "Oc1ccc(Cl)cc1Br", "name": own.upper(), "structure_correct": True},
             {"smiles": "CCO", "name": "ethyl alcohol", "structure_correct": True},
             {"smiles": "CCC", "name": "propane", "structure_correct": False}]
    report = module.rule_style(items)
    assert (report["molecules"], report["structure_correct"], report["same_as_openclatura"]) == (3, 2, 1)
    assert report["share"] == 0.5 and [e["model"] for e in report["examples_that_differ"]] == ["ethyl alcohol"]
