"""Names unique per account and region; the memory peak and limit of a running job.

Revision ID: 0002
Revises: 0001

A resource whose ARN is made from its name is unique through the ARN (which carries account and
region), so its name_key is no longer the bare name: the same name may exist in two accounts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE resources SET name_key = NULL WHERE name_key = name")
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("memory_peak", sa.BigInteger))
        batch.add_column(sa.Column("memory_limit", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("memory_limit")
        batch.drop_column("memory_peak")
    op.execute("UPDATE resources SET name_key = name WHERE name_key IS NULL")
