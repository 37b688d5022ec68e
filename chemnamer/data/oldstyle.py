"""Old-style PubChem names ("4-chloranylbenzamide") rewritten in current IUPAC style ("4-chlorobenzamide").

About a third of the `chemicals` PubChem table (23,674 of 71,347 rows) was named by an older generator
that writes substituents as parent hydrides (oxidanyl, azanyl, chloranyl, oxidanylidene), multiplies
them with bis()/tris(), hyphenates before the parent ("2-nitro-benzene") and prefers systematic stems
(ethanoate, ethanamide). Dropping those rows drops most molecules with OH, NH2 or a halogen, so they
are converted instead:

1. substituent words → current prefixes (oxidanyl → hydroxy, oxidanylidene → oxo, chloranyl → chloro …)
   and "bis(oxidanyl)" → "dihydroxy" where the multiplied part is one simple prefix;
2. systematic stems → the retained names PubChem's current names use (ethanoate → acetate …);
3. the hyphen the old style puts between a prefix and the next word ("nitro-benzene") elided;
4. each run of detachable prefixes re-sorted alphanumerically (IUPAC P-14.5), at every bracket depth,
   because hydroxy/amino/oxo sort elsewhere than oxidanyl/azanyl/oxidanylidene did.

A converted name is kept only when OPSIN reads it back to the row's own structure
(`convert_verified`); the rest are reported, never silently kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Longest first: "oxidanylidene" before "oxidanyl", "sulfanylidene" untouched (PubChem current keeps it).
_WORDS = (
    ("dioxidanyl", "hydroperoxy"),
    ("oxidanylidene", "oxo"),
    ("oxidanyl", "hydroxy"),
    ("azanylidene", "imino"),
    ("azanyl", "amino"),
    ("chloranyl", "chloro"),
    ("fluoranyl", "fluoro"),
    ("bromanyl", "bromo"),
    ("iodanyl", "iodo"),
)
# bis(X) → diX, tris(X) → triX, any "...kis(X)" → "...X" (tetrakis → tetra, pentadecakis → pentadeca)
_MULTIPLIED = re.compile(r"(?<![a-z])(bis|tris|[a-z]+?kis)\((hydroperoxy|oxo|hydroxy|imino|amino|chloro|fluoro|bromo|iodo)\)")
# Systematic stems the old generator preferred, and PubChem's current retained names.
_STEMS = (
    (r"methanoate\b", "formate"), (r"methanoic acid\b", "formic acid"), (r"methanoyl", "formyl"),
    (r"methanamide\b", "formamide"),
    (r"ethanoate\b", "acetate"), (r"ethanoic acid\b", "acetic acid"), (r"ethanoyl", "acetyl"),
    (r"ethanamide\b", "acetamide"), (r"ethanamido", "acetamido"), (r"ethanenitrile\b", "acetonitrile"),
)
# Words a hyphen legitimately follows ("tert-butyl", "cis-"...): never elided after these.
_KEEP_HYPHEN_AFTER = frozenset("tert sec iso neo cis trans exo endo meso syn anti ortho meta para rel rac "
                               "abs alpha beta gamma delta omega erythro threo".split())
_OLD = re.compile(r"oxidanyl|azanyl|chloranyl|bromanyl|fluoranyl|iodanyl")


def _multiplier(m: re.Match) -> str:
    mult = m.group(1)
    simple = {"bis": "di", "tris": "tri"}.get(mult, mult[:-3])  # tetrakis → tetra
    return simple + m.group(2)


def _replace_words(name: str) -> str:
    for old, new in _WORDS:
        # "azanylidyne" (nitrilo) and other longer hydride words are left alone: OPSIN reads them
        name = re.sub(old + r"(?!idyne|idyl)", new, name)
    # bis(hydroxy) → dihydroxy: the parentheses held a single simple prefix
    name = _MULTIPLIED.sub(_multiplier, name)
    for pattern, new in _STEMS:
        name = re.sub(r"(?<!m)" + pattern, new, name)  # "ethanoyl" inside "methanoyl" is not acetyl
    return name


# A hyphen between two words (not locants): "nitro-benzene", "hydroxy-phenyl", ")-benzene" stays.
_WORD_HYPHEN = re.compile(r"(?<![A-Za-z])([a-z]{3,})-(?=[a-z]{2})")


def _elide_hyphens(name: str) -> str:
    def fix(m: re.Match) -> str:
        word = m.group(1)
        return m.group(0) if word in _KEEP_HYPHEN_AFTER else word

    # Word boundaries come from locant digits, brackets or separators; apply until stable.
    previous = None
    while previous != name:
        previous, name = name, _WORD_HYPHEN.sub(fix, name)
    return name


# --- re-sorting prefixes ------------------------------------------------------------------------------

_LOCANTS = r"(?:[0-9]+[a-z]?'*|[nosp]'*[0-9]*'*)(?:,(?:[0-9]+[a-z]?'*|[nosp]'*[0-9]*'*))*"
_SIMPLE_MULT = re.compile(r"^(di|tri|tetra|penta|hexa|hepta|octa|nona|deca|bis|tris|tetrakis|pentakis|hexakis)"
                          r"(?=[a-z(\[])")
# Simple detachable prefixes whose sorting we trust; compound ones (in brackets) are sorted by their
# first letter as IUPAC says (the complete name, multiplying prefixes inside included).
_SORTABLE_END = re.compile(r"(?:yl|oxy|amino|o|ylidene|idene|imino|ylsulfanyl|sulfanyl|ylidyne)$")


# Brackets already re-sorted are masked by these stand-ins while their parent segment is sorted.
_OPEN, _CLOSE = "([{\1\2", ")]}\3\4"
_MASK = str.maketrans("()[]", "\1\3\2\4")
_UNMASK = str.maketrans("\1\3\2\4", "()[]")
# Simple prefixes that can be glued to the parent word ("nitrobenzene"), longest first.
_GLUED = sorted("chloro bromo fluoro iodo hydroxy amino nitro nitroso methyl ethyl propyl butyl oxo methoxy "
                "ethoxy imino cyano phenyl sulfanyl methylsulfanyl carbamoyl formyl acetyl trifluoromethyl "
                "ethenyl ethynyl phenoxy benzyl carboxy hydroxymethyl dimethylamino".split(), key=len, reverse=True)


def _split_top(segment: str) -> list[str]:
    """Split at depth-0 hyphens: "2-chloro-4-(2-methylphenyl)benzoic acid" → 2 | chloro | 4 | (…)benzoic acid."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(segment):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif ch == "-" and depth == 0:
            parts.append(segment[start:i])
            start = i + 1
    parts.append(segment[start:])
    return parts


