"""`chemnamer bench`: the drug-like sample is fixed and binned by size; a run reports every figure."""
import os

import pytest
from rdkit import Chem

from chemnamer import bench

pytestmark = pytest.mark.usefixtures("one_thread")


def test_druglike_sample_is_seeded_and_binned_by_heavy_atoms():
    a, b = bench.druglike_smiles(3, seed=0), bench.druglike_smiles(3, seed=0)
    assert a == b  # the same molecules every time
    assert bench.druglike_smiles(3, seed=1) != a
    assert [len(a[label]) for label, _, _ in bench.SIZE_BINS] == [3, 3, 3, 0]  # MOSES: MW 250-350, none > 40
    for label, lo, hi in bench.SIZE_BINS:
        for smiles in a[label]:
            assert lo <= Chem.MolFromSmiles(smiles).GetNumHeavyAtoms() <= hi, (label, smiles)


def test_size_bins_cover_every_size():
    assert [bench.size_bin(n) for n in (1, 15, 16, 25, 26, 40, 41, 150)] == \
        ["<=15", "<=15", "16-25", "16-25", "26-40", "26-40", ">40", ">40"]


def test_druglike_run_reports_latency_throughput_load_and_stages(home):
    from chemnamer.commands.bench import render

    r = bench.run(molecule_set="druglike", limit=1, cold_start=False, beams=2, batch_beams=2)
    assert r["set"] == "druglike" and r["n"] == 3 and r["threads"] == max(1, os.cpu_count() - 1)  # as the GUI
    assert r["bins"][">40"] == {"n": 0}
    from chemnamer.naming import BATCH_FORMS, NAME_FORMS

    assert (r["forms"], r["batch_forms"]) == (NAME_FORMS, BATCH_FORMS)  # the default reads every form
    for label in ("<=15", "16-25", "26-40"):
        b = r["bins"][label]
        assert b["n"] == 1 and 0 < b["greedy_p50_ms"] and 0 < b["beam_p50_ms"] and b["batch_mol_per_s"] > 0
        assert {"generate", "verify"} <= set(b["beam_stages_ms_per_mol"])
        assert b["beam_cpu_ms_per_mol"] > 0
    assert len(r["load_avg_start"]) == 3 and len(r["load_avg_end"]) == 3
    assert r["all"]["n"] == 3 and r["greedy_p50_ms"] == r["all"]["greedy_p50_ms"]
    text = render(r)
    assert "(none in this set)" in text and "where the time goes" in text and "load average" in text
