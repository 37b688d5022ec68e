"""`chemnamer train`: fine-tune from a recipe."""
from __future__ import annotations

import json
import sys


def add(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a model from a TOML recipe")
    p.add_argument("--recipe", help="TOML recipe (see training/recipes/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--output", help="run directory (default: CHEMNAMER_HOME/runs/NAME-TIME)")
    p.add_argument("--resume", nargs="?", const="latest", help="resume from a checkpoint dir, or the latest in --output")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget; stops cleanly with a final model")
    p.add_argument("--no-db", action="store_true", help="do not log the run to the database")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from chemnamer.finetune.callbacks import Callback, CancelToken, TqdmProgress, cancel_on_signals
    from chemnamer.recipe import ConfigError, load_recipe
    from chemnamer.finetune.trainer import train

    overrides = list(args.overrides)
    if args.max_minutes is not None:
        overrides.append(f"train.max_minutes={args.max_minutes}")
    try:
        cfg = load_recipe(args.recipe, overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    class Summary(Callback):
        def on_start(self, state, info):
            shown = {k: v for k, v in info.items() if k not in ("data",)}
            print(f"run: {json.dumps(shown)}", file=sys.stderr, flush=True)

        def on_log(self, state, logs):
            for row in logs:
                print(json.dumps({"log": {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}}),
                      file=sys.stderr, flush=True)

        def on_evaluate(self, state, split, decoding, metrics):
            print(json.dumps({"eval": {"split": split, "decoding": decoding, "step": state.step,
                                       "examples_seen": state.examples_seen, **metrics}}), file=sys.stderr, flush=True)

    resume = None
    if args.resume:
        resume = True if args.resume == "latest" else args.resume
        if resume is True and not args.output:
            print("error: --resume without a path needs --output RUN_DIR", file=sys.stderr)
            return 2
    callbacks = [Summary()] if not sys.stderr.isatty() else [TqdmProgress(file=sys.stderr)]
    cancel = CancelToken()
    try:
        # Ctrl-C or SIGTERM (logout, `kill`): a checkpoint at the next step, the run 'interrupted'.
        with cancel_on_signals(cancel):
            result = train(cfg, callbacks, cancel=cancel, output_dir=args.output, resume=resume,
                           log_to_db=not args.no_db)
    except ValueError as exc:  # what the recipe or the run folder asks cannot be done: no data, an old checkpoint
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, output folder not writable: the run is marked failed in the database
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: training stopped: {exc.strerror or exc}{where}; the latest checkpoint is kept: free the "
              f"problem, then continue with --resume --output {args.output or 'RUN_DIR'}", file=sys.stderr)
        return 1
    leave_process_group()
    if result.status == "interrupted":
        print(f"stopped by {cancel.reason} at step {result.state.step} with a checkpoint; continue with "
              f"--resume --output {result.output_dir}", file=sys.stderr)
    print(json.dumps({"status": result.status, "run_id": result.run_id, "model_id": result.model_id,
                      "model_dir": result.model_dir, "output_dir": result.output_dir, "step": result.state.step,
                      "metrics": result.metrics}))
    return 0 if result.status == "completed" else 1


def leave_process_group() -> None:
    """Destroy the data-parallel process group (torchrun) before the interpreter exits.

    A rank that leaves a live gloo group to interpreter teardown can abort ("terminate called without
    an active exception", SIGABRT) while gloo's threads are still joinable; torchrun then fails the whole
    run (seen in CI after a finished two-process run). Called only after `train` returned: on an error
    path another rank may still wait in a collective, and an NCCL group's teardown can hang then.
    """
    try:
        import torch.distributed as dist
    except ImportError:
        return
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
