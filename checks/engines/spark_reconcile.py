"""Reconciliation in Spark SQL: every key's class, amount gap and customer class computed where the rows are.

``checks.reconcile.reconcile`` does this over NumPy arrays on one machine. Here the same rules are
one query over the deduplicated feed, the platform's table, the customer's export and the feed's
(key, version) pairs, in the columns of the run's contract (its ``Shape``: key, version, amount, values); the counts,
dollars, totals and the report's figures are aggregates of it. The keys listed (``Reconciliation.users``) stay in
Spark (``checks.engines.spark_users.SparkUsers``, which writes ``discrepancies.csv`` there); only each class's examples
come back to the driver, laid out by ``checks.reconcile.UserRows.frame``, the default engine's own code, so that
both engines give the same frames to the last dtype.

The rules, in order (the first that holds): more than one platform row is ``duplicated``; none is
``missing``; not in the deduplicated feed is ``unexpected``; all four values equal is a ``match``;
the same version with other values is ``value_drift``; an older version that the feed holds for
that key is ``stale``; anything else is an ``unknown_batch`` (``ahead`` of the feed's, or never in it).
Columns hold the computing form (``checks.encoding``): every comparison and sum is on int64.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import deduplicate
from checks.diagnose import Diagnosis, RootCause
from checks.diagnose.diagnosis import Quarantined, stored_amount
from checks.engines import spark_cells
from checks.engines.spark_deltas import ROW, SparkDelta, SparkTable, stacked, union
from checks.engines.spark_faults import search
from checks.engines.spark_session import session
from checks.engines.spark_users import (
    CODE, CUSTOMER_CODE, DETAIL_CODE, GAP, LINE, LISTED, PLATFORM_FILE, PLATFORM_LINE, POSITION, Facts, SparkUsers, layout,
)
from checks.lineage import lineage_frame
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
    Reconciliation,
    compared,
)

FILE = "_file"  # a feed row's delta, as its place in the feed
# The most feed rows the driver collects for a fault search Spark does not decide (above: left unexplained).
DRIVER_SEARCH_ROWS = 1_000_000

_log = logging.getLogger(__name__)


def driver_search_rows() -> int:
    """``DRIVER_SEARCH_ROWS``, or the environment's ``CHECKS_SPARK_DRIVER_SEARCH_ROWS``."""
    from checks.errors import UsageError

    given = os.environ.get("CHECKS_SPARK_DRIVER_SEARCH_ROWS", str(DRIVER_SEARCH_ROWS))
    if not given.strip().isdigit():
        raise UsageError(f"CHECKS_SPARK_DRIVER_SEARCH_ROWS={given!r}: give a whole number of rows")
    return int(given)


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
    quarantined: Quarantined | None = None,
) -> Diagnosis:
    """``checks.diagnose.diagnose`` with the reconciliation and the lineage in Spark SQL.

    When every user matches, that is the whole diagnosis. Otherwise the fault search runs as Spark jobs where
    ``checks.engines.spark_faults`` decides it (files never loaded or cut short, another dedup order, no dedup, several
    of these, and the dropped, unexpected and duplicated users left over); any other runs on the driver, over the deltas' and the tables'
    pandas frames (``SparkTable.frame``), as on the default engine, when the feed has at most ``driver_search_rows()``
    rows; above, a warning is logged and every user that does not match is left unexplained. Either way the listed
    keys stay in Spark (``SparkUsers``, traced to the feed rows their platform rows came from), and so does the lineage
    (a ``SparkTable``), but for a contract whose values are not held as the files wrote them: the report renders those
    on the driver, from the collected rows. ``encoding`` is the
    run's (its contract's columns; default: the first customer's). With ``quarantined`` files, users the simulations
    leave over are the driver's to tell (a quarantined file loaded anyway is found in its readable rows there).
    """
    from checks.diagnose import diagnose as diagnose_on_driver

    encoding = encoding or default_encoding()
    shape = encoding.contract.shape
    deltas = tuple(deltas)
    if deduplicated is None:
        deduplicated = deduplicate(deltas, encoding=encoding)
    names = tuple(delta.name for delta in deltas)
    feed = feed_table(deltas, shape).cache()
    loaded = table(platform, shape).cache()
    sources = _sources(loaded, feed, shape).cache()
    try:
        reconciliation = reconcile(
            expected_table(deduplicated, shape), loaded, None if customer is None else table(customer, shape), feed=feed,
            shape=shape,
        )
        # The listed keys' platform rows are traced (without a discrepancy: the customer's export's alone).
        users = reconciliation.users.traced(sources, names)
        reconciliation = replace(reconciliation, users=users)
        lineage, counts = _lineage(sources, users.users, platform, names, shape)
        if not spark_cells.reads(encoding):  # floats: the report renders them on the driver (``checks.discrepancies``)
            reconciliation, lineage = replace(reconciliation, users=users.frame), lineage.frame
        causes: tuple[RootCause, ...] | None = ()
        left, unexplained = 0, 0  # users and dollars no cause explains
        if reconciliation.discrepant_users:
            causes = None if _keys_may_be_rewritten(reconciliation, encoding) else search(
                feed, loaded, sources, users, reconciliation, names, shape, Words.of(encoding),
                file_column=FILE, line_column=LINE, position_column=POSITION, left_undecided=quarantined is not None,
            )
            if causes is None and feed.count() <= driver_search_rows():
                # Not decided in Spark (see ``checks.engines.spark_faults``): the driver's search, on a feed it can hold.
                return diagnose_on_driver(
                    deltas, pandas_table(platform), None if customer is None else pandas_table(customer), finance_total,
                    deduplicated=pandas_table(deduplicated), reconciliation=reconciliation, encoding=encoding,
                    quarantined=quarantined,
                )
            if causes is None:
                _log.warning(
                    "checks: the fault search is not decided in Spark and the feed has more than %s rows "
                    "(CHECKS_SPARK_DRIVER_SEARCH_ROWS): every user that does not match is left unexplained",
                    f"{driver_search_rows():,}",
                )
                left, unexplained = reconciliation.discrepant_users, users.discrepant()[0]
    finally:
        feed.unpersist()
        loaded.unpersist()
        sources.unpersist()
    words = Words.of(encoding)
    return Diagnosis(
        reconciliation=reconciliation,
        root_causes=causes or (),
        unexplained_users=left,
        unexplained_gap=unexplained,
        unexplained_share=1.0 if left else 0.0,
        finance_total=None if finance_total is None else stored_amount(words, finance_total),
        files=names,
        lineage=lineage,
        lineage_counts=counts,
        words=words,
    )


