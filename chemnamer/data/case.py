"""Restore standard IUPAC letter case in PubChem's lowercased names.

PubChem names in the `chemicals` tables are all lowercase ("(2r)-n-methyl-1h-indol-3-amine"); IUPAC
writes stereodescriptors, heteroatom locants and indicated hydrogen in capitals
("(2R)-N-methyl-1H-indol-3-amine"). Only those three patterns change; everything else stays as is.
"""
from __future__ import annotations

import re

# A stereo group: "(2r,3s)", "(e)", "(1'r,4as)", "(2z,4e)" possibly inside brackets. Each item is an
# optional locant (digits, an optional letter like 4a, primes) and one descriptor letter.
_STEREO_ITEM = r"(?:\d+[a-z]?'*)?[rsez]\*?"
_STEREO_GROUP = re.compile(r"\((" + _STEREO_ITEM + r"(?:," + _STEREO_ITEM + r")*)\)")
_STEREO_ITEM_RE = re.compile(r"^((?:\d+[a-z]?'*)?)([rsez])(\*?)$")
# Indicated hydrogen: "1h-indole", "2h-pyran", "4ah-", "3h,5h".
_INDICATED_H = re.compile(r"(?<![a-z])(\d+[a-z]?)h(?=[-,\])]|$)")
# Heteroatom locants: "n-methyl", "n,n-dimethyl", "n'-", "n1,n4-", "o-acetyl", "s-ethyl".
_HETERO_LOCANT = re.compile(r"(?<![a-z0-9])([nos])(\d*'*)(?=[,-])")
OLD_STYLE = re.compile(r"oxidanyl|azanyl|chloranyl|bromanyl|fluoranyl|iodanyl")


def is_old_style(name: str) -> bool:
    """PubChem's older generator named OH as 'oxidanyl', Cl as 'chloranyl' ...: not current IUPAC style."""
    return bool(OLD_STYLE.search(name))


def _fix_stereo(match: re.Match) -> str:
    items = []
    for item in match.group(1).split(","):
        m = _STEREO_ITEM_RE.match(item)
        items.append(m.group(1) + m.group(2).upper() + m.group(3) if m else item)
    return "(" + ",".join(items) + ")"


def restore_case(name: str) -> str:
    name = _STEREO_GROUP.sub(_fix_stereo, name)
    name = _INDICATED_H.sub(lambda m: m.group(1) + "H", name)
    name = _HETERO_LOCANT.sub(lambda m: m.group(1).upper() + m.group(2), name)
    return name
