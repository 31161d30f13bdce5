"""The feed's shared types, below every stage: its shape, a delta file, a raw table, a delta, lineage and failures.

Every stage and engine builds on these; none of them imports a stage. Failures are one tidy frame
with ``FAILURE_COLUMNS`` (file, row, column, check, value), built and ordered by the helpers here.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd



@dataclass(frozen=True)
class Shape:
    """A feed's columns by role, as its contract declares them (``checks.contract.Contract.shape``).

    ``values`` are every column but the key and the version, in the contract's order: what a row
    says about its key. ``amount`` (one of them, or None) is the money the totals speak of.
    """

    names: tuple[str, ...]
    key: str
    version: str
    amount: str | None

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(name for name in self.names if name not in (self.key, self.version))

# Lineage: the delta file and line each row of the feed comes from.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
LINEAGE_COLUMNS: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW)

# The per-user table (``discrepancies.csv``): a user's rows side by side, each compared column ``c`` of the contract as
# ``expected_c``, ``platform_c`` and ``customer_c`` (``side_column``), the key as itself, and the table's own columns.
SIDES: tuple[str, ...] = ("expected", "platform", "customer")
PLATFORM_ROW = "platform_row"  # the platform file's line
PLATFORM_ROWS = "platform_rows"  # how many rows the platform holds for the user
PLATFORM_SOURCE_FILE = "platform_source_file"  # the delta file and line the platform's row came from
PLATFORM_SOURCE_ROW = "platform_source_row"
CLASS = "class"
DETAIL = "detail"
SPEND_GAP = "spend_gap"
CUSTOMER_CLASS = "customer_class"
PER_USER_COLUMNS: tuple[str, ...] = (
    *LINEAGE_COLUMNS, PLATFORM_ROW, PLATFORM_SOURCE_FILE, PLATFORM_SOURCE_ROW, PLATFORM_ROWS, CLASS, DETAIL, SPEND_GAP,
    CUSTOMER_CLASS,
)
FAILURE_COLUMNS: tuple[str, ...] = ("file", "row", "column", "check", "value")


@dataclass(frozen=True)
class DeltaFile:
    """One delta file of a feed; ``number`` orders the feed (``delta10`` after ``delta9``)."""

    path: Path
    number: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class RawTable:
    """A CSV file read as text with its header normalised; the index is the file line number."""

    name: str
    frame: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Delta:
    """A delta that passed validation: its file name, its place in the feed, its rows as int64 (or int32, see ``checks.engines``)."""

    name: str
    number: int
    frame: pd.DataFrame
    # Whether validation proved that no key repeats in the delta (its contract's unique key held): checked once.
    unique_keys: bool = False

    @classmethod
    def validated(cls, name: str, number: int, frame: pd.DataFrame) -> Delta:
        """A delta that passed validation: every contract's key is unique (``checks.contract``), so no key repeats in
        it and the diagnosis need not look again (it did, 0.16 CPU-s for 10 M accounts)."""
        return cls(name=name, number=number, frame=frame, unique_keys=True)


def stack_feed(deltas: Sequence[Delta], names: Sequence[str] | None = None) -> pd.DataFrame:
    """All rows of the feed in feed order (the contract's columns ``names``; default: the first delta's columns),
    each with the file and line it came from."""
    if names is None:
        names = list(deltas[0].frame.columns) if deltas else []
    if not deltas:
        return pd.DataFrame({column: pd.Series(dtype="int64") for column in names}).assign(
            **{SOURCE_FILE: pd.Series(dtype=object), SOURCE_ROW: pd.Series(dtype="int64")}
        )
    parts = [
        delta.frame.loc[:, list(names)].assign(
            **{SOURCE_FILE: delta.name, SOURCE_ROW: delta.frame.index.to_numpy(dtype="int64")}
        )
        for delta in deltas
    ]
    return pd.concat(parts, ignore_index=True)


def empty_failures() -> pd.DataFrame:
    """A failures frame with no rows and the fixed columns."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in FAILURE_COLUMNS})


def order_failures(failures: pd.DataFrame) -> pd.DataFrame:
    """A delta's failures in reading order: by row (frame-wide ones first), column, check."""
    return failures.sort_values(["row", "column", "check"], na_position="first", ignore_index=True)


def concat_failures(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The non-empty failure frames one after the other, or an empty failures frame."""
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty_failures()


def failure_rows(files: Any, rows: Any, *, column: str, check: str, values: Any) -> pd.DataFrame:
    """Failures of one feed-wide check as ``FAILURE_COLUMNS``: one row per offending line (every engine's shape)."""
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


def side_column(side: str, column: str) -> str:
    """The per-user table's column of a side's (``SIDES``) value of a contract column: ``platform_plan``."""
    return f"{side}_{column}"


def written_name_clashes(names: Sequence[str], key: str) -> dict[str, str]:
    """Contract columns an output would write under a name it gives a column of its own, each with that name: the
    lineage beside every column of the deduplicated table, and the per-user table's own columns beside the key and
    the sides' columns (a ``class`` column's customer value would be ``customer_class``, the customer's class)."""
    clashes = {}
    for name in names:
        if name == key or name in LINEAGE_COLUMNS:
            written = [name] if name in PER_USER_COLUMNS else []
        else:
            written = [side_column(side, name) for side in SIDES if side_column(side, name) in PER_USER_COLUMNS]
        if written:
            clashes[name] = written[0]
    return clashes
