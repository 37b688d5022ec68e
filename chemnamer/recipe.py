"""Run configuration: plain dataclasses, loaded from a TOML recipe plus `--set section.key=value`,
or from a stored config (`config_from_dict`); one parser (`_merge`) and one set of checks for all.

Unknown keys and out-of-range values are errors that name the file and the key: a typo in a recipe
must never silently fall back to a default.
"""
from __future__ import annotations

import ast
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

from chemnamer.data.filters import FilterConfig
from chemnamer.data.formatting import PAPER_INSTRUCTION, RESPONSE_MARKER


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    source: str = "pubchem"  # pubchem | zinc | file | jsonl
    path: str = ""  # for file sources
    source_column: str = "smiles"
    target_column: str = "name"
    # file: more input columns; each is a template input under its sanitized name
    # (chemnamer.data.userfile.input_names: "Rule" -> {rule}), the source column being {source}
    extra_columns: list = field(default_factory=list)
    source_is_smiles: bool = True  # enables chemistry filters, InChIKey dedupe and split
    pubchem_tables: list = field(default_factory=lambda: ["large"])
    drop_old_style: bool = True
    restore_case: bool = True
    zinc_pairs: int = 0  # with source = "pubchem": also mix in this many rule-labelled ZINC pairs
    # with zinc_pairs: the ZINC pairs' {task} input (the template's response marker holds {task}, its
    # default the PubChem rows' and naming's), so the model keeps the rule-based namer's style apart from
    # PubChem's instead of writing drug-like molecules in the style it learned them in
    zinc_task: str = ""
    convert_old_style: bool = False  # pubchem: rewrite old-style names in current style (OPSIN-checked)
    rule_drafts: bool = False  # pubchem: attach each row's verified rule-based name as extra["rule"]
    copy_pairs: int = 0  # rule_drafts: add this many ZINC (draft → same draft) copy examples to train
    augment: str = "none"  # none | random: train SMILES rewritten in a random valid form (seeded)
    # Recipes (paths; relative ones from the repository root) whose validation and test skeletons must
    # not be trained on: a larger population fills its test split from a shorter stretch of the hash
    # order, so without this a stage-2 recipe trains on most of the default recipe's test molecules.
    hold_out: list = field(default_factory=list)
    filters: FilterConfig = field(default_factory=FilterConfig)
    split: str = "inchikey"  # inchikey | scaffold
    n_valid: int = 200
    n_test: int = 1000
    limit_train: int = 0  # 0 = all
    seed: int = 0


@dataclass
class FormatConfig:
    instruction: str = PAPER_INSTRUCTION
    response_marker: str = RESPONSE_MARKER
    inversion: float = 0.0
    defaults: dict = field(default_factory=dict)  # values of extra template inputs a pair lacks


@dataclass
class ModelConfig:
    base: str = "smollm2-135m"  # model id, local dir, hub id, or "tiny" (random, for tests)
    num_layers: int = 0  # 0 = all
    trim_vocab: bool = True
    method: str = "full"  # full | lora
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                        "gate_proj", "up_proj", "down_proj"])


@dataclass
class TrainConfig:
    lr: float = 2e-5  # the paper's
    batch_size: int = 4  # the paper's
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int = 0  # 0 = from epochs
    max_minutes: float = 0.0  # 0 = no budget
    warmup_steps: int = 0
    weight_decay: float = 0.0
    scheduler: str = "constant"  # constant | linear | cosine
    bf16: str = "auto"  # auto | true | false
    max_length: int = 256
    checkpoint_every: int = 500
    # Also a checkpoint when this many minutes passed since the last one (0: by steps only), so a
    # killed run loses at most that much. SmolLM2-135M's checkpoint (1.3 GB) takes ~5-6 s on a 2-core
    # box: ~1% of a 10-minute interval.
    checkpoint_minutes: float = 10.0
    keep_checkpoints: int = 2
    log_every: int = 10
    eval_limit: int = 200
    eval_beams: int = 0  # 0 = greedy only; >1 adds a beam evaluation
    eval_every: int = 0  # steps between evaluations; 0 = at each epoch end only
    early_stopping_metric: str = ""  # e.g. exact_match_ci
    patience: int = 0
    threads: int = 0  # torch threads; 0 = torch default
    device: str = "auto"
    seed: int = 0


