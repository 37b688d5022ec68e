"""Initial schema: namings, runs with step logs / epoch metrics / checkpoints, registered models.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

A frozen snapshot: it spells out its columns instead of importing chemnamer.store.schema, so later
changes to the ORM classes never change what this migration does. Datetimes are naive UTC text.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_fk() -> sa.Column:
    return sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "namings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("input", sa.Text()),
        sa.Column("source", sa.String(16)),
        sa.Column("smiles", sa.Text()),
        sa.Column("inchikey", sa.String(27)),
        sa.Column("model_id", sa.String(200)),
        sa.Column("mode", sa.String(16)),
        sa.Column("name", sa.Text()),
        sa.Column("verified", sa.Boolean()),
        sa.Column("score", sa.Float()),
        sa.Column("chosen_from", sa.String(16)),
        sa.Column("candidates", sa.JSON()),
        sa.Column("reference_pubchem", sa.Text()),
        sa.Column("reference_rule_based", sa.Text()),
        sa.Column("reference_json", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("ms_json", sa.JSON()),
        sa.Column("device", sa.String(32)),
    )
    op.create_index("ix_namings_created_at", "namings", ["created_at"])
    op.create_index("ix_namings_inchikey", "namings", ["inchikey"])
    op.create_index("ix_namings_model_created", "namings", ["model_id", "created_at"])

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_uid", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON()),
        sa.Column("data_hash", sa.String(128)),
        sa.Column("base_model", sa.String(200)),
        sa.Column("method", sa.String(16)),
        sa.Column("hardware", sa.JSON()),
        sa.Column("pid", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("output_dir", sa.Text()),
        sa.Column("final_metrics", sa.JSON()),
        sa.Column("model_id", sa.String(200)),
    )
    op.create_index("ix_runs_status", "runs", ["status"])

    op.create_table(
        "step_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_fk(),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Float()),
        sa.Column("loss", sa.Float()),
        sa.Column("lr", sa.Float()),
        sa.Column("tokens_seen", sa.Integer()),
        sa.Column("examples_seen", sa.Integer()),
        sa.Column("elapsed_s", sa.Float()),
    )
    op.create_index("ix_step_logs_run_step", "step_logs", ["run_id", "step"])

    op.create_table(
        "epoch_metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_fk(),
        sa.Column("epoch", sa.Float()),
        sa.Column("step", sa.Integer()),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("decoding", sa.String(16), nullable=False),
        sa.Column("metrics", sa.JSON()),
        sa.Column("examples_seen", sa.Integer()),
        sa.Column("elapsed_s", sa.Float()),
    )
    op.create_index("ix_epoch_metrics_run_step", "epoch_metrics", ["run_id", "step"])

    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_fk(),
        sa.Column("step", sa.Integer()),
        sa.Column("epoch", sa.Float()),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_checkpoints_run_step", "checkpoints", ["run_id", "step"])

    op.create_table(
        "registered_models",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("base_model", sa.String(200)),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metrics", sa.JSON()),
        sa.Column("meta", sa.JSON()),
    )


def downgrade() -> None:
    for table in ("registered_models", "checkpoints", "epoch_metrics", "step_logs", "runs", "namings"):
        op.drop_table(table)  # SQLite drops a table's indexes with it
