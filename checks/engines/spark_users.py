"""The per-user table of a reconciliation in Spark SQL, kept in Spark (``SparkUsers``): ``discrepancies.csv`` written
there, the report's figures and the capped examples computed there, and only they collected to the driver.

``checks.engines.spark_reconcile`` classifies every key into one Spark frame; the keys it lists (those that do not
match, or whose customer row does not) stay cached in Spark for the rest of the run, with their first platform row's
source in the feed once the lineage has traced it (``traced``). The rows a person reads (each class's and each
cause's examples) are laid out by ``checks.reconcile.UserRows.frame``, the default engine's own code, so that both
engines give the same frames to the last dtype; ``frame`` collects every listed row the same way, for the code that
still reads pandas rows (the differential tests; nothing in a run of a contract held as the files write it).

``discrepancies.csv`` is one Spark job written as ``checks.engines.spark_files`` writes any output: the columns of
``checks.discrepancies.discrepancies_table`` in its order (largest gap first, then by key), each cell as the default
engine's writer prints it, also a column pandas holds as floats because some key lacks a value there (``_float_text``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from checks.engines import spark_cells
from checks.engines.spark_dictionary import decoded
from checks.engines.spark_files import safe_text
from checks.lineage import PlatformRows
from checks.model import (
    CLASS,
    CUSTOMER_CLASS,
    DETAIL,
    PLATFORM_SOURCE_FILE,
    PLATFORM_SOURCE_ROW,
    SOURCE_FILE,
    SOURCE_ROW,
    Shape,
    side_column,
)
from checks.reconcile import (
    CLASSES, CUSTOMER_CLASSES, DETAILS, MATCH, PLATFORM_ROW, PLATFORM_ROWS, SPEND_GAP, ExpectedRows, UserRows, compared,
)
from checks.results import UsersElsewhere

if TYPE_CHECKING:
    from checks.encoding import Dictionary, Encoding
    from checks.wording import Words

LINE = "_line"  # a table row's line number in its file
POSITION = "_position"  # a table row's place in its table
CODE = "_class"  # a key's class, as its place in ``CLASSES``
DETAIL_CODE = "_detail"
CUSTOMER_CODE = "_customer_class"
GAP = "_gap"
LISTED = "_listed"
# The first platform row's first equal feed row (``traced``): its file's place in the feed, and its line.
PLATFORM_FILE = "_platform_file"
PLATFORM_LINE = "_platform_line"

# Below this magnitude Arrow prints a float64 holding an integer as its digits; above, in scientific form.
_PLAIN_BELOW = 10**10
# Every integer of smaller magnitude is exact as a float64: its digits are the shortest form Arrow prints.
_EXACT_BELOW = 2**53


@dataclass(frozen=True)
class Facts:
    """The whole-table aggregates: per class its users and dollars, the totals, which tables hold every key, and
    the report's figures (customer rows that differ, the gap by the file of the latest row)."""

    members: dict[int, int]
    gaps: dict[int, int]
    user_count: int
    expected_total: int
    platform_total: int
    customer_total: int | None
    complete: tuple[bool, bool, bool]  # every key has an expected, a platform and a customer row
    file_names: tuple[str, ...]  # the expected rows' files, in order of first appearance by key
    customer_differing: int | None  # keys whose customer row is not the expected one (None: no export)
    gap_by_file: dict[str | None, int]  # the gap of the keys that do not match, by their latest row's file
    discrepant_by_file: dict[str | None, int]  # how many keys do not match, by their latest row's file


