"""The checks, their names and the wording of each failure, derived once from the feed's contract: every engine reports with these.

The pandas reference (``checks.validate``, ``checks.crossfeed``, ``checks.dedup``), Polars, DuckDB and
Spark compute failures each in their own way; which rules hold, what a failure is called, which
column it names and how its value reads come from here, so that every engine's failures compare
equal to the last word. Text rules look at a cell as written (a literal of the column's type, a
filled required cell, a pattern); value rules at the parsed value (bounds, unique keys, allowed
values), in the computing form of ``checks.encoding``.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from checks.contract import Column, Contract
from checks.encoding import Codec, Encoding
from checks.errors import DeduplicationError
from checks.model import Shape, failure_rows

# A delta's checks, by the names Pandera gives them (the text pass, then the value pass).
IS_INTEGER = "is_integer"
NOT_EMPTY = "not_empty"  # a delta with a header and no rows
REQUIRED = "required"  # an empty cell in a column that must be filled (an integer column's fails is_integer)
FIELD_UNIQUENESS = "field_uniqueness"

# The checks across the feed, and the dedup's: stable names, whatever the contract calls its columns.
BATCH_MONOTONIC = "batch_monotonic"  # the version rises file by file
PAIR_UNIQUE = "user_batch_unique_across_files"  # a (key, version) pair in one file only
NEVER_DECREASES = "never_decreases"  # suffix: ``spend_never_decreases`` for the first customer's amount
UNIQUE_LATEST_BATCH = "unique_latest_batch"

# What reading a file notes without failing it.
BOM_IGNORED = "UTF-8 byte-order mark ignored"


@dataclass(frozen=True)
class FeedRule:
    """A check across the feed: its name, the column its failures name, and how each failure's value reads.

    ``wording`` is a printf template, which Python's ``%`` and Spark's ``format_string`` read alike.
    """

    check: str
    column: str
    wording: str

    def values(self, *fields: Iterable[Any]) -> list[str]:
        """The wording filled in with the ``fields``' items, one value per offending row."""
        return [self.wording % items for items in zip(*fields)]

    def failures(self, files: Any, rows: Any, values: Any) -> pd.DataFrame:
        """One failure per offending line, as ``checks.model.FAILURE_COLUMNS``."""
        return failure_rows(files, rows, column=self.column, check=self.check, values=values)


def feed_rules(shape: Shape, encoding: Encoding | None = None) -> dict[str, FeedRule]:
    """The checks across the feed, in the order every engine reports them; values are filled in as text."""
    key, version = shape.key, shape.version
    rules = {
        # the version, the largest version of the files before, the file that holds it
        BATCH_MONOTONIC: FeedRule(BATCH_MONOTONIC, version, f"%s <= %s (largest {version} in %s)"),
        # the key, the version, the file and line of the pair's first occurrence
        PAIR_UNIQUE: FeedRule(PAIR_UNIQUE, version, f"{key} %s, {version} %s already in %s row %s"),
    }
    for column in never_decreasing(encoding, shape):
        check = never_decreases_check(column)
        # the value, the key's value before, at that version, in that file
        rules[check] = FeedRule(check, column.name, f"%s < %s at {version} %s (%s)")
    return rules


def never_decreasing(encoding: Encoding | None, shape: Shape) -> list[Column]:
    """The columns that never fall for a key as its version grows (``checks.neverDecreases``)."""
    encoding = encoding or _default_encoding()
    return [column for column in encoding.contract.columns if column.never_decreases and column.name in shape.names]


def never_decreases_check(column: Column) -> str:
    """``spend_never_decreases``: the column's word (its businessName, else its name), then the rule."""
    return f"{(column.business_name or column.name).replace(' ', '_')}_{NEVER_DECREASES}"


def column_renamed(original: str, name: str) -> str:
    """The warning for a header name read in another form (``Amount`` as ``amount``)."""
    return f"column {original!r} read as {name!r}"


def tie_error(
    users: int, first_user: Any, batch: Any, places: Sequence[tuple[str, int]], encoding: Encoding | None = None
) -> DeduplicationError:
    """The error for keys whose largest version is on two rows: the latest row is ambiguous."""
    contract = (encoding or _default_encoding()).contract
    key_word, version = contract.key.business_name or contract.key.name, contract.version_column.name
    where = " and ".join(f"{file} row {row}" for file, row in places)
    return DeduplicationError(
        f"{users} {key_word}(s) have two rows with their largest {version}, so the latest row is ambiguous; "
        f"e.g. {key_word} {first_user} has {version} {batch} in {where}",
        check=UNIQUE_LATEST_BATCH,
    )


def _default_encoding() -> Encoding:
    from checks.encoding import default_encoding

    return default_encoding()


# --- a delta's rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextRule:
    """A rule on a cell's text: ``kind`` is literal, required, pattern, min_length, max_length, valid_values,
    null_values or missing_values; ``argument`` what it compares with."""

    column: str
    check: str
    kind: str
    argument: Any = None


@dataclass(frozen=True)
class ValueRule:
    """A rule on a parsed value: ``kind`` is minimum, above, maximum, below, unique or valid_values; ``argument`` in
    computing form."""

    column: str
    check: str
    kind: str
    argument: Any = None


