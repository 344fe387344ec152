"""Whatever a browser (or anything else) sends to the console, the answer is a page, never a 500:
random forms to every action, random ARNs and names to every page."""

from __future__ import annotations

import os
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

ACTIONS = ["/console/import", "/console/train", "/console/deploy", "/console/solutions", "/console/filters",
           "/console/event-trackers", "/console/recommender-state", "/console/batch-inference", "/console/delete", "/console/experiments",
           "/console/try", "/console/login"]  # fmt: skip
FIELDS = ["from", "arn", "name", "jobName", "datasetArn", "dataLocation", "importMode", "solutionArn", "trainingMode",
          "solutionVersionArn", "minProvisionedTPS", "datasetGroupArn", "recipeArn", "eventType", "filterExpression",
          "recommenderArn", "to", "target", "userId", "itemId", "inputList", "numResults", "filterArn", "filterValues",
          "promotionFilterArn", "percentPromotedItems", "variant1", "variant2", "variant1Share", "metricAttributionArn",
          "inputPath", "outputPath", "roleArn"]  # fmt: skip
ARNISH = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda kind, name: f"arn:aws:personalize:us-east-1:123456789012:{kind}/{name}",
        st.sampled_from(
            [
                "campaign",
                "solution",
                "dataset-group",
                "filter",
                "recommender",
                "dataset",
                "solution/up",
                "metric-attribution",
                "batch-inference-job",
                "nope",
            ]
        ),
        st.text(max_size=20),
    ),  # fmt: skip
)
VALUES = st.one_of(
    ARNISH,
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "FULL", "UPDATE", "stop", "{", "{}"]),
)
FORMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8)
# FUZZ_EXAMPLES=1000 for a longer hunt.
SLOW = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def client(shop):
    live, arns = shop
    with httpx.Client(base_url=live.url, timeout=30) as opened:
        yield opened, arns


@SLOW
@given(path=st.sampled_from(ACTIONS), form=FORMS)
def test_random_forms_get_a_page(client, path, form):
    opened, arns = client
    if path == "/console/delete" and form.get("arn", "").startswith("arn:"):
        form["arn"] = form["arn"].replace("123456789012", "999999999999")  # no deleting the shop itself
    answer = opened.post(path, data=form)
    assert answer.status_code < 500, (path, form, answer.text[:300])
    assert "Traceback" not in answer.text


@SLOW
@given(arn=ARNISH, name=st.text(max_size=30))
def test_random_pages_get_a_page(client, arn, name):
    opened, _ = client
    for path in (f"/console/resource?arn={quote(arn, safe='')}", f"/console/activity?arn={quote(arn, safe='')}",
                 f"/console/delete?arn={quote(arn, safe='')}", f"/console/experiments/{quote(name, safe='')}",
                 f"/console/try?target={quote(arn, safe='')}"):  # fmt: skip
        answer = opened.get(path)
        assert answer.status_code < 500, (path, answer.text[:300])
