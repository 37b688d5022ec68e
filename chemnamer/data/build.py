"""Build the (train, valid, test) pair sets a recipe asks for, cached by the data config's hash."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from chemnamer import paths
from chemnamer.data.filters import FilterReport, apply_filters, dedupe
from chemnamer.data.records import Pair, data_hash, read_jsonl, write_jsonl
from chemnamer.data.splits import split_pairs

CACHE_VERSION = 1


def _config_key(cfg) -> str:
    fields = asdict(cfg)
    for later in ("extra_columns", "hold_out", "zinc_task"):  # added later: configs without them keep their cached splits
        if not fields.get(later):
            fields.pop(later, None)
    if fields.get("hold_out"):  # the held-out recipes' contents, not only their names, decide the split
        fields["hold_out"] = [[name, _config_key(data)] for name, data in _held_recipes(cfg.hold_out)]
    blob = json.dumps({"v": CACHE_VERSION, **fields}, sort_keys=True, default=str)
    if cfg.source in ("file", "jsonl") and cfg.path and Path(cfg.path).exists():
        st = Path(cfg.path).stat()
        blob += f"{st.st_size}:{st.st_mtime_ns}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _held_recipes(recipes: list[str], _path: tuple = ()) -> list[tuple[str, object]]:
    """(name, DataConfig) of each recipe to hold out; a relative path is from the repository root."""
    from chemnamer.recipe import load_recipe

    root = Path(__file__).resolve().parents[2]
    out = []
    for name in recipes:
        path = (Path(name) if Path(name).is_absolute() else root / name).resolve()
        if path in _path:
            raise ValueError(f"data.hold_out: {name} holds itself out, through {' -> '.join(map(str, _path))}")
        data = load_recipe(path).data
        if data.hold_out:
            _held_recipes(data.hold_out, (*_path, path))  # only to refuse a cycle before it recurses
        out.append((name, data))
    return out


def held_out_skeletons(recipes: list[str]) -> set[str]:
    """InChIKey skeletons of the validation and test splits of these recipes."""
    out: set[str] = set()
    for _name, data in _held_recipes(recipes):
        _train, valid, test, _ = build_splits(data)
        out |= {(p.inchikey or p.source).split("-")[0] for p in valid + test}
    return out


def hold_out(train: list[Pair], skeletons: set[str], recipes: list[str], report: dict) -> list[Pair]:
    """`train` without the molecules whose skeleton another recipe validates or tests on."""
    kept = [p for p in train if (p.inchikey or p.source).split("-")[0] not in skeletons]
    report.update({"recipes": list(recipes), "skeletons": len(skeletons), "dropped": len(train) - len(kept)})
    return kept


def source_pairs(cfg, report: dict):
    if cfg.source == "pubchem":
        from chemnamer.data.pubchem import PubChemOptions, PubChemReport, pubchem_pairs

        rep = PubChemReport()
        report["pubchem"] = rep
        yield from pubchem_pairs(PubChemOptions(tuple(cfg.pubchem_tables), cfg.drop_old_style, cfg.restore_case,
                                                cfg.convert_old_style), rep)
        if cfg.zinc_pairs:
            from chemnamer.data.zinc import cached_zinc_pairs

            for pair in cached_zinc_pairs(limit=cfg.zinc_pairs):
                yield replace(pair, extra={**pair.extra, "task": cfg.zinc_task}) if cfg.zinc_task else pair
    elif cfg.source == "zinc":
        from chemnamer.data.zinc import cached_zinc_pairs

        yield from cached_zinc_pairs(limit=cfg.limit_train + cfg.n_valid + cfg.n_test if cfg.limit_train else 0)
    elif cfg.source == "jsonl":
        yield from read_jsonl(Path(cfg.path))
    else:
        from chemnamer.data.userfile import FileReport, file_pairs

        rep = FileReport()
        report["file"] = rep
        yield from file_pairs(cfg.path, cfg.source_column, cfg.target_column, smiles_source=cfg.source_is_smiles,
                              report=rep, extra_columns=cfg.extra_columns)


def build_splits(cfg, cache: bool = True) -> tuple[list[Pair], list[Pair], list[Pair], dict]:
    """Returns train, valid, test and a report of counts (rows, rejections by reason, split sizes)."""
    out = paths.cache_dir() / "datasets" / _config_key(cfg)
    if cache and (out / "report.json").is_file():
        splits = tuple(list(read_jsonl(out / f"{s}.jsonl")) for s in ("train", "valid", "test"))
        return (*splits, json.loads((out / "report.json").read_text()))
    report: dict = {}
    filt = FilterReport()
    pairs = source_pairs(cfg, report)
    if cfg.source_is_smiles:
        pairs = dedupe(apply_filters(pairs, cfg.filters, filt), filt)
    pairs = list(pairs)
    train, valid, test = split_pairs(pairs, cfg.n_valid, cfg.n_test, cfg.seed, cfg.split)
    held: dict = {}
    skeletons = held_out_skeletons(cfg.hold_out) if cfg.hold_out else set()
    if skeletons:
        train = hold_out(train, skeletons, cfg.hold_out, held)
    if cfg.limit_train:
        train = train[: cfg.limit_train]
    # Guided data: drafts join after the split, so the splits are those of the same rows unguided.
    guided: dict = {}
    if cfg.rule_drafts:
        from chemnamer.data.guided import attach_drafts, cached_drafts

        drafts = cached_drafts()
        train, valid, test = (attach_drafts(s, drafts, guided) for s in (train, valid, test))
    if cfg.copy_pairs:
        from chemnamer.data.guided import copy_examples
        from chemnamer.data.splits import _rank

        held_out = {p.inchikey.split("-")[0] for p in valid + test if p.inchikey} | skeletons
        guided["copy"] = cfg.copy_pairs
        train = sorted(train + copy_examples(cfg.copy_pairs, held_out),
                       key=lambda p: _rank(p.inchikey or p.source, cfg.seed + 1))
    if cfg.augment == "random":
        from chemnamer.data.augment import augment_pairs

        train = augment_pairs(train, cfg.seed)
    summary = {
        "filters": {"kept": filt.kept, "rejected": filt.rejected},
        "sources": {k: asdict(v) for k, v in report.items()},
        "guided": guided,
        "held_out": held,
        "sizes": {"train": len(train), "valid": len(valid), "test": len(test)},
        "hash": {"train": data_hash(train), "valid": data_hash(valid), "test": data_hash(test)},
        "dir": str(out),
    }
    if cache:
        for name, split in (("train", train), ("valid", valid), ("test", test)):
            write_jsonl(split, out / f"{name}.jsonl")
        (out / "report.json").write_text(json.dumps(summary, indent=2))
    return train, valid, test, summary
