"""Metric attribution's time series: values per metric, source and 15-minute window.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_metrics",
        sa.Column("attribution_arn", sa.String(512), primary_key=True),
        sa.Column("metric_name", sa.String(256), primary_key=True),
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("window", sa.BigInteger, primary_key=True),
        sa.Column("event_type", sa.String(256), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("samples", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attribution_metrics")
