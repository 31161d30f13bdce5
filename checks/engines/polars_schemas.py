"""The Pandera schemas of a delta on Polars (``checks.schemas`` on Polars), built from the same rules (``checks.rules``).

Imported only for a failing file. The Polars fast path serves contracts of the first customer's form
(``checks.rules.first_customer_rules``): integer literals, bounds and a unique key are all it translates.
"""
from __future__ import annotations

import functools

import pandera.polars as pa  # PySpark's warning on this import is silenced by ``checks`` itself
import polars as pl

from checks.encoding import INTEGER_PATTERN, Encoding
from checks.rules import text_rules, value_rules

_BOUNDS = {"minimum": pa.Check.ge, "above": pa.Check.gt, "maximum": pa.Check.le, "below": pa.Check.lt}


@functools.lru_cache(maxsize=4)
def delta_schemas(encoding: Encoding) -> tuple[pa.DataFrameSchema, pa.DataFrameSchema]:
    """The text schema (every cell an integer literal) and the value schema (bounds, the unique key) on Polars."""
    names = encoding.contract.names
    if any(rule.kind != "literal" or rule.argument != INTEGER_PATTERN for rule in text_rules(encoding)):
        raise ValueError("the Polars schemas translate integer contracts only (checks.rules.first_customer_rules)")
    text = pa.DataFrameSchema({name: pa.Column(str, checks=[pa.Check.str_matches(INTEGER_PATTERN)]) for name in names})
    checks: dict[str, list[pa.Check]] = {name: [] for name in names}
    unique = set()
    for rule in value_rules(encoding):
        if rule.kind == "unique":
            unique.add(rule.column)
        else:
            checks[rule.column].append(_BOUNDS[rule.kind](rule.argument))
    # Cells that failed the text pass are null here.
    values = pa.DataFrameSchema(
        {name: pa.Column(pl.Int64, checks=checks[name], unique=name in unique, nullable=True) for name in names}
    )
    return text, values
