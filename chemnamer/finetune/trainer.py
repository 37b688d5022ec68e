"""Fine-tuning: `transformers.Trainer`, given what makes it fast here; plain data in, a registered model out.

Why Trainer (issue 17): configured well it runs at 0.97-1.03 of the hand-written engine it replaced
(training/README.md), and ML engineers know it: DeepSpeed, FSDP and `accelerate launch` come with it.
What made the engine fast is what Trainer is fed here: the trimmed vocabulary, length-grouped batches
padded to a multiple of 8, bf16 autocast where the CPU has it. What Trainer does not do, we add:

- `EpochBatches`: the data order is a pure function of (seed, epoch), so a resumed run sees the same
  batches as an uninterrupted one (Trainer skips the batches already done);
- `_save_checkpoint`: a checkpoint is written to a staging folder and renamed into place, so it is
  complete or absent even under kill -9 or a full disk, and it loads as a model (chemnamer.json,
  vocab_map.json, tokenizer);
- `RunControl`, a TrainerCallback: the cancel token (the app's Stop, SIGTERM), the time budget,
  checkpoints by time and on request, epoch checkpoints, early stopping, each ending in a checkpoint;
- evaluation by generating names with our own decoder (`evaluate`), not by validation loss;
- `Observers`, a TrainerCallback that forwards what happens to our observers (progress bar, database,
  the GUI's event relay), which only observe.
"""
from __future__ import annotations

import functools
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
from chemnamer.finetune.evaluate import evaluate_pairs
from chemnamer.finetune.modelprep import prepare, trainable_parameters
from chemnamer.model.generate import Generator
from chemnamer.model.loading import CHEMNAMER_META
from chemnamer.recipe import RunConfig

