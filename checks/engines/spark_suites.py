"""The suite's full-table figures on Spark: counts, sums, first unexpected rows and the evidence rows, in Spark SQL.

``checks.suites`` asks this module, for a table held as a Spark DataFrame, what the Polars code computes on a
pandas one: the table joined with each key's latest version in the feed, every map expectation's considered
and unexpected counts, the aggregates, and the table positions of the rows GX must see so that its examples
are the whole table's. Only those figures and the evidence rows come to the driver. Nothing here imports
great_expectations; expectations arrive as plain ``MapCheck`` tuples.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from checks.contract_suite import latest_column
from checks.encoding import NULL, Encoding, default_encoding, exact_decimal
from checks.engines.spark_deltas import POSITION
from checks.engines.spark_session import session

# The first customer's names, the default of ``join_latest``.
_KEY, _VERSION = default_encoding().contract.shape.key, default_encoding().contract.shape.version
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
    positions: int  # the table's rows: fewer than ``rows`` when a key repeats in the feed's latest versions
    with_nulls: frozenset[str]  # the columns with a missing value
    counts: dict[str, tuple[int, int]]
    sums: dict[str, Any]
    first_unexpected: dict[str, list[int]]


def join_latest(
    table: Any, latest_batch: pd.Series | Any, *, key: str = _KEY, version: str = _VERSION, latest: str = FEED_LATEST_BATCH
) -> Any:
    """``table`` with each row's latest version in the feed as ``latest`` (null for a ``key`` the feed lacks).
    Integers are int64; other versions (dates, timestamps) keep the type the suites gave them.

    ``latest_batch`` is a pandas Series (index ``key``) or a Spark DataFrame with the ``key`` and ``version``
    columns (the deduplicated table). It must have each key once: a repeated key repeats rows, which ``figures``
    reports as more rows than positions.
    """
    if isinstance(latest_batch, pd.Series):
        import pyarrow as pa

        versions = latest_batch.to_numpy()
        integers = pd.api.types.is_integer_dtype(latest_batch.dtype)
        latest_frame = session().createDataFrame(pa.table({
            key: pa.array(latest_batch.index.to_numpy()),
            latest: pa.array(versions, type=pa.int64()) if integers else pa.array(versions),
        }))
    else:
        latest_frame = latest_batch.select(key, latest_batch[version].alias(latest))
    # Same type on both sides, or Spark widens one of them and the join may compare as double.
    latest_frame = latest_frame.withColumn(key, latest_frame[key].cast(table.schema[key].dataType))
    return table.join(latest_frame, on=key, how="left").select(*table.columns, latest)


def computing_table(table: Any, encoding: Encoding) -> Any:
    """``table`` (in computing form) as its figures are computed, as ``checks.suites.evidence`` computes them in Polars:
    a column held as itself as it is, any other's empty cell (``NULL``) null, an exact decimal as the float GX reads."""
    from pyspark.sql import functions as F

    converted = []
    for name in table.columns:
        if name not in encoding.codecs or encoding.held_as_itself(name):
            converted.append(F.col(name))
            continue
        value, decimal = F.when(F.col(name) != NULL, F.col(name)), encoding.codecs[name].column.decimal
        converted.append((value if decimal is None else value / 10 ** decimal[1]).alias(name))
    return table.select(*converted)


def decimal_sums(table: Any, encoding: Encoding, columns: Iterable[str]) -> dict[str, Decimal]:
    """The sum of each exact decimal column of ``columns``, to the last decimal, from its computing form (as
    ``checks.suites.figures.decimal_sums``): one Spark job, none without such a column."""
    from pyspark.sql import functions as F

    wanted = set(columns)
    decimals = [column for column in encoding.contract.columns if column.decimal is not None and column.name in wanted]
    if not decimals:
        return {}
    found = table.agg(*[
        F.coalesce(F.sum(F.when(F.col(column.name) != NULL, F.col(column.name))), F.lit(0)).alias(column.name)
        for column in decimals
    ]).first()
    return {column.name: exact_decimal(found[column.name], column) for column in decimals}


