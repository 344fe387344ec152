"""Metric attribution through boto3 (spec §17): two recommenders compared on click-through and on
summed margin, per event attribution source; bulk-import reports; the API's checks."""

from __future__ import annotations

import csv
import io
import json
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import INTERACTIONS_SCHEMA, import_csv, wait_for
from tests.api.test_recommenders import create_recommender, write_shop_events

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/personalize"
ITEMS_SCHEMA = json.dumps({
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "PRICE", "type": "float"},
               {"name": "CATEGORY_L1", "type": "string", "categorical": True},
               {"name": "MARGIN", "type": "float"}],
    "version": "1.0",
})  # fmt: skip
METRICS = [
    {"eventType": "Click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
    {"eventType": "Purchase", "metricName": "MARGIN", "expression": "SUM(Items.MARGIN)"},
]


def margin_of(item_id: str) -> float:
    return 1.0 + int(item_id.rsplit("item", 1)[1]) / 10  # g1-item7 -> 1.7


@pytest.fixture
def store(personalize, tmp_path):
    group = personalize.create_dataset_group(name="store", domain="ECOMMERCE")["datasetGroupArn"]
    schema = personalize.create_schema(name="i", schema=INTERACTIONS_SCHEMA, domain="ECOMMERCE")["schemaArn"]
    interactions = personalize.create_dataset(name="i", schemaArn=schema, datasetGroupArn=group,
                                              datasetType="Interactions")["datasetArn"]  # fmt: skip
    assert (
        import_csv(personalize, interactions, write_shop_events(tmp_path / "events.csv"))["status"]
        == "ACTIVE"
    )
    schema = personalize.create_schema(name="items", schema=ITEMS_SCHEMA, domain="ECOMMERCE")["schemaArn"]
    items = personalize.create_dataset(name="items", schemaArn=schema, datasetGroupArn=group,
                                       datasetType="Items")["datasetArn"]  # fmt: skip
    rows = ["ITEM_ID,PRICE,CATEGORY_L1,MARGIN"] + [
        f"g{g}-item{i},{10 + i}.0,group{g},{margin_of(f'g{g}-item{i}')}" for g in range(4) for i in range(30)
    ]
    (tmp_path / "items.csv").write_text("\n".join(rows) + "\n")
    assert import_csv(personalize, items, tmp_path / "items.csv")["status"] == "ACTIVE"
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
    return {"group": group, "interactions": interactions, "tracking": tracking}


def series(server, arn, metric):
    body = httpx.get(
        f"{server.url}/attribution/series", params={"metricAttributionArn": arn, "metricName": metric}
    )
    assert body.status_code == 200, body.text
    (found,) = body.json()["metrics"]
    return {source: sum(p["value"] for p in points) for source, points in found["sources"].items()}


def test_two_recommenders_compared_on_clicks_and_margin(
    server, personalize, runtime, events, store, tmp_path
):
    for_you = create_recommender(personalize, store, "aws-ecomm-recommended-for-you", "for-you")[
        "recommenderArn"
    ]
    best = create_recommender(personalize, store, "aws-ecomm-popular-items-by-purchases", "best")[
        "recommenderArn"
    ]
    attribution = personalize.create_metric_attribution(
        name="compare", datasetGroupArn=store["group"], metrics=METRICS,
        metricsOutputConfig={"roleArn": ROLE, "s3DataDestination": {"path": (tmp_path / "metrics").as_uri()}},
    )["metricAttributionArn"]  # fmt: skip
    described = personalize.describe_metric_attribution(metricAttributionArn=attribution)["metricAttribution"]
    assert described["status"] == "ACTIVE" and described["datasetGroupArn"] == store["group"]
    expected = {"CLICKS": {for_you: 0.0, best: 0.0}, "MARGIN": {for_you: 0.0, best: 0.0}}
    now = time.time()
    for n in range(10):
        who = f"g{n % 4}-user{n}"
        for recommender, clicks, buys in ((for_you, 10, 4), (best, 3, 1)):
            answer = runtime.get_recommendations(recommenderArn=recommender, userId=who, numResults=5)
            shown = answer["itemList"][0]["itemId"]
            sent = []
            if n < clicks:
                sent.append(
                    {
                        "eventType": "Click",
                        "itemId": shown,
                        "sentAt": now,
                        "recommendationId": answer["recommendationId"],
                    }
                )
                expected["CLICKS"][recommender] += 1
            if n < buys:
                sent.append(
                    {
                        "eventType": "Purchase",
                        "itemId": shown,
                        "sentAt": now,
                        "recommendationId": answer["recommendationId"],
                    }
                )
                expected["MARGIN"][recommender] += margin_of(shown)
            if sent:
                events.put_events(trackingId=store["tracking"], userId=who, sessionId=f"s{n}", eventList=sent)
    # An explicit source wins; an event with neither is SOURCE_NAME_UNDEFINED; other types count for nothing.
    events.put_events(trackingId=store["tracking"], userId="g0-user1", sessionId="x", eventList=[
        {"eventType": "Click", "itemId": "g0-item1", "sentAt": now, "metricAttribution": {"eventAttributionSource": "newsletter"}},
        {"eventType": "Click", "itemId": "g0-item2", "sentAt": now},
        {"eventType": "View", "itemId": "g0-item2", "sentAt": now},
    ])  # fmt: skip
    deadline = time.time() + 10
    wanted = {for_you: 10.0, best: 3.0, "newsletter": 1.0, "SOURCE_NAME_UNDEFINED": 1.0}
    # The server adds its sums every second: wait for all of them, not for the first to arrive.
    while (clicks := series(server, attribution, "CLICKS")) != wanted:
        assert time.time() < deadline, clicks
        time.sleep(0.2)
    assert expected["CLICKS"][for_you] == 10 and expected["CLICKS"][best] == 3
    margin = series(server, attribution, "MARGIN")
    assert margin == pytest.approx(expected["MARGIN"]) and margin[for_you] > margin[best]
    scraped = httpx.get(f"{server.url}/metrics").text
    assert (
        f'openpersonalize_attribution_metric_value{{event_type="Click",metric="CLICKS",metric_attribution="{attribution}",source="{for_you}"}} 10.0'
        in scraped
    )
    # A bulk INCREMENTAL import with publishAttributionMetricsToS3 writes its report and adds to the series.
    csv_path = tmp_path / "later.csv"
    csv_path.write_text("USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP\n" + "".join(
        f"g1-user{u % 20},g1-item{u % 30},{'Click' if u % 4 else 'Purchase'},,web,{int(now) - u}\n" for u in range(1000)))  # fmt: skip
    job = personalize.create_dataset_import_job(jobName="later", datasetArn=store["interactions"], importMode="INCREMENTAL",
        dataSource={"dataLocation": csv_path.as_uri()}, publishAttributionMetricsToS3=True)["datasetImportJobArn"]  # fmt: skip
    assert (
        wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob"
        )["status"]
        == "ACTIVE"
    )
    (report,) = (tmp_path / "metrics").glob("AggregatedAttributionMetrics - INCREMENTAL - *.csv")
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert list(rows[0]) == [
        "METRIC_NAME",
        "EVENT_TYPE",
        "VALUE",
        "MATH_FUNCTION",
        "EVENT_ATTRIBUTION_SOURCE",
        "TIMESTAMP",
    ]
    assert sum(float(r["VALUE"]) for r in rows if r["METRIC_NAME"] == "CLICKS") == 750
    assert {r["MATH_FUNCTION"] for r in rows} == {"samplecount", "sum"}
    assert {r["EVENT_ATTRIBUTION_SOURCE"] for r in rows} == {"SOURCE_NAME_UNDEFINED"}
    assert series(server, attribution, "CLICKS")["SOURCE_NAME_UNDEFINED"] == 751.0


