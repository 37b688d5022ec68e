"""`chemnamer bench`: inference speed on 100 held-out molecules."""
from __future__ import annotations

import json


def add(sub) -> None:
    p = sub.add_parser("bench", help="measure cold start, latency (greedy, beam+verify) and batch throughput")
    p.add_argument("--model", help="model id (default: the shipped default model)")
    p.add_argument("-n", type=int, default=100, help="molecules (default 100)")
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from chemnamer.bench import run

    r = run(args.model, args.n, args.beams, args.batch_size, args.device)
    print(json.dumps(r) if args.json else "\n".join(f"{k:18s} {v}" for k, v in r.items()))
    return 0
