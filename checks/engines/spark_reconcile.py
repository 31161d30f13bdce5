"""Reconciliation in Spark SQL: every key's class, amount gap and customer class computed where the rows are.

``checks.reconcile.reconcile`` does this over NumPy arrays on one machine. Here the same rules are
one query over the deduplicated feed, the platform's table, the customer's export and the feed's
(key, version) pairs, in the columns of the run's contract (its ``Shape``: key, version, amount, values); the counts, dollars and totals are aggregates of it. Only the users a
person must see come back to the driver: those that do not match (``Reconciliation.users``) and
each class's examples. Their rows are then laid out by ``checks.reconcile.UserRows.frame``, the
default engine's own code, so that both engines give the same frames to the last dtype.

The rules, in order (the first that holds): more than one platform row is ``duplicated``; none is
``missing``; not in the deduplicated feed is ``unexpected``; all four values equal is a ``match``;
the same version with other values is ``value_drift``; an older version that the feed holds for
that key is ``stale``; anything else is an ``unknown_batch`` (``ahead`` of the feed's, or never in it).
Columns hold the computing form (``checks.encoding``): every comparison and sum is on int64.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import deduplicate
from checks.diagnose import Diagnosis, RootCause
from checks.engines.spark_deltas import ROW, SparkDelta, SparkTable, stacked
from checks.engines.spark_faults import search
from checks.engines.spark_session import session
from checks.lineage import PlatformRows, lineage_frame
from checks.encoding import Encoding, default_encoding
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, Shape
from checks.results import pandas_table
from checks.wording import Words
from checks.reconcile import (
    CLASSES,
    CUSTOMER_CLASSES,
    DETAILS,
    DUPLICATED,
    EXAMPLES_PER_CLASS,
    MATCH,
    MISSING,
    STALE,
    UNEXPECTED,
    UNKNOWN_BATCH,
    VALUE_DRIFT,
    ClassSummary,
    ExpectedRows,
    Reconciliation,
    UserRows,
    compared,
)

FILE = "_file"  # a feed row's delta, as its place in the feed
POSITION = "_position"  # a table row's place in the table: the first row of a user is the lowest
LINE = "_line"  # a table row's line number in its file (the pandas frame's index)

_CODE = "_class"
_DETAIL = "_detail"
_CUSTOMER_CODE = "_customer_class"
_GAP = "_gap"
_LISTED = "_listed"


def table(frame: pd.DataFrame | SparkTable, shape: Shape | None = None) -> Any:
    """A table as a Spark frame with each row's ``POSITION`` and ``LINE``: the rows of a table read by Spark stay there
    (its pandas frame's index is the line, its position the line less the header's), others are handed over."""
    shape = shape or _default_shape()
    if isinstance(frame, SparkTable):
        from pyspark.sql import functions as F

        return frame.table.select(*shape.names, (F.col(ROW) - 2).alias(POSITION), F.col(ROW).alias(LINE))
    columns = {column: frame[column].to_numpy(dtype="int64") for column in shape.names}
    columns[POSITION] = np.arange(len(frame), dtype="int64")
    columns[LINE] = frame.index.to_numpy(dtype="int64")
    return _spark_frame(columns)


def expected_table(deduplicated: pd.DataFrame | SparkTable, shape: Shape | None = None) -> Any:
    """The deduplicated feed (with its lineage) as a Spark frame: the Spark engine's stays where it is."""
    shape = shape or _default_shape()
    if isinstance(deduplicated, SparkTable):
        return deduplicated.table.select(*shape.names, SOURCE_FILE, SOURCE_ROW)
    columns: dict[str, Any] = {column: deduplicated[column].to_numpy(dtype="int64") for column in shape.names}
    columns[SOURCE_FILE] = deduplicated[SOURCE_FILE].astype(str).to_numpy(dtype=object)
    columns[SOURCE_ROW] = deduplicated[SOURCE_ROW].to_numpy(dtype="int64")
    return _spark_frame(columns)


def feed_table(deltas: Sequence[Delta], shape: Shape | None = None) -> Any:
    """The deltas stacked as one Spark frame with each row's ``FILE`` (its delta's place in the feed) and ``LINE``:
    the rows of deltas validated in Spark stay there, others are handed over from the driver."""
    shape = shape or _default_shape()
    if deltas and all(isinstance(delta, SparkDelta) for delta in deltas):
        return stacked([delta.table for delta in deltas], shape.names, file=FILE, line=LINE)
    frames = [delta.frame for delta in deltas]
    columns: dict[str, Any] = {
        column: np.concatenate([frame[column].to_numpy(dtype="int64") for frame in frames] or [np.empty(0, "int64")])
        for column in shape.names
    }
    columns[FILE] = np.repeat(np.arange(len(frames), dtype="int32"), [len(frame) for frame in frames])
    columns[LINE] = np.concatenate([frame.index.to_numpy(dtype="int64") for frame in frames] or [np.empty(0, "int64")])
    return _spark_frame(columns)


