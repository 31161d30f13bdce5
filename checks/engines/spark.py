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
pandas path would (a row with too many fields, a literal Spark parses otherwise: ``checks.engines.spark_cells``) go to
the pandas path.

The SQL is the run's contract's: its columns, key and version, the columns that never decrease, and the value
rules rendered by ``checks.engines.sql_rules``. The text pass reads a contract of integers, exact decimals, booleans,
dates, timestamps and text, filled or optional, whatever their names, bounds and text rules (``_reads_itself``), and
words each failing cell as the file wrote it; text is coded in Spark (``checks.engines.spark_dictionary``). A delta
of a contract with a floating column is read and validated by the pandas path and handed to the SQL in its
computing form (``checks.encoding``).

A feed or table is a local path or any URI Spark reads (``s3a://``, ``hdfs://``, ``file://``): such a
folder is listed, and each header read, through Hadoop's FileSystem API (``checks.engines.spark_files``).
An ``s3a://`` path without the S3A connector on the classpath is refused in one line naming what is
missing (``checks.engines.spark_s3a``): pyspark ships no S3A connector.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from checks.dedup import deduplicate as _deduplicate_pandas
from checks.encoding import NULL, Encoding, default_encoding
from checks.engines import _frames, spark_cells, spark_dictionary, spark_files, spark_s3a, spark_schemas, sql_rules
from checks.engines.base import Capability
# The diagnosis with the reconciliation and the lineage in Spark SQL.
from checks.engines.spark_deltas import (
    DELTA_DTYPES, FEED_DTYPES, FILE_INDEX, PLACE, ROW, SparkDelta, SparkFailures, SparkTable,
    failures_in_spark, stacked, to_pandas_int64, union,
)
from checks.engines.spark_reconcile import diagnose  # noqa: F401  (this engine's ``diagnose``)
# Capability.CLUSTER: the master to run on; the session the engine runs in.
from checks.engines.spark_session import configure, session  # noqa: F401  (this engine's ``configure``)
from checks.feed import discover_deltas as _discover_deltas_locally
from checks.feed import read_table as _read_table_pandas
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, DeltaFile, empty_failures, failure_rows
from checks.results import FAILURES_CSV, DeltaValidation, FailuresElsewhere, FeedCheck, passed_deltas, pandas_failures, write_failures
from checks.rules import (
    BATCH_MONOTONIC, PAIR_UNIQUE, FeedRule, feed_rules, never_decreases_check, never_decreasing, text_rules,
    tie_error, value_rules,
)
from checks.validate import read_and_validate as _read_and_validate_pandas
from checks.wording import Words

if TYPE_CHECKING:
    from checks.contract import Contract
    from checks.writers import PendingWrites


NAME = "spark"
_PASS = "_pass"  # a delta's failing cell's pass: the text pass or the value pass
CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.OWN_LISTING, Capability.OWN_DIAGNOSIS, Capability.CLUSTER, Capability.ANY_CONTRACT}
)


class _NeedsPandasPath(Exception):
    """This file has something only the pandas path reads exactly as the reference does."""


@dataclass(frozen=True)
class _Form:
    """What the SQL of one run reads from its contract: the columns, the key, the version, the columns that never
    decrease (with their rules) and whether Spark SQL reads the deltas itself (the first customer's rules)."""

    encoding: Encoding
    columns: tuple[str, ...]
    key: str
    version: str
    rules: dict[str, FeedRule]
    rising: tuple[str, ...]
    reads_deltas: bool

    @classmethod
    def of(cls, encoding: Encoding | None) -> _Form:
        encoding = encoding or default_encoding()
        reads_deltas = _reads_itself(encoding)
        if reads_deltas:  # the run's texts are Spark's from its first read on (else the pandas path codes every file)
            spark_dictionary.SparkDictionary.adopt(encoding)
        shape = encoding.contract.shape
        return cls(
            encoding=encoding, columns=shape.names, key=shape.key, version=shape.version,
            rules=feed_rules(shape, encoding), rising=tuple(column.name for column in never_decreasing(encoding, shape)),
            reads_deltas=reads_deltas,
        )


