"""Model size variants: keep the first k decoder layers (the paper's model-size axis, on one base)."""
from __future__ import annotations

import torch


def decoder_layers(model) -> torch.nn.ModuleList:
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.model.layers


def keep_layers(model, k: int | None):
    """Drop decoder layers beyond the first k, in place. k=None or k >= n leaves the model whole."""
    layers = decoder_layers(model)
    n = len(layers)
    if not k or k >= n:
        return model
    if k < 1:
        raise ValueError(f"num_layers must be >= 1, got {k}")
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner.model.layers = torch.nn.ModuleList(list(layers)[:k])
    cfg = inner.config
    cfg.num_hidden_layers = k
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = cfg.layer_types[:k]
    return model
