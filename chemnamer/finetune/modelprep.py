"""Turn a ModelConfig into a trainable model: base, layer slice, vocabulary trim, LoRA."""
from __future__ import annotations

import torch

from chemnamer import models
from chemnamer.finetune.surgery import keep_layers
from chemnamer.finetune.vocab import VocabMap

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


def base_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(models.base_model_dir())


def load_base(base: str, seed: int = 0):
    """(model, tokenizer, base_id) in float32 on CPU, full vocabulary."""
    if base == TINY_ID:
        tok = base_tokenizer()
        return tiny_model(tok, seed), tok, TINY_ID
    loaded = models.load(base, device="cpu", dtype="float32")
    if loaded.vocab is not None:
        raise models.ModelError(f"{base!r} has a trimmed vocabulary; fine-tune from its base model instead")
    return loaded.model.train(), loaded.tokenizer, loaded.spec.id


def prepare(mcfg, texts, seed: int = 0, vocab: VocabMap | None = None):
    """Returns (model, tokenizer, vocab_or_None, base_id). `texts` decide the kept vocabulary."""
    model, tokenizer, base_id = load_base(mcfg.base, seed)
    if mcfg.num_layers:
        keep_layers(model, mcfg.num_layers)
    if mcfg.trim_vocab:
        vocab = vocab or VocabMap.build(tokenizer, texts)
        vocab.apply(model)
    else:
        vocab = None
    if mcfg.method == "lora":
        model = apply_lora(model, mcfg)
    return model, tokenizer, vocab, base_id


def apply_lora(model, mcfg):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=mcfg.lora_r, lora_alpha=mcfg.lora_alpha, lora_dropout=mcfg.lora_dropout,
                     target_modules=list(mcfg.lora_targets), task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def trainable_parameters(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
