"""The suite's full-table figures on Spark: counts, sums, first unexpected rows and the evidence rows, in Spark SQL.

``checks.suites`` runs Great Expectations; on the Spark engine it asks this module for what the
Polars code computes on the default engine: each table joined with each key's latest version in
the feed, every map expectation's considered and unexpected counts, the aggregates, and the table
positions of the rows GX must see so that its examples are the whole table's. Nothing here
imports great_expectations; expectations arrive as plain ``MapCheck`` tuples.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from checks.contract_suite import latest_column
from checks.encoding import default_encoding
from checks.engines.spark_session import session

POSITION = "__position"  # the row's place in the table as handed over: "table order" on Spark
# The first customer's names, the default of ``join_latest``.
_KEY = default_encoding().contract.shape.key
FEED_LATEST_BATCH = latest_column(default_encoding().contract)


class MapCheck(NamedTuple):
    """A map expectation as the figures need it: its check name, type and resolved kwargs."""

    check: str
    kind: str
    kwargs: dict


@dataclass(frozen=True)
class SparkFigures:
    """One table's figures: rows, (considered, unexpected) per map check, sums, and the first unexpected positions."""

    rows: int
    counts: dict[str, tuple[int, int]]
    sums: dict[str, Any]
    first_unexpected: dict[str, list[int]]


def table_frame(frame: pd.DataFrame, columns: Sequence[str]) -> Any:
    """``frame``'s ``columns`` as a Spark DataFrame with each row's position, handed over as one Arrow table."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame.loc[:, list(columns)].reset_index(drop=True), preserve_index=False)
    # An engine holds an int64 column as int32 when every value fits: Spark must see the file's LongType.
    table = table.cast(pa.schema([
        field.with_type(pa.int64()) if field.type == pa.int32() else field for field in table.schema
    ]))
    table = table.append_column(POSITION, pa.array(np.arange(len(frame), dtype=np.int64)))
    return session().createDataFrame(table)


def join_latest(table: Any, latest_batch: pd.Series, *, key: str = _KEY, latest: str = FEED_LATEST_BATCH) -> Any:
    """``table`` with each row's latest version in the feed as ``latest`` (null for a ``key`` the feed lacks), in
    table order. Integers are int64; other versions (dates, timestamps) keep the type the suites gave them.

    ``latest_batch`` must have each key once (the caller checks): a repeated key would repeat rows.
    """
    import pyarrow as pa

    versions = latest_batch.to_numpy()
    integers = pd.api.types.is_integer_dtype(latest_batch.dtype)
    latest_table = pa.table({
        key: pa.array(latest_batch.index.to_numpy()),
        latest: pa.array(versions, type=pa.int64()) if integers else pa.array(versions),
    })
    latest_frame = session().createDataFrame(latest_table)
    # Same type on both sides, or Spark widens one of them and the join may compare as double.
    latest_frame = latest_frame.withColumn(key, latest_frame[key].cast(table.schema[key].dataType))
    return table.join(latest_frame, on=key, how="left").select(*table.columns, latest)


def figures(joined: Any, map_checks: Sequence[MapCheck], sum_columns: dict[str, str], *, partial: int) -> SparkFigures:
    """Every count and sum in one Spark job, then the first ``partial`` unexpected positions of each map check in another."""
    from pyspark.sql import functions as F

    flagged = joined.select(
        "*", *[_unexpected(joined, check).alias(_flag(index)) for index, check in enumerate(map_checks)]
    ).cache()
    try:
        aggregates = [F.count(F.lit(1)).alias("rows")]
        for index, check in enumerate(map_checks):
            aggregates += [
                F.count_if(_considered(check)).alias(f"considered{index}"),
                F.count_if(F.col(_flag(index))).alias(f"unexpected{index}"),
            ]
        aggregates += [F.coalesce(F.sum(column), F.lit(0)).alias(f"sum_{check}") for check, column in sum_columns.items()]
        found = flagged.agg(*aggregates).first().asDict()
        first: dict[str, list[int]] = {check.check: [] for check in map_checks}
        wanted = [index for index, check in enumerate(map_checks) if found[f"unexpected{index}"]]
        if wanted:
            parts = [
                flagged.filter(F.col(_flag(index))).select(F.lit(index).alias("index"), POSITION)
                .orderBy(POSITION).limit(partial)
                for index in wanted
            ]
            for row in _union(parts).collect():
                first[map_checks[row["index"]].check].append(row[POSITION])
        first = {check: sorted(positions) for check, positions in first.items()}
    finally:
        flagged.unpersist()
    return SparkFigures(
        rows=int(found["rows"]),
        counts={check.check: (int(found[f"considered{index}"]), int(found[f"unexpected{index}"]))
                for index, check in enumerate(map_checks)},
        sums={check: found[f"sum_{check}"] for check in sum_columns},
        first_unexpected=first,
    )


def first_repeats(joined: Any, column: str, positions: Sequence[int]) -> list[int]:
    """Positions of the first two rows of each value found at ``positions``: each listed repeat's partner is then seen."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    values = [row[column] for row in joined.filter(F.col(POSITION).isin(list(positions))).select(column).collect()]
    values = [value for value in values if value is not None]
    if not values:
        return []
    order = Window.partitionBy(column).orderBy(POSITION)
    repeats = (
        joined.filter(F.col(column).isin(values))
        .withColumn("__seen", F.row_number().over(order))
        .filter(F.col("__seen") <= 2)
        .select(POSITION)
    )
    return [row[POSITION] for row in repeats.collect()]


