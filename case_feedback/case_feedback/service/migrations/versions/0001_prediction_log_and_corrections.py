"""The prediction log and agents' corrections.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    """Create both tables and the indexes the quality figures and erasure use."""
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(256), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("top_labels", sa.JSON(), nullable=False),
        sa.Column("top_probabilities", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_predictions_case_id", "predictions", ["case_id"])
    op.create_index("ix_predictions_model_version", "predictions", ["model_version"])
    op.create_index("ix_predictions_predicted_at", "predictions", ["predicted_at"])
    op.create_table(
        "corrections",
        sa.Column("case_id", sa.String(256), primary_key=True),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("corrections")
    op.drop_index("ix_predictions_predicted_at", "predictions")
    op.drop_index("ix_predictions_model_version", "predictions")
    op.drop_index("ix_predictions_case_id", "predictions")
    op.drop_table("predictions")
