"""The Pandera schemas of a delta on pandas, built from the contract's rules (``checks.rules``): its text, then its values.

Apart from ``checks.validate`` so that Pandera is imported only when a delta is validated on
pandas: the fast engines ask one aggregate query first and need Pandera only for a failing file.
"""
from __future__ import annotations

import functools
from typing import Any

import pandas as pd
import pandera.pandas as pa  # PySpark's warning on this import is silenced by ``checks`` itself

from checks.rules import NOT_EMPTY, TextRule, ValueRule, text_rules, value_rules
from checks.encoding import Encoding


def delta_schemas(encoding: Encoding) -> tuple[pa.DataFrameSchema, pa.DataFrameSchema]:
    """The text schema (every cell as written) and the value schema (cells parsed, nullable) of the contract's deltas."""
    return _schemas(encoding)


@functools.lru_cache(maxsize=16)
def _schemas(encoding: Encoding) -> tuple[pa.DataFrameSchema, pa.DataFrameSchema]:
    names = encoding.contract.names
    by_column: dict[str, list[pa.Check]] = {name: [] for name in names}
    for rule in text_rules(encoding):
        by_column[rule.column].append(_text_check(rule, encoding))
    text = pa.DataFrameSchema(
        {name: pa.Column(str, checks=checks) for name, checks in by_column.items()},
        checks=[pa.Check(lambda frame: len(frame) > 0, name=NOT_EMPTY)],
        strict=True,
        ordered=True,
    )
    value_checks: dict[str, list[pa.Check]] = {name: [] for name in names}
    unique = set()
    for rule in value_rules(encoding):
        if rule.kind == "unique":
            unique.add(rule.column)
        else:
            value_checks[rule.column].append(_value_check(rule))
    values = pa.DataFrameSchema(
        {
            # Nullable only because cells that failed the text pass are blanked, not dropped.
            name: pa.Column(_value_dtype(encoding, name), checks=checks, unique=name in unique, nullable=True)
            for name, checks in value_checks.items()
        },
        strict=True,
        ordered=True,
    )
    return text, values


def _value_dtype(encoding: Encoding, name: str) -> Any:
    return pd.Float64Dtype() if encoding.codecs[name].dtype == "float64" else pd.Int64Dtype()


def _text_check(rule: TextRule, encoding: Encoding) -> pa.Check:
    """A vectorised check on a column's text; empty cells are left to ``literal``/``required`` (and pass the others)."""
    kind, argument = rule.kind, rule.argument
    if kind == "literal":
        codec = encoding.codecs[rule.column]
        if codec.column.logical_type == "integer":
            def check(text: pd.Series) -> pd.Series:
                return pd.Series(codec.parse(text)[1], index=text.index)
        else:  # an empty cell is the required check's to report, not this one's
            def check(text: pd.Series) -> pd.Series:
                return pd.Series(codec.parse(text)[1], index=text.index) | text.eq("")
    elif kind in ("required", "null_values"):
        def check(text: pd.Series) -> pd.Series:
            return text.ne("")
    elif kind == "missing_values":
        def check(text: pd.Series) -> pd.Series:
            return ~text.isin(argument)
    elif kind == "pattern":
        def check(text: pd.Series) -> pd.Series:
            return text.eq("") | text.str.contains(argument, regex=True)
    elif kind == "min_length":
        def check(text: pd.Series) -> pd.Series:
            return text.eq("") | text.str.len().ge(argument)
    elif kind == "max_length":
        def check(text: pd.Series) -> pd.Series:
            return text.str.len().le(argument)
    else:  # valid_values
        def check(text: pd.Series) -> pd.Series:
            return text.eq("") | text.isin(argument)
    return pa.Check(check, name=rule.check)


def _value_check(rule: ValueRule) -> pa.Check:
    if rule.kind == "minimum":
        return pa.Check(lambda values: values >= rule.argument, name=rule.check)
    if rule.kind == "above":
        return pa.Check(lambda values: values > rule.argument, name=rule.check)
    if rule.kind == "maximum":
        return pa.Check(lambda values: values <= rule.argument, name=rule.check)
    if rule.kind == "below":
        return pa.Check(lambda values: values < rule.argument, name=rule.check)
    return pa.Check(lambda values: values.isin(rule.argument), name=rule.check)
