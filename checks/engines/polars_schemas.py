"""The Pandera schemas of a delta on Polars (``checks.schemas`` on Polars); imported only for a failing file."""
from __future__ import annotations

import pandera.polars as pa  # PySpark's warning on this import is silenced by ``checks`` itself
import polars as pl

from checks.rules import INTEGER_PATTERN


class DeltaTextModel(pa.DataFrameModel):
    """A delta's cells as text: every one an integer literal (``checks.schemas.DeltaTextModel`` on Polars)."""

    user_id: str = pa.Field(str_matches=INTEGER_PATTERN)
    total_spend: str = pa.Field(str_matches=INTEGER_PATTERN)
    count_saved_items: str = pa.Field(str_matches=INTEGER_PATTERN)
    loyalty_credits: str = pa.Field(str_matches=INTEGER_PATTERN)
    batch_id: str = pa.Field(str_matches=INTEGER_PATTERN)


class DeltaModel(pa.DataFrameModel):
    """A delta's values (``checks.schemas.DeltaModel`` on Polars); cells that failed the text pass are null."""

    user_id: pl.Int64 = pa.Field(gt=0, unique=True, nullable=True)
    total_spend: pl.Int64 = pa.Field(ge=0, nullable=True)
    count_saved_items: pl.Int64 = pa.Field(ge=0, nullable=True)
    loyalty_credits: pl.Int64 = pa.Field(ge=0, nullable=True)
    batch_id: pl.Int64 = pa.Field(ge=0, nullable=True)
