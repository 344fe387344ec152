"""java.util.regex patterns of the botocore models, translated for Python's re."""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

# --- Java regular expressions -------------------------------------------------------------------
# The models' patterns are java.util.regex patterns matched with matches() (whole string). Python's
# re lacks \p{...} and gives \d, \w, \s and "." wider meanings, so patterns are translated first.

_POSIX_CLASSES = {
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
    "Punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
# Java's defaults are ASCII-only; "." excludes every Java line terminator, not only "\n".
_JAVA_ESCAPES = {"d": "0-9", "w": "a-zA-Z_0-9", "s": " \\t\\n\\x0b\\f\\r"}
_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"
_PASS_THROUGH_LETTERS = set("tnrfaxubBA")


@cache
def compile_java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a java.util.regex pattern for Python; use ``.fullmatch`` for Java's matches()."""
    return re.compile(translate_java_regex(pattern))


def translate_java_regex(pattern: str) -> str:
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            token, index = _translate_escape(pattern, index, in_class)
            out.append(token)
            continue
        if in_class:
            if char == "[" or pattern.startswith("&&", index):
                raise ValueError(f"Java character-class union/intersection is not supported: {pattern!r}")
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("[^", index):
                out.append("[^")
                index += 2
                continue
        elif char == ".":
            char = _DOT
        elif pattern.startswith("(?<", index) and pattern[index + 3 : index + 4].isalpha():
            char = "(?P<"  # named group
            index += 2
        out.append(char)
        index += 1
    if in_class:
        raise ValueError(f"Unterminated character class: {pattern!r}")
    return "".join(out)


def _translate_escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    letter = pattern[index + 1 : index + 2]
    if not letter:
        raise ValueError(f"Trailing backslash: {pattern!r}")
    if letter in "pP":
        if pattern[index + 2 : index + 3] == "{":
            end = pattern.index("}", index)
            name, index = pattern[index + 3 : end], end + 1
        else:
            name, index = pattern[index + 2 : index + 3], index + 3
        body = _property_class(name)
        if letter == "P":
            if in_class:
                raise ValueError(f"\\P{{...}} inside a character class is not supported: {pattern!r}")
            return f"[^{body}]", index
        return (body if in_class else f"[{body}]"), index
    if letter.lower() in _JAVA_ESCAPES:
        body = _JAVA_ESCAPES[letter.lower()]
        if letter.isupper():
            if in_class:
                raise ValueError(f"\\{letter} inside a character class is not supported: {pattern!r}")
            return f"[^{body}]", index + 2
        return (body if in_class else f"[{body}]"), index + 2
    if letter == "Q":
        end = pattern.find("\\E", index + 2)
        end = len(pattern) if end < 0 else end
        return re.escape(pattern[index + 2 : end]), end + 2
    if letter == "z":
        return "\\Z", index + 2
    if letter.isalnum() and letter not in _PASS_THROUGH_LETTERS:
        raise ValueError(f"Unsupported escape \\{letter} in {pattern!r}")
    return pattern[index : index + 2], index + 2


def _property_class(name: str) -> str:
    """The body of a character class for \\p{name}: POSIX names or Unicode general categories."""
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    category = name[2:] if name.startswith("Is") else name
    ranges = _category_ranges().get(category)
    if ranges is None:
        raise ValueError(f"Unsupported character property \\p{{{name}}}")
    return "".join(f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)


@cache
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    """Code point ranges per Unicode general category ("Lu") and major class ("L"); ~0.2 s, once."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\0")
    for code in range(1, sys.maxunicode + 2):
        category = unicodedata.category(chr(code)) if code <= sys.maxunicode else ""
        if category != current:
            ranges.setdefault(current, []).append((start, code - 1))
            start, current = code, category
    for category in list(ranges):
        ranges.setdefault(category[0], []).extend(ranges[category])
    for major in {category[0] for category in ranges}:
        merged: list[tuple[int, int]] = []
        for low, high in sorted(ranges[major]):
            if merged and low == merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], high)
            else:
                merged.append((low, high))
        ranges[major] = merged
    return ranges
