"""Is a name the chemist vouches for (typed as a correction, or marked correct) right for the structure?

OPSIN reads the name back and it must be exactly the row's structure, tautomer and stereo included (the
same check every ✓ rests on): a name it reads as another structure, or cannot read at all, is most
likely a typo, and a correction becomes training data, so it is refused with the reason in words.
Without Java the name cannot be checked; it is then accepted and the check says so (the chemist is
the authority, the note tells them nobody double-checked).

Plain Python (no Qt, no database): the store's `set_correction` / `mark_correct` call it, so the CLI
and the GUI refuse the same names for the same reasons.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CorrectionCheck:
    accepted: bool
    checked: bool  # OPSIN compared the name with the structure (False: no Java)
    kind: str  # chemnamer.opsin's kind: 'verified', 'unparsable', 'constitution', 'tautomer', ...
    reason: str  # for the user, in words


class CorrectionRefused(ValueError):
    """A name the chemist vouches for that cannot be right for the structure; str() is the reason."""

    def __init__(self, check: CorrectionCheck):
        super().__init__(check.reason)
        self.check = check


def check_correction(name: str, smiles: str | None) -> CorrectionCheck:
    """Check `name` against the canonical `smiles` of a history row."""
    from chemnamer.opsin import UNAVAILABLE, UNPARSABLE, VERIFIED, get_opsin

    name = " ".join((name or "").split())
    if not name:
        return CorrectionCheck(False, False, UNPARSABLE, "the name is empty")
    if not smiles:
        return CorrectionCheck(False, False, UNAVAILABLE,
                               "this naming has no structure to check a name against (its input did not parse)")
    opsin = get_opsin()
    if not opsin.available():
        return CorrectionCheck(True, False, UNAVAILABLE, f"not checked by OPSIN: {opsin.unavailable_reason}")
    v = opsin.check(name, smiles)
    if v.kind == VERIFIED:
        return CorrectionCheck(True, True, v.kind, f"OPSIN reads “{name}” as this structure")
    if v.verified is None:  # the row's structure itself does not parse
        return CorrectionCheck(False, False, v.kind, v.reason)
    if v.kind == UNPARSABLE:
        detail = v.reason.removeprefix("OPSIN could not parse: ")
        return CorrectionCheck(False, True, v.kind, f"OPSIN cannot read “{name}” as a name ({detail}); "
                                                    "check the spelling")
    read_as = f" as {v.smiles}, not {smiles}" if v.smiles else " as another structure"
    return CorrectionCheck(False, True, v.kind, f"OPSIN reads “{name}”{read_as}: {v.reason}; "
                                                "check the name for a typo")
