"""The suite's full-table figures: which expectations the fast path computes, and GX's results completed with them.

GX validates a small evidence frame (``checks.suites.evidence``, ``checks.suites.spark``); its results are then
given the whole table's counts and observed values, and the verdicts that follow from them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from checks.encoding import NULL, Encoding, exact_decimal
from checks.suites.suite import check_name


# Expectation types whose full-table figures the fast path computes, with the kwargs it understands.
# Map expectations get counts; aggregates an observed value; "as is" ones read only the columns and
# dtypes, which the evidence frame shares with the table.
_RANGE_KWARGS = frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"})
_PAIR_KWARGS = frozenset({"column_A", "column_B", "ignore_row_if", "mostly"})
MAP_KWARGS = {
    "expect_column_values_to_not_be_null": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_unique": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_between": _RANGE_KWARGS | {"mostly"},
    "expect_column_pair_values_to_be_equal": _PAIR_KWARGS,
    "expect_batch_id_to_be_latest_in_feed": _PAIR_KWARGS,
    "expect_column_values_to_be_in_set": frozenset({"column", "value_set", "mostly"}),
    "expect_column_values_to_not_be_in_set": frozenset({"column", "value_set", "mostly"}),
    "expect_column_values_to_match_regex": frozenset({"column", "regex", "mostly"}),
}
AGGREGATE_KWARGS = {
    "expect_table_row_count_to_equal": frozenset({"value"}),
    "expect_column_sum_to_be_between": _RANGE_KWARGS,
}
_AS_IS_KWARGS = {
    "expect_table_columns_to_match_ordered_list": frozenset({"column_list"}),
    "expect_column_values_to_be_of_type": frozenset({"column", "type_"}),
}
FIRST_ROWS = 20  # always in the evidence, so that no expectation sees an empty table
_ON_NUMBERS = frozenset({"expect_column_values_to_be_between", "expect_column_sum_to_be_between"})
_NUMBERS = frozenset({"integer", "number"})
_ON_SETS = frozenset({"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"})
_ON_SETS_AND_PATTERNS = _ON_SETS | {"expect_column_values_to_match_regex"}


@dataclass(frozen=True)
class Figures:
    """One table's full-table figures, by check: map counts and aggregate observed values."""

    rows: int
    counts: Mapping[str, tuple[int, int, bool]]  # check -> (rows considered, unexpected, nulls skipped)
    observed: Mapping[str, Any]  # check -> observed value


def fast_path_applies(integer_columns: bool, expectations: list[dict], encoding: Encoding | None = None) -> bool:
    """Whether every expectation's figures can be computed outside GX on a table (``integer_columns``: whether its
    columns, in computing form, are all integers).

    With an ``encoding`` the table is in its computing form (``checks.encoding``): bounds and sums apply to
    numeric columns only, whose computing form reads as the values GX sees.
    """
    known = MAP_KWARGS | AGGREGATE_KWARGS | _AS_IS_KWARGS
    checks = [check_name(expectation) for expectation in expectations]
    if len(checks) != len(set(checks)):  # results are matched to figures by check name
        return False
    for expectation in expectations:
        allowed = known.get(expectation["type"])
        if allowed is None or not set(expectation.get("kwargs", {})) <= allowed:
            return False
        kwargs = expectation.get("kwargs", {})
        if "column_A" in kwargs and kwargs.get("ignore_row_if") != "either_value_is_missing":
            return False  # GX's handling of one missing value in a pair is not reproduced here
        if encoding is not None and expectation["type"] in _ON_NUMBERS:
            codec = encoding.codecs.get(kwargs.get("column"))
            if codec is None or codec.column.logical_type not in _NUMBERS:
                return False  # GX would compare a bound with text or datetimes
        if expectation["type"] in _ON_SETS_AND_PATTERNS and not _set_or_pattern_applies(expectation["type"], kwargs, encoding):
            return False
    return integer_columns


def _set_or_pattern_applies(kind: str, kwargs: Mapping[str, Any], encoding: Encoding | None) -> bool:
    """Whether a set's or a pattern's figures are computed outside GX: a set of integers on an integer column, any set or
    a pattern on a text column (each text tested once, by its code: ``Dictionary.passing``). Any other (a set of dates,
    a pattern on numbers) is GX's, on the whole table."""
    codec = None if encoding is None else encoding.codecs.get(kwargs.get("column"))
    logical_type = "integer" if encoding is None else None if codec is None else codec.column.logical_type
    if kind in _ON_SETS:
        values = kwargs.get("value_set")
        if not isinstance(values, (list, tuple)):
            return False  # a parameter, or none: vacuous or unknown here
        # A missing value in the set changes nothing: GX tests the values present only.
        integers = all(type(value) is int for value in values if value is not None)
        return logical_type == "string" or (logical_type == "integer" and integers)
    return logical_type == "string" and isinstance(kwargs.get("regex"), str) and _compiles(kwargs["regex"])


