"""Prompt -> candidates with scores: the one generation path used by naming, batch and evaluation.

Scores are length-normalized log-probabilities (mean log-prob per generated token, EOS counted), so
short and long names compare fairly. Beam search is Hugging Face `generate`'s, on the lean decoder
(chemnamer.model.fastllama) when the model is a plain Llama, else on `generate` itself; tests compare the
two candidate lists on the shipped model. As in `generate`, a row that reaches its token budget with
fewer than k finished names keeps its best running beams, cut off (`hypotheses` flags them): with a
budget that holds every known name with margin, only a rambling model gets there (no molecule of
the bench's PubChem and drug-like sets did at 4 beams).
A trimmed vocabulary (see model/vocab.py) is handled here, so callers only ever see text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from chemnamer.data.formatting import Template

# Token budget per source, from its size in tokens n: BUDGET_MARGIN x (BUDGET_BASE + BUDGET_SLOPE x n),
# at most MAX_NEW_TOKENS. Fitted on the default recipe's train + validation pairs (28,966): of the
# lines through every name's length (EOS counted) with slope 1-2.5, 41 + 1.5 n has the smallest mean;
# a quarter on top is the margin for names not seen. Budgets: n = 10: 70 tokens, 40: 127, 60: 164,
# 80+: 200 (the former 24 + 3 n: 54, 144, 200, 200 -- tight at n = 10, where a training name has 54).
BUDGET_BASE, BUDGET_SLOPE, BUDGET_MARGIN = 41, 1.5, 1.25
MAX_NEW_TOKENS = 200  # hard cap whatever the source: the longest training name has 169 tokens

# Beam search settings handed to both decoders (the same as Hugging Face `generate` arguments).
LENGTH_PENALTY = 1.0  # score = sum of log-probs / length: the mean per token, as greedy reports
# Hugging Face's default: a row stops when no running beam's score so far beats its worst finished
# name, not as soon as k names finished (True). On the 200 validation molecules (training/
# choose_beams.py, mode model, verified first): 4 beams 51.5 % structure-correct with False against
# 48.5 % with True at the same CPU time (p50 267 vs 261 ms); 8 beams 56.0 % vs 55.0 % (404 vs 335 ms).
EARLY_STOPPING = False

# Rows (sources x beams) decoded together. A step streams all weights whatever the rows (CPU time per
# step, 1 thread: 8 ms at 1 row, 16 at 8, 24 at 32, 32 at 64), so batches pay; but the cache grows with
# rows x (prompt + budget) and is copied as rows finish. 96 PubChem test molecules at 4 beams, CPU per
# molecule: groups of 16 (64 rows) 100 ms, 32: 105 ms, all 96 at once: 133 ms; by prompt length
# 100 ms against 107 ms in file order.
MAX_ROWS = 64


def token_budget(source_tokens: int) -> int:
    """Most new tokens a source of `source_tokens` tokens may generate (EOS included)."""
    line = BUDGET_BASE + BUDGET_SLOPE * source_tokens
    return min(MAX_NEW_TOKENS, math.ceil(BUDGET_MARGIN * line))


@dataclass
class Candidate:
    name: str
    score: float  # mean log-prob per token (<= 0); higher is better


def pool(lists: list[list[Candidate]]) -> list[Candidate]:
    """One molecule's candidates from several sources (its SMILES forms): each name once, with its
    best score, best first. A name read from any form is a name of the molecule, and the scores are
    comparable (mean log-prob per token)."""
    best: dict[str, float] = {}
    for cands in lists:
        for c in cands:
            if c.score > best.get(c.name, -math.inf):
                best[c.name] = c.score
    return [Candidate(name, score) for name, score in sorted(best.items(), key=lambda kv: -kv[1])]


class Generator:
    def __init__(self, model, tokenizer, vocab=None, template: Template | None = None, device: str = "cpu",
                 input_forms: str = "kekule"):
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.template = template or Template()
        self.device = device
        self.input_forms = input_forms  # the SMILES forms the model learned ("any" or "kekule")
        eos = tokenizer.eos_token_id
        self.eos_id = vocab.small_id(eos) if vocab else eos
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        self.pad_id = vocab.small_id(pad) if vocab and pad in vocab.to_small else self.eos_id
        self.use_fast: bool | None = None  # None = when supported; False = always HF generate
        self._fast_impl = None

    @classmethod
    def from_loaded(cls, loaded) -> "Generator":
        return cls(loaded.model, loaded.tokenizer, loaded.vocab, Template.from_dict(loaded.template), loaded.device,
                   loaded.input_forms)

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
        return self._pad([self.encode(self.template.prompt(s)) for s in sources])

    def _pad(self, encoded: list[list[int]]):
        width = max(len(e) for e in encoded)
        # Left padding: every prompt ends at the same position, where generation starts.
        ids = torch.full((len(encoded), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e):] = torch.tensor(e)
            mask[i, width - len(e):] = 1
        return ids.to(self.device), mask.to(self.device), width

    def _fast(self):
        """The lean decoder (chemnamer.model.fastllama) when the model is a plain Llama, else None."""
        if self.use_fast is False:
            return None
        if self._fast_impl is None:
            from chemnamer.model import fastllama

            if isinstance(self.model, fastllama.FastLlama):  # loaded without transformers
                self._fast_impl = self.model
            elif not fastllama.supported(self.model):
                self.use_fast = False
                return None
            else:
                self._fast_impl = fastllama.FastLlama.from_model(self.model)
        return self._fast_impl

    @torch.inference_mode()
    def hypotheses(self, sources: list, beams: int = 1, max_new_tokens: int | None = None,
                   early_stopping: bool | str | None = None,
                   copy_bonus: float = 0.0) -> list[list[tuple[list[int], float, bool]]]:
        """For each source, (tokens without EOS, score, complete) best first: what the decoder found,
        cut-off ones included. Prompts are sorted by length and decoded in groups of at most
        MAX_ROWS rows (sources x beams), so rows that run about as long share a batch.

        A source is a string, or a dict of the template's inputs ({"source": ..., "rule": ...}); its
        budget comes from the "source" input (the molecule)."""
        if not sources:
            return []
        early_stopping = EARLY_STOPPING if early_stopping is None else early_stopping
        prompts = [self.encode(self.template.prompt(s)) for s in sources]
        budgets = [max_new_tokens or token_budget(len(self.encode(s if isinstance(s, str) else s["source"])))
                   for s in sources]
        order = sorted(range(len(sources)), key=lambda i: len(prompts[i]))
        group = max(1, MAX_ROWS // beams)
        out: list = [None] * len(sources)
        for g in range(0, len(order), group):
            part = order[g:g + group]
            copy = None
            if copy_bonus and all(isinstance(sources[i], dict) and sources[i].get("rule") for i in part):
                from chemnamer.model.fastllama import CopyBias

                copy = CopyBias([self.encode(sources[i]["rule"]) for i in part], copy_bonus)
            found = self._decode([prompts[i] for i in part], [budgets[i] for i in part], beams, early_stopping, copy)
            for i, hs in zip(part, found):
                out[i] = hs
        return out

    def _decode(self, prompts: list[list[int]], budget: list[int], beams: int, early_stopping, copy=None):
        ids, mask, width = self._pad(prompts)
        fast = self._fast()
        if fast is None:  # (the copy bias lives in the lean decoder only)
            return self._hf(ids, mask, width, budget, beams, early_stopping)
        if beams == 1:
            found = fast.greedy(ids, mask, budget, self.eos_id, copy)
        else:
            found = fast.beam(ids, mask, budget, self.eos_id, beams, LENGTH_PENALTY, early_stopping, copy)
        return [[(h.tokens, h.score, h.complete) for h in hs] for hs in found]

    def generate(self, sources: list, beams: int = 1, num_return: int | None = None,
                 max_new_tokens: int | None = None, copy_bonus: float = 0.0) -> list[list[Candidate]]:
        """For each source, up to `num_return` candidates (distinct names), best first."""
        num_return = min(num_return or beams, beams)
        results = []
        for hyps in self.hypotheses(sources, beams, max_new_tokens, copy_bonus=copy_bonus):
            cands, seen = [], set()
            for toks, score, _complete in hyps[:num_return]:
                name = self.decode(toks)
                if name and name not in seen:
                    seen.add(name)
                    cands.append(Candidate(name, float(score)))
            results.append(cands)
        return results

    def generate_pooled(self, forms: list[list], beams: int = 1, num_return: int | None = None) -> list[list[Candidate]]:
        """For each molecule given as several sources (its SMILES forms: chem.smiles_forms), the
        candidates of all of them pooled by `pool`; decoded in one batch."""
        flat = [s for fs in forms for s in fs]
        found = self.generate(flat, beams=beams, num_return=num_return)
        out, i = [], 0
        for fs in forms:
            out.append(pool(found[i:i + len(fs)]))
            i += len(fs)
        return out

    def _hf(self, ids, mask, width, budget: list[int], beams: int, early_stopping):
        """Hugging Face `generate` with the same settings; a per-row budget as a stopping criterion."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        rows = torch.tensor(budget, device=ids.device)

        class RowBudget(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                per_row = input_ids.shape[0] // len(rows)  # beam search passes 2k candidates per row
                return input_ids.shape[1] - width >= rows.repeat_interleave(per_row)

        out = self.model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max(budget), do_sample=False,
            num_beams=beams, num_return_sequences=beams, early_stopping=early_stopping if beams > 1 else False,
            eos_token_id=self.eos_id, pad_token_id=self.pad_id, output_scores=True,
            return_dict_in_generate=True, length_penalty=LENGTH_PENALTY,
            stopping_criteria=StoppingCriteriaList([RowBudget()]),
        )
        seqs = out.sequences[:, width:].tolist()
        if beams > 1:
            scores = out.sequences_scores.float().tolist()
        else:
            trans = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True).float()
        found = []
        for r, limit in enumerate(budget):
            hyps = []
            for j in range(r * beams, (r + 1) * beams):
                seq = seqs[j][:limit]  # beyond its budget a row holds padding
                complete = self.eos_id in seq
                n = seq.index(self.eos_id) if complete else len(seq)
                score = scores[j] if beams > 1 else float(trans[j, :n + complete].sum()) / (n + complete)
                hyps.append((seq[:n], score, complete))
            found.append(hyps)
        return found
