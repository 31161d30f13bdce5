"""Checks across the feed's history: batch ids move forward, no (user, batch) repeats, spend never falls.

Each check looks at the deltas in feed order and returns failures as rows with ``checks.model.FAILURE_COLUMNS``,
one row per offending line, so a new file can be checked against the history already on disk.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, concat_failures, empty_failures, failure_rows, stack_feed
from checks.rules import BATCH_MONOTONIC, FEED_RULES, PAIR_UNIQUE, SPEND_NEVER_DECREASES, FeedRule


def check_feed(deltas: Sequence[Delta]) -> pd.DataFrame:
    """Run every feed-wide check over ``deltas`` (already in feed order)."""
    feed = stack_feed(deltas)
    failures = [
        _batch_monotonicity(feed, deltas),
        _repeated_user_batch(feed),
        _spend_decreases(feed),
    ]
    return concat_failures(failures)


def _batch_monotonicity(feed: pd.DataFrame, deltas: Sequence[Delta]) -> pd.DataFrame:
    """Every batch_id of a delta must exceed every batch_id of the deltas before it."""
    per_file_max = feed.groupby(SOURCE_FILE, sort=False)["batch_id"].max()
    per_file_max = per_file_max.reindex([delta.name for delta in deltas])
    # The largest batch_id of all earlier files, for each file.
    earlier_max = per_file_max.cummax().shift(1)
    earlier_file = per_file_max.index.to_series().where(per_file_max.eq(per_file_max.cummax())).ffill().shift(1)
    bound = feed[SOURCE_FILE].map(earlier_max)
    offending = feed[feed["batch_id"].le(bound)]
    if offending.empty:
        return empty_failures()
    rule = FEED_RULES[BATCH_MONOTONIC]
    limit = offending[SOURCE_FILE].map(earlier_max).astype("int64")
    return _failures(offending, rule, rule.values(offending["batch_id"], limit, offending[SOURCE_FILE].map(earlier_file)))


def _repeated_user_batch(feed: pd.DataFrame) -> pd.DataFrame:
    """A (user_id, batch_id) pair appears in more than one file: the later occurrences fail."""
    repeated = feed.duplicated(["user_id", "batch_id"], keep="first")
    if not repeated.any():
        return empty_failures()
    first = feed[~repeated].set_index(["user_id", "batch_id"])
    offending = feed[repeated]
    keys = pd.MultiIndex.from_frame(offending[["user_id", "batch_id"]])
    first_file = first[SOURCE_FILE].reindex(keys)
    first_row = first[SOURCE_ROW].reindex(keys)
    rule = FEED_RULES[PAIR_UNIQUE]
    return _failures(offending, rule, rule.values(offending["user_id"], offending["batch_id"], first_file, first_row))


def _spend_decreases(feed: pd.DataFrame) -> pd.DataFrame:
    """total_spend is lifetime spend: for one user it never falls as batch_id grows."""
    ordered = feed.sort_values(["user_id", "batch_id"], kind="stable")
    previous = ordered.groupby("user_id")[["total_spend", "batch_id", SOURCE_FILE]].shift(1)
    falls = ordered["total_spend"].lt(previous["total_spend"])
    if not falls.any():
        return empty_failures()
    offending = ordered[falls]
    before = previous[falls]
    rule = FEED_RULES[SPEND_NEVER_DECREASES]
    values = rule.values(
        offending["total_spend"], before["total_spend"].astype("int64"), before["batch_id"].astype("int64"), before[SOURCE_FILE]
    )
    return _failures(offending, rule, values)


def _failures(rows: pd.DataFrame, rule: FeedRule, values: list[str]) -> pd.DataFrame:
    return failure_rows(rows[SOURCE_FILE], rows[SOURCE_ROW], column=rule.column, check=rule.check, values=values)
