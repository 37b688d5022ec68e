"""What changed between two names, for showing a guided rewrite beside its rule-based draft."""
from __future__ import annotations

from difflib import SequenceMatcher


def char_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(op, text) segments turning `before` into `after`; op is "equal", "delete" or "insert".

    Character level: the edits a guided rewrite makes are small ("((" → "[(", a dropped "(…)" or
    "9H-"), and a word diff would mark a whole 80-character name as changed."""
    out: list[tuple[str, str]] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("equal", before[i1:i2]))
            continue
        if i2 > i1:
            out.append(("delete", before[i1:i2]))
        if j2 > j1:
            out.append(("insert", after[j1:j2]))
    return out


def edit_count(before: str, after: str) -> int:
    """Characters deleted plus inserted (0: the rewrite copied the draft)."""
    return sum(len(text) for op, text in char_diff(before, after) if op != "equal")