@dataclass
class RunConfig:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        checks = [
            (self.data.source in ("pubchem", "zinc", "file", "jsonl"), "data.source",
             "one of pubchem, zinc, file, jsonl"),
            (self.data.source not in ("file", "jsonl") or bool(self.data.path), "data.path", "required for file sources"),
            (self.data.split in ("inchikey", "scaffold"), "data.split", "inchikey or scaffold"),
            (0.0 <= self.format.inversion <= 1.0, "format.inversion", "in [0, 1]"),
            ("{source}" in self.format.instruction, "format.instruction", "must contain {source}"),
            (self.model.method in ("full", "lora"), "model.method", "full or lora"),
            (self.model.num_layers >= 0, "model.num_layers", ">= 0"),
            (self.model.lora_r > 0, "model.lora_r", "> 0"),
            (0 < self.train.lr < 1, "train.lr", "in (0, 1)"),
            (self.train.batch_size >= 1, "train.batch_size", ">= 1"),
            (self.train.grad_accum >= 1, "train.grad_accum", ">= 1"),
            (self.train.epochs > 0 or self.train.max_steps > 0, "train.epochs", "> 0 (or set max_steps)"),
            (self.train.scheduler in ("constant", "linear", "cosine"), "train.scheduler", "constant, linear or cosine"),
            (str(self.train.bf16).lower() in ("auto", "true", "false"), "train.bf16", "auto, true or false"),
            (self.train.max_length >= 16, "train.max_length", ">= 16"),
            (self.train.checkpoint_every >= 1, "train.checkpoint_every", ">= 1"),
            # Found by fuzzing (benchmarks/fuzz.py): values that passed here and then crashed or
            # misled the trainer (a modulo by zero, a negative slice, an overflowing seed).
            (self.train.log_every >= 1, "train.log_every", ">= 1"),
            *((getattr(self.train, k) >= 0, f"train.{k}", ">= 0") for k in (
                "max_steps", "max_minutes", "checkpoint_minutes", "warmup_steps", "weight_decay", "keep_checkpoints",
                "eval_limit", "eval_beams", "eval_every", "patience", "threads")),
            *((getattr(self.data, k) >= 0, f"data.{k}", ">= 0") for k in ("n_valid", "n_test", "limit_train",
                                                                            "zinc_pairs", "copy_pairs")),
            (self.data.augment in ("none", "random"), "data.augment", "none or random"),
            (not self.data.zinc_task or (self.data.zinc_pairs > 0 and "{task}" in self.format.response_marker
                                         and "task" in self.format.defaults),
             "data.zinc_task", "needs data.zinc_pairs and {task} in format.response_marker with a default"),
            (not (self.data.rule_drafts or self.data.copy_pairs) or self.data.source == "pubchem",
             "data.rule_drafts", "needs data.source = pubchem"),
            (not self.data.extra_columns or self.data.source == "file", "data.extra_columns",
             "needs data.source = file"),
            (0 <= self.train.seed < 2 ** 63, "train.seed", "in [0, 2^63)"),
            (0 <= self.data.seed < 2 ** 63, "data.seed", "in [0, 2^63)"),
            (self.model.lora_alpha > 0, "model.lora_alpha", "> 0"),
            (0 <= self.model.lora_dropout < 1, "model.lora_dropout", "in [0, 1)"),
            (self.data.source != "pubchem" or (bool(self.data.pubchem_tables) and all(
                t in ("large", "small", "user") for t in self.data.pubchem_tables)),
             "data.pubchem_tables", "a non-empty list of large, small, user"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ConfigError(f"{key}: invalid value ({want})")
        _check_types(self)
        if self.data.source == "file":
            self._check_inputs()

    def _check_inputs(self) -> None:
        """A file's template may use only its input columns (and defaults): said here, not as a
        KeyError on the first example after the data was built."""
        from chemnamer.data.formatting import Template
        from chemnamer.data.userfile import input_names

        known = set(input_names(self.data.extra_columns).values()) | set(self.format.defaults)
        template = Template(self.format.instruction, self.format.response_marker, self.format.defaults)
        unknown = [f for f in template.fields if f not in known]
        if unknown:
            given = ", ".join(f"{{{n}}}" for n in sorted(known)) or "none besides {source}"
            raise ConfigError(f"format.instruction: invalid value (uses {{{unknown[0]}}}, which is not an input; "
                              f"the inputs of data.extra_columns are {given})")


def _check_types(obj, prefix: str = "") -> None:
    """Numbers finite, lists of strings: what TOML (inf, nan, [1, 2]) or --set can sneak past _coerce."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        key = prefix + f.name
        if is_dataclass(value):
            _check_types(value, key + ".")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}: invalid value (a finite number, not {value})")
        elif isinstance(value, list) and not all(isinstance(x, str) for x in value):
            raise ConfigError(f"{key}: invalid value (a list of strings, not {_shown(value)})")


def _shown(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _coerce(value, current, key: str):
    """Coerce a --set string (or a TOML value) to the type of the current default."""
    if isinstance(value, str) and not isinstance(current, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):  # deep nesting: the last two
            if value.lower() in ("true", "false"):
                value = value.lower() == "true"
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {_shown(value)}")
        return value
    if isinstance(value, bool) and isinstance(current, (int, float)):  # bool is an int to Python
        raise ConfigError(f"{key}: expected {type(current).__name__}, got {_shown(value)}")
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(current, (int, float, str, list)) and not isinstance(value, type(current)):
        if isinstance(current, str):
            return str(value)
        raise ConfigError(f"{key}: expected {type(current).__name__}, got {_shown(value)}")
    return value


def _merge(obj, values: dict, prefix: str, origin: str, skip_unknown: bool = False) -> None:
    names = {f.name for f in fields(obj)}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in names:
            if skip_unknown:
                continue
            raise ConfigError(f"{origin}: unknown key {_shown(full)} (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {_shown(full)} must be a table")
            _merge(current, value, full + ".", origin, skip_unknown)
        else:
            setattr(obj, key, _coerce(value, current, f"{origin}: {full}"))


def load_recipe(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    cfg = RunConfig()
    if path:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"recipe not found: {path}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                              f"{exc.start}); TOML files are UTF-8") from None
        except OSError as exc:  # a directory, no permission, ...
            raise ConfigError(f"recipe cannot be read: {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        _merge(cfg, data, "", str(path))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {_shown(item)}: expected section.key=value")
        key, value = item.split("=", 1)
        *parents, leaf = key.strip().split(".")
        nested: dict = {leaf: value}
        for p in reversed(parents):
            nested = {p: nested}
        _merge(cfg, nested, "", "--set")
    try:
        cfg.validate()
    except ConfigError as exc:  # name where the bad value came from, like the unknown-key errors do
        origin = " + ".join(filter(None, [str(path) if path else "", "--set" if overrides else ""])) or "defaults"
        raise ConfigError(f"{origin}: {exc}") from None
    return cfg


def config_from_dict(d: dict | None, origin: str = "stored config") -> RunConfig:
    """A RunConfig from `RunConfig.to_dict()` output (a run's stored config, the wizard's choices):
    the recipe's own parser and checks, except that keys this version does not know (like the
    '_info' the DB logger adds) are skipped."""
    cfg = RunConfig()
    _merge(cfg, d or {}, "", origin, skip_unknown=True)
    cfg.validate()
    return cfg
