"""The filter expression language (spec §9): grammar, parse, and the syntax tree it gives.

    INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) AND Items.PRICE <= 50 IF CurrentUser.AGE > 18
    | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")

Keywords are case-insensitive, dataset and field names are not. A LALR grammar (lark), built
once; a bad expression raises FilterSyntaxError naming the position and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lark import (
    Lark,
    Token,
    Transformer,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from lark.exceptions import VisitError

_GRAMMAR = r"""
start: expression ("|" expression)*
expression: ACTION TARGET _WHERE condition (JOIN condition)* user_clause?
condition: field IN values            -> in_values
         | field NOT_IN values        -> not_in_values
         | field IN current_item      -> in_current_item
         | field CMP operand          -> compare
user_clause: _IF user_condition (JOIN user_condition)*
user_condition: current_user IN values   -> user_in_values
              | current_user CMP operand -> user_compare
field: NAME "." NAME
current_user: _CURRENT_USER "." NAME
current_item: _CURRENT_ITEM "." NAME
values: "(" value ("," value)* ")"
?value: STRING | PARAM | STAR
?operand: NUMBER | PARAM | "(" PARAM ")" | current_item

ACTION.2: /(?i:INCLUDE|EXCLUDE)\b/
TARGET.2: /(?i:ItemID|ActionID|UserID)\b/
_WHERE.2: /(?i:WHERE)\b/
JOIN.2: /(?i:AND|OR)\b/
_IF.2: /(?i:IF)\b/
NOT_IN.3: /(?i:NOT)\s+(?i:IN)\b/
IN.2: /(?i:IN)\b/
_CURRENT_USER.2: /(?i:CurrentUser)\b/
_CURRENT_ITEM.2: /(?i:CurrentItem)\b/
CMP: "<=" | ">=" | "!=" | "=" | "<" | ">"
PARAM: /\$[A-Za-z0-9_]{1,50}/
STRING: /"[^"]*"/
STAR: "*"
NUMBER: /[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /\s+/
"""

# What the parser may expect, in words.
_EXPECTED = {
    "ACTION": "INCLUDE or EXCLUDE",
    "TARGET": "ItemID, ActionID or UserID",
    "_WHERE": "WHERE",
    "JOIN": "AND or OR",
    "_IF": "IF",
    "NOT_IN": "NOT IN",
    "IN": "IN",
    "_CURRENT_USER": "CurrentUser",
    "_CURRENT_ITEM": "CurrentItem",
    "CMP": "a comparison (=, !=, <, <=, >, >=)",
    "PARAM": "a $PLACEHOLDER",
    "STRING": 'a "quoted value"',
    "STAR": "*",
    "NUMBER": "a number",
    "NAME": "a dataset or field name",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "DOT": ".",
    "VBAR": "|",
    "$END": "the end of the expression",
}


class FilterSyntaxError(ValueError):
    """An expression the grammar refuses; the message says where and what was expected."""


@dataclass(frozen=True)
class Field:
    dataset: str  # Items, Users, Interactions, Actions, Action_Interactions
    column: str


@dataclass(frozen=True)
class Param:
    name: str  # without the $


@dataclass(frozen=True)
class CurrentItem:
    column: str


Value = str | Param  # a quoted literal (unquoted here), "*" or a placeholder
Operand = float | Param | CurrentItem


@dataclass(frozen=True)
class Condition:
    field: Field  # for IF clauses: Field("CurrentUser", column)
    op: str  # IN, NOT IN, IN CurrentItem, =, !=, <, <=, >, >=
    values: tuple[Value, ...] = ()
    operand: Operand | None = None


@dataclass(frozen=True)
class Expression:
    action: str  # INCLUDE or EXCLUDE
    target: str  # ItemID, ActionID or UserID
    conditions: tuple[Condition, ...]
    joins: tuple[str, ...]  # AND / OR between consecutive conditions
    user_conditions: tuple[Condition, ...] = ()  # the IF clause: all must hold

    def params(self) -> set[str]:
        names = set()
        for condition in (*self.conditions, *self.user_conditions):
            names |= {v.name for v in condition.values if isinstance(v, Param)}
            if isinstance(condition.operand, Param):
                names.add(condition.operand.name)
        return names


@dataclass(frozen=True)
class Filter:
    expressions: tuple[Expression, ...]


class _ToTree(Transformer):  # type: ignore[type-arg]
    def start(self, expressions: list[Expression]) -> Filter:
        return Filter(tuple(expressions))

    def expression(self, parts: list[object]) -> Expression:
        action, target, *rest = parts
        conditions, joins, users = [], [], ()
        for part in rest:
            if isinstance(part, Condition):
                conditions.append(part)
            elif isinstance(part, Token):
                joins.append(part.upper())
            else:
                users = part  # type: ignore[assignment]
        canonical_target = {"ITEMID": "ItemID", "ACTIONID": "ActionID", "USERID": "UserID"}
        return Expression(
            str(action).upper(),
            canonical_target[str(target).upper()],
            tuple(conditions),
            tuple(joins),
            tuple(users),
        )

    def in_values(self, parts: list[object]) -> Condition:
        return Condition(parts[0], "IN", values=parts[2])  # type: ignore[arg-type]

    def not_in_values(self, parts: list[object]) -> Condition:
        return Condition(parts[0], "NOT IN", values=parts[2])  # type: ignore[arg-type]

    def in_current_item(self, parts: list[object]) -> Condition:
        return Condition(parts[0], "IN CurrentItem", operand=parts[2])  # type: ignore[arg-type]

    def compare(self, parts: list[object]) -> Condition:
        return Condition(parts[0], str(parts[1]), operand=_operand(parts[2]))  # type: ignore[arg-type]

    def user_clause(self, parts: list[object]) -> tuple[Condition, ...]:
        for part in parts:
            if isinstance(part, Token) and part.upper() == "OR":
                raise FilterSyntaxError(
                    f"Invalid filter expression at character {(part.start_pos or 0) + 1}: found {str(part)!r}; "
                    "expected AND (the conditions of an IF clause are joined with AND)."
                )
        return tuple(p for p in parts if isinstance(p, Condition))

    def user_in_values(self, parts: list[object]) -> Condition:
        return Condition(parts[0], "IN", values=parts[2])  # type: ignore[arg-type]

    def user_compare(self, parts: list[object]) -> Condition:
        return Condition(parts[0], str(parts[1]), operand=_operand(parts[2]))  # type: ignore[arg-type]

    def field(self, parts: list[Token]) -> Field:
        return Field(str(parts[0]), str(parts[1]))

    def current_user(self, parts: list[Token]) -> Field:
        return Field("CurrentUser", str(parts[0]))

    def current_item(self, parts: list[Token]) -> CurrentItem:
        return CurrentItem(str(parts[0]))

    def values(self, parts: list[object]) -> tuple[Value, ...]:
        return tuple(_value(p) for p in parts)


def _value(token: object) -> Value:
    if isinstance(token, Token) and token.type == "PARAM":
        return Param(str(token)[1:])
    if isinstance(token, Token) and token.type == "STRING":
        return str(token)[1:-1]
    return str(token)  # "*"


def _operand(token: object) -> Operand:
    if isinstance(token, CurrentItem):
        return token
    if isinstance(token, Token) and token.type == "PARAM":
        return Param(str(token)[1:])
    return float(str(token))


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


def parse(text: str) -> Filter:
    """The syntax tree of a filter expression; FilterSyntaxError if it is not one."""
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise FilterSyntaxError(_explain(text, error)) from None
    try:
        result: Filter = _ToTree().transform(tree)
    except VisitError as error:  # a rule the tree transformer checks
        raise error.orig_exc from None
    return result


def _explain(text: str, error: UnexpectedInput) -> str:
    # Characters from the start of the expression, counted from 1 (lark's column restarts at each
    # line break, and expressions may span lines).
    position = (error.pos_in_stream or 0) + 1
    at_end = isinstance(error, UnexpectedToken) and error.token.type == "$END"
    if isinstance(error, UnexpectedEOF) or at_end:
        found, position = "the end of the expression", len(text) + 1
    elif isinstance(error, UnexpectedToken):
        token = str(error.token)  # a quoted value may run to the expression's 2,500 characters
        found = repr(token if len(token) <= 40 else token[:40] + "…")
    elif isinstance(error, UnexpectedCharacters):
        at = error.pos_in_stream or 0
        found = repr(text[at]) if at < len(text) else "nothing"
    else:
        found = "something unexpected"
    expected = sorted({_EXPECTED.get(name, name) for name in getattr(error, "expected", None) or ()})
    if not expected and isinstance(error, UnexpectedCharacters):
        expected = sorted({_EXPECTED.get(name, name) for name in error.allowed or ()})
    wanted = f"; expected {' or '.join(expected)}" if expected else ""
    return f"Invalid filter expression at character {position}: found {found}{wanted}."
