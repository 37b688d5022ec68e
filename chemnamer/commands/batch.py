"""`chemnamer batch`: name every molecule of a CSV/TSV/.smi/.sdf/JSON-lines file (gzipped too) into a CSV, resumably.

Streaming: records are read, named (`Namer.name_many` per chunk) and written chunk by chunk, so
memory does not grow with the file. Bad records become error rows; they never stop the batch.
The output repeats every input column unchanged, then batchio.RESULT (see chemnamer/batchio.py).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from chemnamer.commands.naming import add_model_options, load_model, make_namer, model_error, model_note, model_problem


def add(sub) -> None:
    p = sub.add_parser("batch", help="name every molecule in a CSV/TSV/.smi/.sdf/.jsonl file (or .gz) into a CSV")
    p.add_argument("input", metavar="IN", help="CSV/TSV (delimiter sniffed) or JSON lines with a 'smiles' column "
                                               "(any case), .smi or .sdf; any of them gzipped")
    p.add_argument("-o", "--output", required=True, metavar="OUT.csv",
                   help="every input column unchanged, then " + ", ".join(_result_columns()))
    p.add_argument("--column", metavar="NAME", help="the CSV/TSV/JSON column that holds the SMILES (or names); "
                                                    "default 'smiles', any case")
    add_model_options(p, beams=4, forms=1)
    p.add_argument("--resume", action="store_true", help="continue OUT after its last complete row")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--batch-size", type=int, default=8, help="molecules per generation batch (default 8)")
    p.add_argument("--no-store", action="store_true", help="do not save the namings to the history")
    p.set_defaults(func=cmd_batch)


def _result_columns() -> list[str]:
    from chemnamer.batchio import RESULT  # a light module: no RDKit at import

    return RESULT


def cmd_batch(args) -> int:
    from tqdm import tqdm

    from chemnamer import batchio
    from chemnamer.batch import name_records

    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        source = batchio.open_input(args.input, args.column)
        header = batchio.output_columns(source.columns)
        dialect = batchio.output_dialect(source, args.output)
        done = 0
        if Path(args.output).resolve() == Path(args.input).resolve():
            raise batchio.InputError("OUT is the input file; choose another output path")
        if not Path(args.output).resolve().parent.is_dir():
            raise batchio.InputError(f"cannot write {args.output}: its folder does not exist")
        if args.resume:
            done = batchio.resume_point(args.output, header, dialect["delimiter"], source.cells())
        elif Path(args.output).exists() and not args.force:
            raise batchio.InputError(f"{args.output} exists: --resume to continue it, --force to overwrite it")
    except (batchio.InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    namer, problem = make_namer(args, store=not args.no_store)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    load_model(namer, args)  # fail (or note the fallback) before writing anything
    problem = model_problem(namer, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if model_error(namer, args):
        print(model_note(namer, args), file=sys.stderr)
    total = source.count()
    note = source.recoded_note()
    if note:
        print(f"note: {note} (the output is UTF-8 with a BOM)", file=sys.stderr)
    try:
        out = batchio.CsvWriter(args.output, header, append=args.resume, **dialect)
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    bar = tqdm(total=total, initial=done, unit="mol", file=sys.stderr, mininterval=1.0, dynamic_ncols=True)
    t0, n, failed, verified = time.perf_counter(), 0, 0, 0
    records = (rec for rec in source if rec.row >= done)
    at_verified, at_error = (batchio.RESULT.index(c) - len(batchio.RESULT) for c in ("verified", "error"))
    try:
        for named in name_records(namer, records, args.batch_size):
            rows = [r.output_row(source.columns) for r in named]
            out.write(rows)
            out.flush()
            n += len(rows)
            failed += sum(1 for r in rows if r[at_error])
            verified += sum(1 for r in rows if r[at_verified] is True)
            bar.update(len(rows))
    except KeyboardInterrupt:
        namer.close()  # queued rule-based drafts are dropped, not awaited at exit
        bar.close()
        out.close()
        print(f"interrupted after {done + n} rows; continue with --resume", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, output folder gone: the rows written so far stay; --resume continues
        bar.close()
        try:
            out.close()
        except OSError:
            pass  # closing flushes the same buffer that could not be written
        print(f"error: writing {args.output} failed after {done + n} rows: {exc.strerror or exc}; "
              "continue with --resume", file=sys.stderr)
        return 2
    bar.close()
    out.close()
    secs = time.perf_counter() - t0
    skipped = f", {done} already done" if done else ""
    print(f"{args.output}: {n} rows written in {secs:.1f} s ({verified} verified, {failed} errors{skipped})",
          file=sys.stderr)
    return 1 if n and failed == n else 0
