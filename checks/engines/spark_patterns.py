"""A regular expression tested in Spark as the pandas path tests it: Python's ``re`` in the executors.

Spark's own ``rlike`` is Java's dialect, which reads a few constructs otherwise (``\\d`` over other scripts' digits,
possessive quantifiers, ``\\Z``); the text rules and the suites' patterns must answer as pandas' ``str.contains`` does.
"""
from __future__ import annotations

from typing import Any

import pandas as pd  # a pandas UDF's type hints are read from this module's names


def contains(pattern: str) -> Any:
    """A Spark column function: whether a text holds a match of ``pattern`` as pandas' ``str.contains`` says of the
    pandas path's text (``dtype=str``); a null passes."""
    from pyspark.sql import functions as F

    @F.pandas_udf("boolean")
    def holds_a_match(texts: pd.Series) -> pd.Series:
        missing = texts.isna().to_numpy()
        return pd.Series(missing | texts.astype("str").str.contains(pattern, regex=True).to_numpy(dtype=bool, na_value=False))

    return holds_a_match
