"""Training throughput: a naive Hugging Face Trainer setup against chemnamer's trainer, same model and data.

    python training/bench_throughput.py [--steps 8] [--layers 6] [--threads 1] [--json]
    python training/bench_throughput.py --against ../old-checkout [--rounds 2] [--steps 30]

Both train SmolLM2-135M sliced to the same k layers on the same PubChem pairs (the default recipe's
data, the paper's instruction template) for a fixed number of steps, in one process:
  (a) baseline: transformers.Trainer, fp32, every example padded to the data's longest, the full
      49k vocabulary, batch 4 (the paper's), plain shuffled order;
  (b) engine: chemnamer.finetune.trainer.train (transformers.Trainer given the trimmed vocabulary,
      bf16 autocast where the CPU/GPU has it, length-grouped dynamic padding), batch 4 too, and batch
      16 unless --no-batch16.
With --against, (b) of this checkout and (b) of another, each in its own process: a change to the
training loop is measured against the commit before it.
"Tokens" are real tokens only (attention mask = 1), never padding. The first steps of each run are
warm-up and not timed. The peak is a bf16 2048×2048 matmul timed in the same process with the same
thread count; the engine's achieved FLOP/s is estimated as 6 × trainable parameters × tokens/s.
Absolute numbers depend on what else the machine runs; the ratio is measured under the same load.
"""
from __future__ import annotations

import argparse
import os
import contextlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chemnamer.data.build import build_splits  # noqa: E402
from chemnamer.data.formatting import PAPER_INSTRUCTION, RESPONSE_MARKER, Template, format_pairs  # noqa: E402
from chemnamer.finetune.callbacks import Callback, CancelToken  # noqa: E402
from chemnamer.recipe import load_recipe  # noqa: E402

RECIPE = ROOT / "training" / "recipes" / "default.toml"
IGNORE = -100


def bench_config(layers: int, steps: int, batch: int, threads: int):
    cfg = load_recipe(RECIPE)
    cfg.name = f"bench-b{batch}"
    cfg.model.base, cfg.model.num_layers, cfg.model.method = "smollm2-135m", layers, "full"
    cfg.format.instruction, cfg.format.response_marker = PAPER_INSTRUCTION, RESPONSE_MARKER
    cfg.train.batch_size, cfg.train.max_steps, cfg.train.threads = batch, steps, threads
    cfg.train.checkpoint_every, cfg.train.log_every, cfg.train.warmup_steps = 10**9, 10**9, 0
    return cfg


