"""Training data: filters, case restoration, splits, formatting, user files, rule-labelled ZINC."""
import codecs
import gzip
import json
import random
from pathlib import Path

import pytest
from rdkit import Chem

from chemnamer.data.case import is_old_style, restore_case
from chemnamer.data.filters import FilterConfig, rejection
from chemnamer.data.formatting import Template, format_pairs
from chemnamer.data.records import Pair
from chemnamer.data.splits import group_key, split_pairs
from chemnamer.data.userfile import DataError, FileReport, file_pairs, preview



# --- filters (Fauber 2024) -----------------------------------------------------------------------

@pytest.mark.parametrize("smiles, reason", [
    ("CCOP(=O)(OCC)C1CCCCC1", "elements"),  # diethyl cyclohexylphosphonate: P
    ("C1CCCCC1", "mw"),  # cyclohexane, 84 Da
    ("OC(=O)c1cccc2ccccc12", "fsp3"),  # naphthoic acid: flat, Fsp3 0
    ("CCCCCCCCCC(c1ccccc1)(c1ccccc1)c1ccccc1", "phenyl"),  # Fsp3 0.36, 370 Da, but three phenyls
    ("CCCCCCCCCC(=O)O", "rings"),  # decanoic acid: acyclic
    ("CC[NH3+].[Cl-]", "fragments"),  # a salt
    ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", None),  # ibuprofen passes every filter
])
def test_filters(smiles, reason):
    mol = Chem.MolFromSmiles(smiles)
    assert rejection(mol, FilterConfig()) == reason
    assert rejection(mol, FilterConfig.off()) is None
    assert rejection(None, FilterConfig()) == "unparsable"


def test_filter_thresholds_are_configurable():
    cyclohexane = Chem.MolFromSmiles("C1CCCCC1")
    assert rejection(cyclohexane, FilterConfig(mw_min=50)) is None
    assert rejection(cyclohexane, FilterConfig(mw=False)) is None


# --- case restoration ----------------------------------------------------------------------------

@pytest.mark.parametrize("lower, restored", [
    ("(2r)-2-aminopropanoic acid", "(2R)-2-aminopropanoic acid"),
    ("n,n-dimethylformamide", "N,N-dimethylformamide"),
    ("9-ethyl-9h-purin-6-amine", "9-ethyl-9H-purin-6-amine"),
    ("(e)-but-2-enedioic acid", "(E)-but-2-enedioic acid"),
    ("(4ar,8as)-1,2,3,4,4a,5,6,7,8,8a-decahydronaphthalene", "(4aR,8aS)-1,2,3,4,4a,5,6,7,8,8a-decahydronaphthalene"),
    ("(2s,3r)-3-methylpentan-2-ol", "(2S,3R)-3-methylpentan-2-ol"),
    ("2-[(1r)-1-hydroxyethyl]-1h-indole", "2-[(1R)-1-hydroxyethyl]-1H-indole"),
    ("n1,n4-dimethylbenzene-1,4-diamine", "N1,N4-dimethylbenzene-1,4-diamine"),
    ("s-ethyl ethanethioate", "S-ethyl ethanethioate"),
    ("(nz)-n-(1-phenylethylidene)hydroxylamine", "(NZ)-N-(1-phenylethylidene)hydroxylamine"),  # oxime N
    ("(3s,3'r,3'as)-spiro", "(3S,3'R,3'aS)-spiro"),  # primed ring-fusion locant
    ("n',n''-dimethyl", "N',N''-dimethyl"),
    ("1,3-dihydro-2h-pyrrol-2-one", "1,3-dihydro-2H-pyrrol-2-one"),
    # letters that are not locants stay lowercase
    ("pyrazolo[3,4-d]pyrimidin-4-amine", "pyrazolo[3,4-d]pyrimidin-4-amine"),
    ("2,8-dinitrodibenzo-p-dioxin", "2,8-dinitrodibenzo-p-dioxin"),
    ("benzo[h]chromen-2-one", "benzo[h]chromen-2-one"),
    ("4-methoxy-n-propylbenzamide", "4-methoxy-N-propylbenzamide"),
    ("oxolane", "oxolane"),
    ("ethyl (2e)-3-phenylprop-2-enoate", "ethyl (2E)-3-phenylprop-2-enoate"),
])
def test_restore_case(lower, restored):
    assert restore_case(lower) == restored
    assert restore_case(restored) == restored  # idempotent


