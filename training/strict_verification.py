"""How many check marks change when verification compares structures instead of standard InChIKeys.

    python training/strict_verification.py --model default --limit 1000 --beams 4 \
        [--names names.jsonl] [--out training/reports/strict_verification.json]

Stage 1 names the default recipe's test molecules (mode `best`, no verification) and keeps every
name shown or ranked: the beam candidates, the PubChem reference, the rule-based name (cached in
--names, so stage 2 can be rerun without the model). Stage 2 checks each name twice:
  * old: `Opsin.verify(name, inchikey)`, standard InChIKey equality (merges mobile-H tautomers);
  * new: `Opsin.check(name, smiles)`, the structure OPSIN builds must be the input, tautomer and
    stereo included; `kind` says why not;
and counts the changes per kind, for every name and for the name each mode would show. The names
shown under the new verification also go through evaluate_default.py's independent re-check (OPSIN's
command line + RDKit canonical SMILES, no chemnamer code), both ways: wrong and missed check marks.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def name_molecules(model_id: str, limit: int, beams: int, out: Path) -> None:
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe
    from chemnamer.naming import Namer

    cfg = load_recipe(ROOT / "training" / "recipes" / "default.toml")
    test = build_splits(cfg.data)[2][:limit]
    # one SMILES form: the figures this script's docs quote were measured so
    namer = Namer(model_id, beams=beams, mode="best", verify=False, store=False, forms=1)
    t0 = time.perf_counter()
    part = out.with_name(out.name + ".part")  # renamed when complete: a killed run leaves no "cache"
    with part.open("w", encoding="utf-8") as fh:
        for i in range(0, len(test), 8):
            chunk = test[i:i + 8]
            for pair, r in zip(chunk, namer.name_many([p.source for p in chunk])):
                fh.write(json.dumps({"source": pair.source, "smiles": r.smiles, "inchikey": r.inchikey,
                                     "target": pair.target, "candidates": [c.name for c in r.candidates],
                                     "pubchem": r.reference.pubchem, "rule_based": r.reference.rule_based},
                                    ensure_ascii=False) + "\n")
            print(f"named {min(i + 8, len(test))}/{len(test)} in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    part.rename(out)


def compare(rows: list[dict], examples: int = 5) -> dict:
    from chemnamer.opsin import get_opsin

    opsin = get_opsin()
    if not opsin.available():
        raise SystemExit(f"OPSIN unavailable: {opsin.unavailable_reason}")
    per_name: dict[str, Counter] = {"candidates": Counter(), "pubchem": Counter(), "rule_based": Counter()}
    lost: dict[str, list] = {}
    shown = {"model": Counter(), "best": Counter()}
    shown_new: dict = {"model": [], "best": []}  # (name, input SMILES, ✓) shown under the new check
    t0 = time.perf_counter()
    for row in rows:
        checked = {}

        def both(name):
            if name not in checked:
                old = opsin.verify(name, row["inchikey"]).verified is True
                new = opsin.check(name, row["smiles"])
                checked[name] = (old, new)
            return checked[name]

        for source in per_name:
            names = row["candidates"] if source == "candidates" else [row[source]] if row[source] else []
            for name in names:
                old, new = both(name)
                per_name[source][_transition(old, new.kind)] += 1
                if old and new.kind != "verified":
                    lost.setdefault(new.kind, [])
                    if len(lost[new.kind]) < examples:
                        lost[new.kind].append({"smiles": row["smiles"], "name": name, "source": source,
                                               "opsin": new.smiles, "reason": new.reason})
        for mode in shown:
            old_pick = _pick(row, mode, lambda n: both(n)[0])
            new_pick = _pick(row, mode, lambda n: both(n)[1].verified is True)
            shown[mode][_shown_change(old_pick, new_pick, both)] += 1
            if new_pick[0]:
                shown_new[mode].append((new_pick[0], row["source"], new_pick[1]))
    seconds = round(time.perf_counter() - t0, 1)
    ev = _evaluate_default()
    recheck = ev.independent_recheck(sorted({(n, s) for v in shown_new.values() for n, s, _ in v}))
    return {"n": len(rows), "seconds": seconds,
            "names": {k: dict(sorted(v.items())) for k, v in per_name.items()},
            "shown": {k: dict(sorted(v.items())) for k, v in shown.items()}, "examples": lost,
            "recheck": {mode: ev.tally_recheck(v, recheck) for mode, v in shown_new.items()}}


def _evaluate_default():
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluate_default", ROOT / "training" / "evaluate_default.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _transition(old: bool, kind: str) -> str:
    if old:
        return "kept ✓" if kind == "verified" else f"✓ lost: {kind}"
    return "✓ gained" if kind == "verified" else f"✗ both: {kind}"


def _pick(row: dict, mode: str, verified) -> tuple[str | None, bool]:
    """The name a mode shows and whether it carries a ✓, under one verification (naming._choose)."""
    cands = row["candidates"]
    hit = next((c for c in cands if verified(c)), None)
    if hit is not None:
        return hit, True
    if mode == "best":
        for ref in (row["pubchem"], row["rule_based"]):
            if ref and verified(ref):
                return ref, True
    return (cands[0] if cands else None), False


def _shown_change(old: tuple, new: tuple, both) -> str:
    (old_name, old_ok), (new_name, new_ok) = old, new
    if old_ok and new_ok:
        return "✓ kept, same name" if old_name == new_name else "✓ kept, another verified name"
    if old_ok:
        return f"✓ lost: {both(old_name)[1].kind}"
    return "✓ gained" if new_ok else "✗ both"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="default")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--names", help="JSONL of stage 1 (written when missing, read when present)")
    p.add_argument("--out")
    p.add_argument("--name-only", action="store_true", help="stage 1 only (e.g. in a checkout of another commit)")
    args = p.parse_args()
    names = Path(args.names or f"/tmp/strict-names-{args.model.replace('/', '_')}-b{args.beams}-{args.limit}.jsonl")
    if not names.is_file():
        name_molecules(args.model, args.limit, args.beams, names)
    if args.name_only:
        return 0
    rows = [json.loads(line) for line in names.open(encoding="utf-8")]
    result = {"model": args.model, "beams": args.beams, **compare(rows)}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
