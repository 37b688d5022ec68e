"""Molecules with RDKit: parse, canonicalize, InChIKey, depict, descriptors.

Everything the user types goes through `chemnamer.inputs.parse_input` (SMILES here, names through
OPSIN); it returns a `Molecule` or a `ChemError` (errors are values here: a bad SMILES is an everyday input, not an exception). RDKit's own log
lines are captured into the error message, so nothing is printed on stderr.
"""
from __future__ import annotations

import atexit
import random
import re
import threading
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import Descriptors, rdMolDescriptors
from rdkit.Chem.Draw import rdMolDraw2D
from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, GetStereoisomerCount, StereoEnumerationOptions
from rdkit.Chem.MolStandardize import rdMolStandardize

MAX_INPUT_CHARS = 2000
MAX_HEAVY_ATOMS = 150


def _rdkit_logs_back_to_cpp() -> None:
    """At exit, hand RDKit's log streams back to C++ while Python is still alive.

    `import rdkit` routes RDKit's logs through Python stream objects (rdBase.LogToPythonStderr); RDKit's
    C++ loggers flush their streams in exit-time destructors, after Python has finalized. Seen: 3 of
    about 60 runs of a script that starts OPSIN's JVM and verifies names from threads crashed at exit
    in std::ostream::flush called from rdBase.so's exit handler (JVM hs_err files), on memory the JVM
    had reused. A precaution: at that rate, runs with this hook (0 of 30) do not prove it cures it.
    (The test suite's own exit crash was another one: clipboard data, see gui/widgets.py.)"""
    try:
        rdBase.LogToCppStreams()
    except Exception:  # noqa: BLE001 - an exit hook must not raise
        pass


atexit.register(_rdkit_logs_back_to_cpp)


@dataclass
class ChemError:
    message: str


@dataclass
class Molecule:
    input: str
    smiles: str  # canonical isomeric SMILES, every fragment kept
    inchikey: str  # standard InChIKey, '' when InChI cannot handle the structure
    formula: str
    heavy_atoms: int
    fragments: int
    mol: Any = field(repr=False, compare=False)
    source: str = "smiles"  # or "name" when OPSIN gave the structure


# --- RDKit logging -------------------------------------------------------------------------------

_HAS_CAPTURE = hasattr(rdBase, "CaptureErrorLog")  # only in recent RDKit releases
# RDKit's log state (blocked or not, where errors go) is one per process; BlockLogs and
# CaptureErrorLog save it and put it back. Two threads doing that interleaved (the app's workers, the
# rule-based helper thread) could put back a capture stream the other one has already freed.
_LOG_LOCK = threading.RLock()


@contextmanager
def _rdkit_log():
    """Collect RDKit error-log lines instead of letting them reach stderr.

    Yields a list that holds the captured lines after the block. Older RDKit has no capture API:
    there we only block the log, and messages come from sanitization exceptions.
    """
    lines: list[str] = []
    with _LOG_LOCK:
        blocker = rdBase.BlockLogs()  # warnings too; errors still reach the capture below
        try:
            if _HAS_CAPTURE:
                with rdBase.CaptureErrorLog() as capture:
                    yield lines
                try:
                    lines.extend(_clean_log(capture.messages))
                except UnicodeDecodeError:  # RDKit cut a long input's echo mid-character
                    pass
            else:
                yield lines
        finally:
            del blocker


_STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


def _clean_log(text: str) -> list[str]:
    return [_STAMP.sub("", line).strip() for line in text.splitlines() if line.strip()]


def _summarize(lines: list[str]) -> str:
    """RDKit's parse log in one line: the first complaint plus where it happened."""
    if not lines:
        return "RDKit could not read it"
    first = lines[0].replace("SMILES Parse Error: ", "")
    # The log repeats the whole input (up to 2000 chars); the position says enough.
    first = re.split(r" (?:for input|while parsing):", first)[0].strip()
    for line in lines[1:]:
        m = re.search(r"around position (\d+)", line)
        if m:
            first = f"{first} at position {m.group(1)}"
            break
    return " ".join(first.split())


# --- elements ------------------------------------------------------------------------------------

_PT = Chem.GetPeriodicTable()
_ELEMENTS = {_PT.GetElementSymbol(z) for z in range(1, 119)}
_AROMATIC = {"b", "c", "n", "o", "p", "s", "se", "as", "te", "si"}
_BRACKET_SYMBOL = re.compile(r"\[\d*([A-Z][a-z]?|[a-z][a-z]?)")


