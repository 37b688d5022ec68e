"""The paper's molecule filters, each switchable, plus dedupe by InChIKey.

Fauber 2024 kept molecules with elements H C N O S F Cl Br, MW 150-550, Fsp3 >= 0.3, at most two
phenyl rings, at most four aromatic rings and at least one ring.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Iterable, Iterator

from rdkit import Chem, RDLogger

from chemnamer import chem
from chemnamer.data.records import Pair

RDLogger.DisableLog("rdApp.*")
PAPER_ELEMENTS = frozenset({"H", "C", "N", "O", "S", "F", "Cl", "Br"})


@dataclass
class FilterConfig:
    elements: bool = True
    mw: bool = True
    mw_min: float = 150.0
    mw_max: float = 550.0
    fsp3: bool = True
    fsp3_min: float = 0.3
    phenyl: bool = True
    phenyl_max: int = 2
    aromatic: bool = True
    aromatic_max: int = 4
    rings: bool = True
    rings_min: int = 1
    single_fragment: bool = True  # salts/mixtures: the paper's set is single molecules

    @classmethod
    def off(cls) -> "FilterConfig":
        return cls(**{f.name: False for f in fields(cls) if f.type in ("bool", bool)})


def rejection(mol: Chem.Mol | None, cfg: FilterConfig) -> str | None:
    """Why a molecule fails the filters (the first reason), or None when it passes."""
    if mol is None:
        return "unparsable"
    d = chem.descriptors(mol)
    if cfg.single_fragment and d["fragments"] > 1:
        return "fragments"
    if cfg.elements and not d["elements"] <= PAPER_ELEMENTS:
        return "elements"
    if cfg.mw and not cfg.mw_min <= d["mw"] <= cfg.mw_max:
        return "mw"
    if cfg.fsp3 and d["fsp3"] < cfg.fsp3_min:
        return "fsp3"
    if cfg.phenyl and d["phenyl_rings"] > cfg.phenyl_max:
        return "phenyl"
    if cfg.aromatic and d["aromatic_rings"] > cfg.aromatic_max:
        return "aromatic"
    if cfg.rings and d["rings"] < cfg.rings_min:
        return "rings"
    return None


@dataclass
class FilterReport:
    kept: int = 0
    rejected: dict = field(default_factory=dict)

    def count(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def apply_filters(pairs: Iterable[Pair], cfg: FilterConfig, report: FilterReport | None = None,
                  smiles_of=lambda p: p.source) -> Iterator[Pair]:
    report = report if report is not None else FilterReport()
    for p in pairs:
        reason = rejection(Chem.MolFromSmiles(smiles_of(p)), cfg)
        if reason:
            report.count(reason)
            continue
        report.kept += 1
        yield p


def dedupe(pairs: Iterable[Pair], report: FilterReport | None = None) -> Iterator[Pair]:
    """First pair per InChIKey wins (pairs without a key are keyed by their source text)."""
    seen: set[str] = set()
    for p in pairs:
        key = p.inchikey or p.source
        if key in seen:
            if report is not None:
                report.count("duplicate")
            continue
        seen.add(key)
        yield p
