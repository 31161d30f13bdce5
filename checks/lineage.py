"""Lineage of the platform's table: which delta file and line each loaded row came from, by exact match."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from checks.dedup import SOURCE_FILE, SOURCE_ROW, stack_feed
from checks.feed import COLUMNS
from checks.validate import Delta

PLATFORM_ROW = "platform_row"
MATCHES = "matches"


def trace_lineage(platform: pd.DataFrame, feed: Sequence[Delta]) -> pd.DataFrame:
    """One row per platform row: its line, its values, the first file/line in feed order holding exactly
    those five values (``source_file`` is None when no file does), and how many feed rows match."""
    stacked = stack_feed(feed)
    counts = stacked.groupby(list(COLUMNS), sort=False).size().rename(MATCHES).reset_index()
    first = stacked.drop_duplicates(list(COLUMNS), keep="first").merge(counts, on=list(COLUMNS))
    rows = platform.loc[:, list(COLUMNS)].assign(**{PLATFORM_ROW: platform.index.to_numpy()})
    traced = rows.merge(first, on=list(COLUMNS), how="left", sort=False)
    traced[SOURCE_FILE] = traced[SOURCE_FILE].astype(object).where(traced[SOURCE_FILE].notna(), None)
    traced[SOURCE_ROW] = traced[SOURCE_ROW].astype("Int64")
    traced[MATCHES] = traced[MATCHES].fillna(0).astype("int64")
    return traced.loc[:, [PLATFORM_ROW, *COLUMNS, SOURCE_FILE, SOURCE_ROW, MATCHES]]


def unmatched_rows(lineage: pd.DataFrame) -> pd.DataFrame:
    """The platform rows that no delta file holds."""
    return lineage[lineage[SOURCE_FILE].isna()]