def _default_shape() -> Shape:
    return default_encoding().contract.shape


def _spark_frame(columns: dict[str, Any]) -> Any:
    """Columns handed to Spark as one Arrow table (not row by row)."""
    import pyarrow as pa

    return session().createDataFrame(pa.table(columns))


def diagnose(
    deltas: Sequence[Delta],
    platform: pd.DataFrame | SparkTable,
    customer: pd.DataFrame | SparkTable | None = None,
    finance_total: int | None = None,
    *,
    deduplicated: pd.DataFrame | SparkTable | None = None,
    encoding: Encoding | None = None,
) -> Diagnosis:
    """``checks.diagnose.diagnose`` with the reconciliation and the lineage in Spark SQL.

    When every user matches, that is the whole diagnosis: nothing more comes to the driver than the
    users the customer's export disagrees on. Otherwise the fault search's cases that
    ``checks.engines.spark_faults`` decides (one file never loaded or cut short explains every disagreeing user) are Spark jobs;
    any other runs on the driver, over the deltas' and the tables' pandas frames (``SparkTable.frame``), as on the
    default engine. ``encoding`` is the run's (its contract's
    columns; default: the first customer's).
    """
    from checks.diagnose import diagnose as diagnose_on_driver

    encoding = encoding or default_encoding()
    shape = encoding.contract.shape
    deltas = tuple(deltas)
    if deduplicated is None:
        deduplicated = deduplicate(deltas, encoding=encoding)
    feed = feed_table(deltas, shape).cache()
    loaded = table(platform, shape).cache()
    try:
        reconciliation = reconcile(
            expected_table(deduplicated, shape), loaded, None if customer is None else table(customer, shape), feed=feed,
            shape=shape,
        )
        names = tuple(delta.name for delta in deltas)
        # The listed keys' platform rows are traced (without a discrepancy: the customer's export's alone).
        listed = reconciliation.users[shape.key].to_numpy(dtype="int64")
        lineage, counts = _lineage(loaded, feed, listed, platform, names, shape)
        causes: tuple[RootCause, ...] = ()
        if reconciliation.discrepant_users:
            cause = search(
                feed, loaded, reconciliation, lineage, names, shape, Words.of(encoding),
                file_column=FILE, line_column=LINE, position_column=POSITION,
            )
            if cause is None:  # not decided in Spark (see ``checks.engines.spark_faults``): the driver's search
                return diagnose_on_driver(
                    deltas, pandas_table(platform), None if customer is None else pandas_table(customer), finance_total,
                    deduplicated=pandas_table(deduplicated), reconciliation=reconciliation, encoding=encoding,
                )
            causes = (cause,)
    finally:
        feed.unpersist()
        loaded.unpersist()
    return Diagnosis(
        reconciliation=reconciliation,
        root_causes=causes,
        unexplained_users=0,
        unexplained_gap=0,
        unexplained_share=0.0,
        finance_total=None if finance_total is None else int(finance_total),
        files=names,
        lineage=lineage,
        lineage_counts=counts,
        words=Words.of(encoding),
    )


def reconcile(
    expected: Any, platform: Any, customer: Any | None = None, *, feed: Any, shape: Shape | None = None
) -> Reconciliation:
    """``checks.reconcile.reconcile`` over Spark frames: ``expected`` (the shape's columns, ``source_file``,
    ``source_row``), ``platform`` and ``customer`` (the shape's columns, ``POSITION``, ``LINE``), ``feed`` (at least
    the key and the version)."""
    shape = shape or _default_shape()
    users = _classified(expected, platform, customer, feed, shape).cache()
    try:
        facts = _facts(users, expected, platform, customer, shape)
        chosen = _chosen(users, customer is not None, shape)
        return _reconciliation(chosen, facts, customer is not None, shape)
    finally:
        users.unpersist()


