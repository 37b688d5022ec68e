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
    p.set_defaults(func=cmd_history)


def cmd_history(args) -> int:
    from chemnamer.commands.naming import Marks, short
    from chemnamer.store.history import count_history, query_history

    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
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
    print(f"{'id':>6}  {'when (UTC)':<16}  {'':4} {'model':<16}  {'input':<32}  name")
    for r in rows:
        when = r["created_at"].strftime("%Y-%m-%d %H:%M") if r["created_at"] else ""
        name = r["name"] or (f"error: {r['error']}" if r["error"] else "-")
        print(f"{r['id']:>6}  {when:<16}  {mark(r['verified']) if not r['error'] else '':4} "
              f"{short(r['model_id'] or '', 16):<16}  {short(r['input'] or '', 32):<32}  {short(name, 70)}")
    total = count_history(**filters)
    print(f"{len(rows)} of {total} namings" + (" (--limit for more)" if total > len(rows) else ""))
    return 0
