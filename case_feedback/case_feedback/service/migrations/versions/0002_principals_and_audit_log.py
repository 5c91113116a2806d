"""Who submitted each correction, and an audit trail of corrections and erasures.

With authentication, the caller that submits a correction (a CRM integration acting for an agent,
or the agent itself) is known and may differ from the agent the label is from: ``corrections``
keeps it as ``principal``. Corrections stored before have no principal, and none can be made up
for them, so the column is nullable.

``audit_log`` records who corrected or erased which case, and when. It keeps no text and no label
because it outlives an erasure of the case's data: the erasure itself has to stay answerable.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    """Add the nullable principal to corrections; create the audit log, indexed by case for
    reading one case's trail."""
    op.add_column("corrections", sa.Column("principal", sa.String(128), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("case_id", sa.String(256), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.CheckConstraint("length(principal) > 0", name="ck_audit_log_principal"),
        sa.CheckConstraint("action IN ('correct', 'erase')", name="ck_audit_log_action"),
    )
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"])


def downgrade() -> None:
    """Drop the audit log and the principals (both are lost: 0001 has nowhere to keep them)."""
    op.drop_index("ix_audit_log_case_id", "audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("principal")
