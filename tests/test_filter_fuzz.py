"""Hypothesis fuzzing of the filter language, library side (filters/syntax.py, check.py, evaluate.py).

Expressions are arbitrary text, grammar-shaped random expressions (random keyword case and
whitespace, odd quoted strings, numbers, placeholders, IF clauses, chains) and truncations and
one-character mutations of those. Whatever comes in:

- parse() returns a Filter or raises FilterSyntaxError (CreateFilter turns it into InvalidInput)
  whose message names the character where the problem is and stays short;
- check() against dataset schemas returns the fields read or raises InvalidInput;
- allowed() with arbitrary filterValues returns a boolean mask over the catalogue or raises
  InvalidInput.

Never any other exception.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import InvalidInput
from openpersonalize.filters.check import check
from openpersonalize.filters.evaluate import allowed, parse_values
from openpersonalize.filters.syntax import Filter, FilterSyntaxError, parse
from tests.api.helpers import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, USERS_SCHEMA

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is a bug, never a fluke
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
MAX_MESSAGE = 400  # characters: an error names a place and a few expectations, never echoes a novel
POSITION = re.compile(r"^Invalid filter expression at character (\d+): found (.+?)(; expected .+)?\.$", re.S)

SCHEMAS = {
    "ITEMS": parse_schema(ITEMS_SCHEMA),  # ITEM_ID, GENRES (categorical), PRICE (float), CREATION_TIMESTAMP
    "USERS": parse_schema(USERS_SCHEMA),  # USER_ID, AGE (int), MEMBERSHIP (categorical)
    "INTERACTIONS": parse_schema(INTERACTIONS_SCHEMA),  # ..., EVENT_TYPE, EVENT_VALUE, DEVICE
}
ONLY_INTERACTIONS = {"INTERACTIONS": SCHEMAS["INTERACTIONS"]}


# --- strategies: pieces of the language -----------------------------------------------------------

NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"


@functools.cache
def keyword(word: str) -> st.SearchStrategy[str]:
    """The word in some case or other: keywords are case-insensitive (one draw, for speed)."""
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(word))
    return st.sampled_from([word, word, word.lower(), word.upper(), word.swapcase(), mixed, mixed.swapcase()])


spaces = st.sampled_from([" ", " ", " ", " ", "  ", "\t", "\n", " \r\n ", "\u00a0", "\u2003"])
tight = st.sampled_from(["", "", " ", "\n"])  # around punctuation, where whitespace is optional
names = st.builds(
    operator.add, st.sampled_from(NAME_CHARS[:52] + "_"), st.text(alphabet=NAME_CHARS, max_size=9)
)
odd_text = st.text(
    alphabet=st.characters(exclude_characters='"', exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(["", ",", "a, b", "\\", "\\\\", "|", "a|b", "'", "*", " ", "é", "🎬", "$X", "\x00", "\n"])
quoted = odd_text.map(lambda text: f'"{text}"') | st.sampled_from(['"a"', '"comedy"', '"click"', '"gold"'])
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "18", "-1.5", "1e999", "-0", ".5", "5.", "+.5e-3", "1E3", "007"]),
)
bad_numbers = st.sampled_from(["0x10", "1_000", "NaN", "inf", "1e", "--1", "1.2.3", "٣"])
common_params = st.sampled_from(["GENRE", "PRICE", "AGE", "EVENT_TYPE", "P", "x" * 50])
param_names = st.one_of(common_params, common_params, st.text(alphabet=NAME_CHARS, min_size=1, max_size=10))
params = param_names.map(lambda name: "$" + name)
bad_params = st.sampled_from(["$" + "x" * 51, "$", "$é", "$A-B", "$$P", "P"])
comparisons = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
bad_comparisons = st.sampled_from(["==", "=<", "<>", "=>", "!"])

TARGETS = {"ItemID": ["Items", "Interactions"], "UserID": ["Users", "Interactions"], "ActionID": ["Actions"]}


@functools.cache
def value_lists(placeholders: bool = True, star: bool = True) -> st.SearchStrategy[str]:
    value = quoted | (params if placeholders else quoted) | (st.just("*") if star else quoted)
    return st.builds(
        lambda a, values, comma, b: f"({a}{comma.join(values)}{b})",
        tight,
        st.lists(value, min_size=1, max_size=4),
        st.builds(lambda a, b: f"{a},{b}", tight, tight),
        tight,
    )


operands = st.one_of(numbers, numbers, params, params.map(lambda p: f"({p})"))
# Each takes the field (and the column CurrentItem names) as text; no strategy is built per draw.
in_values = st.builds(
    lambda s, k, s2, v: lambda field, column: f"{field}{s}{k}{s2}{v}",
    spaces,
    keyword("IN"),
    spaces,
    value_lists(),
)
in_literals = st.builds(
    lambda s, k, s2, v: lambda field, column: f"{field}{s}{k}{s2}{v}",
    spaces,
    keyword("IN"),
    spaces,
    value_lists(star=False),
)
not_in_values = st.builds(
    lambda s, k1, s2, k2, s3, v: lambda field, column: f"{field}{s}{k1}{s2}{k2}{s3}{v}",
    spaces,
    keyword("NOT"),
    spaces,
    keyword("IN"),
    spaces,
    value_lists(placeholders=False),
)
in_current_item = st.builds(
    lambda s, k, s2, c: lambda field, column: f"{field}{s}{k}{s2}{c}.{column}",
    spaces,
    keyword("IN"),
    spaces,
    keyword("CurrentItem"),
)
compared = st.builds(
    lambda a, c, b, o, k, current: (
        lambda field, column: f"{field}{a}{c}{b}{f'{k}.{column}' if current else o}"
    ),
    tight,
    comparisons,
    tight,
    operands,
    keyword("CurrentItem"),
    st.integers(0, 4).map(lambda n: n == 0),
)
mangled = st.builds(
    lambda c, o: lambda field, column: f"{field} {c} {o}",
    bad_comparisons | comparisons,
    bad_numbers | bad_params | operands,
)
# Per dataset of SCHEMAS: (column, how it may be used) pairs CreateFilter accepts.
SENSIBLE = {
    "Items": [("GENRES", in_literals), ("GENRES", not_in_values), ("GENRES", in_current_item),
              ("PRICE", compared), ("CREATION_TIMESTAMP", compared)],
    "Users": [("MEMBERSHIP", in_literals), ("MEMBERSHIP", not_in_values), ("AGE", compared)],
    "Interactions": [("EVENT_TYPE", in_values), ("EVENT_TYPE", not_in_values)],
}  # fmt: skip
sensible_conditions = {
    dataset: st.sampled_from(forms).flatmap(
        lambda form, dataset=dataset: form[1].map(lambda build: build(f"{dataset}.{form[0]}", form[0]))
    )
    for dataset, forms in SENSIBLE.items()
}
loose_datasets = st.sampled_from(["Items", "Users", "Interactions", "Actions", "Action_Interactions"]) | names
loose_columns = (
    st.sampled_from(["GENRES", "PRICE", "EVENT_TYPE", "EVENT_VALUE", "DEVICE", "AGE", "ITEM_ID"]) | names
)
loose_conditions = st.builds(
    lambda dataset, dot, column, build: build(f"{dataset}{dot}{column}", column),
    loose_datasets,
    st.sampled_from([".", ".", ".", " . ", "..", ""]),
    loose_columns,
    st.one_of(in_values, not_in_values, in_current_item, compared, mangled),
)


@st.composite
def if_clauses(draw: st.DrawFn, sensible: bool) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        user = draw(keyword("CurrentUser"))
        if draw(st.booleans()):
            column = "MEMBERSHIP" if sensible else draw(names)
            parts.append(draw(in_literals)(f"{user}.{column}", "GENRES"))
        else:
            column = "AGE" if sensible else draw(names)
            parts.append(draw(compared)(f"{user}.{column}", "PRICE"))
    text = parts[0]
    for part in parts[1:]:
        join = draw(keyword("AND")) if sensible or draw(st.integers(0, 3)) else draw(keyword("OR"))
        text += f"{draw(spaces)}{join}{draw(spaces)}{part}"
    return f"{draw(keyword('IF'))}{draw(spaces)}{text}"


@st.composite
def expressions(draw: st.DrawFn) -> str:
    """Mostly expressions CreateFilter accepts for SCHEMAS; sometimes any conditions at all."""
    target = draw(st.sampled_from(["ItemID", "ItemID", "ItemID", "UserID", "ActionID"]))
    dataset = draw(st.sampled_from(TARGETS[target]))
    sensible = draw(st.integers(0, 4)) > 0
    action = draw(keyword(draw(st.sampled_from(["INCLUDE", "EXCLUDE"]))))
    text = (
        f"{action}{draw(spaces)}{draw(keyword(target))}{draw(spaces)}{draw(keyword('WHERE'))}{draw(spaces)}"
    )
    condition = sensible_conditions.get(dataset, loose_conditions) if sensible else loose_conditions
    text += draw(condition)
    for _ in range(draw(st.integers(0, 3))):
        join = draw(keyword(draw(st.sampled_from(["AND", "OR"]))))
        text += f"{draw(spaces)}{join}{draw(spaces)}{draw(condition)}"
    if target == "ItemID" and draw(st.integers(0, 3)) == 0:
        text += draw(spaces) + draw(if_clauses(sensible))
    return text


@st.composite
def filters(draw: st.DrawFn) -> str:
    chain = draw(st.lists(expressions(), min_size=1, max_size=3))
    bar = draw(tight) + "|" + draw(tight)
    return draw(tight) + bar.join(chain) + draw(tight)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A generated expression truncated, or with one character deleted, inserted or replaced."""
    text = draw(filters())
    at = draw(st.integers(0, len(text)))
    char = draw(st.sampled_from(list("()\",.|$*<>=! \n\\'") + ["é", "\x00"]) | st.characters())
    how = draw(st.sampled_from(["truncate", "delete", "insert", "replace", "repeat"]))
    if how == "truncate":
        return text[:at]
    if how == "delete":
        return text[:at] + text[at + 1 :]
    if how == "insert":
        return text[:at] + char + text[at:]
    if how == "replace":
        return text[:at] + char + text[at + 1 :]
    return text[:at] + text[at // 2 : at] + text[at:]


words = st.sampled_from(
    ["INCLUDE", "EXCLUDE", "ItemID", "UserID", "WHERE", "Items.GENRES", "Interactions.EVENT_TYPE", "IN", "NOT IN",
     "(", ")", ",", '"a"', '""', "$P", "*", "AND", "OR", "IF", "CurrentUser.AGE", "CurrentItem.PRICE", "<", "<=",
     "=", "|", "3", "-1.5e3", "\n"]
)  # fmt: skip
any_text = st.one_of(
    st.text(max_size=120),
    st.lists(words, max_size=20).map(" ".join),
    st.lists(words, max_size=20).map("".join),
    st.just('INCLUDE ItemID WHERE Items.GENRES IN ("a" "' + "b" * 3000 + '")'),  # a long token found
)
any_expression = st.one_of(filters(), filters(), mutated(), mutated(), any_text)

# filterValues: arbitrary maps, and maps over the placeholders generated expressions use.
raw_values = st.one_of(
    st.text(max_size=30),
    odd_text,
    numbers,
    numbers.map(lambda n: f'"{n}"'),
    bad_numbers,
    st.lists(odd_text | numbers, max_size=3).map(lambda vs: ",".join(f'"{v}"' for v in vs)),
    st.sampled_from(['"', '""', '"a', 'a"', '"a""b"', '"a" ,  "b"', '"a"x', "\\", '\\"', '"\x00"', "*", ""]),
    st.just("x" * 200_000),  # longer than the csv module's field limit
    st.just('"' + "x" * 200_000 + '"'),
)
filter_values = st.dictionaries(
    st.sampled_from(["GENRE", "PRICE", "AGE", "EVENT_TYPE", "P"]), raw_values, max_size=5
) | st.dictionaries(param_names | st.text(max_size=8), raw_values, max_size=6)


# --- the properties -------------------------------------------------------------------------------


def parsed_or_refused(text: str) -> Filter | None:
    """parse(text); None when refused, after checking the refusal says where and stays short."""
    try:
        result = parse(text)
    except FilterSyntaxError as error:
        message = str(error)
        assert len(message) <= MAX_MESSAGE, (text, len(message), message[:500])
        match = POSITION.match(message)
        assert match, (text, message)
        position, found = int(match.group(1)), match.group(2)
        assert 1 <= position <= len(text) + 1, (text, message)
        if found.startswith(("'", '"')):
            # The position is where the token found starts, counted in characters from 1 (a long
            # token is cut short, with an ellipsis).
            token = ast.literal_eval(found)
            assert text[position - 1 :].startswith(token.removesuffix("…")), (text, message)
        return None
    assert isinstance(result, Filter) and result.expressions
    return result


@FUZZ
@given(any_expression)
def test_parse_returns_a_filter_or_says_where(text):
    event("refused" if parsed_or_refused(text) is None else "parsed")


@settings(FUZZ, max_examples=150)
@given(filters())
def test_generated_expressions_survive_the_check(text):
    parsed = parsed_or_refused(text)
    if parsed is None:
        return
    for schemas in (SCHEMAS, ONLY_INTERACTIONS, {}):
        try:
            used = check(parsed, schemas)
        except InvalidInput as error:
            assert str(error).startswith("Could not create filter. "), str(error)
            assert len(str(error)) <= MAX_MESSAGE, str(error)
            event("check refused")
        else:
            assert used and all(f.split(".", 1)[0] in ("Items", "Users", "Interactions") for f in used)
            event("check passed")


# --- evaluation over a small catalogue ----------------------------------------------------------------

ITEMS: dict[str, dict[str, object] | None] = {  # the model's items, by index; the last has no row
    "i0": {"GENRES": "a|b", "PRICE": 1.5, "CREATION_TIMESTAMP": 1},
    "i1": {"GENRES": "comedy", "PRICE": None, "CREATION_TIMESTAMP": 2},
    "i2": {"GENRES": None, "PRICE": -3.0, "CREATION_TIMESTAMP": None},
    "i3": {"GENRES": 'x"y', "PRICE": 1e30, "CREATION_TIMESTAMP": 4},
    "i4": {"GENRES": ",", "PRICE": 0.0, "CREATION_TIMESTAMP": 5},
    "i5": {"GENRES": "", "PRICE": 7.0, "CREATION_TIMESTAMP": 2**62},
    "i-unknown": None,
}
USERS: dict[str, dict[str, object]] = {
    "u1": {"USER_ID": "u1", "AGE": 30, "MEMBERSHIP": "gold|silver"},
    "u2": {"USER_ID": "u2", "AGE": None, "MEMBERSHIP": None},
}


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # as the serving side's cached masks are: evaluation must copy
    return array


class FakeCatalogue:
    """filters.evaluate.Catalogue over ITEMS (GENRES is categorical: "a|b" is a and b)."""

    n_items = len(ITEMS)

    def matching(self, column: str, values: frozenset[str]) -> np.ndarray:
        def matches(row: Mapping[str, object] | None) -> bool:
            value = None if row is None else row.get(column)
            parts = [] if value is None else str(value).split("|") if column == "GENRES" else [str(value)]
            return any(part in values for part in parts)

        return read_only(np.array([matches(row) for row in ITEMS.values()], dtype=bool))

    def numbers(self, column: str) -> np.ndarray:
        def number(row: Mapping[str, object] | None) -> float:
            value = None if row is None else row.get(column)
            return float(value) if isinstance(value, int | float) else np.nan

        return read_only(np.array([number(row) for row in ITEMS.values()], dtype=np.float64))

    def item_row(self, item_id: str) -> Mapping[str, object] | None:
        return ITEMS.get(item_id)


class FakePeople:
    """filters.evaluate.People: u1 clicked i0 and bought i3 and i0; u2 has no interactions."""

    def interacted(self, user_id: str, event_types: frozenset[str] | None) -> np.ndarray:
        history = {"u1": [(0, "click"), (3, "purchase"), (0, "purchase")]}.get(user_id, [])
        found = [i for i, kind in history if event_types is None or kind in event_types]
        return read_only(np.asarray(found, np.int64))

    def user_row(self, user_id: str) -> Mapping[str, object] | None:
        return USERS.get(user_id)


@st.composite
def checked_filters(draw: st.DrawFn) -> Filter:
    """Generated expressions that CreateFilter would accept for SCHEMAS (and so may be served)."""
    text = draw(filters())
    try:
        parsed = parse(text)
        check(parsed, SCHEMAS)
    except (FilterSyntaxError, InvalidInput):
        event("not servable")
        parsed = parse(
            draw(
                st.sampled_from(
                    [
                        "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) AND Items.PRICE <= $PRICE",
                        "EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE) IF CurrentUser.AGE > $AGE",
                        'INCLUDE ItemID WHERE Items.GENRES IN ("a", $GENRE) OR Items.CREATION_TIMESTAMP = $P',
                        "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE, *)",
                        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("click")',
                        "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRES IN CurrentItem.GENRES",
                        "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) IF CurrentUser.MEMBERSHIP IN ($P) "
                        "AND CurrentUser.AGE >= ($AGE) | EXCLUDE ItemID WHERE Items.PRICE > $PRICE",
                    ]
                )
            )
        )
    else:
        event("servable")
    return parsed


@FUZZ
@given(
    parsed=checked_filters(),
    values=filter_values,
    user_id=st.sampled_from([None, "", "u1", "u2", "ghost"]),
    item_id=st.sampled_from([None, "", "i0", "i2", "i5", "i-unknown", "ghost"]),
)
def test_evaluation_gives_a_mask_or_invalid_input(parsed, values, user_id, item_id):
    try:
        mask = allowed(parsed, values, FakeCatalogue(), FakePeople(), user_id, item_id)
    except InvalidInput as error:
        assert len(str(error)) <= MAX_MESSAGE, str(error)[:500]
        event("refused")
        return
    assert isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (len(ITEMS),)
    event("mask")


@FUZZ
@given(raw_values | st.text())
def test_filter_values_parse_to_strings_or_invalid_input(raw):
    try:
        values = parse_values(raw)
    except InvalidInput as error:
        assert len(str(error)) <= MAX_MESSAGE, str(error)[:500]
        return
    assert values and all(isinstance(v, str) for v in values)


# --- regressions found by the fuzzing above ---------------------------------------------------


def test_a_refusal_counts_characters_across_line_breaks():
    # Was lark's column on the second line ("at character 22").
    text = 'INCLUDE ItemID WHERE\nItems.GENRES IN ("a" "b")'
    with pytest.raises(FilterSyntaxError) as error:
        parse(text)
    assert "at character 43: found '\"b\"'" in str(error.value) and text[42:45] == '"b"'


def test_a_refusal_cuts_a_long_token_short():
    # Was the whole quoted value, as long as the expression (CreateFilter takes 2,500 characters).
    text = 'INCLUDE ItemID WHERE Items.GENRES IN ("a" "' + "b" * 2400 + '")'
    with pytest.raises(FilterSyntaxError) as error:
        parse(text)
    message = str(error.value)
    assert len(message) < 200 and "at character 43: found '\"" + "b" * 39 + "…'; expected ) or ," in message


def test_an_or_in_an_if_clause_is_refused_at_its_place():
    # Was "Invalid filter expression: the conditions ..." with no position.
    text = 'INCLUDE ItemID WHERE Items.X IN ("a") IF CurrentUser.A IN ("b")\n or CurrentUser.B < 1'
    with pytest.raises(FilterSyntaxError) as error:
        parse(text)
    assert str(error.value) == (
        f"Invalid filter expression at character {text.index('or') + 1}: found 'or'; expected AND "
        "(the conditions of an IF clause are joined with AND)."
    )


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("INCLUDE ItemID WHERE Items.PRICE <= $P", "x" * 1000),
        ("INCLUDE ItemID WHERE Items.GENRES IN ($P)", '"' + "x" * 200_000 + '"'),
    ],
    ids=["not-a-number", "beyond-the-csv-field-limit"],
)
def test_a_bad_filter_value_is_quoted_short(expression, value):
    # Was the whole value in the message (filterValues entries run to 1,000 characters).
    with pytest.raises(InvalidInput) as error:
        allowed(parse(expression), {"P": value}, FakeCatalogue(), FakePeople(), "u1", None)
    assert len(str(error.value)) < 200 and "characters)" in str(error.value)
