"""OPSIN in-process: name → structure, strict verification against a structure (tautomer and stereo
included), the older check by standard InChIKey, Java missing."""
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chemnamer.opsin import JAVA_MISSING, Verification, find_jar, get_opsin

ASPIRIN_KEY = "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
L_ALANINE_KEY = "QNAYBMKLOCPYGJ-REOHCLBHSA-N"

pytestmark = pytest.mark.skipif(find_jar() is None, reason="py2opsin (OPSIN jar) not installed")


@pytest.fixture(scope="module")
def opsin():
    o = get_opsin()
    if not o.available():
        pytest.skip(f"OPSIN unavailable here: {o.unavailable_reason}")
    print(f"\nJVM + OPSIN start: {o.start_s:.2f} s")
    return o


def test_singleton():
    assert get_opsin() is get_opsin()


def test_name_to_structure(opsin):
    p = opsin.name_to_structure("2-acetyloxybenzoic acid")
    assert p.error is None and p.inchikey == ASPIRIN_KEY and p.smiles
    bad = opsin.name_to_structure("qwertyzine")
    assert bad.smiles is None and bad.inchikey is None and "qwertyzine" in bad.error
    assert opsin.name_to_structure("").error == "empty name"
    assert "too long" in opsin.name_to_structure("methyl" * 500).error


@pytest.mark.parametrize("name, key", [
    # PubChem names in our data are lowercase: locants "9h", stereo "(2s)", "n-"
    ("9-ethyl-9h-purin-6-amine", "MUIPLRMGAXZWSQ-UHFFFAOYSA-N"),
    ("(2s)-2-aminopropanoic acid", L_ALANINE_KEY),
    ("n-methylacetamide", "OHLUUHNLEMFGTQ-UHFFFAOYSA-N"),
    ("(e)-but-2-ene", "IAQRGUVFOMOMEM-ONEGZZNKSA-N"),
    ("2,3-bis(oxidanyl)benzoic acid", "GLDQAMYCGOIJDV-UHFFFAOYSA-N"),  # old PubChem style
    # OPSIN fails on these as typed; the retry with N/O/S locants upper-cased reads them
    ("n,n-dimethylformamide", "ZMXDDKWLCZADIW-UHFFFAOYSA-N"),
    ("o-methylhydroxylamine", "GMPKIPWJBDOURN-UHFFFAOYSA-N"),
])
def test_lowercase_pubchem_names(opsin, name, key):
    assert opsin.verify(name, key).verified is True, opsin.verify(name, key)


def test_verify_true_and_false(opsin):
    ok = opsin.verify("2-acetyloxybenzoic acid", ASPIRIN_KEY)
    assert ok == Verification(True, ok.reason, ASPIRIN_KEY, "verified", ok.smiles) and ok.smiles
    other = opsin.verify("benzoic acid", ASPIRIN_KEY)
    assert (other.verified, other.kind) == (False, "constitution")
    assert other.reason == "parses to a different structure (WPYMKLBDIGXBTP-UHFFFAOYSA-N)"
    junk = opsin.verify("2-acetyloxybenzoic acd", ASPIRIN_KEY)
    assert junk.verified is False and junk.reason.startswith("OPSIN could not parse: ")
    # stereo matters: the wrong enantiomer and a name without stereo both fail
    r = opsin.verify("(2r)-2-aminopropanoic acid", L_ALANINE_KEY)
    assert r.verified is False and "same connectivity" in r.reason
    assert opsin.verify("2-aminopropanoic acid", L_ALANINE_KEY).verified is False
    assert opsin.verify("2-acetyloxybenzoic acid", "").verified is None
    assert opsin.verify("2-acetyloxybenzoic acid", ASPIRIN_KEY.lower()).verified is True


# --- strict verification: the structure OPSIN builds must be the input's ----------------------------

