"""Reference names as a chemist reads them: PubChem's markup turned into print, component lists told apart.

PubChem's table writes the λ-convention and superscript locants in a TeX-like markup: "$l^{5}-phosphane",
"tricyclo[3.3.1.1^{3,7}]decane" (993 of the 71,347 IUPAC names of the large table). They are shown as
IUPAC prints them, "λ⁵-phosphane", "tricyclo[3.3.1.1³,⁷]decane", and OPSIN reads the printed form to
the same structure as the markup (tests/test_refnames.py checks every such name of the tables). Markup
with no plain-text form (the fullerenes' "(c\\{60}-i\\{h})") is dropped rather than shown raw.

A ';' joins the components of a salt or mixture ("sodium;chloride", 14,402 names of the large table):
a list of parts, not a name, so it is shown as such and never verified, compared or chosen as a name.
"""
from __future__ import annotations

import re

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_LAMBDA = re.compile(r"\$l\^\{(\d+)\}")  # "$l^{5}" -> λ⁵ (bonding number)
_SUPER = re.compile(r"\^\{([\d,]+)\}")  # "1^{3,7}" -> 1³,⁷ (von Baeyer and spiro superscript locants)
_LEFTOVER = re.compile(r"[$^{}\\]")


def clean_name(name: str | None) -> str | None:
    """The name in print form, or None when it is empty or holds markup that has no plain-text form."""
    if not name or not name.strip():
        return None
    name = name.strip()
    if len(name) > 1 and name[0] == name[-1] == '"':  # a CSV-quoted cell: "n,n"",n""-…" means n,n",n"-…
        name = name[1:-1].replace('""', '"')
    name = _LAMBDA.sub(lambda m: "λ" + m.group(1).translate(_SUPERSCRIPT), name)
    name = _SUPER.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), name)
    return None if _LEFTOVER.search(name) else name


def is_component_list(name: str | None) -> bool:
    """PubChem's way of writing a salt or mixture: its components joined by ';' (not a name)."""
    return bool(name) and ";" in name


def components(name: str) -> list[str]:
    return [part.strip() for part in name.split(";") if part.strip()]