def evidence(joined: Any, positions: Iterable[int]) -> Any:
    """The rows at ``positions`` in table order, collected and handed back as one small single-partition frame.

    GX computes each metric with its own Spark job: on a local frame none of them re-reads the table.
    """
    from pyspark.sql import functions as F

    rows = joined.filter(F.col(POSITION).isin(sorted(positions))).toArrow()
    rows = rows.take(np.argsort(rows.column(POSITION).to_numpy(), kind="stable")).drop_columns([POSITION])
    return session().createDataFrame(rows, schema=joined.drop(POSITION).schema).coalesce(1)


def whole(joined: Any) -> Any:
    """The joined table without its positions, for GX to validate row by row (when the figures do not apply)."""
    from pyspark.sql import functions as F

    return joined.orderBy(F.col(POSITION)).drop(POSITION)


def _flag(index: int) -> str:
    return f"__unexpected{index}"


def _considered(check: MapCheck) -> Any:
    """The rows GX counts for ``check``: both values present for a pair, a present value otherwise, every row for not-null."""
    from pyspark.sql import functions as F

    kwargs = check.kwargs
    if "column_A" in kwargs:  # ignore_row_if == either_value_is_missing (checks.suites decides when this applies)
        return F.col(kwargs["column_A"]).isNotNull() & F.col(kwargs["column_B"]).isNotNull()
    if check.kind == "expect_column_values_to_not_be_null":
        return F.lit(True)
    return F.col(kwargs["column"]).isNotNull()


def _unexpected(joined: Any, check: MapCheck) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    kwargs = check.kwargs
    considered = _considered(check)
    if "column_A" in kwargs:
        return considered & (F.col(kwargs["column_A"]) != F.col(kwargs["column_B"]))
    column = F.col(kwargs["column"])
    if check.kind == "expect_column_values_to_not_be_null":
        return column.isNull()
    if check.kind == "expect_column_values_to_be_unique":
        return considered & (F.count(F.lit(1)).over(Window.partitionBy(kwargs["column"])) > 1)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inside = F.lit(True)
    if low is not None:
        inside = inside & (column > F.lit(low) if kwargs.get("strict_min") else column >= F.lit(low))
    if high is not None:
        inside = inside & (column < F.lit(high) if kwargs.get("strict_max") else column <= F.lit(high))
    return considered & ~inside


def _union(parts: Sequence[Any]) -> Any:
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result