class SparkUsers(UsersElsewhere):
    """The listed keys' rows as a cached Spark frame (one row per key, ``spark_reconcile``'s columns); ``traced``
    adds where each first platform row came from, which ``discrepancies.csv`` and the causes' examples show."""

    def __init__(self, users: Any, facts: Facts, shape: Shape, with_customer: bool, names: Sequence[str] | None = None) -> None:
        self.users = users
        self.facts = facts
        self.shape = shape
        self.with_customer = with_customer
        self.names = None if names is None else tuple(names)  # the feed's files, once traced
        self._frame: pd.DataFrame | None = None

    def traced(self, sources: Any, names: Sequence[str]) -> SparkUsers:
        """These keys with their first platform row's source (``sources``: per platform row its line ``LINE``, the
        file ``PLATFORM_FILE`` and line ``PLATFORM_LINE`` of its first equal feed row), cached in place of these."""
        from pyspark.sql import functions as F

        found = sources.select(F.col(LINE).alias("p_" + LINE), PLATFORM_FILE, PLATFORM_LINE)
        users = self.users.join(found, on="p_" + LINE, how="left").cache()
        users.count()  # cached before the rows it is joined from are let go
        self.users.unpersist()
        return SparkUsers(users, self.facts, self.shape, self.with_customer, names)

    @property
    def frame(self) -> pd.DataFrame:
        """The default engine's ``Reconciliation.users``: every listed key's rows, collected (once)."""
        if self._frame is None:
            chosen = _sorted(self.users.drop(*_SOURCES).toArrow().to_pandas(), self.shape)
            self._frame = layout(chosen, self.facts, self.with_customer, self.shape).frame(np.arange(len(chosen)))
        return self._frame

    def customer_differing(self) -> int | None:
        return self.facts.customer_differing

    def gap_by_file(self) -> dict[str | None, int]:
        return dict(self.facts.gap_by_file)

    def discrepant_by_file(self) -> dict[str | None, int]:
        return dict(self.facts.discrepant_by_file)

    def histograms(self, name: str, columns: Sequence[str], bins: int) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
        """Per column (``platform_*``, ``expected_*``) of the keys of class ``name``, NumPy's histogram over the span
        of every column's values, counted in Spark: a value's bin is how many inner edges lie at or below it, as
        ``np.histogram`` corrects its estimate to the edges it returns."""
        from pyspark.sql import functions as F

        count = self.facts.members.get(CLASSES.index(name), 0)
        if not count:
            return 0, []
        chosen = [F.col(_column_of(column)).cast("double") for column in columns]
        rows = self.users.where(F.col(CODE) == CLASSES.index(name))
        bounds = rows.agg(*[F.min(value) for value in chosen], *[F.max(value) for value in chosen]).first()
        span = (min(bounds[: len(chosen)]), max(bounds[len(chosen):]))
        edges = np.histogram_bin_edges(np.empty(0), bins=bins, range=span)
        found = []
        for value in chosen:
            at = sum((F.when(value >= F.lit(float(edge)), 1).otherwise(0) for edge in edges[1:-1]), F.lit(0))
            counted = {row[0]: row[1] for row in rows.groupBy(at).count().collect()}
            found.append((np.array([counted.get(place, 0) for place in range(bins)], dtype="int64"), edges))
        return count, found

    def discrepant(self) -> tuple[int, int, int]:
        """The keys that do not match: their gap, their gap's size, and how many have no platform row."""
        from pyspark.sql import functions as F

        row = self.users.where(F.col(CODE) != CLASSES.index(MATCH)).agg(
            F.sum(GAP), F.sum(F.abs(F.col(GAP))), F.sum(F.when(F.col("p_count") == 0, 1).otherwise(0))
        ).first()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def largest_gaps(self, count: int, among: Any | None = None) -> pd.DataFrame:
        """The ``count`` keys that do not match with the largest gaps (then the lowest keys), laid out as the listed
        rows, with the file (``platform_file``) and line (``platform_source_row``) their platform row came from;
        ``among``: a Spark frame of the keys to choose from (default: every listed key)."""
        from pyspark.sql import functions as F

        ordered = (F.abs(F.col(GAP)).desc(), F.col(self.shape.key))
        users = self.users if among is None else self.users.join(among, on=self.shape.key, how="left_semi")
        chosen = users.where(F.col(CODE) != CLASSES.index(MATCH)).orderBy(*ordered).limit(count).toArrow().to_pandas()
        gaps = chosen[GAP].to_numpy(dtype="int64")
        chosen = chosen.iloc[np.lexsort((chosen[self.shape.key].to_numpy(), -np.abs(gaps)))].reset_index(drop=True)
        examples = layout(chosen, self.facts, self.with_customer, self.shape).frame(np.arange(len(chosen)))
        files, lines = [], []
        for file, line in zip(chosen[PLATFORM_FILE], chosen[PLATFORM_LINE]):
            held = not pd.isna(file)
            files.append(self.names[int(file)] if held else None)
            lines.append(int(line) if held else None)
        examples["platform_file"] = files
        examples["platform_source_row"] = lines
        return examples

    def write_discrepancies(self, path: Path, words: Words) -> Path:
        """``discrepancies.csv`` written by Spark, byte for byte the default engine's (``checks.report``)."""
        from pyspark.sql import functions as F

        from checks.engines import spark_files

        off = self.users.where(F.col(CODE) != CLASSES.index(MATCH))
        exact = self._floats_exact(off, words.encoding)
        # Text through Spark's copy of the dictionaries, then in order: by the gap, then by the key's code.
        key_code = "__key_code"
        texts = decoded(off.withColumn(key_code, F.col(self.shape.key)), self._texts(words.encoding))
        table = texts.orderBy(F.abs(F.col(GAP)).desc(), F.col(key_code)).select(*self._written(exact, words.encoding))
        return spark_files.write_csv(table, path)

    def _texts(self, encoding: Encoding) -> dict[str, Dictionary]:
        """The frame's columns of a string column's codes (the key, ``e_plan``, ``p_plan``...), each with its dictionary."""
        key, values = self.shape.key, compared(self.shape)
        sides = ["e_", "p_", *(["c_"] if self.with_customer else [])]
        columns = {key: key, **{side + column: column for side in sides for column in values}}
        return {name: encoding.codecs[base].dictionary for name, base in columns.items()
                if name in self.users.columns and encoding.codecs[base].dictionary is not None}

    def _float_columns(self, encoding: Encoding) -> list[str]:
        """The frame's columns pandas holds as float64 (some key lacks a value there) and writes as floats, as Spark
        names them: line numbers, and columns held as themselves (any other is written as the files wrote it)."""
        expected, loaded, held = self.facts.complete
        values = [column for column in compared(self.shape) if encoding.held_as_itself(column)]
        columns = [] if expected else [*("e_" + column for column in values), "e_row"]
        columns += [] if loaded else [*("p_" + column for column in values), "p_" + LINE]
        columns += [] if held or not self.with_customer else ["c_" + column for column in values]
        return columns

    def _floats_exact(self, users: Any, encoding: Encoding) -> bool:
        """Every value of a float column is below 2**53 in magnitude, where ``_float_text`` prints it exactly."""
        from pyspark.sql import functions as F

        columns = self._float_columns(encoding)
        if not columns:
            return True
        row = users.agg(*[F.max(F.abs(F.col(column))) for column in columns]).first()
        return all(value is None or value < _EXACT_BELOW for value in row)

    def _written(self, exact: bool, encoding: Encoding) -> list[Any]:
        """The cells of discrepancies.csv, each column as the default engine's writer prints it: a contract's column
        held otherwise than as itself as the files wrote it (``spark_cells.written``; missing where the key has no
        such row), the gap in the amount's units."""
        from pyspark.sql import functions as F

        key, values = self.shape.key, compared(self.shape)
        floats = set(self._float_columns(encoding))

        def number(column: str, name: str, base: str | None = None) -> Any:
            if base is not None and base in encoding.codecs and encoding.codecs[base].dictionary is not None:
                return safe_text(F.col(column)).alias(name)  # decoded already (``write_discrepancies``)
            if base is not None and base in encoding.codecs and not encoding.held_as_itself(base):
                return spark_cells.written(encoding.codecs[base], column).alias(name)
            if column not in floats:
                return F.col(column).alias(name)
            return (_float_text(F.col(column)) if exact else _arrow_float_text(F.col(column))).alias(name)

        def named(codes: str, words: Sequence[str]) -> Any:  # missing for a missing code (``element_at`` is not)
            return F.when(F.col(codes).isNotNull(), F.element_at(F.array(*[F.lit(word) for word in words]), F.col(codes) + 1))

        amount = encoding.contract.amount
        cells = [number(key, key, key), *(number("e_" + column, side_column("expected", column), column) for column in values)]
        cells += [safe_text(F.col("e_file")).alias(SOURCE_FILE), number("e_row", SOURCE_ROW)]
        cells += [number("p_" + column, side_column("platform", column), column) for column in values]
        cells.append(number("p_" + LINE, PLATFORM_ROW))
        if self.names is not None:  # traced: where the platform row came from, as ``checks.report`` adds it
            cells += [
                safe_text(named(PLATFORM_FILE, self.names)).alias(PLATFORM_SOURCE_FILE),
                F.when(F.col(PLATFORM_FILE).isNotNull(), F.col(PLATFORM_LINE)).alias(PLATFORM_SOURCE_ROW),
            ]
        cells += [F.col("p_count").alias(PLATFORM_ROWS), named(CODE, CLASSES).alias(CLASS), named(DETAIL_CODE, DETAILS).alias(DETAIL)]
        cells.append(number(GAP, SPEND_GAP, None if amount is None or not amount.decimal else amount.name))
        if self.with_customer:
            cells += [number("c_" + column, side_column("customer", column), column) for column in values]
            cells.append(named(CUSTOMER_CODE, CUSTOMER_CLASSES).alias(CUSTOMER_CLASS))
        return cells

    def __reduce__(self) -> tuple[Any, ...]:  # a Spark frame cannot leave its session: another process gets the rows
        return _identity, (self.frame,)


