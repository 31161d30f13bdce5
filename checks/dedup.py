"""Deduplicating the feed: one row per user, the one with the numerically largest ``batch_id``, with lineage."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from checks.errors import DeduplicationError
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, stack_feed
from checks.rules import UNIQUE_LATEST_BATCH, describe_ties


def latest_batches(deltas: Sequence[Delta]) -> pd.Series:
    """Each user's largest ``batch_id`` anywhere in the feed, indexed by ``user_id``."""
    return stack_feed(deltas).groupby("user_id")["batch_id"].max()


def deduplicate(deltas: Sequence[Delta]) -> pd.DataFrame:
    """Keep, per user, the row with the largest ``batch_id``; two such rows for one user is an error.

    Returns the five columns plus ``source_file`` and ``source_row``, sorted by ``user_id``.
    """
    feed = stack_feed(deltas)
    is_latest = feed["batch_id"].eq(feed.groupby("user_id")["batch_id"].transform("max"))
    latest = feed[is_latest]
    tied = latest[latest["user_id"].duplicated(keep=False)]
    if not tied.empty:
        raise DeduplicationError(_describe_ties(tied), check=UNIQUE_LATEST_BATCH)
    return latest.sort_values("user_id", ignore_index=True)


def _describe_ties(tied: pd.DataFrame) -> str:
    first_user = tied["user_id"].min()
    places = tied[tied["user_id"] == first_user]
    return describe_ties(
        tied["user_id"].nunique(),
        first_user,
        places["batch_id"].iloc[0],
        list(zip(places[SOURCE_FILE], places[SOURCE_ROW])),
    )
