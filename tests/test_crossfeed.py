"""Checks across the feed: each planted history fault is found at its row, valid feeds pass."""
from __future__ import annotations

import pandas as pd
import pytest

from checks.crossfeed import check_feed
from checks.model import Delta
from checks.rules import BATCH_MONOTONIC, PAIR_UNIQUE, first_customer_form

SPEND_NEVER_DECREASES = first_customer_form()[2]
from checks.sample import generate_feed


def delta(number: int, rows: list[tuple[int, int, int]]) -> Delta:
    """rows of (user_id, total_spend, batch_id)."""
    frame = pd.DataFrame(
        {
            "user_id": [row[0] for row in rows],
            "total_spend": [row[1] for row in rows],
            "count_saved_items": 1,
            "loyalty_credits": 1,
            "batch_id": [row[2] for row in rows],
        },
        index=pd.RangeIndex(2, len(rows) + 2, name="row"),
    ).astype("int64")
    return Delta(name=f"delta{number}.csv", number=number, frame=frame)


def test_generated_feed_passes():
    assert check_feed(generate_feed(500, 6, seed=3)).empty


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        pytest.param(
            [delta(0, [(1, 10, 5), (2, 10, 9)]), delta(1, [(1, 20, 9), (2, 30, 12)])],
            [("delta1.csv", 2, "batch_id", BATCH_MONOTONIC)],
            id="batch not above previous max",
        ),
        pytest.param(
            [delta(0, [(1, 10, 5)]), delta(1, [(1, 30, 10)]), delta(2, [(1, 20, 7)])],
            [("delta2.csv", 2, "batch_id", BATCH_MONOTONIC)],
            id="batch below an earlier file, not only the previous one",
        ),
        pytest.param(
            [delta(0, [(1, 10, 5)]), delta(1, [(1, 10, 5)])],
            [("delta1.csv", 2, "batch_id", BATCH_MONOTONIC), ("delta1.csv", 2, "batch_id", PAIR_UNIQUE)],
            id="user batch pair repeated across files",
        ),
        pytest.param(
            [delta(0, [(1, 50, 5), (2, 10, 6)]), delta(1, [(2, 20, 8), (1, 40, 9)])],
            [("delta1.csv", 3, "total_spend", SPEND_NEVER_DECREASES)],
            id="lifetime spend falls",
        ),
    ],
)
def test_planted_history_faults_are_found(feed, expected):
    failures = check_feed(feed)
    found = sorted(map(tuple, failures[["file", "row", "column", "check"]].values.tolist()))
    assert found == sorted(expected)


def test_spend_failure_says_what_it_fell_from():
    failures = check_feed([delta(0, [(1, 50, 5)]), delta(1, [(1, 40, 9)])])
    assert failures["value"].tolist() == ["40 < 50 at batch_id 5 (delta0.csv)"]


def test_monotonicity_uses_the_numeric_batch_id():
    # "10" < "9" as text; numerically the feed is in order.
    assert check_feed([delta(0, [(1, 10, 9)]), delta(1, [(1, 20, 10)])]).empty
