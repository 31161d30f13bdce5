"""Measuring a delta against the table its feed built so far: new and updated keys, amount added, versions, nulls."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.encoding import NULL
from checks.landing.metrics import empty_table, measure
from checks.model import Delta, Shape

SHAPE = Shape(("key", "amount", "note", "version"), "key", "version", "amount")


def _delta(name: str, rows: list[tuple[int, int, int, int]]) -> Delta:
    frame = pd.DataFrame(rows, columns=list(SHAPE.names)).astype("int64")
    return Delta(name=name, number=int(name[5]), frame=frame)


BASE = _delta("delta0.csv", [(1, 100, 1, 1), (2, 200, 1, 2), (3, 300, NULL, 3)])


@pytest.mark.parametrize(
    ("rows", "new_keys", "updated_keys", "amount_added"),
    [
        ([(4, 50, 1, 4)], 1, 0, 50),  # a new key adds its whole amount
        ([(1, 150, 1, 4), (2, 260, 1, 5)], 0, 2, 110),  # updates add their growth
        ([(1, 150, 1, 4), (4, 50, 1, 6)], 1, 1, 100),
        ([(1, 999, 1, 0)], 0, 0, 0),  # an older version than the table's changes nothing
    ],
)
def test_an_update_is_measured_against_the_table(rows, new_keys: int, updated_keys: int, amount_added: int) -> None:
    _, table = measure(BASE, empty_table(), SHAPE)
    figures, _ = measure(_delta("delta1.csv", rows), table, SHAPE)
    assert (figures.base, figures.rows, figures.new_keys, figures.updated_keys, figures.amount_added) == (
        False, len(rows), new_keys, updated_keys, amount_added,
    )
    assert figures.amount_sum == sum(row[1] for row in rows)


def test_the_first_delta_is_the_base_and_counts_nulls() -> None:
    figures, table = measure(BASE, empty_table(), SHAPE)
    assert figures.base and figures.new_keys == 3 and figures.amount_added == 600
    assert (figures.version_min, figures.version_max) == (1, 3)
    assert figures.null_shares == {"key": 0.0, "amount": 0.0, "note": pytest.approx(1 / 3, abs=1e-6), "version": 0.0}
    assert sorted(table.index) == [1, 2, 3]


def test_the_table_given_is_not_modified() -> None:
    _, table = measure(BASE, empty_table(), SHAPE)
    before = table.copy()
    _, after = measure(_delta("delta1.csv", [(1, 150, 1, 4), (9, 1, 1, 5)]), table, SHAPE)
    pd.testing.assert_frame_equal(table, before)
    assert after.loc[1, "amount"] == 150 and len(after) == 4


def test_a_feed_without_an_amount_has_no_amount_figures() -> None:
    shape = Shape(("key", "note", "version"), "key", "version", None)
    frame = pd.DataFrame({"key": [1, 2], "note": [5, 6], "version": [1, 2]}, dtype="int64")
    figures, _ = measure(Delta("delta0.csv", 0, frame), empty_table(), shape)
    assert figures.amount_sum is None and figures.amount_added is None and figures.new_keys == 2
    assert np.isclose(sum(figures.null_shares.values()), 0.0)


# Amounts beyond float64's exact integers (2**53), their sums still within int64 like every total of the package.
_delta_rows = st.dictionaries(
    st.integers(1, 30), st.tuples(st.integers(0, 2**56), st.integers(0, 50)), min_size=1, max_size=20
)


@given(st.lists(_delta_rows, min_size=1, max_size=5))
def test_measure_agrees_with_a_naive_replay(feed: list[dict[int, tuple[int, int]]]) -> None:
    table, naive = empty_table(), {}
    for number, rows in enumerate(feed):
        delta = _delta(f"delta{number}.csv", [(key, amount, 0, version) for key, (amount, version) in rows.items()])
        figures, table = measure(delta, table, SHAPE)
        new = updated = added = 0
        for key, (amount, version) in rows.items():
            if key not in naive:
                new, added = new + 1, added + amount
            elif version > naive[key][1]:
                updated, added = updated + 1, added + amount - naive[key][0]
            else:
                continue
            naive[key] = (amount, version)
        assert (figures.new_keys, figures.updated_keys, figures.amount_added) == (new, updated, added)
    assert dict(zip(table.index, zip(table["amount"], table["version"]))) == naive
