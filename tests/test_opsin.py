"""OPSIN in-process: name → structure, verification by standard InChIKey, Java missing."""
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
    assert ok == Verification(True, ok.reason, ASPIRIN_KEY)
    other = opsin.verify("benzoic acid", ASPIRIN_KEY)
    assert other.verified is False
    assert other.reason == "parses to a different structure (WPYMKLBDIGXBTP-UHFFFAOYSA-N)"
    junk = opsin.verify("2-acetyloxybenzoic acd", ASPIRIN_KEY)
    assert junk.verified is False and junk.reason.startswith("OPSIN could not parse: ")
    # stereo matters: the wrong enantiomer and a name without stereo both fail
    r = opsin.verify("(2r)-2-aminopropanoic acid", L_ALANINE_KEY)
    assert r.verified is False and "same connectivity" in r.reason
    assert opsin.verify("2-aminopropanoic acid", L_ALANINE_KEY).verified is False
    assert opsin.verify("2-acetyloxybenzoic acid", "").verified is None
    assert opsin.verify("2-acetyloxybenzoic acid", ASPIRIN_KEY.lower()).verified is True


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
            if cols[7] and cols[6]:
                pairs.append((cols[7], cols[6]))
            if len(pairs) == 200:
                break
    opsin.verify("ethanol", "LFQSCWFLJHTTHZ-UHFFFAOYSA-N")  # warm-up
    t0 = time.perf_counter()
    results = [opsin.verify(name, key) for name, key in pairs]
    ms = (time.perf_counter() - t0) * 1000 / len(pairs)
    ok = sum(r.verified is True for r in results)
    print(f"\nOPSIN verification: {ms:.2f} ms/name (uncached), {ok}/{len(pairs)} PubChem names verify")
    assert ok > 0.8 * len(pairs)  # the reference names themselves mostly round-trip


def test_java_missing_gives_none_not_crash(tmp_path):
    """The JVM starts once per process, so "no Java" is simulated in a child process."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(empty)
    code = (
        "import json\n"
        "from chemnamer.opsin import get_opsin\n"
        "from chemnamer.chem import parse_input\n"
        "o = get_opsin()\n"
        "v = o.verify('2-acetyloxybenzoic acid', 'BSYNRYMUTXBXSQ-UHFFFAOYSA-N')\n"
        "err = parse_input('sodium acetate')\n"
        "print(json.dumps([o.available(), v.verified, v.reason, o.name_to_structure('methane').error,"
        " err.message, parse_input('CCO').smiles]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    available, verified, reason, parse_error, input_error, smiles = json.loads(proc.stdout)
    assert (available, verified) == (False, None)
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