@pytest.mark.parametrize("name, smiles, kind", [
    # mobile-H tautomers share a standard InChIKey; only the name of the drawn tautomer verifies
    ("pyridin-2-ol", "O=C1C=CC=CN1", "tautomer"),
    ("pyridin-2(1H)-one", "O=C1C=CC=CN1", "verified"),
    ("pyridin-2-ol", "Oc1ccccn1", "verified"),
    ("pyrimidine-2,4-diol", "O=C1C=CNC(=O)N1", "tautomer"),  # uracil
    ("pyrimidine-2,4(1H,3H)-dione", "O=C1C=CNC(=O)N1", "verified"),
    ("pentane-2,4-dione", "CC(O)=CC(C)=O", "tautomer"),  # keto/enol: InChI does not merge these
    # stereo
    ("2-aminopropanoic acid", "C[C@H](N)C(=O)O", "stereo_unspecified"),
    ("(2S)-2-aminopropanoic acid", "C[C@H](N)C(=O)O", "verified"),
    ("(2R)-2-aminopropanoic acid", "C[C@H](N)C(=O)O", "other_stereo"),
    ("(2S)-2-aminopropanoic acid", "CC(N)C(=O)O", "other_stereo"),  # the name says more than the input
    ("(2S)-2-amino-3-hydroxybutanoic acid", "C[C@@H](O)[C@H](N)C(=O)O", "stereo_unspecified"),
    ("(2S,3R)-2-amino-3-hydroxybutanoic acid", "C[C@@H](O)[C@H](N)C(=O)O", "verified"),
    ("(2S,3S)-2-amino-3-hydroxybutanoic acid", "C[C@@H](O)[C@H](N)C(=O)O", "other_stereo"),
    ("but-2-ene", "C/C=C/C", "stereo_unspecified"),
    ("(Z)-but-2-ene", "C/C=C/C", "other_stereo"),
    ("trans-cyclohexane-1,4-diol", "O[C@H]1CC[C@H](O)CC1", "verified"),
    ("cis-cyclohexane-1,4-diol", "O[C@H]1CC[C@H](O)CC1", "other_stereo"),
    # constitution, protonation
    ("propan-1-ol", "CC(C)O", "constitution"),
    ("acetic acid", "CC(=O)[O-]", "constitution"),
    ("benzoic acid", "CC(=O)Oc1ccccc1C(=O)O", "constitution"),
    # the same molecule in another drawing verifies: both sides get the same standardization
    ("nitrobenzene", "O=N(=O)c1ccccc1", "verified"),
    ("pyridine N-oxide", "[O-][n+]1ccccc1", "verified"),
    ("dimethyl sulfoxide", "C[S+](C)[O-]", "verified"),
    ("sodium acetate", "CC(=O)O[Na]", "verified"),
    # unparsable
    ("2-acetyloxybenzoic acd", "CC(=O)Oc1ccccc1C(=O)O", "unparsable"),
])
def test_check_kinds(opsin, name, smiles, kind):
    v = opsin.check(name, smiles)
    assert v.kind == kind, v
    assert v.verified is (kind == "verified")
    assert (v.smiles is None) == (kind == "unparsable")


def test_check_says_why_and_what_opsin_read(opsin):
    v = opsin.check("pyridin-2-ol", "O=C1C=CC=CN1")
    assert (v.smiles, v.reason) == ("Oc1ccccn1", "the name denotes another tautomer (Oc1ccccn1)")
    # the InChIKey check cannot see it: the reason check() exists
    assert opsin.verify("pyridin-2-ol", "UBQKCCHYAOITMY-UHFFFAOYSA-N").verified is True
    v = opsin.check("qwertyzine", "CCO")
    assert v.reason.startswith("OPSIN could not parse: qwertyzine is unparsable")
    assert opsin.check("2-aminopropanoic acid", "C[C@H](N)C(=O)O").reason == \
        "the name leaves stereo unspecified (1 of 1 stereo element)"
    # nothing to compare with: not a verdict on the name
    bad = opsin.check("ethanol", "C1CC")
    assert (bad.verified, bad.kind) == (None, "unavailable") and "unclosed ring" in bad.reason


def test_check_reads_lowercase_locants_both_ways(opsin):
    # OPSIN fails on "n,n-" and reads "n-prop-2-ynyl" as normal-propynyl; the N-locant reading verifies
    assert opsin.check("n,n-dimethylformamide", "CN(C)C=O").kind == "verified"
    assert opsin.check("n-methyl-n-prop-2-ynylpropan-1-amine", "CN(CCC)CC#C").kind == "verified"
    # and with both readings wrong, the closer one is reported
    assert opsin.check("n-methylpropan-1-amine", "CN(C)CCC").kind == "constitution"


@pytest.mark.parametrize("name", ["ethanol🧪", "eth\U0001F600anol", "ethanol\ud800"])
def test_characters_outside_names_get_a_clean_message(opsin, name):
    """OPSIN echoes such characters in a form JPype cannot decode ('utf-8' codec can't decode...)."""
    p = opsin.name_to_structure(name)
    assert p.smiles is None and "cannot be part of a name" in p.error and "codec" not in p.error
    v = opsin.check(name, "CCO")
    assert v.kind == "unparsable" and "codec" not in v.reason


def test_metrics_structure_match_is_the_strict_check(opsin):
    from chemnamer.metrics import Scored, check_structures

    key = "UBQKCCHYAOITMY-UHFFFAOYSA-N"  # 2-pyridone and 2-hydroxypyridine alike
    items = check_structures([Scored("pyridin-2-ol", "1H-pyridin-2-one", "O=C1C=CC=CN1", key),
                              Scored("1H-pyridin-2-one", "1H-pyridin-2-one", "O=C1C=CC=CN1", key),
                              Scored("pyridin-2-ol", "x", "a source that is no SMILES", key),  # key only
                              Scored("qwertyzine", "x", "O=C1C=CC=CN1", key)])
    assert [(i.parsable, i.structure_match) for i in items] == [(True, False), (True, True), (True, True),
                                                                 (False, False)]


