"""The Great Expectations suite of a feed contract, generated as version-controlled JSON in ``expectations/``.

One suite per contract, named for its table (``expectations/<table>.json``): ``checks contract suite``
writes it, and a test fails when a committed suite differs from what its contract generates, so the
contract stays the one place a rule is declared. GX itself is not imported here: the suite is data.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from checks.contract import Column, Contract, QualityRule

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
LATEST_PREFIX = "feed_latest_"
# The storage each logical type is loaded as: the suite asserts it so no value was coerced on the way.
_STORAGE = {"integer": "int64"}


def suite_path(contract: Contract, directory: Path = EXPECTATIONS_DIR) -> Path:
    return directory / f"{contract.table}.json"


def latest_column(contract: Contract) -> str:
    """The helper column the suites add to every table: each key's largest version across the feed."""
    return f"{LATEST_PREFIX}{contract.version_column.name}"


def generate_suite(contract: Contract) -> dict[str, Any]:
    """The suite's JSON document: the table's shape, each column's rules, the contract's quality rules, the feed's."""
    key, version, amount = contract.key, contract.version_column, contract.amount
    latest = latest_column(contract)
    expectations = [
        _expectation(
            "expect_table_columns_to_match_ordered_list", {"column_list": [*contract.names, latest]}, "column_set",
            f"Exactly the contract's {len(contract.columns)} columns in its order (case-sensitive), then the derived {latest}.",
        ),
        _expectation(
            "expect_table_row_count_to_equal", {"value": {"$PARAMETER": "expected_users"}}, "row_count",
            "One row per key in the feed.",
        ),
        _expectation("expect_column_values_to_be_unique", {"column": key.name}, f"{key.name}_unique", "One row per key."),
    ]
    expectations += [
        _expectation("expect_column_values_to_not_be_null", {"column": column.name}, f"{column.name}_not_null", "No missing values.")
        for column in contract.columns if column.required
    ]
    expectations += [
        _expectation(
            "expect_column_values_to_be_of_type", {"column": column.name, "type_": _STORAGE[column.logical_type]},
            f"{column.name}_integer", "Integer storage, no float or text coercion.",
        )
        for column in contract.columns if column.logical_type in _STORAGE
    ]
    expectations += [_bounds(column) for column in contract.columns if column.minimum is not None or column.maximum is not None]
    expectations += [_pattern(column) for column in contract.columns if column.pattern is not None and _as_written(column)]
    # Every quality rule: one checked cell by cell on each delta holds for a loaded table too (plan "PRO" on the platform).
    expectations += [_quality(rule) for rule in contract.quality if not rule.per_delta or _applies_to_tables(rule, contract)]
    if amount is not None:
        expectations.append(_expectation(
            "expect_column_sum_to_be_between",
            {"column": amount.name, "min_value": {"$PARAMETER": "finance_total"}, "max_value": {"$PARAMETER": "finance_total"}},
            "revenue_total", f"The sum of {amount.name} equals the finance-reported total (parameter finance_total).",
        ))
    expectations += [
        _expectation(
            "expect_column_values_to_not_be_null", {"column": latest}, "user_in_feed",
            f"Every key appears in the feed ({latest} is that key's largest {version.name} across all deltas).",
        ),
        _expectation(
            "expect_batch_id_to_be_latest_in_feed",
            {"column_A": version.name, "column_B": latest, "ignore_row_if": "either_value_is_missing"},
            "batch_currency",
            f"Custom expectation (checks/suites/gx.py): each row is its key's latest, i.e. {version.name} equals the "
            f"largest {version.name} of that key across the feed. Unexpected rows are listed by {key.name}.",
        ),
    ]
    return {
        "name": contract.table,
        "expectations": expectations,
        "meta": {
            "notes": (
                f"Generated from the contract {contract.id} {contract.version} by `checks contract suite`; edit the "
                f"contract, not this file. Validates a loaded {contract.table} table (deduplicated feed, platform "
                f"table, customer export). Parameters: expected_users, finance_total. checks/suites/ adds the "
                f"column {latest} before validating."
            )
        },
    }


