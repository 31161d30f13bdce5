"""The Polars engine's checks across the feed and its dedup, for any contract: the columns, key, version, the columns that
never decrease and the wording come from a ``FeedForm``, every value in the computing form of ``checks.encoding``.

On a clean feed (versions rising file by file, keys dense: user ids, or a dictionary's codes) the checks and the
dedup take one pass over the files in order; otherwise they share one stable sort by (key, version), which also
names every offending row. Failures and the deduplicated table are the pandas reference's (``checks.crossfeed``,
``checks.dedup``), values worded as the files wrote them.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd
import polars as pl

from checks.dedup import deduplicate as _deduplicate_pandas
from checks.encoding import Encoding
from checks.engines import _frames
from checks.ids import dense
from checks.lineage import text_column
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, concat_failures, empty_failures, failure_rows
from checks.pages import plain_pages
from checks.rules import BATCH_MONOTONIC, PAIR_UNIQUE, FeedRule, feed_rules, never_decreases_check, never_decreasing, tie_error
from checks.wording import Words

_POSITION = "_position"
_WHICH, _PLACE = "_which", "_place"  # a row's file (its index in the feed) and place in that file
# Records built, written or copied at a time (1.5 MB for the first customer): within a core's cache, so that
# filling or reading them field by field reads memory once.
_BLOCK = 2**16


@dataclass(frozen=True, eq=False)
class FeedForm:
    """What the checks across the feed and the dedup need of a contract."""

    encoding: Encoding
    columns: tuple[str, ...]
    key: str
    version: str
    rising: tuple[str, ...]  # the columns that never decrease for a key as its version grows
    rules: dict[str, FeedRule]

    @property
    def others(self) -> tuple[str, ...]:
        """The value columns compared, never checked across files."""
        return tuple(column for column in self.columns if column not in (self.key, self.version, *self.rising))



@functools.lru_cache(maxsize=16)
def feed_form(encoding: Encoding) -> FeedForm | None:
    """The contract's form (kept per encoding: one a run), or None when a version or a never-decreasing column is
    a floating number (its bits are no order: the reference compares it)."""
    shape = encoding.contract.shape
    rising = tuple(column.name for column in never_decreasing(encoding, shape))
    if any(encoding.codecs[column].dtype == "float64" for column in (shape.key, shape.version, *rising)):
        return None
    return FeedForm(encoding, tuple(shape.names), shape.key, shape.version, rising, feed_rules(shape, encoding))


@dataclass(frozen=True)
class Feed:
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
        rows = np.add(places, 2, dtype=np.int64)  # one pass, no int64 temporary
        for index, lines in enumerate(self.lines):
            if lines is not None:
                mine = files == index
                rows[mine] = lines[places[mine]]
        return rows

    def file_names(self, files: np.ndarray) -> list[str]:
        return [self.names[index] for index in files]


def stack(tables: Sequence[pl.DataFrame], deltas: Sequence[Delta], form: FeedForm) -> Feed:
    """The deltas' rows in feed order, without a copy; line numbers are kept only where they are not 2, 3, ..."""
    heights = [table.height for table in tables]
    lines = tuple(
        None if delta.frame.index.equals(pd.RangeIndex(2, len(delta.frame) + 2)) else delta.frame.index.to_numpy(dtype="int64")
        for delta in deltas
    )
    columns = form.columns
    # A column narrowed in some files only is widened where narrow (a copy of those files' column).
    wide = {column for table in tables for column in columns if table.schema[column] == pl.Int64}
    frame = (
        pl.concat(
            [table.select(pl.col(column).cast(pl.Int64) if column in wide else pl.col(column) for column in columns) for table in tables],
            rechunk=False,
        )
        if tables
        else pl.DataFrame(schema={column: pl.Int64 for column in columns})
    )
    return Feed(
        frame=frame,
        names=tuple(delta.name for delta in deltas),
        offsets=np.cumsum([0, *heights], dtype="int64"),
        lines=lines,
    )


def from_delta(delta: Delta, form: FeedForm) -> pl.DataFrame:
    return pl.from_pandas(delta.frame.loc[:, list(form.columns)].reset_index(drop=True))