def _reads_itself(encoding: Encoding) -> bool:
    """Whether Spark SQL reads this contract's deltas and tables itself: every column one whose cells it parses or
    codes (``spark_cells.reads``: integers, exact decimals, booleans, dates, timestamps, text; filled or optional),
    whose text rules ``spark_cells`` checks and whose value rules the SQL renders and Pandera's PySpark models check
    (``spark_schemas.CHECKED``). A contract with a floating column is read by the pandas path."""
    return (
        spark_cells.reads(encoding)
        and all(rule.kind in ("literal", "required", *spark_cells.RULE_KINDS) for rule in text_rules(encoding))
        and all(rule.kind in spark_schemas.CHECKED for rule in value_rules(encoding))
    )


def check_feed_folder(
    directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None, encoding: Encoding | None = None
) -> FeedCheck:
    """Check every delta in ``directory`` as ``checks.pipeline.check_feed_folder`` does, on Spark."""
    _refuse_without_connector(directory)
    form = _Form.of(encoding)
    validations, tables = _frames.validate_folder(
        directory, lambda delta_file: _read_and_validate(delta_file, form), on_file,
        discover=lambda folder: discover_deltas(folder, form.encoding.contract),
    )
    return _feed_check(validations, tables, form)


def discover_deltas(directory: str | Path, contract: Contract | None = None) -> list[DeltaFile]:
    """``checks.feed.discover_deltas``, of a local folder or one at a URI (listed by Hadoop): the files ``contract`` names."""
    _refuse_without_connector(directory)
    if spark_files.is_uri(directory):
        return spark_files.discover_deltas(directory, contract)
    return _discover_deltas_locally(directory, contract)


def check_validations(validations: Sequence[DeltaValidation], encoding: Encoding | None = None) -> FeedCheck:
    """``checks.pipeline.check_validations`` on Spark, for deltas already validated."""
    form = _Form.of(encoding)
    tables = [_spark_table(validation.delta, form) for validation in validations if validation.delta is not None]
    return _feed_check(list(validations), tables, form)


def read_and_validate(delta_file: DeltaFile, encoding: Encoding | None = None) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Spark."""
    _refuse_without_connector(delta_file.path)
    return _read_and_validate(delta_file, _Form.of(encoding))[0]


def check_feed(deltas: Sequence[Delta], encoding: Encoding | None = None) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` on Spark, for deltas already in memory."""
    if not deltas:
        return empty_failures()
    form = _Form.of(encoding)
    feed = stacked([_spark_table(delta, form) for delta in deltas], form.columns)
    return pandas_failures(_feed_failures(feed, [delta.name for delta in deltas], form))  # the caller lists them all


def read_table(
    path: str | Path, encoding: Encoding | None = None, *, warn: Callable[[str], None] | None = None
) -> SparkTable | pd.DataFrame:
    """``checks.feed.read_table`` on Spark, its rows kept there (a ``SparkTable`` of the line number ``row`` and the
    int64 columns, text coded, whose ``frame`` is the pandas path's); a table with a bad cell, a quote in a contract
    with text, or extra columns, or of a contract Spark does not read (``_reads_itself``), goes to the pandas path."""
    _refuse_without_connector(path)
    form = _Form.of(encoding)
    header = spark_files.read_header(path, form.columns) if form.reads_deltas else None
    if header is None:
        return _read_table_on_pandas(path, warn, encoding)
    try:
        text, _ = _read_text(path, header, form)
    except _NeedsPandasPath:
        return _read_table_on_pandas(path, warn, encoding)
    cells = spark_cells.read(text, form.encoding, form.columns).cache()  # read and parsed once for the check and the rows
    try:
        # A bad cell, or a malformed row (too many fields) failing the job: the pandas path words it exactly.
        bad = union([
            spark_cells.literal_failures(cells, form.encoding, form.columns), *_undecided(cells, form),
        ]).limit(1).count()
    except Exception:  # noqa: BLE001 - Py4J wraps every JVM error
        bad = 1
    if bad:
        cells.unpersist()
        return _read_table_on_pandas(path, warn, encoding)  # its warnings too (a float export read)
    spark_dictionary.learn(spark_cells.texts(cells, form.columns), form.encoding, form.columns, row=ROW)
    rows = spark_cells.stored(spark_cells.parsed(cells, form.columns), form.encoding, form.columns)
    rows = spark_dictionary.coded(rows, form.encoding, form.columns).cache()
    rows.count()  # cached before the cells it is taken from are let go
    cells.unpersist()
    return SparkTable(rows, to_pandas_int64, order=ROW)