def test_old_style():
    assert is_old_style("2-chloranylethanol") and not is_old_style("2-chloroethanol")


def test_restored_names_parse_at_least_as_often(opsin):
    """On PubChem rows whose case changes, OPSIN reads the restored names back to the row's
    structure at least as often as the lowercase originals."""
    from chemnamer.data.pubchem import PubChemOptions, pubchem_pairs

    rows = [p for p in pubchem_pairs(PubChemOptions(restore_case=False)) if restore_case(p.target) != p.target]
    sample = random.Random(0).sample(rows, 300)
    lower = sum(opsin.name_to_structure(p.target).inchikey == p.inchikey for p in sample)
    restored = sum(opsin.name_to_structure(restore_case(p.target)).inchikey == p.inchikey for p in sample)
    print(f"\nOPSIN -> row's InChIKey, of {len(sample)}: lowercase {lower}, restored {restored}")
    assert restored >= lower


# --- splits --------------------------------------------------------------------------------------

def _keyed_pairs():
    # 40 skeletons x 3 stereoisomers: the first InChIKey block is the skeleton
    return [Pair(f"S{s}x{v}", f"n{s}x{v}", f"{chr(65 + s % 26)}{s:013d}-{'ABCDEFGH'[v]}BCDEFGHSA-N")
            for s in range(40) for v in range(3)]


def test_split_keeps_skeletons_together():
    pairs = _keyed_pairs()
    train, valid, test = split_pairs(pairs, n_valid=10, n_test=20, seed=0)
    assert len(train) + len(valid) + len(test) == len(pairs)
    where = {}
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        for p in split:
            assert where.setdefault(p.inchikey.split("-")[0], name) == name
    assert len(test) >= 20 and len(valid) >= 10 and len(test) % 3 == 0


def test_split_is_deterministic():
    pairs = _keyed_pairs()
    a = split_pairs(pairs, 10, 20, seed=3)
    shuffled = pairs[:]
    random.Random(1).shuffle(shuffled)
    assert split_pairs(pairs, 10, 20, seed=3) == a
    # which split a molecule lands in does not depend on the input order either
    members = [sorted(p.source for p in split) for split in split_pairs(shuffled, 10, 20, seed=3)]
    assert members == [sorted(p.source for p in split) for split in a]
    assert split_pairs(pairs, 10, 20, seed=4) != a


def test_scaffold_split_keeps_scaffolds_together():
    smiles = ["Cc1ccccc1", "CCc1ccccc1", "Oc1ccccc1", "Nc1ccccc1",  # benzene
              "CC1CCCCC1", "OC1CCCCC1", "NC1CCCCC1",  # cyclohexane
              "Cc1ccncc1", "Oc1ccncc1", "CCc1ccncc1",  # pyridine
              "Cc1ccc2ccccc2c1", "Oc1ccc2ccccc2c1",  # naphthalene
              "CC1CCOC1", "OC1CCOC1", "CCC1CCOC1"]  # oxolane
    pairs = [Pair(s, f"m{i}", Chem.MolToInchiKey(Chem.MolFromSmiles(s))) for i, s in enumerate(smiles)]
    train, valid, test = split_pairs(pairs, n_valid=3, n_test=3, seed=0, how="scaffold")
    where = {}
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        for p in split:
            assert where.setdefault(group_key(p, "scaffold"), name) == name
    assert len(where) == 5
    assert group_key(pairs[0], "scaffold") == group_key(pairs[3], "scaffold") != group_key(pairs[4], "scaffold")


