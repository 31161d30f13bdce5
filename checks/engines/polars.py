"""The Polars engine: read, validate, check across the feed and deduplicate columnar, with the pandas path's answers.

Each delta is scanned with the streaming engine and cast to Int64 in one pass, so the text of a
10 M-row file is never held whole. Polars' cast accepts exactly the integer literals that
``checks.feed.INTEGER_PATTERN`` accepts, so a cell that casts is a cell that passes the text pass;
only the rows with a cell that does not cast go to Pandera's Polars backend, which names every
failure. The value pass asks one aggregate query first and runs Pandera on the whole delta only
when it says something fails. The feed-wide checks and the dedup share one stable sort by
(user_id, batch_id). A file the fast path cannot read as the pandas path would (a blank line, a
ragged row, an odd header, an integer beyond int64) goes to the pandas path, which has the last word.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import polars as pl

from checks.dedup import SOURCE_FILE, SOURCE_ROW
from checks.dedup import deduplicate as _deduplicate_pandas
from checks.engines import _frames
from checks.errors import DeduplicationError
from checks.feed import COLUMNS, INTEGER_PATTERN, DeltaFile, discover_deltas
from checks.feed import read_table as _read_table_pandas
from checks.pipeline import FeedCheck
from checks.validate import Delta, DeltaValidation, empty_failures
from checks.validate import read_and_validate as _read_and_validate_pandas

with warnings.catch_warnings():
    # pandera imports pyspark.pandas when PySpark is installed, which warns about pandas 3.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    import pandera.polars as pa

NAME = "polars"

_ROW = "row"
_FILE_INDEX = "_file_index"
_PYTHON_INTEGER = re.compile(INTEGER_PATTERN)


class DeltaTextModel(pa.DataFrameModel):
    """A delta's cells as text: every one an integer literal (``checks.validate.DeltaTextModel`` on Polars)."""

    user_id: str = pa.Field(str_matches=INTEGER_PATTERN)
    total_spend: str = pa.Field(str_matches=INTEGER_PATTERN)
    count_saved_items: str = pa.Field(str_matches=INTEGER_PATTERN)
    loyalty_credits: str = pa.Field(str_matches=INTEGER_PATTERN)
    batch_id: str = pa.Field(str_matches=INTEGER_PATTERN)


class DeltaModel(pa.DataFrameModel):
    """A delta's values (``checks.validate.DeltaModel`` on Polars); cells that failed the text pass are null."""

    user_id: pl.Int64 = pa.Field(gt=0, unique=True, nullable=True)
    total_spend: pl.Int64 = pa.Field(ge=0, nullable=True)
    count_saved_items: pl.Int64 = pa.Field(ge=0, nullable=True)
    loyalty_credits: pl.Int64 = pa.Field(ge=0, nullable=True)
    batch_id: pl.Int64 = pa.Field(ge=0, nullable=True)


class _NeedsPandasPath(Exception):
    """This file has something only the pandas path reads exactly as the reference does."""


def check_feed_folder(directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None) -> FeedCheck:
    """Check every delta in ``directory`` as ``checks.pipeline.check_feed_folder`` does, on Polars."""
    validations = []
    tables = []
    for delta_file in discover_deltas(directory):
        if on_file is not None:
            on_file(delta_file)
        validation, table = _read_and_validate(delta_file)
        validations.append(validation)
        if table is not None:
            tables.append(table)
    deltas = tuple(validation.delta for validation in validations if validation.delta is not None)
    feed_failures, deduplicated = _check_and_deduplicate(_stack(tables), [delta.name for delta in deltas])
    return FeedCheck(
        validations=tuple(validations),
        feed_failures=feed_failures,
        deltas=deltas,
        quarantined=tuple(validation.name for validation in validations if validation.delta is None),
        deduplicated=deduplicated,
    )


def read_and_validate(delta_file: DeltaFile) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Polars."""
    return _read_and_validate(delta_file)[0]


def check_feed(deltas: Sequence[Delta]) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` on Polars, for deltas already in memory (e.g. new files plus history)."""
    feed = _stack([_from_delta(delta) for delta in deltas])
    return _check_and_deduplicate(feed, [delta.name for delta in deltas], deduplicate=False)[0]