def test_metric_attribution_operations_and_refusals(personalize, store, tmp_path):
    output = {"roleArn": ROLE, "s3DataDestination": {"path": (tmp_path / "m").as_uri()}}

    def refused(**params):
        with pytest.raises(ClientError) as caught:
            personalize.create_metric_attribution(**{"name": "m", "datasetGroupArn": store["group"],
                                                     "metricsOutputConfig": output, **params})  # fmt: skip
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    bad = [{"eventType": "Purchase", "metricName": "X", "expression": "SUM(Items.NOPE)"}]
    assert refused(metrics=bad) == (
        "InvalidInputException",
        "metrics[0].expression 'SUM(Items.NOPE)': ITEMS has no column NOPE.",
    )
    bad = [{"eventType": "Purchase", "metricName": "X", "expression": "SUM(Items.CATEGORY_L1)"}]
    code, message = refused(metrics=bad)
    assert code == "InvalidInputException" and "is not numeric" in message
    bad = [{"eventType": "Purchase", "metricName": "X", "expression": "AVG(Items.PRICE)"}]
    code, message = refused(metrics=bad)
    assert code == "InvalidInputException" and "SAMPLECOUNT()" in message
    code, _ = refused(
        metrics=[{"eventType": "e", "metricName": f"M{i}", "expression": "SAMPLECOUNT()"} for i in range(11)]
    )
    assert code in ("InvalidInputException", "LimitExceededException")
    assert personalize.list_metric_attributions()["metricAttributions"] == []
    arn = personalize.create_metric_attribution(name="m", datasetGroupArn=store["group"], metrics=METRICS,
                                                metricsOutputConfig=output)["metricAttributionArn"]  # fmt: skip
    code, message = refused(name="second", metrics=METRICS)
    assert code == "ResourceAlreadyExistsException" and "at most one" in message
    personalize.update_metric_attribution(
        metricAttributionArn=arn, removeMetrics=["CLICKS"],
        addMetrics=[{"eventType": "Purchase", "metricName": "REVENUE", "expression": "SUM(ITEMS.PRICE)"}],
    )  # fmt: skip
    first = personalize.list_metric_attribution_metrics(metricAttributionArn=arn, maxResults=1)
    rest = personalize.list_metric_attribution_metrics(metricAttributionArn=arn, nextToken=first["nextToken"])
    assert [m["metricName"] for m in first["metrics"] + rest["metrics"]] == ["MARGIN", "REVENUE"]
    with pytest.raises(ClientError, match="no metric named CLICKS"):
        personalize.update_metric_attribution(metricAttributionArn=arn, removeMetrics=["CLICKS"])
    listed = personalize.list_metric_attributions(datasetGroupArn=store["group"])["metricAttributions"]
    assert [(m["name"], m["status"]) for m in listed] == [("m", "ACTIVE")]
    personalize.delete_metric_attribution(metricAttributionArn=arn)
    assert personalize.list_metric_attributions()["metricAttributions"] == []
    with pytest.raises(ClientError, match="metric attribution"):
        personalize.create_dataset_import_job(jobName="j", datasetArn=store["interactions"],
                                              dataSource={"dataLocation": (tmp_path / "x.csv").as_uri()},
                                              publishAttributionMetricsToS3=True)  # fmt: skip
    custom = personalize.create_dataset_group(name="bare")["datasetGroupArn"]
    with pytest.raises(ClientError, match="EVENT_TYPE"):
        personalize.create_metric_attribution(name="bare", datasetGroupArn=custom, metrics=METRICS,
                                              metricsOutputConfig=output)  # fmt: skip