def _refuse_without_connector(path: str | Path) -> None:
    if spark_s3a.is_s3a(path):
        spark_s3a.require_connector(session(), path)


def _read_table_on_pandas(
    path: str | Path, warn: Callable[[str], None] | None = None, encoding: Encoding | None = None
) -> pd.DataFrame:
    with spark_files.readable(path) as local:
        return _read_table_pandas(local, encoding, warn=warn)


def _feed_check(validations: list[DeltaValidation], tables: list[Any], form: _Form) -> FeedCheck:
    names = [delta.name for delta in passed_deltas(validations)]
    if not tables:
        return FeedCheck.assemble(validations, empty_failures(), _deduplicate_pandas([], encoding=form.encoding), form.encoding)
    feed = stacked(tables, form.columns).cache()
    try:
        feed_failures = _feed_failures(feed, names, form)
        deduplicated, users, total = _deduplicate(feed, names, form)
    finally:
        feed.unpersist()
        for table in tables:
            table.unpersist()
    return SparkFeedCheck.of(validations, feed_failures, deduplicated, users=users, total=total, encoding=form.encoding)


class SparkFeedCheck(FeedCheck):
    """A ``FeedCheck`` whose deduplicated table stays in Spark (``deduplicated_rows``, cached there): the count and
    the total are Spark aggregates taken once, the outputs are written by Spark, and ``deduplicated`` collects the
    pandas frame only for the code that still asks for it."""

    _rows: SparkTable
    _users: int
    _total: int

    @classmethod
    def of(
        cls, validations: Sequence[DeltaValidation], feed_failures: pd.DataFrame | FailuresElsewhere, rows: SparkTable, *,
        users: int, total: int, encoding: Encoding,
    ) -> SparkFeedCheck:
        held = FeedCheck.assemble(validations, feed_failures, pd.DataFrame(), encoding)
        check = cls.__new__(cls)
        for name in [field.name for field in fields(FeedCheck) if field.name != "deduplicated"]:
            object.__setattr__(check, name, getattr(held, name))
        for name, value in (("_rows", rows), ("_users", users), ("_total", total)):
            object.__setattr__(check, name, value)
        return check

    @property
    def deduplicated(self) -> pd.DataFrame:  # type: ignore[override]
        return self._rows.frame

    @property
    def deduplicated_rows(self) -> SparkTable:
        return self._rows

    @property
    def user_count(self) -> int:
        return self._users

    def amount_total(self) -> int:
        return self._total

    def latest_versions(self) -> Any:
        """The key and version columns as a Spark frame, by key: the suites join it where it is."""
        shape = self.encoding.contract.shape
        return self._rows.in_order((shape.key, shape.version))

    @property
    def failures(self) -> pd.DataFrame | FailuresElsewhere:  # type: ignore[override]
        """Every failure, held in Spark where some are (``SparkFailures``): joined once, counted once."""
        if "_failures" not in self.__dict__:
            object.__setattr__(self, "_failures", super().failures)
        return self.__dict__["_failures"]

    def write_outputs(self, out_dir: Path) -> PendingWrites:
        """Spark writes the deduplicated table, its values as the files wrote them (``spark_cells.as_written``, text
        through Spark's copy of the dictionaries; a contract with a floating column goes through the driver's
        writers), and ``failures.csv`` where the failures are held (Spark's, or a frame's)."""
        from checks.writers import start_writing

        if not spark_cells.reads(self.encoding):
            return super().write_outputs(out_dir)
        rows, key = self._rows.table, self.encoding.contract.shape.key
        failures = self.failures
        return start_writing({
            "deduplicated_csv": lambda: spark_files.write_csv(
                spark_cells.as_written(rows, self.encoding, csv=True, order=key), out_dir / "deduplicated.csv"
            ),
            "deduplicated_parquet": lambda: spark_files.write_parquet(
                spark_cells.as_written(rows, self.encoding, order=key), out_dir / "deduplicated.parquet"
            ),
            "failures_csv": lambda: write_failures(out_dir / FAILURES_CSV, failures),
        })

    def __repr__(self) -> str:  # the dataclass's would collect the rows
        return f"SparkFeedCheck(files={[validation.name for validation in self.validations]}, users={self._users})"

    def __reduce__(self) -> tuple[Any, ...]:  # another process gets a FeedCheck of the rows
        return FeedCheck.assemble, (self.validations, self.feed_failures, self.deduplicated, self.encoding)


