"""What every engine builds the same way: failure frames with the pandas path's dtypes, header reading, tie messages.

The engines compute failures in their own way and hand the offending cells here, so that the
frames they return compare equal, dtype for dtype, with those of ``checks.validate`` and ``checks.crossfeed``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from checks.feed import COLUMNS
from checks.validate import FAILURE_COLUMNS, empty_failures

IS_INTEGER = "is_integer"
NOT_EMPTY = "not_empty"
FIELD_UNIQUENESS = "field_uniqueness"
# The value checks of ``checks.validate.DeltaModel`` by the names Pandera gives them.
VALUE_CHECKS: dict[str, str] = {
    "user_id": "greater_than(0)",
    "total_spend": "greater_than_or_equal_to(0)",
    "count_saved_items": "greater_than_or_equal_to(0)",
    "loyalty_credits": "greater_than_or_equal_to(0)",
    "batch_id": "greater_than_or_equal_to(0)",
}

_UTF8_BOM = b"\xef\xbb\xbf"
_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Header:
    """A delta's header as the fast engines read it: the normalised names and the warnings they cost."""

    names: tuple[str, ...]
    warnings: tuple[str, ...]


def read_header(path: Path) -> Header | None:
    """The header of ``path`` when a fast engine can read the file itself, else None.

    None means "something unusual" (no header, UTF-16, a missing or duplicated column, an undecodable
    first line): the caller then hands the file to the pandas path, which raises the exact error.
    """
    try:
        with open(path, "rb") as handle:
            start = handle.read(_HEADER_BYTES)
    except OSError:
        return None
    warnings = []
    if start.startswith(_UTF8_BOM):
        start = start[len(_UTF8_BOM):]
        warnings.append("UTF-8 byte-order mark ignored")
    first_line, newline, _ = start.partition(b"\n")
    if not newline:
        return None
    try:
        header = next(csv.reader(io.StringIO(first_line.decode("utf-8"))))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None
    names = tuple(name.strip().lower() for name in header)
    if len(names) != len(set(names)) or set(names) != set(COLUMNS):
        return None
    warnings.extend(f"column {original!r} read as {name!r}" for original, name in zip(header, names) if original != name)
    return Header(names=names, warnings=tuple(warnings))


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
    failures = pd.concat([text_failures, value_failures], ignore_index=True)
    return failures.sort_values(["row", "column", "check"], na_position="first", ignore_index=True)


def feed_failures(
    files: Sequence[str], rows: Sequence[int], *, column: str, check: str, values: Sequence[str]
) -> pd.DataFrame:
    """Failures of one feed-wide check, typed like ``checks.crossfeed``'s."""
    return pd.DataFrame(
        {
            "file": np.asarray(files, dtype=object),
            "row": np.asarray(rows, dtype="int64"),
            "column": column,
            "check": check,
            "value": np.asarray(values, dtype=object),
        },
        columns=list(FAILURE_COLUMNS),
    )


def combine_feed_failures(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The feed-wide checks' failures in the order ``checks.crossfeed.check_feed`` returns them."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return empty_failures()
    return pd.concat(frames, ignore_index=True)


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


def describe_ties(users: int, first_user: int, batch: int, places: Sequence[tuple[str, int]]) -> str:
    """The message of ``checks.dedup``'s DeduplicationError for tied latest rows."""
    where = " and ".join(f"{file} row {row}" for file, row in places)
    return (
        f"{users} user(s) have two rows with their largest batch_id, so the latest row is ambiguous; "
        f"e.g. user {first_user} has batch_id {batch} in {where}"
    )
