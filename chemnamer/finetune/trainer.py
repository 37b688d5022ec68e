"""The fine-tuning loop: one readable function, plain data in, a registered model out.

Why a hand-written loop and not HF Trainer: on a 2-core CPU the wins come from what Trainer does
not do by default — length-grouped dynamic padding, a trimmed vocabulary, bf16 autocast — and from
resuming at the exact batch (data order is a pure function of seed and epoch, so a resumed run sees
the same examples in the same order as an uninterrupted one). Multi-process data parallel goes
through `accelerate` (launch with `accelerate launch` or `torchrun`); one process needs nothing.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from chemnamer import paths
from chemnamer.data.build import build_splits
from chemnamer.data.formatting import Template, format_pairs
from chemnamer.data.records import data_hash
from chemnamer.finetune.callbacks import Callback, CallbackList, CancelToken, TrainState
from chemnamer.recipe import RunConfig
from chemnamer.finetune.evaluate import evaluate_pairs
from chemnamer.finetune.modelprep import prepare, trainable_parameters
from chemnamer.model.vocab import VocabMap
from chemnamer.model.generate import Generator
from chemnamer.model.loading import CHEMNAMER_META

STATE_FILE = "trainer_state.json"
IGNORE = -100


@dataclass
class TrainResult:
    status: str  # completed | cancelled | interrupted (by a signal) | failed
    run_id: int | None
    output_dir: str
    model_dir: str | None
    model_id: str | None
    state: TrainState
    metrics: dict


# --- hardware ---------------------------------------------------------------------------------
def cpu_supports_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("amx_bf16", "avx512_bf16"))


def use_bf16(setting: str, device: str) -> bool:
    setting = str(setting).lower()
    if setting in ("true", "false"):
        return setting == "true"
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return device == "cpu" and cpu_supports_bf16()


def hardware_info(device: str) -> dict:
    info = {"device": device, "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_bf16": cpu_supports_bf16()}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# --- data -------------------------------------------------------------------------------------
def tokenize_examples(examples, encode, eos_id: int, max_length: int):
    """(input_ids, labels) per example; the prompt is masked out of the loss. Over-long ones are dropped."""
    out, dropped = [], 0
    for ex in examples:
        p = encode(ex.prompt)
        r = encode(ex.response) + [eos_id]
        if len(p) + len(r) > max_length:
            dropped += 1
            continue
        out.append((p + r, [IGNORE] * len(p) + r))
    return out, dropped


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Length-grouped batches: shuffle, sort within mega-chunks, shuffle the batches.

    Padding waste drops to a few percent while batches stay random across the epoch.
    """
    rng = random.Random(seed * 100_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for i in range(0, len(idx), chunk):
        part = sorted(idx[i:i + chunk], key=lambda j: lengths[j])
        batches += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(items, pad_id: int, multiple: int = 8):
    # Widths rounded up to a multiple of 8: oneDNN JIT-compiles a kernel per matmul shape, and
    # dozens of distinct lengths would keep it compiling instead of training.
    width = max(len(ids) for ids, _ in items)
    width = -(-width // multiple) * multiple
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, (x, y) in enumerate(items):
        ids[i, :len(x)] = torch.tensor(x)
        labels[i, :len(y)] = torch.tensor(y)
        mask[i, :len(x)] = 1
    return ids, mask, labels


def lr_lambda(cfg, total_steps: int):
    def f(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.scheduler == "constant" or total_steps <= cfg.warmup_steps:
            return 1.0
        frac = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        if cfg.scheduler == "linear":
            return max(0.0, 1.0 - frac)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return f


# --- saving -----------------------------------------------------------------------------------
def unwrap(model):
    return model.module if hasattr(model, "module") else model


def save_model(model, tokenizer, vocab, cfg: RunConfig, base_id: str, out: Path, dtype=None) -> Path:
    """A self-contained model folder that chemnamer.model.loading.load() can open."""
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir(parents=True)
        m = unwrap(model)
        if dtype is not None and cfg.model.method == "full":
            m = _copy_as(m, dtype)
        m.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if vocab is not None:
            vocab.save(tmp)
        meta = {"base_model": base_id, "num_layers": cfg.model.num_layers or None, "method": cfg.model.method,
                "vocab_map": vocab is not None, "seed": cfg.train.seed,  # rebuilds a random "tiny" base
                "template": Template(cfg.format.instruction, cfg.format.response_marker, cfg.format.defaults).to_dict(),
                "task": {"source": cfg.data.source_column, "target": cfg.data.target_column}}
        if cfg.data.extra_columns:  # which column fed which template input ({rule} <- "Rule")
            from chemnamer.data.userfile import input_names

            meta["task"]["inputs"] = {name: col for col, name in input_names(cfg.data.extra_columns).items()}
        (tmp / CHEMNAMER_META).write_text(json.dumps(meta, indent=2))
    except BaseException:  # e.g. disk full: a half-written folder must not stay behind, taking the space
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)  # a checkpoint is either complete or absent, even under kill -9
    return out


def _copy_as(model, dtype):
    import copy

    clone = copy.deepcopy(model)
    return clone.to(dtype)


def save_checkpoint(model, tokenizer, vocab, cfg, base_id, optimizer, scheduler, state: TrainState,
                    out_dir: Path, kind: str) -> Path:
    path = out_dir / f"checkpoint-{state.step:07d}"
    save_model(model, tokenizer, vocab, cfg, base_id, path)
    try:
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state()}, path / "optimizer.pt.tmp")
        os.replace(path / "optimizer.pt.tmp", path / "optimizer.pt")
        st = {k: v for k, v in state.__dict__.items() if k != "history"}
        st["kind"] = kind
        # Written last and atomically: its presence is what marks the checkpoint usable (kill -9 safe).
        (path / (STATE_FILE + ".tmp")).write_text(json.dumps(st, indent=2))
        os.replace(path / (STATE_FILE + ".tmp"), path / STATE_FILE)
    except BaseException:  # disk full after the weights: an unusable folder, remove it (the older ones stay)
        if not (path / STATE_FILE).is_file():
            shutil.rmtree(path, ignore_errors=True)
        raise
    return path