def _read_and_validate(delta_file: DeltaFile, form: _Form) -> tuple[DeltaValidation, Any | None]:
    try:
        if not form.reads_deltas:
            raise _NeedsPandasPath  # the contract's types and text rules: the pandas path reads them
        return _validate(delta_file, form)
    except _NeedsPandasPath:
        with spark_files.readable(delta_file.path) as local:
            validation = _read_and_validate_pandas(DeltaFile(local, delta_file.number), form.encoding)
        table = _from_delta(validation.delta, form) if validation.delta is not None else None
        return validation, table


def _validate(delta_file: DeltaFile, form: _Form) -> tuple[DeltaValidation, Any | None]:
    from pyspark.sql import functions as F

    header = spark_files.read_header(delta_file.path, form.columns)
    if header is None:
        raise _NeedsPandasPath
    text, rows = _read_text(delta_file.path, header, form)
    if rows == 0:
        raise _NeedsPandasPath  # the not_empty failure, as the pandas path words it
    encoding, columns = form.encoding, form.columns
    cells = spark_cells.read(text, encoding, columns).cache()  # each cell matched and parsed once for every pass
    typed = spark_cells.parsed(cells, columns)
    # The text pass, the cells Spark leaves to pandas and the value pass in one Spark job, whose failing cells stay
    # cached in Spark: only their count per (column, check) comes to the driver.
    text_pass = union([
        spark_cells.literal_failures(cells, encoding, columns), *spark_cells.rule_failures(cells, encoding, columns),
        *_undecided(cells, form),
    ])
    value_pass = spark_cells.values_as_written(_value_failures(typed, form), cells, encoding)
    # Each failing cell tagged with its pass: a text rule and a value rule may share a check's name.
    found = text_pass.withColumn(_PASS, F.lit("text")).unionByName(value_pass.withColumn(_PASS, F.lit("values"))).cache()
    try:
        checks = found.groupBy("column", "check", _PASS).count().toArrow().to_pandas()
    except Exception as error:  # noqa: BLE001 - a malformed row (too many fields) fails the first job reading every column
        found.unpersist()
        cells.unpersist()
        raise _NeedsPandasPath from error
    if (checks["check"] == spark_cells.UNDECIDED).any():
        found.unpersist()
        cells.unpersist()
        raise _NeedsPandasPath  # a literal Spark does not parse as pandas does: the pandas path decides what it holds
    name = delta_file.name
    # Pandera's verdict per check must match the SQL's.
    spark_schemas.confirm(name, spark_cells.texts(cells, columns), typed, checks, encoding)
    # Every file read adds its texts to the run's dictionaries, passed or not, as on the pandas path.
    spark_dictionary.learn(spark_cells.texts(cells, columns), encoding, columns, row=ROW)
    count = int(checks["count"].sum())
    # The text pass and the value pass failed cells.
    both = checks[_PASS].nunique() == 2
    failures, delta, table = _delta_failures(name, found, count, both=both), None, None
    if not count:
        found.unpersist()
        table = spark_dictionary.coded(spark_cells.stored(typed, encoding, columns), encoding, columns).cache()
        table.count()  # cached before the cells it is taken from are let go (else read and parsed again from the file)
        delta = SparkDelta(name, delta_file.number, table)
    cells.unpersist()
    validation = DeltaValidation(
        name=name, number=delta_file.number, delta=delta, failures=failures, warnings=header.warnings, rows=rows
    )
    return validation, table