STATE_FILE = "trainer_state.json"  # transformers' TrainerState, in every checkpoint
RUN_FILE = "chemnamer_run.json"  # ours beside it: the run row, the checkpoint's kind, early-stopping state
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
def tokenize_example(ex, encode, eos_id: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one example; the prompt is masked out of the loss."""
    p = encode(ex.prompt)
    r = encode(ex.response) + [eos_id]
    return p + r, [IGNORE] * len(p) + r


def tokenize_examples(examples, encode, eos_id: int, max_length: int):
    """(input_ids, labels) per example that fits `max_length`, and the indices of those kept."""
    out, kept = [], []
    for i, ex in enumerate(examples):
        ids, labels = tokenize_example(ex, encode, eos_id)
        if len(ids) <= max_length:
            out.append((ids, labels))
            kept.append(i)
    return out, kept


class EpochRows(torch.utils.data.Dataset):
    """The training rows, re-made for each epoch when `remake` is given (SMILES augmentation draws every
    molecule's form anew: chemnamer.data.augment.epoch_forms).

    EpochBatches hands out index + epoch x len, so which epoch a row belongs to travels with the index:
    it holds whatever order Trainer, accelerate's prefetching or a resume fetch rows in."""

    def __init__(self, rows: list[dict], remake=None):
        self.base, self.remake = rows, remake
        self._epoch, self._rows = 0, rows

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        epoch, i = divmod(index, len(self.base))
        if self.remake is None or epoch == 0:
            return self.base[i]
        if epoch != self._epoch:
            self._epoch, self._rows = epoch, self.remake(epoch)
        return self._rows[i]


def augmented_rows(pairs, kept: list[int], base: list[dict], template: Template, cfg: RunConfig, encode,
                   eos_id: int):
    """EpochRows' `remake` for an augmented recipe: epoch e's rows, each molecule under epoch e's SMILES
    form; a form too long for max_length keeps the first epoch's row (the same molecule and name)."""
    from chemnamer.data.augment import epoch_forms

    def remake(epoch: int) -> list[dict]:
        examples = format_pairs(epoch_forms(pairs, cfg.data.seed, epoch), template, cfg.format.inversion,
                                seed=cfg.data.seed)
        rows = []
        for k, row in zip(kept, base):
            ids, labels = tokenize_example(examples[k], encode, eos_id)
            rows.append(row if len(ids) > cfg.train.max_length else {"input_ids": ids, "labels": labels})
        return rows

    return remake


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


class EpochBatches(torch.utils.data.Sampler):
    """The batch sampler: `epoch_batches` for the epoch Trainer sets, a whole multiple of `world` of them.

    Trainer's own "group_by_length" sampler draws from a generator Trainer seeds once per run, so a
    resumed run would see other batches; this order depends on (seed, epoch) alone. Under data
    parallel each rank takes every world-th batch (accelerate's BatchSamplerShard); the odd batches
    at the end are dropped so that every rank takes the same number of steps, or one would wait
    forever in the gradient all-reduce."""

    drop_last = True  # read by BatchSamplerShard: batches of varying size, none padded or repeated

    def __init__(self, lengths: list[int], batch_size: int, seed: int, world: int = 1):
        self.lengths, self.size, self.seed, self.world = lengths, batch_size, seed, world
        self.epoch = 0
        full, rest = divmod(len(lengths), batch_size * 50)
        count = full * 50 + math.ceil(rest / batch_size)
        self.count = count - count % world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        offset = self.epoch * len(self.lengths)  # EpochRows reads the epoch back from the index
        return iter([[i + offset for i in b]
                     for b in epoch_batches(self.lengths, self.size, self.seed, self.epoch)[: self.count]])


def lr_lambda(cfg, total_steps: int):
    """The recipes' schedules: linear warm-up reaching the full rate at the end of warm-up step 1..n
    (Trainer's own start at 0, which would make the first step a no-op and shift every recipe by one
    step), then constant, linear or cosine decay to 0 at `total_steps`."""
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


# --- saving -----------------------------------------------------------------------------------
def unwrap(model):
    return model.module if hasattr(model, "module") else model


def write_model_meta(folder: Path, vocab, cfg: RunConfig, base_id: str) -> None:
    """What makes a folder of weights a chemnamer model: its base, shape, vocabulary map and template."""
    if vocab is not None:
        vocab.save(folder)
    meta = {"base_model": base_id, "num_layers": cfg.model.num_layers or None, "method": cfg.model.method,
            "vocab_map": vocab is not None, "seed": cfg.train.seed,  # rebuilds a random "tiny" base
            "template": Template(cfg.format.instruction, cfg.format.response_marker, cfg.format.defaults).to_dict(),
            "task": {"source": cfg.data.source_column, "target": cfg.data.target_column},
            # which SMILES forms it learned: naming passes "any" as typed, else in Kekulé form (chem.model_smiles)
            "input_forms": "any" if cfg.data.augment == "random" else "kekule"}
    if cfg.data.extra_columns:  # which column fed which template input ({rule} <- "Rule")
        from chemnamer.data.userfile import input_names

        meta["task"]["inputs"] = {name: col for col, name in input_names(cfg.data.extra_columns).items()}
    (folder / CHEMNAMER_META).write_text(json.dumps(meta, indent=2))


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
        write_model_meta(tmp, vocab, cfg, base_id)
    except BaseException:  # e.g. disk full: a half-written folder must not stay behind, taking the space
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)  # complete or absent, even under kill -9
    return out


def _copy_as(model, dtype):
    import copy

    clone = copy.deepcopy(model)
    return clone.to(dtype)


def checkpoint_step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[1])


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest usable checkpoint: renamed into place whole, with its run file readable."""
    found = []
    for p in Path(out_dir).glob("checkpoint-*"):
        try:
            json.loads((p / RUN_FILE).read_text())
            found.append((checkpoint_step(p), p))
        except (OSError, ValueError, IndexError):
            continue  # not ours, or from a version that wrote no run file
    return max(found)[1] if found else None


def read_run_file(checkpoint: Path) -> dict:
    return json.loads((Path(checkpoint) / RUN_FILE).read_text())


# --- the Trainer ------------------------------------------------------------------------------
@functools.cache
def _trainer_class():
    """Defined on first use: importing transformers' Trainer costs seconds the app does not always need."""
    from transformers import Trainer
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

    class NamerTrainer(Trainer):
        """Trainer with our batch order, our evaluation, atomic checkpoints that load as models."""

        def __init__(self, *args, batches: EpochBatches, run: "RunControl", evaluate_fn, model_files, schedule,
                     **kwargs):
            super().__init__(*args, **kwargs)
            self.batches, self.run, self.evaluate_fn, self.model_files = batches, run, evaluate_fn, model_files
            self.schedule = schedule

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer,
                                                                      self.schedule(num_training_steps))
                self._created_lr_scheduler = True
            return self.lr_scheduler

        def get_train_dataloader(self):
            loader = torch.utils.data.DataLoader(self.train_dataset, batch_sampler=self.batches,
                                                 collate_fn=self.data_collator, num_workers=0)
            return self.accelerator.prepare(loader)

        def training_step(self, model, inputs, num_items_in_batch=None):
            world = self.args.world_size
            self.run.state.examples_seen += int(inputs["input_ids"].shape[0]) * world
            self.run.state.tokens_seen += int(inputs["attention_mask"].sum()) * world
            return super().training_step(model, inputs, num_items_in_batch)

        def evaluate(self, *args, **kwargs) -> dict:
            """Names generated by our decoder for the validation molecules (greedy, and beams when asked)."""
            with self.accelerator.autocast():
                by_decoding = self.evaluate_fn() if self.args.should_save else {}
            metrics = dict(by_decoding.get("greedy", {}))
            metrics["by_decoding"] = by_decoding
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics=metrics)
            return metrics

        def _save_checkpoint(self, model, trial) -> None:
            """Trainer's checkpoint (weights, optimizer, scheduler, RNG, state) plus what makes it a model,
            staged in a hidden folder and renamed into place: a kill or a full disk leaves the previous
            checkpoints and no partial one."""
            out = Path(self.args.output_dir)
            final = out / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            staging = out / f".{final.name}.tmp"
            main = self.args.should_save
            if main:
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir(parents=True)
            self.accelerator.wait_for_everyone()
            config = unwrap(self.model).config
            try:
                config.use_cache = True  # Trainer turns it off for training; a saved model generates
                self.save_model(str(staging), _internal_call=True)
                self._save_optimizer_and_scheduler(str(staging))
                self._save_scaler(str(staging))
                self._save_rng_state(str(staging))
                self.run.saved_kind = self.run.kind or "step"
                if main:
                    self.model_files(staging)
                    self.state.save_to_json(str(staging / STATE_FILE))
                    (staging / RUN_FILE).write_text(json.dumps(self.run.run_file(), indent=2))
            except BaseException:
                if main:
                    shutil.rmtree(staging, ignore_errors=True)
                raise
            finally:
                config.use_cache = False
            self.accelerator.wait_for_everyone()
            if main:
                if final.exists():
                    shutil.rmtree(final)
                staging.rename(final)
                rotate_checkpoints(str(out), save_total_limit=self.args.save_total_limit)

    return NamerTrainer


