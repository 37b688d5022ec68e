"""The random test model: SmolLM2's tokenizer on a 2-layer Llama, built from a config, no download."""
from __future__ import annotations

import torch

TINY_ID = "tiny"


def tiny_model(tokenizer, seed: int = 0):
    """A random 2-layer Llama for tests: same tokenizer as SmolLM2, built from a config, no download."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(cfg)