def _delta_failures(name: str, found: Any, count: int, *, both: bool) -> pd.DataFrame | SparkFailures:
    """A delta's failing cells as ``checks.validate`` gives them, kept in Spark: ordered by line, column and check.
    ``both``: the text pass and the value pass failed cells (the pandas path's frame then has ``Int64`` lines; one
    pass's failures beside the other's empty frame, ``object``)."""
    from pyspark.sql import functions as F

    if not count:
        return empty_failures()
    zero = F.lit(0).cast("bigint")
    rows = found.select(
        F.lit(name).alias("file"), F.col(ROW).cast("bigint").alias(ROW), "column", "check", "value",
        zero.alias("_part"), zero.alias("_rank"), F.col(ROW).cast("bigint").alias("_s1"), zero.alias("_s2"),
        zero.alias("_s3"), zero.alias("_s4"),
    )
    return SparkFailures(rows, count, dtypes=DELTA_DTYPES if both else {**DELTA_DTYPES, ROW: "object"})


def _read_text(path: str | Path, header: _frames.Header, form: _Form) -> tuple[Any, int]:
    """The file's records as text with their line numbers (the header is line 1 and is dropped), and how many:
    the contract's columns in its order, an empty cell null (quoted or not, as pandas reads it).

    Quotes are read as pandas reads them, but in a contract with text: there they are cells' characters, which send
    the file to the pandas path (``_undecided``), since a quoted cell may hold a line break, which Spark reading a file
    in splits takes for the end of a record."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(name, StringType()) for name in header.names])
    # pandas' quotes doubled in a quoted cell (Spark's default escape is a backslash); none at all in a contract with text.
    quoting = {"quote": ""} if _holds_text(form) else {"escape": '"'}
    try:
        records = (
            session()
            .read.schema(schema)
            .option("header", "false")
            .option("mode", "FAILFAST")
            .options(**quoting)
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
        .select(
            (F.col("_offset") + F.col("_id") - F.col("_first")).alias(ROW),
            *[F.nullif(F.col(name), F.lit("")).alias(name) for name in form.columns],  # a quoted "" is empty too
        )
        .filter(F.col(ROW) > 1)
    )
    return text, offset - 2


def _holds_text(form: _Form) -> bool:
    return bool(spark_dictionary.strings(form.encoding, form.columns))


def _undecided(cells: Any, form: _Form) -> list[Any]:
    """The cells Spark leaves to the pandas path (``spark_cells.undecided``) and, in a contract with text, any cell
    holding a quote (``_read_text``)."""
    quoted = [spark_cells.quoted(cells, form.columns)] if _holds_text(form) else []
    return [spark_cells.undecided(cells, form.columns), *quoted]


def _value_failures(typed: Any, form: _Form) -> Any:
    """The contract's value rules (``checks.engines.sql_rules``) over the delta's bigint cells, one row per broken cell."""
    import uuid

    view = f"delta_{uuid.uuid4().hex}"
    typed.createOrReplaceTempView(view)
    return session().sql(sql_rules.failure_query(form.encoding, view, ROW, sql_rules.SPARK))


def _spark_table(delta: Delta, form: _Form) -> Any:
    """A delta's rows as a Spark frame: the one it was validated in, else its pandas rows handed over."""
    return delta.table if isinstance(delta, SparkDelta) else _from_delta(delta, form)