# --- formatting ----------------------------------------------------------------------------------

def test_inversion():
    pairs = [Pair(f"C{i}", f"name{i}") for i in range(100)]
    t = Template("SMILES: {source}", "\nIUPAC: ")
    assert all(e.inverted and e.response == f"C{i}" and "name" in e.prompt
               for i, e in enumerate(format_pairs(pairs, t, 1.0)))
    assert not any(e.inverted for e in format_pairs(pairs, t, 0.0))
    quarter = format_pairs(pairs, t, 0.25, seed=1)
    assert sum(e.inverted for e in quarter) == 25
    assert quarter == format_pairs(pairs, t, 0.25, seed=1)
    assert format_pairs(pairs, t)[0].prompt == "SMILES: C0\nIUPAC: "
    with pytest.raises(ValueError):
        format_pairs(pairs, t, 1.5)


def test_template_needs_source():
    with pytest.raises(ValueError, match="source"):
        Template("Name this molecule:")


# --- user files ----------------------------------------------------------------------------------

CSV = ('SMILES,Name,formula\n'
       'CCO,ethanol,C2H6O\n'
       'c1ccccc1,benzene,C6H6\n'
       'C1CC,bad ring,X\n'  # unclosed ring: RDKit rejects it
       'CC(=O)O,,C2H4O2\n'  # empty target
       '"CCN","ethan\namine",C2H7N\n'  # a quoted field across two lines
       'CCC,propane\n'  # too few fields: the missing cells are empty (as in batch naming)
       '\n'
       'CCCC,butane,C4H10,\n'  # trailing delimiter: tolerated
       ',,\n'  # Excel's blank row: no row
       'CCCCC,pentane,C5H12,extra\n')  # too many fields


def _lines(report):
    return [m.split(":")[1] for m in report.messages]


def test_csv(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text(CSV)
    report = FileReport()
    pairs = list(file_pairs(path, "smiles", "name", report=report))  # column names: any case
    assert [(p.source, p.target) for p in pairs] == [("CCO", "ethanol"), ("c1ccccc1", "benzene"),
                                                    ("CCN", "ethan\namine"), ("CCC", "propane"), ("CCCC", "butane")]
    assert pairs[0].inchikey == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N" and pairs[0].origin == "file:mols.csv:2"
    assert (report.rows, report.kept) == (8, 5)
    assert report.bad_rows == {"invalid SMILES": 1, "empty target": 1, "malformed": 1}
    assert _lines(report) == ["4", "5", "12"]
    assert "mols.csv:4: 'C1CC'" in report.messages[0] and "empty 'Name'" in report.messages[1]
    assert report.messages[2] == "mols.csv:12: 4 fields, the header has 3"
    # any two columns, either direction; no SMILES check when the source is not one
    report = FileReport()
    formula = list(file_pairs(path, "SMILES", "formula", report=report))
    assert formula[0].target == "C2H6O" and "mols.csv:8: empty 'formula'" in report.messages
    to_smiles = list(file_pairs(path, "Name", "SMILES", smiles_source=False))
    assert ("bad ring", "C1CC") in [(p.source, p.target) for p in to_smiles] and to_smiles[0].inchikey == ""


def test_tsv_and_semicolons(tmp_path):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("smiles\tname\nCCO\tethanol\nCCN\tethanamine\n")
    assert [p.target for p in file_pairs(tsv, "smiles", "name")] == ["ethanol", "ethanamine"]
    semi = tmp_path / "b.csv"
    semi.write_text("smiles;name\nCCO;ethanol\n")  # European CSV: sniffed from the header
    assert [p.target for p in file_pairs(semi, "smiles", "name")] == ["ethanol"]


def test_jsonl(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"smiles": "CCO", "name": "ethanol", "n": 1}\n{"smiles": "CCN"}\nnot json\n[1, 2]\n'
                    '\n{"smiles": "CO", "name": "methanol"}\n')
    report = FileReport()
    pairs = list(file_pairs(path, "smiles", "name", report=report))
    assert [p.target for p in pairs] == ["ethanol", "methanol"] and pairs[1].origin == "file:a.jsonl:6"
    assert report.bad_rows == {"missing value": 1, "malformed": 2} and _lines(report) == ["2", "3", "4"]
    assert preview(path) == (["smiles", "name", "n"], [["CCO", "ethanol", "1"], ["CCN", "", ""],
                                                       ["CO", "methanol", ""]])


