"""Turn a ModelConfig into a trainable model: base, layer slice, vocabulary trim, LoRA."""
from __future__ import annotations

from chemnamer.model import loading
from chemnamer.model.loading import base_tokenizer
from chemnamer.model.surgery import keep_layers
from chemnamer.model.tiny import TINY_ID, tiny_model
from chemnamer.model.vocab import VocabMap


def load_base(base: str, seed: int = 0):
    """(model, tokenizer, base_id, vocab) in float32 on CPU. `vocab` is the VocabMap of a base that
    is itself a fine-tuned, trimmed model (continued training starts from it), else None."""
    if base == TINY_ID:
        tok = base_tokenizer()
        return tiny_model(tok, seed), tok, TINY_ID, None
    loaded = loading.load(base, device="cpu", dtype="float32")
    if (loaded.spec.meta or {}).get("method") == "lora":
        raise loading.ModelError(f"{base!r} is an adapter; continue from a fully fine-tuned model or its base")
    return loaded.model.train(), loaded.tokenizer, loaded.spec.id, loaded.vocab


def prepare(mcfg, texts, seed: int = 0, vocab: VocabMap | None = None):
    """Returns (model, tokenizer, vocab_or_None, base_id). `texts` decide the kept vocabulary.

    From an already trimmed model (continued training) its own map is kept: rows it lacks cannot be
    brought back, and any text still encodes, since the byte alphabet is always among the kept rows."""
    model, tokenizer, base_id, base_vocab = load_base(mcfg.base, seed)
    if mcfg.num_layers:
        keep_layers(model, mcfg.num_layers)
    if base_vocab is not None:
        vocab = base_vocab
        if mcfg.method == "full":
            # New full weights derive from the fine-tuned model's own base (its tokenizer travels
            # with them); only an adapter needs the fine-tuned model itself underneath.
            base_id = loading.read_meta(loading.resolve(base_id).path).get("base_model", base_id)
    elif mcfg.trim_vocab:
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
