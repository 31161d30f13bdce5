"""Deduplication: latest numeric batch per user, lineage, ties are errors, same answer as a naive version."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.dedup import deduplicate, latest_batches
from checks.errors import DeduplicationError
from checks.sample import COLUMNS
from checks.model import SOURCE_FILE, SOURCE_ROW
from checks.sample import generate_feed
from tests.test_crossfeed import delta


def naive_deduplicate(deltas) -> dict[int, tuple]:
    """Row by row, the obvious way: a reference for the vectorised version."""
    latest: dict[int, tuple] = {}
    for each in deltas:
        for line, row in each.frame.iterrows():
            key = int(row["user_id"])
            if key not in latest or row["batch_id"] > latest[key][4]:
                latest[key] = (*map(int, row[list(COLUMNS)]), each.name, line)
    return latest


def test_keeps_numerically_largest_batch_with_lineage():
    feed = [delta(0, [(1, 10, 9), (2, 5, 3)]), delta(1, [(1, 99, 10)])]
    result = deduplicate(feed)
    assert result["user_id"].tolist() == [1, 2]
    assert result["batch_id"].tolist() == [10, 3]
    assert result[SOURCE_FILE].tolist() == ["delta1.csv", "delta0.csv"]
    assert result[SOURCE_ROW].tolist() == [2, 3]


def test_a_later_file_with_an_older_batch_does_not_win():
    feed = [delta(0, [(1, 10, 50)]), delta(1, [(1, 5, 20)])]
    assert deduplicate(feed)["batch_id"].tolist() == [50]


def test_tie_on_largest_batch_is_an_error():
    feed = [delta(0, [(1, 10, 7), (2, 1, 1)]), delta(1, [(1, 11, 7)])]
    with pytest.raises(DeduplicationError, match=r"1 user\(s\).*user 1 has batch_id 7 in delta0.csv row 2 and delta1.csv row 2"):
        deduplicate(feed)


def test_tie_on_an_older_batch_is_not_an_error():
    feed = [delta(0, [(1, 10, 7)]), delta(1, [(1, 11, 7)]), delta(2, [(1, 12, 9)])]
    assert deduplicate(feed)["batch_id"].tolist() == [9]


def test_latest_batches():
    feed = [delta(0, [(1, 10, 7), (2, 1, 1)]), delta(1, [(1, 11, 8)])]
    assert latest_batches(feed).to_dict() == {1: 8, 2: 1}


def test_empty_feed_gives_empty_output_with_columns():
    result = deduplicate([])
    assert list(result.columns) == [*COLUMNS, SOURCE_FILE, SOURCE_ROW]
    assert result.empty


@settings(max_examples=20, deadline=None)
@given(users=st.integers(1, 60), deltas=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_matches_naive_deduplication(users, deltas, seed):
    feed = generate_feed(users, deltas, seed=seed)
    result = deduplicate(feed)
    expected = naive_deduplicate(feed)
    got = {int(row[0]): (*map(int, row[:5]), row[5], int(row[6])) for row in result.itertuples(index=False)}
    assert got == expected


def test_does_not_modify_its_input():
    feed = generate_feed(50, 3, seed=1)
    before = [each.frame.copy() for each in feed]
    deduplicate(feed)
    for each, copy in zip(feed, before):
        pd.testing.assert_frame_equal(each.frame, copy)
