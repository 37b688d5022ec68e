"""Guided naming: the rule-based draft (openclatura, else nispo, each verified by OPSIN) goes into the
guided model's prompt; a rewrite that verifies is the name, else the verified draft is. Real RDKit,
OPSIN, rule-based workers; a tiny random guided model (its rewrites are junk) and, once shipped, the
real guided model."""
from __future__ import annotations

import json
import shutil

import pytest

from chemnamer import paths
from chemnamer.naming import Namer
from chemnamer.textdiff import char_diff, edit_count

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_guided(tiny_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-guided")
    for f in tiny_dir.iterdir():
        shutil.copy(f, out / f.name)
    template = {"instruction": "SMILES: {source}\nRule: {rule}", "response_marker": "\n{task}: ",
                "defaults": {"task": "IUPAC"}}
    (out / "chemnamer.json").write_text(json.dumps({"template": template}))
    return out


def test_guided_falls_back_to_the_verified_draft(tiny_guided):
    namer = Namer(mode="guided", guided_model_id=str(tiny_guided), beams=2, store=False)
    r = namer.name("ClC1=CC=C(C=C1)C(=O)N")
    assert r.reference.rule_based == "4-chlorobenzamide" and r.reference.rule_based_verified
    assert r.reference.rule_based_namer == "openclatura"
    # junk rewrites (or none: a random model may end at once), each checked, none verified
    assert not any(c.verified for c in r.candidates)
    assert all(c.verified is False for c in r.candidates)
    assert (r.name, r.verified, r.chosen_from) == ("4-chlorobenzamide", True, "rule_based")
    assert "using the verified rule-based name (openclatura)" in r.note and r.model == str(tiny_guided)


def test_guided_refuses_a_model_without_a_rule_input(tiny_dir):
    namer = Namer(mode="guided", guided_model_id=str(tiny_dir), beams=1, store=False)
    r = namer.name("CCO")
    assert "not a guided model" in namer.guided_error and "guided model unavailable" in r.note
    assert r.verified and r.chosen_from == "rule_based"  # still a verified name


def test_nispo_names_when_openclatura_cannot():
    """Both namers run in their own workers; nispo's name is used only when openclatura's fails."""
    from chemnamer.rulebased import rule_based_name

    first = rule_based_name("CC(C)(C)C(N)CO", namer="nispo")
    assert first.error is None and first.name == "2-amino-3,3-dimethylbutanol"
    r = Namer(mode="guided", guided_model_id="no-such-guided-model", beams=1, store=False).name("CCO")
    assert r.reference.rule_based_namer == "openclatura" and r.name == "ethanol" and r.verified


def test_char_diff():
    before, after = "2-((4-(tert-butyl)phenyl)methyl)pyridine", "2-[[4-(tert-butyl)phenyl]methyl]pyridine"
    diff = char_diff(before, after)
    assert "".join(t for op, t in diff if op != "insert") == before
    assert "".join(t for op, t in diff if op != "delete") == after
    assert edit_count(before, before) == 0 and edit_count(before, after) == 8


@pytest.mark.skipif(not (paths.guided_model_dir() / "config.json").is_file(), reason="guided model not built")
def test_shipped_guided_model_rewrites_drafts():
    """4-chlorobenzamide and aspirin: the shipped guided model's rewrite verifies (no fallback)."""
    namer = Namer(mode="guided", beams=4, store=False)
    for smiles, name in (("ClC1=CC=C(C=C1)C(=O)N", "4-chlorobenzamide"),
                         ("CC(=O)Oc1ccccc1C(=O)O", "2-acetyloxybenzoic acid")):
        r = namer.name(smiles)
        assert r.verified and r.chosen_from == "guided", (smiles, r)
        assert r.name.lower() == name


def _cli(*args, home):
    import os
    import subprocess
    import sys

    env = dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "chemnamer", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_default_mode_follows_the_model(tiny_dir, tiny_guided, tmp_path):
    """No --mode: guided with the shipped models (chosen on validation data, naming.DEFAULT_MODE);
    a model the user names names in its own mode; a guided model in mode model is an error that says so."""
    from chemnamer.naming import DEFAULT_MODE, default_mode

    assert DEFAULT_MODE == default_mode(None) == "guided"
    assert default_mode(str(tiny_guided)) == "guided" and default_mode(str(tiny_dir)) == "model"
    direct = _cli("name", "--json", "--no-store", "--beams", "1", "--model", str(tiny_dir), "CCO", home=tmp_path)
    assert direct.returncode == 0, direct.stderr
    assert json.loads(direct.stdout)["mode"] == "model"
    guided = _cli("name", "--json", "--no-store", "--beams", "1", "--model", str(tiny_guided), "CCO", home=tmp_path)
    assert guided.returncode == 0, guided.stderr
    r = json.loads(guided.stdout)
    assert (r["mode"], r["name"], r["verified"], r["chosen_from"]) == ("guided", "ethanol", True, "rule_based")
    wrong = _cli("name", "--json", "--no-store", "--mode", "model", "--model", str(tiny_guided), "CCO", home=tmp_path)
    assert wrong.returncode == 2 and "is a guided model: it names in mode guided only" in wrong.stderr


@pytest.mark.skipif(not (paths.guided_model_dir() / "config.json").is_file(), reason="guided model not built")
def test_cli_names_in_guided_mode_by_default(tmp_path):
    proc = _cli("name", "--json", "--no-store", "ClC1=CC=C(C=C1)C(=O)N", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["mode"], r["model"], r["name"].lower(), r["verified"]) == ("guided", "guided", "4-chlorobenzamide", True)
    assert r["chosen_from"] == "guided" and r["reference"]["rule_based"] == "4-chlorobenzamide"


def test_copy_bias_follows_the_draft(tiny_guided):
    """Decoding that leans on the draft (measured, off by default: naming.GUIDED_COPY_BONUS): the next
    token of the longest stretch of the draft the output ends with gets the bonus; with a bonus no
    model can outweigh, even a random model writes the draft back, greedy and in beam search."""
    from chemnamer.model import loading
    from chemnamer.model.fastllama import CopyBias
    from chemnamer.model.generate import Generator

    draft, eos = [5, 6, 7, 8, 6, 7, 9], 0
    bias = CopyBias([draft], 2.0)
    assert bias.next_tokens([], draft, eos) == {5}
    assert bias.next_tokens([1, 6, 7], draft, eos) == {8, 9}  # "6 7" is twice in the draft
    assert bias.next_tokens([8, 6, 7], draft, eos) == {9}  # the longer stretch decides
    assert bias.next_tokens([7, 9], draft, eos) == {eos} and bias.next_tokens([3], draft, eos) == set()
    gen = Generator.from_loaded(loading.load(str(tiny_guided), "cpu"))
    source = {"source": "Clc1ccc(cc1)C(N)=O", "rule": "4-chlorobenzamide"}
    for beams in (1, 3):
        (top, *_), = gen.generate([source], beams=beams, copy_bonus=1000.0)
        assert top.name == "4-chlorobenzamide", beams
