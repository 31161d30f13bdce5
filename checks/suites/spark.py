"""The suites' evidence and figures for a table held as a Spark DataFrame: Spark SQL where the rows are.

What ``evidence.py`` computes in Polars for a pandas frame, computed in Spark SQL (``checks.engines.spark_suites``):
only the figures and the small evidence frame come to the driver, as the same pandas frame the Polars path makes,
and GX validates it with its pandas datasource in the helper process, as on every engine. Nothing here imports
pyspark at import time, nor great_expectations at all.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pandas as pd

from checks.encoding import Encoding
from checks.errors import SuiteError
from checks.suites.figures import FIRST_ROWS, MAP_KWARGS, Figures, fast_path_applies, first_line
from checks.suites.results import plain
from checks.suites.suite import (
    PARTIAL_UNEXPECTED,
    TableNames,
    check_name,
    refuse_unknown_columns,
    resolve,
    table_columns,
)


def is_spark_frame(frame: Any) -> bool:
    """Whether a table (or the feed's latest versions) is a Spark DataFrame; pyspark is never imported to tell."""
    spark_sql = sys.modules.get("pyspark.sql")
    return spark_sql is not None and isinstance(frame, spark_sql.DataFrame)


def pandas_latest(latest_batch: pd.Series | Any, names: TableNames) -> pd.Series:
    """The feed's latest versions as the pandas Series (index the key) a table held in pandas is joined with."""
    if not is_spark_frame(latest_batch):
        return latest_batch
    from checks.engines.spark_suites import latest_versions

    return latest_versions(latest_batch, key=names.key, version=names.version)


def spark_evidence(
    name: str,
    frame: Any,
    latest_batch: pd.Series | Any,
    expectations: list[dict],
    parameters: Mapping[str, Any],
    names: TableNames,
    encoding: Encoding,
) -> tuple[pd.DataFrame, Figures | None]:
    """``table_evidence`` for a Spark DataFrame: the evidence rows and the whole table's figures from Spark SQL.

    ``frame`` holds the table in computing form (``checks.encoding``; integer columns), in the order its rows are the
    table's: its figures are computed on its values as GX reads them (``spark_suites.computing_table``), a decimal's
    sum exact; a text column's sets and patterns tested once per text on the driver's dictionary. A table of a contract
    with floating columns (``spark_cells.reads``), or one whose figures the fast path cannot compute, is collected and
    takes the pandas path (GX then reads it whole).
    """
    from checks.engines import spark_suites as sql
    from checks.engines.spark_cells import reads
    from checks.engines.spark_deltas import POSITION, positioned
    from checks.suites.evidence import table_evidence, typed_evidence

    columns = table_columns(name, frame, names)
    refuse_unknown_columns(name, expectations, [*columns, names.latest])
    integers = all(_is_integer(frame.schema[column].dataType) for column in columns)
    with positioned(frame, columns) as table:
        if not (reads(encoding) and fast_path_applies(integers, expectations, encoding)):
            collected, latest = sql.collected(table), pandas_latest(latest_batch, names)
            return table_evidence(name, collected, latest, None, expectations, parameters, names, encoding)
        map_checks, sums = [], {}
        for expectation in expectations:
            check, kind = check_name(expectation), expectation["type"]
            kwargs = {key: resolve(value, parameters) for key, value in expectation.get("kwargs", {}).items()}
            if kind in MAP_KWARGS:
                map_checks.append(sql.MapCheck(check, kind, kwargs))
            elif kind == "expect_column_sum_to_be_between":
                sums[check] = kwargs["column"]
        decimals = sql.decimal_sums(table, encoding, sums.values())  # exact; GX would sum floats
        exact = {check: decimals[column] for check, column in sums.items() if column in decimals}
        # Joined once in stored form and cached: the figures read it in computing form, the evidence rows as stored.
        stored = sql.join_latest(table, latest_batch, key=names.key, version=names.version, latest=names.latest).cache()
        joined = sql.computing_table(stored, encoding)
        try:
            found = sql.figures(joined, map_checks, {check: column for check, column in sums.items() if check not in exact},
                                partial=PARTIAL_UNEXPECTED, encoding=encoding)
            if found.rows != found.positions:
                raise SuiteError(f"table {name!r}: the feed's latest versions name a {names.key} more than once")
            positions = set(range(min(FIRST_ROWS, found.rows)))
            counts = {}
            for map_check in map_checks:
                first = found.first_unexpected[map_check.check]
                positions.update(first)
                if map_check.kind == "expect_column_values_to_be_unique" and first:
                    positions.update(sql.first_repeats(joined, map_check.kwargs["column"], first))
                nulls_skipped = map_check.kind == "expect_column_values_to_not_be_null"
                counts[map_check.check] = (*found.counts[map_check.check], nulls_skipped)
            # The evidence rows in computing form with their latest versions, in one job, typed below as a whole table
            # would be: a column held as itself that misses a value (and the latest version, for a key the feed lacks)
            # as nullable Int64; any other holds ``NULL`` there.
            missing = frozenset(
                column for column in found.with_nulls
                if column == names.latest or (column in columns and encoding.held_as_itself(column))
            )
            evidence = sql.evidence(stored, positions, missing)
        except SuiteError:
            raise
        except Exception as error:  # noqa: BLE001 - Py4J wraps every JVM error, e.g. a bound of the wrong type
            raise SuiteError(f"table {name!r}: the suite's figures could not be computed: {first_line(error)}") from error
        finally:
            stored.unpersist()
    observed = {
        check_name(expectation): found.rows
        for expectation in expectations
        if expectation["type"] == "expect_table_row_count_to_equal"
    }
    observed |= {check: plain(value) for check, value in found.sums.items()} | exact
    return typed_evidence(evidence, names, encoding), Figures(rows=found.rows, counts=counts, observed=observed)


def _is_integer(data_type: Any) -> bool:
    from pyspark.sql.types import IntegralType

    return isinstance(data_type, IntegralType)