def test_sdf(tmp_path):
    path = tmp_path / "a.sdf"
    writer = Chem.SDWriter(str(path))
    for smiles, name in [("OCC", "ethanol"), ("c1ccccc1", "benzene"), ("CCN", "")]:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("NAME", name)
        mol.SetProp("ID", f"id-{name}")
        writer.write(mol)
    writer.close()
    report = FileReport()
    pairs = list(file_pairs(path, "smiles", "NAME", report=report))  # 'smiles' from the molblock
    assert [(p.source, p.target) for p in pairs] == [("CCO", "ethanol"), ("c1ccccc1", "benzene")]
    assert report.bad_rows == {"empty target": 1} and report.messages[0].startswith("a.sdf:")
    assert [p.target for p in file_pairs(path, "NAME", "ID", smiles_source=False)] == ["id-ethanol", "id-benzene"]
    columns, rows = preview(path)
    assert columns == ["NAME", "ID", "smiles"] and rows[0] == ["ethanol", "id-ethanol", "CCO"]


def test_extra_input_columns_become_named_template_inputs(tmp_path):
    """Any input columns: the first is {source}, each further one rides in Pair.extra under its
    sanitized name, through the splits (DataConfig.extra_columns) into a two-input prompt."""
    from chemnamer.data.build import build_splits
    from chemnamer.data.userfile import input_names
    from chemnamer.recipe import ConfigError, DataConfig, load_recipe

    assert input_names(["Rule", "rule", "Rule name", "2nd try", "source", "Ätzend"]) == {
        "Rule": "rule", "rule": "rule_2", "Rule name": "rule_name", "2nd try": "c2nd_try", "source": "source_2",
        "Ätzend": "tzend"}
    path = tmp_path / "guided.csv"
    path.write_text("smiles,Rule,name,note\nCCO,ethanol,ethanol,a\nClc1ccc(cc1)C(N)=O,4-chlorobenzamide,"
                    "4-chlorobenzamide,\nCCN,,ethanamine,c\n")
    pairs = list(file_pairs(path, "smiles", "name", extra_columns=["Rule", "note"]))
    assert [p.extra for p in pairs] == [{"rule": "ethanol", "note": "a"},
                                        {"rule": "4-chlorobenzamide", "note": ""},
                                        {"rule": "", "note": "c"}]  # an empty cell is an empty input
    template = Template("SMILES: {source}\nRule: {rule}", "\nIUPAC: ")
    assert format_pairs(pairs[1:2], template)[0].prompt == \
        "SMILES: Clc1ccc(cc1)C(N)=O\nRule: 4-chlorobenzamide\nIUPAC: "
    jsonl = tmp_path / "guided.jsonl"
    jsonl.write_text('{"smiles": "CCO", "name": "ethanol", "rule": "ethanol"}\n{"smiles": "CO", "name": "methanol"}\n')
    report = FileReport()
    assert [p.extra for p in file_pairs(jsonl, "smiles", "name", report=report, extra_columns=["rule"])] == [
        {"rule": "ethanol"}]
    assert report.bad_rows == {"missing value": 1} and "no 'rule'" in report.messages[0]
    with pytest.raises(DataError, match="no column 'draft'"):
        list(file_pairs(path, "smiles", "name", extra_columns=["draft"]))

    cfg = DataConfig(source="file", path=str(path), extra_columns=["Rule"], filters=FilterConfig.off(),
                     n_valid=0, n_test=1)
    train, valid, test, _ = build_splits(cfg, cache=False)
    assert sorted(p.extra["rule"] for p in train + test) == ["", "4-chlorobenzamide", "ethanol"]
    # a template may use only the file's inputs: said when the recipe loads, not mid-training
    with pytest.raises(ConfigError, match=r"uses \{rule\}, which is not an input"):
        load_recipe(None, ["data.source=file", f"data.path={path}", "format.instruction=SMILES: {source} {rule}"])
    ok = load_recipe(None, ["data.source=file", f"data.path={path}", "data.extra_columns=['Rule']",
                            "format.instruction=SMILES: {source} {rule}"])
    assert ok.data.extra_columns == ["Rule"]
    with pytest.raises(ConfigError, match="data.extra_columns"):
        load_recipe(None, ["data.extra_columns=['Rule']"])  # the PubChem source has no such columns


