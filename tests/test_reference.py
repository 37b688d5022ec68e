"""Reference names: the PubChem SQLite table and the time-bounded rule-based namer."""
import sqlite3
import threading
import time

import pytest

from chemnamer import reference
from chemnamer.reference import ReferenceRecord, ReferenceTable, get_reference_table
from chemnamer.rulebased import RuleNamer, rule_based_name

ASPIRIN_KEY = "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"


@pytest.fixture(scope="module")
def table():
    t0 = time.perf_counter()
    table = get_reference_table()  # shared user cache: built once per machine
    took = table.build_s if table.build_s is not None else time.perf_counter() - t0
    print(f"\nreference table: {'built' if table.build_s else 'opened'} in {took:.2f} s")
    return table


def test_singleton(table):
    assert get_reference_table() is table
    assert len(table) > 70_000


def test_lookup_aspirin_from_user_db(table):
    rec = table.lookup(ASPIRIN_KEY)
    assert isinstance(rec, ReferenceRecord)
    assert (rec.cid, rec.cas, rec.iupac_name, rec.common_name) == (
        2244, "50-78-2", "2-acetyloxybenzoic acid", "aspirin")
    assert rec.source == "example user db"
    assert "acetylsalicylic acid" in rec.synonyms
    assert table.lookup(ASPIRIN_KEY.lower()) == rec
    assert table.lookup("AAAAAAAAAAAAAA-UHFFFAOYSA-N") is None
    assert table.lookup("") is None


def test_lookup_pubchem_large(table):
    rec = table.lookup("MUIPLRMGAXZWSQ-UHFFFAOYSA-N")
    assert rec.source == "pubchem large"
    assert (rec.cid, rec.iupac_name, rec.common_name, rec.smiles) == (
        7, "9-ethylpurin-6-amine", "9-ethyladenine", "CCN1C=NC2=C1N=CN=C2N")
    assert rec.formula == "C7H9N5" and rec.mw == pytest.approx(163.18, abs=0.01)
    t0 = time.perf_counter()
    for _ in range(1000):
        table.lookup("MUIPLRMGAXZWSQ-UHFFFAOYSA-N")
    print(f"\nlookup: {(time.perf_counter() - t0):.3f} ms")  # 1000 lookups, so s → ms per lookup


def test_duplicates_prefer_pubchem_large(table):
    con = sqlite3.connect(f"file:{table.path}?mode=ro", uri=True)
    key, ranks = con.execute(
        "SELECT inchikey, group_concat(DISTINCT rank) FROM compound WHERE inchikey != ''"
        " GROUP BY inchikey HAVING count(DISTINCT rank) > 1 AND min(rank) = 0 LIMIT 1").fetchone()
    con.close()
    assert table.lookup(key).source == "pubchem large"


def test_search(table):
    hits = table.search("Aspirin", limit=5)
    assert hits[0].inchikey == ASPIRIN_KEY and len(hits) == 5
    assert table.search("50-78-2")[0].inchikey == ASPIRIN_KEY  # CAS
    assert table.search(ASPIRIN_KEY.lower())[0].cid == 2244  # InChIKey
    assert table.search("2-acetyloxybenzoic acid")[0].cid == 2244  # IUPAC name
    assert table.search("9-ethyladenine")[0].cid == 7  # common name, PubChem large
    assert table.search("n9-ethyladenine")[0].cid == 7  # synonym
    prefix = table.search("acetylsal", limit=3)
    assert len(prefix) == 3 and all(
        any(n.startswith("acetylsal") for n in [r.common_name, *r.synonyms]) for r in prefix)
    assert table.search("zzqqxxjj") == [] and table.search("  ") == []


def test_iter_records(table):
    first = next(table.iter_records())
    assert first.source == "pubchem large" and first.cid == 7


def test_threads_each_get_a_connection(table):
    keys = []
    workers = [threading.Thread(target=lambda: keys.append(table.lookup(ASPIRIN_KEY).cid))
               for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert keys == [2244] * 4


def test_schema_change_rebuilds(tmp_path, monkeypatch):
    """A file with another schema version is rebuilt; the import runs from a tiny TSV here."""
    folder = tmp_path / "Identifiers"
    folder.mkdir()
    (folder / "chemical identifiers pubchem large.tsv").write_text(
        "2244\t50-78-2\tC9H8O4\t180.16\tCC(=O)Oc1ccccc1C(=O)O\tC9H8O4/...\t"
        "BSYNRYMUTXBXSQ-UHFFFAOYSA-N\t2-acetyloxybenzoic acid\taspirin\tasa\tacetylsalicylic acid\n"
        "bad line\n")
    monkeypatch.setattr(reference, "identifiers_dir", lambda: folder)
    path = tmp_path / "ref.sqlite"
    first = ReferenceTable(path)
    assert first.build_s is not None and len(first) == 1
    assert first.lookup(ASPIRIN_KEY).synonyms == ["asa", "acetylsalicylic acid"]
    assert ReferenceTable(path).build_s is None  # current: just opened
    monkeypatch.setattr(reference, "SCHEMA_VERSION", reference.SCHEMA_VERSION + 1)
    assert ReferenceTable(path).build_s is not None
    assert list(tmp_path.glob(".reference-*")) == []  # no temp file left behind


# --- rule-based names ----------------------------------------------------------------------------


def test_rule_based_names():
    cases = {
        "CC(=O)Oc1ccccc1C(=O)O": "2-(acetyloxy)benzoic acid",
        "C[C@@H](C(=O)O)N": "(2S)-2-aminopropanoic acid",
        "CC(=O)[O-].[Na+]": "sodium acetate",
        "C/C=C/C": "(2E)-but-2-ene",
    }
    rule_based_name("C")  # start the worker (not part of the per-molecule cost)
    t0 = time.perf_counter()
    for smiles, name in cases.items():
        result = rule_based_name(smiles)
        assert (result.name, result.error) == (name, None), result
        assert result.ms > 0
    print(f"\nrule-based: {(time.perf_counter() - t0) * 1000 / len(cases):.1f} ms/molecule")
    failed = rule_based_name("[Xe]")
    assert failed.name is None and failed.error == "openclatura could not name this structure"


def test_rule_based_timeout_then_recovers():
    namer = RuleNamer()
    try:
        assert namer.start() is None
        timed_out = namer.name("CCCCCCCCO", timeout_s=0.001)
        assert timed_out.name is None
        assert timed_out.error == "rule-based naming timed out after 0.001 s"
        again = namer.name("CCCCCCCCO")
        assert (again.name, again.error) == ("octan-1-ol", None)
        assert namer.starts == 2  # killed once, restarted once
        assert namer.name("CCO").name == "ethanol" and namer.starts == 2  # reused
    finally:
        namer.close()
    assert namer._child is None


def test_process_wide_workers_are_one_per_namer():
    from chemnamer.rulebased import get_rule_namer

    # made on first use, once per namer whichever way it is asked for (the default spelled out or not)
    assert get_rule_namer() is get_rule_namer("openclatura") is get_rule_namer(namer="openclatura")
    assert get_rule_namer("nispo") is not get_rule_namer() and get_rule_namer("nispo").namer == "nispo"
