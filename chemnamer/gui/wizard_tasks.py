"""The training wizard's task functions (plain Python, no Qt): a file's preview, the data counts of
a data config, the formatted examples."""
from __future__ import annotations

import time


def file_preview(state, path: str, n: int = 8) -> tuple[list[str], list[list[str]]]:
    from chemnamer.data.userfile import preview

    return preview(path, n)


def data_counts(state, config: dict) -> dict:
    """Build (or read from the cache) the splits a data config gives; counts and a few examples.

    The splits are cached by the config's hash, so the training run that follows starts at once."""
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import config_from_dict

    cfg = config_from_dict({"data": config}).data
    t0 = time.perf_counter()
    train, valid, test, report = build_splits(cfg)
    sample = [(p.source, p.target, p.extra) for p in train[:12]]  # extra: the other input columns
    return {"sizes": report.get("sizes", {}), "filters": report.get("filters", {}),
            "sources": report.get("sources", {}), "sample": sample, "seconds": time.perf_counter() - t0}


def format_preview(pairs: list[tuple], instruction: str, marker: str, inversion: float,
                   seed: int = 0) -> list:
    """The formatted training examples (prompt, response, inverted) for a handful of pairs, each
    (source, target) or (source, target, extra inputs). An input a pair lacks shows as "<name>": the
    page says which inputs exist; the preview only shows the layout."""
    from chemnamer.data.formatting import Template, format_pairs
    from chemnamer.data.records import Pair

    template = Template(instruction, marker)
    template = Template(instruction, marker, {f: f"<{f}>" for f in template.fields})
    return format_pairs([Pair(p[0], p[1], extra=dict(p[2]) if len(p) > 2 else {}) for p in pairs], template,
                        inversion, seed=seed)
