"""The suites' results as data: each expectation's outcome, each table's result, the run's, read from GX's validation results."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks.errors import SuiteError
from checks.suites.suite import check_name


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result on one table; ``check`` is the suite's short name for it."""

    expectation: str
    column: str | None
    success: bool
    observed: Any
    expected: Any
    unexpected_examples: tuple = ()
    check: str = ""
    unexpected_count: int | None = None
    rows: int | None = None  # rows the expectation looked at (map expectations)


@dataclass(frozen=True)
class TableResult:
    """The suite's result on one table (one validation result in GX, named for the table)."""

    table: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    skipped: tuple[str, ...] = ()

    def failed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.success)


@dataclass(frozen=True)
class SuiteRun:
    """Every table's result from one Checkpoint run, and the Data Docs index (None when not built)."""

    results: tuple[TableResult, ...]
    docs_index: Path | None
    skipped: tuple[str, ...] = field(default=())
    run_time: str = ""
    # Each table's validation page in the Data Docs site (empty when the docs were not built).
    pages: Mapping[str, Path] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "run_time": self.run_time,
            "docs_index": str(self.docs_index) if self.docs_index is not None else None,
            "skipped": list(self.skipped),
            "tables": [
                {
                    "table": result.table,
                    "success": result.success,
                    "skipped": list(result.skipped),
                    "outcomes": [
                        {
                            "check": outcome.check,
                            "expectation": outcome.expectation,
                            "column": outcome.column,
                            "success": outcome.success,
                            "observed": outcome.observed,
                            "expected": outcome.expected,
                            "unexpected_count": outcome.unexpected_count,
                            "unexpected_examples": list(outcome.unexpected_examples),
                        }
                        for outcome in result.outcomes
                    ],
                }
                for result in self.results
            ],
        }


def table_result(table: str, validation: Any, skipped: tuple[str, ...]) -> TableResult:
    outcomes = []
    for result in validation.results:
        config = result.expectation_config
        message = _raised_exception(result.exception_info)
        if message is not None:
            raise SuiteError(f"table {table!r}: expectation {config.type} could not be evaluated: {message}")
        outcomes.append(_outcome(config, result))
    return TableResult(table=table, success=bool(validation.success), outcomes=tuple(outcomes), skipped=skipped)


def _raised_exception(info: Any) -> str | None:
    """The first line of the exception GX caught for a result, if any.

    GX 1.x stores either one record or a dict of records keyed by metric.
    """
    if not isinstance(info, dict):
        return None
    records = [info] if "raised_exception" in info else [record for record in info.values() if isinstance(record, dict)]
    for record in records:
        if record.get("raised_exception"):
            return (str(record.get("exception_message") or "unknown error").strip().splitlines() or ["?"])[0]
    return None


def _outcome(config: Any, result: Any) -> ExpectationOutcome:
    kwargs = dict(config.kwargs)
    details = result.result or {}
    column = kwargs.get("column") or (
        f"{kwargs['column_A']}={kwargs['column_B']}" if "column_A" in kwargs else None
    )
    if "observed_value" in details:
        observed = details["observed_value"]
    else:
        observed = f"{details.get('unexpected_count', 0)} unexpected of {details.get('element_count', 0)}"
    examples = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(result.success),
        observed=plain(observed),
        expected=plain(_expected(config.type, kwargs)),
        unexpected_examples=tuple(plain(example) for example in examples),
        check=check_name({"type": config.type, "meta": config.meta}),
        unexpected_count=plain(details.get("unexpected_count")),
        rows=plain(details.get("element_count")),
    )


def _expected(kind: str, kwargs: Mapping[str, Any]) -> Any:
    if "value" in kwargs:
        return kwargs["value"]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    if "type_" in kwargs:
        return kwargs["type_"]
    if "column_B" in kwargs:
        return f"equal to {kwargs['column_B']}"
    if "value_set" in kwargs:
        return {"in" if kind == "expect_column_values_to_be_in_set" else "not_in": list(kwargs["value_set"])}
    if "regex" in kwargs:
        return {"matches": kwargs["regex"]}
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and low == high:
        # Suite parameters come back as floats; a sum or count is a whole number.
        return int(low) if isinstance(low, float) and low.is_integer() else low
    if low is not None or high is not None:
        return {"min": low, "max": high}
    return {"unique": True} if "unique" in kind else {"not_null": True} if "null" in kind else None


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, tuples to lists, missing values to None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value
