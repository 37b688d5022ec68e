"""The `chemnamer` command end to end: subprocesses where the process boundary matters (exit codes,
stdout/stderr, a fresh interpreter), in-process otherwise (cheaper on a busy machine)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from chemnamer import __version__, paths
from chemnamer.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CONTRACT = {"input", "smiles", "inchikey", "name", "verified", "score", "candidates", "reference", "model", "ms"}


def cli(*args, home, stdin=None, timeout=900):
    env = dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "chemnamer", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_version(tmp_path):
    proc = cli("--version", home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"chemnamer {__version__}"


def test_name_json_then_history(tiny_dir, tmp_path):
    proc = cli("name", "--json", "--model", str(tiny_dir), "--beams", "2", ASPIRIN, "C1CC", "-",
               home=tmp_path, stdin="\nethanol\n")
    assert proc.returncode == 0, proc.stderr
    aspirin, bad, ethanol = json_lines(proc.stdout)
    assert CONTRACT <= set(aspirin) and aspirin["error"] is None
    assert aspirin["inchikey"] == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N" and aspirin["model"] == str(tiny_dir)
    assert aspirin["reference"]["pubchem"] == "2-acetyloxybenzoic acid" and aspirin["reference"]["rule_based"]
    assert 1 <= len(aspirin["candidates"]) <= 2 and aspirin["verified"] is False
    assert {"generate", "verify", "total"} <= set(aspirin["ms"])
    assert bad["error"] == "invalid SMILES: unclosed ring" and bad["name"] is None
    assert (ethanol["source"], ethanol["smiles"]) == ("name", "CCO")  # stdin, read as a name by OPSIN
    assert proc.stderr.strip() == "error: 'C1CC': invalid SMILES: unclosed ring"

    proc = cli("history", "--json", "--search", "BSYNRYMUTXBXSQ", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (row,) = json_lines(proc.stdout)
    assert (row["id"], row["name"], row["model_id"]) == (aspirin["id"], aspirin["name"], str(tiny_dir))
    proc = cli("history", "--limit", "2", home=tmp_path)
    assert proc.returncode == 0 and "2 of 3 namings" in proc.stdout and "ethanol" in proc.stdout


@pytest.mark.parametrize("inputs, lines", [(["C1CC"], 1), (["[Xx]", ""], 2)])
def test_every_input_failed_exits_1(tmp_path, inputs, lines):
    proc = cli("name", *inputs, home=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == lines and all(e.startswith("error: ") for e in errors)
    assert "unclosed ring" in errors[0] or "unknown element 'Xx'" in errors[0]


def test_explicit_unknown_model_exits_2(capsys):
    assert main(["name", "--model", "nope", "CCO"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.skipif(paths.default_model_dir().exists(), reason="the default model is shipped now")
def test_default_model_missing_is_a_note_and_naming_works(tmp_path):
    proc = cli("name", "--json", "--mode", "best", "CCO", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (r,) = json_lines(proc.stdout)
    assert (r["name"], r["verified"], r["chosen_from"], r["model"]) == ("ethanol", True, "pubchem", "default")
    note = proc.stderr.strip().splitlines()
    assert len(note) == 1 and note[0].startswith("note: model unavailable: the shipped model 'default'")


def test_human_output(tiny_dir, capsys):
    assert main(["name", "--model", str(tiny_dir), "--beams", "2", "--no-store", "--mode", "best", ASPIRIN]) == 0
    out = capsys.readouterr().out
    assert out.startswith(ASPIRIN + "\n  smiles      " + ASPIRIN)
    for text in ("2-acetyloxybenzoic acid  (from pubchem)", "pubchem     ✓ 2-acetyloxybenzoic acid  (aspirin, CID 2244)",
                 "rule-based  ✓ ", "candidates  1. ✗ ", "no candidate verified", "ms          parse "):
        assert text in out


def test_models_json(tmp_path):
    proc = cli("models", "--json", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json_lines(proc.stdout)}
    assert rows["smollm2-135m"]["kind"] == "base" and rows["smollm2-135m"]["available"] is True
    assert rows["default"]["kind"] == "shipped"
    assert rows["default"]["available"] is paths.default_model_dir().joinpath("config.json").is_file()


def test_base_model_end_to_end(tmp_path):
    """The real SmolLM2 (not fine-tuned): junk names, but every stage runs. One molecule, greedy."""
    t0 = time.perf_counter()
    proc = cli("name", "--json", "--model", "smollm2-135m", "--beams", "1", "--no-store", "C", home=tmp_path)
    secs = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    (r,) = json_lines(proc.stdout)
    print(f"\nbase model, greedy, one molecule, whole process: {secs:.1f} s; ms={r['ms']}")
    assert r["model"] == "smollm2-135m" and r["error"] is None and r["reference"]["pubchem"] == "methane"
    assert len(r["candidates"]) <= 1 and "generate" in r["ms"]
    assert "Loading weights" not in proc.stderr  # library progress bars stay off the terminal
