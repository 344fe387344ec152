"""Whether a parsed filter fits its dataset group (spec §9.2), checked once, at CreateFilter.

Messages start as AWS's do ("Could not create filter. ...") and name the symbol at fault.
"""

from __future__ import annotations

from collections.abc import Mapping

from openpersonalize.data.fields import ParsedSchema
from openpersonalize.errors import InvalidInput
from openpersonalize.filters.syntax import Condition, Expression, Filter, Param

# Target -> the datasets its conditions may read (CurrentUser and CurrentItem aside).
TARGET_DATASETS = {
    "ItemID": ("Items", "Interactions"),
    "UserID": ("Users", "Interactions"),
    "ActionID": ("Actions", "Action_Interactions"),
}
DATASET_TYPES = {
    "Items": "ITEMS",
    "Users": "USERS",
    "Interactions": "INTERACTIONS",
    "Actions": "ACTIONS",
    "Action_Interactions": "ACTION_INTERACTIONS",
}
INTERACTION_DATASETS = ("Interactions", "Action_Interactions")
NUMERIC = ("int", "long", "float", "double")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
MAX_FIELDS = 10


def check(parsed: Filter, schemas: Mapping[str, ParsedSchema]) -> frozenset[str]:
    """Raise InvalidInput if the filter cannot run on these datasets (dataset type -> schema);
    return the fields it reads (e.g. "Items.GENRES")."""
    fields: set[str] = set()
    for expression in parsed.expressions:
        fields |= _check_expression(expression, schemas)
    if len(fields) > MAX_FIELDS:
        raise _refuse(f"A filter may use at most {MAX_FIELDS} distinct fields; this one uses {len(fields)}.")
    return frozenset(fields)


def _check_expression(expression: Expression, schemas: Mapping[str, ParsedSchema]) -> set[str]:
    allowed = TARGET_DATASETS[expression.target]
    first = expression.conditions[0].field.dataset
    fields = set()
    for condition in expression.conditions:
        dataset = condition.field.dataset
        if dataset not in DATASET_TYPES:
            raise _refuse(f"Invalid input symbol: {dataset}. Datasets are {', '.join(DATASET_TYPES)}.")
        if dataset not in allowed:
            raise _refuse(
                f"Invalid input symbol: {dataset}.{condition.field.column}. A {expression.target} filter "
                f"reads {' or '.join(allowed)}."
            )
        if dataset != first:
            raise _refuse(
                f"Invalid input symbol: {dataset}.{condition.field.column}. One expression reads one dataset "
                f"({first} here); chain expressions with | to combine datasets."
            )
        _check_condition(condition, _schema(dataset, schemas), schemas)
        fields.add(f"{dataset}.{condition.field.column}")
    for condition in expression.user_conditions:
        if condition.operand is not None and hasattr(condition.operand, "column"):
            raise _refuse(
                f"Invalid input symbol: CurrentItem.{condition.operand.column}. An IF clause compares "
                "CurrentUser fields with values or placeholders."
            )
        _check_condition(condition, _schema("Users", schemas, "CurrentUser"), schemas)
        fields.add(f"Users.{condition.field.column}")
    return fields


def _check_condition(condition: Condition, schema: ParsedSchema, schemas: Mapping[str, ParsedSchema]) -> None:
    symbol = f"{condition.field.dataset}.{condition.field.column}"
    field = schema.field(condition.field.column)
    if field is None:
        raise _refuse(f"Invalid input symbol: {symbol}. The {schema.record_name} schema has no such field.")
    if condition.field.dataset in INTERACTION_DATASETS and field.name != "EVENT_TYPE":
        raise _refuse(f"Invalid input symbol: {symbol}. Interaction filters can only use EVENT_TYPE.")
    if field.type == "boolean":
        raise _refuse(
            f"Invalid Expression: {symbol} is a boolean field; filters cannot use boolean fields "
            '(store "True"/"False" strings or 0/1 numbers instead).'
        )
    if field.textual:
        raise _refuse(f"Invalid input symbol: {symbol}. Textual fields cannot be filtered on.")
    if condition.op in COMPARISONS:
        if field.type not in NUMERIC:
            raise _refuse(
                f"Invalid input symbol: {symbol}. Comparisons ({condition.op}) need a numeric field; "
                f"{field.name} is a {field.type}."
            )
    elif field.type not in ("string",):
        raise _refuse(
            f"Invalid input symbol: {symbol}. IN and NOT IN need a string field; {field.name} is a {field.type}."
        )
    if condition.op == "NOT IN":
        for value in condition.values:
            if isinstance(value, Param):
                raise _refuse(
                    f"Invalid input symbol: ${value.name}. Placeholders are not allowed with NOT_IN operator."
                )
    stars = [v for v in condition.values if v == "*"]
    if stars and field.name != "EVENT_TYPE":
        raise _refuse("Invalid input symbol: *. Only Interactions.EVENT_TYPE takes * (any event type).")
    current = condition.operand
    if current is not None and hasattr(current, "column"):
        if condition.field.dataset in INTERACTION_DATASETS:
            raise _refuse(
                f"Invalid input symbol: CurrentItem.{current.column}. {symbol} is compared with values "
                "or placeholders, not with CurrentItem."
            )
        items = _schema("Items", schemas, "CurrentItem")
        if items.field(current.column) is None:
            raise _refuse(
                f"Invalid input symbol: CurrentItem.{current.column}. The Items schema has no such field."
            )


def _schema(dataset: str, schemas: Mapping[str, ParsedSchema], shown: str | None = None) -> ParsedSchema:
    schema = schemas.get(DATASET_TYPES[dataset])
    if schema is None:
        raise _refuse(
            f"Invalid input symbol: {shown or dataset}. The dataset group has no {dataset} dataset."
        )
    return schema


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(f"Could not create filter. {message}")
