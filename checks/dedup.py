"""Deduplicating the feed: one row per key, the one with the largest version (the contract's), with lineage."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from checks.contract import shape_or_default
from checks.encoding import Encoding
from checks.errors import DeduplicationError
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, Shape, stack_feed
from checks.rules import tie_error
from checks.wording import Words


def latest_batches(deltas: Sequence[Delta], shape: Shape | None = None) -> pd.Series:
    """Each key's largest version anywhere in the feed, indexed by the key."""
    shape = shape_or_default(shape)
    return stack_feed(deltas, shape.names).groupby(shape.key)[shape.version].max()


def deduplicate(deltas: Sequence[Delta], shape: Shape | None = None, encoding: Encoding | None = None) -> pd.DataFrame:
    """Keep, per key, the row with the largest version; two such rows for one key is an error.

    Returns the contract's columns plus ``source_file`` and ``source_row``, sorted by the key. ``encoding`` (the
    run's: its contract gives the shape) words the error with the values as the files wrote them.
    """
    shape = encoding.contract.shape if encoding is not None else shape_or_default(shape)
    feed = stack_feed(deltas, shape.names)
    key, version = shape.key, shape.version
    is_latest = feed[version].eq(feed.groupby(key)[version].transform("max"))
    latest = feed[is_latest]
    tied = latest[latest[key].duplicated(keep=False)]
    if not tied.empty:
        raise _tie_error(tied, shape, encoding)
    return latest.sort_values(key, ignore_index=True)


def _tie_error(tied: pd.DataFrame, shape: Shape, encoding: Encoding | None) -> DeduplicationError:
    first_user = tied[shape.key].min()
    places = tied[tied[shape.key] == first_user]
    key, version = first_user, places[shape.version].iloc[0]
    if encoding is not None:
        words = Words.of(encoding)
        key, version = words.key(key), words.version_value(version)
    return tie_error(
        tied[shape.key].nunique(), key, version, list(zip(places[SOURCE_FILE], places[SOURCE_ROW])), encoding
    )
