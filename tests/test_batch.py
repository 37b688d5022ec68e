"""`chemnamer batch` on the tiny model: formats, good and bad rows, resume after a kill, encodings."""
from __future__ import annotations

import codecs
import csv
import gzip
import os
import signal
import subprocess
import sys
import time

import pytest
from rdkit import Chem

from chemnamer.batchio import RESULT
from chemnamer.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def batch(tiny_dir, *args):
    return main(["batch", *args, "--model", str(tiny_dir), "--beams", "1", "--no-store"])


def read(path, delimiter=","):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def header(path, delimiter=","):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh, delimiter=delimiter))


def test_csv_good_and_bad_rows(tiny_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,SMILES,name\n1,OCC,eth\n2,C1CC,bad\n3,,empty\n\n4,[Xx],odd\n5,ethanol,"a, b"\n'
                   '6,c1ccccc1,benzène\n7,CCO,too,many\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(src), "-o", str(out), "--mode", "best") == 0
    # the user's columns first, unchanged; ours after them ('name' is taken: ours gets a prefix)
    assert header(out) == ["id", "SMILES", "name", "chemnamer_name", *RESULT[1:]]
    rows = read(out)
    assert [r["id"] for r in rows] == list("1234567")
    ok = rows[0]
    assert (ok["SMILES"], ok["name"], ok["canonical_smiles"]) == ("OCC", "eth", "CCO")  # the user's SMILES kept
    assert (ok["chemnamer_name"], ok["verified"], ok["chosen_from"]) == ("ethanol", "true", "pubchem")
    assert (ok["reference_pubchem"], ok["reference_rule_based"]) == ("ethanol", "ethanol")
    assert ok["inchikey"] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"
    assert ok["error"] == "" and ok["score"] == ""  # a reference name has no model score
    assert "unclosed ring" in rows[1]["error"] and rows[1]["chemnamer_name"] == ""
    assert rows[2]["error"] == "empty input" and "unknown element 'Xx'" in rows[3]["error"]
    assert (rows[4]["canonical_smiles"], rows[4]["name"]) == ("CCO", "a, b")  # a name, read by OPSIN
    assert (rows[5]["canonical_smiles"], rows[5]["name"]) == ("c1ccccc1", "benzène")
    assert rows[6]["error"] == "4 fields, the header has 3"


def test_user_cells_come_back_unchanged(tiny_dir, tmp_path):
    """Quoted multi-line cells, quotes, blanks and the user's own SMILES spelling survive byte for byte
    (same delimiter, same line ends); only our columns are added at the end of each record."""
    src = tmp_path / "in.csv"
    data = ('SMILES,id,note\r\nOCC,m1,"first line\r\nsecond line"\r\n'
            'C(=O)O, m2 ,"says ""hi"", twice"\r\n')
    src.write_bytes(data.encode("utf-8"))
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(src), "-o", str(out)) == 0
    written = out.read_bytes().decode("utf-8")
    lines = data.split("\r\n")
    assert written.startswith(lines[0] + "," + ",".join(RESULT) + "\r\n")
    assert written.count("\r\n") == data.count("\r\n") and "\n" not in written.replace("\r\n", "")
    for user_record in ('OCC,m1,"first line\r\nsecond line",', 'C(=O)O, m2 ,"says ""hi"", twice",'):
        assert user_record in written
    rows = read(out)
    assert [r["canonical_smiles"] for r in rows] == ["CCO", "O=CO"] and rows[0]["note"] == "first line\r\nsecond line"


