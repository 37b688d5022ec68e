"""OPSIN (name → structure) kept running in-process, and name verification.

One JVM serves the whole process: it starts lazily (~1 s) on the first name, through JPype, with the
OPSIN jar that py2opsin ships; afterwards a name costs about a millisecond.

`check(name, smiles)` is the verification every check mark rests on: the structure OPSIN builds from
the name must be the input structure, tautomer and stereo included (chem.compare: canonical isomeric
SMILES after the same standardization of both sides). When it is not, `kind` says why. The older
`verify(name, inchikey)` compares standard InChIKeys only, which merge mobile-H tautomers
("pyridin-2-ol" passes for 2-pyridone); it stays for callers that have nothing but a key.

Without Java every call still returns a value: `Verification(verified=None, kind="unavailable")`.

Processes: a JVM does not survive fork(). Worker pools that may touch OPSIN must use the 'spawn'
context (`multiprocessing.get_context("spawn")`); each worker then starts its own JVM. JPype also
can start the JVM only once per process: a failed or missing Java stays failed until restart.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from chemnamer import chem
from chemnamer.chem import inchikey_of_smiles
from chemnamer.shared import process_wide

JAVA_MISSING = "Java not found: install Java 17 for verification"
# Real names stay far below this; it bounds the time OPSIN can spend on junk (a per-call guard).
MAX_NAME_CHARS = 1000


@dataclass
class Parsed:
    smiles: str | None
    inchikey: str | None
    error: str | None


# What a verification found; only VERIFIED earns a check mark.
VERIFIED, TAUTOMER, STEREO_UNSPECIFIED, OTHER_STEREO, CONSTITUTION, UNPARSABLE, UNAVAILABLE = (
    "verified", chem.TAUTOMER, chem.STEREO_UNSPECIFIED, chem.OTHER_STEREO, chem.CONSTITUTION, "unparsable",
    "unavailable")
KIND_LABELS = {VERIFIED: "verified", TAUTOMER: "different tautomer", STEREO_UNSPECIFIED: "stereo unspecified",
               OTHER_STEREO: "other stereo", CONSTITUTION: "different constitution",
               UNPARSABLE: "unparsable", UNAVAILABLE: "not checked"}
# Of two readings of a lowercased name, the closer one is reported.
_CLOSENESS = [VERIFIED, STEREO_UNSPECIFIED, OTHER_STEREO, TAUTOMER, CONSTITUTION, UNPARSABLE]


@dataclass
class Verification:
    verified: bool | None  # None: could not check (no Java, nothing to compare with)
    reason: str
    parsed_inchikey: str | None = None
    kind: str = ""  # one of KIND_LABELS
    smiles: str | None = None  # the structure OPSIN read (check: canonical SMILES after standardization)


def find_jar() -> str | None:
    spec = importlib.util.find_spec("py2opsin")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        jars = sorted(glob.glob(os.path.join(folder, "opsin*.jar")))
        if jars:
            return jars[-1]
    return None


def find_java() -> str | None:
    """JVM library path, or None when this machine has no Java for us.

    We insist on `java` on PATH or JAVA_HOME (what a user would fix), even though JPype could dig a
    JVM out of /usr/lib/jvm: "no Java" must be predictable, and testable.
    """
    java_home = os.environ.get("JAVA_HOME")
    if not java_home and not shutil.which("java"):
        return None
    try:
        import jpype

        return jpype.getDefaultJVMPath()
    except Exception:  # noqa: BLE001 - JPype raises its own JVMNotFoundException and friends
        java = shutil.which("java")
        if not java:
            return None
        # JAVA_HOME/bin/java → JAVA_HOME/lib/server/libjvm.so (Linux, macOS) or bin/server/jvm.dll
        home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
        for rel in ("lib/server/libjvm.so", "lib/server/libjvm.dylib", "bin/server/jvm.dll"):
            if os.path.exists(os.path.join(home, rel)):
                return os.path.join(home, rel)
        return None


# OPSIN reads "N,N-dimethyl" but not "n,n-dimethyl" (lowercase "n-methyl" happens to work): PubChem's
# names, and so our models', are all lowercase. Heteroatom locants n/o/s/p before ',' '-' or "'".
_LOWER_LOCANT = re.compile(r"(?<![A-Za-z0-9])([nosp])(?=\d*'*[,\-)])")


def _recase(name: str) -> str:
    return _LOWER_LOCANT.sub(lambda m: m.group(1).upper(), name)


MAX_MESSAGE_CHARS = 300


def _shorten(message: str, name: str) -> str:
    """OPSIN's messages quote the name, some twice: a 900-character name must not make a
    2000-character error (it ends up in a CSV cell, a status bar, a history row)."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    if len(name) > 60:
        message = message.replace(name, name[:40] + "…" + name[-12:])
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


