"""Rows kept in Spark: a delta kept in the Spark frame it was validated in, deltas stacked as one frame, and a table
(the platform's, the customer's, the deduplicated feed) whose pandas frame is collected only when asked for.

Below both the Spark engine and its reconciliation, which stack the same frames.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from checks.encoding import default_encoding
from checks.model import Delta
from checks.results import TableElsewhere

ROW = "row"  # each row's line number in its file (the header is line 1)
FILE_INDEX = "file_index"  # each row's delta's place in the feed
# The first customer's columns: the deltas Spark validates itself (``checks.rules.first_customer_rules``).
COLUMNS = default_encoding().contract.names


class SparkDelta(Delta):
    """A delta that passed validation with its rows kept in Spark (``table``: the line number ``row`` and the first
    customer's columns); ``frame`` collects them to the driver only when a caller asks for pandas rows (the fault
    search), once."""

    table: Any

    def __init__(self, name: str, number: int, table: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "table", table)

    @property
    def frame(self) -> pd.DataFrame:  # type: ignore[override]
        if "_frame" not in self.__dict__:
            object.__setattr__(self, "_frame", to_pandas_int64(self.table))
        return self.__dict__["_frame"]

    def __repr__(self) -> str:  # the dataclass's would collect the rows
        return f"SparkDelta(name={self.name!r}, number={self.number})"

    def __reduce__(self) -> tuple[Any, ...]:  # a Spark frame cannot leave its session: another process gets the rows
        return Delta, (self.name, self.number, self.frame)


class SparkTable(TableElsewhere):
    """A table with its rows kept in Spark (``table``, its rows in the order of ``order``); ``frame`` collects them to
    the driver through ``collect``, once, for the code that still reads pandas frames (the fault search)."""

    def __init__(self, table: Any, collect: Callable[[Any], pd.DataFrame], *, order: str) -> None:
        self.table = table
        self.order = order
        self._collect = collect
        self._frame: pd.DataFrame | None = None

    def in_order(self, columns: Sequence[str]) -> Any:
        return self.table.orderBy(self.order).select(*columns)

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self._collect(self.table)
        return self._frame

    def __reduce__(self) -> tuple[Any, ...]:  # a Spark frame cannot leave its session: another process gets the rows
        return _identity, (self.frame,)


def _identity(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def to_pandas_int64(typed: Any) -> pd.DataFrame:
    """A validated delta's Spark rows on the driver, in line order, as int64 columns indexed by line."""
    frame = typed.orderBy(ROW).select(*COLUMNS).toArrow().to_pandas().astype("int64")
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


def union(parts: Sequence[Any]) -> Any:
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result


def stacked(tables: Sequence[Any], columns: Sequence[str], *, file: str = FILE_INDEX, line: str = ROW) -> Any:
    """Deltas' Spark frames as one, each row with its delta's place in the feed (``file``, int) and its line (``line``)."""
    from pyspark.sql import functions as F

    return union([
        table.select(*columns, F.col(ROW).alias(line)).withColumn(file, F.lit(index)) for index, table in enumerate(tables)
    ])
