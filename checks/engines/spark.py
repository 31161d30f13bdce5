"""The Spark engine: the same feed check on PySpark (local mode by default, a cluster by ``--spark-master``).

Every check is Spark SQL that yields the pandas path's failure rows: a regular expression for the
text pass (Java's ``^...$`` behaves as Python's ``re.match`` here, but for line terminators other than
``\n`` at the end of a cell), range and uniqueness queries
for the value pass, window functions for the checks across files and for the dedup. Pandera's
PySpark backend reports one verdict per check, not the offending rows with their line numbers, so it
cannot produce ``FAILURE_COLUMNS``; the SQL does. Pandera stays the schema authority: each delta also
goes through its PySpark models (``checks.engines.spark_schemas``), and a delta where Pandera and the
SQL name different failed checks is an error, never a pass. Line numbers come from each file's read splits
(``input_file_block_start`` and the row's position in its split). Files the SQL cannot read as the
pandas path would (a row with too many fields, an integer beyond int64) go to the pandas path.

A feed or table is a local path or any URI Spark reads (``s3a://``, ``hdfs://``, ``file://``): such a
folder is listed, and each header read, through Hadoop's FileSystem API (``checks.engines.spark_files``).
An ``s3a://`` path without the S3A connector on the classpath is refused in one line naming what is
missing (``checks.engines.spark_s3a``): pyspark ships no S3A connector.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from checks.dedup import deduplicate as _deduplicate_pandas
from checks.engines import _frames, spark_files, spark_s3a, spark_schemas
from checks.engines.base import Capability
# The diagnosis with the reconciliation and the lineage in Spark SQL.
from checks.engines.spark_reconcile import diagnose  # noqa: F401  (this engine's ``diagnose``)
# Capability.CLUSTER and Capability.GX_SPARK_DATASOURCE: the master to run on, the session it runs in.
from checks.engines.spark_session import configure, session  # noqa: F401  (this engine's ``configure``)
from checks.feed import discover_deltas as _discover_deltas_locally
from checks.feed import read_table as _read_table_pandas
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, DeltaFile, concat_failures, empty_failures, failure_rows
from checks.results import DeltaValidation, FeedCheck, passed_deltas
from checks.encoding import INTEGER_PATTERN, default_encoding
from checks.rules import BATCH_MONOTONIC, FIELD_UNIQUENESS, IS_INTEGER, PAIR_UNIQUE, first_customer_form, tie_error
from checks.validate import read_and_validate as _read_and_validate_pandas

# The first customer's columns: the form this module's fast path is written for (checks.rules.first_customer_rules).
COLUMNS = default_encoding().contract.names
VALUE_CHECKS, FEED_RULES, SPEND_NEVER_DECREASES = first_customer_form()
_SPEND = default_encoding().contract.shape.amount

NAME = "spark"
CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.OWN_LISTING, Capability.OWN_DIAGNOSIS, Capability.CLUSTER, Capability.GX_SPARK_DATASOURCE}
)

_ROW = "row"
_FILE_INDEX = "file_index"
_OVERFLOW = "_beyond_int64"


class _NeedsPandasPath(Exception):
    """This file has something only the pandas path reads exactly as the reference does."""


def check_feed_folder(directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None) -> FeedCheck:
    """Check every delta in ``directory`` as ``checks.pipeline.check_feed_folder`` does, on Spark."""
    _refuse_without_connector(directory)
    return _feed_check(*_frames.validate_folder(directory, _read_and_validate, on_file, discover=discover_deltas))


def discover_deltas(directory: str | Path) -> list[DeltaFile]:
    """``checks.feed.discover_deltas``, of a local folder or one at a URI (listed by Hadoop)."""
    _refuse_without_connector(directory)
    if spark_files.is_uri(directory):
        return spark_files.discover_deltas(directory)
    return _discover_deltas_locally(directory)


def check_validations(validations: Sequence[DeltaValidation]) -> FeedCheck:
    """``checks.pipeline.check_validations`` on Spark, for deltas already validated."""
    tables = [_from_delta(validation.delta) for validation in validations if validation.delta is not None]
    return _feed_check(list(validations), tables)


def read_and_validate(delta_file: DeltaFile) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Spark."""
    _refuse_without_connector(delta_file.path)
    return _read_and_validate(delta_file)[0]