def test_encodings_and_gzip(tmp_path):
    """Text as batch naming reads it (one reader): a Windows-1252 line (Excel's "CSV") is kept and counted
    by line; UTF-16 from Excel works; damaged bytes cost their row only, reported with its line; gzip works."""
    path = tmp_path / "latin1.csv"
    path.write_bytes("smiles,name\nCCO,éthanol\nCCN,ethanamine\n".encode("latin-1"))
    report = FileReport()
    pairs = list(file_pairs(path, "smiles", "name", report=report))
    assert [p.target for p in pairs] == ["éthanol", "ethanamine"]
    assert (report.bad_rows, report.recoded, report.recoded_lines) == ({}, 1, [2])
    utf16 = tmp_path / "excel.txt"  # Excel's "Unicode text": UTF-16 with BOM, tab-separated
    utf16.write_bytes("smiles\tname\nCCO\téthanol\n".encode("utf-16"))
    assert [p.target for p in file_pairs(utf16, "smiles", "name")] == ["éthanol"]
    damaged = tmp_path / "damaged.txt"  # a lone surrogate where "b" was, and an odd byte at the end
    text = "smiles\tname\nCCO\tb\nCCN\tethanamine\n".encode("utf-16-le").replace("b".encode("utf-16-le"), b"\x00\xd8")
    damaged.write_bytes(codecs.BOM_UTF16_LE + text + "CO\tmethanol".encode("utf-16-le") + b"\x00")
    report = FileReport()
    assert [p.target for p in file_pairs(damaged, "smiles", "name", report=report)] == ["ethanamine"]
    assert report.bad_rows == {"encoding": 2} and report.messages == [
        "damaged.txt:2: line 2 holds bytes that are not UTF-16 text",
        "damaged.txt:4: line 4 holds bytes that are not UTF-16 text"]
    gz = tmp_path / "pairs.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert [p.target for p in file_pairs(gz, "smiles", "name")] == ["éthanol", "ethanamine"]
    (tmp_path / "cut.csv.gz").write_bytes(gz.read_bytes()[:-6])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: damaged or incomplete gzip file"):
        list(file_pairs(tmp_path / "cut.csv.gz", "smiles", "name"))


