"""Validating one delta file: Pandera schemas for its text and its values, every failure collected.

Validation runs in two passes so that no bad value hides another: the text pass finds every cell
that is not an integer (no silent float or string coercion), the value pass checks ranges and keys
on the cells that are. The rules and their names come from the feed's contract (``checks.rules``).
Failures come back as one tidy frame with ``checks.model.FAILURE_COLUMNS``.
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from checks.encoding import NULL, Encoding, default_encoding
from checks.feed import is_uri, read_raw
from checks.model import Delta, DeltaFile, RawTable, empty_failures, order_failures
from checks.results import DeltaValidation
from checks.rules import literal_check


def validate_delta(raw: RawTable, number: int | str, encoding: Encoding | None = None) -> DeltaValidation:
    """Validate one delta read as text against its contract's rules; collect every failure, never stop at the first.

    ``encoding`` is the run's (the contract and its dictionaries; default: the first customer's). A delta that
    passes holds its columns in computing form (``checks.encoding``).
    """
    from checks.schemas import delta_schemas

    encoding = encoding or default_encoding()
    text_schema, value_schema = delta_schemas(encoding)
    text_failures = _run_lazily(text_schema, raw.frame, raw.name)
    stored, typed, bad_cells = encoding.parse_frame(raw.frame)
    value_failures = _as_written(_run_lazily(value_schema, typed, raw.name), raw.frame, encoding)
    unparsed = _unreported_cells(bad_cells, text_failures, raw.name, encoding)
    parts = [text_failures, value_failures] if unparsed.empty else [text_failures, unparsed, value_failures]
    failures = order_failures(pd.concat(parts, ignore_index=True))
    delta = None
    if failures.empty:
        delta = Delta.validated(raw.name, number, stored)
    return DeltaValidation(
        name=raw.name, number=number, delta=delta, failures=failures, warnings=raw.warnings, rows=len(raw.frame)
    )


def read_and_validate(delta_file: DeltaFile, encoding: Encoding | None = None) -> DeltaValidation:
    """Read a delta file from disk and validate it."""
    encoding = encoding or default_encoding()
    return validate_delta(read_raw(delta_file.path, columns=encoding.contract.names), delta_file.number, encoding)


def readable_rows(delta_file: DeltaFile, encoding: Encoding | None = None) -> Delta | None:
    """The rows of a delta validation quarantined whose key and version are readable, in computing form with their
    line numbers: what a platform that loaded the file anyway holds of it (other cells that broke a rule as read, a
    cell with no value of its type ``NULL``). None when the file cannot be read again or no row is readable.

    The diagnosis asks for them only when the platform holds rows the validated feed cannot account for."""
    from checks.errors import ChecksError

    encoding = encoding or default_encoding()
    try:
        raw = read_raw(delta_file.path, columns=encoding.contract.names)
    except ChecksError:
        return None
    # A copy of the run's dictionaries: the run's own are being decoded by its writers while the diagnosis runs.
    stored, _, _ = encoding.snapshot().parse_frame(raw.frame)
    shape = encoding.contract.shape
    readable = stored[(stored[shape.key] != NULL) & (stored[shape.version] != NULL)]
    if readable.empty:
        return None
    return Delta(name=raw.name, number=delta_file.number, frame=readable)


def quarantined_rows(
    folder: str | Path, validations: Sequence[DeltaValidation], encoding: Encoding | None = None
) -> Callable[[], list[Delta]] | None:
    """The readable rows of each delta of ``folder`` validation quarantined (``readable_rows``), in feed order, read
    when first asked for and kept: the diagnosis's ``quarantined``. None when no delta was quarantined, or the folder
    is a URI (Spark's to open)."""
    failed = [DeltaFile(Path(folder) / v.name, v.number) for v in validations if not v.passed]
    if not failed or is_uri(folder):
        return None

    lock = threading.Lock()  # asked for on the diagnosis's threads (its search, its lineage): read once

    @functools.cache
    def rows() -> list[Delta]:
        return [readable for delta_file in failed if (readable := readable_rows(delta_file, encoding)) is not None]

    def read() -> list[Delta]:
        with lock:
            return rows()

    return read


def _as_written(failures: pd.DataFrame, text: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Value failures of columns held in another form (decimals, dates...) show the cell as the file wrote it."""
    if failures.empty or encoding.plain:
        return failures
    encoded = failures["column"].map(lambda name: name in encoding.codecs and encoding.codecs[name].column.logical_type != "integer")
    for at in failures.index[encoded.fillna(False).astype(bool)]:
        failures.at[at, "value"] = text.at[int(failures.at[at, "row"]), failures.at[at, "column"]]
    return failures


def _unreported_cells(bad_cells: pd.DataFrame, text_failures: pd.DataFrame, file_name: str, encoding: Encoding) -> pd.DataFrame:
    """Cells the text pass let through that still hold no value of their type (``5\\n``, 99999999999999999999).

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
         "check": [literal_check(encoding.codecs[name].column) for name in missing["column"]], "value": missing["value"].to_numpy()}
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
    row = pd.to_numeric(failure_cases["index"], errors="coerce").astype("Int64")
    # Frame-wide checks (e.g. not_empty) name the schema as their column and have no cell value.
    frame_wide = failure_cases["schema_context"].astype(str).eq("DataFrameSchema")
    column = failure_cases["column"].astype(object).where(~frame_wide, None)
    value = failure_cases["failure_case"].astype(str).astype(object).where(~frame_wide, None)
    return pd.DataFrame(
        {"file": file_name, "row": row, "column": column, "check": check.astype(object), "value": value}
    ).astype({"file": object})
