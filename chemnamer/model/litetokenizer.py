"""The few tokenizer calls naming needs, straight on the `tokenizers` library (no transformers import).

A cold start spends seconds importing transformers; loading tokenizer.json with `tokenizers` takes
milliseconds and encodes and decodes the same ids (tests compare it with AutoTokenizer).
"""
from __future__ import annotations

import json
from pathlib import Path


class LiteTokenizer:
    def __init__(self, directory: str | Path):
        from tokenizers import Tokenizer

        directory = Path(directory)
        self._tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        cfg_path = directory / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
        self.eos_token_id = self._special_id(cfg.get("eos_token"))
        self.pad_token_id = self._special_id(cfg.get("pad_token"))
        self.bos_token_id = self._special_id(cfg.get("bos_token"))

    def _special_id(self, token) -> int | None:
        if isinstance(token, dict):  # older configs store AddedToken objects
            token = token.get("content")
        return self._tok.token_to_id(token) if token else None

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def convert_ids_to_tokens(self, tid: int) -> str:
        return self._tok.id_to_token(int(tid))

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return self._tok.token_to_id(token)
