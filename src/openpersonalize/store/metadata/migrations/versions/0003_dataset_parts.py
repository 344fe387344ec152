"""The parts manifest: a dataset's Parquet parts in a table, not in the dataset's attributes.

Revision ID: 0003
Revises: 0002

Moves every dataset's `_bulk` groups and `_events` list into `dataset_parts` rows.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    parts = op.create_table(
        "dataset_parts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("written", sa.Float, nullable=False),
        sa.Column("first_at", sa.Float, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
        sa.Column("job", sa.String(512)),
        sa.UniqueConstraint("key", name="uq_dataset_parts_key"),
    )
    op.create_index("ix_dataset_parts_dataset", "dataset_parts", ["dataset_id", "source"])
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT arn, attrs FROM resources WHERE kind = 'dataset'")).fetchall()
    for arn, text in rows:
        attrs = json.loads(text)
        dataset_id = attrs.get("_id")
        moved = []
        for group in attrs.pop("_bulk", None) or []:
            at = float(group.get("at", 0.0))
            count = len(group["keys"]) or 1
            for key in group["keys"]:
                moved.append(
                    {
                        "dataset_id": dataset_id,
                        "source": "bulk",
                        "key": key,
                        "rows": int(group.get("rows", 0)) // count,
                        "written": at,
                        "first_at": at,
                        "last_at": at,
                        "job": group.get("job"),
                    }
                )
        for part in attrs.pop("_events", None) or []:
            moved.append(
                {
                    "dataset_id": dataset_id,
                    "source": "events",
                    "key": part["key"],
                    "rows": int(part.get("rows", 0)),
                    "written": float(part.get("first", 0.0)),
                    "first_at": float(part.get("first", 0.0)),
                    "last_at": float(part.get("last", 0.0)),
                    "job": None,
                }
            )
        if moved:
            op.bulk_insert(parts, moved)
        conn.execute(
            sa.text("UPDATE resources SET attrs = :attrs WHERE arn = :arn"),
            {"attrs": json.dumps(attrs), "arn": arn},
        )


def downgrade() -> None:
    op.drop_index("ix_dataset_parts_dataset", "dataset_parts")
    op.drop_table("dataset_parts")
