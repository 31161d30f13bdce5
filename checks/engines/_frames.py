"""What every engine builds the same way: failure frames with the pandas path's dtypes, header reading, earlier batches, ties.

The engines compute failures in their own way and hand the offending cells here, so that the
frames they return compare equal, dtype for dtype, with those of ``checks.validate`` and ``checks.crossfeed``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks.feed import discover_deltas, spelled_as_contract
from checks.encoding import default_encoding
from checks.model import DeltaFile, empty_failures, order_failures
from checks.results import DeltaValidation
from checks.rules import BOM_IGNORED, column_renamed

# The first customer's columns: the form this module's fast path is written for (checks.rules.first_customer_rules).
COLUMNS = default_encoding().contract.names

# Integer columns whose values all lie in [-NARROW_LIMIT, NARROW_LIMIT) are held as int32 by the Polars paths
# (``polars._narrowed``, ``polars_contract``); the writers widen them back to int64.
NARROW_LIMIT = 2**30

_UTF8_BOM = b"\xef\xbb\xbf"
HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Header:
    """A delta's header as the fast engines read it: the normalised names and the warnings they cost."""

    names: tuple[str, ...]
    warnings: tuple[str, ...]


def read_header(path: Path, columns: tuple[str, ...] = COLUMNS) -> Header | None:
    """The header of ``path`` when a fast engine can read the file itself, else None.

    None means "something unusual" (no header, UTF-16, a missing or duplicated column, an undecodable
    first line): the caller then hands the file to the pandas path, which raises the exact error.
    """
    try:
        with open(path, "rb") as handle:
            start = handle.read(HEADER_BYTES)
    except OSError:
        return None
    return header_of(start, columns)


def header_of(start: bytes, columns: tuple[str, ...] = COLUMNS) -> Header | None:
    """``read_header`` of a file's first ``HEADER_BYTES`` (an engine may read them itself); ``columns`` the contract's."""
    warnings = []
    if start.startswith(_UTF8_BOM):
        start = start[len(_UTF8_BOM):]
        warnings.append(BOM_IGNORED)
    first_line, newline, _ = start.partition(b"\n")
    if not newline:
        return None
    try:
        header = next(csv.reader(io.StringIO(first_line.decode("utf-8"))))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None
    names = tuple(spelled_as_contract(header, columns))
    if len(names) != len(set(names)) or set(names) != set(columns):
        return None
    warnings.extend(column_renamed(original, name) for original, name in zip(header, names) if original != name)
    return Header(names=names, warnings=tuple(warnings))


def validate_folder(
    directory: str | Path,
    read_and_validate: Callable[[DeltaFile], tuple[DeltaValidation, Any | None]],
    on_file: Callable[[DeltaFile], None] | None = None,
    discover: Callable[[str | Path], list[DeltaFile]] = discover_deltas,
) -> tuple[list[DeltaValidation], list[Any]]:
    """Validate every delta of a feed folder in order; the engine's tables of those that passed."""
    validations, tables = [], []
    for delta_file in discover(directory):
        if on_file is not None:
            on_file(delta_file)
        validation, table = read_and_validate(delta_file)
        validations.append(validation)
        if table is not None:
            tables.append(table)
    return validations, tables


def validation_failures(
    file_name: str, rows: Sequence[int], columns: Sequence[str], checks: Sequence[str], values: Sequence[str | None]
) -> pd.DataFrame:
    """Cell failures of one delta, typed like ``checks.validate``'s tidy Pandera failures."""
    if len(rows) == 0:
        return empty_failures()
    return pd.DataFrame(
        {
            "file": file_name,
            "row": pd.array(np.asarray(rows, dtype="int64"), dtype="Int64"),
            "column": pd.Series(list(columns), dtype=object),
            "check": pd.Series(list(checks), dtype=object),
            "value": pd.Series(list(values), dtype=object),
        }
    ).astype({"file": object})


def combine_validation_failures(text_failures: pd.DataFrame, value_failures: pd.DataFrame) -> pd.DataFrame:
    """Both passes' failures in one frame, ordered as ``checks.validate.validate_delta`` orders them."""
    return order_failures(pd.concat([text_failures, value_failures], ignore_index=True))


def earlier_batches(names: Sequence[str], maxima: Sequence[int]) -> tuple[list[int | None], list[str | None]]:
    """For each file, the largest batch_id of the files before it and the last file that set it."""
    bounds: list[int | None] = []
    setters: list[str | None] = []
    running: int | None = None
    setter: str | None = None
    for name, maximum in zip(names, maxima):
        bounds.append(running)
        setters.append(setter)
        if running is None or maximum >= running:
            # ``>=``: when two files share the running maximum, the later one is named, as in crossfeed.
            running, setter = maximum, name
    return bounds, setters


