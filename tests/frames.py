"""Comparing frames across engines, where an engine may hold an int64 column as int32 (its lossless narrowing), or
text of a few repeated names (the deduplicated table's ``source_file``) as a categorical of that text."""
from __future__ import annotations

import numpy as np
import pandas as pd

from checks.engines._frames import NARROW_LIMIT


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, *, obj: str = "DataFrame", check_dtype: bool = True) -> None:
    """Equal frames, where a column may be int32 on one side and int64 on the other if its values fit the narrowing bound,
    or a categorical of text on one side and that text on the other."""
    pd.testing.assert_frame_equal(*_widened(actual, expected), obj=obj, check_dtype=check_dtype)


def _widened(first: pd.DataFrame, second: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    first, second = first.copy(), second.copy()
    for column in set(first.columns) & set(second.columns):
        kinds = {first[column].dtype, second[column].dtype}
        if kinds == {np.dtype(np.int32), np.dtype(np.int64)}:
            for frame in (first, second):
                values = frame[column]
                assert values.empty or (-NARROW_LIMIT <= values.min() and values.max() < NARROW_LIMIT), column
                frame[column] = values.astype(np.int64)
        categorical = [frame for frame in (first, second) if isinstance(frame[column].dtype, pd.CategoricalDtype)]
        if len(categorical) == 1:
            text = second if categorical[0] is first else first
            categorical[0][column] = categorical[0][column].astype(text[column].dtype)
    return first, second
