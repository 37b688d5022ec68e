"""Evaluate a model on held-out pairs: generate, then score with chemnamer.metrics."""
from __future__ import annotations

from chemnamer import metrics
from chemnamer.model.generate import Generator


def generate_all(gen: Generator, sources: list[str], beams: int = 1, batch_size: int = 16,
                 progress=None) -> list[str]:
    preds: list[str] = []
    for i in range(0, len(sources), batch_size):
        chunk = sources[i:i + batch_size]
        for cands in gen.generate(chunk, beams=beams, num_return=1):
            preds.append(cands[0].name if cands else "")
        if progress:
            progress(len(preds), len(sources))
    return preds


def evaluate_pairs(gen: Generator, pairs, beams: int = 1, check_structures: bool = True,
                   batch_size: int = 16, progress=None) -> tuple[dict, list[metrics.Scored]]:
    pairs = list(pairs)
    was_training = gen.model.training
    gen.model.eval()
    try:
        preds = generate_all(gen, [gen.template.inputs(p) for p in pairs], beams, batch_size, progress)
    finally:
        if was_training:
            gen.model.train()
    items = [metrics.Scored(pred, p.target, p.source, p.inchikey) for pred, p in zip(preds, pairs)]
    if check_structures and any(p.inchikey for p in pairs):
        metrics.check_structures(items)
    return metrics.summarize(items), items
