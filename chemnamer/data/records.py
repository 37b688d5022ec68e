"""The unit every data source yields: a (source, target) pair with its provenance."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


@dataclass
class Pair:
    source: str  # e.g. a SMILES
    target: str  # e.g. an IUPAC name
    inchikey: str = ""  # structure identity, used for dedupe and leak-free splits
    origin: str = ""  # "pubchem:large:7", "zinc:openclatura", "file:data.csv:12"
    extra: dict = field(default_factory=dict)


def write_jsonl(pairs: Iterable[Pair], path: Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for p in pairs:
            fh.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def read_jsonl(path: Path) -> Iterator[Pair]:
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                yield Pair(d["source"], d["target"], d.get("inchikey", ""), d.get("origin", ""), d.get("extra", {}))


def data_hash(pairs: Iterable[Pair]) -> str:
    """Order-sensitive hash of the exact examples a run trains on (same hash = same data, same order)."""
    h = hashlib.sha256()
    for p in pairs:
        h.update(p.source.encode())
        h.update(b"\t")
        h.update(p.target.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]
