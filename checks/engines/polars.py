"""The Polars engine: read, validate, check across the feed and deduplicate columnar, with the pandas path's answers.

On the first customer's form of contract (``checks.rules.first_customer_rules``) each delta is scanned with
the streaming engine into integers in one pass, so the text of a 10 M-row file is never held whole:
parsed as integers straight from the CSV when the file has no blanks, else read as text and cast.
Polars' cast accepts exactly the integer literals that ``checks.encoding.INTEGER_PATTERN`` accepts, so
a cell that casts is a cell that passes the text pass; only the rows with a cell that does not cast go
to Pandera's Polars backend, which names every failure. The value pass asks one aggregate query first
and runs Pandera on the whole delta only when it says something fails. A file the fast path cannot
read as the pandas path would (a blank line, a ragged row, an odd header, an integer beyond int64)
goes to the pandas path, which has the last word. Contracts of any other shape are read by
``polars_contract``. The checks across the feed and the dedup are ``polars_feed``'s, for every contract.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from checks.engines import _frames, polars_contract, polars_csv
from checks.engines.base import Capability
from checks.engines.polars_feed import check_and_deduplicate, feed_form, from_delta, stack
from checks.feed import discover_deltas as _discover_deltas  # private: the engine offers no listing of its own
from checks.feed import read_table as _read_table_pandas
from checks.encoding import Encoding, default_encoding
from checks.ids import all_distinct
from checks.model import Delta, DeltaFile, empty_failures
from checks.pipeline import check_validations as _check_validations_reference
from checks.results import DeltaValidation, FeedCheck, passed_deltas
from checks.crossfeed import check_feed as _check_feed_reference
from checks.rules import FIELD_UNIQUENESS, first_customer_rules
from checks.validate import read_and_validate as _read_and_validate_pandas

NAME = "polars"
CAPABILITIES: frozenset[Capability] = frozenset({Capability.ANY_CONTRACT, Capability.READS_BESIDE})
NARROW_LIMIT = _frames.NARROW_LIMIT  # integer columns within it are held as int32 (see ``_narrowed``)

# The reading below is written for contracts whose rules are the first customer's (``first_customer_rules``):
# a positive integer key, non-negative integer columns. Any other contract is read by ``polars_contract``.
COLUMNS, _KEY = default_encoding().contract.names, default_encoding().contract.shape.key


def check_feed_folder(
    directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None, encoding: Encoding | None = None
) -> FeedCheck:
    """Check every delta in ``directory`` as ``checks.pipeline.check_feed_folder`` does, on Polars."""
    if not _fast(encoding):
        validations, _ = _frames.validate_folder(
            directory, lambda delta_file: (polars_contract.read_and_validate(delta_file, encoding), None), on_file,
            lambda folder: _discover_deltas(folder, encoding.contract),
        )
        return check_validations(validations, encoding)
    validations, tables = _frames.validate_folder(directory, _read_and_validate, on_file)
    form = feed_form(default_encoding())
    return FeedCheck.assemble(validations, *check_and_deduplicate(stack(tables, passed_deltas(validations), form), form))


def check_validations(validations: Sequence[DeltaValidation], encoding: Encoding | None = None) -> FeedCheck:
    """``checks.pipeline.check_validations`` on Polars: cross-file checks and dedup over validated deltas."""
    encoding = encoding or default_encoding()
    encoding.release_lookups()  # every delta is read
    form = feed_form(encoding)
    if form is None:
        return _check_validations_reference(validations, encoding)
    deltas = passed_deltas(validations)
    feed = stack([from_delta(delta, form) for delta in deltas], deltas, form)
    return FeedCheck.assemble(validations, *check_and_deduplicate(feed, form), encoding)


def read_and_validate(delta_file: DeltaFile, encoding: Encoding | None = None) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Polars."""
    if not _fast(encoding):
        return polars_contract.read_and_validate(delta_file, encoding)
    return _read_and_validate(delta_file)[0]


