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


def cli(*args, home, stdin=None, timeout=900, **env_extra):
    env = dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1", **env_extra)
    return subprocess.run([sys.executable, "-m", "chemnamer", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_version(tmp_path):
    proc = cli("--version", home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"chemnamer {__version__}"


def test_every_command_module_registers_and_a_broken_one_fails_loudly(tmp_path, monkeypatch):
    import chemnamer.commands
    from chemnamer import cli

    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert {"name", "check", "batch", "history", "models", "train", "data", "eval", "runs", "bench", "gui"} <= set(sub.choices)
    # A command module whose own import fails (a missing dependency) stops the CLI with that error.
    (tmp_path / "broken_cmd.py").write_text("import chemnamer_no_such_dependency\n")
    monkeypatch.setattr(chemnamer.commands, "__path__", [*chemnamer.commands.__path__, str(tmp_path)])
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "broken_cmd"])
    with pytest.raises(ModuleNotFoundError, match="chemnamer_no_such_dependency"):
        cli.build_parser()
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES[:-1], "not_written_yet"])
    with pytest.raises(ModuleNotFoundError, match="not_written_yet"):
        cli.build_parser()


def test_name_json_then_history(tiny_dir, tmp_path):
    proc = cli("name", "--json", "--model", str(tiny_dir), "--beams", "2", ASPIRIN, "C1CC", "-",
               home=tmp_path, stdin="\nethanol\n")
    assert proc.returncode == 1, proc.stderr  # one input of three failed: the status says so
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


@pytest.mark.parametrize("inputs, errors", [
    (["C1CC"], ["error: 'C1CC': invalid SMILES: unclosed ring"]),
    (["[Xx]", ""], ["error: '[Xx]': unknown element 'Xx'", "error: '': empty input"]),
])
def test_every_input_failed_exits_1(tmp_path, inputs, errors):
    proc = cli("name", *inputs, home=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == errors


def test_some_inputs_failed_exits_1_all_named_exits_0(tiny_dir, capsys):
    args = ["name", "--json", "--model", str(tiny_dir), "--beams", "1", "--no-store"]
    assert main([*args, "CCO", "C1CC", "CCN"]) == 1
    out, err = capsys.readouterr()
    assert [r["error"] for r in json_lines(out)] == [None, "invalid SMILES: unclosed ring", None]
    assert err.strip() == "error: 'C1CC': invalid SMILES: unclosed ring"
    assert main([*args, "CCO", "CCN"]) == 0


def test_explicit_unknown_model_exits_2(capsys):
    assert main(["name", "--model", "nope", "CCO"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("where, why", [
    ("gone", "the shipped model 'default' is not installed"),  # e.g. a wheel without the weights
    ("empty", "is missing or damaged (no config.json)"),
])
def test_default_model_missing_is_a_note_and_naming_works(tmp_path, where, why):
    (tmp_path / "empty").mkdir()
    proc = cli("name", "--json", "--mode", "best", "CCO", home=tmp_path / "home",
               CHEMNAMER_DEFAULT_MODEL=str(tmp_path / where))
    assert proc.returncode == 0, proc.stderr
    (r,) = json_lines(proc.stdout)
    assert (r["name"], r["verified"], r["chosen_from"], r["model"]) == ("ethanol", True, "pubchem", "default")
    assert r["candidates"] == []
    (note,) = proc.stderr.strip().splitlines()
    assert note.startswith("note: model unavailable: ") and why in note


def test_check_done_when(tmp_path):
    """Issue 16's "done when": the tautomer a name denotes is told apart from the one drawn."""
    proc = cli("check", "pyridin-2-ol", "--smiles", "O=C1C=CC=CN1", "--json", home=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["verified"], out["kind"], out["smiles"]) == (False, "tautomer", "Oc1ccccn1")
    assert out["reason"] == "the name denotes another tautomer (Oc1ccccn1)"
    proc = cli("check", "pyridin-2(1H)-one", "--smiles", "O=C1C=CC=CN1", "--json", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["verified"], out["kind"], out["smiles"], out["reason"]) == (True, "verified", "O=c1cccc[nH]1", None)
    assert out["input_smiles"] == "O=c1cccc[nH]1"


@pytest.mark.parametrize("name, smiles, status, kind, reason", [
    ("(2R)-2-aminopropanoic acid", "C[C@H](N)C(=O)O", 1, "other_stereo", "the name denotes another stereoisomer"),
    ("2-aminopropanoic acid", "C[C@H](N)C(=O)O", 1, "stereo_unspecified",
     "the name leaves stereo unspecified (1 of 1 stereo element)"),
    ("propan-1-ol", "CC(C)O", 1, "constitution", "the name denotes a constitutional isomer (CCCO)"),
    ("ethanol🧪", "CCO", 1, "unparsable", "OPSIN could not parse: character '🧪' at position 8 cannot be part of a name"),
    ("(2S)-2-aminopropanoic acid", "N[C@@H](C)C(O)=O", 0, "verified", None),
])
def test_check_kinds_and_status(capsys, name, smiles, status, kind, reason):
    assert main(["check", name, "--smiles", smiles, "--json"]) == status
    out = json.loads(capsys.readouterr().out)
    assert (out["kind"], out["reason"], out["verified"]) == (kind, reason, status == 0)


def test_check_human_output_and_usage_errors(capsys):
    assert main(["check", "pyrimidine-2,4-diol", "--smiles", "O=C1C=CNC(=O)N1"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "✗ pyrimidine-2,4-diol: different tautomer", "  structure   O=c1cc[nH]c(=O)[nH]1",
        "  OPSIN read  Oc1ccnc(O)n1", "  reason      the name denotes another tautomer (Oc1ccnc(O)n1)"]
    assert main(["check", "ethanol", "--smiles", "C1CC"]) == 2
    assert capsys.readouterr().err.strip() == "error: --smiles: invalid SMILES: unclosed ring"
    assert main(["check", " ", "--smiles", "CCO"]) == 2
    assert capsys.readouterr().err.strip() == "error: empty name"
    with pytest.raises(SystemExit) as exc:
        main(["check", "ethanol"])  # --smiles is required: argparse's usage error
    assert exc.value.code == 2


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
