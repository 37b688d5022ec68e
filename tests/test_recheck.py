"""training/evaluate_default.py's independent re-check of check marks: OPSIN's command line in its own
JVM and RDKit canonical SMILES, no chemnamer code; it must be able to disagree with the Namer both ways."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("java") is None or importlib.util.find_spec("py2opsin") is None,
                                reason="needs Java and the OPSIN jar (py2opsin)")


@pytest.fixture(scope="module")
def ev():
    spec = importlib.util.spec_from_file_location("evaluate_default", REPO / "training" / "evaluate_default.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_opsin_command_line_reads_names_in_order(ev):
    smiles = ev.opsin_cli_smiles(["pyridin-2-ol", "qwertyzine", "ethanol", "n,n-dimethylformamide"])
    assert [ev.rdkit_canonical(s) for s in smiles] == ["Oc1ccccn1", None, "CCO", None]  # no re-casing here


def test_recheck_counts_wrong_and_missed_check_marks(ev):
    rows = [("pyridin-2-ol", "O=C1C=CC=CN1", True),  # the InChIKey check's ✓ for the other tautomer
            ("1H-pyridin-2-one", "O=C1C=CC=CN1", False),  # a right name left without ✓
            ("ethanol", "OCC", True),
            ("propan-1-ol", "CC(C)O", False),
            ("2-aminopropanoic acid", "C[C@H](N)C(=O)O", True)]  # stereo left open: not the same
    recheck = ev.independent_recheck([(n, s) for n, s, _ in rows])
    m = ev.tally_recheck(rows, recheck)
    assert {k: v for k, v in m.items() if k != "disagreements"} == {
        "names": 5, "checkmarks": 3, "agree": 2, "checkmarks_wrong": 2, "checkmarks_missed": 1}
    assert [(d["name"], d["verified"], d["recheck_smiles"]) for d in m["disagreements"]] == [
        ("pyridin-2-ol", True, "Oc1ccccn1"), ("1H-pyridin-2-one", False, "O=c1cccc[nH]1"),
        ("2-aminopropanoic acid", True, "CC(N)C(=O)O")]
