"""The store owns the facts: its own clock, one row per event, corrections in the agent's order,
and erased cases that stay erased.

- ``predictions.predicted_at`` becomes the store's clock at receipt. A client could date a
  prediction in 2100, making its text the "latest" one training learns and putting it out of
  retention's reach; what the client said is kept beside it as ``client_predicted_at``, as
  information only. Rows dated in the future now are brought back to the migration's time.
- ``predictions.event_id`` is the emitter's idempotency key (request, case index, id and text): unique,
  so a retried send or a rerun batch load adds nothing. Rows stored before have none (NULL never
  conflicts).
- ``predictions.principal`` names the authenticated caller that logged the row (a ``service``).
- ``corrections.corrected_at`` is the time the agent made the correction and ``received_at`` the
  store's clock at receipt: the latest correction by the agent's time wins, receipt breaking a tie,
  so a retried stale correction never overwrites a newer one. Rows stored before were received
  when they were corrected.
- ``erased_cases`` is the tombstone of each erased case id: later events for it are refused. It
  holds the id and the time, never a text.
- ``flagged_agents`` names the agents a retraining flagged (their labels against the other
  agents'): their corrections count in no quality figure.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    """Add the columns and the tombstones; date no prediction after the migration's own time."""
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("client_predicted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("event_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("principal", sa.String(128), nullable=True))
    op.create_index("ux_predictions_event_id", "predictions", ["event_id"], unique=True)
    op.execute(
        sa.text(
            "UPDATE predictions SET client_predicted_at = predicted_at, predicted_at = CURRENT_TIMESTAMP "
            "WHERE predicted_at > CURRENT_TIMESTAMP"
        )
    )
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE corrections SET received_at = corrected_at"))
    op.create_table(
        "erased_cases",
        sa.Column("case_id", sa.String(256), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "flagged_agents",
        sa.Column("agent_id", sa.String(128), primary_key=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the tombstones and the new columns (the clients' times and event ids are lost)."""
    op.drop_table("flagged_agents")
    op.drop_table("erased_cases")
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("received_at")
    op.drop_index("ux_predictions_event_id", "predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("principal")
        batch.drop_column("event_id")
        batch.drop_column("client_predicted_at")
