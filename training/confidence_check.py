"""Is the mean token probability exp(score) the chance that a name is right? A reliability table.

    python training/confidence_check.py [--recipe training/recipes/default.toml] [--model default]

Names the recipe's validation molecules as the app does (beam 8, verified candidate first, no
references) and bins exp(score) against the share of names OPSIN verifies (structure-correct).
Measured for the default model (200 molecules; 208-808 s on the shared 2-core CPU):

    top candidate  exp(score)   n   mean shown   right
                   0.80-0.90   42      87 %        5 %
                   0.90-0.95   55      93 %       18 %
                   0.95-1.00  103      98 %       64 %
                   all        200      94 %       39 %

The 88 names shown without a check mark averaged 91 % and none equals PubChem's name. So the app shows
no percentage (chemnamer/gui/naming_view.py): OPSIN's check is what tells right from wrong.
"""
from __future__ import annotations

import argparse
import math
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="training/recipes/default.toml")
    ap.add_argument("--model", default=None, help="model id (default: the shipped default)")
    ap.add_argument("--beams", type=int, default=8)
    args = ap.parse_args()

    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe
    from chemnamer.naming import Namer

    _, valid, _, _ = build_splits(load_recipe(args.recipe).data)
    # one SMILES form: the figures this script's docs quote were measured so
    namer = Namer(args.model, beams=args.beams, references=False, rule_based=False, store=False, forms=1)
    rows, t0 = [], time.perf_counter()
    for pair in valid:
        r = namer.name(pair.source)
        if r.candidates:
            top = r.candidates[0]
            rows.append((math.exp(top.score), bool(top.verified), math.exp(r.score), bool(r.verified),
                         (r.name or "").lower() == pair.target.lower()))
    print(f"{len(rows)} of {len(valid)} validation molecules named in {time.perf_counter() - t0:.0f} s")
    bins = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0 + 1e-9]
    for title, conf, ok in (("top candidate", 0, 1), ("shown name", 2, 3)):
        print(f"{title}: exp(score) bin, n, mean shown, share right (OPSIN-verified)")
        for lo, hi in zip(bins, bins[1:]):
            b = [row for row in rows if lo <= row[conf] < hi]
            if b:
                print(f"  {lo:.2f}-{min(hi, 1.0):.2f}  {len(b):4d}  {sum(x[conf] for x in b) / len(b):6.1%}  "
                      f"{sum(x[ok] for x in b) / len(b):6.1%}")
        print(f"  all        {len(rows):4d}  {sum(x[conf] for x in rows) / len(rows):6.1%}  "
              f"{sum(x[ok] for x in rows) / len(rows):6.1%}")
    wrong = [row for row in rows if not row[3]]
    if wrong:
        print(f"{len(wrong)} names shown unverified: mean exp(score) {sum(x[2] for x in wrong) / len(wrong):.1%}, "
              f"{sum(x[4] for x in wrong)} equal to PubChem's name")


if __name__ == "__main__":
    main()
