"""Vocabulary trimming: keep only the token rows the data uses.

SmolLM2 has 49,152 tokens; SMILES and IUPAC names use about a thousand. With a 576-wide model the
output projection over the full vocabulary costs as much as several decoder layers per token, so
trimming it speeds training and generation several-fold without changing what the model can say
about chemistry. The map (kept full-vocabulary ids, in order) is saved with the model; `expand`
puts the rows back into a full-size matrix, so trimming is reversible.

Inputs with a token outside the kept set are encoded by splitting that token into its byte-level
characters, which are always kept (the byte alphabet of the BPE).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

MAP_FILE = "vocab_map.json"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable-character table used by byte-level BPE tokenizers."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _byte_alphabet_ids(tokenizer) -> list[int]:
    vocab = tokenizer.get_vocab()
    return [vocab[ch] for ch in bytes_to_unicode().values() if ch in vocab]


class VocabMap:
    def __init__(self, kept: list[int]):
        self.kept = list(kept)
        self.to_small = {full: i for i, full in enumerate(self.kept)}

    def __len__(self) -> int:
        return len(self.kept)

    @classmethod
    def build(cls, tokenizer, texts, extra_ids=()) -> "VocabMap":
        used: set[int] = set(_byte_alphabet_ids(tokenizer))
        for tid in (tokenizer.eos_token_id, tokenizer.bos_token_id, tokenizer.pad_token_id, *extra_ids):
            if tid is not None:
                used.add(tid)
        for text in texts:
            used.update(tokenizer.encode(text, add_special_tokens=False))
        return cls(sorted(used))

    # --- ids ---------------------------------------------------------------------------------
    def small_id(self, full_id: int) -> int:
        return self.to_small[full_id]

    def encode(self, tokenizer, text: str) -> list[int]:
        out = []
        for tid in tokenizer.encode(text, add_special_tokens=False):
            small = self.to_small.get(tid)
            if small is not None:
                out.append(small)
                continue
            # Unseen merge: fall back to its byte-level characters, each of which is kept.
            for ch in tokenizer.convert_ids_to_tokens(tid):
                out.append(self.to_small[tokenizer.convert_tokens_to_ids(ch)])
        return out

    def to_full(self, small_ids) -> list[int]:
        return [self.kept[int(i)] for i in small_ids]

    def decode(self, tokenizer, small_ids) -> str:
        return tokenizer.decode(self.to_full(small_ids), skip_special_tokens=True)

    # --- model surgery --------------------------------------------------------------------------
    def apply(self, model) -> None:
        """Slice the embedding (and an untied output head) to the kept rows, in place."""
        idx = torch.tensor(self.kept, dtype=torch.long)
        emb = model.get_input_embeddings()
        new_emb = torch.nn.Embedding(len(self.kept), emb.weight.shape[1], dtype=emb.weight.dtype)
        new_emb.weight.data = emb.weight.data[idx].clone()
        head = model.get_output_embeddings()
        tied = head is not None and head.weight.data_ptr() == emb.weight.data_ptr()
        model.set_input_embeddings(new_emb)
        if head is not None:
            new_head = torch.nn.Linear(emb.weight.shape[1], len(self.kept), bias=False, dtype=head.weight.dtype)
            new_head.weight = new_emb.weight if tied else torch.nn.Parameter(head.weight.data[idx].clone())
            model.set_output_embeddings(new_head)
        self._remap_config(model)

    def _remap_config(self, model) -> None:
        cfg = model.config
        cfg.vocab_size = len(self.kept)
        for obj in (cfg, getattr(model, "generation_config", None)):
            if obj is None:
                continue
            for attr in ("bos_token_id", "eos_token_id", "pad_token_id"):
                val = getattr(obj, attr, None)
                if isinstance(val, list):
                    setattr(obj, attr, [self.to_small[v] for v in val if v in self.to_small])
                elif val is not None and val in self.to_small:
                    setattr(obj, attr, self.to_small[val])

    def expand(self, model, full_embeddings: torch.Tensor) -> None:
        """Inverse of `apply`: trained rows go back to their full-vocabulary positions."""
        full = full_embeddings.detach().clone().to(model.get_input_embeddings().weight.dtype)
        full[torch.tensor(self.kept)] = model.get_input_embeddings().weight.data
        emb = torch.nn.Embedding.from_pretrained(full, freeze=False)
        model.set_input_embeddings(emb)
        head = torch.nn.Linear(full.shape[1], full.shape[0], bias=False)
        head.weight = emb.weight
        model.set_output_embeddings(head)
        cfg = model.config
        cfg.vocab_size = full.shape[0]
        for obj in (cfg, getattr(model, "generation_config", None)):
            for attr in ("bos_token_id", "eos_token_id", "pad_token_id"):
                val = getattr(obj, attr, None)
                if isinstance(val, int):
                    setattr(obj, attr, self.kept[val])

    # --- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        (Path(directory) / MAP_FILE).write_text(json.dumps({"kept": self.kept}))

    @classmethod
    def load(cls, directory: Path) -> "VocabMap":
        return cls(json.loads((Path(directory) / MAP_FILE).read_text())["kept"])