def _lineage(
    loaded: Any, feed: Any, users: np.ndarray, platform: pd.DataFrame | SparkTable, names: tuple[str, ...], shape: Shape
) -> tuple[pd.DataFrame, dict[str | None, int]]:
    """Per platform row, its first equal feed row (a delta holds a user once: the lowest file) and how many
    there are: the count of rows per source file, and the lineage frame of the rows of ``users`` (one each)."""
    from pyspark.sql import functions as F

    key = shape.key
    rows = feed.select(*shape.names, FILE, F.col(LINE).alias("_source_line"))
    sources = (
        loaded.join(rows, on=list(shape.names), how="left")
        .groupBy(POSITION, LINE, *shape.names)
        .agg(F.min(F.struct(FILE, "_source_line")).alias("_first"), F.count(FILE).alias("_matches"))
        .select(POSITION, LINE, *shape.names, F.col("_first." + FILE).alias(FILE), F.col("_first._source_line").alias("_source_line"), "_matches")
        .cache()
    )
    try:
        per_file = {row[FILE]: int(row["count"]) for row in sources.groupBy(FILE).count().collect()}
        wanted = _spark_frame({key: np.asarray(users, dtype="int64")})
        traced = sources.join(F.broadcast(wanted), on=key).orderBy(POSITION).toArrow().to_pandas()
    finally:
        sources.unpersist()
    counts: dict[str | None, int] = {name: per_file[number] for number, name in enumerate(names) if per_file.get(number)}
    if per_file.get(None):
        counts[None] = per_file[None]
    file = traced[FILE].fillna(-1).to_numpy(dtype="int64")
    if isinstance(platform, SparkTable):  # the traced rows came back with their values, indexed by line
        rows = traced.loc[:, list(shape.names)].set_axis(pd.Index(traced[LINE].to_numpy(dtype="int64"), name="row"))
    else:
        rows = platform.iloc[traced[POSITION].to_numpy(dtype="int64")].loc[:, list(shape.names)]
    lineage = lineage_frame(rows, file, traced["_source_line"].fillna(0).to_numpy(dtype="int64"), traced["_matches"].to_numpy(), names)
    return lineage, counts


@dataclass(frozen=True)
class _Facts:
    """The whole-table aggregates: per class its users and dollars, the totals, which tables hold every user."""

    members: dict[int, int]
    gaps: dict[int, int]
    user_count: int
    expected_total: int
    platform_total: int
    customer_total: int | None
    complete: tuple[bool, bool, bool]  # every user has an expected, a platform and a customer row
    file_names: tuple[str, ...]  # the expected rows' files, in order of first appearance by key


def _amount(shape: Shape) -> Any:
    """The amount column, or 0 on every row when the contract declares none."""
    from pyspark.sql import functions as F

    return F.lit(0).cast("bigint") if shape.amount is None else F.col(shape.amount)


def _first_rows(frame: Any, prefix: str, shape: Shape, extra: tuple[str, ...] = ()) -> Any:
    """Per key, the values of its first row (lowest ``POSITION``) as ``prefix``-named columns, and its row count."""
    from pyspark.sql import functions as F

    values = compared(shape)
    first = F.min_by(F.struct(*[F.col(column) for column in (*values, *extra)]), F.col(POSITION))
    grouped = frame.groupBy(shape.key).agg(
        first.alias("_first"), F.count("*").alias(prefix + "count"), F.sum(_amount(shape)).alias(prefix + "spend_sum")
    )
    return grouped.select(
        shape.key, prefix + "count", prefix + "spend_sum",
        *[F.col("_first." + column).alias(prefix + column) for column in (*values, *extra)],
    )


