"""A contract's delta value rules and its feed's columns as SQL text, in the dialect DuckDB and Spark SQL share.

Which rules hold, what each check is called and how its failures read come from ``checks.rules``; this
module only says each in SQL, once, for both SQL engines: a rule becomes the predicate a breaking value
satisfies, over a column in computing form (``checks.encoding``). The engines run these on the deltas they
read themselves (integer columns); a missing value (SQL ``null``) breaks no value rule, as Pandera skips
nulls in a nullable column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from checks.encoding import Encoding
from checks.rules import FIELD_UNIQUENESS, ValueRule, value_rules

# What a breaking value satisfies, per ``ValueRule.kind`` (``unique`` is a query of its own: ``failure_query``).
_BREAKS = {"minimum": "<", "above": "<=", "maximum": ">", "below": ">="}


@dataclass(frozen=True)
class Dialect:
    """How an engine's SQL quotes a name: DuckDB's ``"name"``, Spark's ```name```."""

    quote: str

    def name(self, column: str) -> str:
        return f"{self.quote}{column.replace(self.quote, self.quote * 2)}{self.quote}"


DUCKDB = Dialect('"')
SPARK = Dialect("`")


def literal(value: Any) -> str:
    """A value as a SQL literal: numbers as themselves, anything else as quoted text."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(value.item() if isinstance(value, np.generic) else value)
    return "'" + str(value).replace("'", "''") + "'"


def breaks(rule: ValueRule, dialect: Dialect) -> str:
    """The predicate a value breaking ``rule`` satisfies (never a null value); not for ``unique`` rules."""
    column = dialect.name(rule.column)
    if rule.kind in _BREAKS:
        return f"{column} {_BREAKS[rule.kind]} {literal(rule.argument)}"
    if rule.kind == "valid_values":
        allowed = ", ".join(literal(value) for value in rule.argument)
        return f"{column} not in ({allowed})" if allowed else f"{column} is not null"
    raise ValueError(f"no SQL predicate for a {rule.kind!r} rule")


def cell_rules(encoding: Encoding) -> list[ValueRule]:
    """The contract's value rules checked cell by cell (bounds, allowed values), in the contract's order."""
    return [rule for rule in value_rules(encoding) if rule.kind != "unique"]


def unique_columns(encoding: Encoding) -> list[str]:
    """The columns whose values may appear once per delta (``field_uniqueness``), in the contract's order."""
    seen: dict[str, None] = {}
    for rule in value_rules(encoding):
        if rule.kind == "unique":
            seen.setdefault(rule.column)
    return list(seen)


def any_value_breaks(encoding: Encoding, dialect: Dialect) -> str:
    """One predicate: the row breaks some cell rule (``false`` when the contract has none)."""
    predicates = [f"({breaks(rule, dialect)})" for rule in cell_rules(encoding)]
    return " or ".join(predicates) or "false"


def failure_query(encoding: Encoding, source: str, row: str, dialect: Dialect) -> str:
    """The rows of ``source`` that break a value rule, one per broken (cell, rule): row, column, check, value.

    ``row`` is ``source``'s line-number column; the value is the cell's computing form as text (the caller
    shows non-integer columns as the file wrote them). A repeated value of a unique column fails at every
    occurrence, as Pandera reports it; missing values are never repeats.
    """
    def select(column: str, check: str) -> str:
        aliases = [dialect.name(alias) for alias in ("row", "column", "check", "value")]
        return (
            f"select {row} as {aliases[0]}, {literal(column)} as {aliases[1]}, {literal(check)} as {aliases[2]},"
            f" cast({dialect.name(column)} as string) as {aliases[3]} from {source}"
        )

    parts = [f"{select(rule.column, rule.check)} where {breaks(rule, dialect)}" for rule in cell_rules(encoding)]
    for column in unique_columns(encoding):
        name = dialect.name(column)
        parts.append(
            f"{select(column, FIELD_UNIQUENESS)} where {name} in"
            f" (select {name} from {source} where {name} is not null group by {name} having count(*) > 1)"
        )
    return " union all ".join(parts)



