"""Items and Users import jobs (spec §11.3, §12.1): CSV quoting, multi-values, INCREMENTAL, id limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openpersonalize.data.dataset_reader import read_dataset
from tests.api.helpers import USERS_SCHEMA, wait_for

ITEMS_WITH_TEXT_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRES", "type": ["null", "string"], "categorical": True},
            {"name": "PRICE", "type": ["null", "float"]},
            {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)
ITEMS_HEADER = "ITEM_ID,GENRES,PRICE,DESCRIPTION,CREATION_TIMESTAMP"


def rows(server: Any, arn: str) -> dict[str, dict[str, Any]]:
    """The dataset's records by their id (ITEM_ID or USER_ID)."""
    s = server.services
    table = read_dataset(s.ctx.store, s.ctx.interactions, arn)
    key = "ITEM_ID" if "ITEM_ID" in table.column_names else "USER_ID"
    return {r[key]: r for r in table.to_pylist()}


def dataset(personalize: Any, dataset_type: str, schema_text: str) -> str:
    group = personalize.create_dataset_group(name=f"g-{dataset_type.lower()}")["datasetGroupArn"]
    schema = personalize.create_schema(name=dataset_type.lower(), schema=schema_text)["schemaArn"]
    return personalize.create_dataset(  # type: ignore[no-any-return]
        name=dataset_type.lower(), schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type
    )["datasetArn"]


def run_import(
    personalize: Any, dataset_arn: str, csv: Path, name: str, mode: str = "FULL"
) -> dict[str, Any]:
    arn = personalize.create_dataset_import_job(
        jobName=name, datasetArn=dataset_arn, dataSource={"dataLocation": csv.as_uri()}, importMode=mode
    )["datasetImportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
    )


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def items(personalize: Any) -> str:
    return dataset(personalize, "Items", ITEMS_WITH_TEXT_SCHEMA)


def test_items_csv_with_multi_values_quotes_commas_and_newlines(server, personalize, items, tmp_path):
    csv = write(
        tmp_path / "items.csv",
        ITEMS_HEADER,
        'i1,Comedy|Drama,9.5,"A film about ""quotes"", commas, and',
        'newlines",1700000000',
        'i2,Horror,,"He said \\"boo\\", twice \\\\ then left",1700000100',
        "i3,,1.25,,1700000200",
        'i4,"Sci-Fi|Action|Drama",0,"Plain, simple",1700000300',
    )
    job = run_import(personalize, items, csv, "items")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    got = rows(server, items)
    assert sorted(got) == ["i1", "i2", "i3", "i4"]
    assert got["i1"]["DESCRIPTION"] == 'A film about "quotes", commas, and\nnewlines'
    assert got["i2"]["DESCRIPTION"] == 'He said "boo", twice \\ then left'
    assert got["i1"]["GENRES"] == "Comedy|Drama" and got["i4"]["GENRES"] == "Sci-Fi|Action|Drama"
    assert got["i3"]["GENRES"] is None and got["i3"]["DESCRIPTION"] is None and got["i2"]["PRICE"] is None
    assert got["i1"]["PRICE"] == 9.5 and got["i3"]["PRICE"] == 1.25
    assert [got[i]["CREATION_TIMESTAMP"] for i in ("i1", "i2", "i3", "i4")] == [
        1700000000,
        1700000100,
        1700000200,
        1700000300,
    ]
    listed = personalize.list_dataset_import_jobs(datasetArn=items)["datasetImportJobs"]
    assert [j["status"] for j in listed] == ["ACTIVE"]


def test_users_csv_import(server, personalize, tmp_path):
    users = dataset(personalize, "Users", USERS_SCHEMA)
    csv = write(tmp_path / "users.csv", "USER_ID,AGE,MEMBERSHIP", "u1,31,gold", "u2,,silver|trial", "u3,70,")
    job = run_import(personalize, users, csv, "users")
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert rows(server, users) == {
        "u1": {"USER_ID": "u1", "AGE": 31, "MEMBERSHIP": "gold"},
        "u2": {"USER_ID": "u2", "AGE": None, "MEMBERSHIP": "silver|trial"},
        "u3": {"USER_ID": "u3", "AGE": 70, "MEMBERSHIP": None},
    }


def test_users_csv_with_a_bad_int_names_file_row_and_column(server, personalize, tmp_path):
    users = dataset(personalize, "Users", USERS_SCHEMA)
    csv = write(tmp_path / "people.csv", "USER_ID,AGE,MEMBERSHIP", "u1,31,gold", "u2,thirty,gold")
    job = run_import(personalize, users, csv, "users")
    assert job["status"] == "CREATE FAILED"
    for fragment in ("people.csv", "row 2", "AGE", "thirty"):
        assert fragment in job["failureReason"]
    assert rows(server, users) == {}