def test_unusable_files(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("smiles,name\nCCO,ethanol\n")
    with pytest.raises(DataError, match=r"a\.csv: no column 'iupac' \(columns: 'smiles', 'name'\)"):
        list(file_pairs(path, "smiles", "iupac"))
    with pytest.raises(DataError, match="missing.csv: no such file"):
        list(file_pairs(tmp_path / "missing.csv", "smiles", "name"))
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        list(file_pairs(tmp_path / "a.xlsx", "smiles", "name"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv is empty"):
        preview(tmp_path / "empty.csv")


def test_many_bad_rows_keep_twenty_messages(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("smiles,name\n" + "".join(f"X{i}(,n{i}\n" for i in range(50)) + "CCO,ethanol\n")
    report = FileReport()
    assert len(list(file_pairs(path, "smiles", "name", report=report))) == 1
    assert report.bad_rows == {"invalid SMILES": 50} and len(report.messages) == 20


# --- rule-labelled ZINC --------------------------------------------------------------------------

def test_label_smiles_timeout():
    pytest.importorskip("openclatura")
    from chemnamer.data.zinc import label_smiles

    lab = label_smiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O", timeout_s=1e-4)
    assert lab.reason == "timeout" and lab.name is None
    assert label_smiles("C1CC").reason == "invalid_smiles"


@pytest.fixture
def zinc(tmp_path, monkeypatch, opsin):
    """chemnamer.data.zinc with a fresh cache folder (skipped without openclatura or the MOSES files)."""
    pytest.importorskip("openclatura")
    from chemnamer.data import zinc

    try:
        zinc.moses_files()
    except zinc.ZincError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("CHEMNAMER_CACHE", str(tmp_path))
    return zinc


def test_zinc_build_resumes(zinc, tmp_path, opsin):
    first = zinc.build_zinc(5, workers=1, chunk_size=10, progress=False)
    assert "error" not in first, first
    assert first["chunks"]["built"] == 1 and first["run"]["molecules"] == 10
    assert first["pairs"] + sum(first["rejected"].values()) == 10
    chunk0 = tmp_path / "zinc" / "chunk-000000.jsonl"
    stamp = chunk0.stat().st_mtime_ns

    second = zinc.build_zinc(first["pairs"] + 5, workers=1, chunk_size=10, progress=False)
    assert second["chunks"]["cached"] == 1 and second["chunks"]["built"] >= 1
    assert chunk0.stat().st_mtime_ns == stamp  # not redone
    assert second["pairs"] >= first["pairs"] + 5 and second["molecules"] == 10 * second["chunks"]["available"]

    again = zinc.build_zinc(second["pairs"], workers=1, chunk_size=10, progress=False)
    assert again["chunks"]["built"] == 0 and again["run"]["molecules"] == 0  # nothing to do, no worker
    assert "error" in zinc.build_zinc(5, chunk_size=20, progress=False)  # other settings: refused

    pairs = list(zinc.cached_zinc_pairs())
    assert len(pairs) == second["pairs"]
    rows = [int(p.origin.removeprefix("zinc:")) for p in pairs]
    assert rows == sorted(rows) and rows[-1] < 10 * second["chunks"]["available"]  # csv order
    for p in pairs:
        assert p.inchikey == Chem.MolToInchiKey(Chem.MolFromSmiles(p.source))
        check = opsin.verify(p.target, p.inchikey)
        assert check.verified, (p, check)
    assert list(zinc.cached_zinc_pairs(limit=3)) == pairs[:3]
    with pytest.raises(zinc.ZincError, match="data build --source zinc"):
        list(zinc.cached_zinc_pairs(limit=len(pairs) + 1))



def test_zinc_worker_killed_mid_chunk_is_replaced_and_its_molecule_skipped(zinc, monkeypatch):
    """A worker that dies mid-chunk (killed here, as a crash or the OOM killer would): the parent
    starts a fresh one, hands it the chunk again with the molecule after the last one reported
    skipped as worker_lost, and the build completes."""
    import threading
    import time

    spawned = []
    real_spawn = zinc._spawn

    def spawn(*args):  # the real worker, remembered so the test can kill it
        slot = real_spawn(*args)
        spawned.append(slot)
        return slot

    monkeypatch.setattr(zinc, "_spawn", spawn)
    box: dict = {}
    build = threading.Thread(target=lambda: box.update(report=zinc.build_zinc(
        5, workers=1, chunk_size=60, progress=False)))
    build.start()
    deadline = time.monotonic() + 600
    while not (spawned and spawned[0].ready and spawned[0].pos >= 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spawned and spawned[0].pos >= 0, "the first worker never started labelling"
    spawned[0].child.proc.kill()
    build.join(600)
    report = box["report"]
    assert "error" not in report, report
    assert len(spawned) >= 2 and not spawned[0].child.alive  # a fresh worker took over
    assert report["rejected"].get("worker_lost") == 1  # the culprit only, not the chunk
    assert report["chunks"]["built"] >= 1 and report["chunks"]["failed"] == 0
    assert report["molecules"] == 60 * report["chunks"]["available"]

def test_cli_data_build(tmp_path, monkeypatch, capsys):
    from chemnamer.cli import main

    monkeypatch.setenv("CHEMNAMER_CACHE", str(tmp_path))
    assert main(["data", "build"]) == 2
    recipe = tmp_path / "r.toml"
    data = tmp_path / "pairs.csv"
    data.write_text("smiles,name\n" + "".join(f"{'C' * i}O,alkanol {i}\n" for i in range(1, 30)))
    recipe.write_text(f'[data]\nsource = "file"\npath = "{data}"\nn_valid = 2\nn_test = 3\n'
                      f'[data.filters]\nrings = false\nfsp3 = false\nmw_min = 0.0\n')
    capsys.readouterr()
    assert main(["data", "build", "--recipe", str(recipe)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sizes"]["test"] == 3 and report["sources"]["file"]["kept"] == 29
    assert sum(report["sizes"].values()) == report["filters"]["kept"]


def test_default_split_hashes_match_the_model_card():
    """The shipped default model's data is rebuilt bit for bit: the hashes of its train/valid/test
    splits (data_hash: every SMILES and name, in order) are the ones its card states."""
    import re
    from pathlib import Path

    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe

    root = Path(__file__).resolve().parent.parent
    card = (root / "resources/models/default/MODEL_CARD.md").read_text()
    stated = dict(re.findall(r"(train|valid|test) hash ([0-9a-f]{16})", card))
    assert set(stated) == {"train", "valid", "test"}, stated
    *_, report = build_splits(load_recipe(root / "training/recipes/default.toml").data)
    assert report["hash"] == stated


def test_zinc_labelling_never_reads_the_held_out_moses_test_split():
    """The drug-like evaluation set is drawn from MOSES' test split: none of it may become training data,
    in file order or in a seeded permutation."""
    from chemnamer.data import zinc

    try:
        files = zinc.moses_files()
    except zinc.ZincError as exc:
        pytest.skip(str(exc))
    import gzip

    with gzip.open(next(f for f in files if f.name == zinc.HELD_OUT), "rt") as fh:
        held_out = {line.strip() for line in list(fh)[1:]}
    rows = list(zinc.smiles_rows(seed=0))
    assert rows and not held_out & {s for _, s in rows}
    assert [r for r, _ in rows[:3]] == [0, 1, 2]  # train rows keep their numbers: built chunks stay valid
    assert not held_out & {s for _, s in zinc.smiles_rows(seed=1)}


def test_hold_out_keeps_another_recipes_validation_and_test_molecules_out_of_training(tmp_path):
    """A recipe over a larger population (no mass bound) splits the hash order differently: without
    hold_out it trains on some of the smaller recipe's test molecules; with it, on none."""
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe

    root = Path(__file__).resolve().parent.parent
    small = tmp_path / "small.toml"
    small.write_text((root / "training/recipes/smoke.toml").read_text())
    wide = ["data.limit_train=0", "data.filters.mw_min=0.0", "data.n_test=4", "data.n_valid=4"]

    def skeletons(pairs):
        return {p.inchikey.split("-")[0] for p in pairs}

    _, valid, test, _ = build_splits(load_recipe(small).data)
    held = skeletons(valid + test)
    leaky, *_ = build_splits(load_recipe(small, wide).data)
    assert skeletons(leaky) & held  # the leak this option exists for
    train, *_, report = build_splits(load_recipe(small, [*wide, f"data.hold_out=['{small}']"]).data)
    assert not skeletons(train) & held
    assert report["held_out"]["dropped"] == len(leaky) - len(train) > 0


def test_hold_out_follows_the_held_recipe_and_refuses_a_cycle(tmp_path):
    """Editing a held-out recipe rebuilds the split that holds it out; two recipes holding each other
    out are an error, not an endless recursion."""
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe

    root = Path(__file__).resolve().parent.parent
    small = tmp_path / "small.toml"
    smoke = (root / "training/recipes/smoke.toml").read_text()
    small.write_text(smoke)
    wide = ["data.limit_train=0", "data.filters.mw_min=0.0", "data.n_test=4", "data.n_valid=4",
            f"data.hold_out=['{small}']"]
    build_splits(load_recipe(small, wide).data)
    small.write_text(smoke.replace("n_test = 16", "n_test = 64"))
    _, valid, test, _ = build_splits(load_recipe(small).data)
    train, *_ = build_splits(load_recipe(small, wide).data)
    assert not {p.inchikey.split("-")[0] for p in train} & {p.inchikey.split("-")[0] for p in valid + test}

    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(smoke.replace("[data]\n", f"[data]\nhold_out = ['{b}']\n"))
    b.write_text(smoke.replace("[data]\n", f"[data]\nhold_out = ['{a}']\n"))
    with pytest.raises(ValueError, match="holds itself out"):
        build_splits(load_recipe(a).data)


def test_missing_drafts_name_the_build_that_makes_them(tmp_path, monkeypatch):
    """No PubChem drafts built: the error names `--source pubchem-rules`, not a ZINC build."""
    from chemnamer.data import guided, zinc

    monkeypatch.setenv("CHEMNAMER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(zinc.ZincError, match="data build --source pubchem-rules`$") as err:
        guided.cached_drafts()
    assert "ZINC" not in str(err.value) and "--source zinc" not in str(err.value)


def test_zinc_task_tags_the_rule_named_pairs_only(zinc):
    """data.zinc_task: the mixed-in ZINC pairs are asked for under their own task tag, PubChem's rows
    (and naming, the template's default) under "IUPAC"; a recipe without {task} is refused."""
    from chemnamer.data.build import source_pairs
    from chemnamer.data.formatting import Template, format_pairs
    from chemnamer.recipe import ConfigError, load_recipe

    built = zinc.build_zinc(4, workers=1, chunk_size=10, progress=False)
    assert built["pairs"] >= 4
    root = Path(__file__).resolve().parents[1]
    recipe = load_recipe(root / "training/recipes/generalist-stage4.toml", ["data.zinc_pairs=4", "data.convert_old_style=false"])  # fast: no OPSIN pass
    pairs = list(source_pairs(recipe.data, {}))
    zinc_rows = [p for p in pairs if p.origin.startswith("zinc:")]
    assert len(zinc_rows) == 4 and all(p.extra["task"] == "Rules" for p in zinc_rows)
    assert not any("task" in p.extra for p in pairs[:50])  # the PubChem rows come first
    template = Template(recipe.format.instruction, recipe.format.response_marker, recipe.format.defaults)
    examples = format_pairs([pairs[0], zinc_rows[0]], template)
    assert examples[0].prompt == f"SMILES: {pairs[0].source}\nIUPAC: "
    assert examples[1].prompt == f"SMILES: {zinc_rows[0].source}\nRules: "
    assert template.prompt("CCO") == "SMILES: CCO\nIUPAC: "  # what naming asks for
    with pytest.raises(ConfigError, match="data.zinc_task"):
        load_recipe(root / "training/recipes/generalist-stage3.toml", ["data.zinc_task=Rules"])