def _from_delta(delta: Delta, form: _Form) -> Any:
    """A delta held in pandas as a Spark frame, handed over as one Arrow table rather than row by row."""
    import pyarrow as pa

    frame = delta.frame.loc[:, list(form.columns)].reset_index(drop=True)
    frame.insert(0, ROW, delta.frame.index.to_numpy(dtype="int64"))
    return session().createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))


# The fields each failure across the feed holds, as bigint (a file as its place in the feed), in computing form: what
# ``FeedRule.wording`` fills in, in its order, once each is said as the files wrote it.
_FIELDS = ("_a", "_b", "_c", "_d")
# What each field of a check is: a value of a contract's column (its name), a file (its place in the feed), a line.
_FILE, _LINE = object(), object()


def _feed_failures(feed: Any, names: Sequence[str], form: _Form) -> pd.DataFrame | SparkFailures:
    """The feed-wide checks in one Spark job, their offending rows cached in Spark and counted there, each ordered and
    worded (``FeedRule.wording`` in Spark's ``format_string``) as ``checks.crossfeed`` orders and words it."""
    from pyspark.sql import functions as F

    found = union([
        _version_monotonicity(feed, names, form), _repeated_pairs(feed, form),
        *[_decreases(feed, column, form) for column in form.rising],
    ]).cache()
    counts = {row["check"]: row["count"] for row in found.groupBy("check").count().collect()}
    if not counts:
        found.unpersist()
        return empty_failures()
    key, version = form.key, form.version
    worded = []
    for rank, rule in enumerate(form.rules.values()):
        if not counts.get(rule.check):
            continue
        if rule.check == BATCH_MONOTONIC:  # the version, the largest before, the file that holds it
            kinds, place = (version, version, _FILE), (FILE_INDEX, ROW)
        elif rule.check == PAIR_UNIQUE:  # the key, the version, the file and line of the pair's first occurrence
            kinds, place = (key, version, _FILE, _LINE), (FILE_INDEX, ROW)
        else:  # the value, the key's value before, at that version, in that file; pandas' stable sort by (key, version)
            kinds, place = (rule.column, rule.column, version, _FILE), ("_key", "_version", FILE_INDEX, ROW)
        rows = found.filter(F.col("check") == rule.check)
        texts = _texts(rows, kinds, names, form)
        if texts is None:
            worded.append(_worded_on_the_driver(rows, rule, kinds, names, rank, form))
            continue
        rows, fields = texts
        zero = F.lit(0).cast("bigint")
        worded.append(rows.select(
            _file_name(names, F.col(FILE_INDEX)).alias("file"), F.col(ROW).cast("bigint").alias(ROW),
            F.lit(rule.column).alias("column"), F.lit(rule.check).alias("check"),
            F.format_string(rule.wording, *fields).alias("value"), zero.alias("_part"),
            F.lit(rank).cast("bigint").alias("_rank"),
            *[F.col(at).cast("bigint").alias(name) if at is not None else zero.alias(name)
              for at, name in zip((*place, None, None)[:4], PLACE[2:])],
        ))
    return SparkFailures(union(worded), sum(counts.values()), dtypes=FEED_DTYPES)


def _file_name(names: Sequence[str], index: Any) -> Any:
    """The name of the file at place ``index`` (a column) in the feed."""
    from pyspark.sql import functions as F

    return F.element_at(F.array(*[F.lit(name) for name in names]), (index + 1).cast("int"))


