"""The one reader (chemnamer.readers) under batch naming and training data: decoding, delimiters, records,
and both consumers seeing the same records of the same file."""
from __future__ import annotations

import codecs
import gzip

import pytest
from rdkit import Chem

from chemnamer import batchio
from chemnamer.data.userfile import FileReport, file_pairs, preview
from chemnamer.readers import LineLog, ReadError, open_table, sniff_delimiter, text_lines

LINES = ["smiles;note\r\n", "CCO;café\r\n", "CCN;naïve ±\r\n"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "cp1252"])
def test_every_encoding_gives_the_same_lines(tmp_path, encoding):
    path = tmp_path / "a.csv"
    text = "".join(LINES)
    data = (codecs.BOM_UTF16_BE + text.encode("utf-16-be") if encoding == "utf-16-be-bom"
            else text.encode(encoding))
    path.write_bytes(data)
    log = LineLog()
    assert list(text_lines(path, log)) == LINES
    assert (log.recoded, log.recoded_lines, log.damaged) == ((2, [2, 3], set()) if encoding == "cp1252" else
                                                             (0, [], set()))


def test_mixed_lines_old_mac_line_ends_and_gzip(tmp_path):
    """A Latin-1 line pasted into UTF-8, '\\r' line ends: decoded line by line, numbered as an editor does."""
    data = "smiles,note\rCCO,naïve\r".encode() + "CCC,été\r".encode("latin-1") + b"CCN,x"
    for name, raw in (("m.csv", data), ("m.csv.gz", gzip.compress(data))):
        (tmp_path / name).write_bytes(raw)
        log = LineLog()
        assert list(text_lines(tmp_path / name, log)) == ["smiles,note\r", "CCO,naïve\r", "CCC,été\r", "CCN,x"]
        assert log.recoded_lines == [3]


def test_delimiter_sniffing():
    assert sniff_delimiter("smiles;name\nCCO;ethanol, absolute\n", "smiles") == ";"
    assert sniff_delimiter("id,smiles\n1,CCO\n", "smiles") == ","
    assert sniff_delimiter("smiles\tnote\nCCO\ta;b,c\n", "smiles") == "\t"
    assert sniff_delimiter("mol;id\nCCO;1\nCCN;2\n", "smiles") == ";"  # no such column: the consistent split
    assert sniff_delimiter("smiles\nCCO\n", "smiles", default="\t") == "\t"  # one column: the suffix's
    assert sniff_delimiter("smiles;name\nCCO;ethanol, absolute\n") == ";"  # nothing asked: the consistent split
    assert sniff_delimiter("\nname,smiles;x\n", "name", "smiles;x") == ","  # the split that holds most asked
    assert sniff_delimiter("smiles|name\nCCO |$R1$| x\n") == ","  # '|' is CXSMILES, never a delimiter


def test_sd_records_titles_properties_and_a_broken_one(tmp_path):
    blocks = []
    for smiles, title, props in [("OCC", "eth", {"NAME": "ethanol", "ID": "1"}), ("CCN", "", {"NAME": "x"})]:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", title)
        for k, v in props.items():
            mol.SetProp(k, v)
        blocks.append(Chem.MolToMolBlock(mol) + "".join(f">  <{k}>  (1)\n{v}\n\n" for k, v in props.items()))
    path = tmp_path / "a.sdf"
    path.write_text(blocks[0] + "$$$$\n" + "no counts line\n\nM  EN\n> <NAME>\nbroken\n$$$$\n" + blocks[1])
    table = open_table(path)
    assert table.columns == ["title", "NAME", "ID"] and table.count() == 3
    rows = list(table.rows())
    assert [r.values for r in rows] == [{"title": "eth", "NAME": "ethanol", "ID": "1"}, {"title": "no counts line"},
                                        {"NAME": "x"}]
    assert [r.line for r in rows] == [1, 18, 24]  # where each record starts
    assert rows[1].problem == "broken SD record: no 'M  END' line" and rows[1].reason == "malformed"
    assert rows[0].molblock.startswith("eth\n") and rows[0].molblock.endswith("M  END\n")


def test_both_consumers_read_the_same_records(tmp_path):
    """One Windows-1252 ';' file from Excel, gzipped: batch naming and training data find the same
    delimiter, columns, records and problems, with the same line numbers."""
    text = 'Nr;SMILES;Name\n1;OCC;éthanol\n2;CCN\n;;\n3;CCC;propane;x\n4;CC;"eth\nane"\n'
    path = tmp_path / "excel.csv.gz"
    path.write_bytes(gzip.compress(text.encode("cp1252")))

    source = batchio.open_input(path)
    records = list(source)
    assert (source.delimiter, source.columns, source.column) == (";", ["Nr", "SMILES", "Name"], "SMILES")
    assert [(r.text, r.extra.get("Name"), r.error) for r in records] == [
        ("OCC", "éthanol", None), ("CCN", "", None), (None, "propane", "4 fields, the header has 3"),
        ("CC", "eth\nane", None)]
    assert source.count() == 4 and source.recoded_note() == "excel.csv.gz: 1 line (2) not UTF-8, read as Windows-1252"

    report = FileReport()
    pairs = list(file_pairs(path, "smiles", "name", report=report))
    assert [(p.source, p.target, p.origin) for p in pairs] == [("OCC", "éthanol", "file:excel.csv.gz:2"),
                                                              ("CC", "eth\nane", "file:excel.csv.gz:6")]
    assert (report.rows, report.kept, report.recoded_lines) == (4, 2, [2])
    assert report.messages == ["excel.csv.gz:3: empty 'Name'", "excel.csv.gz:5: 4 fields, the header has 3"]
    assert preview(path)[0] == source.columns


def test_whole_file_problems(tmp_path):
    (tmp_path / "empty.tsv").write_bytes(codecs.BOM_UTF8 + b"\n\n")
    (tmp_path / "a.json").write_text('{"smiles": "CCO"}')
    (tmp_path / "b.json").write_bytes(codecs.BOM_UTF16_LE + '[{"smiles": "CCO"}]'.encode("utf-16-le") + b"\x00")
    (tmp_path / "c.csv.gz").write_bytes(b"not gzip")
    expected = {"x.csv": "x.csv: no such file", "empty.tsv": "empty.tsv is empty",
                "a.json": "a.json: expected a JSON array of objects",
                "b.json": "b.json: line 1 holds bytes that are not UTF-16 text",
                "c.csv.gz": "c.csv.gz: damaged or incomplete gzip file", "d.xls.gz": "unsupported file type '.xls.gz'"}
    for name, message in expected.items():
        with pytest.raises(ReadError, match=message):
            open_table(tmp_path / name).count()
        with pytest.raises(ReadError, match=message):
            batchio.open_input(tmp_path / name).count()
