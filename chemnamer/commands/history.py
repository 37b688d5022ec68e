"""`chemnamer history`: past namings from the database, newest first (table or JSON lines)."""
from __future__ import annotations

import json
import sys


def add(sub) -> None:
    p = sub.add_parser("history", help="show past namings (newest first)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--search", metavar="TEXT", help="substring of the input, a name (chosen, PubChem, rule-based), "
                   "the common name or a synonym (aspirin), the SMILES or the InChIKey")
    p.add_argument("--limit", type=int, default=20, help="rows to show (default 20)")
    p.add_argument("--verified", choices=("yes", "no"), help="only verified / only unverified names")
    p.add_argument("--model", help="only namings by this model id")
    verdict = p.add_argument_group("your verdict (rows with one export as training pairs)").add_mutually_exclusive_group()
    verdict.add_argument("--mark-correct", type=int, metavar="ID", help="the name of naming ID is right")
    verdict.add_argument("--correct", nargs=2, metavar=("ID", "NAME"),
                         help="the right name for naming ID's structure (OPSIN must read it as that structure)")
    verdict.add_argument("--clear-verdict", type=int, metavar="ID", help="forget your verdict on naming ID")
    verdict.add_argument("--export-corrections", metavar="FILE.csv",
                         help="write every row with a verdict as smiles,name,inchikey,input,verdict (the training "
                              "wizard's 'Your file' source reads it)")
    p.set_defaults(func=cmd_history)


def cmd_history(args) -> int:
    from chemnamer.commands.naming import Marks, short
    from chemnamer.store.history import count_history, query_history

    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    if (args.mark_correct, args.correct, args.clear_verdict, args.export_corrections) != (None,) * 4:
        return _verdict(args)
    verified = {"yes": True, "no": False, None: None}[args.verified]
    filters = dict(search=args.search, verified=verified, model_id=args.model)
    rows = query_history(limit=args.limit, **filters)
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
        return 0
    if not rows:
        print("no namings" + (" match" if any(filters.values()) or verified is not None else " yet"))
        return 0
    mark = Marks(sys.stdout)
    print(f"{'id':>6}  {'when (UTC)':<16}  {'':4} {'model':<16}  {'input':<32}  {'yours':<9}  name")
    for r in rows:
        when = r["created_at"].strftime("%Y-%m-%d %H:%M") if r["created_at"] else ""
        name = r["name"] or (f"error: {r['error']}" if r["error"] else "-")
        if r.get("user_verdict") == "corrected":
            name = f"{short(r['user_name'] or '', 60)} (was: {short(name, 40)})"
        print(f"{r['id']:>6}  {when:<16}  {mark(r['verified']) if not r['error'] else '':4} "
              f"{short(r['model_id'] or '', 16):<16}  {short(r['input'] or '', 32):<32}  "
              f"{r.get('user_verdict') or '':<9}  {short(name, 110)}")
    total = count_history(**filters)
    print(f"{len(rows)} of {total} namings" + (" (--limit for more)" if total > len(rows) else ""))
    return 0


def _verdict(args) -> int:
    """--mark-correct / --correct / --clear-verdict / --export-corrections: 0 done, 1 refused, 2 no such id."""
    from chemnamer.corrections import CorrectionRefused
    from chemnamer.store import history

    try:
        if args.export_corrections:
            n = history.export_corrections(args.export_corrections)
            print(f"exported {n} correction{'s' if n != 1 else ''} to {args.export_corrections}")
            if n == 0:
                print("note: no naming has a verdict yet (--mark-correct ID, --correct ID NAME)", file=sys.stderr)
            return 0
        if args.clear_verdict is not None:
            had = history.clear_verdict(args.clear_verdict)
            print(f"naming {args.clear_verdict}: " + ("verdict cleared" if had else "had no verdict"))
            return 0
        if args.mark_correct is not None:
            naming_id = args.mark_correct
            check = history.mark_correct(naming_id)
        else:
            try:
                naming_id = int(args.correct[0])
            except ValueError:
                print(f"error: --correct wants a naming id, then the name (got {args.correct[0]!r})", file=sys.stderr)
                return 2
            check = history.set_correction(naming_id, args.correct[1])
    except history.UnknownNaming as exc:
        print(f"error: {exc} (chemnamer history lists the ids)", file=sys.stderr)
        return 2
    except CorrectionRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    row = history.get_naming(naming_id) or {}
    print(f"naming {naming_id}: {row.get('user_verdict')}: {row.get('user_name')}")
    if not check.checked:
        print(f"note: {check.reason}", file=sys.stderr)
    return 0
