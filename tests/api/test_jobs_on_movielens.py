"""Every batch job type on real data: MovieLens 100K (skipped when the shared data sets are absent)."""

from __future__ import annotations

import csv
import io
from collections import Counter

import numpy as np
import pytest

from tests.api.helpers import import_csv, make_group, wait_for
from tests.api.test_batch_inference import (
    ITEM_AFFINITY,
    ROLE,
    read_output,
    run_batch,
    run_segments,
    write_lines,
)
from tests.api.test_exports import export
from tests.api.test_training import UP, deploy, train
from tests.fixtures.requirements import shared_data
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration


def test_batch_jobs_on_movielens_100k(tmp_path):
    ratings = np.loadtxt(shared_data("ml-100k/u.data"), dtype=np.int64)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"]
    lines += [f"{u},{i},rating,{r},,{t}" for u, i, r, t in ratings.tolist()]
    (tmp_path / "ratings.csv").write_text("\n".join(lines) + "\n")
    live = start_server(tmp_path / "data", event_log_seal_seconds=0.5, compaction_seconds=0.5)
    try:
        personalize, runtime = live.client("personalize"), live.client("personalize-runtime")
        arns = make_group(personalize)
        assert import_csv(personalize, arns["dataset"], tmp_path / "ratings.csv")["status"] == "ACTIVE"
        users = sorted({str(u) for u in ratings[:, 0].tolist()})
        # Batch inference over every user answers as the campaign does.
        _, version = train(personalize, arns["group"], UP, "up")
        campaign = deploy(personalize, version, "up", itemExplorationConfig={"explorationWeight": "0"})
        source = write_lines(tmp_path / "in" / "users.json", [{"userId": u} for u in users])
        done = run_batch(personalize, version, source.as_uri(), (tmp_path / "out").as_uri(),
                         batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "0"}})  # fmt: skip
        assert done["status"] == "ACTIVE", done.get("failureReason")
        output = read_output(tmp_path / "out" / "users.json.out")
        assert [line["input"]["userId"] for line in output] == users
        for line in output[::100]:
            live_answer = runtime.get_recommendations(campaignArn=campaign, userId=line["input"]["userId"])
            assert line["output"]["recommendedItems"] == [r["itemId"] for r in live_answer["itemList"]]
        # A segment for Star Wars (item 50): users who have not rated it yet.
        _, affinity = train(personalize, arns["group"], ITEM_AFFINITY, "affinity")
        source = write_lines(tmp_path / "items.json", [{"itemId": "50"}])
        segments = run_segments(
            personalize, affinity, source.as_uri(), (tmp_path / "seg").as_uri(), numResults=50
        )
        assert segments["status"] == "ACTIVE", segments.get("failureReason")
        (segment,) = read_output(tmp_path / "seg" / "items.json.out")
        rated = {str(u) for u, i in ratings[:, :2].tolist() if i == 50}
        assert len(segment["output"]["recommendedUsers"]) == 50 and not rated & set(
            segment["output"]["recommendedUsers"]
        )
        # Export, then delete ten users, then export again.
        before = export(
            personalize, arns["dataset"], (tmp_path / "x1").as_uri(), "before", ingestionMode="ALL"
        )
        assert before["status"] == "ACTIVE"
        exported = list(csv.DictReader(io.StringIO((tmp_path / "x1" / "before_0.csv").read_text())))
        assert len(exported) == len(ratings)
        gone = users[:10]
        (tmp_path / "gone.csv").write_text("USER_ID\n" + "\n".join(gone) + "\n")
        arn = personalize.create_data_deletion_job(jobName="gone", datasetGroupArn=arns["group"], roleArn=ROLE,
            dataSource={"dataLocation": (tmp_path / "gone.csv").as_uri()})["dataDeletionJobArn"]  # fmt: skip
        deleted = wait_for(
            lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=arn), "dataDeletionJob", 60
        )
        counts = Counter(str(u) for u in ratings[:, 0].tolist())
        assert deleted["status"] == "COMPLETED" and deleted["numDeleted"] == sum(counts[u] for u in gone)
        export(personalize, arns["dataset"], (tmp_path / "x2").as_uri(), "after", ingestionMode="ALL")
        remaining = {
            row["USER_ID"]
            for row in csv.DictReader(io.StringIO((tmp_path / "x2" / "after_0.csv").read_text()))
        }
        assert not remaining & set(gone) and len(remaining) == len(users) - 10
    finally:
        live.stop()
