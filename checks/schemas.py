"""The Pandera schemas of a delta on pandas: its text, then its values (``checks.validate`` runs them).

Apart from ``checks.validate`` so that Pandera is imported only when a delta is validated on
pandas: the fast engines ask one aggregate query first and need Pandera only for a failing file.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa  # PySpark's warning on this import is silenced by ``checks`` itself
from pandera.typing import Series

from checks.rules import INTEGER_PATTERN, NOT_EMPTY


class DeltaTextModel(pa.DataFrameModel):
    """A delta as read from disk: exactly the five columns, every cell an integer literal."""

    user_id: Series[str] = pa.Field(str_matches=INTEGER_PATTERN)
    total_spend: Series[str] = pa.Field(str_matches=INTEGER_PATTERN)
    count_saved_items: Series[str] = pa.Field(str_matches=INTEGER_PATTERN)
    loyalty_credits: Series[str] = pa.Field(str_matches=INTEGER_PATTERN)
    batch_id: Series[str] = pa.Field(str_matches=INTEGER_PATTERN)

    class Config:
        strict = True
        ordered = True

    @pa.dataframe_check(name=NOT_EMPTY)
    def _not_empty(cls, frame: pd.DataFrame) -> bool:
        return len(frame) > 0


class DeltaModel(pa.DataFrameModel):
    """A delta's values. Nullable only because cells that failed the text pass are blanked, not dropped."""

    user_id: Series[pd.Int64Dtype] = pa.Field(gt=0, unique=True, nullable=True)
    total_spend: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    count_saved_items: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    loyalty_credits: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    batch_id: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)

    class Config:
        strict = True
        ordered = True


TEXT_SCHEMA = DeltaTextModel.to_schema()
VALUE_SCHEMA = DeltaModel.to_schema()
