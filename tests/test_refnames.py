"""Reference names as shown (chemnamer.refnames): PubChem's markup printed as IUPAC prints it, checked by
OPSIN on every such name of the shipped tables; component lists ("sodium;chloride") never taken for names."""
from __future__ import annotations

import re

import pytest

from chemnamer.refnames import clean_name, components, is_component_list

MARKUP = re.compile(r"[$^{}\\]")


def test_clean_name_prints_markup_or_drops_it():
    assert clean_name("$l^{3}-carbane") == "λ³-carbane"
    assert clean_name("2,2,4,4,6,6-hexakis(aziridin-1-yl)-1,3,5-triaza-2$l^{5},4$l^{5},6$l^{5}-triphosphacyclohexa"
                      "-1,3,5-triene") == ("2,2,4,4,6,6-hexakis(aziridin-1-yl)-1,3,5-triaza-2λ⁵,4λ⁵,6λ⁵-triphospha"
                                           "cyclohexa-1,3,5-triene")
    assert clean_name("tricyclo[3.3.1.1^{3,7}]decane") == "tricyclo[3.3.1.1³,⁷]decane"
    assert clean_name('"n,n,n\',n\',n"",n""-hexamethylmethanetriamine"') == 'n,n,n\',n\',n",n"-hexamethylmethanetriamine'
    assert clean_name("(c\\{60}-i\\{h})[5,6]fullerene") is None  # no plain-text form: dropped, not shown raw
    assert clean_name("") is None and clean_name(None) is None and clean_name("  ") is None
    assert clean_name(" 2-acetyloxybenzoic acid ") == "2-acetyloxybenzoic acid"


def test_component_lists():
    assert is_component_list("sodium;chloride") and components("sodium;chloride") == ["sodium", "chloride"]
    assert not is_component_list("sodium chloride") and not is_component_list(None)


def test_every_markup_name_of_the_tables_reads_back_to_its_structure():
    """The printed form is what is shown and verified: OPSIN must read it wherever it read the markup."""
    from chemnamer.data.case import restore_case
    from chemnamer.data.pubchem import TABLES, identifiers_dir
    from chemnamer.opsin import get_opsin

    opsin = get_opsin()
    if not opsin.available():
        pytest.skip(f"OPSIN unavailable: {opsin.unavailable_reason}")
    n = raw_ok = clean_ok = lost = dropped = 0
    for table in TABLES.values():
        for line in open(identifiers_dir() / table, encoding="utf-8"):
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 9 or is_component_list(cols[7]) or not re.search(r'[$^{}\\"]', cols[7]):
                continue
            n += 1
            raw, key = restore_case(cols[7]), cols[6].strip().upper()
            shown = clean_name(raw)
            was = bool(opsin.verify(raw, key).verified)
            raw_ok += was
            if shown is None:
                dropped += 1
                continue
            assert not MARKUP.search(shown), shown
            now = bool(opsin.verify(shown, key).verified)
            clean_ok += now
            lost += was and not now
    print(f"\n{n} names with markup or quotes: OPSIN reads {raw_ok} raw, {clean_ok} printed; {dropped} dropped")
    assert n > 600 and lost == 0 and clean_ok >= raw_ok and dropped <= 2


def test_namer_shows_printed_names_and_keeps_salts_out_of_the_choice():
    """The shipped model in mode best, the issue's two cases."""
    from chemnamer.naming import Namer

    namer = Namer(mode="best", store=False)
    methyl, salt = namer.name_many(["[CH3]", "[Na+].[Cl-]"])
    assert methyl.reference.pubchem == "λ³-carbane" and methyl.reference.pubchem_verified is True
    if not any(c.verified for c in methyl.candidates):
        assert methyl.name == "λ³-carbane" and methyl.chosen_from == "pubchem"
    assert not any(MARKUP.search(s) for s in [methyl.name or "", *methyl.reference.synonyms])

    assert salt.reference.pubchem == "sodium;chloride" and salt.reference.pubchem_verified is None
    assert salt.comparable_reference is None and salt.name != "sodium;chloride"
    assert salt.agreement() == {"same_string": None, "same_structure": None}
