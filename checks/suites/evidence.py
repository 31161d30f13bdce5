"""The evidence frame GX validates in place of a whole table, and the table's figures, computed once in Polars.

Each row's latest version in the feed is looked up by key in the deduplicated table's own versions
(no join, no copy) when keys are dense integers; otherwise joined.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from checks.encoding import NULL, Encoding
from checks.errors import SuiteError
from checks.ids import all_distinct, consecutive, dense
from checks.suites.figures import (
    FIRST_ROWS,
    MAP_KWARGS,
    Figures,
    decimal_sums,
    exact_sums,
    fast_path_applies,
    first_line,
)
from checks.suites.results import plain
from checks.suites.suite import (
    PARTIAL_UNEXPECTED,
    TableNames,
    check_name,
    declared_types_of,
    prepare_table,
    refuse_unknown_columns,
    resolve,
    table_columns,
    typed_table,
    typed_values,
)


def table_evidence(
    name: str,
    frame: pd.DataFrame,
    latest_batch: pd.Series,
    by_user: LatestByUser | None,
    expectations: list[dict],
    parameters: Mapping[str, Any],
    names: TableNames,
    encoding: Encoding,
) -> tuple[pd.DataFrame, Figures | None]:
    """The frame GX validates for a table, and the full-table figures to complete its results with.

    ``frame`` and ``latest_batch`` are in the run's computing form (``checks.encoding``); the figures are
    computed on it, and only the evidence rows are turned into the typed values GX reads. The evidence is
    the table's first rows and, for every map expectation, its first unexpected rows (for uniqueness, with
    the rows they repeat), in table order, so GX lists the same examples as on the whole table. Figures are
    None when the fast path does not apply: GX gets the whole table (a decimal's sum still exact).
    """
    columns = table_columns(name, frame, names)
    refuse_unknown_columns(name, expectations, [*columns, names.latest])
    integers = all(pd.api.types.is_integer_dtype(frame[column].dtype) for column in columns)
    if not fast_path_applies(integers, expectations, encoding):
        return _whole(name, frame, latest_batch, expectations, names, encoding)
    import polars as pl

    table = _computing_table(frame.loc[:, columns].reset_index(drop=True), encoding)
    joined = join_latest(table, frame[names.key], by_user, names)
    if joined is None:
        latest = pl.DataFrame(
            {names.key: latest_batch.index.to_numpy(), names.latest: latest_batch.to_numpy()}
        ).cast({names.key: table.schema[names.key]}, strict=False)  # a feed id beyond an int32 table's matches none
        joined = table.join(latest, on=names.key, how="left", maintain_order="left")
        if joined.height != table.height:  # latest_batch repeats a user: let pandas refuse it as before
            return _whole(name, frame, latest_batch, expectations, names, encoding)

    aggregates, map_checks, sums = [pl.len().alias("__rows")], [], {}
    for expectation in expectations:
        check, kind = check_name(expectation), expectation["type"]
        kwargs = {key: resolve(value, parameters) for key, value in expectation.get("kwargs", {}).items()}
        if kind in MAP_KWARGS:
            considered, unexpected = _map_masks(kind, kwargs, joined.columns, encoding)
            map_checks.append((check, kind, kwargs))
            aggregates += [
                considered.sum().alias(f"{check}|considered"),
                unexpected.sum().alias(f"{check}|unexpected"),
                unexpected.arg_true().head(PARTIAL_UNEXPECTED).implode().alias(f"{check}|first"),
            ]
        elif kind == "expect_column_sum_to_be_between":
            sums[check] = kwargs["column"]
    try:
        found = joined.select(aggregates).row(0, named=True)
    except pl.exceptions.PolarsError as error:  # e.g. a bound of the wrong type for the column
        raise SuiteError(f"table {name!r}: the suite's figures could not be computed: {first_line(error)}") from error

    positions = set(range(min(FIRST_ROWS, joined.height)))
    counts = {}
    for check, kind, kwargs in map_checks:
        first = found[f"{check}|first"]
        positions.update(first)
        if kind == "expect_column_values_to_be_unique" and first:
            positions.update(_first_repeats(joined, kwargs["column"], first))
        nulls_skipped = kind == "expect_column_values_to_not_be_null"
        counts[check] = (int(found[f"{check}|considered"]), int(found[f"{check}|unexpected"]), nulls_skipped)
    observed = {
        check_name(expectation): int(found["__rows"])
        for expectation in expectations
        if expectation["type"] == "expect_table_row_count_to_equal"
    }
    observed |= {check: _column_sum(frame, joined, column, encoding) for check, column in sums.items()}

    taken = sorted(positions)
    rows = frame.loc[:, columns].iloc[taken].reset_index(drop=True)
    latest = joined[names.latest].gather(taken).to_pandas()
    evidence = typed_evidence(rows.assign(**{names.latest: latest}), names, encoding)
    return evidence, Figures(rows=int(found["__rows"]), counts=counts, observed=observed)


def typed_evidence(rows: pd.DataFrame, names: TableNames, encoding: Encoding) -> pd.DataFrame:
    """Evidence rows in computing form, with each one's latest version in the feed (missing for a key the feed lacks),
    as GX reads them: the contract's columns typed (``Encoding.typed``), the latest version typed as the version."""
    latest = rows[names.latest].astype("Int64")
    evidence = declared_types_of(encoding.typed(rows.drop(columns=names.latest), exact_decimals=False))
    if encoding.codecs[names.version].column.logical_type == "integer":
        typed_latest = latest.to_numpy()
    else:
        typed_latest = typed_values(encoding, names.version, latest.fillna(NULL).to_numpy(dtype="int64"))
    return evidence.assign(**{names.latest: typed_latest})


def _whole(
    name: str, frame: pd.DataFrame, latest_batch: pd.Series, expectations: list[dict], names: TableNames, encoding: Encoding
) -> tuple[pd.DataFrame, Figures | None]:
    """The whole table for GX, as typed values; figures only for the exact sums of decimal columns (GX sums floats)."""
    typed, typed_latest = typed_table(frame, latest_batch, encoding)
    return prepare_table(name, typed, typed_latest, names), exact_sums(len(frame), expectations, decimal_sums(frame, encoding))


def _computing_table(frame: pd.DataFrame, encoding: Encoding) -> Any:
    """The table in Polars as its figures are computed: integer columns as they are (zero-copy for int64);
    in computing form an empty cell as null, a decimal as the float GX reads, a floating number as its float."""
    import polars as pl

    table = pl.from_pandas(frame)
    if encoding.plain:
        return table
    converted = []
    for column in encoding.contract.columns:
        if encoding.held_as_itself(column.name):
            continue
        values = pl.col(column.name)
        if encoding.codecs[column.name].dtype == "float64":  # its float64 bits, NaN for empty
            converted.append(pl.Series(column.name, frame[column.name].to_numpy().view(np.float64), nan_to_null=True))
        elif column.decimal is not None:
            converted.append(pl.when(values != NULL).then(values / 10 ** column.decimal[1]).alias(column.name))
        else:
            converted.append(pl.when(values != NULL).then(values).alias(column.name))
    return table.with_columns(converted)


def _column_sum(frame: pd.DataFrame, joined: Any, column: str, encoding: Encoding) -> Any:
    """A column's sum as GX would report it on the whole table, but a decimal's exact to the last decimal."""
    codec = encoding.codecs[column]
    if codec.column.decimal is not None:
        return decimal_sums(frame, encoding)[column]
    if codec.dtype == "float64":
        return plain(pd.Series(typed_values(encoding, column, frame[column].to_numpy())).sum())
    return _sum(joined[column])


_REPEATED = "__repeated_"  # a precomputed "value occurs more than once" column, e.g. __repeated_user_id
# Direct addressing by user_id when ids are this dense (``checks.ids.dense``): an array of max id + 1 entries.
_DENSE_IDS_PER_USER, _DENSE_IDS_SLACK = 4, 1_000_000


@dataclass(frozen=True)
class LatestByUser:
    """Each user's latest batch_id at position ``user_id - first``: lookups without a hash join.

    When the feed's users are consecutive ids in order (the deduplicated table of a dense feed,
    sorted by user_id) ``batch`` is the latest batch_ids as given, not a copy; otherwise an array
    indexed by user_id holding ``unknown`` where the feed has no such user.
    """

    batch: np.ndarray
    first: int
    users: int

    @property
    def unknown(self) -> int:
        return int(np.iinfo(self.batch.dtype).min)  # never a batch_id (checked when built)

    def addresses(self, largest: int) -> bool:
        """Whether a table's ids up to ``largest`` may be looked up by address here (dense next to the feed's users)."""
        return _addressable(largest, self.users)


def _addressable(largest: int, users: int) -> bool:
    """Whether an array of ``largest + 1`` entries is worth building to look ``users`` up by id."""
    return dense(largest, users, slots_per_id=_DENSE_IDS_PER_USER, slack=_DENSE_IDS_SLACK)


def latest_by_user(latest_batch: pd.Series) -> LatestByUser | None:
    """None unless user ids are non-negative, dense enough, unique, and batch ids plain integers."""
    users = latest_batch.index
    if not (_plain_integers(users.dtype) and _plain_integers(latest_batch.dtype)) or latest_batch.empty:
        return None
    batches = latest_batch.to_numpy()
    unknown = np.iinfo(batches.dtype).min
    if batches.min() == unknown:
        return None
    if isinstance(users, pd.RangeIndex):
        if users.step == 1 and users.start >= 0:
            return LatestByUser(batch=batches, first=users.start, users=batches.size)
        return None
    ids = users.to_numpy()
    if consecutive(ids) and ids[0] >= 0:
        return LatestByUser(batch=batches, first=int(ids[0]), users=ids.size)  # consecutive ids, in order
    if ids.min() < 0 or not _addressable(int(ids.max()), ids.size):
        return None
    batch = np.full(ids.max() + 1, unknown, dtype=batches.dtype)
    batch[ids] = batches
    if int(np.count_nonzero(batch != unknown)) != ids.size:  # a user twice: the join path leaves the refusal to pandas
        return None
    return LatestByUser(batch=batch, first=0, users=ids.size)


def _plain_integers(dtype: Any) -> bool:
    """A numpy int32 or int64 dtype: no missing values, direct addressing possible."""
    return dtype in (np.dtype(np.int64), np.dtype(np.int32))


def join_latest(table: Any, user_ids: pd.Series, by_user: LatestByUser | None, names: TableNames) -> Any:
    """``table`` with each row's latest batch_id in the feed (null if unknown) and whether its user_id repeats.

    None when ids do not suit direct addressing; the caller joins instead.
    """
    import polars as pl
    import pyarrow as pa

    if by_user is None or not _plain_integers(user_ids.dtype) or user_ids.empty:
        return None
    ids = user_ids.to_numpy()
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or not by_user.addresses(high):
        return None
    # Consecutive ids in order (the deduplicated table): each once, and their latest batches a slice.
    in_order = consecutive(ids)
    start, stop = low - by_user.first, high - by_user.first + 1
    if 0 <= start and stop <= by_user.batch.size:
        batches = pl.Series(values=by_user.batch)
        if in_order:
            latest = batches.slice(start, stop - start)
        else:
            # Straight into Polars' index type: no wider temporary, no cast (positions lie in [0, users)).
            positions = np.subtract(ids, by_user.first, dtype=np.uint32, casting="unsafe")
            latest = batches.gather(pl.Series(values=positions))
            del positions
        unknown = latest == by_user.unknown
        if unknown.any():
            latest = latest.set(unknown, None)
    else:  # some ids lie outside the feed's: unknown
        positions = ids - by_user.first
        batch = np.full(ids.size, by_user.unknown, dtype=by_user.batch.dtype)
        inside = (positions >= 0) & (positions < by_user.batch.size)
        batch[inside] = by_user.batch[positions[inside]]
        latest = pl.from_arrow(pa.array(batch, mask=batch == by_user.unknown))
    repeated = pl.lit(False) if in_order else _repeated(ids, high)
    return table.with_columns(latest.alias(names.latest), repeated.alias(f"{_REPEATED}{names.key}"))


def _repeated(ids: np.ndarray, high: int) -> Any:
    """Whether each row's id occurs more than once in ``ids`` (all non-negative, at most ``high``).

    Usually every id is distinct, and the column is a constant.
    """
    import polars as pl

    if all_distinct(ids, high):
        return pl.lit(False)
    return pl.Series(np.bincount(ids)[ids] > 1)


def _map_masks(kind: str, kwargs: Mapping[str, Any], columns: list[str], encoding: Encoding) -> tuple[Any, Any]:
    """(rows GX considers, rows it counts unexpected) for a map expectation, as Polars expressions."""
    import polars as pl

    if "column_A" in kwargs:  # ignore_row_if == either_value_is_missing (see fast_path_applies)
        first, second = pl.col(kwargs["column_A"]), pl.col(kwargs["column_B"])
        considered = first.is_not_null() & second.is_not_null()
        return considered, considered & (first != second)
    column = pl.col(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return pl.repeat(True, pl.len()), column.is_null()
    considered = column.is_not_null()
    if kind == "expect_column_values_to_be_unique":
        repeated = f"{_REPEATED}{kwargs['column']}"
        return considered, considered & (pl.col(repeated) if repeated in columns else column.is_duplicated())
    if kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set", "expect_column_values_to_match_regex"):
        wanted = kind != "expect_column_values_to_not_be_in_set"  # what a value's test must say for it to pass
        codec = encoding.codecs.get(kwargs["column"])
        if codec is None or codec.dictionary is None:  # integers (``fast_path_applies``): in the set, as they are
            found = column.is_in([value for value in kwargs["value_set"] if value is not None])
        else:
            test, argument = ("in", tuple(kwargs["value_set"])) if "value_set" in kwargs else ("contains", kwargs["regex"])
            # Each text tested once in the dictionary, each row's verdict found by its code (a code past the end: none).
            passing = pl.Series(np.append(codec.dictionary.passing(test, argument), False))
            found = pl.lit(passing).gather(column.fill_null(len(passing) - 1))
        return considered, considered & (found != wanted)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inside = pl.lit(True)
    if low is not None:
        inside = inside & (column > low if kwargs.get("strict_min") else column >= low)
    if high is not None:
        inside = inside & (column < high if kwargs.get("strict_max") else column <= high)
    return considered, considered & ~inside


def _sum(column: Any) -> int:
    """A Polars integer column's sum in int64: Polars sums Int32 as Int32 (it overflows), and a widened
    copy of a 10 M-row column would cost 80 MB, so numpy sums the int32 values into an int64 total."""
    import polars as pl

    if column.dtype == pl.Int32 and not column.has_nulls():
        return int(column.to_numpy().sum(dtype=np.int64))
    return int(column.cast(pl.Int64).sum())


def _first_repeats(joined: Any, column: str, first: list[int]) -> list[int]:
    """Positions of the first two rows of each value among ``first``: each listed row's repeat is then in the evidence."""
    import polars as pl

    values = joined[column].gather(first).unique()
    repeats = (
        joined.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("__row"), pl.col(column))
        .filter(pl.col(column).is_in(values.implode()))
        .group_by(column, maintain_order=True)
        .head(2)
    )
    return repeats["__row"].to_list()