class Opsin:
    """OPSIN over JPype. Thread-safe; cheap to construct (the JVM starts on first use)."""

    def __init__(self, jar: str | None = None, cache_size: int = 8192):
        self._jar = jar
        self._lock = threading.Lock()
        self._started = False
        self._n2s = None
        self._reason: str | None = None
        self._jthread = None
        self.start_s: float | None = None  # JVM + OPSIN start-up, for the curious
        self.name_to_structure = lru_cache(maxsize=cache_size)(self._name_to_structure)

    # --- lifecycle ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._started:  # set last, under the lock: a True here means fully started (or failed)
            return
        with self._lock:
            if self._started:
                return
            t0 = time.perf_counter()
            try:
                self._n2s = self._start_jvm()
            except Exception as exc:  # noqa: BLE001 - any failure means "not available", with why
                self._reason = f"OPSIN could not start: {type(exc).__name__}: {exc}"
            self.start_s = time.perf_counter() - t0
            self._started = True  # one try per process: JPype cannot restart a JVM

    def _start_jvm(self):
        jar = self._jar or find_jar()
        if not jar:
            self._reason = "OPSIN jar not found (install py2opsin)"
            return None
        try:
            import jpype
        except ImportError:
            self._reason = "JPype not installed (pip install jpype1)"
            return None
        if not jpype.isJVMStarted():
            jvm = find_java()
            if jvm is None:
                self._reason = JAVA_MISSING
                return None
            # -Xrs: leave SIGINT/SIGTERM to Python (Ctrl-C in the CLI, Qt's quit).
            jpype.startJVM(jvm, "-Xrs", "-Djava.awt.headless=true", classpath=[jar],
                           convertStrings=True)
        # else: somebody else started the JVM; OPSIN is there only if our jar was on their class
        # path (it cannot be added now), otherwise JClass fails below and we report why.
        self._jthread = jpype.JClass("java.lang.Thread")
        return jpype.JClass("uk.ac.cam.ch.wwmm.opsin.NameToStructure").getInstance()

    def start_in_background(self) -> None:
        """Start the JVM on a helper thread, so that it overlaps other start-up work (model loading);
        the first verification then waits on the lock only for what is left."""
        if self._started:
            return

        def run():
            self._start()
            if self._jthread is not None and self._jthread.isAttached():
                self._jthread.detach()  # the JVM must not wait for this finished thread at exit

        threading.Thread(target=run, name="opsin-start", daemon=True).start()

    def available(self) -> bool:
        self._start()
        return self._n2s is not None

    @property
    def unavailable_reason(self) -> str | None:
        self._start()
        return self._reason

    # --- names -------------------------------------------------------------------------------

    def _parse(self, name: str):
        if not self._jthread.isAttached():
            # JPype would attach on the first call anyway, as daemon; say so, once per thread.
            self._jthread.attachAsDaemon()
        result = self._n2s.parseChemicalName(name)
        ok = str(result.getStatus()) != "FAILURE"
        smiles = result.getSmiles() if ok else None
        # str(): a JVM started elsewhere may not convert Java strings for us
        return ok, (str(smiles) if smiles is not None else None), str(result.getMessage() or "")

    def _name_to_structure(self, name: str) -> Parsed:
        """name → Parsed(smiles, standard InChIKey, error). Cached (LRU) by exact name."""
        if not self.available():
            return Parsed(None, None, self._reason)
        name = (name or "").strip()
        if not name:
            return Parsed(None, None, "empty name")
        if len(name) > MAX_NAME_CHARS:
            return Parsed(None, None, f"name too long: {len(name)} characters")
        odd = next((i for i, ch in enumerate(name) if ord(ch) > 0xFFFF or 0xD800 <= ord(ch) <= 0xDFFF), None)
        if odd is not None:
            # No name has emoji or other characters beyond the BMP; OPSIN would echo them back in a
            # form Python cannot decode ("'utf-8' codec can't decode byte 0xed").
            return Parsed(None, None, f"character {name[odd]!r} at position {odd + 1} cannot be part of a name")
        try:
            ok, smiles, message = self._parse(name)
            if not ok and _recase(name) != name:
                ok, smiles, _ = self._parse(_recase(name))
        except UnicodeDecodeError:  # a message JPype cannot decode; the characters are the cause
            return Parsed(None, None, "OPSIN could not parse the name (unusual characters)")
        except Exception as exc:  # noqa: BLE001 - a Java exception must not take the caller down
            return Parsed(None, None, f"OPSIN error: {exc}")
        if not ok or not smiles:
            # OPSIN says it twice: "... uninterpretable: acd The following was not parseable: acd"
            message = message.split(" The following was not parseable")[0].strip()
            return Parsed(None, None, _shorten(message, name) or "OPSIN could not parse the name")
        key = inchikey_of_smiles(smiles)
        if key is None:
            return Parsed(smiles, None, "no InChIKey for OPSIN's structure")
        return Parsed(smiles, key, None)

    def check(self, name: str, smiles: str) -> Verification:
        """Does `name` denote exactly the structure `smiles`, tautomer and stereo included?

        A lowercased name is ambiguous: OPSIN reads "n-methyl-n-prop-2-ynyl..." with n = normal,
        while PubChem meant the N locant. Both readings are compared; the closer one is reported.
        """
        if not self.available():
            return Verification(None, self._reason or JAVA_MISSING, kind=UNAVAILABLE)
        want = chem.identity(smiles) if smiles else chem.ChemError("empty input")
        if isinstance(want, chem.ChemError):
            return Verification(None, f"no structure to compare with ({want.message})", kind=UNAVAILABLE)
        found = self._check_reading(name, want)
        if found.kind != VERIFIED and _recase(name) != name:
            recased = self._check_reading(_recase(name), want)
            if _CLOSENESS.index(recased.kind) < _CLOSENESS.index(found.kind):
                found = recased
        return found

    def _check_reading(self, name: str, want: chem.Identity) -> Verification:
        parsed = self.name_to_structure(name)
        if parsed.smiles is None:
            return Verification(False, f"OPSIN could not parse: {parsed.error}", kind=UNPARSABLE)
        got = chem.identity(parsed.smiles)
        if isinstance(got, chem.ChemError):
            return Verification(False, f"RDKit cannot read OPSIN's structure {parsed.smiles}: {got.message}",
                                parsed.inchikey, UNPARSABLE, parsed.smiles)
        diff = chem.compare(want, got)
        if diff.kind == chem.SAME:
            return Verification(True, "OPSIN reads the name as this structure", parsed.inchikey, VERIFIED, got.smiles)
        return Verification(False, diff.reason, parsed.inchikey, diff.kind, got.smiles)

    def verify(self, name: str, inchikey: str) -> Verification:
        """Does `name` denote the structure with this standard InChIKey? Lenient: a standard InChIKey
        merges mobile-H tautomers. For callers that have only a key; with a structure use `check`.

        Either reading of a lowercased name (see `check`) giving the expected key verifies.
        """
        if not self.available():
            return Verification(None, self._reason or JAVA_MISSING, kind=UNAVAILABLE)
        expected = (inchikey or "").strip().upper()
        if not expected:
            return Verification(None, "no InChIKey to compare with", kind=UNAVAILABLE)
        parsed = self.name_to_structure(name)
        if parsed.inchikey != expected and _recase(name) != name:
            recased = self.name_to_structure(_recase(name))
            if recased.inchikey == expected or parsed.smiles is None:
                parsed = recased
        if parsed.smiles is None:
            return Verification(False, f"OPSIN could not parse: {parsed.error}", kind=UNPARSABLE)
        if parsed.inchikey is None:
            return Verification(False, f"OPSIN's structure has no InChIKey ({parsed.smiles})", kind=UNPARSABLE,
                                smiles=parsed.smiles)
        if parsed.inchikey == expected:
            return Verification(True, "OPSIN parses it to the same structure", parsed.inchikey, VERIFIED,
                                parsed.smiles)
        detail, kind = parsed.inchikey, CONSTITUTION
        if parsed.inchikey[:14] == expected[:14]:
            # First block = connectivity: only stereo, isotopes or protonation differ.
            detail += ": same connectivity, other stereo/isotopes/charge"
            kind = OTHER_STEREO
        return Verification(False, f"parses to a different structure ({detail})", parsed.inchikey, kind,
                            parsed.smiles)


@process_wide
def get_opsin() -> Opsin:
    """The process-wide Opsin (one JVM per process)."""
    return Opsin()
