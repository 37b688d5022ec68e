"""`chemnamer bench`: inference speed per heavy-atom size bin, on held-out PubChem molecules or a
drug-like MOSES sample."""
from __future__ import annotations

import json


def add(sub) -> None:
    p = sub.add_parser("bench", help="measure cold start, latency (greedy, beams+verify) and batch throughput "
                                     "per molecule size")
    p.add_argument("--model", help="model id (default: the shipped default model)")
    p.add_argument("--set", dest="molecule_set", choices=["pubchem", "druglike"], default="pubchem",
                   help="pubchem: the default recipe's test split (today's set); druglike: a seeded sample of "
                        "MOSES test molecules per size bin")
    p.add_argument("-n", type=int, default=100, help="pubchem set: molecules (default 100)")
    p.add_argument("--limit", type=int, help="molecules per size bin (druglike default 20)")
    p.add_argument("--beams", type=int, help="beams for single-molecule naming (default: naming.NAME_BEAMS)")
    p.add_argument("--batch-beams", type=int, help="beams in batch naming (default: naming.BATCH_BEAMS)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--gui", action="store_true", help="also time naming as the GUI does: beams, verification, "
                                                      "PubChem and rule-based references")
    p.add_argument("--guided", action="store_true", help="also time guided mode (when a guided model is installed)")
    p.add_argument("--no-cold-start", action="store_true", help="skip the fresh-process cold start")
    p.add_argument("--seed", type=int, default=0, help="druglike sample seed (default 0)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, help="torch threads (default: as the GUI, all cores but one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from chemnamer.bench import run

    if args.n < 1 or (args.limit is not None and args.limit < 1) or args.batch_size < 1:
        print("error: -n, --limit and --batch-size must be >= 1")
        return 2
    r = run(args.model, args.n, args.beams, args.batch_size, args.device, args.molecule_set, args.limit,
            args.batch_beams, args.guided, not args.no_cold_start, args.seed, args.threads, args.gui)
    print(json.dumps(r) if args.json else render(r))
    return 0


def render(r: dict) -> str:
    lines = [f"{r['set']} set, model {r['model']} on {r.get('device')} ({r.get('threads')} thread(s), "
             f"{r['cpus']} CPUs; load average {r['load_avg_start'][0]} at start, {r['load_avg_end'][0]} at end)",
             f"beams {r['beams']} single, {r['batch_beams']} in batches of {r['batch_size']}"
             + (f"; cold start {r['cold_start_s']} s" if "cold_start_s" in r else "")]
    extra = [p for p in ("gui", "guided") if any(f"{p}_p50_ms" in b for b in r["bins"].values())]
    head = f"{'heavy atoms':12s}{'n':>5s}{'greedy p50/p95 ms':>20s}{'beam+verify p50/p95 ms':>25s}"
    head += "".join(f"{p + ' p50/p95 ms':>20s}" for p in extra)
    lines += ["", head + f"{'batch mol/s':>13s}"]
    for label, b in [*r["bins"].items(), ("all", r["all"])]:
        if not b["n"]:
            lines.append(f"{label:12s}{0:5d}   (none in this set)")
            continue
        row = (f"{label:12s}{b['n']:5d}{_pair(b, 'greedy'):>20s}{_pair(b, 'beam'):>25s}"
               + "".join(f"{_pair(b, p):>20s}" for p in extra) + f"{b['batch_mol_per_s']:>13.2f}")
        lines.append(row)
    lines += ["", "where the time goes (ms per molecule: stages; CPU = this process's CPU time, the cost "
                  "without other work competing)"]
    for label, b in [*r["bins"].items(), ("all", r["all"])]:
        if b["n"]:
            lines.append(f"{label:12s} " + " | ".join(
                f"{p}: {_stages(b[p + '_stages_ms_per_mol'])}, CPU {b[p + '_cpu_ms_per_mol']:.0f}"
                + (f" (p95 {b[p + '_cpu_p95_ms']:.0f})" if p != "batch" else "")
                for p in ("greedy", "beam", *extra, "batch")))
    if r.get("guided_unavailable"):
        lines.append(f"guided mode not timed: {r['guided_unavailable']}")
    return "\n".join(lines)


def _pair(b: dict, prefix: str) -> str:
    return f"{b[prefix + '_p50_ms']:.0f} / {b[prefix + '_p95_ms']:.0f}"


def _stages(stages: dict) -> str:
    return " ".join(f"{k} {v:.0f}" for k, v in stages.items())