def _keys_may_be_rewritten(reconciliation: Reconciliation, encoding: Encoding) -> bool:
    """Whether a load may have rewritten text keys (``checks.diagnose._keys``): keys missing beside keys the feed never
    sent. The driver's search tells (it sets such keys aside before its simulations); Spark's does not."""
    if encoding.codecs[encoding.contract.shape.key].dictionary is None:
        return False
    users = {summary.name: summary.users for summary in reconciliation.classes}
    return bool(users.get(MISSING)) and bool(users.get(UNEXPECTED))


def reconcile(
    expected: Any, platform: Any, customer: Any | None = None, *, feed: Any, shape: Shape | None = None
) -> Reconciliation:
    """``checks.reconcile.reconcile`` over Spark frames: ``expected`` (the shape's columns, ``source_file``,
    ``source_row``), ``platform`` and ``customer`` (the shape's columns, ``POSITION``, ``LINE``), ``feed`` (at least
    the key and the version). Its ``users`` stay in Spark, cached (``SparkUsers``)."""
    from pyspark.sql import functions as F

    shape = shape or _default_shape()
    with_customer = customer is not None
    listed = F.col(CODE) != CLASSES.index(MATCH)
    if with_customer:
        listed = listed | (F.col(CUSTOMER_CODE) != CUSTOMER_CLASSES.index("match"))
    users = _classified(expected, platform, customer, feed, shape).withColumn(LISTED, listed).cache()
    try:
        facts = _facts(users, expected, customer, shape)
        chosen = _examples(users, shape)
        kept = users.where(F.col(LISTED)).cache()
        kept.count()  # cached before the rows it is filtered from are let go
    finally:
        users.unpersist()
    return _reconciliation(SparkUsers(kept, facts, shape, with_customer), chosen)