def _texts(rows: Any, kinds: Sequence[Any], names: Sequence[str], form: _Form) -> tuple[Any, list[Any]] | None:
    """Each field of ``rows`` as the files wrote it, in Spark SQL (``Encoding.written``), with ``rows`` joined to what
    that takes (a string column's dictionary); None where SQL cannot say a value as the driver does."""
    from pyspark.sql import functions as F

    fields = []
    for field, kind in zip(_FIELDS, kinds):
        value = F.col(field)
        if kind is _FILE:
            fields.append(_file_name(names, value))
        elif kind is _LINE or form.encoding.held_as_itself(kind):
            fields.append(value.cast("string"))
        elif form.encoding.codecs[kind].column.logical_type == "string":
            texts = spark_dictionary.frame(form.encoding.codecs[kind].dictionary).withColumnRenamed("_code", f"{field}_code")
            rows = rows.join(texts.withColumnRenamed("_text", f"{field}_text"), value == F.col(f"{field}_code"), "left")
            fields.append(F.coalesce(F.col(f"{field}_text"), F.lit("")))  # NULL: no code, an empty cell
        else:
            text = spark_cells.written(form.encoding.codecs[kind], field)
            if text is None:
                return None
            fields.append(text)
    return rows, fields


def _worded_on_the_driver(
    rows: Any, rule: FeedRule, kinds: Sequence[Any], names: Sequence[str], rank: int, form: _Form
) -> Any:
    """The fallback for a check whose values SQL cannot word (a floating column): its offending rows are worded on the
    driver as before, every one of them collected (a contract with a never-decreasing floating column only), then
    handed back to Spark to be written with the rest."""
    import pyarrow as pa

    found = rows.toArrow().to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    if rule.check in (BATCH_MONOTONIC, PAIR_UNIQUE):
        found = found.sort_values([FILE_INDEX, ROW], kind="stable")
    else:
        found = found.sort_values(["_key", "_version", FILE_INDEX, ROW], kind="stable")
    fields = []
    for field, kind in zip(_FIELDS, kinds):
        values = found[field].to_numpy(dtype="int64", na_value=0)
        if kind is _FILE:
            fields.append([names[int(at)] for at in values])
        elif kind is _LINE:
            fields.append(values)
        else:
            fields.append(form.encoding.written(kind, values))
    files = [names[int(at)] for at in found[FILE_INDEX]]
    frame = failure_rows(files, found[ROW].to_numpy(), column=rule.column, check=rule.check, values=rule.values(*fields))
    return failures_in_spark(frame, rank=rank)


def _failure_rows(frame: Any, check: str, fields: Sequence[Any], form: _Form) -> Any:
    from pyspark.sql import functions as F

    padded = [*fields, *[F.lit(None)] * (len(_FIELDS) - len(fields))]
    return frame.select(
        F.lit(check).alias("check"), F.col(form.key).alias("_key"), F.col(form.version).alias("_version"), FILE_INDEX, ROW,
        *[field.cast("bigint").alias(name) for field, name in zip(padded, _FIELDS)],
    )


def _version_monotonicity(feed: Any, names: Sequence[str], form: _Form) -> Any:
    from pyspark.sql import functions as F

    version = form.version
    maxima = {row[FILE_INDEX]: row["_max"] for row in feed.groupBy(FILE_INDEX).agg(F.max(version).alias("_max")).collect()}
    bounds, setters = _frames.earlier_batches(names, [maxima[index] for index in range(len(names))])
    limits = session().createDataFrame(
        [(index, bound, names.index(setter)) for index, (bound, setter) in enumerate(zip(bounds, setters)) if bound is not None],
        f"{FILE_INDEX} int, _bound long, _setter int",
    )
    offending = feed.join(F.broadcast(limits), on=FILE_INDEX).filter(F.col(version) <= F.col("_bound"))
    return _failure_rows(offending, BATCH_MONOTONIC, [F.col(version), F.col("_bound"), F.col("_setter")], form)