def read_table(path: str | Path) -> pd.DataFrame:
    """``checks.feed.read_table`` on Polars: int64 columns, any non-integer cell is bad input."""
    path = Path(path)
    header = _frames.read_header(path)
    if header is None:
        return _read_table_pandas(path)
    try:
        typed = _scan_typed(path, header).collect(engine="streaming")
    except pl.exceptions.PolarsError:
        return _read_table_pandas(path)
    if typed.null_count().sum_horizontal().item():
        # The pandas path names the first bad cell exactly; bad tables are rare, so let it.
        return _read_table_pandas(path)
    return _to_pandas_int64(typed)


def _read_and_validate(delta_file: DeltaFile) -> tuple[DeltaValidation, pl.DataFrame | None]:
    """The validation and, when the delta passed, its rows as Polars (COLUMNS + row)."""
    try:
        return _validate_fast(delta_file)
    except _NeedsPandasPath:
        validation = _read_and_validate_pandas(delta_file)
        table = _from_delta(validation.delta) if validation.delta is not None else None
        return validation, table


def _validate_fast(delta_file: DeltaFile) -> tuple[DeltaValidation, pl.DataFrame | None]:
    header = _frames.read_header(delta_file.path)
    if header is None:
        raise _NeedsPandasPath
    try:
        typed = _scan_typed(delta_file.path, header).collect(engine="streaming")
    except pl.exceptions.PolarsError as error:
        raise _NeedsPandasPath from error
    if typed.height == 0:
        raise _NeedsPandasPath  # the not_empty failure, as the pandas path words it
    name = delta_file.name
    text_failures = _text_failures(delta_file.path, header, typed, name)
    value_failures = _value_failures(typed, name)
    failures = _frames.combine_validation_failures(text_failures, value_failures)
    delta, table = None, None
    if failures.empty:
        table = typed
        delta = Delta(name=name, number=delta_file.number, frame=_to_pandas_int64(typed))
    validation = DeltaValidation(
        name=name, number=delta_file.number, delta=delta, failures=failures, warnings=header.warnings, rows=typed.height
    )
    return validation, table


def _scan_typed(path: Path, header: _frames.Header) -> pl.LazyFrame:
    """The file's cells cast to Int64 (null where a cell is not an integer literal), with its line numbers."""
    return _scan_text(path, header).select(_ROW, *[pl.col(column).cast(pl.Int64, strict=False) for column in COLUMNS])


def _scan_text(path: Path, header: _frames.Header) -> pl.LazyFrame:
    return pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        schema={name: pl.String for name in header.names},
        row_index_name=_ROW,
        row_index_offset=2,
        encoding="utf8",
    ).select(pl.col(_ROW).cast(pl.Int64), *COLUMNS)


