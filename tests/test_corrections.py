"""Your verdict on a naming (issue 18): mark a name correct or type the right one, checked by OPSIN;
rows with a verdict export as the training file the wizard's "Your file" source reads. Real SQLite
files, real OPSIN, the real command line."""
from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from chemnamer import store
from chemnamer.cli import main
from chemnamer.corrections import CorrectionRefused, check_correction
from chemnamer.data.userfile import FileReport, file_pairs
from chemnamer.store import db, history


@pytest.fixture(autouse=True)
def fresh(home):
    yield home
    db.dispose_all()


def _row(smiles: str, name: str | None, verified: bool | None, **over) -> int:
    rec = {"input": smiles, "source": "smiles", "smiles": smiles, "name": name, "verified": verified,
           "model_id": "default", "mode": "model", "candidates": []}
    rec.update(over)
    return store.save_naming(rec)


def test_check_correction_says_why_in_words():
    ok = check_correction("  propan-1-ol ", "CCCO")
    assert ok.accepted and ok.checked and ok.kind == "verified"
    typo = check_correction("propan-1-oll", "CCCO")
    assert not typo.accepted and typo.kind == "unparsable" and "cannot read" in typo.reason and "spelling" in typo.reason
    other = check_correction("propan-2-ol", "CCCO")
    assert not other.accepted and other.kind == "constitution"
    assert "CC(C)O, not CCCO" in other.reason and "typo" in other.reason
    stereo = check_correction("but-2-ene", "C/C=C/C")
    assert not stereo.accepted and stereo.kind == "stereo_unspecified" and "stereo" in stereo.reason
    assert check_correction("(E)-but-2-ene", "C/C=C/C").accepted
    tautomer = check_correction("pyridin-2-ol", "O=C1C=CC=CN1")
    assert not tautomer.accepted and tautomer.kind == "tautomer"
    assert not check_correction("", "CCO").accepted
    assert not check_correction("ethanol", None).accepted


def test_verdicts_corrections_and_the_training_file(tmp_path):
    ethanol = _row("CCO", "ethanol", True, inchikey="LFQSCWFLJHTTHZ-UHFFFAOYSA-N")
    wrong = _row("CCCO", "propanal", False, inchikey="BDERNNFJNOPAEC-UHFFFAOYSA-N")
    aspirin = _row("CC(=O)Oc1ccccc1C(=O)O", "2-acetyloxybenzoic acid", None, input="aspirin", source="name")
    failed = _row(None, None, None, input="C1CC", error="invalid SMILES: unclosed ring")

    assert history.mark_correct(ethanol).checked
    with pytest.raises(CorrectionRefused, match="CCC=O, not CCCO"):  # OPSIN reads propanal as another structure
        history.mark_correct(wrong)
    with pytest.raises(CorrectionRefused, match="cannot read"):
        history.set_correction(wrong, "propan-1-oll")
    with pytest.raises(CorrectionRefused, match="different structure"):
        history.set_correction(wrong, "ethanol")
    with pytest.raises(CorrectionRefused, match="no name"):
        history.mark_correct(failed)
    with pytest.raises(CorrectionRefused, match="no structure"):
        history.set_correction(failed, "cyclopropane")
    with pytest.raises(history.UnknownNaming, match="no naming with id 999"):
        history.mark_correct(999)
    assert history.get_naming(wrong)["user_verdict"] is None  # refusals leave the row as it was

    check = history.set_correction(wrong, "  propan-1-ol ")
    assert check.accepted and check.kind == "verified"
    row = history.get_naming(wrong)
    assert (row["user_verdict"], row["user_name"], row["name"]) == ("corrected", "propan-1-ol", "propanal")
    assert row["user_verdict_at"] is not None and row["user_verdict_at"] >= row["created_at"]
    history.set_correction(aspirin, "2-acetyloxybenzoic acid")  # the chosen name typed again: marked correct
    assert history.get_naming(aspirin)["user_verdict"] == "correct"  # (checked: it was not verified when named)

    assert [r["id"] for r in history.corrections()] == [ethanol, wrong, aspirin] and history.count_corrections() == 3
    assert [r["id"] for r in store.query_history("propan-1-ol")] == [wrong]  # the search reads your names too

    out = tmp_path / "corrections.csv"
    assert history.export_corrections(out) == 3
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["smiles", "name", "inchikey", "input", "verdict"]
    assert [(r["smiles"], r["name"], r["verdict"]) for r in rows] == [
        ("CCO", "ethanol", "correct"), ("CCCO", "propan-1-ol", "corrected"),
        ("CC(=O)Oc1ccccc1C(=O)O", "2-acetyloxybenzoic acid", "correct")]
    assert rows[2]["input"] == "aspirin" and rows[0]["inchikey"] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"
    # what the training wizard's "Your file" source reads, with its default columns
    report = FileReport()
    pairs = list(file_pairs(out, "smiles", "name", report=report))
    assert report.kept == 3 and report.rows == 3
    assert [(p.source, p.target) for p in pairs] == [(r["smiles"], r["name"]) for r in rows]
    assert pairs[1].inchikey == "BDERNNFJNOPAEC-UHFFFAOYSA-N"

    assert history.clear_verdict(ethanol) is True and history.clear_verdict(ethanol) is False
    with pytest.raises(history.UnknownNaming):
        history.clear_verdict(999)
    assert history.export_corrections(out) == 2 and not out.with_name(out.name + ".part").exists()


