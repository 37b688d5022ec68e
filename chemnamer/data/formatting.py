"""Instruction formatting: template, response marker, EOS, inversion.

A training example is `prompt + target + EOS`; the loss covers only `target + EOS`. Inversion (the
paper's ablation) swaps source and target under the same instruction for a fraction p of examples.
"""
from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

PAPER_INSTRUCTION = "Translate the following SMILES string into an IUPAC name: {source}"
RESPONSE_MARKER = "\n### Response:\n"


_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Template:
    """A prompt with `{source}` and optionally more named inputs ("SMILES: {source}\nRule: {rule}").

    Extra inputs come from a pair's `extra` dict, else from `defaults` (how a guided model's copy
    examples carry their own task tag while naming always asks for the PubChem-style name)."""
    instruction: str = PAPER_INSTRUCTION
    response_marker: str = RESPONSE_MARKER
    defaults: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if "{source}" not in self.instruction:
            raise ValueError("template instruction must contain '{source}'")

    @property
    def fields(self) -> tuple[str, ...]:
        """The named inputs besides {source}, in order of appearance."""
        text = self.instruction + self.response_marker
        return tuple(dict.fromkeys(f for f in _FIELD.findall(text) if f != "source"))

    def inputs(self, pair) -> str | dict:
        """What `prompt` needs from a pair: its source alone, or a dict with the extra inputs."""
        if not self.fields:
            return pair.source
        return {"source": pair.source, **{f: pair.extra[f] for f in self.fields if f in pair.extra}}

    def prompt(self, source: str | Mapping) -> str:
        values = {"source": source} if isinstance(source, str) else source

        def value(m: re.Match) -> str:
            name = m.group(1)
            found = values.get(name, self.defaults.get(name))
            if found is None:
                raise KeyError(f"the template needs an input named {name!r}")
            return str(found)

        # one pass: a SMILES or name that holds "{rule}" is text, never a place for another input
        return _FIELD.sub(value, self.instruction) + _FIELD.sub(value, self.response_marker)

    def to_dict(self) -> dict:
        d = {"instruction": self.instruction, "response_marker": self.response_marker}
        if self.defaults:
            d["defaults"] = dict(self.defaults)
        return d

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
        inputs = template.inputs(p)
        if i in flip:
            flipped = p.target if isinstance(inputs, str) else {**inputs, "source": p.target}
            out.append(Example(template.prompt(flipped), p.source, True))
        else:
            out.append(Example(template.prompt(inputs), p.target, False))
    return out