def _repeated_pairs(feed: Any, form: _Form) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pair = Window.partitionBy(form.key, form.version).orderBy(FILE_INDEX, ROW)
    offending = (
        feed.withColumn("_seen", F.row_number().over(pair))
        .withColumn("_first_file", F.first(FILE_INDEX).over(pair))
        .withColumn("_first_row", F.first(ROW).over(pair))
        .filter(F.col("_seen") > 1)
    )
    fields = [F.col(form.key), F.col(form.version), F.col("_first_file"), F.col("_first_row")]
    return _failure_rows(offending, PAIR_UNIQUE, fields, form)


def _decreases(feed: Any, column: str, form: _Form) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # (version, file, row) within a key is pandas' stable sort by (key, version) of the stacked feed.
    history = Window.partitionBy(form.key).orderBy(form.version, FILE_INDEX, ROW)
    offending = (
        feed.withColumn("_previous", F.lag(column).over(history))
        .withColumn("_previous_version", F.lag(form.version).over(history))
        .withColumn("_previous_file", F.lag(FILE_INDEX).over(history))
        .filter(F.col(column) < F.col("_previous"))
    )
    fields = [F.col(column), F.col("_previous"), F.col("_previous_version"), F.col("_previous_file")]
    return _failure_rows(offending, form.rules[_never_decreases(form, column)].check, fields, form)


def _never_decreases(form: _Form, column: str) -> str:
    return never_decreases_check(form.encoding.contract.column(column))


_TIES = "_ties"


def _deduplicate(feed: Any, names: Sequence[str], form: _Form) -> tuple[SparkTable, int, int]:
    """Each key's rows at its largest version, cached in Spark with their lineage, and its count and amount total in
    the same job; more than one row for a key is a tie, whose first key alone comes back to word the error."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key, version, amount = form.key, form.version, form.encoding.contract.shape.amount
    per_key = Window.partitionBy(key)
    latest = (
        feed.withColumn("_max", F.max(version).over(per_key))
        .filter(F.col(version) == F.col("_max"))
        .withColumn(_TIES, F.count("*").over(per_key))
        .select(
            *form.columns,
            F.element_at(F.array(*[F.lit(name) for name in names]), F.col(FILE_INDEX) + 1).alias(SOURCE_FILE),
            F.col(ROW).alias(SOURCE_ROW), FILE_INDEX, _TIES,
        )
        .cache()
    )
    tied = F.col(_TIES) > 1
    figures = latest.agg(
        F.count("*").alias("users"),
        (F.sum(amount) if amount is not None else F.lit(0)).alias("total"),
        F.count_distinct(F.when(tied, F.col(key))).alias("tied"),
        F.min(F.when(tied, F.col(key))).alias("first_tied"),
    ).first()
    if figures["tied"]:
        places = latest.filter(F.col(key) == figures["first_tied"]).orderBy(FILE_INDEX, SOURCE_ROW).collect()
        latest.unpersist()
        words = Words.of(form.encoding)
        raise tie_error(
            figures["tied"], words.key(figures["first_tied"]), words.version_value(places[0][version]),
            [(names[place[FILE_INDEX]], place[SOURCE_ROW]) for place in places], form.encoding,
        )
    rows = SparkTable(latest.select(*form.columns, SOURCE_FILE, SOURCE_ROW), lambda table: _deduplicated_frame(table, form), order=form.key)
    return rows, int(figures["users"]), int(figures["total"] or 0)


def _deduplicated_frame(table: Any, form: _Form) -> pd.DataFrame:
    """The deduplicated table on the driver, as the pandas path's dedup gives it: by key, int64 values, the lineage."""
    frame = table.orderBy(form.key).toArrow().to_pandas()
    frame = frame.astype({column: "int64" for column in (*form.columns, SOURCE_ROW)})
    frame[SOURCE_FILE] = pd.array(frame[SOURCE_FILE].tolist(), dtype="str")
    return frame
