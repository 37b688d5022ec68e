"""Molecules with RDKit: parse, canonicalize, InChIKey, depict, descriptors.

Everything the user types goes through `parse_input`; it returns a `Molecule` or a `ChemError`
(errors are values here: a bad SMILES is an everyday input, not an exception). RDKit's own log
lines are captured into the error message, so nothing is printed on stderr.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import Descriptors, rdMolDescriptors
from rdkit.Chem.Draw import rdMolDraw2D

MAX_INPUT_CHARS = 2000
MAX_HEAVY_ATOMS = 150


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


@contextmanager
def _rdkit_log():
    """Collect RDKit error-log lines instead of letting them reach stderr.

    Yields a list that holds the captured lines after the block. Older RDKit has no capture API:
    there we only block the log, and messages come from sanitization exceptions.
    """
    lines: list[str] = []
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


def _precheck(text: str) -> str | ChemError:
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


def parse_smiles(text: str) -> Molecule | ChemError:
    """A SMILES string → Molecule (canonical, all fragments and stereo kept) or ChemError."""
    checked = _precheck(text)
    if isinstance(checked, ChemError):
        return checked
    mol = _mol_from_smiles(checked)
    if isinstance(mol, ChemError):
        return mol
    return _molecule(mol, checked, "smiles")


_SMILES_CHARS = re.compile(r"^[A-Za-z0-9@+\-\[\]()=#$:/\\%.*~]+$")
# A word of a name: 3+ lowercase letters, not all aromatic SMILES atoms ("cccc" is a SMILES).
_WORD = re.compile(r"[a-z]{3,}")


def looks_like_smiles(text: str) -> bool:
    """No spaces, only SMILES characters, and RDKit reads it."""
    checked = _precheck(text)
    if isinstance(checked, ChemError) or not _SMILES_CHARS.match(checked):
        return False
    return not isinstance(_mol_from_smiles(checked), ChemError)


def _looks_like_name(text: str) -> bool:
    if re.search(r"[=#@\\%$]", text):
        return False
    if any(ch.isspace() for ch in text):
        return True
    return any(set(word) - set("cnops") for word in _WORD.findall(text))


def parse_input(text: str, opsin: Any = None) -> Molecule | ChemError:
    """SMILES first; otherwise, if it reads like a name, OPSIN gives the structure (source='name').

    `opsin` defaults to the process-wide `chemnamer.opsin.get_opsin()`.
    """
    checked = _precheck(text)
    if isinstance(checked, ChemError):
        return checked
    as_smiles = parse_smiles(checked)
    if isinstance(as_smiles, Molecule) or not _looks_like_name(checked):
        return as_smiles
    if as_smiles.message.startswith("too large"):
        return as_smiles
    if opsin is None:
        from chemnamer.opsin import get_opsin  # late: OPSIN starts a JVM, only names need it

        opsin = get_opsin()
    smiles_problem = as_smiles.message.removeprefix("invalid SMILES: ")
    if not opsin.available():
        return ChemError(f"not a valid SMILES ({smiles_problem}); reading it as a name needs OPSIN: "
                         f"{opsin.unavailable_reason}")
    parsed = opsin.name_to_structure(checked)
    if parsed.smiles is None:
        return ChemError(f"neither a valid SMILES ({smiles_problem}) nor a name OPSIN can read "
                         f"({parsed.error})")
    mol = _mol_from_smiles(parsed.smiles)
    if isinstance(mol, ChemError):
        return ChemError(f"OPSIN read the name but RDKit rejects its structure: {mol.message}")
    return _molecule(mol, checked, "name")


def inchikey_of_smiles(smiles: str) -> str | None:
    """Standard InChIKey of a SMILES; None when it does not parse or InChI fails."""
    checked = _precheck(smiles)
    if isinstance(checked, ChemError):
        return None
    mol = _mol_from_smiles(checked)
    if isinstance(mol, ChemError):
        return None
    return _inchikey(mol) or None


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