def prune_checkpoints(out_dir: Path, keep: int) -> None:
    cks = sorted(out_dir.glob("checkpoint-*"))
    cks = [c for c in cks if not c.name.endswith(".tmp")]
    for old in cks[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(out_dir: Path) -> Path | None:
    cks = sorted(p for p in Path(out_dir).glob("checkpoint-*") if (p / STATE_FILE).is_file())
    return cks[-1] if cks else None


# --- the loop ---------------------------------------------------------------------------------
def train(cfg: RunConfig, callbacks: list[Callback] = (), cancel: CancelToken | None = None,
          output_dir: str | Path | None = None, resume: str | Path | bool | None = None,
          log_to_db: bool = True, run_id: int | None = None) -> TrainResult:
    """Fine-tune per `cfg`. `resume`: a checkpoint dir, or True for the latest in output_dir."""
    cancel = cancel or CancelToken()
    tcfg = cfg.train
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)
    random.seed(tcfg.seed)

    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    device_pref = tcfg.device
    cpu_only = device_pref == "cpu" or (device_pref == "auto" and not torch.cuda.is_available())
    probe_device = "cpu" if cpu_only else "cuda"
    bf16 = use_bf16(tcfg.bf16, probe_device)
    # accelerate keeps its settings in a process-wide singleton and refuses a second run (GUI, benchmark)
    # with another precision; forget them, keeping the process group (PartialState) as it is.
    AcceleratorState._reset_state(reset_partial_state=False)
    acc = Accelerator(cpu=cpu_only, mixed_precision="bf16" if bf16 else "no")
    device = str(acc.device)
    main = acc.is_main_process

    out_dir = Path(output_dir) if output_dir else paths.home() / "runs" / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    resume_path: Path | None = None
    if resume:
        resume_path = latest_checkpoint(out_dir) if resume is True else Path(resume)
        if resume is not True and resume_path and resume_path.name.startswith("checkpoint-"):
            out_dir = resume_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)

    # Data: splits, formatting, tokenization.
    # Several ranks: the first fills the caches (data splits, converted base weights), then the
    # others read them; writers racing on the same cache files could leave them corrupt. Global
    # main first, then each node's local main (for nodes that do not share a disk): every rank
    # passes exactly two barriers, so the nesting cannot deadlock.
    with acc.main_process_first(), acc.local_main_process_first():
        train_pairs, valid_pairs, _test, data_report = build_splits(cfg.data)
        template = Template(cfg.format.instruction, cfg.format.response_marker, cfg.format.defaults)
        examples = format_pairs(train_pairs, template, cfg.format.inversion, seed=cfg.data.seed)
        if not examples:
            raise ValueError("no training examples after filtering: check the data source and filters")
        vocab = VocabMap.load(resume_path) if resume_path and (resume_path / "vocab_map.json").is_file() else None
        texts = [e.prompt for e in examples] + [e.response for e in examples] + \
            [template.prompt(template.inputs(p)) for p in valid_pairs] + [p.target for p in valid_pairs]
        model, tokenizer, vocab, base_id = prepare(cfg.model, texts, tcfg.seed, vocab)
    if resume_path:
        _load_weights(model, resume_path)
    gen = Generator(model, tokenizer, vocab, template, device)
    encoded, dropped = tokenize_examples(examples, gen.encode, gen.eos_id, tcfg.max_length)
    lengths = [len(x) for x, _ in encoded]

    world = acc.num_processes
    per_epoch = math.ceil(len(encoded) / tcfg.batch_size)
    steps_per_epoch = max(1, math.ceil((per_epoch // world) / tcfg.grad_accum))  # see shard() below
    total_steps = tcfg.max_steps or math.ceil(steps_per_epoch * tcfg.epochs)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(tcfg, total_steps))
    model, optimizer = acc.prepare(model, optimizer)

    state = TrainState(total_steps=total_steps)
    if resume_path:
        saved = json.loads((resume_path / STATE_FILE).read_text())
        for k, v in saved.items():
            if hasattr(state, k) and k not in ("history", "status", "total_steps"):
                setattr(state, k, v)
        opt = torch.load(resume_path / "optimizer.pt", weights_only=False)
        unwrap(optimizer).load_state_dict(opt["optimizer"]) if hasattr(optimizer, "module") \
            else optimizer.load_state_dict(opt["optimizer"])
        scheduler.load_state_dict(opt["scheduler"])
        if "rng" in opt:
            torch.set_rng_state(opt["rng"])
        run_id = run_id or saved.get("run_id")

    trainable, total = trainable_parameters(unwrap(model))
    info = {"examples": len(encoded), "dropped_too_long": dropped, "valid": len(valid_pairs),
            "steps_per_epoch": steps_per_epoch, "trainable_params": trainable, "total_params": total,
            "inverted": sum(e.inverted for e in examples),
            "vocab": len(vocab) if vocab else len(tokenizer), "bf16": bf16, "device": device, "world": world,
            "data": data_report, "train_hash": data_hash(train_pairs), "output_dir": str(out_dir)}
    cbs: list[Callback] = list(callbacks)
    db = log_to_db and main  # the loop owns its run row; the DbLogger callback only observes
    if db:
        from chemnamer.finetune import dblog

        state.run_id = dblog.open_run(cfg, base_id, hardware_info(device), info, run_id)
        cbs.insert(0, dblog.DbLogger(state.run_id))
    cb = CallbackList(cbs if main else [])
    cb.on_start(state, info)

    def evaluate(final: bool = False) -> dict:
        if not valid_pairs or not main:
            return {}
        subset = valid_pairs[: tcfg.eval_limit] if tcfg.eval_limit else valid_pairs
        eval_gen = Generator(unwrap(model), tokenizer, vocab, template, device)
        with acc.autocast():
            m, _ = evaluate_pairs(eval_gen, subset, beams=1)
        cb.on_evaluate(state, "valid", "greedy", m)
        if tcfg.eval_beams > 1:
            with acc.autocast():
                mb, _ = evaluate_pairs(eval_gen, subset, beams=tcfg.eval_beams)
            cb.on_evaluate(state, "valid", f"beam{tcfg.eval_beams}", mb)
        return m

    def shard(batches: list) -> list:
        """This rank's batches. Every rank gets the same count: one extra step on one rank would
        leave the others waiting in (or mismatching) the gradient all-reduce."""
        if world == 1:
            return batches
        return batches[: len(batches) - len(batches) % world][acc.process_index::world]

    def agree(*flags: bool) -> list[bool]:
        """Stop decisions (cancel, time budget, early stopping) taken on any rank bind them all."""
        if world == 1:
            return [bool(f) for f in flags]
        summed = acc.reduce(torch.tensor([float(f) for f in flags], device=device), reduction="sum")
        return [v > 0 for v in summed.tolist()]

    last_checkpoint = time.monotonic()

    def checkpoint(kind: str) -> Path | None:
        nonlocal last_checkpoint
        last_checkpoint = time.monotonic()
        if not main:
            return None
        path = save_checkpoint(model, tokenizer, vocab, cfg, base_id, optimizer, scheduler, state, out_dir, kind)
        cb.on_checkpoint(state, str(path), kind)
        prune_checkpoints(out_dir, tcfg.keep_checkpoints)
        return path

    status, last_metrics, error = "completed", {}, None
    t_start = time.perf_counter() - state.elapsed_s
    loss_sum, loss_n = 0.0, 0

    def log_now() -> None:
        nonlocal loss_sum, loss_n
        state.loss = loss_sum / max(1, loss_n)
        if world > 1:  # the mean over all ranks' batches, not rank 0's alone
            state.loss = acc.reduce(torch.tensor([state.loss], device=device), reduction="mean").item()
        loss_sum, loss_n = 0.0, 0
        row = {"step": state.step, "epoch": state.epoch, "loss": state.loss, "lr": state.lr,
               "tokens_seen": state.tokens_seen, "examples_seen": state.examples_seen,
               "elapsed_s": state.elapsed_s}
        state.history.append((state.step, state.loss))
        cb.on_log(state, [row])

    model.train()
    try:
        while state.step < total_steps:
            batches = shard(epoch_batches(lengths, tcfg.batch_size, tcfg.seed, state.epoch_index))
            while state.batch_in_epoch < len(batches) and state.step < total_steps:
                micro = batches[state.batch_in_epoch: state.batch_in_epoch + tcfg.grad_accum]
                n_tokens = 0
                for j, b in enumerate(micro):
                    ids, mask, labels = collate([encoded[i] for i in b], gen.pad_id)
                    ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
                    # Gradients are all-reduced once per optimizer step, not once per micro-batch.
                    sync = contextlib.nullcontext() if j == len(micro) - 1 else acc.no_sync(model)
                    with sync:
                        with acc.autocast():
                            out = model(input_ids=ids, attention_mask=mask, labels=labels)
                        acc.backward(out.loss / len(micro))
                    loss_sum += out.loss.item()
                    loss_n += 1
                    n_tokens += int(mask.sum())
                    state.examples_seen += len(b) * world
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.batch_in_epoch += len(micro)
                state.step += 1
                state.tokens_seen += n_tokens * world
                state.elapsed_s = time.perf_counter() - t_start
                state.epoch = state.epoch_index + state.batch_in_epoch / max(1, len(batches))
                state.lr = scheduler.get_last_lr()[0]
                if state.step % tcfg.log_every == 0 or state.step == total_steps:
                    log_now()
                cb.on_step(state)
                over_budget = bool(tcfg.max_minutes) and state.elapsed_s >= tcfg.max_minutes * 60
                cancelled, over_budget = agree(cancel.cancelled, over_budget)
                if (cancelled or over_budget) and loss_n:
                    log_now()  # the last step's tokens and time reach the DB even off the log_every grid
                if cancelled:
                    status = "cancelled"
                    break
                if over_budget:
                    total_steps = state.step  # budget reached: finish cleanly, like a normal end
                    state.total_steps = total_steps
                    break
                # By steps, by time (a kill loses at most checkpoint_minutes), or on request (the app
                # asks for one before it quits). Saving happens on the main rank only: no collective.
                due_by_time = bool(tcfg.checkpoint_minutes) and \
                    time.monotonic() - last_checkpoint >= tcfg.checkpoint_minutes * 60
                if cancel.take_checkpoint_request() or due_by_time or state.step % tcfg.checkpoint_every == 0:
                    checkpoint("step")
                if tcfg.eval_every and state.step % tcfg.eval_every == 0:
                    last_metrics = evaluate()
                    if agree(_early_stop(state, tcfg, last_metrics))[0]:
                        total_steps = state.step
                        break
            if status == "cancelled":
                break
            if state.batch_in_epoch >= len(batches):
                state.epoch_index += 1
                state.batch_in_epoch = 0
                state.epoch = float(state.epoch_index)
                if state.step < total_steps:
                    checkpoint("epoch")
                    if not tcfg.eval_every:
                        last_metrics = evaluate()
                        if agree(_early_stop(state, tcfg, last_metrics))[0]:
                            break
        if status == "cancelled":
            checkpoint("cancel")
            if cancel.reason:  # a signal (logout, shutdown, kill), not the user: 'interrupted', resumable
                status = "interrupted"
        else:
            last_metrics = evaluate(final=True) or last_metrics
            checkpoint("final")
    except Exception as exc:  # the DB must say failed; the caller still gets the exception
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        state.status = status
        if db:
            dblog.close_run(state.run_id, cfg, base_id, status, {"error": error})
        cb.on_end(state, status, {"error": error})
        raise

    model_dir = model_id = None
    if main and status == "completed":
        model_dir = str(save_model(model, tokenizer, vocab, cfg, base_id, out_dir / "model",
                                   dtype=torch.bfloat16 if cfg.model.method == "full" else None))
    state.status = status
    result = {"metrics": last_metrics, "model_dir": model_dir}
    if status == "interrupted":
        result["error"] = f"stopped by {cancel.reason} at step {state.step}; resume it from its checkpoint"
    if db:
        model_id = dblog.close_run(state.run_id, cfg, base_id, status, result)
        if model_id:
            result["model_id"] = model_id
    cb.on_end(state, status, result)
    return TrainResult(status, state.run_id, str(out_dir), model_dir, model_id, state, last_metrics)


def _early_stop(state: TrainState, tcfg, metrics: dict) -> bool:
    key = tcfg.early_stopping_metric
    if not key or not tcfg.patience or key not in metrics:
        return False
    value = metrics[key]
    if state.best_metric is None or value > state.best_metric:
        state.best_metric, state.bad_evals = value, 0
        return False
    state.bad_evals += 1
    return state.bad_evals >= tcfg.patience


def _load_weights(model, ckpt: Path) -> None:
    """Load checkpoint weights into an already-prepared (sliced, trimmed, maybe LoRA) model."""
    from safetensors.torch import load_file

    if (ckpt / "adapter_model.safetensors").is_file():
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
        return
    state = load_file(str(ckpt / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if m != "lm_head.weight"]  # tied to the embedding
    if missing or unexpected:
        raise RuntimeError(f"checkpoint {ckpt} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
