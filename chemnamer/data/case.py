"""Restore standard IUPAC letter case in PubChem's lowercased names.

PubChem names in the `chemicals` tables are all lowercase ("(2r)-n-methyl-1h-indol-3-amine"); IUPAC
writes stereodescriptors, heteroatom locants and indicated hydrogen in capitals
("(2R)-N-methyl-1H-indol-3-amine"). Only those three patterns change; everything else stays as is.
"""
from __future__ import annotations

import re

# Primes on locants: ' or '' (PubChem also writes " for a double prime).
_P = "[\"']*"
# A locant before a stereodescriptor: 2, 4a, 3'a, 1'', or a nitrogen ("(NE)"-oximes, "N'Z").
_LOCANT = rf"(?:\d+{_P}[a-z]?{_P}|n{_P}\d*{_P})"
# A stereo group: "(2r,3s)", "(e)", "(1'r,4as)", "(2z,4e)", "(nz)", possibly inside brackets. Each item is
# an optional locant and one descriptor letter. (Lowercase r/s also exist in IUPAC, for pseudoasymmetric
# centres; PubChem's lowercasing erased that distinction, so all become R/S.)
_STEREO_ITEM = rf"(?:{_LOCANT})?[rsez]\*?"
_STEREO_GROUP = re.compile(rf"\(({_STEREO_ITEM}(?:,{_STEREO_ITEM})*)\)")
_STEREO_ITEM_RE = re.compile(rf"^((?:{_LOCANT})?)([rsez])(\*?)$")
# Indicated hydrogen: "1h-indole", "2h-pyran", "4ah-", "3h,5h", "1'h-spiro".
_INDICATED_H = re.compile(rf"(?<![a-z])(\d+{_P}[a-z]?{_P})h(?=[-,\])]|$)")
# Heteroatom locants: "n-methyl", "n,n-dimethyl", "n'-", "n1,n4-", "o-acetyl", "s-ethyl". Not p: PubChem's
# "dibenzo-p-dioxin" means para.
_HETERO_LOCANT = re.compile(rf"(?<![a-z0-9])([nos])(\d*{_P})(?=[,-])")
OLD_STYLE = re.compile(r"oxidanyl|azanyl|chloranyl|bromanyl|fluoranyl|iodanyl")


def is_old_style(name: str) -> bool:
    """PubChem's older generator named OH as 'oxidanyl', Cl as 'chloranyl' ...: not current IUPAC style."""
    return bool(OLD_STYLE.search(name))


def _fix_stereo(match: re.Match) -> str:
    items = []
    for item in match.group(1).split(","):
        m = _STEREO_ITEM_RE.match(item)
        locant = m.group(1) if m else ""
        if locant.startswith("n"):
            locant = "N" + locant[1:]
        items.append(locant + m.group(2).upper() + m.group(3) if m else item)
    return "(" + ",".join(items) + ")"


def restore_case(name: str) -> str:
    name = _STEREO_GROUP.sub(_fix_stereo, name)
    name = _INDICATED_H.sub(lambda m: m.group(1) + "H", name)
    name = _HETERO_LOCANT.sub(lambda m: m.group(1).upper() + m.group(2), name)
    return name