def _sources(loaded: Any, feed: Any, shape: Shape) -> Any:
    """Per platform row, its first equal feed row (a delta holds a user once: the lowest file), as its file's place
    in the feed (``PLATFORM_FILE``) and its line (``PLATFORM_LINE``), and how many there are (``_matches``)."""
    from pyspark.sql import functions as F

    rows = feed.select(*shape.names, FILE, F.col(LINE).alias(PLATFORM_LINE))
    return (
        loaded.join(rows, on=list(shape.names), how="left")
        .groupBy(POSITION, LINE, *shape.names)
        .agg(F.min(F.struct(FILE, PLATFORM_LINE)).alias("_first"), F.count(FILE).alias("_matches"))
        .select(
            POSITION, LINE, *shape.names, F.col("_first." + FILE).alias(PLATFORM_FILE),
            F.col("_first." + PLATFORM_LINE).alias(PLATFORM_LINE), "_matches",
        )
    )


def _lineage(
    sources: Any, users: Any, platform: pd.DataFrame | SparkTable, names: tuple[str, ...], shape: Shape
) -> tuple[SparkTable, dict[str | None, int]]:
    """The count of platform rows per source file, and the lineage of the platform rows of ``users`` (the listed keys'
    Spark frame), kept in Spark: its frame (``checks.lineage.lineage_frame``) is collected only when asked for."""
    per_file = {row[PLATFORM_FILE]: int(row["count"]) for row in sources.groupBy(PLATFORM_FILE).count().collect()}
    counts: dict[str | None, int] = {name: per_file[number] for number, name in enumerate(names) if per_file.get(number)}
    if per_file.get(None):
        counts[None] = per_file[None]

    def collect(traced: Any) -> pd.DataFrame:
        rows = traced.orderBy(POSITION).toArrow().to_pandas()
        file = rows[PLATFORM_FILE].fillna(-1).to_numpy(dtype="int64")
        if isinstance(platform, SparkTable):  # the traced rows came back with their values, indexed by line
            values = rows.loc[:, list(shape.names)].set_axis(pd.Index(rows[LINE].to_numpy(dtype="int64"), name="row"))
        else:
            values = platform.iloc[rows[POSITION].to_numpy(dtype="int64")].loc[:, list(shape.names)]
        lines = rows[PLATFORM_LINE].fillna(0).to_numpy(dtype="int64")
        return lineage_frame(values, file, lines, rows["_matches"].to_numpy(), names)

    traced = sources.join(users.select(shape.key), on=shape.key, how="left_semi")
    return SparkTable(traced, collect, order=POSITION), counts


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
    detail = F.when(F.col(CODE) != CLASSES.index(UNKNOWN_BATCH), 0).when(
        F.col("p_" + version) > F.col("e_" + version), DETAILS.index("ahead")
    ).otherwise(DETAILS.index("unknown"))
    users = (
        users.withColumn("p_count", count)
        .withColumn(CODE, code)
        .withColumn(DETAIL_CODE, detail)
        # Every platform row of a key counts against its expected amount.
        .withColumn(GAP, F.coalesce(F.col(_expected_amount(shape)), F.lit(0)) - F.coalesce(F.col("p_spend_sum"), F.lit(0)))
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
    return users.withColumn(CUSTOMER_CODE, customer_code)


def _expected_amount(shape: Shape) -> str:
    """The expected table's amount column among the classified keys' columns."""
    return "_no_amount" if shape.amount is None else f"e_{shape.amount}"


def _facts(users: Any, expected: Any, customer: Any | None, shape: Shape) -> Facts:
    from pyspark.sql import functions as F

    per_class = users.groupBy(CODE).agg(F.count("*").alias("_users"), F.sum(GAP).alias("_dollars")).collect()
    whole = users.agg(
        F.count("*").alias("users"),
        F.count("e_present").alias("expected"),
        F.sum(F.when(F.col("p_count") > 0, 1).otherwise(0)).alias("loaded"),
        F.sum(F.coalesce(F.col(_expected_amount(shape)), F.lit(0))).alias("expected_total"),
        F.sum(F.coalesce(F.col("p_spend_sum"), F.lit(0))).alias("platform_total"),
        *([F.count("c_present").alias("held"), F.count(F.when(F.col(CUSTOMER_CODE) != 0, 1)).alias("differing")]
          if customer is not None else []),
    ).first()
    customer_total = None
    if customer is not None:
        customer_total = int(customer.agg(F.sum(_amount(shape))).first()[0] or 0)
    # pandas' encoding of the expected table's file column: names in order of first appearance, by key.
    files = expected.groupBy(SOURCE_FILE).agg(F.min(shape.key).alias("_first")).orderBy("_first").collect()
    members = {int(row[CODE]): int(row["_users"]) for row in per_class}
    by_file = []
    if any(users for code, users in members.items() if code != CLASSES.index(MATCH)):
        off = users.where(F.col(CODE) != CLASSES.index(MATCH))
        by_file = off.groupBy("e_file").agg(F.sum(GAP).alias("_gap"), F.count("*").alias("_keys")).collect()
    size = int(whole["users"])
    return Facts(
        members=members,
        gaps={int(row[CODE]): int(row["_dollars"]) for row in per_class},
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
        customer_differing=None if customer is None else int(whole["differing"]),
        gap_by_file={row["e_file"]: int(row["_gap"]) for row in by_file},
        discrepant_by_file={row["e_file"]: int(row["_keys"]) for row in by_file},
    )


def _examples(users: Any, shape: Shape) -> pd.DataFrame:
    """Each class's examples' rows, in key order: its largest gaps, then its lowest keys (a match has no gap: the
    first keys), as a top-k per class and partition, not a sort of every user."""
    from pyspark.sql import functions as F

    ordered = (F.abs(F.col(GAP)).desc(), F.col(shape.key))
    chosen = union([
        users.where(F.col(CODE) == code).orderBy(*ordered).limit(EXAMPLES_PER_CLASS) for code in range(len(CLASSES))
    ]).toArrow().to_pandas()
    return chosen.sort_values(shape.key, kind="stable").reset_index(drop=True)


def _reconciliation(users: SparkUsers, chosen: pd.DataFrame) -> Reconciliation:
    facts, shape = users.facts, users.shape
    rows = layout(chosen, facts, users.with_customer, shape)
    codes = chosen[CODE].to_numpy()
    # Each class's examples: the largest gaps first, then the lowest keys (a match has no gap: the first keys).
    order = np.lexsort((chosen[shape.key].to_numpy(), -np.abs(chosen[GAP].to_numpy(dtype="int64")), codes))
    classes = []
    for code, name in enumerate(CLASSES):
        examples = order[codes[order] == code][:EXAMPLES_PER_CLASS]
        dollars = 0 if name == MATCH else facts.gaps.get(code, 0)
        classes.append(ClassSummary(name=name, users=facts.members.get(code, 0), revenue_gap=dollars, examples=rows.frame(examples)))
    return Reconciliation(
        users=users,
        classes=tuple(classes),
        expected_total=facts.expected_total,
        platform_total=facts.platform_total,
        customer_total=facts.customer_total,
        user_count=facts.user_count,
    )
