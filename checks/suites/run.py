"""``run_suites``: every table through the contract's suite in one Checkpoint run, results completed, Data Docs built."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from checks.contract_suite import suite_path as contract_suite_path
from checks.encoding import Encoding, default_encoding
from checks.engines import get_engine
from checks.engines.base import Capability, Engine, supports
from checks.errors import SuiteError
from checks.suites.docs import KEEP_RUNS, RUN_NAME, build_site, name_data_asset, prune_runs
from checks.suites.evidence import latest_by_user, table_evidence
from checks.suites.figures import complete, decimal_sums, exact_sums, whole_number_bounds
from checks.suites.gx import DATASOURCE, build_checkpoint, build_suite, import_gx, open_context
from checks.suites.results import SuiteRun, table_result
from checks.suites.spark import (
    build_spark_checkpoints,
    declared_suite_types,
    declared_types,
    few_spark_partitions,
    spark_evidence,
    spark_types,
)
from checks.suites.suite import TableNames, expectations_to_run, load_suite_json, table_columns, typed_table


def run_suites(
    tables: Mapping[str, pd.DataFrame],
    *,
    latest_batch: pd.Series,
    finance_total: int | None,
    expected_users: int,
    gx_dir: Path = Path("gx"),
    build_docs: bool = True,
    suite_path: Path | None = None,
    keep_runs: int = KEEP_RUNS,
    engine: Engine | str | None = None,
    encoding: Encoding | None = None,
) -> SuiteRun:
    """Validate every table with the suite in one Checkpoint run; build self-contained Data Docs.

    ``latest_batch`` is each user's largest batch_id across the feed (index user_id); it is joined
    as the column ``feed_latest_batch_id`` for the batch-currency expectation. When
    ``finance_total`` is None the revenue-total expectation is skipped (and listed in ``skipped``).
    An ``engine`` (or its name) with ``Capability.GX_SPARK_DATASOURCE`` validates Spark DataFrames through
    GX's Spark datasource, the figures computed in Spark SQL; any other engine validates pandas frames. Same results and Data Docs either way.
    ``encoding`` is the run's (its contract names the suite, ``expectations/<table>.json``, and the columns;
    tables in computing form are validated as typed values). Raises SuiteError when the suite is incomplete or an
    expectation could not be evaluated.
    """
    if not tables:
        raise SuiteError("no tables to validate")
    encoding = encoding or default_encoding()
    names = TableNames.of(encoding.contract)
    engine = get_engine(engine) if isinstance(engine, str) else engine
    on_spark = engine is not None and supports(engine, Capability.GX_SPARK_DATASOURCE)
    declared = load_suite_json(suite_path or contract_suite_path(encoding.contract))
    parameters = {"expected_users": int(expected_users), "finance_total": finance_total}
    expectations, skipped = expectations_to_run(declared, parameters)
    for name, frame in tables.items():
        table_columns(name, frame, names)  # a wrong column set is bad input: refuse it before GX's import
    frames, figures = {}, {}
    by_user = None if on_spark else latest_by_user(latest_batch)
    gx = import_gx()
    gx_dir = Path(gx_dir).resolve()
    context = open_context(gx, gx_dir)
    # GX checks every expectation's kwargs first.
    suite = build_suite(gx, declared["name"], spark_types(expectations) if on_spark else expectations)
    for name, frame in tables.items():
        if on_spark:
            frames[name], figures[name] = spark_evidence(
                name, *typed_table(frame, latest_batch, encoding), expectations, parameters, names
            )
            if figures[name] is None:  # GX sums a decimal as floats
                figures[name] = exact_sums(len(frame), expectations, decimal_sums(frame, encoding))
        else:
            frames[name], figures[name] = table_evidence(
                name, frame, latest_batch, by_user, expectations, parameters, names, encoding
            )
    run_time = datetime.now(timezone.utc)
    if on_spark:
        runs = build_spark_checkpoints(gx, context, suite, frames, names)
    else:
        runs = [(build_checkpoint(gx, context, suite, frames, gx_dir / "uncommitted" / "tables", names), None)]
    prune_runs(gx_dir, declared["name"], keep_runs - 1)  # before GX builds the index from the store
    run_id = gx.core.run_identifier.RunIdentifier(run_name=RUN_NAME, run_time=run_time)
    run_results = {}
    try:
        with few_spark_partitions(engine if on_spark else None):
            for checkpoint, dataframe in runs:
                result = checkpoint.run(
                    batch_parameters=None if dataframe is None else {"dataframe": dataframe},
                    expectation_parameters={key: value for key, value in parameters.items() if value is not None},
                    run_id=run_id,
                )
                run_results.update(result.run_results)
    except Exception as error:  # GX raises many unrelated types; all mean the suite did not run
        raise SuiteError(f"the Great Expectations checkpoint failed: {error}") from error

    by_table = {}
    for identifier, validation in run_results.items():
        table = identifier.batch_identifier.removeprefix(f"{DATASOURCE}-")
        by_table[table] = table_result(table, validation, skipped)  # raises on exception_info first
        if on_spark:
            declared_types(validation)
        if figures[table] is not None:
            complete(validation, figures[table])
        whole_number_bounds(validation)
        name_data_asset(validation, f"{declared['name']}: {table}")
        context.validation_results_store.set(identifier, validation)  # the docs render the stored result
        by_table[table] = table_result(table, validation, skipped)
    results = tuple(by_table[name] for name in frames)

    docs_index, pages = None, {}
    if build_docs:
        if on_spark:
            declared_suite_types(suite)
        docs_index, pages = build_site(context, gx_dir, declared["name"], list(run_results), run_time, names)
    return SuiteRun(results=results, docs_index=docs_index, skipped=skipped, run_time=run_time.isoformat(), pages=pages)