def test_incremental_import_replaces_items_with_the_same_id(server, personalize, items, tmp_path):
    full = write(
        tmp_path / "full.csv",
        ITEMS_HEADER,
        "i1,Comedy,1.0,,1700000000",
        "i2,Drama,2.0,,1700000000",
    )
    assert run_import(personalize, items, full, "full")["status"] == "ACTIVE"
    delta = write(
        tmp_path / "delta.csv",
        ITEMS_HEADER,
        "i2,Horror|Drama,20.0,now scarier,1700000500",
        "i3,Comedy,3.0,,1700000600",
    )
    job = run_import(personalize, items, delta, "delta", "INCREMENTAL")
    assert job["status"] == "ACTIVE" and job["importMode"] == "INCREMENTAL"
    got = rows(server, items)
    assert sorted(got) == ["i1", "i2", "i3"]
    assert (got["i1"]["GENRES"], got["i1"]["PRICE"]) == ("Comedy", 1.0)
    assert got["i2"] == {
        "ITEM_ID": "i2",
        "GENRES": "Horror|Drama",
        "PRICE": 20.0,
        "DESCRIPTION": "now scarier",
        "CREATION_TIMESTAMP": 1700000500,
    }
    # A later FULL import replaces all bulk data again.
    assert run_import(personalize, items, full, "full-again")["status"] == "ACTIVE"
    assert sorted(rows(server, items)) == ["i1", "i2"]
    assert rows(server, items)["i2"]["GENRES"] == "Drama"


def test_incremental_import_replaces_an_earlier_put_items_record(
    server, personalize, events, items, tmp_path
):
    full = write(tmp_path / "full.csv", ITEMS_HEADER, "i0,Comedy,1.0,,1700000000")
    assert run_import(personalize, items, full, "full")["status"] == "ACTIVE"
    events.put_items(datasetArn=items, items=[{"itemId": "i1", "properties": json.dumps({"price": 5.0})}])
    delta = write(tmp_path / "delta.csv", ITEMS_HEADER, "i1,Drama,6.0,,1700000500")
    assert run_import(personalize, items, delta, "delta", "INCREMENTAL")["status"] == "ACTIVE"
    # INCREMENTAL "replaces records with the same ID" (spec §12.1): the import came last.
    assert rows(server, items)["i1"]["PRICE"] == 6.0


def test_id_of_256_characters_is_accepted(server, personalize, items, tmp_path):
    longest = "x" * 256
    csv = write(tmp_path / "items.csv", ITEMS_HEADER, f"{longest},Comedy,1.0,,1700000000")
    assert run_import(personalize, items, csv, "ok")["status"] == "ACTIVE"
    assert sorted(rows(server, items)) == [longest]


def test_too_long_item_id_fails_naming_file_row_and_column_and_keeps_old_data(
    server, personalize, items, tmp_path
):
    good = write(tmp_path / "good.csv", ITEMS_HEADER, "i1,Comedy,1.0,,1700000000")
    assert run_import(personalize, items, good, "good")["status"] == "ACTIVE"
    bad = write(
        tmp_path / "catalog.csv",
        ITEMS_HEADER,
        "i2,Comedy,1.0,,1700000000",
        "i3,Drama,2.0,,1700000000",
        "y" * 257 + ",Drama,2.0,,1700000000",
    )
    job = run_import(personalize, items, bad, "bad")
    assert job["status"] == "CREATE FAILED"
    reason = job["failureReason"]
    for fragment in ("catalog.csv", "row 3", "column ITEM_ID", "257", "256"):
        assert fragment in reason, reason
    # A failed FULL import replaces nothing.
    assert sorted(rows(server, items)) == ["i1"]
    statuses = {
        j["jobName"]: j["status"] for j in personalize.list_dataset_import_jobs()["datasetImportJobs"]
    }
    assert statuses == {"good": "ACTIVE", "bad": "CREATE FAILED"}


def test_non_nullable_creation_timestamp_may_not_be_empty(server, personalize, items, tmp_path):
    csv = write(tmp_path / "items.csv", ITEMS_HEADER, "i1,Comedy,1.0,,1700000000", "i2,Comedy,1.0,,")
    job = run_import(personalize, items, csv, "empty-ts")
    assert job["status"] == "CREATE FAILED"
    for fragment in ("items.csv", "row 2", "CREATION_TIMESTAMP"):
        assert fragment in job["failureReason"]
    assert rows(server, items) == {}
