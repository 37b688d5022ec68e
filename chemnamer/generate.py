"""Prompt -> candidates with scores: the one generation path used by naming, batch and evaluation.

Scores are length-normalized log-probabilities (mean log-prob per generated token), so short and
long names compare fairly. A trimmed vocabulary (see finetune/vocab.py) is handled here, so callers
only ever see text.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from chemnamer.data.formatting import Template

MAX_NEW_TOKENS = 200  # IUPAC names of <= 150 heavy atoms fit; bounds a runaway generation


@dataclass
class Candidate:
    name: str
    score: float  # mean log-prob per token (<= 0); higher is better


class Generator:
    def __init__(self, model, tokenizer, vocab=None, template: Template | None = None, device: str = "cpu"):
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.template = template or Template()
        self.device = device
        eos = tokenizer.eos_token_id
        self.eos_id = vocab.small_id(eos) if vocab else eos
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        self.pad_id = vocab.small_id(pad) if vocab and pad in vocab.to_small else self.eos_id
        self.use_fast: bool | None = None  # None = when supported; False = always HF generate
        self._fast_impl = None

    @classmethod
    def from_loaded(cls, loaded) -> "Generator":
        return cls(loaded.model, loaded.tokenizer, loaded.vocab, Template.from_dict(loaded.template), loaded.device)

    def encode(self, text: str) -> list[int]:
        if self.vocab:
            return self.vocab.encode(self.tokenizer, text)
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids if int(i) not in (self.eos_id, self.pad_id)]
        if self.vocab:
            return self.vocab.decode(self.tokenizer, ids).strip()
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def _batch(self, sources: list[str]):
        encoded = [self.encode(self.template.prompt(s)) for s in sources]
        width = max(len(e) for e in encoded)
        # Left padding: every prompt ends at the same position, where generation starts.
        ids = torch.full((len(encoded), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e):] = torch.tensor(e)
            mask[i, width - len(e):] = 1
        return ids.to(self.device), mask.to(self.device), width

    def _fast(self):
        """The lean decoder (chemnamer.fastllama) when the model is a plain Llama, else None."""
        if self.use_fast is False:
            return None
        if self._fast_impl is None:
            from chemnamer import fastllama

            if isinstance(self.model, fastllama.FastLlama):  # loaded without transformers
                self._fast_impl = self.model
            elif not fastllama.supported(self.model):
                self.use_fast = False
                return None
            else:
                self._fast_impl = fastllama.FastLlama.from_model(self.model)
        return self._fast_impl

    def _generate_fast(self, fast, ids, mask, max_new, beams, num_return, n) -> list[list[Candidate]]:
        results: list[list[Candidate]] = []
        if beams == 1:
            toks, scores = fast.greedy(ids, mask, max_new, self.eos_id)
            for row, score in zip(toks.tolist(), scores.tolist()):
                name = self.decode(row[:row.index(self.eos_id)] if self.eos_id in row else row)
                results.append([Candidate(name, float(score))] if name else [])
            return results
        for hyps in fast.beam(ids, mask, max_new, self.eos_id, beams):
            cands, seen = [], set()
            for toks, score in hyps:
                name = self.decode(toks)
                if name and name not in seen:
                    seen.add(name)
                    cands.append(Candidate(name, float(score)))
            results.append(cands[:num_return])
        return results

    @torch.inference_mode()
    def generate(self, sources: list[str], beams: int = 1, num_return: int | None = None,
                 max_new_tokens: int | None = None) -> list[list[Candidate]]:
        """For each source, up to `num_return` candidates, best first."""
        if not sources:
            return []
        num_return = min(num_return or beams, beams)
        ids, mask, width = self._batch(sources)
        # A name takes about 1-2 tokens per SMILES token; 3x plus slack bounds a model that rambles.
        src_tokens = max(len(self.encode(s)) for s in sources)
        max_new = max_new_tokens or min(MAX_NEW_TOKENS, 24 + 3 * src_tokens)
        fast = self._fast()
        if fast is not None:
            return self._generate_fast(fast, ids, mask, max_new, beams, num_return, len(sources))
        out = self.model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
            num_beams=beams, num_return_sequences=num_return, early_stopping=True if beams > 1 else False,
            eos_token_id=self.eos_id, pad_token_id=self.pad_id, output_scores=True,
            return_dict_in_generate=True, length_penalty=1.0,
        )
        seqs = out.sequences[:, width:]
        if beams > 1:
            scores = out.sequences_scores.float().tolist()
        else:
            trans = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
            # Count up to and including the first EOS: a name's probability includes stopping there.
            is_eos = (seqs == self.eos_id).float()
            live = (is_eos.cumsum(1) - is_eos) == 0
            sums = (trans.float() * live).sum(1)
            scores = (sums / live.sum(1).clamp(min=1)).tolist()
        results: list[list[Candidate]] = []
        for i in range(len(sources)):
            cands, seen = [], set()
            for j in range(i * num_return, (i + 1) * num_return):
                name = self.decode(seqs[j])
                if name and name not in seen:
                    seen.add(name)
                    cands.append(Candidate(name, float(scores[j])))
            cands.sort(key=lambda c: c.score, reverse=True)
            results.append(cands)
        return results