_SOURCES = (PLATFORM_FILE, PLATFORM_LINE)


def _identity(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _column_of(name: str) -> str:
    """A listed row's column (``platform_batch_id``) as the Spark frame names it (``p_batch_id``)."""
    side, column = name.split("_", 1)
    return {"expected": "e_", "platform": "p_", "customer": "c_"}[side] + column


def _float_text(value: Any) -> Any:
    """A bigint as Arrow prints it held as a float64: its digits below 1e10, else the shortest scientific form
    (``1.2345e+13``); exact below 2**53, where the shortest form is the integer's digits without trailing zeros."""
    from pyspark.sql import functions as F

    digits = F.abs(value).cast("string")
    mantissa = F.regexp_replace(digits, "0+$", "")
    scientific = F.concat(
        F.when(value < 0, F.lit("-")).otherwise(F.lit("")),
        mantissa.substr(1, 1),
        F.when(F.length(mantissa) > 1, F.concat(F.lit("."), mantissa.substr(2, 32))).otherwise(F.lit("")),
        F.lit("e+"),
        (F.length(digits) - 1).cast("string"),
    )
    return F.when(F.abs(value) < _PLAIN_BELOW, value.cast("string")).otherwise(scientific)


def _arrow_float_text(value: Any) -> Any:
    """``_float_text`` for any magnitude: Arrow itself formats the float64 (in the executors' Python), as the
    default engine's writer does; used only when some value reaches 2**53."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def as_written(values: pd.Series) -> pd.Series:
        import pyarrow as pa
        import pyarrow.compute as pc

        floats = pa.array(values.to_numpy(dtype="float64", na_value=np.nan), from_pandas=True)
        return pc.cast(floats, pa.large_string()).to_pandas()

    return as_written(value)


def _sorted(chosen: pd.DataFrame, shape: Shape) -> pd.DataFrame:
    return chosen.sort_values(shape.key, kind="stable").reset_index(drop=True)


def layout(chosen: pd.DataFrame, facts: Facts, with_customer: bool, shape: Shape) -> UserRows:
    """Collected rows of keys as the default engine's ``UserRows``, so that its ``frame`` lays them out."""
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
        customer_class = chosen[CUSTOMER_CODE].to_numpy().astype("int8")
    return UserRows(
        ids, expected, platform_rows,
        chosen[CODE].to_numpy().astype("int8"), chosen[DETAIL_CODE].to_numpy().astype("int8"),
        chosen[GAP].to_numpy(dtype="int64"),
        customer, customer_first, customer_class, facts.complete,
    )


def _first_row_table(chosen: pd.DataFrame, prefix: str, shape: Shape, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The chosen keys' first rows of a table (of those that have one), named as the table names them.

    One row of zeros stands in when none has a row: ``UserRows.frame`` gathers a row for every key
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
    """Per key, the position of its row among the keys that have one (-1 for those without)."""
    positions = np.full(len(present), -1, dtype="int64")
    positions[present] = np.arange(int(present.sum()), dtype="int64")
    return positions


def _integers(column: pd.Series) -> np.ndarray:
    """A collected column as int64, 0 where the key has no row (the masks say which)."""
    return column.fillna(0).to_numpy(dtype="int64")