def check_feed(deltas: Sequence[Delta]) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` on Spark, for deltas already in memory."""
    if not deltas:
        return empty_failures()
    feed = _stack([_from_delta(delta) for delta in deltas])
    return _feed_failures(feed, [delta.name for delta in deltas])


def read_table(path: str | Path, *, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """``checks.feed.read_table`` on Spark: int64 columns; a table with a bad cell or extra columns goes to the
    pandas path for its message."""
    _refuse_without_connector(path)
    header = spark_files.read_header(path)
    if header is None:
        return _read_table_on_pandas(path, warn)
    try:
        text, _ = _read_text(path, header)
    except _NeedsPandasPath:
        return _read_table_on_pandas(path, warn)
    text = text.cache()  # read once for the check and once more for the rows, not three times
    try:
        # A bad cell, or a malformed row (too many fields) failing the job: the pandas path words it exactly.
        bad = _union([_text_failures(text), _overflows(text)]).limit(1).count()
        rows = None if bad else _to_pandas_int64(_typed(text))
    except Exception:  # noqa: BLE001 - Py4J wraps every JVM error
        rows = None
    finally:
        text.unpersist()
    return _read_table_on_pandas(path) if rows is None else rows


def _refuse_without_connector(path: str | Path) -> None:
    if spark_s3a.is_s3a(path):
        spark_s3a.require_connector(session(), path)


def _read_table_on_pandas(path: str | Path, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    with spark_files.readable(path) as local:
        return _read_table_pandas(local, warn=warn)


def _feed_check(validations: list[DeltaValidation], tables: list[Any]) -> FeedCheck:
    names = [delta.name for delta in passed_deltas(validations)]
    if tables:
        feed = _stack(tables).cache()
        feed_failures = _feed_failures(feed, names)
        deduplicated = _deduplicate(feed, names)
        feed.unpersist()
        for table in tables:
            table.unpersist()
    else:
        feed_failures, deduplicated = empty_failures(), _deduplicate_pandas([])
    return FeedCheck.assemble(validations, feed_failures, deduplicated)


def _read_and_validate(delta_file: DeltaFile) -> tuple[DeltaValidation, Any | None]:
    try:
        return _validate(delta_file)
    except _NeedsPandasPath:
        with spark_files.readable(delta_file.path) as local:
            validation = _read_and_validate_pandas(DeltaFile(local, delta_file.number))
        table = _from_delta(validation.delta) if validation.delta is not None else None
        return validation, table


def _validate(delta_file: DeltaFile) -> tuple[DeltaValidation, Any | None]:
    header = spark_files.read_header(delta_file.path)
    if header is None:
        raise _NeedsPandasPath
    text, rows = _read_text(delta_file.path, header)
    if rows == 0:
        raise _NeedsPandasPath  # the not_empty failure, as the pandas path words it
    text = text.cache()
    typed = _typed(text)
    # Both passes and the int64 overflow guard in one Spark job.
    try:
        found = _union([_text_failures(text), _overflows(text), _value_failures(typed)]).toArrow().to_pandas()
    except Exception as error:  # noqa: BLE001 - a malformed row (too many fields) fails the first job reading every column
        text.unpersist()
        raise _NeedsPandasPath from error
    if (found["check"] == _OVERFLOW).any():
        text.unpersist()
        raise _NeedsPandasPath  # an integer literal beyond int64: the pandas path decides what happens
    name = delta_file.name
    spark_schemas.confirm(name, text, typed, found)  # Pandera's verdict per check must match the SQL's rows
    is_text = found["check"] == IS_INTEGER
    failures = _frames.combine_validation_failures(_failure_frame(name, found[is_text]), _failure_frame(name, found[~is_text]))
    delta, table = None, None
    if failures.empty:
        table = typed.cache()
        delta = Delta(name=name, number=delta_file.number, frame=_to_pandas_int64(table))
    text.unpersist()
    validation = DeltaValidation(
        name=name, number=delta_file.number, delta=delta, failures=failures, warnings=header.warnings, rows=rows
    )
    return validation, table


def _failure_frame(name: str, found: pd.DataFrame) -> pd.DataFrame:
    if found.empty:
        return empty_failures()
    return _frames.validation_failures(
        name, found[_ROW].tolist(), found["column"].tolist(), found["check"].tolist(), found["value"].tolist()
    )


def _read_text(path: str | Path, header: _frames.Header) -> tuple[Any, int]:
    """The file's records as text with their line numbers (the header is line 1 and is dropped), and how many."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(name, StringType()) for name in header.names])
    try:
        records = (
            session()
            .read.schema(schema)
            .option("header", "false")
            .option("mode", "FAILFAST")
            .option("encoding", "UTF-8")
            .csv(spark_files.location(path))
            .withColumn("_block", F.input_file_block_start())
            .withColumn("_id", F.monotonically_increasing_id())
        )
        # Each split's records in file order; the splits ordered by where they start in the file.
        splits = records.groupBy("_block").agg(F.count("*").alias("_n"), F.min("_id").alias("_first")).collect()
    except Exception as error:  # noqa: BLE001 - Py4J wraps every JVM error; the pandas path reports it exactly
        raise _NeedsPandasPath from error
    offset = 1
    starts = []
    for split in sorted(splits, key=lambda split: split["_block"]):
        starts.append((split["_block"], split["_first"], offset))
        offset += split["_n"]
    offsets = session().createDataFrame(starts, "_block long, _first long, _offset long")
    text = (
        records.join(F.broadcast(offsets), on="_block")
        .select((F.col("_offset") + F.col("_id") - F.col("_first")).alias(_ROW), *COLUMNS)
        .filter(F.col(_ROW) > 1)
    )
    return text, offset - 2


def _is_integer(cell: Any) -> Any:
    return cell.rlike(INTEGER_PATTERN)


def _typed(text: Any) -> Any:
    from pyspark.sql import functions as F

    return text.select(
        F.col(_ROW),
        *[F.when(_is_integer(F.col(c)), F.expr(f"try_cast({c} as bigint)")).alias(c) for c in COLUMNS],
    )


def _overflows(text: Any) -> Any:
    """Cells that are integer literals beyond int64, as pseudo-failures that send the file to the pandas path."""
    from pyspark.sql import functions as F

    return _union([
        text.filter(_is_integer(F.col(c)) & F.expr(f"try_cast({c} as bigint)").isNull()).select(
            _ROW, F.lit(c).alias("column"), F.lit(_OVERFLOW).alias("check"), F.col(c).alias("value")
        )
        for c in COLUMNS
    ])


def _text_failures(text: Any) -> Any:
    from pyspark.sql import functions as F

    return _union([
        # Spark reads an empty or missing cell as null; pandas reads it as "".
        text.filter(F.col(c).isNull() | ~_is_integer(F.col(c))).select(
            _ROW, F.lit(c).alias("column"), F.lit(IS_INTEGER).alias("check"),
            F.coalesce(F.col(c), F.lit("")).alias("value"),
        )
        for c in COLUMNS
    ])


def _value_failures(typed: Any) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    parts = [
        typed.filter(F.col(c) <= 0 if c == "user_id" else F.col(c) < 0).select(
            _ROW, F.lit(c).alias("column"), F.lit(VALUE_CHECKS[c]).alias("check"), F.col(c).cast("string").alias("value")
        )
        for c in COLUMNS
    ]
    repeats = (
        typed.filter(F.col("user_id").isNotNull())
        .withColumn("_n", F.count("*").over(Window.partitionBy("user_id")))
        .filter(F.col("_n") > 1)
        .select(_ROW, F.lit("user_id").alias("column"), F.lit(FIELD_UNIQUENESS).alias("check"),
                F.col("user_id").cast("string").alias("value"))
    )
    return _union([*parts, repeats])


def _union(parts: Sequence[Any]) -> Any:
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result


def _from_delta(delta: Delta) -> Any:
    """A delta held in pandas as a Spark frame, handed over as one Arrow table rather than row by row."""
    import pyarrow as pa

    frame = delta.frame.loc[:, list(COLUMNS)].reset_index(drop=True)
    frame.insert(0, _ROW, delta.frame.index.to_numpy(dtype="int64"))
    return session().createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))


def _to_pandas_int64(typed: Any) -> pd.DataFrame:
    frame = typed.orderBy(_ROW).select(*COLUMNS).toArrow().to_pandas().astype("int64")
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


def _stack(tables: Sequence[Any]) -> Any:
    from pyspark.sql import functions as F

    return _union([table.select(*COLUMNS, _ROW).withColumn(_FILE_INDEX, F.lit(index)) for index, table in enumerate(tables)])


def _file_names(names: Sequence[str]) -> Any:
    from pyspark.sql import functions as F

    return F.create_map(*[item for index, name in enumerate(names) for item in (F.lit(index), F.lit(name))])


def _feed_failures(feed: Any, names: Sequence[str]) -> pd.DataFrame:
    """The three feed-wide checks in one Spark job, each ordered as ``checks.crossfeed`` orders it."""
    found = _union(
        [_batch_monotonicity(feed, names), _repeated_user_batch(feed, names), _spend_decreases(feed, names)]
    ).toArrow().to_pandas()
    frames = []
    for rule in FEED_RULES.values():
        rows = found[found["check"] == rule.check].sort_values(_FEED_ORDER[rule.check], kind="stable")
        if not rows.empty:
            frames.append(failure_rows(rows["file"].tolist(), rows[_ROW].to_numpy(), column=rule.column, check=rule.check,
                                       values=rows["value"].tolist()))
    return concat_failures(frames)


# Each check's failures in the order ``checks.crossfeed`` reports them.
_FEED_ORDER = {
    BATCH_MONOTONIC: [_FILE_INDEX, _ROW],
    PAIR_UNIQUE: [_FILE_INDEX, _ROW],
    # pandas' stable sort by (user_id, batch_id) of the stacked feed.
    SPEND_NEVER_DECREASES: ["user_id", "batch_id", _FILE_INDEX, _ROW],
}


def _failure_rows(frame: Any, check: str, value: Any, names: Sequence[str]) -> Any:
    from pyspark.sql import functions as F

    return frame.select(
        F.lit(check).alias("check"), "user_id", "batch_id", _FILE_INDEX, _ROW,
        _file_names(names)[F.col(_FILE_INDEX)].alias("file"), value.alias("value"),
    )


def _batch_monotonicity(feed: Any, names: Sequence[str]) -> Any:
    from pyspark.sql import functions as F

    maxima = {row[_FILE_INDEX]: row["_max"] for row in feed.groupBy(_FILE_INDEX).agg(F.max("batch_id").alias("_max")).collect()}
    bounds, setters = _frames.earlier_batches(names, [maxima[index] for index in range(len(names))])
    limits = session().createDataFrame(
        [(index, bound, setter) for index, (bound, setter) in enumerate(zip(bounds, setters)) if bound is not None],
        f"{_FILE_INDEX} int, _bound long, _setter string",
    )
    offending = feed.join(F.broadcast(limits), on=_FILE_INDEX).filter(F.col("batch_id") <= F.col("_bound"))
    value = F.format_string(FEED_RULES[BATCH_MONOTONIC].wording, "batch_id", "_bound", "_setter")
    return _failure_rows(offending, BATCH_MONOTONIC, value, names)


def _repeated_user_batch(feed: Any, names: Sequence[str]) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pair = Window.partitionBy("user_id", "batch_id").orderBy(_FILE_INDEX, _ROW)
    offending = (
        feed.withColumn("_seen", F.row_number().over(pair))
        .withColumn("_first_file", F.first(_FILE_INDEX).over(pair))
        .withColumn("_first_row", F.first(_ROW).over(pair))
        .filter(F.col("_seen") > 1)
    )
    value = F.format_string(FEED_RULES[PAIR_UNIQUE].wording, "user_id", "batch_id",
                            _file_names(names)[F.col("_first_file")], "_first_row")
    return _failure_rows(offending, PAIR_UNIQUE, value, names)


def _spend_decreases(feed: Any, names: Sequence[str]) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # (batch_id, file, row) within a user is pandas' stable sort by (user_id, batch_id) of the stacked feed.
    history = Window.partitionBy("user_id").orderBy("batch_id", _FILE_INDEX, _ROW)
    offending = (
        feed.withColumn("_previous_spend", F.lag(_SPEND).over(history))
        .withColumn("_previous_batch", F.lag("batch_id").over(history))
        .withColumn("_previous_file", F.lag(_FILE_INDEX).over(history))
        .filter(F.col(_SPEND) < F.col("_previous_spend"))
    )
    value = F.format_string(FEED_RULES[SPEND_NEVER_DECREASES].wording, _SPEND, "_previous_spend", "_previous_batch",
                            _file_names(names)[F.col("_previous_file")])
    return _failure_rows(offending, SPEND_NEVER_DECREASES, value, names)


def _deduplicate(feed: Any, names: Sequence[str]) -> pd.DataFrame:
    """Each user's rows at its largest batch_id, collected once; more than one for a user is a tie."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    latest = (
        feed.withColumn("_max", F.max("batch_id").over(Window.partitionBy("user_id")))
        .filter(F.col("batch_id") == F.col("_max"))
        .orderBy("user_id", _FILE_INDEX, _ROW)
        .select(*COLUMNS, _FILE_INDEX, _ROW)
        .toArrow()
        .to_pandas()
    )
    tied = latest[latest["user_id"].duplicated(keep=False)]
    if not tied.empty:
        first_user = tied["user_id"].min()
        places = tied[tied["user_id"] == first_user]
        raise tie_error(
            tied["user_id"].nunique(), first_user, places["batch_id"].iloc[0],
            [(names[index], row) for index, row in zip(places[_FILE_INDEX], places[_ROW])],
        )
    frame = latest.loc[:, list(COLUMNS)].astype("int64").reset_index(drop=True)
    frame[SOURCE_FILE] = pd.array([names[index] for index in latest[_FILE_INDEX]], dtype="str")
    frame[SOURCE_ROW] = latest[_ROW].to_numpy(dtype="int64")
    return frame
