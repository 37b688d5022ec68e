"""Instruction formatting: template, response marker, EOS, inversion.

A training example is `prompt + target + EOS`; the loss covers only `target + EOS`. Inversion (the
paper's ablation) swaps source and target under the same instruction for a fraction p of examples.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

PAPER_INSTRUCTION = "Translate the following SMILES string into an IUPAC name: {source}"
RESPONSE_MARKER = "\n### Response:\n"


@dataclass(frozen=True)
class Template:
    instruction: str = PAPER_INSTRUCTION
    response_marker: str = RESPONSE_MARKER

    def __post_init__(self):
        if "{source}" not in self.instruction:
            raise ValueError("template instruction must contain '{source}'")

    def prompt(self, source: str) -> str:
        return self.instruction.replace("{source}", source) + self.response_marker

    def to_dict(self) -> dict:
        return {"instruction": self.instruction, "response_marker": self.response_marker}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Template":
        return cls(**d) if d else cls()


@dataclass
class Example:
    prompt: str
    response: str
    inverted: bool = False


def format_pairs(pairs, template: Template, inversion: float = 0.0, seed: int = 0) -> list[Example]:
    """Exactly round(p * n) examples are inverted, chosen by a seeded shuffle (reproducible)."""
    if not 0.0 <= inversion <= 1.0:
        raise ValueError(f"inversion must be in [0, 1], got {inversion}")
    pairs = list(pairs)
    k = round(inversion * len(pairs))
    flip = set(random.Random(seed).sample(range(len(pairs)), k)) if k else set()
    out = []
    for i, p in enumerate(pairs):
        if i in flip:
            out.append(Example(template.prompt(p.target), p.source, True))
        else:
            out.append(Example(template.prompt(p.source), p.target, False))
    return out
