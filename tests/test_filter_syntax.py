"""The filter language (filters/syntax.py): every documented example parses; anything else gives a
FilterSyntaxError naming the position, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpersonalize.filters.evaluate import parse_values
from openpersonalize.filters.syntax import CurrentItem, FilterSyntaxError, Param, parse

# Spec §9.1, from the guide.
DOCUMENTED = """\
EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)
EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")
INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")
EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)
EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe") AND Items.DESCRIPTION NOT IN ("boot")
EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")
INCLUDE ItemID WHERE Items.PRICE <= $PRICE
INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE
INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)
INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE
EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE
INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") IF CurrentUser.AGE > 18
INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)
EXCLUDE UserID WHERE Users.AGE < $AGE
INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click, rating")
EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)
INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)
EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")
EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)
INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)
EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM
INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("favorite")
INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")
""".splitlines()


@pytest.mark.parametrize("expression", DOCUMENTED)
def test_every_documented_example_parses(expression):
    assert parse(expression).expressions


def test_the_tree_of_an_expression():
    parsed = parse(
        'include itemid where Items.PRICE < CurrentItem.PRICE and Items.GENRE in ("a", $G) or Items.X >= -1.5 '
        "if CurrentUser.AGE > 18"
    )
    [expression] = parsed.expressions
    assert (expression.action, expression.target, expression.joins) == ("INCLUDE", "ItemID", ("AND", "OR"))
    first, second, third = expression.conditions
    assert (first.op, first.operand) == ("<", CurrentItem("PRICE"))
    assert (second.op, second.values) == ("IN", ("a", Param("G")))
    assert (third.op, third.operand) == (">=", -1.5)
    assert expression.user_conditions[0].field.column == "AGE" and expression.params() == {"G"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "at character 1: found the end of the expression; expected INCLUDE or EXCLUDE."),
        ('INCLUDE ItemID Items.X IN ("a")', "at character 16: found 'Items'; expected WHERE."),
        ('INCLUDE ItemID WHERE Items.X IN ("a" "b")', "at character 38: found '\"b\"'; expected ) or ,."),
        (
            'INCLUDE ItemID WHERE Items.X IN ("a") |',
            "found the end of the expression; expected INCLUDE or EXCLUDE.",
        ),
        (
            'INCLUDE ItemID WHERE Items.X IN ("a") IF CurrentUser.A IN ("b") OR CurrentUser.B < 1',
            "joined with AND",
        ),
    ],
)
def test_errors_say_where_and_what_was_expected(expression, message):
    with pytest.raises(FilterSyntaxError) as error:
        parse(expression)
    assert message in str(error.value)


words = st.sampled_from(
    ["INCLUDE", "EXCLUDE", "ItemID", "UserID", "WHERE", "Items.GENRE", "Interactions.EVENT_TYPE", "IN", "NOT IN",
     "(", ")", ",", '"a"', "$P", "*", "AND", "OR", "IF", "CurrentUser.AGE", "CurrentItem.X", "<", "<=", "=", "|",
     "3", "-1.5e3"]
)  # fmt: skip


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.lists(words, max_size=16).map(" ".join) | st.text(max_size=80))
def test_any_text_parses_or_says_why(text):
    try:
        assert parse(text).expressions
    except FilterSyntaxError as error:
        assert str(error).startswith("Invalid filter expression")


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ('"horror","comedy"', ["horror", "comedy"]),
        ('"horror", "comedy"', ["horror", "comedy"]),
        ('"a, b"', ["a, b"]),
        ("10", ["10"]),
        ('"10"', ["10"]),
        ("drama", ["drama"]),
    ],
)
def test_filter_values_format(raw, values):
    assert parse_values(raw) == values
