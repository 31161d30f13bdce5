"""Checks across the feed's history: versions move forward file by file, no (key, version) repeats, and a
column the contract says never decreases never falls for a key.

Each check looks at the deltas in feed order and returns failures as rows with ``checks.model.FAILURE_COLUMNS``,
one row per offending line, so a new file can be checked against the history already on disk. Columns and
wording come from the feed's contract (``checks.rules.feed_rules``).
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from checks.encoding import Encoding, default_encoding
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, Shape, concat_failures, empty_failures, stack_feed
from checks.rules import BATCH_MONOTONIC, PAIR_UNIQUE, FeedRule, feed_rules, never_decreases_check, never_decreasing


def check_feed(deltas: Sequence[Delta], encoding: Encoding | None = None) -> pd.DataFrame:
    """Run every feed-wide check over ``deltas`` (already in feed order)."""
    encoding = encoding or default_encoding()
    shape = encoding.contract.shape
    feed = stack_feed(deltas, shape.names)
    rules = feed_rules(shape, encoding)
    failures = [
        _batch_monotonicity(feed, deltas, shape, rules[BATCH_MONOTONIC], encoding),
        _repeated_user_batch(feed, shape, rules[PAIR_UNIQUE], encoding),
        *[_decreases(feed, shape, column.name, rules[never_decreases_check(column)], encoding)
          for column in never_decreasing(encoding, shape)],
    ]
    return concat_failures(failures)


def _batch_monotonicity(feed: pd.DataFrame, deltas: Sequence[Delta], shape: Shape, rule: FeedRule, encoding: Encoding) -> pd.DataFrame:
    """Every version of a delta must exceed every version of the deltas before it."""
    version = shape.version
    per_file_max = feed.groupby(SOURCE_FILE, sort=False)[version].max()
    per_file_max = per_file_max.reindex([delta.name for delta in deltas])
    # The largest version of all earlier files, for each file.
    earlier_max = per_file_max.cummax().shift(1)
    earlier_file = per_file_max.index.to_series().where(per_file_max.eq(per_file_max.cummax())).ffill().shift(1)
    bound = feed[SOURCE_FILE].map(earlier_max)
    offending = feed[feed[version].le(bound)]
    if offending.empty:
        return empty_failures()
    limit = offending[SOURCE_FILE].map(earlier_max).astype("int64")
    values = rule.values(
        encoding.written(version, offending[version]), encoding.written(version, limit),
        offending[SOURCE_FILE].map(earlier_file),
    )
    return _failures(offending, rule, values)


def _repeated_user_batch(feed: pd.DataFrame, shape: Shape, rule: FeedRule, encoding: Encoding) -> pd.DataFrame:
    """A (key, version) pair appears in more than one file: the later occurrences fail."""
    pair = [shape.key, shape.version]
    repeated = feed.duplicated(pair, keep="first")
    if not repeated.any():
        return empty_failures()
    first = feed[~repeated].set_index(pair)
    offending = feed[repeated]
    keys = pd.MultiIndex.from_frame(offending[pair])
    first_file = first[SOURCE_FILE].reindex(keys)
    first_row = first[SOURCE_ROW].reindex(keys)
    values = rule.values(
        encoding.written(shape.key, offending[shape.key]), encoding.written(shape.version, offending[shape.version]),
        first_file, first_row,
    )
    return _failures(offending, rule, values)


def _decreases(feed: pd.DataFrame, shape: Shape, column: str, rule: FeedRule, encoding: Encoding) -> pd.DataFrame:
    """A column that never decreases (lifetime spend) falls for a key as its version grows."""
    key, version = shape.key, shape.version
    ordered = feed.sort_values([key, version], kind="stable")
    previous = ordered.groupby(key)[[column, version, SOURCE_FILE]].shift(1)
    falls = ordered[column].lt(previous[column])
    if not falls.any():
        return empty_failures()
    offending = ordered[falls]
    before = previous[falls]
    values = rule.values(
        encoding.written(column, offending[column]), encoding.written(column, before[column].astype("int64")),
        encoding.written(version, before[version].astype("int64")), before[SOURCE_FILE],
    )
    return _failures(offending, rule, values)


def _failures(rows: pd.DataFrame, rule: FeedRule, values: list[str]) -> pd.DataFrame:
    return rule.failures(rows[SOURCE_FILE], rows[SOURCE_ROW], values)