def _classified(expected: Any, platform: Any, customer: Any | None, feed: Any, shape: Shape) -> Any:
    """One row per key of the expected and platform tables, with its class, detail, gap and customer class."""
    from pyspark.sql import functions as F

    key, version, values = shape.key, shape.version, compared(shape)
    wanted = expected.select(
        key, *[F.col(column).alias("e_" + column) for column in values],
        F.col(SOURCE_FILE).alias("e_file"), F.col(SOURCE_ROW).alias("e_row"), F.lit(True).alias("e_present"),
    )
    if shape.amount is None:
        wanted = wanted.withColumn("_no_amount", F.lit(0).cast("bigint"))
    loaded = _first_rows(platform, "p_", shape, (LINE, POSITION))
    users = wanted.join(loaded, on=key, how="full_outer")
    # The feed holds a row of this key at the platform's version (read for keys with one platform row).
    pairs = feed.select(key, F.col(version).alias("p_" + version)).distinct().withColumn("_known", F.lit(True))
    users = users.join(pairs, on=[key, "p_" + version], how="left")

    count = F.coalesce(F.col("p_count"), F.lit(0))
    in_expected = F.col("e_present").isNotNull()
    same_batch = F.col("e_" + version) == F.col("p_" + version)
    same = same_batch
    for column in values[:-1]:
        same = same & (F.col("e_" + column) == F.col("p_" + column))
    stale = F.col("_known").isNotNull() & (F.col("p_" + version) < F.col("e_" + version))
    code = (
        F.when(count > 1, CLASSES.index(DUPLICATED))
        .when(count == 0, CLASSES.index(MISSING))
        .when(~in_expected, CLASSES.index(UNEXPECTED))
        .when(same, CLASSES.index(MATCH))
        .when(same_batch, CLASSES.index(VALUE_DRIFT))
        .when(stale, CLASSES.index(STALE))
        .otherwise(CLASSES.index(UNKNOWN_BATCH))
    )
    detail = F.when(F.col(_CODE) != CLASSES.index(UNKNOWN_BATCH), 0).when(
        F.col("p_" + version) > F.col("e_" + version), DETAILS.index("ahead")
    ).otherwise(DETAILS.index("unknown"))
    users = (
        users.withColumn("p_count", count)
        .withColumn(_CODE, code)
        .withColumn(_DETAIL, detail)
        # Every platform row of a key counts against its expected amount.
        .withColumn(_GAP, F.coalesce(F.col(_expected_amount(shape)), F.lit(0)) - F.coalesce(F.col("p_spend_sum"), F.lit(0)))
    )
    if customer is None:
        return users
    held = _first_rows(customer, "c_", shape).drop("c_count", "c_spend_sum").withColumn("c_present", F.lit(True))
    users = users.join(held, on=key, how="left")
    agrees = F.lit(True)
    for column in values:
        agrees = agrees & (F.col("c_" + column) == F.col("e_" + column))
    customer_code = (
        F.when(~in_expected, CUSTOMER_CLASSES.index("not expected"))
        .when(F.col("c_present").isNull(), CUSTOMER_CLASSES.index("missing"))
        .when(agrees, CUSTOMER_CLASSES.index("match"))
        .otherwise(CUSTOMER_CLASSES.index("differs"))
    )
    return users.withColumn(_CUSTOMER_CODE, customer_code)


def _expected_amount(shape: Shape) -> str:
    """The expected table's amount column among the classified keys' columns."""
    return "_no_amount" if shape.amount is None else f"e_{shape.amount}"


def _facts(users: Any, expected: Any, platform: Any, customer: Any | None, shape: Shape) -> _Facts:
    from pyspark.sql import functions as F

    per_class = users.groupBy(_CODE).agg(F.count("*").alias("_users"), F.sum(_GAP).alias("_dollars")).collect()
    whole = users.agg(
        F.count("*").alias("users"),
        F.count("e_present").alias("expected"),
        F.sum(F.when(F.col("p_count") > 0, 1).otherwise(0)).alias("loaded"),
        F.sum(F.coalesce(F.col(_expected_amount(shape)), F.lit(0))).alias("expected_total"),
        F.sum(F.coalesce(F.col("p_spend_sum"), F.lit(0))).alias("platform_total"),
        *([F.count("c_present").alias("held")] if customer is not None else []),
    ).first()
    customer_total = None
    if customer is not None:
        customer_total = int(customer.agg(F.sum(_amount(shape))).first()[0] or 0)
    # pandas' encoding of the expected table's file column: names in order of first appearance, by key.
    files = expected.groupBy(SOURCE_FILE).agg(F.min(shape.key).alias("_first")).orderBy("_first").collect()
    size = int(whole["users"])
    return _Facts(
        members={int(row[_CODE]): int(row["_users"]) for row in per_class},
        gaps={int(row[_CODE]): int(row["_dollars"]) for row in per_class},
        user_count=size,
        expected_total=int(whole["expected_total"] or 0),
        platform_total=int(whole["platform_total"] or 0),
        customer_total=customer_total,
        complete=(
            int(whole["expected"]) == size,
            int(whole["loaded"] or 0) == size,
            customer is None or int(whole["held"]) == size,
        ),
        file_names=tuple(str(row[SOURCE_FILE]) for row in files),
    )


def _chosen(users: Any, with_customer: bool, shape: Shape) -> pd.DataFrame:
    """The rows of the users that are listed, and of the first matching users (the match class's examples),
    in key order. A listed class holds all its keys here, so its examples are picked on the driver."""
    from pyspark.sql import functions as F

    listed = F.col(_CODE) != CLASSES.index(MATCH)
    if with_customer:
        listed = listed | (F.col(_CUSTOMER_CODE) != CUSTOMER_CLASSES.index("match"))
    users = users.withColumn(_LISTED, listed)
    rows = users.filter(F.col(_LISTED)).toArrow().to_pandas()
    # The first matching keys: a top-k per partition, not a sort of every user.
    first = users.filter(F.col(_CODE) == CLASSES.index(MATCH)).orderBy(shape.key).limit(EXAMPLES_PER_CLASS)
    rows = pd.concat([rows, first.toArrow().to_pandas()], ignore_index=True)
    return rows.drop_duplicates(shape.key).sort_values(shape.key, kind="stable").reset_index(drop=True)


