"""The rules every delta is held to, derived from the feed's contract once, with the name each failure carries.

Engines translate these rules (Pandera on pandas, Polars or PySpark; SQL); none declares a rule of
its own. Text rules look at a cell as written (is it a literal of the column's type, is a required
cell filled, does a string match its pattern); value rules at the parsed value (bounds, unique keys,
allowed values), in the computing form of ``checks.encoding``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.contract import Column, Contract
from checks.encoding import Codec, Encoding

NOT_EMPTY = "not_empty"  # a delta with a header and no rows
REQUIRED = "required"  # an empty cell in a column that must be filled
FIELD_UNIQUENESS = "field_uniqueness"  # Pandera's name for a repeated key


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


def text_rules(encoding: Encoding) -> list[TextRule]:
    """Every text rule of the contract's columns, column by column in the contract's order."""
    rules: list[TextRule] = []
    contract = encoding.contract
    for column in contract.columns:
        codec = encoding.codecs[column.name]
        if codec.literal is not None:
            rules.append(TextRule(column.name, codec.check, "literal", codec.literal))
        # An integer column's empty cell fails is_integer, as it always has; other types name it for what it is.
        if column.required and column.logical_type != "integer":
            rules.append(TextRule(column.name, REQUIRED, "required"))
        rules += _string_rules(column)
        rules += [rule for rule in _quality_text_rules(contract, column)]
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
