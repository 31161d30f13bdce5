"""Rows kept in Spark: a delta kept in the Spark frame it was validated in, deltas stacked as one frame, a table
(the platform's, the customer's, the deduplicated feed) whose pandas frame is collected only when asked for, and
failures (a delta's, the feed's) counted, shown and written where they are; and each row's place in a frame
(``positioned``: the suites' table order, the dictionaries' numbering).

Below both the Spark engine and its reconciliation, which stack the same frames.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from checks.engines.spark_session import session
from checks.model import FAILURE_COLUMNS, Delta, empty_failures
from checks.results import FailuresElsewhere, OrderedTableElsewhere

ROW = "row"  # each row's line number in its file (the header is line 1)
POSITION = "__position"  # a row's place in a frame as handed over: "table order" on Spark
_ID, _ROW_BITS = "__id", 33  # monotonically_increasing_id: the partition's index above the low 33 bits
FILE_INDEX = "file_index"  # each row's delta's place in the feed


class SparkDelta(Delta):
    """A delta that passed validation with its rows kept in Spark (``table``: the line number ``row`` and the
    contract's columns); ``frame`` collects them to the driver only when a caller asks for pandas rows (the fault
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


class SparkTable(OrderedTableElsewhere):
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


# A failure's place in the pandas path's order: its part (each file's validation, then the checks across the feed),
# its check's rank among the feed's checks, up to four integers (a delta's line; a file's place and line; a key,
# version, file and line), then its column and check.
PLACE = ("_part", "_rank", "_s1", "_s2", "_s3", "_s4")
_ORDER = (*PLACE, "column", "check")
_TEXT = ("file", "column", "check", "value")


class SparkFailures(FailuresElsewhere):
    """Failures kept in Spark (``rows``: ``FAILURE_COLUMNS`` and their ``PLACE``, cached there by their maker), and
    how many: the count, the first rows and ``failures.csv`` come from there, never the whole rows to the driver.
    ``dtypes`` are the pandas path's column types, as its frames concatenate (``DELTA_DTYPES``, ``FEED_DTYPES``)."""

    def __init__(self, rows: Any, count: int, *, dtypes: dict[str, str]) -> None:
        self.rows = rows
        self._count = count
        self.dtypes = dtypes

    def __len__(self) -> int:
        return self._count

    def head(self, rows: int) -> pd.DataFrame:
        return self._collect(self.rows.orderBy(*_ORDER).limit(rows))

    @property
    def frame(self) -> pd.DataFrame:
        return self._collect(self.rows.orderBy(*_ORDER))

    def write_csv(self, path: Path) -> Path:
        from checks.engines import spark_files
        from checks.writers import atomic_write_frame

        if not self._count:  # the header line alone, without a Spark job
            return atomic_write_frame(path, empty_failures())
        return spark_files.write_csv(self.rows.orderBy(*_ORDER).select(*_written_cells()), path)

    def joined(self, parts: Sequence[pd.DataFrame | FailuresElsewhere]) -> SparkFailures:
        from pyspark.sql import functions as F

        held = [(index, part) for index, part in enumerate(parts) if len(part)]
        if not held:
            return SparkFailures(self.rows.limit(0), 0, dtypes=self.dtypes)
        rows = union([
            (part.rows if isinstance(part, SparkFailures) else failures_in_spark(part)).withColumn("_part", F.lit(index).cast("bigint"))
            for index, part in held
        ])
        types = [part.dtypes if isinstance(part, SparkFailures) else {name: str(part[name].dtype) for name in FAILURE_COLUMNS}
                 for _, part in held]
        dtypes = {name: _concatenated({kinds[name] for kinds in types}) for name in FAILURE_COLUMNS}
        return SparkFailures(rows, sum(len(part) for _, part in held), dtypes=dtypes)

    def _collect(self, rows: Any) -> pd.DataFrame:
        if not self._count:
            return empty_failures()
        table = rows.select(*FAILURE_COLUMNS).toArrow()
        # Python strings and ints first, missing as None, then the pandas path's types.
        return pd.DataFrame({
            name: pd.Series(table.column(name).to_pylist(), dtype="Int64" if name == "row" else object).astype(self.dtypes[name])
            for name in FAILURE_COLUMNS
        })

    def __repr__(self) -> str:  # a frame's would collect the rows
        return f"SparkFailures(count={self._count})"

    def __reduce__(self) -> tuple[Any, ...]:  # a Spark frame cannot leave its session: another process gets the rows
        return _identity, (self.frame,)


# The pandas path's types of a delta's failures (``checks.engines._frames.validation_failures``; lines ``object``
# when only one of its passes failed cells) and of the failures across the feed (``checks.model.failure_rows``).
DELTA_DTYPES = {"file": "object", "row": "Int64", "column": "object", "check": "object", "value": "object"}
FEED_DTYPES = {"file": "str", "row": "int64", "column": "str", "check": "str", "value": "str"}


def _concatenated(dtypes: set[str]) -> str:
    """The type ``concat_failures`` gives a column of frames with these types."""
    if len(dtypes) == 1:
        return dtypes.pop()
    return "Int64" if dtypes <= {"Int64", "int64"} else "object"


def failures_in_spark(failures: pd.DataFrame, *, rank: int = 0) -> Any:
    """A failures frame the driver holds (a delta the pandas path validated; a check across the feed of rank ``rank``
    it worded) as Spark rows in its order: one Arrow table handed over, each row's place its position."""
    import numpy as np
    import pyarrow as pa

    columns = {name: pa.array(failures[name].astype(object).where(failures[name].notna(), None).tolist(), type=pa.string())
               for name in _TEXT}
    rows = pa.array(pd.array(failures["row"], dtype="Int64"), type=pa.int64())
    place = {name: pa.array(np.zeros(len(failures), dtype="int64")) for name in PLACE}
    place["_rank"] = pa.array(np.full(len(failures), rank, dtype="int64"))
    place["_s1"] = pa.array(np.arange(len(failures), dtype="int64"))
    table = pa.table({"file": columns["file"], "row": rows, **{name: columns[name] for name in _TEXT[1:]}, **place})
    return session().createDataFrame(table)


def _written_cells() -> list[Any]:
    """``FAILURE_COLUMNS`` as ``checks.writers`` writes text: a cell that could run as a spreadsheet formula after
    ``'``, an empty one as nothing (``checks.writers.neutralise_formulas``)."""
    from pyspark.sql import functions as F

    from checks.engines.spark_files import safe_text

    return [safe_text(F.col(name)).alias(name) if name in _TEXT else F.col(name) for name in FAILURE_COLUMNS]


def to_pandas_int64(typed: Any) -> pd.DataFrame:
    """A validated delta's Spark rows (the line number ``row`` and the contract's columns) on the driver, in line
    order, as int64 columns indexed by line."""
    columns = [column for column in typed.columns if column != ROW]
    frame = typed.orderBy(ROW).select(*columns).toArrow().to_pandas().astype("int64")
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


@contextmanager
def positioned(table: Any, columns: Sequence[str]) -> Iterator[Any]:
    """``table``'s ``columns`` with each row's place in table order (0, 1, ...) as ``POSITION``.

    A row's monotonically increasing id is its partition's index (high bits) and its place in the partition
    (low bits); one small job counts each partition's rows, which turns the ids into consecutive positions.
    The ids are cached until the context ends, so that every job sees the same rows in the same partitions.
    """
    from pyspark.sql import functions as F

    identified = table.select(*columns, F.monotonically_increasing_id().alias(_ID)).cache()
    try:
        partition = F.shiftright(F.col(_ID), _ROW_BITS)
        counts = dict(identified.groupBy(partition.alias("partition")).count().collect())
        starts, total = [], 0
        for index in range(max(counts, default=-1) + 1):
            starts.append(total)
            total += counts.get(index, 0)
        start = F.element_at(F.array(*[F.lit(value) for value in starts or [0]]), (partition + 1).cast("int"))
        yield identified.withColumn(POSITION, (start + F.col(_ID).bitwiseAND((1 << _ROW_BITS) - 1)).cast("long")).drop(_ID)
    finally:
        identified.unpersist()