def _reconciliation(chosen: pd.DataFrame, facts: _Facts, with_customer: bool, shape: Shape) -> Reconciliation:
    rows = _user_rows(chosen, facts, with_customer, shape)
    codes = chosen[_CODE].to_numpy()
    # Each class's examples: the largest gaps first, then the lowest keys (a match has no gap: the first keys).
    order = np.lexsort((chosen[shape.key].to_numpy(), -np.abs(chosen[_GAP].to_numpy(dtype="int64")), codes))
    classes = []
    for code, name in enumerate(CLASSES):
        examples = order[codes[order] == code][:EXAMPLES_PER_CLASS]
        dollars = 0 if name == MATCH else facts.gaps.get(code, 0)
        classes.append(ClassSummary(name=name, users=facts.members.get(code, 0), revenue_gap=dollars, examples=rows.frame(examples)))
    return Reconciliation(
        users=rows.frame(np.flatnonzero(chosen[_LISTED].to_numpy(dtype=bool))),
        classes=tuple(classes),
        expected_total=facts.expected_total,
        platform_total=facts.platform_total,
        customer_total=facts.customer_total,
        user_count=facts.user_count,
    )


def _user_rows(chosen: pd.DataFrame, facts: _Facts, with_customer: bool, shape: Shape) -> UserRows:
    """The chosen keys as the default engine's ``UserRows``, so that its ``frame`` lays out their rows."""
    ids = chosen[shape.key].to_numpy(dtype="int64")
    present = chosen["e_present"].notna().to_numpy()
    values = {column: _integers(chosen["e_" + column]) for column in compared(shape)}
    values[SOURCE_ROW] = _integers(chosen["e_row"])
    lookup = {name: code for code, name in enumerate(facts.file_names)}
    files = np.array([lookup[name] if isinstance(name, str) else -1 for name in chosen["e_file"]], dtype="int32")
    expected = ExpectedRows(present, values, facts.expected_total, shape, files, facts.file_names)
    platform = _first_row_table(chosen, "p_", shape, (LINE,))
    loaded = chosen["p_count"].to_numpy(dtype="int64") > 0
    platform_rows = PlatformRows(
        platform.set_index(pd.Index(platform["p_" + LINE].to_numpy(dtype="int64"))).drop(columns="p_" + LINE),
        np.flatnonzero(loaded),
        chosen["p_count"].to_numpy(dtype="int64"),
        _positions(loaded),
    )
    customer, customer_first, customer_class = None, None, None
    if with_customer:
        held = chosen["c_present"].notna().to_numpy()
        customer = _first_row_table(chosen, "c_", shape)
        customer_first = _positions(held)
        customer_class = chosen[_CUSTOMER_CODE].to_numpy().astype("int8")
    return UserRows(
        ids, expected, platform_rows,
        chosen[_CODE].to_numpy().astype("int8"), chosen[_DETAIL].to_numpy().astype("int8"),
        chosen[_GAP].to_numpy(dtype="int64"),
        customer, customer_first, customer_class, facts.complete,
    )


def _first_row_table(chosen: pd.DataFrame, prefix: str, shape: Shape, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The chosen users' first rows of a table (of those that have one), named as the table names them.

    One row of zeros stands in when none has a row: ``UserRows.frame`` gathers a row for every user
    and masks those without one.
    """
    values = compared(shape)
    held = chosen[prefix + values[0]].notna().to_numpy()
    frame = pd.DataFrame({column: _integers(chosen.loc[held, prefix + column]) for column in values})
    for column in extra:
        frame[prefix + column] = _integers(chosen.loc[held, prefix + column])
    if frame.empty:
        frame = pd.DataFrame({column: np.zeros(1, dtype="int64") for column in frame.columns})
    return frame


def _positions(present: np.ndarray) -> np.ndarray:
    """Per user, the position of its row among the users that have one (-1 for those without)."""
    positions = np.full(len(present), -1, dtype="int64")
    positions[present] = np.arange(int(present.sum()), dtype="int64")
    return positions


def _integers(column: pd.Series) -> np.ndarray:
    """A collected column as int64, 0 where the user has no row (the masks say which)."""
    return column.fillna(0).to_numpy(dtype="int64")
