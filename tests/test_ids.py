"""checks.ids: whether integer ids are all distinct (flags where dense, a sort where sparse), count up by one, or are
dense enough for a table indexed by id."""
from __future__ import annotations

import numpy as np
import pytest

from checks.ids import all_distinct, consecutive, dense


@pytest.mark.parametrize("spread", [1, 3, 1_000])  # dense ids (flags) and sparse ones (the sort)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_distinct_ids_and_one_repeat_are_told_apart(spread: int, dtype: type) -> None:
    ids = (np.random.default_rng(5).permutation(10_000) * spread).astype(dtype)
    assert all_distinct(ids, int(ids.max()))
    ids[7_777] = ids[13]
    assert not all_distinct(ids, int(ids.max()))


def test_fewer_than_two_ids_are_distinct() -> None:
    assert all_distinct(np.array([], dtype=np.int64), 0)
    assert all_distinct(np.array([42]), 42)


def test_a_repeat_of_the_largest_and_of_zero_counts() -> None:
    assert not all_distinct(np.array([0, 5, 0]), 5)
    assert not all_distinct(np.array([5, 1, 5]), 5)
    assert all_distinct(np.array([0, 5, 1]), 5)


@pytest.mark.parametrize(("values", "expected"), [
    ([3, 4, 5, 6], True),
    ([-2, -1, 0], True),
    ([7], True),
    ([], False),
    ([3, 5, 4, 6], False),  # the right span, out of order
    ([3, 3, 5, 6], False),  # the right span, a repeat
    ([3, 4, 6], False),
])
def test_consecutive_values_count_up_by_one(values: list[int], expected: bool) -> None:
    assert consecutive(np.array(values, dtype=np.int64)) is expected


@pytest.mark.parametrize(("largest", "count", "expected"), [
    (7, 4, True),  # 8 slots for 4 ids: two each
    (8, 4, False),  # 9 slots: one too many
    (1_000, 0, False),  # no ids: a table of one slot at most
    (0, 0, True),
])
def test_a_table_by_id_is_dense_up_to_its_slots_per_id(largest: int, count: int, expected: bool) -> None:
    assert dense(largest, count, slots_per_id=2) is expected


def test_slack_lets_a_few_ids_have_a_table_of_a_fixed_size() -> None:
    assert not dense(1_023, 1, slots_per_id=2)
    assert dense(1_023, 1, slots_per_id=2, slack=1_024)
