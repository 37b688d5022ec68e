"""`chemnamer batch` on the tiny model: formats, good and bad rows, resume after a kill, encodings."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from rdkit import Chem

from chemnamer.batchio import CORE, ROW
from chemnamer.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def batch(tiny_dir, *args):
    return main(["batch", *args, "--model", str(tiny_dir), "--beams", "1", "--no-store"])


def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def header(path):
    with open(path, encoding="utf-8") as fh:
        return fh.readline().rstrip("\n").split(",")


def test_csv_good_and_bad_rows(tiny_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,SMILES,name\n1,OCC,eth\n2,C1CC,bad\n3,,empty\n\n4,[Xx],odd\n5,ethanol,"a, b"\n'
                   '6,c1ccccc1,benzène\n7,CCO,too,many\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(src), "-o", str(out), "--mode", "best") == 0
    assert header(out) == [*CORE, ROW, "id", "input_SMILES", "input_name"]
    rows = read(out)
    assert [r["row"] for r in rows] == [str(i) for i in range(7)] and [r["id"] for r in rows] == list("1234567")
    ok = rows[0]
    assert (ok["smiles"], ok["name"], ok["verified"], ok["chosen_from"]) == ("CCO", "ethanol", "true", "pubchem")
    assert (ok["reference_pubchem"], ok["reference_rule_based"], ok["input_SMILES"]) == ("ethanol", "ethanol", "OCC")
    assert ok["error"] == "" and ok["score"] == ""  # a reference name has no model score
    assert "unclosed ring" in rows[1]["error"] and rows[1]["name"] == ""
    assert rows[2]["error"] == "empty input" and "unknown element 'Xx'" in rows[3]["error"]
    assert (rows[4]["smiles"], rows[4]["input_name"]) == ("CCO", "a, b")  # a name, read by OPSIN
    assert (rows[5]["smiles"], rows[5]["input_name"]) == ("c1ccccc1", "benzène")
    assert rows[6]["error"] == "4 fields, the header has 3"


def test_tsv_model_mode_and_smi(tiny_dir, tmp_path):
    tsv = tmp_path / "in.tsv"
    tsv.write_text("Smiles\tscore\nCCO\t0.5\nC1CC\t1\n", encoding="utf-8")
    assert batch(tiny_dir, str(tsv), "-o", str(tmp_path / "a.csv")) == 0
    a = read(tmp_path / "a.csv")
    assert header(tmp_path / "a.csv")[-2:] == ["input_Smiles", "input_score"]
    assert a[0]["chosen_from"] in ("model", "")  # mode model: never a reference name
    assert a[0]["verified"] in ("false", "") and a[0]["reference_pubchem"] == "ethanol"
    assert a[0]["input_score"] == "0.5" and "unclosed ring" in a[1]["error"]

    smi = tmp_path / "in.smi"
    smi.write_text("# a comment\nCCO ethanol, absolute\n\nC1CC broken\nc1ccccc1\n", encoding="utf-8")
    assert batch(tiny_dir, str(smi), "-o", str(tmp_path / "b.csv")) == 0
    b = read(tmp_path / "b.csv")
    assert header(tmp_path / "b.csv")[-2:] == ["input_smiles", "id"]
    assert [(r["row"], r["smiles"], r["id"]) for r in b] == [("0", "CCO", "ethanol, absolute"), ("1", "", "broken"),
                                                               ("2", "c1ccccc1", "")]
    assert "unclosed ring" in b[1]["error"]


def test_sdf_properties_and_broken_record(tiny_dir, tmp_path):
    blocks = []
    for smiles, title, activity in [("OCC", "eth", "1.5"), ("c1ccccc1", "benz", "7")]:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", title)
        blocks.append(Chem.MolToMolBlock(mol) + f"> <activity>\n{activity}\n\n> <SMILES>\n{smiles}\n\n$$$$\n")
    pentavalent = Chem.MolToMolBlock(Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False), kekulize=False)
    sdf = tmp_path / "in.sdf"
    sdf.write_text(blocks[0] + pentavalent + "$$$$\n" + "junk\n\n\nnot a counts line\nM  END\n$$$$\n" + blocks[1])
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(sdf), "-o", str(out)) == 0
    assert header(out)[len(CORE) + 1:] == ["title", "activity", "input_SMILES"]
    rows = read(out)
    assert [(r["row"], r["smiles"], r["title"], r["activity"]) for r in rows] == [
        ("0", "CCO", "eth", "1.5"), ("1", "", "", ""), ("2", "", "junk", ""), ("3", "c1ccccc1", "benz", "7")]  # a broken record keeps its title
    assert "broken SD record: Explicit valence for atom # 0 C, 5" in rows[1]["error"]
    assert rows[2]["error"].startswith("broken SD record: ")
    assert rows[0]["reference_pubchem"] == "ethanol"


def write_rows(path, n):
    smiles = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "C1CC", "CCCl", "OCCO", "CC#N", "CS(C)=O"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("smiles,id\n")
        for i in range(n):
            fh.write(f"{smiles[i % len(smiles)]},m{i}\n")


def test_resume_after_truncated_output(tiny_dir, tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_rows(src, 12)
    assert batch(tiny_dir, str(src), "-o", str(out), "--batch-size", "4") == 0
    full = read(out)
    data = out.read_bytes()
    lines = data.split(b"\n")
    out.write_bytes(b"\n".join(lines[:6]) + b"\n" + lines[6][:10])  # 5 complete rows, then part of the 6th
    assert batch(tiny_dir, str(src), "-o", str(out)) == 2  # no silent overwrite
    assert "--resume" in capsys.readouterr().err
    assert batch(tiny_dir, str(src), "-o", str(out), "--resume", "--batch-size", "4") == 0
    assert "5 already done" in capsys.readouterr().err
    rows = read(out)
    assert [r["id"] for r in rows] == [f"m{i}" for i in range(12)]  # every row exactly once, in order
    key = ("row", "smiles", "error", "reference_pubchem", "id")
    assert [[r[k] for k in key] for r in rows] == [[r[k] for k in key] for r in full]
    assert batch(tiny_dir, str(src), "-o", str(out), "--resume") == 0  # nothing left: a no-op
    assert read(out) == rows


def test_resume_refuses_a_foreign_output(tiny_dir, tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_rows(src, 2)
    out.write_text("a,b\n1,2\n")
    assert batch(tiny_dir, str(src), "-o", str(out), "--resume") == 2
    assert "was written for other columns" in capsys.readouterr().err


def test_kill_9_then_resume(tiny_dir, tmp_path, home):
    from chemnamer.store.db import integrity_check

    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_rows(src, 40)
    env = dict(os.environ, CHEMNAMER_HOME=str(home), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "chemnamer", "batch", str(src), "-o", str(out), "--model",
                             str(tiny_dir), "--beams", "1", "--batch-size", "4"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 900  # generous: this CI box may be starved by a training run
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 5:  # header + at least one chunk
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    before = len(read(out))
    assert 4 <= before < 40
    assert main(["batch", str(src), "-o", str(out), "--resume", "--model", str(tiny_dir), "--beams", "1"]) == 0
    rows = read(out)
    assert [r["row"] for r in rows] == [str(i) for i in range(40)]
    assert sorted(r["id"] for r in rows) == sorted(f"m{i}" for i in range(40))
    assert integrity_check(home / "chemnamer.sqlite") == "ok"
    from chemnamer.store.history import count_history

    assert count_history() >= 40  # the killed run's last chunk may be stored twice, never lost


def test_non_utf8(tiny_dir, tmp_path, capsys):
    rows_bad = tmp_path / "latin1.csv"
    rows_bad.write_bytes("smiles,name\nCCO,café\nCCC,ok\n".encode("latin-1"))
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(rows_bad), "-o", str(out)) == 0  # a bad row is that row's error only
    a, b = read(out)
    assert a["error"] == "not valid UTF-8 (byte 0xE9 in column 'name')" and a["input_name"] == "caf\ufffd"
    assert (b["smiles"], b["error"]) == ("CCC", "")
    capsys.readouterr()
    head_bad = tmp_path / "head.csv"
    head_bad.write_bytes("smiles,nom_donné\nCCO,x\n".encode("latin-1"))
    assert batch(tiny_dir, str(head_bad), "-o", str(tmp_path / "o2.csv")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: head.csv is not UTF-8 text (byte 0xE9 in the header line); re-save it as UTF-8"]
    utf16 = tmp_path / "u16.csv"
    utf16.write_text("smiles\nCCO\n", encoding="utf-16")
    assert batch(tiny_dir, str(utf16), "-o", str(tmp_path / "o3.csv")) == 2
    assert "it looks like UTF-16" in capsys.readouterr().err


def test_missing_smiles_column_and_bad_files(tiny_dir, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("mol,id\nCCO,1\n")
    assert batch(tiny_dir, str(src), "-o", str(tmp_path / "o.csv")) == 2
    assert capsys.readouterr().err.strip() == "error: in.csv has no 'smiles' column (found: 'mol', 'id')"
    assert batch(tiny_dir, str(tmp_path / "none.csv"), "-o", str(tmp_path / "o.csv")) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    assert batch(tiny_dir, str(tmp_path / "x.xlsx"), "-o", str(tmp_path / "o.csv")) == 2
    assert "unsupported file type '.xlsx'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