def check_feed(deltas: Sequence[Delta], encoding: Encoding | None = None) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` on Polars, for deltas already in memory that passed validation (e.g. new files
    plus history)."""
    encoding = encoding or default_encoding()
    form = feed_form(encoding)
    if form is None:
        return _check_feed_reference(deltas, encoding)
    return check_and_deduplicate(stack([from_delta(delta, form) for delta in deltas], deltas, form), form, deduplicate=False)[0]


def read_table(
    path: str | Path, encoding: Encoding | None = None, *, warn: Callable[[str], None] | None = None
) -> pd.DataFrame:
    """``checks.feed.read_table`` on Polars: int64 columns, any non-integer cell is bad input."""
    if not _fast(encoding):
        return polars_contract.read_table(path, encoding, warn=warn)
    path = Path(path)
    header = _frames.read_header(path)
    if header is None:
        # Anything unusual (extra columns to ignore, a header to refuse): the pandas path words it.
        return _read_table_pandas(path, warn=warn)
    try:
        typed = polars_csv.read_typed(path, header).rechunk()
    except pl.exceptions.PolarsError:
        return _read_table_pandas(path, warn=warn)
    if typed.null_count().sum_horizontal().item():
        # The pandas path names the first bad cell exactly; bad tables are rare, so let it.
        return _read_table_pandas(path, warn=warn)
    return _to_pandas(_narrowed(typed, _bounds(typed)))


def _fast(encoding: Encoding | None) -> bool:
    return encoding is None or first_customer_rules(encoding)


def _read_and_validate(delta_file: DeltaFile) -> tuple[DeltaValidation, pl.DataFrame | None]:
    """The validation and, when the delta passed, its rows as Polars (COLUMNS + row)."""
    try:
        return _validate_fast(delta_file)
    except polars_csv.NeedsPandasPath:
        validation = _read_and_validate_pandas(delta_file)
        table = from_delta(validation.delta, feed_form(default_encoding())) if validation.delta is not None else None
        return validation, table


def _validate_fast(delta_file: DeltaFile) -> tuple[DeltaValidation, pl.DataFrame | None]:
    header = _frames.read_header(delta_file.path)
    if header is None:
        raise polars_csv.NeedsPandasPath
    try:
        # One buffer per column: the checks below read it, and the pandas frame shares it.
        typed = polars_csv.read_typed(delta_file.path, header).rechunk()
    except pl.exceptions.PolarsError as error:
        raise polars_csv.NeedsPandasPath from error
    if typed.height == 0:
        raise polars_csv.NeedsPandasPath  # the not_empty failure, as the pandas path words it
    name = delta_file.name
    text_failures = (
        polars_csv.text_failures(delta_file.path, header, polars_csv.with_rows(typed), name)
        if typed.null_count().sum_horizontal().item() else empty_failures()
    )
    bounds = _bounds(typed)
    value_failures = _value_failures(typed, name, bounds)
    failures = _frames.combine_validation_failures(text_failures, value_failures)
    delta, table = None, None
    if failures.empty:
        table = _narrowed(typed, bounds)
        delta = Delta.validated(name, delta_file.number, _to_pandas(table))
    validation = DeltaValidation(
        name=name, number=delta_file.number, delta=delta, failures=failures, warnings=header.warnings, rows=typed.height
    )
    return validation, table


def _bounds(typed: pl.DataFrame) -> dict[str, int | None]:
    """Each column's ``{column}_min`` and ``{column}_max``, and ``user_nulls``, in one aggregate query."""
    return typed.select(
        *[pl.col(column).min().alias(f"{column}_min") for column in COLUMNS],
        *[pl.col(column).max().alias(f"{column}_max") for column in COLUMNS],
        pl.col(_KEY).null_count().alias("user_nulls"),
    ).row(0, named=True)


def _value_failures(typed: pl.DataFrame, name: str, bounds: dict[str, int | None]) -> pd.DataFrame:
    """Pandera's value pass; skipped when the ``_bounds`` query shows every range and key holds."""
    in_range = all(
        (lowest := bounds[f"{column}_min"]) is None or (lowest > 0 if column == _KEY else lowest >= 0)
        for column in COLUMNS
    )
    if in_range and _unique_user_ids(typed[_KEY], bounds[f"{_KEY}_max"], bounds["user_nulls"]):
        return empty_failures()
    from checks.engines.polars_schemas import delta_schemas
    from pandera.errors import SchemaErrors

    try:
        delta_schemas(default_encoding())[1].validate(typed.select(pl.col(column).cast(pl.Int64) for column in COLUMNS), lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return empty_failures()
    # pandas does not count two missing user_ids as a repeat; Polars' is_duplicated does.
    cases = cases.filter(~((pl.col("check") == FIELD_UNIQUENESS) & pl.col("failure_case").is_null()))
    rows = (cases["index"].cast(pl.Int64) + 2).to_list()  # the header is line 1
    return _frames.validation_failures(
        name, rows, cases["column"].to_list(), cases["check"].to_list(), cases["failure_case"].to_list()
    )


def _unique_user_ids(users: pl.Series, largest: int | None, nulls: int) -> bool:
    """Whether no user id repeats (missing ones aside; the ids are positive, at most ``largest``)."""
    if nulls:
        users = users.drop_nulls()
    if largest is None:
        return True
    return all_distinct(users.to_numpy(), largest)


def _narrowed(typed: pl.DataFrame, bounds: dict[str, int | None]) -> pl.DataFrame:
    """COLUMNS as Int32 where every value lies within ``NARROW_LIMIT``, else Int64 (``typed`` in one buffer per column).

    Lossless, and it halves the memory of a 10 M-row table: user ids, batches, counts and most
    spends fit. The bound leaves room for the difference of any two values to fit Int32 too.
    ``bounds`` is ``_bounds(typed)``. A column read as Int32 that fits is the same buffer.
    """
    narrow = {
        column
        for column in COLUMNS
        if bounds[f"{column}_min"] is not None
        and -NARROW_LIMIT <= bounds[f"{column}_min"]
        and bounds[f"{column}_max"] < NARROW_LIMIT
    }
    return typed.select(pl.col(column).cast(pl.Int32 if column in narrow else pl.Int64) for column in COLUMNS)


def _to_pandas(typed: pl.DataFrame) -> pd.DataFrame:
    """COLUMNS as numpy columns that share the Polars buffers (no copy: pandas copies on write)."""
    columns = {column: typed[column].to_numpy(allow_copy=False) for column in COLUMNS}
    return pd.DataFrame(columns, index=pd.RangeIndex(2, typed.height + 2, name="row"), copy=False)


