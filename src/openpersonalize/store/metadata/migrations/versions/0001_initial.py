"""Initial tables: resources, tags, jobs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("name_key", sa.String(1024)),
        sa.Column("parent_arn", sa.String(512)),
        sa.Column("dataset_group_arn", sa.String(512)),
        sa.Column("alt_key", sa.String(512)),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.UniqueConstraint("kind", "name_key", name="uq_resources_kind_name"),
        sa.UniqueConstraint("kind", "alt_key", name="uq_resources_kind_alt"),
    )
    op.create_index("ix_resources_kind_created", "resources", ["kind", "created"])
    op.create_index("ix_resources_parent", "resources", ["parent_arn"])
    op.create_index("ix_resources_dataset_group", "resources", ["dataset_group_arn"])
    op.create_table(
        "tags",
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("resource_arn", sa.String(512), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(128)),
        sa.Column("heartbeat", sa.Float),
        sa.Column("progress", sa.Float),
        sa.Column("not_before", sa.Float, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_jobs_status", "jobs", ["status", "not_before"])
    op.create_index("ix_jobs_resource", "jobs", ["resource_arn"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("tags")
    op.drop_table("resources")
