"""The chemist's verdict on a naming: namings.user_verdict, user_name, user_verdict_at.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

'correct' (the chosen name is right) or 'corrected' (user_name is the right one), NULL for no verdict.
Nullable columns added in place (SQLite's ADD COLUMN: existing rows are kept, no table rebuild); the
index lets "rows with a verdict" skip the rest of a large history.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("namings", sa.Column("user_verdict", sa.String(16)))
    op.add_column("namings", sa.Column("user_name", sa.Text()))
    op.add_column("namings", sa.Column("user_verdict_at", sa.DateTime()))
    op.create_index("ix_namings_user_verdict", "namings", ["user_verdict"])


def downgrade() -> None:
    op.drop_index("ix_namings_user_verdict", table_name="namings")
    with op.batch_alter_table("namings") as batch:  # SQLite: rebuilds the table without the columns
        batch.drop_column("user_verdict_at")
        batch.drop_column("user_name")
        batch.drop_column("user_verdict")