def _compiles(pattern: str) -> bool:
    """Whether Python's ``re`` takes ``pattern`` (else GX's own error is the one to show, from the whole table)."""
    import re

    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def decimal_sums(frame: pd.DataFrame, encoding: Encoding) -> dict[str, Decimal]:
    """Each exact decimal column's sum, to the last decimal, from its computing form (an integer count of units)."""
    sums = {}
    for column in encoding.contract.columns:
        if column.decimal is not None and column.name in frame.columns:
            stored = frame[column.name].to_numpy()
            sums[column.name] = exact_decimal(stored[stored != NULL].sum(), column)
    return sums


def exact_sums(rows: int, expectations: list[dict], sums: Mapping[str, Decimal]) -> Figures | None:
    """The observed sums of exact decimal columns for GX's results: GX sums floats (3795795.7500000005)."""
    observed = {
        check_name(expectation): sums[column]
        for expectation in expectations
        if expectation["type"] == "expect_column_sum_to_be_between"
        and (column := expectation.get("kwargs", {}).get("column")) in sums
    }
    return Figures(rows=rows, counts={}, observed=observed) if observed else None


def complete(validation: Any, figures: Figures) -> None:
    """Replace the evidence frame's counts and observed values with the full table's, and the verdicts with them."""
    for result in validation.results:
        config = result.expectation_config
        check = check_name({"type": config.type, "meta": config.meta})
        details = result.result
        if check in figures.counts:
            considered, unexpected, nulls_skipped = figures.counts[check]
            details.update(_map_counts(figures.rows, considered, unexpected, nulls_skipped, "missing_count" in details))
            mostly = 1.0 if config.kwargs.get("mostly") is None else config.kwargs["mostly"]
            result.success = figures.rows == 0 or considered == 0 or (considered - unexpected) / considered >= mostly
        elif check in figures.observed:
            details["observed_value"] = figures.observed[check]
            result.success = _within(figures.observed[check], config.kwargs)
    evaluated = len(validation.results)
    successful = sum(bool(result.success) for result in validation.results)
    validation.success = successful == evaluated
    validation.statistics.update(
        evaluated_expectations=evaluated,
        successful_expectations=successful,
        unsuccessful_expectations=evaluated - successful,
        success_percent=successful / evaluated * 100 if evaluated else None,
    )


def whole_number_bounds(validation: Any) -> None:
    """A row count's or a column sum's bounds as the whole numbers given: GX's bound fields are floats
    (33904525 becomes 33904525.0), and Data Docs print them as stored."""
    for result in validation.results:
        config = result.expectation_config
        if config.type in AGGREGATE_KWARGS:
            for key in ("value", "min_value", "max_value"):
                bound = config.kwargs.get(key)
                if isinstance(bound, float) and bound.is_integer():
                    config.kwargs[key] = int(bound)


def _map_counts(rows: int, considered: int, unexpected: int, nulls_skipped: bool, with_missing: bool) -> dict:
    """The count fields of a map expectation's result, by GX's own formulas (_format_map_output)."""
    counts: dict[str, Any] = {"element_count": rows, "unexpected_count": unexpected}
    total = unexpected / rows * 100 if rows else None
    if nulls_skipped or not with_missing:
        return counts | {"unexpected_percent": total}
    nonmissing = unexpected / considered * 100 if rows and considered else None
    return counts | {
        "missing_count": rows - considered,
        "missing_percent": (rows - considered) / rows * 100 if rows else None,
        "unexpected_percent": nonmissing,
        "unexpected_percent_total": total,
        "unexpected_percent_nonmissing": nonmissing,
    }


def _within(observed: Any, kwargs: Mapping[str, Any]) -> bool:
    if isinstance(observed, Decimal):  # GX keeps a bound as a float: compare it by the text it was given as
        kwargs = {key: Decimal(repr(value)) if isinstance(value, float) else value for key, value in kwargs.items()}
    if "value" in kwargs:
        return observed == kwargs["value"]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and (observed <= low if kwargs.get("strict_min") else observed < low):
        return False
    return not (high is not None and (observed >= high if kwargs.get("strict_max") else observed > high))


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