def figures(
    joined: Any, map_checks: Sequence[MapCheck], sum_columns: dict[str, str], *, partial: int,
    encoding: Encoding | None = None,
) -> SparkFigures:
    """Every count and sum in one Spark job, then the first ``partial`` unexpected positions of each map check in another.

    With the run's ``encoding``, a set or a pattern on a text column is tested once per text of its dictionary in
    Spark (``SparkDictionary.picked``, as GX tests the text), and the codes it picks (those in the set, those the
    pattern fails) are joined to the rows."""
    from pyspark.sql import functions as F

    marked, markers = joined, {}
    for index, check in enumerate(map_checks):
        codes = None if encoding is None else _picked_codes(check, encoding)
        if codes is not None:
            markers[index] = f"__picked{index}"
            picked = codes.select(F.col("_code").alias(markers[index]))
            marked = marked.join(picked, F.col(check.kwargs["column"]) == F.col(markers[index]), "left")
    flagged = marked.select(
        *joined.columns,
        *[_unexpected(marked, check, markers.get(index)).alias(_flag(index)) for index, check in enumerate(map_checks)],
    ).cache()
    try:
        aggregates = [F.count(F.lit(1)).alias("rows"), F.max(POSITION).alias("last")]
        aggregates += [F.count_if(F.col(column).isNull()).alias(f"nulls_{column}") for column in _columns(joined)]
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
        positions=0 if found["last"] is None else int(found["last"]) + 1,
        with_nulls=frozenset(column for column in _columns(joined) if found[f"nulls_{column}"]),
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


def evidence(joined: Any, positions: Iterable[int], with_nulls: frozenset[str]) -> pd.DataFrame:
    """The rows at ``positions``, collected in table order (the only rows of the table the driver receives); an
    integer column the table has a missing value in as pandas' nullable Int64, as a whole table would be."""
    from pyspark.sql import functions as F

    rows = joined.filter(F.col(POSITION).isin(sorted(positions))).toArrow()
    rows = rows.take(np.argsort(rows.column(POSITION).to_numpy(), kind="stable")).drop_columns([POSITION])
    return _to_pandas(rows, with_nulls)


def collected(table: Any) -> pd.DataFrame:
    """A positioned table whole on the driver, in table order: for GX row by row, when the figures do not apply."""
    from pyspark.sql import functions as F

    rows = table.orderBy(F.col(POSITION)).drop(POSITION).toArrow()
    return _to_pandas(rows, frozenset(field.name for field, column in zip(rows.schema, rows.columns) if column.null_count))


def latest_versions(latest_batch: Any, *, key: str, version: str) -> pd.Series:
    """A Spark frame's ``version`` by ``key`` as the pandas Series the suites take (for a table held in pandas)."""
    rows = latest_batch.select(key, version).toArrow()
    return pd.Series(rows.column(version).to_numpy(), index=pd.Index(rows.column(key).to_numpy(), name=key), name=version)


def _to_pandas(rows: Any, with_nulls: frozenset[str]) -> pd.DataFrame:
    """Arrow rows as pandas: integers as int64, or as nullable Int64 in ``with_nulls`` (never through float)."""
    import pyarrow as pa

    return pd.DataFrame({
        field.name: column.to_pandas(types_mapper={field.type: pd.Int64Dtype()}.get)
        if field.name in with_nulls and pa.types.is_integer(field.type) else column.to_pandas()
        for field, column in zip(rows.schema, rows.columns)
    })


def _columns(joined: Any) -> list[str]:
    return [column for column in joined.columns if column != POSITION]


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


def _picked_codes(check: MapCheck, encoding: Encoding) -> Any | None:
    """For a set or a pattern on a text column, the codes ``_unexpected`` looks for (a Spark frame of ``_code``): those
    whose text is in the set, or those whose text the pattern fails, tested in Spark once per text
    (``SparkDictionary.picked``); None for any other check."""
    from checks.engines.spark_dictionary import SparkDictionary

    column = check.kwargs.get("column")
    codec = encoding.codecs.get(column) if column is not None else None
    if codec is None or codec.dictionary is None or check.kind not in _TEXT_TESTS:
        return None
    dictionary = SparkDictionary.of(codec.dictionary)
    if check.kind == "expect_column_values_to_match_regex":
        return dictionary.picked("contains", check.kwargs["regex"], failing=True)
    return dictionary.picked("in", tuple(check.kwargs["value_set"]), failing=False)


_TEXT_TESTS = frozenset({
    "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set", "expect_column_values_to_match_regex",
})


def _unexpected(joined: Any, check: MapCheck, picked: str | None = None) -> Any:
    """Whether a row is one ``check`` does not expect; ``picked``: the column marking a text column's rows whose code
    ``_picked_codes`` picked."""
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
    if picked is not None:  # a text column: in the set, or failing the pattern
        found = F.col(picked).isNotNull()
        return considered & (~found if check.kind == "expect_column_values_to_be_in_set" else found)
    if check.kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        # Integers; a missing value in the set changes nothing, as in GX.
        found = column.isin([value for value in kwargs["value_set"] if value is not None])
        return considered & (found if check.kind == "expect_column_values_to_not_be_in_set" else ~found)
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