def _sort_key(prefix: str) -> str:
    """IUPAC alphanumerical order: a simple prefix without its multiplier, a compound one as written."""
    text = prefix
    if not text.startswith(("(", "[")):
        text = _SIMPLE_MULT.sub("", text)
    return re.sub(r"[^a-z]", "", text.lower())


def _resort(segment: str) -> str:
    """Re-sort one run of 'locants-prefix' items before the parent at depth 0 of `segment`."""
    parts = _split_top(segment)
    # items: (locants, prefix) pairs while the pattern holds; the rest is the parent and its suffix
    items, i = [], 0
    locant_re = re.compile(rf"^{_LOCANTS}$")
    glued = None  # the run's last prefix, written onto the parent word ("nitrobenzene")
    while i + 1 < len(parts) and locant_re.match(parts[i]):
        word = parts[i + 1]
        if i + 2 >= len(parts):
            split = _split_glued(word)
            if split:
                items.append((parts[i], split[0]))
                glued = split[1]
                i += 2
            break
        if not _is_prefix(word):
            split = _split_glued(word)  # "1-hydroxypiperidin-4-yl": the run ends inside this word
            if split:
                items.append((parts[i], split[0]))
                glued = "-".join([split[1], *parts[i + 2:]])
                i += 2
            break
        items.append((parts[i], word))
        i += 2
    if len(items) < 2:
        return segment
    rest = glued if glued is not None else "-".join(parts[i:])
    ordered = sorted(items, key=lambda it: _sort_key(it[1]))
    if ordered == items:
        return segment
    joined = "-".join(f"{loc}-{word}" for loc, word in ordered)
    return joined + rest if glued is not None else joined + "-" + rest


def _split_glued(word: str) -> tuple[str, str] | None:
    """"nitrobenzene" → ("nitro", "benzene"); "(4-chlorophenoxy)benzene" → ("(4-chlorophenoxy)", "benzene")."""
    if word and word[0] in _OPEN:
        depth = 0
        for j, ch in enumerate(word):
            depth += ch in _OPEN
            depth -= ch in _CLOSE
            if depth == 0:
                return (word[: j + 1], word[j + 1:]) if word[j + 1:] else None
        return None
    core = _SIMPLE_MULT.sub("", word)
    mult = word[: len(word) - len(core)]
    for prefix in _GLUED:
        if core.startswith(prefix) and len(core) > len(prefix) + 2 and core[len(prefix)] not in "-,":
            return mult + prefix, core[len(prefix):]
    return None


def _is_prefix(word: str) -> bool:
    if not word:
        return False
    if word[0] in _OPEN:
        # a bracketed compound prefix: "(2-methylphenyl)" or "[2-(…)ethyl]"
        return word[-1] in _CLOSE or bool(_SORTABLE_END.search(word))
    core = _SIMPLE_MULT.sub("", word)
    return core.isalpha() and bool(_SORTABLE_END.search(core))


def _resort_all(name: str) -> str:
    """Re-sort prefix runs at depth 0 and inside every bracket (innermost first)."""
    previous = None
    out = name
    # brackets without unmasked brackets inside, repeatedly: innermost first, then masked
    pattern = re.compile(r"([(\[])([^()\[\]]*)([)\]])")
    while previous != out:
        previous = out
        out = pattern.sub(lambda m: (m.group(1) + _resort(m.group(2)) + m.group(3)).translate(_MASK), out)
    out = ";".join(_resort(part) for part in out.split(";"))
    return out.translate(_UNMASK)


def convert(name: str) -> str:
    """The current-style form of an old-style PubChem name (lowercase, as PubChem writes it)."""
    if not _OLD.search(name):
        return name
    out = _replace_words(name)
    out = _elide_hyphens(out)
    return _resort_all(out)


@dataclass
class Conversion:
    original: str
    converted: str
    verified: bool | None  # None: OPSIN unavailable
    reason: str = ""


def convert_verified(name: str, smiles: str, opsin=None) -> Conversion:
    """Convert and check: kept only when OPSIN reads the converted name as exactly this structure
    (tautomer and stereo included)."""
    converted = convert(name)
    if opsin is None:
        from chemnamer.opsin import get_opsin

        opsin = get_opsin()
    check = opsin.check(converted, smiles)
    return Conversion(name, converted, check.verified, check.reason)