def test_semicolon_csv_and_column_choice(tiny_dir, tmp_path, capsys):
    src = tmp_path / "excel.csv"
    src.write_text("Nr;Struktur;Bemerkung\n1;OCC;Ethanol, rein\n2;c1ccccc1;x\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(src), "-o", str(out)) == 2  # no 'smiles' column: say so, and how to pick one
    err = capsys.readouterr().err.strip()
    assert err == ("error: excel.csv has no 'smiles' column (found: 'Nr', 'Struktur', 'Bemerkung'); "
                   "name the column that holds the structures with --column")
    assert not out.exists()
    assert batch(tiny_dir, str(src), "-o", str(out), "--column", "struktur") == 0
    assert header(out, ";") == ["Nr", "Struktur", "Bemerkung", *RESULT]  # written back with ';'
    rows = read(out, ";")
    assert [(r["Struktur"], r["Bemerkung"], r["canonical_smiles"]) for r in rows] == [
        ("OCC", "Ethanol, rein", "CCO"), ("c1ccccc1", "x", "c1ccccc1")]
    assert batch(tiny_dir, str(src), "-o", str(tmp_path / "o.csv"), "--column", "nope") == 2
    assert "has no 'nope' column" in capsys.readouterr().err


def test_tsv_model_mode_and_smi(tiny_dir, tmp_path):
    tsv = tmp_path / "in.tsv"
    tsv.write_text("Smiles\tscore\nCCO\t0.5\nC1CC\t1\n", encoding="utf-8")
    assert batch(tiny_dir, str(tsv), "-o", str(tmp_path / "a.csv")) == 0
    a = read(tmp_path / "a.csv")
    assert header(tmp_path / "a.csv") == ["Smiles", "score", *RESULT[:3], "chemnamer_score", *RESULT[4:]]
    assert a[0]["chosen_from"] in ("model", "")  # mode model: never a reference name
    assert a[0]["verified"] in ("false", "") and a[0]["reference_pubchem"] == "ethanol"
    assert a[0]["score"] == "0.5" and "unclosed ring" in a[1]["error"]

    smi = tmp_path / "in.smi"
    smi.write_text("# a comment\nCCO ethanol, absolute\n\nC1CC broken\nc1ccccc1\n", encoding="utf-8")
    assert batch(tiny_dir, str(smi), "-o", str(tmp_path / "b.csv")) == 0
    b = read(tmp_path / "b.csv")
    assert header(tmp_path / "b.csv")[:3] == ["smiles", "name", "chemnamer_name"]  # "SMILES name", as Daylight's
    assert [(r["smiles"], r["name"], r["canonical_smiles"]) for r in b] == [
        ("CCO", "ethanol, absolute", "CCO"), ("C1CC", "broken", ""), ("c1ccccc1", "", "c1ccccc1")]
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
    assert header(out) == ["title", "activity", "SMILES", *RESULT]
    rows = read(out)
    assert [(r["canonical_smiles"], r["title"], r["activity"], r["SMILES"]) for r in rows] == [
        ("CCO", "eth", "1.5", "OCC"), ("", "", "", ""), ("", "junk", "", ""),
        ("c1ccccc1", "benz", "7", "c1ccccc1")]  # a broken record keeps its title
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
    key = ("smiles", "canonical_smiles", "error", "reference_pubchem", "id")
    assert [[r[k] for k in key] for r in rows] == [[r[k] for k in key] for r in full]
    assert batch(tiny_dir, str(src), "-o", str(out), "--resume") == 0  # nothing left: a no-op
    assert read(out) == rows


def test_resume_refuses_a_foreign_output(tiny_dir, tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_rows(src, 2)
    out.write_text("a,b\n1,2\n")
    assert batch(tiny_dir, str(src), "-o", str(out), "--resume") == 2
    assert "was written for other columns" in capsys.readouterr().err
    # same columns, another input: the input cells tell them apart
    other = tmp_path / "other.csv"
    write_rows(other, 3)
    other.write_text(other.read_text().replace("m1", "x1"))
    assert batch(tiny_dir, str(other), "-o", str(out), "--force") == 0
    assert batch(tiny_dir, str(src), "-o", str(out), "--resume") == 2
    assert "record 2 does not match input record 2" in capsys.readouterr().err


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
    assert [r["id"] for r in rows] == [f"m{i}" for i in range(40)]  # every row once, in order
    assert integrity_check(home / "chemnamer.sqlite") == "ok"
    from chemnamer.store.history import count_history

    assert count_history() >= 40  # the killed run's last chunk may be stored twice, never lost


def test_latin1_cells_are_named_and_written_back(tiny_dir, tmp_path, capsys):
    """A file saved by Excel on Windows (Windows-1252): the "é" in a comment, even in the header, no longer
    keeps its row from being named; it comes back as "é" in a UTF-8 output with a BOM (for Excel)."""
    src = tmp_path / "latin1.csv"
    src.write_bytes("smiles,remarque née\nCCO,café\nCCC,ok\nCCN,“quoted” €\n".encode("cp1252"))
    out = tmp_path / "out.csv"
    assert batch(tiny_dir, str(src), "-o", str(out), "--mode", "best") == 0
    assert "note: latin1.csv: 3 lines (1, 2, 4) not UTF-8, read as Windows-1252" in capsys.readouterr().err
    assert out.read_bytes().startswith(b"\xef\xbb\xbfsmiles,remarque n\xc3\xa9e,name,")
    rows = read(out)
    assert [(r["remarque née"], r["canonical_smiles"], r["error"]) for r in rows] == [
        ("café", "CCO", ""), ("ok", "CCC", ""), ("“quoted” €", "CCN", "")]
    assert [r["name"] for r in rows] == ["ethanol", "propane", "ethanamine"]  # every row named

    mixed = tmp_path / "mixed.csv"  # UTF-8 with one Latin-1 line pasted in
    mixed.write_bytes("smiles,note\nCCO,naïve\n".encode() + "CCC,été\n".encode("latin-1"))
    assert batch(tiny_dir, str(mixed), "-o", str(tmp_path / "m.csv")) == 0
    assert [r["note"] for r in read(tmp_path / "m.csv")] == ["naïve", "été"]

    utf16 = tmp_path / "u16.txt"  # Excel's "Unicode text": UTF-16, tab-separated
    utf16.write_text("smiles\tnote\nCCO\tdéjà\n", encoding="utf-16")
    assert batch(tiny_dir, str(utf16), "-o", str(tmp_path / "u.tsv")) == 0
    (r,) = read(tmp_path / "u.tsv", "\t")
    assert (r["note"], r["canonical_smiles"]) == ("déjà", "CCO")


def test_missing_smiles_column_and_bad_files(tiny_dir, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("mol,id\nCCO,1\n")
    assert batch(tiny_dir, str(src), "-o", str(tmp_path / "o.csv")) == 2
    assert capsys.readouterr().err.strip().startswith("error: in.csv has no 'smiles' column (found: 'mol', 'id')")
    assert batch(tiny_dir, str(tmp_path / "none.csv"), "-o", str(tmp_path / "o.csv")) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    assert batch(tiny_dir, str(tmp_path / "x.xlsx"), "-o", str(tmp_path / "o.csv")) == 2
    assert "unsupported file type '.xlsx'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_gzip_jsonl_and_damaged_text(tiny_dir, tmp_path):
    """The files training data reads, batch naming reads too (one reader): a gzipped CSV, JSON lines (a
    record without the column is an error row), and UTF-16 with damaged bytes: that record is an error
    row that names its line, its cells come back, and the records after it are named."""
    gz = tmp_path / "in.csv.gz"
    gz.write_bytes(gzip.compress(b"smiles,id\nCCO,a\n,,\nCCN,b\n"))
    assert batch(tiny_dir, str(gz), "-o", str(tmp_path / "g.csv")) == 0
    # Excel's blank row ",," is no record, like a blank line
    assert [(r["id"], r["canonical_smiles"]) for r in read(tmp_path / "g.csv")] == [("a", "CCO"), ("b", "CCN")]

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"SMILES": "CCO", "id": 1}\n{"id": 2}\nnot json\n', encoding="utf-8")
    assert batch(tiny_dir, str(jsonl), "-o", str(tmp_path / "j.csv")) == 0
    assert header(tmp_path / "j.csv")[:2] == ["SMILES", "id"]
    rows = read(tmp_path / "j.csv")
    assert [(r["id"], r["canonical_smiles"]) for r in rows] == [("1", "CCO"), ("2", ""), ("", "")]
    assert [r["error"] for r in rows[:2]] == ["", "no 'SMILES' in this record"]
    assert rows[2]["error"].startswith("not JSON (Expecting value")

    utf16 = tmp_path / "u16.csv"  # a lone surrogate where "b" was: bytes no encoding reads
    text = "smiles,note\nCCO,a\nCCN,b\nCCC,c\n".encode("utf-16-le").replace("b".encode("utf-16-le"), b"\x00\xd8")
    utf16.write_bytes(codecs.BOM_UTF16_LE + text)
    assert batch(tiny_dir, str(utf16), "-o", str(tmp_path / "u.csv")) == 0
    rows = read(tmp_path / "u.csv")
    assert [(r["smiles"], r["note"], r["canonical_smiles"], r["error"]) for r in rows] == [
        ("CCO", "a", "CCO", ""), ("CCN", "\ufffd", "", "line 3 holds bytes that are not UTF-16 text"),
        ("CCC", "c", "CCC", "")]
