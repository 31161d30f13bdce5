"""checks.ids: whether integer ids are all distinct, by flags where dense and by a sort where sparse."""
from __future__ import annotations

import numpy as np
import pytest

from checks.ids import all_distinct, consecutive


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