@functools.cache
def _callbacks():
    from transformers import TrainerCallback

    class Observers(TrainerCallback):
        """Trainer's events, told to our observers (progress bar, database, the app) as a TrainState."""

        def __init__(self, run: "RunControl", observers: Callback):
            self.run, self.cb = run, observers

        def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
            self.cb.on_step(self.run.sync(state, lr_scheduler))

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return  # the summary Trainer logs at the end of train()
            s = self.run.sync(state)
            s.loss = logs["loss"]
            s.history.append((s.step, s.loss))
            self.cb.on_log(s, [{"step": s.step, "epoch": s.epoch, "loss": s.loss, "lr": s.lr,
                                "tokens_seen": s.tokens_seen, "examples_seen": s.examples_seen,
                                "elapsed_s": s.elapsed_s}])

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            for decoding, m in (metrics or {}).get("by_decoding", {}).items():
                self.cb.on_evaluate(self.run.sync(state), "valid", decoding, m)

        def on_save(self, args, state, control, **kwargs):
            if args.should_save:
                path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                self.cb.on_checkpoint(self.run.sync(state), str(path), self.run.saved_kind)

    class RunControl(TrainerCallback):
        """Decides what Trainer alone would not: stop on cancel or at the time budget, save a checkpoint
        by time, on request and at each epoch's end, evaluate, stop early. Every stop saves first.
        Under data parallel the decisions are summed over the ranks: a stop on one binds them all."""

        def __init__(self, state: TrainState, tcfg, cancel: CancelToken, world: int, batches: EpochBatches,
                     steps_per_epoch: int):
            self.state, self.tcfg, self.cancel, self.world = state, tcfg, cancel, world
            self.batches, self.steps_per_epoch = batches, steps_per_epoch
            self.kind: str | None = None  # the kind of the checkpoint asked for
            self.saved_kind = "step"
            self.cancelled = False
            self.t_start = time.perf_counter() - state.elapsed_s
            self.last_save = time.monotonic()

        def sync(self, hf, lr_scheduler=None) -> TrainState:
            """Our TrainState brought up to Trainer's (and the next step's learning rate)."""
            s = self.state
            s.step, s.total_steps, s.epoch = hf.global_step, hf.max_steps, float(hf.epoch or 0.0)
            s.epoch_index = int(s.epoch)
            s.elapsed_s = time.perf_counter() - self.t_start
            if lr_scheduler is not None:
                s.lr = lr_scheduler.get_last_lr()[0]
            return s

        def run_file(self) -> dict:
            s = self.state
            return {"step": s.step, "epoch": s.epoch, "kind": self.saved_kind, "run_id": s.run_id,
                    "examples_seen": s.examples_seen, "tokens_seen": s.tokens_seen, "elapsed_s": s.elapsed_s,
                    "best_metric": s.best_metric, "bad_evals": s.bad_evals}

        def agree(self, *flags: bool) -> list[bool]:
            if self.world == 1:
                return [bool(f) for f in flags]
            import torch.distributed as dist

            summed = torch.tensor([float(f) for f in flags])
            if dist.get_backend() == "nccl":
                summed = summed.cuda()
            dist.all_reduce(summed)
            return [v > 0 for v in summed.tolist()]

        def _save(self, control, kind: str) -> None:
            """Ask Trainer for a checkpoint now; a cancel, final or epoch one is not demoted to "step"."""
            control.should_save = True
            if kind != "step" or self.kind is None:
                self.kind = kind

        def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
            s = self.sync(state, lr_scheduler)
            over_budget = bool(self.tcfg.max_minutes) and s.elapsed_s >= self.tcfg.max_minutes * 60
            due = bool(self.tcfg.checkpoint_minutes) and \
                time.monotonic() - self.last_save >= self.tcfg.checkpoint_minutes * 60
            cancelled, over_budget, requested, due = self.agree(
                self.cancel.cancelled, over_budget, self.cancel.take_checkpoint_request(), due)
            if control.should_save or requested or due:
                self._save(control, "step")
            if cancelled:
                self.cancelled = True
                self._save(control, "cancel")
            elif over_budget or state.global_step >= state.max_steps:
                self._save(control, "final")  # budget reached: a clean end, resumable to the full length
            if cancelled or over_budget or state.global_step >= state.max_steps:
                control.should_training_stop = True
                control.should_log = True  # the last steps' loss and time reach the DB off the log grid
            if self.tcfg.eval_every and state.global_step % self.tcfg.eval_every == 0 and not cancelled:
                control.should_evaluate = True

        def on_epoch_begin(self, args, state, control, **kwargs):
            # Trainer sets the epoch on the sampler it can reach; a resumed data-parallel run wraps ours
            # twice (skipped batches around the rank's shard) and would replay epoch 0's order.
            self.batches.set_epoch(state.global_step // self.steps_per_epoch)

        def on_epoch_end(self, args, state, control, **kwargs):
            if control.should_training_stop or state.global_step >= state.max_steps:
                return  # the run's end has its own checkpoint and evaluation
            # Saved again as "epoch" even when the step grid saved this step: the experiment grids test
            # each epoch checkpoint, and this one follows the epoch's evaluation (early-stopping state).
            self._save(control, "epoch")
            if not self.tcfg.eval_every:
                control.should_evaluate = True

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            stop = _early_stop(self.state, self.tcfg, metrics or {}) if args.should_save else False
            if self.agree(stop)[0]:
                control.should_training_stop = True
                self._save(control, "final")

        def on_save(self, args, state, control, **kwargs):
            self.kind = None
            self.last_save = time.monotonic()

    return Observers, RunControl


# --- training ---------------------------------------------------------------------------------
def train(cfg: RunConfig, callbacks: list[Callback] = (), cancel: CancelToken | None = None,
          output_dir: str | Path | None = None, resume: str | Path | bool | None = None,
          log_to_db: bool = True, run_id: int | None = None) -> TrainResult:
    """Fine-tune per `cfg`. `resume`: a checkpoint dir, or True for the latest in output_dir."""
    from accelerate import PartialState
    from accelerate.state import AcceleratorState
    from transformers import PrinterCallback, ProgressCallback, TrainingArguments

    cancel = cancel or CancelToken()
    tcfg = cfg.train
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)

    cpu_only = tcfg.device == "cpu" or (tcfg.device == "auto" and not torch.cuda.is_available())
    bf16 = use_bf16(tcfg.bf16, "cpu" if cpu_only else "cuda")
    # accelerate keeps its settings in a process-wide singleton and refuses a second run (GUI, benchmark)
    # with another precision; forget them, keeping the process group (PartialState) as it is.
    AcceleratorState._reset_state(reset_partial_state=False)
    ranks = PartialState(cpu=cpu_only)
    world, main = ranks.num_processes, ranks.is_main_process

    out_dir = Path(output_dir) if output_dir else paths.home() / "runs" / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    resume_path: Path | None = None
    if resume:
        resume_path = latest_checkpoint(out_dir) if resume is True else Path(resume)
        if resume is not True and resume_path and resume_path.name.startswith("checkpoint-"):
            out_dir = resume_path.parent
        if resume_path is None and resume is True:
            # Folders of the hand-written loop this replaced (no run file): refuse rather than start
            # again from step 0 over them, unseen.
            resume_path = next((p for p in sorted(out_dir.glob("checkpoint-*")) if (p / STATE_FILE).is_file()), None)
        if resume_path is not None and not (resume_path / RUN_FILE).is_file():
            raise ValueError(f"{resume_path} is not a checkpoint this version can resume (no {RUN_FILE}: the "
                             "training loop before transformers.Trainer wrote it); resume it with chemnamer at "
                             "commit 48b25e1, start again in a new folder, or continue from a model with "
                             "--set model.base=")
    out_dir.mkdir(parents=True, exist_ok=True)

    # Data: splits, formatting, tokenization. Several ranks: the first fills the caches (data splits,
    # converted base weights), then the others read them; writers racing on the same cache files
    # could leave them corrupt. Global main first, then each node's local main.
    with ranks.main_process_first(), ranks.local_main_process_first():
        train_pairs, valid_pairs, _test, data_report = build_splits(cfg.data)
        template = Template(cfg.format.instruction, cfg.format.response_marker, cfg.format.defaults)
        examples = format_pairs(train_pairs, template, cfg.format.inversion, seed=cfg.data.seed)
        if not examples:
            raise ValueError("no training examples after filtering: check the data source and filters")
        from chemnamer.model.vocab import VocabMap

        vocab = VocabMap.load(resume_path) if resume_path and (resume_path / "vocab_map.json").is_file() else None
        texts = [e.prompt for e in examples] + [e.response for e in examples] + \
            [template.prompt(template.inputs(p)) for p in valid_pairs] + [p.target for p in valid_pairs]
        model, tokenizer, vocab, base_id = prepare(cfg.model, texts, tcfg.seed, vocab)
    device = "cpu" if cpu_only else str(ranks.device)
    gen = Generator(model, tokenizer, vocab, template, device)
    encoded, kept = tokenize_examples(examples, gen.encode, gen.eos_id, tcfg.max_length)
    dropped = len(examples) - len(encoded)
    batches = EpochBatches([len(x) for x, _ in encoded], tcfg.batch_size, tcfg.seed, world)
    steps_per_epoch = max(1, math.ceil(len(batches) // world / tcfg.grad_accum))
    total_steps = tcfg.max_steps or math.ceil(steps_per_epoch * tcfg.epochs)

    state = TrainState(total_steps=total_steps)
    if resume_path:
        saved = read_run_file(resume_path)
        for k in ("examples_seen", "tokens_seen", "elapsed_s", "best_metric", "bad_evals", "step", "epoch"):
            setattr(state, k, saved.get(k, getattr(state, k)))
        state.epoch_index = int(state.epoch)
        run_id = run_id or saved.get("run_id")

    trainable, total = trainable_parameters(model)
    info = {"examples": len(encoded), "dropped_too_long": dropped, "valid": len(valid_pairs),
            "steps_per_epoch": steps_per_epoch, "trainable_params": trainable, "total_params": total,
            "inverted": sum(e.inverted for e in examples),
            "vocab": len(vocab) if vocab else len(tokenizer), "bf16": bf16, "device": device, "world": world,
            "data": data_report, "train_hash": data_hash(train_pairs), "output_dir": str(out_dir)}
    db = log_to_db and main  # the run owns its row; the DbLogger callback only observes
    observers: list[Callback] = list(callbacks)
    if db:
        from chemnamer.finetune import dblog

        state.run_id = dblog.open_run(cfg, base_id, hardware_info(device), info, run_id)
        observers.insert(0, dblog.DbLogger(state.run_id))
    cb = CallbackList(observers if main else [])
    cb.on_start(state, info)

    def evaluate() -> dict[str, dict]:
        if not valid_pairs:
            return {}
        subset = valid_pairs[: tcfg.eval_limit] if tcfg.eval_limit else valid_pairs
        eval_gen = Generator(unwrap(model), tokenizer, vocab, template, device)
        out = {"greedy": evaluate_pairs(eval_gen, subset, beams=1)[0]}
        if tcfg.eval_beams > 1:
            out[f"beam{tcfg.eval_beams}"] = evaluate_pairs(eval_gen, subset, beams=tcfg.eval_beams)[0]
        return out

    Observers, RunControl = _callbacks()
    control = RunControl(state, tcfg, cancel, world, batches, steps_per_epoch)
    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=tcfg.batch_size,
        gradient_accumulation_steps=tcfg.grad_accum, max_steps=total_steps, learning_rate=tcfg.lr,
        weight_decay=tcfg.weight_decay, optim="adamw_torch", max_grad_norm=0.0,
        warmup_steps=tcfg.warmup_steps,  # the schedule itself: lr_lambda (NamerTrainer.create_scheduler)
        bf16=bf16, use_cpu=cpu_only, seed=tcfg.seed,
        logging_strategy="steps", logging_steps=tcfg.log_every, save_strategy="steps",
        save_steps=tcfg.checkpoint_every, save_total_limit=tcfg.keep_checkpoints or None,
        eval_strategy="no", report_to="none", disable_tqdm=True, dataloader_num_workers=0,
        remove_unused_columns=False, ddp_find_unused_parameters=False,
        logging_nan_inf_filter=False)  # a diverged run must log nan, not a reassuring 0.0
    rows = [{"input_ids": ids, "labels": labels} for ids, labels in encoded]
    remake = augmented_rows(train_pairs, kept, rows, template, cfg, gen.encode, gen.eos_id) \
        if cfg.data.augment == "random" else None

    def model_files(folder: Path) -> None:
        # Not Trainer's processing_class: Trainer would write the full vocabulary's special-token ids
        # into the trimmed model's config (align_special_tokens).
        tokenizer.save_pretrained(folder)
        write_model_meta(folder, vocab, cfg, base_id)

    def pad(items):
        ids, mask, labels = collate([(x["input_ids"], x["labels"]) for x in items], gen.pad_id)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    trainer = _trainer_class()(
        model=model, args=args, train_dataset=EpochRows(rows, remake), data_collator=pad,
        callbacks=[Observers(control, cb), control], batches=batches, run=control, evaluate_fn=evaluate,
        model_files=model_files, schedule=lambda total: lr_lambda(tcfg, total))
    for printer in (PrinterCallback, ProgressCallback):  # stdout is the CLI's result line; our observers report
        trainer.remove_callback(printer)

    status, metrics = "completed", {}
    try:
        trainer.train(resume_from_checkpoint=str(resume_path) if resume_path else None)
        control.sync(trainer.state)
        if control.cancelled:
            status = "interrupted" if cancel.reason else "cancelled"  # a signal, not the user: resumable
        elif main:
            with trainer.accelerator.autocast():
                by_decoding = evaluate()
            for decoding, m in by_decoding.items():
                cb.on_evaluate(state, "valid", decoding, m)
            metrics = by_decoding.get("greedy", {})
    except Exception as exc:  # the DB must say failed; the caller still gets the exception
        state.status = "failed"
        error = f"{type(exc).__name__}: {exc}"
        if db:
            dblog.close_run(state.run_id, cfg, base_id, "failed", {"error": error})
        cb.on_end(state, "failed", {"error": error})
        raise

    model_dir = model_id = None
    if main and status == "completed":
        unwrap(model).config.use_cache = True  # Trainer turned it off for training
        model_dir = str(save_model(model, tokenizer, vocab, cfg, base_id, out_dir / "model",
                                   dtype=torch.bfloat16 if cfg.model.method == "full" else None))
    state.status = status
    result = {"metrics": metrics, "model_dir": model_dir}
    if status == "interrupted":
        result["error"] = f"stopped by {cancel.reason} at step {state.step}; resume it from its checkpoint"
    if db:
        model_id = dblog.close_run(state.run_id, cfg, base_id, status, result)
        if model_id:
            result["model_id"] = model_id
    cb.on_end(state, status, result)
    return TrainResult(status, state.run_id, str(out_dir), model_dir, model_id, state, metrics)


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