def test_lowercase_n_locant_ambiguity(opsin):
    # OPSIN reads lowercase "n-prop-2-ynyl" as n(ormal)-propynyl; PubChem meant the N locant.
    name = "n-methyl-n-prop-2-ynylpropan-1-amine"
    key = "LMMHXOHVCPOLFQ-UHFFFAOYSA-N"  # CN(CCC)CC#C
    assert opsin.name_to_structure(name).inchikey != key
    assert opsin.verify(name, key).verified is True


def test_threads_share_one_jvm(opsin):
    from concurrent.futures import ThreadPoolExecutor

    names = ["methane", "ethanol", "benzene", "2-acetyloxybenzoic acid"] * 5
    with ThreadPoolExecutor(4) as pool:
        keys = list(pool.map(lambda n: opsin.name_to_structure(n).inchikey, names))
    assert keys[3] == ASPIRIN_KEY and all(keys)


def test_benchmark_verification(opsin):
    """ms per verification over 200 PubChem IUPAC names (printed, not asserted: shared CPUs)."""
    spec = importlib.util.find_spec("chemicals")
    tsv = Path(list(spec.submodule_search_locations)[0]) / "Identifiers" / \
        "chemical identifiers pubchem large.tsv"
    pairs = []
    with open(tsv, encoding="utf-8") as fh:
        for line in itertools.islice(fh, 2000, None):
            cols = line.rstrip("\n").split("\t")
            if cols[7] and cols[6] and cols[4]:
                pairs.append((cols[7], cols[6], cols[4]))
            if len(pairs) == 200:
                break
    opsin.verify("ethanol", "LFQSCWFLJHTTHZ-UHFFFAOYSA-N")  # warm-up
    t0 = time.perf_counter()
    results = [opsin.verify(name, key) for name, key, _ in pairs]
    ms = (time.perf_counter() - t0) * 1000 / len(pairs)
    ok = sum(r.verified is True for r in results)
    print(f"\nOPSIN verification by InChIKey: {ms:.2f} ms/name (uncached), {ok}/{len(pairs)} PubChem names verify")
    assert ok > 0.8 * len(pairs)  # the reference names themselves mostly round-trip
    # the strict check against PubChem's SMILES (OPSIN's side is cached now: this is the comparison's cost)
    t0 = time.perf_counter()
    strict = [opsin.check(name, smiles) for name, _, smiles in pairs]
    ms = (time.perf_counter() - t0) * 1000 / len(pairs)
    kinds = sorted((v.kind, name) for v, (name, _, _) in zip(strict, pairs) if v.kind != "verified")
    print(f"strict check against PubChem's SMILES: {ms:.2f} ms/name, {len(pairs) - len(kinds)}/{len(pairs)} "
          f"verify; the others: {kinds}")
    # a stricter check never verifies what the InChIKey check rejects
    assert not any(v.verified and not r.verified for v, r in zip(strict, results))


def test_java_missing_gives_none_not_crash(tmp_path):
    """The JVM starts once per process, so "no Java" is simulated in a child process."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(empty)
    code = (
        "import json\n"
        "from chemnamer.opsin import get_opsin\n"
        "from chemnamer.inputs import parse_input\n"
        "o = get_opsin()\n"
        "v = o.verify('2-acetyloxybenzoic acid', 'BSYNRYMUTXBXSQ-UHFFFAOYSA-N')\n"
        "c = o.check('ethanol', 'CCO')\n"
        "err = parse_input('sodium acetate')\n"
        "print(json.dumps([o.available(), v.verified, v.reason, o.name_to_structure('methane').error,"
        " err.message, parse_input('CCO').smiles, [c.verified, c.kind, c.reason]]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    available, verified, reason, parse_error, input_error, smiles, check = json.loads(proc.stdout)
    assert (available, verified) == (False, None)
    assert check == [None, "unavailable", JAVA_MISSING]
    assert reason == JAVA_MISSING == parse_error
    assert "needs OPSIN" in input_error and JAVA_MISSING in input_error
    assert smiles == "CCO"  # SMILES input does not need Java


def test_background_start_then_verify_and_clean_exit():
    """Naming starts the JVM on a helper thread while the model loads; verification waits for it,
    and the process still exits by itself (the finished starter thread is detached from the JVM)."""
    code = (
        "import json, threading\n"
        "from chemnamer.opsin import get_opsin\n"
        "o = get_opsin()\n"
        "o.start_in_background(); o.start_in_background()\n"
        "v = o.verify('2-acetyloxybenzoic acid', 'BSYNRYMUTXBXSQ-UHFFFAOYSA-N')\n"
        "names = sorted(t.name for t in threading.enumerate())\n"
        "print(json.dumps([v.verified, o.start_s is not None, names]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    verified, started, threads = json.loads(proc.stdout)
    assert verified is True and started
    assert "opsin-start" not in threads  # one starter, finished
