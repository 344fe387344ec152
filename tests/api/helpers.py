"""Shared schemas and data builders for the API tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

INTERACTIONS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)

ITEMS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRES", "type": ["null", "string"], "categorical": True},
            {"name": "PRICE", "type": ["null", "float"]},
            {"name": "CREATION_TIMESTAMP", "type": ["null", "long"]},
        ],
        "version": "1.0",
    }
)

USERS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Users",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "AGE", "type": ["null", "int"]},
            {"name": "MEMBERSHIP", "type": ["null", "string"], "categorical": True},
        ],
        "version": "1.0",
    }
)


def write_interactions_csv(
    path: Path, rows: int = 50, users: int = 10, items: int = 20, start: int = 0
) -> Path:
    """Distinct rows (their timestamps differ), so none is dropped as an exact duplicate."""
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"]
    for i in range(start, start + rows):
        value = "" if i % 3 else "1.5"
        lines.append(
            f"u{i % users},i{(i * 7) % items},click,{value},{'web' if i % 2 else 'ios'},{1700000000 + i}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def make_group(personalize: Any, name: str = "dg") -> dict[str, str]:
    """A dataset group with an Interactions dataset; returns the ARNs."""
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    schema = personalize.create_schema(name=f"{name}-interactions", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    dataset = personalize.create_dataset(
        name=f"{name}-interactions", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    return {"group": group, "schema": schema, "dataset": dataset}


def wait_for(describe: Any, key: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll a Describe call until the resource settles (like the AWS sample notebooks do)."""
    deadline = time.time() + timeout
    while True:
        resource: dict[str, Any] = describe()[key]
        # Data deletion jobs end COMPLETED or FAILED.
        if resource["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED", "COMPLETED", "FAILED"):
            return resource
        if time.time() > deadline:
            raise AssertionError(f"still {resource['status']} after {timeout}s: {resource}")
        time.sleep(0.1)


def import_csv(personalize: Any, dataset_arn: str, path: Path, name: str | None = None) -> dict[str, Any]:
    """Import a local CSV file into a dataset and wait until the job settles; returns the job."""
    arn = personalize.create_dataset_import_job(
        jobName=name or path.stem, datasetArn=dataset_arn, dataSource={"dataLocation": path.as_uri()}
    )["datasetImportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )
