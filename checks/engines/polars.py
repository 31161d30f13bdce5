"""The Polars engine: read, validate, check across the feed and deduplicate columnar, with the pandas path's answers.

Each delta is scanned with the streaming engine into integers in one pass, so the text of a 10 M-row
file is never held whole: parsed as integers straight from the CSV when the file has no blanks,
else read as text and cast. Polars' cast accepts exactly the integer literals that
``checks.encoding.INTEGER_PATTERN`` accepts, so a cell that casts is a cell that passes the text pass;
only the rows with a cell that does not cast go to Pandera's Polars backend, which names every
failure. The value pass asks one aggregate query first and runs Pandera on the whole delta only
when it says something fails. On a clean feed (batch ranges rising file by file, dense user ids)
the feed-wide checks and the dedup take one pass over the files in order; otherwise they share
one stable sort by (user_id, batch_id), which also names every offending row. A file the fast
path cannot read as the pandas path would (a blank line, a ragged row, an odd header, an integer
beyond int64) goes to the pandas path, which has the last word.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from checks.dedup import deduplicate as _deduplicate_pandas
from checks.engines import _frames, polars_contract, polars_csv
from checks.engines.base import Capability
from checks.feed import discover_deltas
from checks.feed import read_table as _read_table_pandas
from checks.encoding import Encoding, default_encoding
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, DeltaFile, concat_failures, empty_failures, failure_rows
from checks.pipeline import check_validations as _check_validations_reference
from checks.pages import plain_pages
from checks.results import DeltaValidation, FeedCheck, passed_deltas
from checks.crossfeed import check_feed as _check_feed_reference
from checks.rules import BATCH_MONOTONIC, FIELD_UNIQUENESS, PAIR_UNIQUE, first_customer_form, first_customer_rules, tie_error
from checks.validate import read_and_validate as _read_and_validate_pandas

NAME = "polars"
CAPABILITIES: frozenset[Capability] = frozenset({Capability.ANY_CONTRACT})
# Integer columns whose values all lie in [-NARROW_LIMIT, NARROW_LIMIT) are held as int32 (see ``_narrowed``).
NARROW_LIMIT = 2**30

_ROW = polars_csv.ROW
_POSITION = "_position"
# The fast path below is written for contracts whose rules are the first customer's (``first_customer_rules``):
# a positive integer key, non-negative integer columns, an integer version, one amount that never decreases.
# Any other contract takes the reference path (``checks.pipeline``), inside this engine.
_SHAPE = default_encoding().contract.shape
COLUMNS, _KEY, _VERSION, _SPEND = _SHAPE.names, _SHAPE.key, _SHAPE.version, _SHAPE.amount
_OTHER_VALUES = tuple(column for column in _SHAPE.values if column != _SPEND)  # compared, never checked across files
_, FEED_RULES, SPEND_NEVER_DECREASES = first_customer_form()


def check_feed_folder(
    directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None, encoding: Encoding | None = None
) -> FeedCheck:
    """Check every delta in ``directory`` as ``checks.pipeline.check_feed_folder`` does, on Polars."""
    if not _fast(encoding):
        validations, _ = _frames.validate_folder(
            directory, lambda delta_file: (polars_contract.read_and_validate(delta_file, encoding), None), on_file,
            lambda folder: discover_deltas(folder, encoding.contract),
        )
        return _check_validations_reference(validations, encoding)
    validations, tables = _frames.validate_folder(directory, _read_and_validate, on_file)
    return FeedCheck.assemble(validations, *_check_and_deduplicate(_stack(tables, passed_deltas(validations))))


def check_validations(validations: Sequence[DeltaValidation], encoding: Encoding | None = None) -> FeedCheck:
    """``checks.pipeline.check_validations`` on Polars: cross-file checks and dedup over validated deltas."""
    if not _fast(encoding):
        return _check_validations_reference(validations, encoding)
    deltas = passed_deltas(validations)
    return FeedCheck.assemble(validations, *_check_and_deduplicate(_stack([_from_delta(delta) for delta in deltas], deltas)))


def read_and_validate(delta_file: DeltaFile, encoding: Encoding | None = None) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Polars."""
    if not _fast(encoding):
        return polars_contract.read_and_validate(delta_file, encoding)
    return _read_and_validate(delta_file)[0]


def check_feed(deltas: Sequence[Delta], encoding: Encoding | None = None) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` on Polars, for deltas already in memory (e.g. new files plus history)."""
    if not _fast(encoding):
        return _check_feed_reference(deltas, encoding)
    return _check_and_deduplicate(_stack([_from_delta(delta) for delta in deltas], deltas), deduplicate=False)[0]


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
        typed = polars_csv.read_typed(path, header)
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
        table = _from_delta(validation.delta) if validation.delta is not None else None
        return validation, table


def _validate_fast(delta_file: DeltaFile) -> tuple[DeltaValidation, pl.DataFrame | None]:
    header = _frames.read_header(delta_file.path)
    if header is None:
        raise polars_csv.NeedsPandasPath
    try:
        typed = polars_csv.read_typed(delta_file.path, header)
    except pl.exceptions.PolarsError as error:
        raise polars_csv.NeedsPandasPath from error
    if typed.height == 0:
        raise polars_csv.NeedsPandasPath  # the not_empty failure, as the pandas path words it
    name = delta_file.name
    text_failures = polars_csv.text_failures(delta_file.path, header, typed, name)
    bounds = _bounds(typed)
    value_failures = _value_failures(typed, name, bounds)
    failures = _frames.combine_validation_failures(text_failures, value_failures)
    delta, table = None, None
    if failures.empty:
        table = _narrowed(typed, bounds)  # one buffer per column, shared with the pandas frame
        delta = Delta(name=name, number=delta_file.number, frame=_to_pandas(table))
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
    rows = typed[_ROW].gather(cases["index"]).to_list()
    return _frames.validation_failures(
        name, rows, cases["column"].to_list(), cases["check"].to_list(), cases["failure_case"].to_list()
    )


def _unique_user_ids(users: pl.Series, largest: int | None, nulls: int) -> bool:
    """Whether no user id repeats (missing ones aside); flagged in an array indexed by id when ids are dense enough."""
    if nulls:
        users = users.drop_nulls()
    if largest is None:
        return True
    if largest < 16 * len(users) + 2**20:
        # One byte per possible id (a 2.5 M-row update among 10 M users: 10 MB), several times faster than hashing.
        seen = np.zeros(largest + 1, dtype=bool)
        seen[users.to_numpy()] = True
        return int(np.count_nonzero(seen)) == len(users)
    return users.n_unique() == len(users)


def _dense_ids(largest: int, rows: int) -> bool:
    """Whether an array indexed by user id (up to ``largest``) is small next to the ``rows`` it counts."""
    return largest < 2 * rows + 1024


def _from_delta(delta: Delta) -> pl.DataFrame:
    return pl.from_pandas(delta.frame.loc[:, list(COLUMNS)].reset_index(drop=True))


def _narrowed(typed: pl.DataFrame, bounds: dict[str, int | None]) -> pl.DataFrame:
    """COLUMNS in one buffer each, as Int32 where every value lies within ``NARROW_LIMIT``, else Int64.

    Lossless, and it halves the memory of a 10 M-row table: user ids, batches, counts and most
    spends fit. The bound leaves room for the difference of any two values to fit Int32 too.
    ``bounds`` is ``_bounds(typed)``.
    """
    narrow = {
        column
        for column in COLUMNS
        if bounds[f"{column}_min"] is not None
        and -NARROW_LIMIT <= bounds[f"{column}_min"]
        and bounds[f"{column}_max"] < NARROW_LIMIT
    }
    return typed.select(pl.col(column).cast(pl.Int32 if column in narrow else pl.Int64) for column in COLUMNS).rechunk()


def _to_pandas(typed: pl.DataFrame) -> pd.DataFrame:
    """COLUMNS as numpy columns that share the Polars buffers (no copy: pandas copies on write)."""
    columns = {column: typed[column].to_numpy(allow_copy=False) for column in COLUMNS}
    return pd.DataFrame(columns, index=pd.RangeIndex(2, typed.height + 2, name="row"), copy=False)


@dataclass(frozen=True)
class _Feed:
    """The passed deltas stacked in feed order; a row's place in ``frame`` tells its file and line."""

    frame: pl.DataFrame
    names: tuple[str, ...]
    offsets: np.ndarray
    lines: tuple[np.ndarray | None, ...]

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """File index and line number of each position in ``frame``."""
        positions = np.asarray(positions, dtype="int64")
        files = np.searchsorted(self.offsets, positions, side="right") - 1
        return files, self.line_numbers(files, positions - self.offsets[files])

    def line_numbers(self, files: np.ndarray, places: np.ndarray) -> np.ndarray:
        """Line number (int64) of the row at ``places`` (0-based, within its file) of each of ``files``."""
        rows = places.astype("int64") + 2
        for index, lines in enumerate(self.lines):
            if lines is not None:
                mine = files == index
                rows[mine] = lines[places[mine]]
        return rows

    def file_names(self, files: np.ndarray) -> list[str]:
        return [self.names[index] for index in files]


def _stack(tables: Sequence[pl.DataFrame], deltas: Sequence[Delta]) -> _Feed:
    """The deltas' rows in feed order, without a copy; line numbers are kept only where they are not 2, 3, ..."""
    heights = [table.height for table in tables]
    lines = tuple(
        None if delta.frame.index.equals(pd.RangeIndex(2, len(delta.frame) + 2)) else delta.frame.index.to_numpy(dtype="int64")
        for delta in deltas
    )
    # A column narrowed in some files only is widened where narrow (a copy of those files' column).
    wide = {column for table in tables for column in COLUMNS if table.schema[column] == pl.Int64}
    frame = (
        pl.concat(
            [table.select(pl.col(column).cast(pl.Int64) if column in wide else pl.col(column) for column in COLUMNS) for table in tables],
            rechunk=False,
        )
        if tables
        else pl.DataFrame(schema={column: pl.Int64 for column in COLUMNS})
    )
    return _Feed(
        frame=frame,
        names=tuple(delta.name for delta in deltas),
        offsets=np.cumsum([0, *heights], dtype="int64"),
        lines=lines,
    )


@plain_pages()  # fresh per-user arrays of 10 M users: no stall for huge pages
def _check_and_deduplicate(feed: _Feed, *, deduplicate: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The feed-wide failures (as ``checks.crossfeed``) and the deduplicated table (as ``checks.dedup``)."""
    if feed.frame.is_empty():
        return empty_failures(), (_deduplicate_pandas([]) if deduplicate else None)
    monotonicity = _batch_monotonicity(feed)
    if monotonicity.empty:
        latest = _latest_in_feed_order(feed, deduplicate=deduplicate)
        if latest is not None:
            return empty_failures(), (latest if deduplicate else None)
    ordered = _sort_by_user_and_batch(feed.frame).with_columns(
        (pl.col(_KEY) == pl.col(_KEY).shift(1)).fill_null(False).alias("_same_user"),
        (pl.col(_VERSION) == pl.col(_VERSION).shift(1)).fill_null(False).alias("_same_batch"),
    )
    failures = concat_failures([monotonicity, _repeated_user_batch(ordered, feed), _spend_decreases(ordered, feed)])
    if not deduplicate:
        return failures, None
    return failures, _latest_rows(ordered, feed)


def _latest_in_feed_order(feed: _Feed, *, deduplicate: bool) -> pd.DataFrame | None:
    """The deduplicated table (or an empty frame when not ``deduplicate``) when the feed is clean; None otherwise.

    The shortcut past the sort, for the common case. With every delta's batch ids above all earlier
    ones, a user's rows in feed order are in batch order, and with user ids unique in each file no
    (user_id, batch_id) pair can repeat: one pass over the files in order, scattering each row's
    values into arrays indexed by user_id, leaves each user's latest row there and shows whether
    spend ever falls. Returns None (the caller sorts, and reports exactly what is wrong) when spend
    falls, a user repeats within a file, or user ids are too sparse for arrays of twice the feed's rows.
    """
    low, high = feed.frame.select(pl.col(_KEY).min().alias("low"), pl.col(_KEY).max().alias("high")).row(0)
    if low < 0 or not _dense_ids(high, feed.frame.height):
        return None
    # Per user: the file of its latest row so far (-1: none yet) and that row's place in the file.
    which = np.full(high + 1, -1, dtype=np.int16 if len(feed.names) < 2**15 else np.int32)
    place = np.empty(high + 1, dtype=np.int32 if feed.frame.height < 2**31 else np.int64)
    kept = COLUMNS[1:] if deduplicate else (_SPEND,)
    by_user = {column: np.empty(high + 1, dtype=_numpy_type(feed.frame, column)) for column in kept}
    spend = by_user[_SPEND]
    spend.fill(np.iinfo(spend.dtype).min)  # below any spend: no user has a row yet

    def spend_rises(index: int, users: np.ndarray, rows: pl.DataFrame) -> bool:
        """Whether no user's spend falls in this file; then its spend (and file, and batch) recorded."""
        if (rows[_SPEND].to_numpy() < spend[users]).any():
            return False
        for column in (_SPEND, _VERSION):
            if column in by_user:
                by_user[column][users] = rows[column].to_numpy()
        if deduplicate:
            which[users] = index
        return True

    def users_once(users: np.ndarray, rows: pl.DataFrame) -> bool:
        """Whether no user is twice in this file; its other values and row places recorded."""
        places = np.arange(len(users), dtype=place.dtype)
        place[users] = places
        for column in _OTHER_VALUES:
            if column in by_user:
                by_user[column][users] = rows[column].to_numpy()
        return np.array_equal(place[users], places)

    # NumPy lets go of the interpreter lock while it scatters: the two halves of each file's work run
    # on the two cores (a file's halves touch different arrays; the next file waits for both).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedup") as helper:
        for index, (start, stop) in enumerate(zip(feed.offsets.tolist(), feed.offsets[1:].tolist())):
            rows = feed.frame.slice(start, stop - start)
            users = rows[_KEY].to_numpy()
            other_half = helper.submit(users_once, users, rows)
            rises = spend_rises(index, users, rows)
            if not (other_half.result() and rises):
                return None  # spend falls, or a user is twice in one file: only the sort says where
    if not deduplicate:
        return empty_failures()
    present = which >= 0
    if present[low:].all():
        ids, pick = np.arange(low, high + 1, dtype=_numpy_type(feed.frame, _KEY)), slice(low, None)  # views
    else:
        ids = np.flatnonzero(present).astype(_numpy_type(feed.frame, _KEY))
        pick = ids
    columns = {_KEY: ids, **{column: by_user[column][pick] for column in kept}}
    return _with_lineage(columns, which[pick], feed.line_numbers(which[pick], place[pick]), feed)


def _numpy_type(frame: pl.DataFrame, column: str) -> np.dtype:
    return np.dtype(np.int32) if frame.schema[column] == pl.Int32 else np.dtype(np.int64)


def _sort_by_user_and_batch(frame: pl.DataFrame) -> pl.DataFrame:
    """(user_id, batch_id, _position) sorted by (user_id, batch_id), stable: equal pairs stay in feed order.

    Only the keys and each row's position are sorted; the other columns are gathered later for the
    few rows (or the one row per user) that need them.
    """
    position = pl.int_range(pl.len(), dtype=pl.UInt32 if frame.height < 2**32 else pl.UInt64).alias(_POSITION)
    bounds = frame.select(
        pl.col(_KEY).min().alias("user_min"), pl.col(_KEY).max().alias("user_max"),
        pl.col(_VERSION).min().alias("batch_min"), pl.col(_VERSION).max().alias("batch_max"),
    ).row(0, named=True)
    if bounds["user_min"] >= 0 and bounds["user_max"] < 2**32 and bounds["batch_min"] >= 0 and bounds["batch_max"] < 2**31:
        # One int64 key sorts about twice as fast as two columns; validated ids are small and non-negative.
        key = (pl.col(_KEY).cast(pl.Int64) * 2**31 + pl.col(_VERSION)).alias("_key")
        ordered = frame.select(key, position).sort("_key", maintain_order=True)
        return ordered.select(
            (pl.col("_key") // 2**31).alias(_KEY), (pl.col("_key") % 2**31).alias(_VERSION), _POSITION
        )
    return frame.select(_KEY, _VERSION, position).sort([_KEY, _VERSION], maintain_order=True)


def _batch_monotonicity(feed: _Feed) -> pd.DataFrame:
    maxima = [
        feed.frame.slice(start, stop - start)[_VERSION].max() for start, stop in zip(feed.offsets, feed.offsets[1:])
    ]
    bounds, setters = _frames.earlier_batches(feed.names, maxima)
    rule = FEED_RULES[BATCH_MONOTONIC]
    files, rows, values = [], [], []
    for index, (bound, setter) in enumerate(zip(bounds, setters)):
        if bound is None:
            continue
        start = int(feed.offsets[index])
        batches = feed.frame.slice(start, int(feed.offsets[index + 1]) - start)[_VERSION]
        positions = (batches <= bound).arg_true().to_numpy().astype("int64") + start
        if len(positions):
            _, lines = feed.locate(positions)
            files.extend([feed.names[index]] * len(positions))
            rows.extend(lines.tolist())
            values.extend(rule.values(batches.gather(positions - start), repeat(bound), repeat(setter)))
    if not files:
        return empty_failures()
    return failure_rows(files, rows, column=rule.column, check=rule.check, values=values)


def _repeated_user_batch(ordered: pl.DataFrame, feed: _Feed) -> pd.DataFrame:
    repeat = pl.col("_same_user") & pl.col("_same_batch")
    offending = (
        ordered.with_columns(pl.when(~repeat).then(pl.col(_POSITION)).forward_fill().alias("_first"))
        .filter(repeat)
        .sort(_POSITION)  # back to feed order, as pandas' duplicated() reports them
    )
    if offending.is_empty():
        return empty_failures()
    files, rows = feed.locate(offending[_POSITION].to_numpy())
    first_files, first_rows = feed.locate(offending["_first"].to_numpy())
    rule = FEED_RULES[PAIR_UNIQUE]
    values = rule.values(offending[_KEY], offending[_VERSION], feed.file_names(first_files), first_rows)
    return rule.failures(feed.file_names(files), rows, values)


def _spend_decreases(ordered: pl.DataFrame, feed: _Feed) -> pd.DataFrame:
    spend = feed.frame[_SPEND].gather(ordered[_POSITION])
    falls = (ordered["_same_user"] & (spend < spend.shift(1))).fill_null(False)
    if not falls.any():
        return empty_failures()
    at = falls.arg_true()
    positions = ordered[_POSITION].gather(at).to_numpy()
    previous_positions = ordered[_POSITION].gather(at - 1).to_numpy()
    files, rows = feed.locate(positions)
    previous_files, _ = feed.locate(previous_positions)
    rule = FEED_RULES[SPEND_NEVER_DECREASES]
    values = rule.values(
        spend.gather(at), spend.gather(at - 1), ordered[_VERSION].gather(at - 1), feed.file_names(previous_files)
    )
    return failure_rows(feed.file_names(files), rows, column=rule.column, check=rule.check, values=values)


def _latest_rows(ordered: pl.DataFrame, feed: _Feed) -> pd.DataFrame:
    """One row per user, the last of its (user_id, batch_id) run; a tie at the top is a DeduplicationError."""
    is_last = (pl.col(_KEY) != pl.col(_KEY).shift(-1)).fill_null(True)
    tied = ordered.filter(is_last & pl.col("_same_user") & pl.col("_same_batch"))
    if not tied.is_empty():
        _raise_ties(ordered, tied, feed)
    return _latest_frame(ordered.filter(is_last)[_POSITION].to_numpy(), feed)


def _latest_frame(positions: np.ndarray, feed: _Feed) -> pd.DataFrame:
    """The deduplicated table: the feed's rows at ``positions`` (one per user, by user_id) with their lineage."""
    latest = feed.frame.select(pl.col(column).gather(positions) for column in COLUMNS).rechunk()
    files, rows = feed.locate(positions)
    return _with_lineage({column: latest[column].to_numpy(allow_copy=False) for column in COLUMNS}, files, rows, feed)


def _with_lineage(columns: dict[str, np.ndarray], files: np.ndarray, rows: np.ndarray, feed: _Feed) -> pd.DataFrame:
    """COLUMNS of the latest rows, with the file (index into ``feed.names``) and line each comes from."""
    columns[SOURCE_FILE] = _file_name_array(files, feed.names)
    columns[SOURCE_ROW] = rows
    return pd.DataFrame(columns, copy=False)


def _file_name_array(files: np.ndarray, names: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """The file name of each row as pandas' default string dtype, decoded from codes by Arrow, not per row in Python."""
    import pyarrow as pa

    codes = pa.array(files.astype("int32"))
    return pd.array(pa.DictionaryArray.from_arrays(codes, pa.array(list(names))).cast(pa.large_string()), dtype="str")


def _raise_ties(ordered: pl.DataFrame, tied: pl.DataFrame, feed: _Feed) -> None:
    first_user = tied[_KEY].min()
    batch = tied.filter(pl.col(_KEY) == first_user)[_VERSION].item()
    places = ordered.filter((pl.col(_KEY) == first_user) & (pl.col(_VERSION) == batch))
    files, rows = feed.locate(places[_POSITION].to_numpy())
    raise tie_error(tied.height, first_user, batch, list(zip(feed.file_names(files), rows.tolist())))