def test_naming_again_keeps_the_verdict_while_the_structure_is_the_same():
    rid = _row("CCCO", "propanal", False)
    history.set_correction(rid, "propan-1-ol")
    store.save_naming({"input": "CCCO", "smiles": "CCCO", "name": "propan-1-ol", "verified": True}, replace_id=rid)
    row = history.get_naming(rid)
    assert (row["user_verdict"], row["user_name"]) == ("correct", "propan-1-ol")  # the new name is the one vouched for
    store.save_naming({"input": "CCCO", "smiles": "CCCO", "name": "propanol", "verified": False}, replace_id=rid)
    assert history.get_naming(rid)["user_verdict"] == "corrected"
    store.save_naming({"input": "CCCCO", "smiles": "CCCCO", "name": "butan-1-ol"}, replace_id=rid)  # a draft reused
    row = history.get_naming(rid)
    assert (row["user_verdict"], row["user_name"], row["user_verdict_at"]) == (None, None, None)


def test_a_database_at_0001_with_rows_upgrades_and_keeps_them():
    from alembic import command
    from sqlalchemy import create_engine

    file = db.paths.database_path()
    old = create_engine(f"sqlite:///{file}")
    with old.begin() as conn:
        command.upgrade(db.alembic_config(conn), "0001")
        for i, (smiles, name) in enumerate((("CCO", "ethanol"), ("CCCO", "propan-1-ol")), 1):
            conn.exec_driver_sql(
                "INSERT INTO namings (id, created_at, input, smiles, name, verified, candidates) "
                "VALUES (?, '2026-01-02 03:04:05.000000', ?, ?, ?, 1, '[]')", (i, smiles, smiles, name))
    old.dispose()
    con = sqlite3.connect(file)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
    assert "user_verdict" not in {r[1] for r in con.execute("PRAGMA table_info(namings)")}
    con.close()

    rows = store.query_history(descending=False)  # opening migrates to head
    assert [(r["id"], r["name"], r["user_verdict"], r["user_name"]) for r in rows] == [
        (1, "ethanol", None, None), (2, "propan-1-ol", None, None)]
    assert rows[0]["created_at"].year == 2026
    history.mark_correct(1)
    con = sqlite3.connect(file)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
    assert con.execute("SELECT user_verdict, user_name FROM namings WHERE id = 1").fetchall() == [("correct", "ethanol")]
    assert "ix_namings_user_verdict" in {r[1] for r in con.execute("PRAGMA index_list(namings)")}
    con.close()

    with db.engine().begin() as conn:  # and back: 0002's downgrade keeps the rows too
        command.downgrade(db.alembic_config(conn), "0001")
    db.dispose_all()
    con = sqlite3.connect(file)
    assert "user_verdict" not in {r[1] for r in con.execute("PRAGMA table_info(namings)")}
    assert con.execute("SELECT id, name FROM namings ORDER BY id").fetchall() == [(1, "ethanol"), (2, "propan-1-ol")]
    con.close()
    assert store.count_history() == 2 and store.integrity_check() == "ok"


def test_cli_marks_corrects_lists_and_exports(tiny_dir, one_thread, tmp_path, capsys):
    assert main(["name", "--json", "--model", str(tiny_dir), "--mode", "model", "--beams", "1", "CCO"]) in (0, 1)
    named = json.loads(capsys.readouterr().out.splitlines()[0])
    assert named["smiles"] == "CCO" and named["id"]
    wrong = _row("CCCO", "propanal", False)
    rid = named["id"]

    assert main(["history", "--correct", str(rid), "ethanoll"]) == 1  # a typo: refused, in words
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("refused: OPSIN cannot read “ethanoll”")
    assert main(["history", "--correct", str(rid), "methanol"]) == 1
    assert "reads “methanol” as CO, not CCO" in capsys.readouterr().err
    assert main(["history", "--correct", str(rid), "ethanol"]) == 0
    assert capsys.readouterr().out.strip() in (f"naming {rid}: corrected: ethanol", f"naming {rid}: correct: ethanol")
    assert main(["history", "--mark-correct", str(wrong)]) == 1
    assert "CCC=O, not CCCO" in capsys.readouterr().err
    assert main(["history", "--correct", str(wrong), "propan-1-ol"]) == 0
    capsys.readouterr()
    assert main(["history", "--mark-correct", "999"]) == 2
    assert capsys.readouterr().err.startswith("error: no naming with id 999")
    assert main(["history", "--correct", "x", "ethanol"]) == 2
    with pytest.raises(SystemExit) as exit_:  # one action at a time
        main(["history", "--mark-correct", "1", "--clear-verdict", "1"])
    assert exit_.value.code == 2
    capsys.readouterr()

    assert main(["history"]) == 0
    listing = capsys.readouterr().out
    assert "yours" in listing.splitlines()[0]
    line = next(x for x in listing.splitlines() if x.split()[0] == str(wrong))
    assert "corrected" in line and "propan-1-ol (was: propanal)" in line
    assert main(["history", "--json", "--search", "propan-1-ol"]) == 0
    (row,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (row["id"], row["user_verdict"], row["user_name"]) == (wrong, "corrected", "propan-1-ol")

    path = tmp_path / "mine.csv"
    assert main(["history", "--export-corrections", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"exported 2 corrections to {path}"
    assert [(p.source, p.target) for p in file_pairs(path, "smiles", "name")] == [("CCO", "ethanol"),
                                                                                  ("CCCO", "propan-1-ol")]
    assert main(["history", "--clear-verdict", str(rid)]) == 0
    assert capsys.readouterr().out.strip() == f"naming {rid}: verdict cleared"
    assert main(["history", "--export-corrections", str(path)]) == 0
    assert len(list(file_pairs(path, "smiles", "name"))) == 1
