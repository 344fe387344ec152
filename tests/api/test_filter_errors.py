"""Filters in states a request can't use, through boto3: AWS's errors, and nothing changed."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from openpersonalize.control.resources.common import new_resource
from tests.api.clustered import user
from tests.api.helpers import make_group
from tests.api.test_filters import ITEMS, make_filter, shop  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def refusal(call, **params):
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_filter_still_being_created_is_refused(personalize, runtime, server, shop):  # noqa: F811
    arn = make_filter(personalize, shop, 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("group0")', "pending")
    ctx = server.services.ctx
    ctx.store.update(arn, status="CREATE PENDING")  # as AWS shows a filter for its first minutes
    code, message = refusal(
        runtime.get_recommendations, campaignArn=shop["campaign"], userId=user(0, 1), filterArn=arn
    )
    assert code == "InvalidInputException"
    assert message == f"Filter {arn} is not ACTIVE (status: CREATE PENDING)."
    code, _ = refusal(
        runtime.get_recommendations,
        campaignArn=shop["campaign"],
        userId=user(0, 1),
        promotions=[{"name": "p", "percentPromotedItems": 10, "filterArn": arn}],
    )
    assert code == "InvalidInputException"


def test_a_filter_of_another_group_or_unknown_is_refused(personalize, runtime, shop):  # noqa: F811
    other = make_group(personalize, "other")["group"]
    items = personalize.create_schema(name="other-items", schema=ITEMS)["schemaArn"]
    personalize.create_dataset(
        name="other-items", schemaArn=items, datasetGroupArn=other, datasetType="Items"
    )
    foreign = personalize.create_filter(
        name="foreign",
        datasetGroupArn=other,
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
    )["filterArn"]
    code, message = refusal(
        runtime.get_recommendations, campaignArn=shop["campaign"], userId=user(0, 1), filterArn=foreign
    )
    assert code == "InvalidInputException" and f"belongs to dataset group {other}" in message
    missing = foreign.replace("foreign", "missing")
    assert refusal(
        runtime.get_recommendations, campaignArn=shop["campaign"], userId=user(0, 1), filterArn=missing
    ) == ("ResourceNotFoundException", f"Resource Arn {missing} does not exist.")


def test_deleting_a_filter_a_running_job_uses_is_refused(personalize, server, shop):  # noqa: F811
    arn = make_filter(personalize, shop, 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("group0")', "used")
    ctx = server.services.ctx
    job_arn = arn.replace(":filter/used", ":batch-inference-job/nightly")
    ctx.store.create(
        new_resource(
            ctx,
            "batch-inference-job",
            job_arn,
            "nightly",
            {"filterArn": arn},
            group=shop["group"],
            status="CREATE IN_PROGRESS",
        )  # fmt: skip
    )
    code, message = refusal(personalize.delete_filter, filterArn=arn)
    assert code == "ResourceInUseException"
    assert message == (
        f"Filter {arn} is in use by batch inference job {job_arn} (CREATE IN_PROGRESS); "
        "delete it when the job has finished."
    )
    assert personalize.describe_filter(filterArn=arn)["filter"]["status"] == "ACTIVE"  # nothing changed
    ctx.store.update(job_arn, status="ACTIVE")  # the job ends
    personalize.delete_filter(filterArn=arn)
    assert refusal(personalize.describe_filter, filterArn=arn)[0] == "ResourceNotFoundException"
