"""Tiny test models saved as model folders, each with a behaviour the tests and benchmarks need."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from chemnamer.model.loading import base_tokenizer
from chemnamer.model.tiny import tiny_model


BEHAVIOURS = ("random", "stop", "ramble")


def make_tiny_model(directory: Path, behaviour: str = "random") -> Path:
    """A 2-layer model with SmolLM2's tokenizer, saved as a model directory (seconds). Idempotent.

    random: random weights (junk names, usually up to the length bound);
    stop:   every generation ends at its first token (all logits 0, token 0 made the EOS): the
            cheapest model, for pipeline, batch and memory benchmarks;
    ramble: never emits EOS (its EOS embedding is zero, so EOS never wins): every generation runs to
            its length bound, the worst case for time limits.
    """
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"behaviour must be one of {BEHAVIOURS}")
    directory = Path(directory)
    if (directory / "config.json").is_file() and (directory / "model.safetensors").is_file():
        return directory
    tok = base_tokenizer()
    with torch.random.fork_rng():
        model = tiny_model(tok, seed=0)
    with torch.no_grad():
        if behaviour == "stop":
            model.model.norm.weight.zero_()
            tok.eos_token = tok.convert_ids_to_tokens(0)
        elif behaviour == "ramble":
            model.model.embed_tokens.weight[tok.eos_token_id].zero_()
    tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.replace(tmp, directory)
    return directory
