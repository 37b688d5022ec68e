"""`chemnamer check NAME --smiles S`: does this name denote this structure, tautomer and stereo included?"""
from __future__ import annotations

import json
import sys


def add(sub) -> None:
    p = sub.add_parser("check", help="check that a name denotes a structure (OPSIN, tautomer and stereo included)",
                       epilog="exit status: 0 when the name denotes the structure, 1 when it does not (or OPSIN "
                              "is unavailable: verified is null then), 2 for a usage error")
    p.add_argument("name", metavar="NAME", help="the name to check, e.g. 'pyridin-2(1H)-one'")
    p.add_argument("--smiles", required=True, metavar="S", help="the structure the name should denote")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_check)


def check(name: str, smiles: str) -> dict:
    """The check as plain data (CLI and GUI alike); raises ValueError for unusable input."""
    from chemnamer import chem
    from chemnamer.opsin import KIND_LABELS, VERIFIED, get_opsin

    name = (name or "").strip()
    if not name:
        raise ValueError("empty name")
    structure = chem.parse_smiles(smiles)
    if isinstance(structure, chem.ChemError):
        raise ValueError(f"--smiles: {structure.message}")
    v = get_opsin().check(name, structure.smiles)
    return {"name": name, "input_smiles": structure.smiles, "verified": v.verified, "kind": v.kind,
            "label": KIND_LABELS.get(v.kind, v.kind), "smiles": v.smiles,
            "reason": None if v.kind == VERIFIED else v.reason}


def cmd_check(args) -> int:
    from chemnamer.commands.naming import Marks

    try:
        out = check(args.name, args.smiles)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        mark = Marks(sys.stdout)
        print(f"{mark(out['verified'])} {out['name']}: {out['label']}")
        print(f"  structure   {out['input_smiles']}")
        print(f"  OPSIN read  {out['smiles'] or '-'}")
        if out["reason"]:
            print(f"  reason      {out['reason']}")
    return 0 if out["verified"] else 1