def suite_text(contract: Contract) -> str:
    """The suite as the committed file holds it."""
    return json.dumps(generate_suite(contract), indent=2) + "\n"


def _expectation(kind: str, kwargs: dict[str, Any], check: str, notes: str) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"check": check, "notes": notes}}


def _bounds(column: Column) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"column": column.name}
    if column.minimum is not None:
        kwargs["min_value"] = _number(column.minimum)
        if column.exclusive_minimum:
            kwargs["strict_min"] = True
    if column.maximum is not None:
        kwargs["max_value"] = _number(column.maximum)
        if column.exclusive_maximum:
            kwargs["strict_max"] = True
    if column.maximum is None and column.minimum == 0:
        check, notes = ("positive", "Above 0.") if column.exclusive_minimum else ("non_negative", "Never negative.")
        return _expectation("expect_column_values_to_be_between", kwargs, f"{column.name}_{check}", notes)
    return _expectation("expect_column_values_to_be_between", kwargs, f"{column.name}_in_range", column.describe())


def _pattern(column: Column) -> dict[str, Any]:
    return _expectation(
        "expect_column_values_to_match_regex", {"column": column.name, "regex": column.pattern}, f"{column.name}_pattern",
        f"Every value matches {column.pattern}, as every delta's cells must.",
    )


def _as_written(column: Column) -> bool:
    """Whether GX reads the column's values as the files wrote them (a text column's), so that a rule on the files'
    cells says the same of a table's values."""
    return column.logical_type == "string"


def _applies_to_tables(rule: QualityRule, contract: Contract) -> bool:
    """Whether a rule checked on each delta's cells also reads right on a table's values: no missing or repeated
    value, or any rule on a text column, or a set of integers on an integer column (a pattern or a missing-value text
    on a number's cells, or a set of dates, is left to the deltas)."""
    column = next(column for column in contract.columns if column.name == rule.column)
    if rule.metric in ("nullValues", "duplicateValues") or _as_written(column):
        return True
    values = rule.valid_values
    return column.logical_type == "integer" and values is not None and all(type(value) is int for value in values)


def _quality(rule: QualityRule) -> dict[str, Any]:
    """A contract rule on a table: a threshold over the whole (``QualityRule.per_delta`` not), or none allowed."""
    check = f"{rule.column}_{rule.metric}" if rule.column else rule.metric
    if rule.metric == "rowCount":
        return _expectation("expect_table_row_count_to_be_between", _range(rule), check, rule.describe())
    kwargs: dict[str, Any] = {"column": rule.column}
    if not rule.per_delta:  # a column metric at most p percent of the rows: GX's ``mostly`` is the share that must pass
        kwargs["mostly"] = round(1 - rule.threshold[-1] / 100, 10)
    if rule.metric == "nullValues":
        kind = "expect_column_values_to_not_be_null"
    elif rule.metric == "missingValues":
        kind, kwargs["value_set"] = "expect_column_values_to_not_be_in_set", [*rule.missing_values, None]
    elif rule.metric == "duplicateValues":
        kind = "expect_column_values_to_be_unique"
    elif rule.valid_values is not None:
        kind, kwargs["value_set"] = "expect_column_values_to_be_in_set", list(rule.valid_values)
    else:
        kind, kwargs["regex"] = "expect_column_values_to_match_regex", rule.pattern
    return _expectation(kind, kwargs, check, rule.describe())


def _range(rule: QualityRule) -> dict[str, Any]:
    value, operator = rule.threshold, rule.operator
    if operator == "mustBe":
        return {"min_value": value[0], "max_value": value[0]}
    if operator == "mustBeBetween":
        return {"min_value": value[0], "max_value": value[1]}
    if operator in ("mustBeGreaterThan", "mustBeGreaterOrEqualTo"):
        return {"min_value": value[0], "strict_min": operator == "mustBeGreaterThan"}
    return {"max_value": value[0], "strict_max": operator == "mustBeLessThan"}


def _number(value: Any) -> int | float:
    return int(value) if value == int(value) else float(value)
