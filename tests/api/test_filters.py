"""Filters through boto3 (spec §9): created and checked once, applied before the top-k cut, live."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.api.clustered import (
    GROUPS,
    ITEMS_PER_GROUP,
    USERS_PER_GROUP,
    group_of,
    item,
    user,
    write_clustered_csv,
)
from tests.api.helpers import import_csv, make_group
from tests.api.test_training import RANKING, SIMS, UP, deploy, train

pytestmark = pytest.mark.integration

ITEMS = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "CATEGORY", "type": "string", "categorical": True},
            {"name": "COLOR", "type": ["null", "string"]},
            {"name": "PRICE", "type": ["null", "float"]},
            {"name": "IN_STOCK", "type": ["null", "boolean"]},
        ],
        "version": "1.0",
    }
)
USERS = json.dumps(
    {
        "type": "record",
        "name": "Users",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [{"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": ["null", "int"]}],
        "version": "1.0",
    }
)


@pytest.fixture
def shop(personalize, tmp_path):
    """The clustered interactions, items with a category per group and a price, users with an age."""
    return build_shop(personalize, tmp_path)


def build_shop(personalize, tmp_path):
    """The `shop` group, trained and deployed with User-Personalization; returns its ARNs."""
    arns = make_group(personalize)
    assert (
        import_csv(personalize, arns["dataset"], write_clustered_csv(tmp_path / "c.csv"))["status"]
        == "ACTIVE"
    )
    for name, text, kind, lines in (
        (
            "items",
            ITEMS,
            "Items",
            ["ITEM_ID,CATEGORY,COLOR,PRICE,IN_STOCK"]
            + [
                f"{item(g, i)},group{g}|all,{'red' if i % 2 else 'blue'},{i}.5,true"
                for g in range(GROUPS)
                for i in range(ITEMS_PER_GROUP)
            ],
        ),
        (
            "users",
            USERS,
            "Users",
            ["USER_ID,AGE"]
            + [f"{user(g, u)},{20 + 10 * g}" for g in range(GROUPS) for u in range(USERS_PER_GROUP)],
        ),
    ):
        schema = personalize.create_schema(name=name, schema=text)["schemaArn"]
        arns[name] = personalize.create_dataset(
            name=name, schemaArn=schema, datasetGroupArn=arns["group"], datasetType=kind
        )["datasetArn"]
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n")
        assert import_csv(personalize, arns[name], path)["status"] == "ACTIVE"
    arns["tracking"] = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    _, version = train(personalize, arns["group"], UP, "up")
    # No exploration: these tests compare lists exactly, and item 27 of each group is cold.
    arns["campaign"] = deploy(personalize, version, "up", itemExplorationConfig={"explorationWeight": "0"})
    return arns


def make_filter(personalize, shop, expression, name="f"):
    return personalize.create_filter(name=name, datasetGroupArn=shop["group"], filterExpression=expression)[
        "filterArn"
    ]


def recommend(runtime, shop, user_id, filter_arn=None, values=None, n=25):
    kwargs = {"filterArn": filter_arn} if filter_arn else {}
    if values:
        kwargs["filterValues"] = values
    return [
        r["itemId"]
        for r in runtime.get_recommendations(
            campaignArn=shop["campaign"], userId=user_id, numResults=n, **kwargs
        )["itemList"]
    ]


def test_filter_resource_lifecycle(personalize, shop):
    expression = "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)"
    arn = make_filter(personalize, shop, expression)
    described = personalize.describe_filter(filterArn=arn)["filter"]
    assert (described["status"], described["filterExpression"], described["datasetGroupArn"]) == (
        "ACTIVE",
        expression,
        shop["group"],
    )
    listed = personalize.list_filters(datasetGroupArn=shop["group"])["Filters"]
    assert [f["filterArn"] for f in listed] == [arn]
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        make_filter(personalize, shop, expression)
    personalize.delete_filter(filterArn=arn)
    assert personalize.list_filters(datasetGroupArn=shop["group"])["Filters"] == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("INCLUDE ItemID WHERE Items.CATEGORY", "at character 36: found the end of the expression; expected"),
        (
            'KEEP ItemID WHERE Items.CATEGORY IN ("a")',
            "at character 1: found 'KEEP'; expected INCLUDE or EXCLUDE",
        ),
        (
            'INCLUDE ItemID WHERE Items.SIZE IN ("m")',
            "Invalid input symbol: Items.SIZE. The Items schema has no such field.",
        ),
        (
            "EXCLUDE ItemID WHERE Items.COLOR NOT IN ($COLOR)",
            "Invalid input symbol: $COLOR. Placeholders are not allowed with NOT_IN operator.",
        ),
        ('INCLUDE ItemID WHERE Items.IN_STOCK IN ("true")', "Items.IN_STOCK is a boolean field"),
        ("INCLUDE ItemID WHERE Items.CATEGORY < 3", "Comparisons (<) need a numeric field"),
        (
            'INCLUDE ItemID WHERE Items.CATEGORY IN ("a") AND Interactions.EVENT_TYPE IN ("click")',
            "One expression reads one dataset (Items here); chain expressions with |",
        ),
        (
            'INCLUDE ItemID WHERE Interactions.DEVICE IN ("web")',
            "Interaction filters can only use EVENT_TYPE",
        ),
        (
            "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN CurrentItem.CATEGORY",
            "Interactions.EVENT_TYPE is compared with values or placeholders, not with CurrentItem",
        ),
        (
            "INCLUDE ItemID WHERE Items.PRICE < 5 IF CurrentUser.AGE > CurrentItem.PRICE",
            "An IF clause compares CurrentUser fields with values or placeholders",
        ),
        ('INCLUDE ItemID WHERE Items.CATEGORY IN ("*")', "Only Interactions.EVENT_TYPE takes *"),
    ],
)
def test_a_bad_expression_is_refused_with_where_and_why(personalize, shop, expression, message):
    with pytest.raises(ClientError) as error:
        make_filter(personalize, shop, expression, name="bad")
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    text = error.value.response["Error"]["Message"]
    assert text.startswith("Could not create filter. ") and message in text, text
    assert personalize.list_filters(datasetGroupArn=shop["group"])["Filters"] == []


def test_item_metadata_filters_apply_before_the_top_k_cut(personalize, runtime, shop):
    in_category = make_filter(personalize, shop, "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    got = recommend(runtime, shop, user(2, 0), in_category, {"CATEGORY": '"group1"'})
    assert len(got) == 25 and {group_of(i) for i in got} == {1}  # a group-2 user still gets 25 items
    several = recommend(runtime, shop, user(2, 0), in_category, {"CATEGORY": '"group0","group3"'}, n=60)
    assert len(several) == 60 and {group_of(i) for i in several} == {0, 3}
    cheap = make_filter(personalize, shop, "INCLUDE ItemID WHERE Items.PRICE <= $PRICE", name="cheap")
    got = recommend(runtime, shop, user(2, 0), cheap, {"PRICE": "2"})
    assert len(got) == 8 and all(int(i.rsplit("item", 1)[1]) < 2 for i in got)  # 2 per group qualify
    both = make_filter(
        personalize,
        shop,
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("group2") AND Items.COLOR IN ("red")',
        name="b",
    )
    got = recommend(runtime, shop, user(0, 0), both)
    assert len(got) == 15 and all(group_of(i) == 2 and int(i.rsplit("item", 1)[1]) % 2 for i in got)


def test_interaction_filters_see_live_events_at_once(personalize, runtime, events, shop):
    bought = make_filter(personalize, shop, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("PURCHASE")')
    shopper = user(1, 4)
    before = recommend(runtime, shop, shopper, bought)
    events.put_events(
        trackingId=shop["tracking"],
        userId=shopper,
        sessionId="s",
        eventList=[{"eventType": "purchase", "itemId": before[0], "sentAt": time.time()}],
    )
    after = recommend(runtime, shop, shopper, bought)
    assert before[0] not in after and len(after) == 25


def test_item_filters_see_put_items_at_once(personalize, runtime, events, shop):
    red = make_filter(personalize, shop, 'INCLUDE ItemID WHERE Items.COLOR IN ("red")')
    assert item(3, 0) not in recommend(runtime, shop, user(3, 0), red, n=200)  # blue: even numbers
    events.put_items(
        datasetArn=shop["items"],
        items=[{"itemId": item(3, 0), "properties": json.dumps({"category": "group3", "color": "red"})}],
    )
    assert item(3, 0) in recommend(runtime, shop, user(3, 0), red, n=200)


def test_an_if_clause_applies_to_the_users_it_names(personalize, runtime, shop):
    adults_only = make_filter(
        personalize, shop, 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("group0") IF CurrentUser.AGE >= 30'
    )
    assert any(group_of(i) == 0 for i in recommend(runtime, shop, user(0, 1), adults_only))  # age 20
    assert not any(group_of(i) == 0 for i in recommend(runtime, shop, user(1, 1), adults_only, n=100))  # 30


def test_placeholders_without_values(personalize, runtime, shop):
    exclude = make_filter(personalize, shop, "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    assert recommend(runtime, shop, user(0, 0), exclude) == recommend(runtime, shop, user(0, 0))  # skipped
    include = make_filter(personalize, shop, "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)", name="inc")
    with pytest.raises(runtime.exceptions.InvalidInputException) as error:
        recommend(runtime, shop, user(0, 0), include)
    assert "$CATEGORY" in error.value.response["Error"]["Message"]


def test_chained_expressions(personalize, runtime, shop):
    either = make_filter(
        personalize,
        shop,
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("group1") | INCLUDE ItemID WHERE Items.CATEGORY IN ("group2")',
    )
    assert {group_of(i) for i in recommend(runtime, shop, user(0, 0), either, n=60)} == {1, 2}
    but_not_red = make_filter(
        personalize,
        shop,
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("group1") | EXCLUDE ItemID WHERE Items.COLOR IN ("red")',
        name="mixed",
    )
    got = recommend(runtime, shop, user(0, 0), but_not_red, n=60)
    assert len(got) == 15 and all(group_of(i) == 1 and not int(i.rsplit("item", 1)[1]) % 2 for i in got)


def test_filter_errors_at_request_time(personalize, runtime, shop):
    other = make_group(personalize, "other")
    foreign = personalize.create_filter(
        name="foreign",
        datasetGroupArn=other["group"],
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
    )["filterArn"]
    with pytest.raises(runtime.exceptions.InvalidInputException) as error:
        recommend(runtime, shop, user(0, 0), foreign)
    assert "belongs to dataset group" in error.value.response["Error"]["Message"]
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        recommend(runtime, shop, user(0, 0), foreign + "-gone")


def test_filters_in_personalized_ranking_and_related_items(personalize, runtime, shop):
    _, version = train(personalize, shop["group"], RANKING, "ranking")
    ranking = deploy(personalize, version, "ranking")
    no_red = make_filter(personalize, shop, 'EXCLUDE ItemID WHERE Items.COLOR IN ("red")')
    ranked = runtime.get_personalized_ranking(
        campaignArn=ranking,
        userId=user(0, 0),
        inputList=[item(0, 0), item(0, 1), item(0, 2)],
        filterArn=no_red,
    )["personalizedRanking"]
    assert sorted(r["itemId"] for r in ranked) == [item(0, 0), item(0, 2)]
    _, version = train(personalize, shop["group"], SIMS, "sims")
    sims = deploy(personalize, version, "sims")
    same_price_or_less = make_filter(
        personalize, shop, "INCLUDE ItemID WHERE Items.PRICE <= CurrentItem.PRICE", name="cheaper"
    )
    related = runtime.get_recommendations(
        campaignArn=sims, itemId=item(1, 10), numResults=25, filterArn=same_price_or_less
    )["itemList"]
    assert related and all(int(r["itemId"].rsplit("item", 1)[1]) <= 10 for r in related)