def _unknown_element(text: str) -> str | None:
    """The first bracket-atom symbol that is no element ('[Xx]'), for a clearer message."""
    for m in _BRACKET_SYMBOL.finditer(text):
        sym = m.group(1)
        if sym in _ELEMENTS or sym in _AROMATIC or (sym[0].islower() and sym[0] in _AROMATIC):
            continue
        return sym
    return None


# --- parsing -------------------------------------------------------------------------------------


def precheck(text: str) -> str | ChemError:
    """The text stripped, or why it is no input at all (empty, too long, not valid Unicode)."""
    if text is None:
        return ChemError("empty input")
    if not isinstance(text, str):
        return ChemError(f"expected text, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        return ChemError("empty input")
    if len(stripped) > MAX_INPUT_CHARS:
        return ChemError(f"input too long: {len(stripped)} characters (limit {MAX_INPUT_CHARS})")
    try:
        # A lone surrogate (from JSON's "\ud800", a mis-decoded file) is no text RDKit or OPSIN can take.
        stripped.encode("utf-8")
    except UnicodeEncodeError as exc:
        return ChemError(f"invalid character {stripped[exc.start]!r} at position {exc.start + 1} "
                         f"(not valid Unicode text)")
    return stripped


def _mol_from_smiles(smiles: str) -> Any | ChemError:
    """Parse and sanitize; the error message is RDKit's, without its noise."""
    if any(ch.isspace() for ch in smiles):
        # RDKit would silently read "CCO ethanol" as CCO named "ethanol".
        return ChemError("invalid SMILES: contains whitespace")
    if not smiles.isascii():
        # SMILES is ASCII; RDKit's error log would also cut the text mid-character (undecodable).
        i = next(i for i, ch in enumerate(smiles) if not ch.isascii())
        return ChemError(f"invalid SMILES: character {smiles[i]!r} at position {i + 1} is not allowed in SMILES")
    with _rdkit_log() as log:
        mol = Chem.MolFromSmiles(smiles)  # sanitize + stereo perception in one go
    if mol is None:
        bad = _unknown_element(smiles)
        if bad:
            return ChemError(f"unknown element '{bad}'")
        return ChemError(f"invalid SMILES: {_summarize(log) if log else _sanitize_problem(smiles)}")
    if mol.GetNumAtoms() == 0:
        return ChemError("empty molecule")
    return mol


def _sanitize_problem(smiles: str) -> str:
    """Why RDKit rejects a SMILES, from the exception (older RDKit cannot capture its log)."""
    with _rdkit_log():
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            return "syntax error"
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # noqa: BLE001 - RDKit raises several unrelated types
            return " ".join(str(exc).split()) or type(exc).__name__
    return "RDKit could not read it"


def _molecule(mol: Any, text: str, source: str) -> Molecule | ChemError:
    heavy = mol.GetNumHeavyAtoms()
    if heavy > MAX_HEAVY_ATOMS:
        return ChemError(f"too large: {heavy} heavy atoms (limit {MAX_HEAVY_ATOMS})")
    return Molecule(
        input=text,
        smiles=Chem.MolToSmiles(mol),
        inchikey=_inchikey(mol),
        formula=rdMolDescriptors.CalcMolFormula(mol),
        heavy_atoms=heavy,
        fragments=len(Chem.GetMolFrags(mol)),
        mol=mol,
        source=source,
    )


def _inchikey(mol: Any) -> str:
    # InChI warns on stderr for e.g. undefined stereo; the key is still the standard one.
    try:
        with _rdkit_log():
            return Chem.MolToInchiKey(mol) or ""
    except Exception:  # noqa: BLE001 - InChI failures are not the user's problem here
        return ""


def _read_smiles(text: str) -> tuple[str, Chem.Mol] | ChemError:
    """(the checked text, its RDKit molecule), or why not."""
    checked = precheck(text)
    if isinstance(checked, ChemError):
        return checked
    mol = _mol_from_smiles(checked)
    return mol if isinstance(mol, ChemError) else (checked, mol)


def parse_smiles(text: str) -> Molecule | ChemError:
    """A SMILES string → Molecule (canonical, all fragments and stereo kept) or ChemError."""
    read = _read_smiles(text)
    if isinstance(read, ChemError):
        return read
    checked, mol = read
    return _molecule(mol, checked, "smiles")


_SMILES_CHARS = re.compile(r"^[A-Za-z0-9@+\-\[\]()=#$:/\\%.*~]+$")
# A word of a name: 3+ lowercase letters, not all aromatic SMILES atoms ("cccc" is a SMILES).
_WORD = re.compile(r"[a-z]{3,}")


def looks_like_smiles(text: str) -> bool:
    """No spaces, only SMILES characters, and RDKit reads it."""
    checked = precheck(text)
    if isinstance(checked, ChemError) or not _SMILES_CHARS.match(checked):
        return False
    return not isinstance(_read_smiles(checked), ChemError)


def looks_like_name(text: str) -> bool:
    """Spaces, or a word that is no run of aromatic SMILES atoms, and no SMILES bond or ring marks."""
    if re.search(r"[=#@\\%$]", text):
        return False
    if any(ch.isspace() for ch in text):
        return True
    return any(set(word) - set("cnops") for word in _WORD.findall(text))


def molecule_from_name(text: str, smiles: str) -> Molecule | ChemError:
    """The Molecule of a name `text` whose structure a name reader (OPSIN) gave as `smiles`
    (source='name'); see chemnamer.inputs.parse_input."""
    mol = _mol_from_smiles(smiles)
    if isinstance(mol, ChemError):
        return ChemError(f"OPSIN read the name but RDKit rejects its structure: {mol.message}")
    return _molecule(mol, text, "name")


def inchikey_of_smiles(smiles: str) -> str | None:
    """Standard InChIKey of a SMILES; None when it does not parse or InChI fails."""
    read = _read_smiles(smiles)
    return None if isinstance(read, ChemError) else _inchikey(read[1]) or None


# --- structure identity: does a name's structure equal the input? ---------------------------------
#
# Standard InChIKeys merge mobile-H tautomers (pyridin-2-ol = pyridin-2(1H)-one), so "same molecule"
# is decided here by canonical isomeric SMILES after the same standardization of both sides; InChI and
# RDKit's tautomer canonicalizer only say *why* two structures differ, and only for the few that share
# a skeleton: on the shipped model's beam candidates the InChIKey took most of the time of a check.

SAME, TAUTOMER, STEREO_UNSPECIFIED, OTHER_STEREO, CONSTITUTION = (
    "same", "tautomer", "stereo_unspecified", "other_stereo", "constitution")
# A name that leaves k stereo elements open covers 2**k isomers; up to this many are enumerated to see
# whether the input is one of them. 1,024 took 0.68 s on the shared 2-core CPU, too long for one of
# eight candidates; 256 (8 open elements) stays under 0.2 s. Beyond it the difference is "other stereo".
MAX_STEREO_ISOMERS = 256


@dataclass(frozen=True)
class Identity:
    smiles: str  # canonical isomeric SMILES of the standardized structure: equal strings, same molecule
    flat: str  # the same without stereo (isotopes and charges kept)
    formula: str  # with charge: tautomers share it, protonation states do not
    skeleton: str  # heavy atoms and bonds, no orders/charges/H: tautomers and protonation states share it
    stereo: int  # specified stereo elements: tetrahedral centres and double bonds
    mol: Any = field(repr=False, compare=False)

    @cached_property
    def inchikey(self) -> str:
        """Standard InChIKey ('' when InChI fails), computed when a difference needs explaining."""
        return _inchikey(self.mol)


@dataclass(frozen=True)
class Difference:
    kind: str  # SAME, TAUTOMER, STEREO_UNSPECIFIED, OTHER_STEREO or CONSTITUTION
    reason: str


_standardizers = threading.local()  # RDKit's clean-up objects, built once per thread (not shared)


def standardize(mol: Any) -> Any:
    """The clean-up both sides of a comparison get, RDKit's Cleanup step by step: explicit H removed,
    bonds to metals broken, one charge form per functional group (nitro, N-oxide, sulfoxide, azide),
    the strongest acid ionized first. No tautomer, neutralization or fragment step: those differences
    are what a comparison must see. Reusing the objects: 0.6 ms a molecule against 2.1 ms for
    `rdMolStandardize.Cleanup`, which builds them on every call (measured on 300 PubChem structures)."""
    tools = getattr(_standardizers, "tools", None)
    if tools is None:
        tools = _standardizers.tools = (rdMolStandardize.MetalDisconnector(), rdMolStandardize.Normalizer(),
                                        rdMolStandardize.Reionizer())
    metals, normalizer, reionizer = tools
    with _rdkit_log():
        try:
            out = Chem.RWMol(Chem.RemoveHs(mol))
            metals.DisconnectInPlace(out)
            normalizer.normalizeInPlace(out)
            reionizer.reionizeInPlace(out)
            return out
        except Exception:  # noqa: BLE001 - an odd valence; the sanitized molecule is the best we have
            return Chem.Mol(mol)


def _canonical(mol: Any) -> tuple[str, Any]:
    """Canonical isomeric SMILES through one round trip, so that stereo flags RDKit would drop on
    re-reading (a chiral tag on an atom that is no stereocentre) are gone on both sides alike."""
    with _rdkit_log():
        again = Chem.MolFromSmiles(Chem.MolToSmiles(mol))
        if again is None:  # RDKit cannot re-read its own output (rare): keep the first writing
            return Chem.MolToSmiles(mol), mol
        return Chem.MolToSmiles(again), again


def _skeleton(mol: Any) -> str:
    """Canonical SMILES of the heavy-atom graph alone: every bond single, no charge, H, isotope or
    stereo. Two structures with different skeletons can be neither tautomers nor protonation states."""
    rw = Chem.RWMol(Chem.RemoveAllHs(mol, sanitize=False))
    for atom in rw.GetAtoms():
        atom.SetFormalCharge(0)
        atom.SetIsotope(0)
        atom.SetNoImplicit(True)
        atom.SetNumExplicitHs(0)
        atom.SetNumRadicalElectrons(0)
        atom.SetIsAromatic(False)
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for bond in rw.GetBonds():
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
        bond.SetStereo(Chem.BondStereo.STEREONONE)
        bond.SetBondDir(Chem.BondDir.NONE)
    return Chem.MolToSmiles(rw)


def _stereo_count(mol: Any) -> int:
    centres = sum(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms())
    bonds = sum(b.GetStereo() > Chem.BondStereo.STEREOANY for b in mol.GetBonds())
    return centres + bonds


@lru_cache(maxsize=4096)
def identity(smiles: str) -> Identity | ChemError:
    """The comparable forms of a SMILES (cached: one input meets many candidate names)."""
    checked = precheck(smiles)
    if isinstance(checked, ChemError):
        return checked
    mol = _mol_from_smiles(checked)
    if isinstance(mol, ChemError):
        return mol
    iso, mol = _canonical(standardize(mol))
    flat_mol = Chem.Mol(mol)
    Chem.RemoveStereochemistry(flat_mol)
    formula = rdMolDescriptors.CalcMolFormula(mol, separateIsotopes=True)
    with _rdkit_log():
        skeleton = _skeleton(mol)
    return Identity(iso, Chem.MolToSmiles(flat_mol), formula, skeleton, _stereo_count(mol), mol)


def _covers(open_mol: Any, target: str) -> bool | None:
    """Is `target` (canonical SMILES) one of the isomers `open_mol`'s unassigned stereo elements
    allow? None when there are too many to enumerate."""
    opts = StereoEnumerationOptions(onlyUnassigned=True, unique=True, tryEmbedding=False,
                                    maxIsomers=MAX_STEREO_ISOMERS + 1)
    with _rdkit_log():
        if GetStereoisomerCount(open_mol, options=opts) > MAX_STEREO_ISOMERS:
            return None
        return any(_canonical(isomer)[0] == target for isomer in EnumerateStereoisomers(open_mol, options=opts))


def _stereo_difference(want: Identity, got: Identity) -> Difference:
    """Same constitution, different stereo: is the name only less specific than the input?"""
    less = (got.stereo == 0 or _covers(got.mol, want.smiles)) if want.stereo else False
    if less:
        open_n = want.stereo - got.stereo
        return Difference(STEREO_UNSPECIFIED, f"the name leaves stereo unspecified ({open_n} of {want.stereo} "
                                              f"stereo element{'s' if want.stereo != 1 else ''})")
    more = _covers(want.mol, got.smiles) if want.stereo else True
    if more:
        return Difference(OTHER_STEREO, "the name specifies stereo that the structure leaves open")
    if less is None or more is None:
        return Difference(OTHER_STEREO, "the name's stereo differs from the structure's (too many open "
                                        "stereo elements to say how)")
    return Difference(OTHER_STEREO, "the name denotes another stereoisomer")


@lru_cache(maxsize=4096)
def _canonical_tautomer(flat: str) -> str | None:
    mol = Chem.MolFromSmiles(flat)
    if mol is None:
        return None
    enumerator = rdMolStandardize.TautomerEnumerator()
    enumerator.SetMaxTautomers(200)  # bounds the time on big conjugated systems; a miss only says "constitution"
    with _rdkit_log():
        try:
            return Chem.MolToSmiles(enumerator.Canonicalize(mol), isomericSmiles=False)
        except Exception:  # noqa: BLE001 - RDKit raises several unrelated types
            return None


def compare(want: Identity, got: Identity) -> Difference:
    """How the structure `got` (a name's) differs from `want` (the input); kind SAME when it does not."""
    if got.smiles == want.smiles:
        return Difference(SAME, "same structure")
    if got.flat == want.flat:
        return _stereo_difference(want, got)
    if got.skeleton != want.skeleton:  # most wrong names end here, cheaply
        return _other_constitution(want, got)
    # Same skeleton. Standard InChIKey: first block = formula, connectivity and mobile H; last letter =
    # protonation.
    same_block = bool(want.inchikey and got.inchikey) and got.inchikey[:14] == want.inchikey[:14]
    same_protons = got.inchikey[-1:] == want.inchikey[-1:]
    if got.formula == want.formula:
        tautomers = same_block and same_protons
        if not tautomers:  # keto/enol and other C-H shifts, which InChI does not merge
            mine = _canonical_tautomer(want.flat)
            tautomers = mine is not None and mine == _canonical_tautomer(got.flat)
        if tautomers:
            return Difference(TAUTOMER, f"the name denotes another tautomer ({got.smiles})")
    elif same_block:
        what = "protonation state" if not same_protons else "isotope pattern"
        return Difference(CONSTITUTION, f"the name denotes another {what} ({got.formula}, not {want.formula})")
    return _other_constitution(want, got)


def _other_constitution(want: Identity, got: Identity) -> Difference:
    if got.formula == want.formula:
        return Difference(CONSTITUTION, f"the name denotes a constitutional isomer ({got.smiles})")
    return Difference(CONSTITUTION, f"the name denotes a different structure ({got.formula}, not {want.formula})")


# --- depiction -----------------------------------------------------------------------------------


def _as_mol(mol_or_smiles: Any) -> Any:
    if isinstance(mol_or_smiles, Molecule):
        return mol_or_smiles.mol
    if isinstance(mol_or_smiles, str):
        parsed = parse_smiles(mol_or_smiles)
        if isinstance(parsed, ChemError):
            raise ValueError(parsed.message)
        return parsed.mol
    return mol_or_smiles


def _draw(drawer: Any, mol: Any) -> None:
    opts = drawer.drawOptions()
    opts.addStereoAnnotation = True  # CIP labels (R/S, E/Z): the name states them, so show them
    opts.padding = 0.08
    opts.bondLineWidth = 2
    with _rdkit_log():
        prepared = rdMolDraw2D.PrepareMolForDrawing(mol)
        drawer.DrawMolecule(prepared)
    drawer.FinishDrawing()


def depict_svg(mol_or_smiles: Any, width: int = 400, height: int = 300) -> str:
    """SVG text (glyphs as paths: renders the same everywhere). Raises ValueError on a bad SMILES."""
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    _draw(drawer, _as_mol(mol_or_smiles))
    return drawer.GetDrawingText()


def depict_png(mol_or_smiles: Any, width: int = 400, height: int = 300) -> bytes:
    """PNG bytes; ask for the pixel size you display at (HiDPI: multiply) to stay crisp."""
    drawer = rdMolDraw2D.MolDraw2DCairo(width, height)
    _draw(drawer, _as_mol(mol_or_smiles))
    return drawer.GetDrawingText()


# --- descriptors used by data filters -------------------------------------------------------------


def descriptors(mol: Any) -> dict:
    """elements (incl. 'H' for any hydrogen), mw, fsp3, phenyl_rings, aromatic_rings, rings, fragments."""
    mol = _as_mol(mol)
    elements = {atom.GetSymbol() for atom in mol.GetAtoms()}
    if any(atom.GetTotalNumHs() for atom in mol.GetAtoms()):
        elements.add("H")
    ring_info = mol.GetRingInfo()
    phenyl = 0
    for ring in ring_info.AtomRings():
        if len(ring) == 6 and all(
            mol.GetAtomWithIdx(i).GetIsAromatic() and mol.GetAtomWithIdx(i).GetSymbol() == "C"
            for i in ring
        ):
            phenyl += 1
    return {
        "elements": elements,
        "mw": Descriptors.MolWt(mol),
        "fsp3": rdMolDescriptors.CalcFractionCSP3(mol),
        "phenyl_rings": phenyl,
        "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings(mol),
        "rings": ring_info.NumRings(),
        "fragments": len(Chem.GetMolFrags(mol)),
    }


# Lowercase aromatic atoms outside brackets (c, n, o, s, p, b) or inside them ([nH], [se]).
_AROMATIC_ATOM = re.compile(r"(?<![A-Z])[cnosbp](?![a-z])|\[[0-9]*(?:se|as|[cnosbp])")


def model_smiles(typed: str, smiles: str, input_forms: str = "kekule") -> str:
    """The SMILES a language model sees for a molecule typed as `typed` (empty when it came from a
    name or a drawing) whose canonical SMILES is `smiles`.

    `input_forms` is what the model was trained on (its chemnamer.json): "any" (every SMILES form,
    augmented training) takes the SMILES as typed. "kekule" (PubChem's SMILES, the earlier models)
    takes a Kekulé-form SMILES as typed and writes anything else in Kekulé form: measured on 200
    held-out molecules with such a model, greedy exact match was 26.5 % with PubChem's SMILES, 11.5 %
    with RDKit's Kekulé canonical SMILES, 5.5 % with RDKit's aromatic canonical SMILES."""
    typed = typed.strip()
    if typed and (input_forms == "any" or not _AROMATIC_ATOM.search(typed)):
        return typed
    if input_forms == "any":
        return smiles
    mol = Chem.MolFromSmiles(smiles)
    try:
        Chem.Kekulize(mol, clearAromaticFlags=True)
        return Chem.MolToSmiles(mol, kekuleSmiles=True)
    except Exception:  # RDKit cannot kekulize some odd aromatic systems: the canonical form will do
        return smiles


def write_smiles(mol: Chem.Mol, form: str, rng: random.Random) -> str:
    """`mol` as SMILES in one form: "aromatic" or "kekule" (RDKit's canonical ones), "random_aromatic"
    or "random_kekule" (a random atom order drawn from `rng`). A Kekulé form RDKit cannot make (some
    aromatic systems) comes out aromatic."""
    kekule = form.endswith("kekule")
    m = Chem.Mol(mol)
    if kekule:
        try:
            Chem.Kekulize(m, clearAromaticFlags=True)
        except Exception:  # some aromatic systems have no Kekulé form in RDKit: keep aromatic
            kekule = False
    if form.startswith("random"):
        # a random atom order from our seeded RNG, written without canonical reordering (RDKit's own
        # doRandom draws from a generator that reseeding does not make reproducible across calls)
        order = list(range(m.GetNumAtoms()))
        rng.shuffle(order)
        return Chem.MolToSmiles(Chem.RenumberAtoms(m, order), canonical=False, kekuleSmiles=kekule)
    return Chem.MolToSmiles(m, kekuleSmiles=kekule)


# The forms after the first that a model trained on every SMILES form reads a molecule in (smiles_forms):
# RDKit's two canonical forms, then random atom orders of both.
POOLED_FORMS = ("aromatic", "kekule", "random_aromatic", "random_kekule")


def smiles_forms(typed: str, smiles: str, input_forms: str = "kekule", n: int = 1) -> list[str]:
    """Up to `n` distinct SMILES of one molecule for a language model to read, the first being
    `model_smiles`'s. A model trained on every form (`"any"`) also gets RDKit's canonical aromatic and
    Kekulé forms, then random atom orders seeded by the molecule (the same forms every time it is named);
    a small molecule may have fewer than n. A model trained on one form gets that form only."""
    first = model_smiles(typed, smiles, input_forms)
    mol = Chem.MolFromSmiles(smiles) if n > 1 and input_forms == "any" else None
    if mol is None:
        return [first]
    out, rng = [first], random.Random(zlib.crc32(smiles.encode()))
    for i in range(4 * n):  # random orders can repeat on small molecules: a bounded number of tries
        form = POOLED_FORMS[i] if i < len(POOLED_FORMS) else POOLED_FORMS[2 + i % 2]
        text = write_smiles(mol, form, rng)
        if text not in out:
            out.append(text)
        if len(out) == n:
            break
    return out
