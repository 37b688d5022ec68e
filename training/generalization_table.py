"""Side-by-side Markdown table of `chemnamer eval --sets ... --json` reports (issue 14's model card table).

    python training/generalization_table.py "previous default=training/reports/generalization_default.json" \
        "new default=training/reports/generalization_generalist.json"

Each argument is LABEL=REPORT[,REPORT...]: several reports of one model (e.g. the sets and the common
set, run apart) are merged. A cell is "structure-correct % ± se / exact match % ± se" (exact match only
where the set has reference names); the heavy-atom bins of the test split and the drug-like set follow
them (the test split's bins give exact match against PubChem's names on drug-sized molecules, which the
MOSES set cannot; reports from before 2026-12-06 have bins for the drug-like set only).
"""
from __future__ import annotations

import json
import sys

ORDER = ("test", "aromatic", "randomized", "oldstyle", "druglike", "common")
BINNED = ("test", "druglike")  # the sets whose heavy-atom bins the table shows


def _pct(value: float, se: float) -> str:
    return f"{100 * value:.1f} ± {100 * se:.1f}"


def cell(r: dict | None) -> str:
    if not r:
        return "–"
    text = _pct(r["structure_correct"], r["structure_correct_se"])
    if "exact_match_ci" in r:
        text += f" / {_pct(r['exact_match_ci'], r['exact_match_ci_se'])}"
    return text


def rows(models: dict[str, dict]) -> list[tuple[str, int | None, list[dict | None]]]:
    """(set label, n, one summary per model) in ORDER, the drug-like bins after the drug-like set."""
    names = [n for n in ORDER if any(n in m for m in models.values())]
    out = []
    for name in names:
        summaries = [m.get(name) for m in models.values()]
        n = next((s["n"] for s in summaries if s), None)
        out.append((name, n, summaries))
        if name in BINNED:
            bins = sorted({b for s in summaries if s for b in s.get("by_bin", {})},
                          key=lambda b: ("<=15", "16-25", "26-40", ">40").index(b))
            for b in bins:
                subs = [(s or {}).get("by_bin", {}).get(b) for s in summaries]
                out.append((f"  atoms {b}", next((x["n"] for x in subs if x), None), subs))
    return out


def main(argv: list[str]) -> int:
    models: dict[str, dict] = {}
    for arg in argv:
        label, _, files = arg.partition("=")
        merged: dict = {}
        for path in files.split(","):
            with open(path, encoding="utf-8") as fh:
                merged.update(json.load(fh)["sets"])
        models[label] = merged
    if not models:
        print(__doc__, file=sys.stderr)
        return 2
    print("| set | n | " + " | ".join(models) + " |")
    print("|---|---|" + "---|" * len(models))
    for name, n, summaries in rows(models):
        print(f"| {name} | {n if n is not None else ''} | " + " | ".join(cell(s) for s in summaries) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
