"""The suites on Spark: the evidence and figures from Spark SQL, GX's Spark datasource, and Spark's type names.

GX validates the evidence as a Spark DataFrame (one whole-dataframe batch and one Checkpoint per table,
one run id); the suite's numpy type names are translated to Spark's for GX and back in its results.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd

from checks.engines.base import SparkDatasource
from checks.errors import SuiteError
from checks.suites.figures import FIRST_ROWS, MAP_KWARGS, Figures, fast_path_applies, first_line
from checks.suites.gx import DATASOURCE
from checks.suites.results import plain
from checks.suites.suite import (
    PARTIAL_UNEXPECTED,
    TableNames,
    check_name,
    prepare_table,
    refuse_unknown_columns,
    resolve,
    table_columns,
)


def spark_evidence(
    name: str,
    frame: pd.DataFrame,
    latest_batch: pd.Series,
    expectations: list[dict],
    parameters: Mapping[str, Any],
    names: TableNames,
) -> tuple[Any, Figures | None]:
    """``table_evidence`` on Spark: the evidence as a small Spark DataFrame, the figures from Spark SQL.

    Figures are None when the fast path does not apply: GX then gets the whole table as a Spark DataFrame.
    """
    from checks.engines import spark_suites as sql

    columns = table_columns(name, frame, names)
    refuse_unknown_columns(name, expectations, [*columns, names.latest])
    if not latest_batch.index.is_unique:
        return prepare_table(name, frame, latest_batch, names), None  # pandas refuses a user repeated in the feed's latest
    joined = sql.join_latest(sql.table_frame(frame, columns), latest_batch, key=names.key, latest=names.latest)
    if not fast_path_applies(frame, columns, expectations):
        return sql.whole(joined), None
    map_checks, sums = [], {}
    for expectation in expectations:
        check, kind = check_name(expectation), expectation["type"]
        kwargs = {key: resolve(value, parameters) for key, value in expectation.get("kwargs", {}).items()}
        if kind in MAP_KWARGS:
            map_checks.append(sql.MapCheck(check, kind, kwargs))
        elif kind == "expect_column_sum_to_be_between":
            sums[check] = kwargs["column"]
    joined = joined.cache()
    try:
        found = sql.figures(joined, map_checks, sums, partial=PARTIAL_UNEXPECTED)
        positions = set(range(min(FIRST_ROWS, found.rows)))
        counts = {}
        for map_check in map_checks:
            first = found.first_unexpected[map_check.check]
            positions.update(first)
            if map_check.kind == "expect_column_values_to_be_unique" and first:
                positions.update(sql.first_repeats(joined, map_check.kwargs["column"], first))
            nulls_skipped = map_check.kind == "expect_column_values_to_not_be_null"
            counts[map_check.check] = (*found.counts[map_check.check], nulls_skipped)
        evidence = sql.evidence(joined, positions)
    except Exception as error:  # noqa: BLE001 - Py4J wraps every JVM error, e.g. a bound of the wrong type
        raise SuiteError(f"table {name!r}: the suite's figures could not be computed: {first_line(error)}") from error
    finally:
        joined.unpersist()
    observed = {
        check_name(expectation): found.rows
        for expectation in expectations
        if expectation["type"] == "expect_table_row_count_to_equal"
    }
    observed |= {check: plain(value) for check, value in found.sums.items()}
    return evidence, Figures(rows=found.rows, counts=counts, observed=observed)


def build_spark_checkpoints(gx: Any, context: Any, suite: Any, frames: Mapping[str, Any], names: TableNames) -> list[tuple[Any, Any]]:
    """One Checkpoint per table on GX's Spark datasource, each with the Spark DataFrame it runs on.

    A Checkpoint passes the same batch parameters (here the dataframe) to every validation
    definition, so each table gets its own; they all run under one run id.
    """
    suite = context.suites.add(suite)
    datasource = context.data_sources.add_spark(DATASOURCE)
    runs = []
    for name, frame in frames.items():
        batch_definition = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(name=f"{suite.name}-{name}", validation_definitions=[definition], actions=[],
                          result_format=names.result_format)
        )
        runs.append((checkpoint, frame))
    return runs


@contextmanager
def few_spark_partitions(engine: SparkDatasource | None) -> Iterator[None]:
    """GX computes each metric as its own Spark job; on the small evidence frames one shuffle partition is fastest."""
    if engine is None:
        yield
        return
    conf = engine.session().conf
    before = conf.get("spark.sql.shuffle.partitions")
    conf.set("spark.sql.shuffle.partitions", "1")
    try:
        yield
    finally:
        conf.set("spark.sql.shuffle.partitions", before)


# GX on Spark compares a column's type with Spark's type names; the suite names numpy's. The suite is
# translated for GX, and its results and stored suite back, so that everything reads as on pandas.
_SPARK_TYPES = {
    "int64": "LongType", "int32": "IntegerType", "int16": "ShortType", "int8": "ByteType",
    "float64": "DoubleType", "float32": "FloatType", "bool": "BooleanType",
}
_DECLARED_TYPES = {spark: declared for declared, spark in _SPARK_TYPES.items()}
_OF_TYPE = "expect_column_values_to_be_of_type"


def spark_types(expectations: list[dict]) -> list[dict]:
    translated = []
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        if expectation["type"] == _OF_TYPE and kwargs.get("type_") in _SPARK_TYPES:
            expectation = {**expectation, "kwargs": {**kwargs, "type_": _SPARK_TYPES[kwargs["type_"]]}}
        translated.append(expectation)
    return translated


def declared_types(validation: Any) -> None:
    for result in validation.results:
        config = result.expectation_config
        if config.type != _OF_TYPE or config.kwargs.get("type_") not in _DECLARED_TYPES:
            continue
        config.kwargs["type_"] = _DECLARED_TYPES[config.kwargs["type_"]]
        observed = (result.result or {}).get("observed_value")
        if observed in _DECLARED_TYPES:
            result.result["observed_value"] = _DECLARED_TYPES[observed]


def declared_suite_types(suite: Any) -> None:
    """The stored suite (its Data Docs page) with the declared type names again."""
    for expectation in suite.expectations:
        if expectation.expectation_type == _OF_TYPE and expectation.type_ in _DECLARED_TYPES:
            expectation.type_ = _DECLARED_TYPES[expectation.type_]
    suite.save()
