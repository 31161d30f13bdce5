"""Comparing frames across engines, where an engine may hold an int64 column as int32 (its lossless narrowing)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from checks.engines._frames import NARROW_LIMIT


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, *, obj: str = "DataFrame") -> None:
    """Equal frames, where a column may be int32 on one side and int64 on the other if its values fit the narrowing bound."""
    pd.testing.assert_frame_equal(*_widened(actual, expected), obj=obj)


def _widened(first: pd.DataFrame, second: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    first, second = first.copy(), second.copy()
    for column in set(first.columns) & set(second.columns):
        kinds = {first[column].dtype, second[column].dtype}
        if kinds == {np.dtype(np.int32), np.dtype(np.int64)}:
            for frame in (first, second):
                values = frame[column]
                assert values.empty or (-NARROW_LIMIT <= values.min() and values.max() < NARROW_LIMIT), column
                frame[column] = values.astype(np.int64)
    return first, second
