"""Namer on the tiny random model: real RDKit, OPSIN, reference table, rule-based worker and SQLite.

The tiny model's names are junk, which is what these tests want: nothing it says may verify.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chemnamer.naming import Namer
from chemnamer.opsin import JAVA_MISSING
from chemnamer.store import history

pytestmark = pytest.mark.usefixtures("one_thread")

ASPIRIN, ASPIRIN_KEY = "CC(=O)Oc1ccccc1C(=O)O", "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
CONTRACT = {"input", "smiles", "inchikey", "name", "verified", "score", "candidates", "reference", "model", "ms"}


@pytest.fixture(scope="module")
def namer(tiny_dir):
    return Namer(str(tiny_dir), beams=3)


def test_result_fields_candidates_and_history(namer, tiny_dir, home):
    r = namer.name(ASPIRIN)
    assert r.error is None
    assert (r.source, r.smiles, r.inchikey, r.formula) == ("smiles", ASPIRIN, ASPIRIN_KEY, "C9H8O4")
    assert 1 <= len(r.candidates) <= 3
    scores = [c.score for c in r.candidates]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    # Junk names: OPSIN checked each one and said no, with its reason.
    assert all(c.verified is False and c.reason for c in r.candidates)
    assert (r.name, r.verified, r.score, r.chosen_from) == (r.candidates[0].name, False, scores[0], "model")
    assert r.reference.pubchem == "2-acetyloxybenzoic acid" and r.reference.pubchem_verified is True
    assert r.reference.rule_based and r.reference.rule_based_verified is True
    assert {"parse", "generate", "verify", "reference", "rule_based", "total"} <= set(r.ms)
    assert (r.model, r.device) == (str(tiny_dir), "cpu")
    j = json.loads(json.dumps(r.to_json()))
    assert CONTRACT <= set(j) and {"pubchem", "rule_based"} <= set(j["reference"])
    assert all({"name", "score", "verified"} <= set(c) for c in j["candidates"])
    row = history.get_naming(r.id)
    assert (row["inchikey"], row["name"], row["model_id"], row["verified"]) == (ASPIRIN_KEY, r.name, r.model, False)
    assert len(row["candidates"]) == len(r.candidates)


def test_mode_best_falls_back_to_verified_reference(namer):
    r = namer.name(ASPIRIN, mode="best")
    assert (r.name, r.verified, r.score, r.chosen_from) == ("2-acetyloxybenzoic acid", True, None, "pubchem")
    assert "no candidate verified" in r.note and "PubChem reference" in r.note
    assert r.candidates and not any(c.verified for c in r.candidates)  # still shown, still unverified
    # Not in the PubChem table: the rule-based name (verified by OPSIN) is chosen instead.
    r = namer.name_many(["CCCCCCCCCCCCCCCCCCCCC(CC)CCO"], beams=1, mode="best", store=False)[0]
    assert r.reference.pubchem is None
    assert (r.name, r.verified, r.chosen_from) == ("3-ethyltricosan-1-ol", True, "rule_based")
    assert "rule-based reference" in r.note


def test_reference_names_are_checked_against_the_drawn_tautomer(namer):
    """PubChem files 2-hydroxypyridine and 2-pyridone under one standard InChIKey and one name,
    "1H-pyridin-2-one": a check mark only for the tautomer that name denotes."""
    pyridone, hydroxypyridine = namer.name_many(["O=C1C=CC=CN1", "Oc1ccccn1"], beams=1, mode="best", store=False)
    assert pyridone.inchikey == hydroxypyridine.inchikey
    assert pyridone.reference.pubchem == hydroxypyridine.reference.pubchem == "1H-pyridin-2-one"
    assert (pyridone.name, pyridone.verified, pyridone.chosen_from) == ("1H-pyridin-2-one", True, "pubchem")
    assert hydroxypyridine.reference.pubchem_verified is False
    # mode best falls back to the rule-based name, which is for the drawn tautomer
    assert hydroxypyridine.reference.rule_based_verified is True
    assert (hydroxypyridine.verified, hydroxypyridine.chosen_from) == (True, "rule_based")
    assert hydroxypyridine.name == hydroxypyridine.reference.rule_based != "1H-pyridin-2-one"
    # the junk candidates carry the kind of their failure
    assert {c.kind for c in pyridone.candidates} <= {"unparsable", "constitution"}


@pytest.mark.parametrize("text, message", [
    ("C1CC", "invalid SMILES: unclosed ring"),
    ("", "empty input"),
    ("C" * 1_000_000, "input too long: 1000000 characters"),
    ("[Xx]", "unknown element 'Xx'"),
    ("C" * 151, "too large: 151 heavy atoms (limit 150)"),
])
def test_invalid_input_is_an_error_value(namer, text, message):
    r = namer.name(text)
    assert r.error is not None and message in r.error
    assert r.name is None and r.candidates == [] and "generate" not in r.ms  # stopped before the model
    assert history.get_naming(r.id)["error"] == r.error  # failures are in the history too


def test_name_input_goes_through_opsin(namer):
    r = namer.name_many(["2-acetyloxybenzoic acid"], beams=1, store=False)[0]
    assert (r.source, r.smiles, r.inchikey) == ("name", ASPIRIN, ASPIRIN_KEY)


def test_missing_model_dir_names_with_references(tmp_path):
    r = Namer(str(tmp_path / "gone"), store=False).name("CCO", mode="best")
    assert r.error is None and r.candidates == []
    assert r.note.startswith(f"model unavailable (model directory {tmp_path / 'gone'} does not exist)")
    assert (r.name, r.verified, r.chosen_from) == ("ethanol", True, "pubchem")
    (tmp_path / "empty").mkdir()
    r = Namer(str(tmp_path / "empty"), store=False).name("CCO")  # mode model: no fallback name
    assert "is not a model directory" in r.note and r.name is None and r.reference.pubchem == "ethanol"


def test_default_model_missing_is_a_clear_note(tmp_path, monkeypatch):
    monkeypatch.setenv("CHEMNAMER_DEFAULT_MODEL", str(tmp_path / "gone"))
    r = Namer(store=False, references=False).name("CCO")
    assert r.model == "default" and r.error is None and r.candidates == [] and r.name is None
    assert r.note == (f"model unavailable (the shipped model 'default' is not installed (no {tmp_path / 'gone'}): "
                      f"use 'smollm2-135m' or a trained model); reference names only")


def test_without_java_verification_is_null_with_reason(tiny_dir, tmp_path):
    """JPype starts one JVM per process: "no Java" needs a child process with Java off PATH."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(PATH=str(empty), OMP_NUM_THREADS="1", CHEMNAMER_HOME=str(tmp_path / "home"))
    code = ("import json, sys\nfrom chemnamer.naming import Namer\n"
            f"r = Namer({str(tiny_dir)!r}, beams=2, references=False, store=False).name({ASPIRIN!r}, mode='best')\n"
            "print(json.dumps(r.to_json()))\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.splitlines()[-1])
    assert r["error"] is None and r["candidates"]
    assert all(c["verified"] is None and c["reason"] == JAVA_MISSING for c in r["candidates"])
    assert r["verified"] is None and r["chosen_from"] == "model"  # nothing verified: nothing to fall back to


def test_the_same_molecule_twice_is_named_once(tiny_dir):
    """The session keeps results by what the model receives: aspirin typed another way (both
    aromatic, so the same Kekulé form goes to the model) is the first result, with no generation,
    verification or rule-based work; a Kekulé SMILES, which goes to the model as typed, is new."""
    namer = Namer(str(tiny_dir), beams=2, store=False, references=False)
    first = namer.name(ASPIRIN)
    again = namer.name("OC(=O)c1ccccc1OC(C)=O")
    assert "generate" in first.ms and set(again.ms) == {"parse", "cached", "total"}
    assert (again.input, again.smiles, again.name, again.candidates) == (
        "OC(=O)c1ccccc1OC(C)=O", first.smiles, first.name, first.candidates)
    assert "generate" in namer.name("OC(=O)C1=CC=CC=C1OC(C)=O").ms  # what the model sees differs
    assert again.reference is not first.reference  # a copy: changing one result leaves the other
    assert "generate" in namer.name(ASPIRIN, beams=1).ms  # another beam width is another result
    namer.forget()
    assert "generate" in namer.name(ASPIRIN).ms


# Aspirin in every SMILES form a user pastes: RDKit's aromatic canonical, randomized atom orders
# (aromatic and Kekulé), PubChem's Kekulé form, explicit hydrogens, ChemDraw's style.
ASPIRIN_FORMS = ["CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1OC(C)=O", "c1cc(OC(C)=O)c(C(O)=O)cc1",
                 "CC(=O)OC1=CC=CC=C1C(=O)O", "C1=CC(=C(C=C1)OC(C)=O)C(O)=O", "[H]OC(=O)c1ccccc1OC(=O)C([H])([H])[H]",
                 "CC(OC1=C(C=CC=C1)C(O)=O)=O"]


@pytest.mark.parametrize("input_forms", ["any", "kekule"])
def test_naming_accepts_every_smiles_form_and_feeds_it_as_the_model_learned(tiny_dir, tmp_path, input_forms):
    """A model trained on every SMILES form (chemnamer.json "input_forms": "any", augmented training)
    receives the SMILES as typed; one trained on PubChem's SMILES receives each in Kekulé form."""
    import shutil

    from rdkit import Chem

    model = tmp_path / "model"
    shutil.copytree(tiny_dir, model)
    (model / "chemnamer.json").write_text(json.dumps({"input_forms": input_forms}))
    # one form: what the model reads first (the forms pooled beside it: the test after this one)
    namer = Namer(str(model), beams=1, store=False, references=False, forms=1)
    namer.load()
    seen: list[str] = []
    real_generate = namer._generator.generate
    namer._generator.generate = lambda sources, **kw: seen.extend(sources) or real_generate(sources, **kw)
    results = [namer.name(s) for s in ASPIRIN_FORMS]
    assert all(r.error is None and r.inchikey == ASPIRIN_KEY and r.candidates for r in results)
    if input_forms == "any":
        assert seen == ASPIRIN_FORMS
    else:
        assert seen and not any(ch in s for s in seen for ch in "cno")  # no aromatic atom reaches it
        assert {Chem.MolToInchiKey(Chem.MolFromSmiles(s)) for s in seen} == {ASPIRIN_KEY}
        kekule_typed = [s for s in ASPIRIN_FORMS if not any(ch in s for ch in "cno")]
        assert set(kekule_typed) <= set(seen)  # a Kekulé SMILES goes as typed
    namer.close()


def test_smiles_forms_are_distinct_forms_of_the_one_molecule_and_the_same_each_time():
    from rdkit import Chem

    from chemnamer.chem import model_smiles, smiles_forms

    typed, canonical = "OC(=O)c1ccccc1OC(C)=O", "CC(=O)Oc1ccccc1C(=O)O"
    forms = smiles_forms(typed, canonical, "any", 5)
    assert forms[0] == model_smiles(typed, canonical, "any") == typed
    assert len(forms) == len(set(forms)) == 5
    assert {Chem.MolToInchiKey(Chem.MolFromSmiles(f)) for f in forms} == {ASPIRIN_KEY}
    assert any(not any(ch in f for ch in "cno") for f in forms)  # a Kekulé form among them
    assert forms == smiles_forms(typed, canonical, "any", 5)  # seeded by the molecule
    # a model trained on one form reads that form only; a one-atom molecule has one SMILES
    assert smiles_forms(typed, canonical, "kekule", 5) == [model_smiles(typed, canonical, "kekule")]
    assert smiles_forms("", "C", "any", 4) == ["C"]


def test_pooled_candidates_keep_each_name_once_with_its_best_score():
    from chemnamer.model.generate import Candidate, pool

    pooled = pool([[Candidate("a", -0.5), Candidate("b", -0.9)], [Candidate("b", -0.1), Candidate("c", -0.7)], []])
    assert [(c.name, c.score) for c in pooled] == [("b", -0.1), ("a", -0.5), ("c", -0.7)]


def test_naming_with_several_forms_pools_the_candidates_of_each(tiny_dir, tmp_path):
    """Namer(forms=3) hands the model three SMILES of the molecule (the typed one first) and chooses
    among the candidates of all three; the session cache keeps results of other settings apart."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_dir, model)
    (model / "chemnamer.json").write_text(json.dumps({"input_forms": "any"}))
    namer = Namer(str(model), beams=2, store=False, references=False, forms=3)
    namer.load()
    seen: list[list[str]] = []
    real_generate = namer._generator.generate
    per_source = {}

    def spy(sources, **kw):
        seen.append(list(sources))
        out = real_generate(sources, **kw)
        per_source.update(zip(sources, out))
        return out

    namer._generator.generate = spy
    r = namer.name(ASPIRIN_FORMS[1])
    (sources,) = seen
    assert len(sources) == 3 and sources[0] == ASPIRIN_FORMS[1]
    every = {c.name: max(x.score for cs in per_source.values() for x in cs if x.name == c.name)
             for cs in per_source.values() for c in cs}
    assert {c.name for c in r.candidates} == set(every)
    assert [c.score for c in r.candidates] == sorted((round(v, 5) for v in every.values()), reverse=True)
    namer.name(ASPIRIN_FORMS[1], forms=1)
    assert seen[-1] == [ASPIRIN_FORMS[1]]  # not served from the forms=3 result
    namer.forms = 2
    namer.name(ASPIRIN_FORMS[1])
    assert len(seen[-1]) == 2
    namer.close()


def test_the_cli_names_with_the_forms_of_naming_and_batches_with_those_of_batch_naming():
    """The options' defaults are literals (no RDKit for --help): they must be naming's constants."""
    from chemnamer.cli import build_parser
    from chemnamer.commands.naming import make_namer
    from chemnamer.naming import BATCH_BEAMS, BATCH_FORMS, NAME_BEAMS, NAME_FORMS

    parser = build_parser()
    for argv, beams, forms in ((["name", "CCO", "--mode", "model"], NAME_BEAMS, NAME_FORMS),
                               (["batch", "in.csv", "-o", "out.csv", "--mode", "model"], BATCH_BEAMS, BATCH_FORMS)):
        namer, problem = make_namer(parser.parse_args(argv), store=False)
        assert problem is None and (namer.beams, namer.forms) == (beams, forms)
    namer, _ = make_namer(parser.parse_args(["name", "CCO", "--mode", "model", "--forms", "2"]), store=False)
    assert namer.forms == 2
    assert make_namer(parser.parse_args(["name", "CCO", "--forms", "0"]), store=False)[1] == "--forms must be at least 1"


def test_a_draft_that_failed_for_the_moment_is_drafted_again():
    """The session keeps rule-based drafts, but not a time-out or a crashed worker: those may pass,
    so the next naming of the molecule drafts it again (a molecule no namer can name is not retried)."""
    from concurrent.futures import Future

    from chemnamer.naming import RuleDraft

    namer = Namer(store=False, verify=False)
    for error, retried in (("rule-based naming timed out after 5 s", True), ("rule-based namer crashed", True),
                           ("openclatura could not name this structure", False)):
        failed = Future()
        failed.set_result(RuleDraft(None, None, None, error, 5000.0))
        namer._rules["CCO"] = failed
        (job,) = namer._rule_jobs(["CCO"])
        assert (job is not failed) == retried, error
        assert job.result().name == "ethanol" if retried else job.result().error == error
    namer.close()
