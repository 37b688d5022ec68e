"""Does the model name drug-like molecules in PubChem's style or in the rule-based namer's?

    chemnamer eval --model M --recipe training/recipes/default.toml --sets druglike --beams 8 \
        --items items.jsonl [...]
    python training/rule_style.py items.jsonl [--set druglike]

For each structure-correct name in an `eval --items` file, openclatura names the same molecule; the
report is the share of those names that are openclatura's name letter for letter (any case). MOSES
molecules have no PubChem name, so exact match against PubChem cannot be measured on them; this share
says how far the model writes them as the rule-labelled ZINC pairs it learned them from. openclatura's
names match PubChem's on only 6.4 % of drug-like PubChem molecules (issue 14), so a model that copies
its style cannot match PubChem's often.

Measured on the 1,000-molecule drug-like test set, 8 beams, three SMILES forms (stage 5, the default of
2026-12-06): 224 of 305 structure-correct names (73 %) are openclatura's.
"""
from __future__ import annotations

import argparse
import json
import sys


def rule_style(items: list[dict], timeout_s: float = 5.0) -> dict:
    """n verified names, how many equal openclatura's name, and a few that do not."""
    from chemnamer.rulebased import rule_based_name

    verified = [i for i in items if i["structure_correct"]]
    same, differ = 0, []
    for item in verified:
        rule = rule_based_name(item["smiles"], timeout_s)
        if rule.name and rule.name.lower() == item["name"].lower():
            same += 1
        elif len(differ) < 10:
            differ.append({"smiles": item["smiles"], "model": item["name"], "openclatura": rule.name})
    return {"molecules": len(items), "structure_correct": len(verified), "same_as_openclatura": same,
            "share": round(same / len(verified), 4) if verified else 0.0, "examples_that_differ": differ}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", help="a `chemnamer eval --sets ... --items` JSONL file")
    ap.add_argument("--set", default="druglike", help="which set's molecules (default druglike)")
    args = ap.parse_args()
    with open(args.items, encoding="utf-8") as fh:
        items = [row for row in map(json.loads, fh) if row["set"] == args.set]
    if not items:
        print(f"error: no molecules of set {args.set!r} in {args.items}", file=sys.stderr)
        return 2
    print(json.dumps(rule_style(items), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