def warm(steps: int) -> int:
    return min(2, max(1, steps // 4))


def matmul_peak(n: int = 2048, repeats: int = 30) -> float:
    """bf16 FLOP/s of an n×n matmul, best of `repeats` (on a shared machine the best is the one that
    got the core to itself)."""
    a, b = torch.randn(n, n, dtype=torch.bfloat16), torch.randn(n, n, dtype=torch.bfloat16)
    a @ b  # warm-up: the first call picks kernels
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def trainer_clock(model):
    """(marks, callback): (time, real tokens so far) at each transformers.Trainer step end; tokens are
    counted from the attention mask the model is called with, never padding."""
    from transformers import TrainerCallback

    tokens: list[int] = []
    model.register_forward_pre_hook(lambda _m, _a, kw: tokens.append(int(kw["attention_mask"].sum())),
                                    with_kwargs=True)
    marks: list[tuple[float, int]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks.append((time.perf_counter(), sum(tokens)))

    return marks, Clock()


# --- (a) the naive baseline --------------------------------------------------------------------------
def baseline(cfg, steps: int, batch: int) -> dict:
    from transformers import Trainer, TrainingArguments

    from chemnamer.finetune.modelprep import load_base
    from chemnamer.model.surgery import keep_layers

    train_pairs = build_splits(cfg.data)[0]
    model, tok, _, _ = load_base(cfg.model.base, cfg.train.seed)
    keep_layers(model, cfg.model.num_layers)
    examples = format_pairs(train_pairs, Template(cfg.format.instruction, cfg.format.response_marker))
    rows = []
    for ex in examples:
        p = tok.encode(ex.prompt, add_special_tokens=False)
        r = tok.encode(ex.response, add_special_tokens=False) + [tok.eos_token_id]
        if len(p) + len(r) <= cfg.train.max_length:
            rows.append((p + r, [IGNORE] * len(p) + r))
    width = max(len(ids) for ids, _ in rows)  # pad everything to the longest example (<= 256)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    class Padded(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            ids, labels = rows[i]
            n = width - len(ids)
            return {"input_ids": torch.tensor(ids + [pad] * n), "labels": torch.tensor(labels + [IGNORE] * n),
                    "attention_mask": torch.tensor([1] * len(ids) + [0] * n)}

    marks, clock = trainer_clock(model)

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=batch, max_steps=steps,
                                 learning_rate=2e-5, use_cpu=not torch.cuda.is_available(), bf16=False,
                                 save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
                                 dataloader_num_workers=0, seed=cfg.train.seed, remove_unused_columns=False)
        with contextlib.redirect_stdout(sys.stderr):  # Trainer prints its own summary; stdout is for ours
            Trainer(model=model, args=args, train_dataset=Padded(), callbacks=[clock]).train()
    w = warm(steps)
    (t0, n0), (t1, n1) = marks[w - 1], marks[-1]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"tokens_per_s": (n1 - n0) / (t1 - t0), "padded_to": width, "trainable_params": trainable,
            "pad_share": 1 - (n1 - n0) / ((steps - w) * batch * width), "vocab": model.config.vocab_size}



# --- (b) the engine ----------------------------------------------------------------------------------
def engine(cfg, steps: int) -> dict:
    from chemnamer.finetune.trainer import train

    marks: list[tuple[float, int]] = []
    info: dict = {}
    token = CancelToken()

    class Clock(Callback):
        def on_start(self, state, i):
            info.update(i)

        def on_step(self, state):
            marks.append((time.perf_counter(), state.tokens_seen))
            if state.step >= steps:
                token.cancel()  # stop here: no final evaluation, only a quick 'cancel' checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, [Clock()], cancel=token, output_dir=tmp, log_to_db=False)
    w = warm(steps)
    (t0, n0), (t1, n1) = marks[w - 1], marks[-1]
    return {"tokens_per_s": (n1 - n0) / (t1 - t0), "trainable_params": info["trainable_params"],
            "vocab": info["vocab"], "bf16": info["bf16"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps per run (the first are warm-up)")
    ap.add_argument("--layers", type=int, default=6, help="SmolLM2 layers kept (default 6, the default recipe's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for every run (default 1)")
    ap.add_argument("--no-batch16", action="store_true", help="skip the engine run at batch 16")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--against", metavar="CHECKOUT",
                    help="instead: this checkout's trainer against the one in another checkout (a git worktree "
                         "of an older commit), batch 4, alternating for --rounds rounds; the best of each")
    ap.add_argument("--rounds", type=int, default=2, help="rounds for --against (default 2)")
    args = ap.parse_args(argv)
    if args.steps < 3:
        ap.error("--steps must be >= 3 (the first is warm-up)")
    torch.set_num_threads(args.threads)
    if args.against:
        return compare_against(args)

    peak = matmul_peak()
    base = baseline(bench_config(args.layers, args.steps, 4, args.threads), args.steps, 4)
    eng = engine(bench_config(args.layers, args.steps, 4, args.threads), args.steps)
    eng16 = None if args.no_batch16 else engine(bench_config(args.layers, args.steps, 16, args.threads), args.steps)
    peak = max(peak, matmul_peak())  # before and after: the load from other processes varies

    best = max([eng] + ([eng16] if eng16 else []), key=lambda r: r["tokens_per_s"])
    result = {
        "baseline_tokens_per_s": round(base["tokens_per_s"], 1),
        "engine_tokens_per_s": round(eng["tokens_per_s"], 1),
        "ratio": round(eng["tokens_per_s"] / base["tokens_per_s"], 2),
        "peak_share": round(6 * eng["trainable_params"] * eng["tokens_per_s"] / peak, 4),
        "engine_b16_tokens_per_s": round(eng16["tokens_per_s"], 1) if eng16 else None,
        "ratio_b16": round(eng16["tokens_per_s"] / base["tokens_per_s"], 2) if eng16 else None,
        "peak_share_b16": round(6 * eng16["trainable_params"] * eng16["tokens_per_s"] / peak, 4) if eng16 else None,
        "baseline_peak_share": round(6 * base["trainable_params"] * base["tokens_per_s"] / peak, 4),
        "bf16_matmul_peak_gflops": round(peak / 1e9, 1),
        "best_engine_tokens_per_s": round(best["tokens_per_s"], 1),
        "layers": args.layers, "steps": args.steps, "timed_steps": args.steps - warm(args.steps),
        "threads": args.threads, "device": "cuda" if torch.cuda.is_available() else "cpu",
        "baseline": {"padded_to": base["padded_to"], "pad_share": round(base["pad_share"], 3),
                     "vocab": base["vocab"], "trainable_params": base["trainable_params"], "dtype": "fp32"},
        "engine": {"vocab": eng["vocab"], "trainable_params": eng["trainable_params"], "bf16": eng["bf16"]},
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"SmolLM2-135M, {args.layers} layers, {args.steps} steps ({result['timed_steps']} timed), "
          f"{args.threads} thread(s), {result['device']}")
    print(f"  baseline (HF Trainer, fp32, pad to {base['padded_to']}, vocab {base['vocab']}, batch 4): "
          f"{result['baseline_tokens_per_s']:.0f} tokens/s "
          f"({result['baseline']['pad_share']:.0%} of positions padding)")
    print(f"  engine   (trim vocab {eng['vocab']}, bf16 {eng['bf16']}, length-grouped, batch 4): "
          f"{result['engine_tokens_per_s']:.0f} tokens/s  -> {result['ratio']:.2f}x")
    if eng16:
        print(f"  engine   (same, batch 16): {result['engine_b16_tokens_per_s']:.0f} tokens/s  "
              f"-> {result['ratio_b16']:.2f}x")
    print(f"  bf16 {2048}x{2048} matmul peak: {result['bf16_matmul_peak_gflops']:.0f} GFLOP/s; engine reaches "
          f"{result['peak_share']:.1%} of it (6 x {eng['trainable_params'] / 1e6:.1f}M params x tokens/s)"
          + (f", {result['peak_share_b16']:.1%} at batch 16" if eng16 else ""))
    return 0


def _engine_in(root: str, args) -> float:
    """tokens/s of `engine()` as the checkout at `root` defines it, in a fresh process of its own."""
    import subprocess

    code = ("import importlib.util, json, sys, torch; torch.set_num_threads(%d); "
            "spec = importlib.util.spec_from_file_location('bt', sys.argv[1] + '/training/bench_throughput.py'); "
            "bt = importlib.util.module_from_spec(spec); spec.loader.exec_module(bt); "
            "r = bt.engine(bt.bench_config(%d, %d, 4, %d), %d); print(json.dumps(r['tokens_per_s']))"
            % (args.threads, args.layers, args.steps, args.threads, args.steps))
    done = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": root})
    return float(done.stdout.strip().splitlines()[-1])


def compare_against(args) -> int:
    """This checkout's trainer and another's (e.g. the commit before a change to the loop), alternately
    (the machine's load drifts), same data, steps and threads; the best of each."""
    runs: dict[str, list[float]] = {"this": [], "other": []}
    for _ in range(args.rounds):
        runs["this"].append(round(_engine_in(str(ROOT), args), 1))
        runs["other"].append(round(_engine_in(str(Path(args.against).resolve()), args), 1))
    result = {"this_tokens_per_s": runs["this"], "other_tokens_per_s": runs["other"], "other": args.against,
              "best_ratio_this_to_other": round(max(runs["this"]) / max(runs["other"]), 3),
              "layers": args.layers, "steps": args.steps, "timed_steps": args.steps - warm(args.steps),
              "threads": args.threads}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"this checkout {runs['this']} tokens/s, {args.against} {runs['other']} tokens/s: best / best = "
              f"{result['best_ratio_this_to_other']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