@plain_pages()  # fresh per-key arrays of 10 M users: no stall for huge pages
def check_and_deduplicate(feed: Feed, form: FeedForm, *, deduplicate: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The feed-wide failures (as ``checks.crossfeed``) and the deduplicated table (as ``checks.dedup``)."""
    if feed.frame.is_empty():
        return empty_failures(), (_deduplicate_pandas([], encoding=form.encoding) if deduplicate else None)
    monotonicity = _version_monotonicity(feed, form)
    if monotonicity.empty:
        latest = _latest_in_feed_order(feed, form, deduplicate=deduplicate)
        if latest is not None:
            return empty_failures(), (latest if deduplicate else None)
    key, version = form.key, form.version
    ordered = _sort_by_key_and_version(feed.frame, form).with_columns(
        (pl.col(key) == pl.col(key).shift(1)).fill_null(False).alias("_same_key"),
        (pl.col(version) == pl.col(version).shift(1)).fill_null(False).alias("_same_version"),
    )
    failures = concat_failures([
        monotonicity, _repeated_pair(ordered, feed, form), *[_decreases(ordered, feed, form, column) for column in form.rising]
    ])
    if not deduplicate:
        return failures, None
    return failures, _latest_rows(ordered, feed, form)


def _latest_in_feed_order(feed: Feed, form: FeedForm, *, deduplicate: bool) -> pd.DataFrame | None:
    """The deduplicated table (or an empty frame when not ``deduplicate``) when the feed is clean; None otherwise.

    The shortcut past the sort, for the common case. With every delta's versions above all earlier
    ones, a key's rows in feed order are in version order, and with the key unique in each delta that
    passed validation (a contract's primary key is unique) no (key, version) pair can repeat: one pass
    over the files in order, writing each row into a table indexed by key, leaves each key's latest row
    there and shows whether a never-decreasing column ever falls. Returns None (the caller sorts, and
    reports exactly what is wrong) when one falls, or keys are too sparse for a table of twice the feed's rows.

    A row is written as one record (its file, place and values), so that each row costs one random
    access into the table rather than one per column: at 10 M users the table is far beyond the
    caches and those accesses are the whole cost. No two rows of a file touch one record, so a file's
    rows are written in chunks on two threads (NumPy lets go of the interpreter lock while it gathers
    and scatters); the next file waits for them.
    """
    key = form.key
    low, high = feed.frame.select(pl.col(key).min().alias("low"), pl.col(key).max().alias("high")).row(0)
    # A record per key up to the largest: at most two per row (records are wide; beyond that the sort is cheaper).
    if low < 0 or not dense(high, feed.frame.height, slots_per_id=2, slack=1024):
        return None
    kept = tuple(column for column in form.columns if column != key) if deduplicate else form.rising
    # Per key: the file of its latest row so far (-1: none yet), the never-decreasing values, that row's place in its
    # file and its other values. The first fields are all the check reads back: it gathers them alone.
    checked = (_WHICH, *form.rising)
    record = np.dtype(
        [(_WHICH, np.int16 if len(feed.names) < 2**15 else np.int32),
         *[(column, _numpy_type(feed.frame, column)) for column in form.rising],
         (_PLACE, np.int32 if feed.frame.height < 2**31 else np.int64),
         *[(column, _numpy_type(feed.frame, column)) for column in kept if column not in form.rising]],
        align=True,
    )
    head = np.dtype({
        "names": list(checked), "formats": [record[name] for name in checked],
        "offsets": [record.fields[name][1] for name in checked], "itemsize": record.fields[_PLACE][1],
    })
    table = np.empty(high + 1, dtype=record)
    table[_WHICH] = -1
    # NumPy gathers and scatters opaque records fastest: the whole records, and their first fields alone.
    by_key = table.view(np.dtype((np.void, record.itemsize)))
    heads = np.ndarray(len(table), dtype=np.dtype((np.void, head.itemsize)), buffer=table, strides=(record.itemsize,))

    def write(index: int, at: int, keys: np.ndarray, values: dict[str, np.ndarray]) -> bool:
        """Write these rows of file ``index`` (from its row ``at``) into the table; False when a never-decreasing column falls."""
        rows = np.empty(len(keys), dtype=record)
        rows[_WHICH] = index
        rows[_PLACE] = np.arange(at, at + len(keys), dtype=record[_PLACE])
        for column in kept:
            rows[column] = values[column]
        if index > 0:  # before the first file, no key has a row
            before = heads[keys].view(head)
            seen = before[_WHICH] >= 0
            if any(((rows[column] < before[column]) & seen).any() for column in form.rising):
                return False
        by_key[keys] = rows.view(by_key.dtype)
        return True

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dedup") as pool:
        for index, (start, stop) in enumerate(zip(feed.offsets.tolist(), feed.offsets[1:].tolist())):
            rows = feed.frame.slice(start, stop - start)
            keys = rows[key].to_numpy()
            values = {column: rows[column].to_numpy() for column in kept}
            chunks = [slice(at, at + _BLOCK) for at in range(0, len(keys), _BLOCK)]
            written = pool.map(
                lambda chunk: write(index, chunk.start, keys[chunk], {column: part[chunk] for column, part in values.items()}),
                chunks,
            )
            if not all(list(written)):
                return None  # a value falls: only the sort says where
    if not deduplicate:
        return empty_failures()
    present = table[_WHICH] >= 0
    if present[low:].all():
        ids, pick = np.arange(low, high + 1, dtype=_numpy_type(feed.frame, key)), slice(low, None)
    else:
        ids = np.flatnonzero(present).astype(_numpy_type(feed.frame, key))
        pick = ids
    columns = {key: ids, **_fields(table[pick])}
    files = columns.pop(_WHICH)
    lines = feed.line_numbers(files, columns.pop(_PLACE))
    return _with_lineage({column: columns[column] for column in form.columns}, files, lines, feed)


def _fields(records: np.ndarray) -> dict[str, np.ndarray]:
    """Each field of ``records`` as an array of its own, copied a block of records at a time: the records are read
    from memory once, not once per field."""
    fields = {name: np.empty(len(records), dtype=records.dtype[name]) for name in records.dtype.names}
    for start in range(0, len(records), _BLOCK):
        block = records[start:start + _BLOCK]
        for name, values in fields.items():
            values[start:start + _BLOCK] = block[name]
    return fields



def _numpy_type(frame: pl.DataFrame, column: str) -> np.dtype:
    return np.dtype(np.int32) if frame.schema[column] == pl.Int32 else np.dtype(np.int64)


def _sort_by_key_and_version(frame: pl.DataFrame, form: FeedForm) -> pl.DataFrame:
    """(key, version, _position) sorted by (key, version), stable: equal pairs stay in feed order.

    Only the keys and each row's position are sorted; the other columns are gathered later for the
    few rows (or the one row per key) that need them.
    """
    key, version = form.key, form.version
    position = pl.int_range(pl.len(), dtype=pl.UInt32 if frame.height < 2**32 else pl.UInt64).alias(_POSITION)
    bounds = frame.select(
        pl.col(key).min().alias("key_min"), pl.col(key).max().alias("key_max"),
        pl.col(version).min().alias("version_min"), pl.col(version).max().alias("version_max"),
    ).row(0, named=True)
    if bounds["key_min"] >= 0 and bounds["key_max"] < 2**32 and bounds["version_min"] >= 0 and bounds["version_max"] < 2**31:
        # One int64 sort key sorts about twice as fast as two columns; validated ids are small and non-negative.
        combined = (pl.col(key).cast(pl.Int64) * 2**31 + pl.col(version)).alias("_key")
        ordered = frame.select(combined, position).sort("_key", maintain_order=True)
        return ordered.select(
            (pl.col("_key") // 2**31).alias(key), (pl.col("_key") % 2**31).alias(version), _POSITION
        )
    return frame.select(key, version, position).sort([key, version], maintain_order=True)


def _version_monotonicity(feed: Feed, form: FeedForm) -> pd.DataFrame:
    version = form.version
    maxima = [
        feed.frame.slice(start, stop - start)[version].max() for start, stop in zip(feed.offsets, feed.offsets[1:])
    ]
    bounds, setters = _frames.earlier_batches(feed.names, maxima)
    rule = form.rules[BATCH_MONOTONIC]
    files, rows, values = [], [], []
    for index, (bound, setter) in enumerate(zip(bounds, setters)):
        if bound is None:
            continue
        start = int(feed.offsets[index])
        versions = feed.frame.slice(start, int(feed.offsets[index + 1]) - start)[version]
        positions = (versions <= bound).arg_true().to_numpy().astype("int64") + start
        if len(positions):
            _, lines = feed.locate(positions)
            files.extend([feed.names[index]] * len(positions))
            rows.extend(lines.tolist())
            offending = versions.gather(positions - start)
            limit = pl.Series([bound] * len(positions), dtype=pl.Int64)
            values.extend(rule.values(form.encoding.written(version, offending), form.encoding.written(version, limit), repeat(setter)))
    if not files:
        return empty_failures()
    return failure_rows(files, rows, column=rule.column, check=rule.check, values=values)


def _repeated_pair(ordered: pl.DataFrame, feed: Feed, form: FeedForm) -> pd.DataFrame:
    repeated = pl.col("_same_key") & pl.col("_same_version")
    offending = (
        ordered.with_columns(pl.when(~repeated).then(pl.col(_POSITION)).forward_fill().alias("_first"))
        .filter(repeated)
        .sort(_POSITION)  # back to feed order, as pandas' duplicated() reports them
    )
    if offending.is_empty():
        return empty_failures()
    files, rows = feed.locate(offending[_POSITION].to_numpy())
    first_files, first_rows = feed.locate(offending["_first"].to_numpy())
    rule = form.rules[PAIR_UNIQUE]
    values = rule.values(
        form.encoding.written(form.key, offending[form.key]), form.encoding.written(form.version, offending[form.version]),
        feed.file_names(first_files), first_rows,
    )
    return rule.failures(feed.file_names(files), rows, values)


def _decreases(ordered: pl.DataFrame, feed: Feed, form: FeedForm, column: str) -> pd.DataFrame:
    values = feed.frame[column].gather(ordered[_POSITION])
    falls = (ordered["_same_key"] & (values < values.shift(1))).fill_null(False)
    if not falls.any():
        return empty_failures()
    at = falls.arg_true()
    positions = ordered[_POSITION].gather(at).to_numpy()
    previous_positions = ordered[_POSITION].gather(at - 1).to_numpy()
    files, rows = feed.locate(positions)
    previous_files, _ = feed.locate(previous_positions)
    rule = form.rules[never_decreases_check(form.encoding.contract.column(column))]
    worded = rule.values(
        form.encoding.written(column, values.gather(at)), form.encoding.written(column, values.gather(at - 1)),
        form.encoding.written(form.version, ordered[form.version].gather(at - 1)), feed.file_names(previous_files),
    )
    return failure_rows(feed.file_names(files), rows, column=rule.column, check=rule.check, values=worded)


def _latest_rows(ordered: pl.DataFrame, feed: Feed, form: FeedForm) -> pd.DataFrame:
    """One row per key, the last of its (key, version) run; a tie at the top is a DeduplicationError."""
    is_last = (pl.col(form.key) != pl.col(form.key).shift(-1)).fill_null(True)
    tied = ordered.filter(is_last & pl.col("_same_key") & pl.col("_same_version"))
    if not tied.is_empty():
        _raise_ties(ordered, tied, feed, form)
    positions = ordered.filter(is_last)[_POSITION].to_numpy()
    latest = feed.frame.select(pl.col(column).gather(positions) for column in form.columns).rechunk()
    files, rows = feed.locate(positions)
    return _with_lineage({column: latest[column].to_numpy(allow_copy=False) for column in form.columns}, files, rows, feed)


def _with_lineage(columns: dict[str, np.ndarray], files: np.ndarray, rows: np.ndarray, feed: Feed) -> pd.DataFrame:
    """The contract's columns of the latest rows, with the file (index into ``feed.names``) and line each comes from.

    The file is a categorical, a code per row: the names as text took 170 MB of a 10 M-row table through the
    diagnosis (written out as text all the same: ``checks.results.write_deduplicated``)."""
    columns[SOURCE_FILE] = text_column(files, feed.names).array
    columns[SOURCE_ROW] = rows
    return pd.DataFrame(columns, copy=False)


def _raise_ties(ordered: pl.DataFrame, tied: pl.DataFrame, feed: Feed, form: FeedForm) -> None:
    key, version = form.key, form.version
    first_key = tied[key].min()
    at = tied.filter(pl.col(key) == first_key)[version].item()
    places = ordered.filter((pl.col(key) == first_key) & (pl.col(version) == at))
    files, rows = feed.locate(places[_POSITION].to_numpy())
    shown_key, shown_version = first_key, at
    if not form.encoding.plain:
        words = Words.of(form.encoding)
        shown_key, shown_version = words.key(first_key), words.version_value(at)
    raise tie_error(tied.height, shown_key, shown_version, list(zip(feed.file_names(files), rows.tolist())), form.encoding)