def literal_check(column: Column) -> str:
    """The name of the text check a cell fails when it is no literal of its column's type: ``is_integer``, ``is_decimal``..."""
    return "is_decimal" if column.decimal else f"is_{column.logical_type}"


def text_rules(encoding: Encoding) -> list[TextRule]:
    """Every text rule of the contract's columns, column by column in the contract's order."""
    rules: list[TextRule] = []
    contract = encoding.contract
    for column in contract.columns:
        codec = encoding.codecs[column.name]
        if codec.literal is not None:
            rules.append(TextRule(column.name, literal_check(column), "literal", codec.literal))
        # An integer column's empty cell fails is_integer, as it always has; other types name it for what it is.
        if column.required and column.logical_type != "integer":
            rules.append(TextRule(column.name, REQUIRED, "required"))
        rules += _string_rules(column)
        rules += _quality_text_rules(contract, column)
    return rules


def value_rules(encoding: Encoding) -> list[ValueRule]:
    """Every value rule of the contract's columns: bounds, uniqueness, allowed values of non-text columns."""
    rules: list[ValueRule] = []
    contract = encoding.contract
    for column in contract.columns:
        codec = encoding.codecs[column.name]
        # Named as Pandera names its own bound checks: greater_than(0), less_than_or_equal_to(100)...
        if column.minimum is not None:
            exclusive = column.exclusive_minimum
            check = f"greater_than{'' if exclusive else '_or_equal_to'}({column.minimum})"
            rules.append(ValueRule(column.name, check, "above" if exclusive else "minimum", codec.stored(column.minimum)))
        if column.maximum is not None:
            exclusive = column.exclusive_maximum
            check = f"less_than{'' if exclusive else '_or_equal_to'}({column.maximum})"
            rules.append(ValueRule(column.name, check, "below" if exclusive else "maximum", codec.stored(column.maximum)))
        if column.unique:
            rules.append(ValueRule(column.name, FIELD_UNIQUENESS, "unique"))
        for rule in contract.quality:
            if not rule.per_delta or rule.column != column.name:
                continue
            if rule.metric == "duplicateValues" and not column.unique:
                rules.append(ValueRule(column.name, FIELD_UNIQUENESS, "unique"))
            if rule.metric == "invalidValues" and rule.valid_values is not None and column.logical_type != "string":
                rules.append(ValueRule(column.name, "invalidValues", "valid_values", _stored_values(codec, rule.valid_values)))
    return rules


def _string_rules(column: Column) -> list[TextRule]:
    rules = []
    if column.pattern is not None:
        rules.append(TextRule(column.name, "pattern", "pattern", column.pattern))
    if column.min_length is not None:
        rules.append(TextRule(column.name, f"min_length({column.min_length})", "min_length", column.min_length))
    if column.max_length is not None:
        rules.append(TextRule(column.name, f"max_length({column.max_length})", "max_length", column.max_length))
    return rules


def _quality_text_rules(contract: Contract, column: Column) -> list[TextRule]:
    rules = []
    for rule in contract.quality:
        if not rule.per_delta or rule.column != column.name:
            continue
        if rule.metric == "nullValues":
            rules.append(TextRule(column.name, "nullValues", "null_values"))
        elif rule.metric == "missingValues":
            rules.append(TextRule(column.name, "missingValues", "missing_values", ("", *map(str, rule.missing_values))))
        elif rule.metric == "invalidValues" and rule.pattern is not None:
            rules.append(TextRule(column.name, "invalidValues", "pattern", rule.pattern))
        elif rule.metric == "invalidValues" and column.logical_type == "string":
            rules.append(TextRule(column.name, "invalidValues", "valid_values", tuple(map(str, rule.valid_values))))
    return rules


def _stored_values(codec: Codec, values: tuple[Any, ...]) -> tuple[Any, ...]:
    import pandas as pd

    stored, valid = codec.parse(pd.Series([str(value) for value in values], dtype=object))
    return tuple(value for value, ok in zip(stored.tolist(), valid) if ok)


@functools.lru_cache(maxsize=16)
def first_customer_rules(encoding: Encoding) -> bool:
    """Whether a contract's rules are exactly the first customer's (names, types, bounds): the form the
    engines' hand-written fast paths (Polars, DuckDB, Spark) implement; other contracts take the reference path.
    Asked once per engine call (each delta file): kept per encoding (one a run, hashed by identity)."""
    default = _default_encoding()
    # Text rules name no empty integer cell (it fails is_integer): an optional integer column takes the reference path.
    return encoding is default or (
        encoding.plain and text_rules(encoding) == text_rules(default) and value_rules(encoding) == value_rules(default)
        and feed_rules(encoding.contract.shape, encoding) == feed_rules(default.contract.shape, default)
    )


def first_customer_form() -> tuple[dict[str, str], dict[str, FeedRule], str]:
    """What the engines' hand-written fast paths report (they serve ``first_customer_rules`` contracts): each
    column's lower-bound check name, the checks across the feed, and the amount's never-decreases check."""
    encoding = _default_encoding()
    contract = encoding.contract
    lower = {rule.column: rule.check for rule in value_rules(encoding) if rule.kind in ("minimum", "above")}
    return lower, feed_rules(contract.shape, encoding), never_decreases_check(contract.column(contract.shape.amount))
