"""Validating one delta file: Pandera schemas for its text and its values, every failure collected.

Validation runs in two passes so that no bad value hides another: the text pass finds every cell
that is not an integer (no silent float or string coercion), the value pass checks ranges and keys
on the cells that are. Failures come back as one tidy frame with ``checks.model.FAILURE_COLUMNS``.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from checks.feed import read_raw, to_integers
from checks.model import Delta, DeltaFile, RawTable, empty_failures, order_failures
from checks.results import DeltaValidation
from checks.rules import IS_INTEGER

def validate_delta(raw: RawTable, number: int) -> DeltaValidation:
    """Validate one delta read as text; collect every failure, never stop at the first."""
    from checks.schemas import TEXT_SCHEMA, VALUE_SCHEMA

    text_failures = _run_lazily(TEXT_SCHEMA, raw.frame, raw.name)
    typed, bad_cells = to_integers(raw.frame)
    value_failures = _run_lazily(VALUE_SCHEMA, typed, raw.name)
    unparsed = _unreported_cells(bad_cells, text_failures, raw.name)
    parts = [text_failures, value_failures] if unparsed.empty else [text_failures, unparsed, value_failures]
    failures = order_failures(pd.concat(parts, ignore_index=True))
    delta = None
    if failures.empty:
        delta = Delta(name=raw.name, number=number, frame=typed.astype("int64"))
    return DeltaValidation(
        name=raw.name, number=number, delta=delta, failures=failures, warnings=raw.warnings, rows=len(raw.frame)
    )


def read_and_validate(delta_file: DeltaFile) -> DeltaValidation:
    """Read a delta file from disk and validate it."""
    return validate_delta(read_raw(delta_file.path), delta_file.number)


def _unreported_cells(bad_cells: pd.DataFrame, text_failures: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Cells the text pass let through that still are no int64 (``5\\n``, 99999999999999999999).

    Every cell left blank in the typed frame must be reported, or the delta would pass with a hole.
    """
    if bad_cells.empty:
        return empty_failures()
    reported = pd.MultiIndex.from_frame(text_failures[["row", "column"]].astype({"row": "Int64", "column": object}))
    found = pd.MultiIndex.from_frame(bad_cells[["row", "column"]].astype({"row": "Int64", "column": object}))
    missing = bad_cells[~found.isin(reported)]
    if missing.empty:
        return empty_failures()
    return pd.DataFrame(
        {"file": file_name, "row": missing["row"].to_numpy(), "column": missing["column"].to_numpy(),
         "check": IS_INTEGER, "value": missing["value"].to_numpy()}
    ).astype(object)


def _run_lazily(schema: Any, frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    from pandera.errors import SchemaErrors

    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return _tidy(errors.failure_cases, file_name)
    return empty_failures()


def _tidy(failure_cases: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Pandera's failure cases as (file, row, column, check, value) with names a person reads."""
    check = failure_cases["check"].astype(str)
    check = check.where(~check.str.startswith("str_matches"), IS_INTEGER)
    row = pd.to_numeric(failure_cases["index"], errors="coerce").astype("Int64")
    # Frame-wide checks (e.g. not_empty) name the schema as their column and have no cell value.
    frame_wide = failure_cases["schema_context"].astype(str).eq("DataFrameSchema")
    column = failure_cases["column"].astype(object).where(~frame_wide, None)
    value = failure_cases["failure_case"].astype(str).astype(object).where(~frame_wide, None)
    return pd.DataFrame(
        {"file": file_name, "row": row, "column": column, "check": check.astype(object), "value": value}
    ).astype({"file": object})