def _text_failures(path: Path, header: _frames.Header, typed: pl.DataFrame, name: str) -> pd.DataFrame:
    """Pandera's text pass, run only on the rows with a cell that did not cast."""
    suspect_rows = typed.filter(pl.any_horizontal(pl.col(column).is_null() for column in COLUMNS))[_ROW]
    if suspect_rows.is_empty():
        return empty_failures()
    text = _scan_text(path, header).filter(pl.col(_ROW).is_in(suspect_rows.implode())).collect()
    if text.select(pl.all_horizontal(pl.col(column).is_null() for column in COLUMNS)).to_series().any():
        raise _NeedsPandasPath  # a blank line: pandas skips it and renumbers the rows after it
    # Polars reads an empty or missing cell as null; pandas reads it as "".
    text = text.with_columns(pl.col(column).fill_null("") for column in COLUMNS)
    try:
        DeltaTextModel.validate(text.select(COLUMNS), lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        raise _NeedsPandasPath  # a cell that matches the pattern but not int64: the pandas path decides
    rows = text[_ROW].gather(cases["index"]).to_list()
    values = cases["failure_case"].to_list()
    if any(_PYTHON_INTEGER.match(value) for value in values):
        raise _NeedsPandasPath  # e.g. "5\n": Python's ``$`` matches before a final newline, Rust's does not
    if cases["index"].n_unique() != text.height:
        raise _NeedsPandasPath  # a suspect row without a text failure holds an integer beyond int64
    return _frames.validation_failures(name, rows, cases["column"].to_list(), [_frames.IS_INTEGER] * len(rows), values)


def _value_failures(typed: pl.DataFrame, name: str) -> pd.DataFrame:
    """Pandera's value pass; skipped when one aggregate query shows every range and key holds."""
    minima = typed.select(
        *[pl.col(column).min().alias(column) for column in COLUMNS],
        pl.col("user_id").drop_nulls().n_unique().alias("_distinct"),
        pl.col("user_id").count().alias("_count"),
    ).row(0, named=True)
    in_range = all(
        minima[column] is None or minima[column] > 0 if column == "user_id" else minima[column] is None or minima[column] >= 0
        for column in COLUMNS
    )
    if in_range and minima["_distinct"] == minima["_count"]:
        return empty_failures()
    try:
        DeltaModel.validate(typed.select(COLUMNS), lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return empty_failures()
    # pandas does not count two missing user_ids as a repeat; Polars' is_duplicated does.
    cases = cases.filter(~((pl.col("check") == _frames.FIELD_UNIQUENESS) & pl.col("failure_case").is_null()))
    rows = typed[_ROW].gather(cases["index"]).to_list()
    return _frames.validation_failures(
        name, rows, cases["column"].to_list(), cases["check"].to_list(), cases["failure_case"].to_list()
    )


def _from_delta(delta: Delta) -> pl.DataFrame:
    frame = pl.from_pandas(delta.frame.loc[:, list(COLUMNS)].reset_index(drop=True))
    return frame.with_columns(pl.Series(_ROW, delta.frame.index.to_numpy(dtype="int64"))).select(_ROW, *COLUMNS)


def _to_pandas_int64(typed: pl.DataFrame) -> pd.DataFrame:
    frame = typed.select(COLUMNS).to_pandas()
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


def _stack(tables: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """All passed deltas' rows in feed order, each with its file's position and its line number."""
    if not tables:
        schema = {column: pl.Int64 for column in COLUMNS} | {_FILE_INDEX: pl.Int32, _ROW: pl.Int64}
        return pl.DataFrame(schema=schema)
    return pl.concat(
        [table.with_columns(pl.lit(index, dtype=pl.Int32).alias(_FILE_INDEX)) for index, table in enumerate(tables)],
        rechunk=False,
    )


def _check_and_deduplicate(
    feed: pl.DataFrame, names: Sequence[str], *, deduplicate: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The feed-wide failures (as ``checks.crossfeed``) and the deduplicated table (as ``checks.dedup``)."""
    if feed.is_empty():
        return empty_failures(), (_deduplicate_pandas([]) if deduplicate else None)
    file_names = dict(enumerate(names))
    # Stable: rows with the same (user_id, batch_id) stay in feed order, so the first of a run is the first seen.
    ordered = feed.sort(["user_id", "batch_id"], maintain_order=True).with_columns(
        (pl.col("user_id") == pl.col("user_id").shift(1)).fill_null(False).alias("_same_user"),
        (pl.col("batch_id") == pl.col("batch_id").shift(1)).fill_null(False).alias("_same_batch"),
    )
    failures = _frames.combine_feed_failures(
        [
            _batch_monotonicity(feed, names),
            _repeated_user_batch(ordered, file_names),
            _spend_decreases(ordered, file_names),
        ]
    )
    if not deduplicate:
        return failures, None
    return failures, _latest_rows(ordered, file_names)


def _name_of(column: str, file_names: dict[int, str]) -> pl.Expr:
    return pl.col(column).replace_strict(file_names, return_dtype=pl.String)


def _batch_monotonicity(feed: pl.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    maxima = feed.group_by(_FILE_INDEX).agg(pl.col("batch_id").max()).sort(_FILE_INDEX)["batch_id"].to_list()
    bounds, setters = _frames.earlier_batches(names, maxima)
    limits = pl.DataFrame(
        {_FILE_INDEX: list(range(len(names))), "_bound": bounds, "_setter": setters},
        schema={_FILE_INDEX: pl.Int32, "_bound": pl.Int64, "_setter": pl.String},
    )
    offending = (
        feed.join(limits, on=_FILE_INDEX, how="left", maintain_order="left")
        .filter(pl.col("batch_id") <= pl.col("_bound"))
        .select(
            _name_of(_FILE_INDEX, dict(enumerate(names))).alias("file"),
            _ROW,
            pl.format("{} <= {} (largest batch_id in {})", "batch_id", "_bound", "_setter").alias("value"),
        )
    )
    return _feed_failures(offending, column="batch_id", check="batch_monotonic")


def _repeated_user_batch(ordered: pl.DataFrame, file_names: dict[int, str]) -> pd.DataFrame:
    repeat = pl.col("_same_user") & pl.col("_same_batch")
    offending = (
        ordered.with_columns(
            pl.when(~repeat).then(pl.col(_FILE_INDEX)).forward_fill().alias("_first_file"),
            pl.when(~repeat).then(pl.col(_ROW)).forward_fill().alias("_first_row"),
        )
        .filter(repeat)
        .sort([_FILE_INDEX, _ROW])  # back to feed order, as pandas' duplicated() reports them
        .select(
            _name_of(_FILE_INDEX, file_names).alias("file"),
            _ROW,
            pl.format(
                "user_id {}, batch_id {} already in {} row {}",
                "user_id",
                "batch_id",
                _name_of("_first_file", file_names),
                "_first_row",
            ).alias("value"),
        )
    )
    return _feed_failures(offending, column="batch_id", check="user_batch_unique_across_files")


def _spend_decreases(ordered: pl.DataFrame, file_names: dict[int, str]) -> pd.DataFrame:
    offending = (
        ordered.with_columns(
            pl.col("total_spend").shift(1).alias("_previous_spend"),
            pl.col("batch_id").shift(1).alias("_previous_batch"),
            pl.col(_FILE_INDEX).shift(1).alias("_previous_file"),
        )
        .filter(pl.col("_same_user") & (pl.col("total_spend") < pl.col("_previous_spend")))
        .select(
            _name_of(_FILE_INDEX, file_names).alias("file"),
            _ROW,
            pl.format(
                "{} < {} at batch_id {} ({})",
                "total_spend",
                "_previous_spend",
                "_previous_batch",
                _name_of("_previous_file", file_names),
            ).alias("value"),
        )
    )
    return _feed_failures(offending, column="total_spend", check="spend_never_decreases")


def _feed_failures(offending: pl.DataFrame, *, column: str, check: str) -> pd.DataFrame:
    if offending.is_empty():
        return empty_failures()
    return _frames.feed_failures(
        offending["file"].to_list(), offending[_ROW].to_numpy(), column=column, check=check, values=offending["value"].to_list()
    )


def _latest_rows(ordered: pl.DataFrame, file_names: dict[int, str]) -> pd.DataFrame:
    """One row per user, the last of its (user_id, batch_id) run; a tie at the top is a DeduplicationError."""
    is_last = (pl.col("user_id") != pl.col("user_id").shift(-1)).fill_null(True)
    tied = ordered.filter(is_last & pl.col("_same_user") & pl.col("_same_batch"))
    if not tied.is_empty():
        _raise_ties(ordered, tied, file_names)
    latest = ordered.filter(is_last).select(
        *COLUMNS, _name_of(_FILE_INDEX, file_names).alias(SOURCE_FILE), pl.col(_ROW).alias(SOURCE_ROW)
    )
    return latest.to_pandas()


def _raise_ties(ordered: pl.DataFrame, tied: pl.DataFrame, file_names: dict[int, str]) -> None:
    first_user = tied["user_id"].min()
    batch = tied.filter(pl.col("user_id") == first_user)["batch_id"].item()
    places = ordered.filter((pl.col("user_id") == first_user) & (pl.col("batch_id") == batch))
    where = [(file_names[index], row) for index, row in zip(places[_FILE_INDEX].to_list(), places[_ROW].to_list())]
    message = _frames.describe_ties(tied.height, first_user, batch, where)
    raise DeduplicationError(message, check="unique_latest_batch")
