"""Lineage of the platform's table: which delta file and line each loaded row came from, by exact match."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from checks.sample import COLUMNS
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, stack_feed

PLATFORM_ROW = "platform_row"
MATCHES = "matches"


def trace_lineage(platform: pd.DataFrame, feed: Sequence[Delta]) -> pd.DataFrame:
    """One row per platform row: its line, its values, the first file/line in feed order holding exactly
    those five values (``source_file`` is None when no file does), and how many feed rows match."""
    stacked = stack_feed(feed)
    # One 64-bit key per row instead of a five-column join; every match is then checked column by column.
    feed_keys = row_keys(stacked)
    counts = pd.Series(feed_keys).value_counts()
    platform_keys = row_keys(platform)
    position = first_feed_row(feed_keys, platform_keys)
    source = np.maximum(position, 0)
    exact = position >= 0
    for column in COLUMNS:
        exact &= stacked[column].to_numpy()[source] == platform[column].to_numpy()
    traced = platform.loc[:, list(COLUMNS)].reset_index(drop=True)
    traced.insert(0, PLATFORM_ROW, platform.index.to_numpy())
    traced[SOURCE_FILE] = np.where(exact, stacked[SOURCE_FILE].to_numpy()[source], None)
    traced[SOURCE_ROW] = pd.array(np.where(exact, stacked[SOURCE_ROW].to_numpy()[source], 0), dtype="Int64")
    traced.loc[~exact, SOURCE_ROW] = pd.NA
    traced[MATCHES] = np.where(exact, counts.reindex(platform_keys).fillna(0).to_numpy(), 0).astype("int64")
    return traced


def first_feed_row(feed_keys: np.ndarray, platform_keys: np.ndarray) -> np.ndarray:
    """For each platform key, the position of the first feed row with that key, or -1."""
    unique = ~pd.Index(feed_keys).duplicated(keep="first")
    index = pd.Index(feed_keys[unique])
    found = index.get_indexer(platform_keys)
    return np.where(found >= 0, np.flatnonzero(unique)[np.maximum(found, 0)], -1)


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's five values: equal rows have equal keys in any table."""
    values = frame.loc[:, list(COLUMNS)].astype("int64")
    return pd.util.hash_pandas_object(values, index=False).to_numpy(dtype="uint64")


def unmatched_rows(lineage: pd.DataFrame) -> pd.DataFrame:
    """The platform rows that no delta file holds."""
    return lineage[lineage[SOURCE_FILE].isna()]
