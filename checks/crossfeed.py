"""Checks across the feed's history: batch ids move forward, no (user, batch) repeats, spend never falls.

Each check looks at the deltas in feed order and returns failures as rows with ``checks.model.FAILURE_COLUMNS``,
one row per offending line, so a new file can be checked against the history already on disk.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, concat_failures, empty_failures, failure_rows, stack_feed

BATCH_MONOTONIC = "batch_monotonic"
PAIR_UNIQUE = "user_batch_unique_across_files"
SPEND_NEVER_DECREASES = "spend_never_decreases"


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
    previous = offending[SOURCE_FILE].map(earlier_file)
    limit = offending[SOURCE_FILE].map(earlier_max).astype("int64").astype(str)
    return _failures(
        offending,
        column="batch_id",
        check=BATCH_MONOTONIC,
        value=offending["batch_id"].astype(str) + " <= " + limit + " (largest batch_id in " + previous + ")",
    )


def _repeated_user_batch(feed: pd.DataFrame) -> pd.DataFrame:
    """A (user_id, batch_id) pair appears in more than one file: the later occurrences fail."""
    repeated = feed.duplicated(["user_id", "batch_id"], keep="first")
    if not repeated.any():
        return empty_failures()
    first = feed[~repeated].set_index(["user_id", "batch_id"])
    offending = feed[repeated]
    keys = pd.MultiIndex.from_frame(offending[["user_id", "batch_id"]])
    first_file = first[SOURCE_FILE].reindex(keys).to_numpy()
    first_row = first[SOURCE_ROW].reindex(keys).astype(str).to_numpy()
    value = (
        "user_id " + offending["user_id"].astype(str) + ", batch_id " + offending["batch_id"].astype(str)
        + " already in " + first_file + " row " + first_row
    )
    return _failures(offending, column="batch_id", check=PAIR_UNIQUE, value=value)


def _spend_decreases(feed: pd.DataFrame) -> pd.DataFrame:
    """total_spend is lifetime spend: for one user it never falls as batch_id grows."""
    ordered = feed.sort_values(["user_id", "batch_id"], kind="stable")
    previous = ordered.groupby("user_id")[["total_spend", "batch_id", SOURCE_FILE]].shift(1)
    falls = ordered["total_spend"].lt(previous["total_spend"])
    if not falls.any():
        return empty_failures()
    offending = ordered[falls]
    before = previous[falls]
    value = (
        offending["total_spend"].astype(str) + " < " + before["total_spend"].astype("int64").astype(str)
        + " at batch_id " + before["batch_id"].astype("int64").astype(str) + " (" + before[SOURCE_FILE] + ")"
    )
    return _failures(offending, column="total_spend", check=SPEND_NEVER_DECREASES, value=value)


def _failures(rows: pd.DataFrame, *, column: str, check: str, value: pd.Series) -> pd.DataFrame:
    return failure_rows(rows[SOURCE_FILE], rows[SOURCE_ROW], column=column, check=check, values=value)
