"""PubChem pairs (SMILES -> IUPAC name) from the tables shipped in the `chemicals` package."""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from chemnamer.data.case import is_old_style, restore_case
from chemnamer.data.oldstyle import convert_verified
from chemnamer.data.records import Pair

TABLES = {
    "large": "chemical identifiers pubchem large.tsv",
    "small": "chemical identifiers pubchem small.tsv",
    "user": "chemical identifiers example user db.tsv",
}
# Column order of the tables (no header): cid, CAS, formula, MW, SMILES, InChI, InChIKey, IUPAC name,
# common name, synonyms...
COL_SMILES, COL_INCHIKEY, COL_IUPAC = 4, 6, 7


def identifiers_dir() -> Path:
    spec = importlib.util.find_spec("chemicals")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'chemicals' package is missing: pip install --no-deps chemicals")
    return Path(list(spec.submodule_search_locations)[0]) / "Identifiers"


@functools.lru_cache(maxsize=None)
def table_rows(table: str) -> int:
    """Rows (compounds) in one of the TABLES, counted from the file (~60 ms for all three): the wizard
    shows this number, not a typed one that drifts from the data."""
    with (identifiers_dir() / TABLES[table]).open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


@dataclass
class PubChemOptions:
    tables: tuple = ("large",)
    drop_old_style: bool = True  # "oxidanyl"/"chloranyl" names (about a third of the table)
    restore_case: bool = True
    # Rewrite old-style names in current style (oxidanyl → hydroxy ...), kept when OPSIN reads the
    # result back to the row's structure; overrides drop_old_style for the rows it converts.
    convert_old_style: bool = False


@dataclass
class PubChemReport:
    rows: int = 0
    malformed: int = 0
    empty_name: int = 0
    old_style: int = 0  # old-style names dropped
    converted: int = 0  # old-style names rewritten in current style and verified by OPSIN
    case_changed: int = 0
    kept: int = 0
    examples: list = field(default_factory=list)


def pubchem_pairs(opts: PubChemOptions | None = None, report: PubChemReport | None = None) -> Iterator[Pair]:
    opts = opts or PubChemOptions()
    report = report if report is not None else PubChemReport()
    for table in opts.tables:
        path = identifiers_dir() / TABLES[table]
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                report.rows += 1
                cols = line.rstrip("\n").split("\t")
                if len(cols) <= COL_IUPAC or not cols[COL_SMILES]:
                    report.malformed += 1
                    continue
                name = cols[COL_IUPAC].strip()
                if not name:
                    report.empty_name += 1
                    continue
                original = name
                if is_old_style(name) and opts.convert_old_style:
                    conversion = convert_verified(name, cols[COL_SMILES])
                    if conversion.verified:
                        name = conversion.converted
                        report.converted += 1
                if opts.drop_old_style and is_old_style(name):
                    report.old_style += 1
                    continue
                target = restore_case(name) if opts.restore_case else name
                if target != name:
                    report.case_changed += 1
                report.kept += 1
                yield Pair(cols[COL_SMILES], target, cols[COL_INCHIKEY], f"pubchem:{table}:{lineno}",
                           {"cid": cols[0], "pubchem_name": original})
