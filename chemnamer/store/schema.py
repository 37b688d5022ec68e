"""ORM tables: namings (history), training runs with their logs and checkpoints, registered models.

Enumerated values (status, split, ...) are plain strings checked in Python, not SQL CHECKs: adding a
value later should not need a table rebuild, which is what changing a CHECK costs on SQLite.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC text (sorts and compares in SQL); returned timezone-aware.

    A naive datetime given to us is taken as UTC already (what the rest of the code writes)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    def as_dict(self) -> dict[str, Any]:
        """Plain column values: the only shape that leaves the store (usable from any thread)."""
        return {attr.key: getattr(self, attr.key) for attr in self.__mapper__.column_attrs}

    @classmethod
    def column_names(cls) -> frozenset[str]:
        return frozenset(attr.key for attr in cls.__mapper__.column_attrs)


class Naming(Base):
    __tablename__ = "namings"
    # (model_id, created_at): "this model's namings, newest first" reads in index order, no sort.
    __table_args__ = (Index("ix_namings_model_created", "model_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    input: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(16))  # 'smiles' | 'name'
    smiles: Mapped[str | None] = mapped_column(Text)  # canonical
    inchikey: Mapped[str | None] = mapped_column(String(27), index=True)
    model_id: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str | None] = mapped_column(String(16))  # 'model' | 'best'
    name: Mapped[str | None] = mapped_column(Text)  # the chosen name
    verified: Mapped[bool | None]
    score: Mapped[float | None] = mapped_column(Float)
    chosen_from: Mapped[str | None] = mapped_column(String(16))  # 'model' | 'pubchem' | 'rule_based'
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{name, score, verified, reason}]
    reference_pubchem: Mapped[str | None] = mapped_column(Text)
    reference_rule_based: Mapped[str | None] = mapped_column(Text)
    reference_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    ms_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    device: Mapped[str | None] = mapped_column(String(32))
    # The chemist's verdict (migration 0002): 'correct' (the name is right) | 'corrected' (user_name is),
    # with the name it vouches for and when; rows with a verdict export as training pairs.
    user_verdict: Mapped[str | None] = mapped_column(String(16), index=True)
    user_name: Mapped[str | None] = mapped_column(Text)
    user_verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_uid: Mapped[str] = mapped_column(String(32), unique=True)  # stable across databases (exports, dirs)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the full recipe
    data_hash: Mapped[str | None] = mapped_column(String(128))
    base_model: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(16))  # 'full' | 'lora'
    hardware: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pid: Mapped[int | None]  # to tell a killed process from a live one
    error: Mapped[str | None] = mapped_column(Text)
    output_dir: Mapped[str | None] = mapped_column(Text)
    final_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    model_id: Mapped[str | None] = mapped_column(String(200))  # registered id; no FK: registration may come later


class StepLog(Base):
    __tablename__ = "step_logs"
    __table_args__ = (Index("ix_step_logs_run_step", "run_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int]
    epoch: Mapped[float | None] = mapped_column(Float)
    loss: Mapped[float | None] = mapped_column(Float)
    lr: Mapped[float | None] = mapped_column(Float)
    tokens_seen: Mapped[int | None]
    examples_seen: Mapped[int | None]
    elapsed_s: Mapped[float | None] = mapped_column(Float)


class EpochMetric(Base):
    __tablename__ = "epoch_metrics"
    __table_args__ = (Index("ix_epoch_metrics_run_step", "run_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int | None]
    split: Mapped[str] = mapped_column(String(16))  # 'valid' | 'test'
    decoding: Mapped[str] = mapped_column(String(16))  # 'greedy' | 'beam'
    # exact_match, exact_match_ci, levenshtein, bleu, opsin_parsable, structure_match, n
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    examples_seen: Mapped[int | None]
    elapsed_s: Mapped[float | None] = mapped_column(Float)


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (Index("ix_checkpoints_run_step", "run_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int | None]
    epoch: Mapped[float | None] = mapped_column(Float)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # 'step' | 'epoch' | 'final' | 'cancel'


class RegisteredModel(Base):
    __tablename__ = "registered_models"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. 'run-12-final'
    path: Mapped[str] = mapped_column(Text)
    base_model: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    description: Mapped[str] = mapped_column(Text, default="")
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
