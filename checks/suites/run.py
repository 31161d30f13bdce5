"""``run_suites``: every table through the contract's suite in one Checkpoint run, results completed, Data Docs built."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from checks.contract_suite import suite_path as contract_suite_path
from checks.encoding import Encoding, default_encoding
from checks.errors import SuiteError
from checks.suites.docs import KEEP_RUNS, RUN_NAME, build_site, name_data_asset, prune_runs
from checks.suites.evidence import latest_by_user, table_evidence
from checks.suites.figures import Figures, complete, whole_number_bounds
from checks.suites.gx import DATASOURCE, build_checkpoint, build_suite, import_gx, open_context
from checks.suites.results import SuiteRun, table_result
from checks.suites.spark import is_spark_frame, pandas_latest, spark_evidence
from checks.suites.suite import TableNames, expectations_to_run, load_suite_json, table_columns


@dataclass(frozen=True)
class Evidence:
    """What GX validates for a run, computed from the tables: small frames (the tables whole only where the fast
    path did not apply) and the figures to complete the results with. Picklable, for a helper process."""

    suite_name: str
    expectations: list[dict]
    skipped: tuple[str, ...]
    parameters: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    figures: dict[str, Figures | None]
    names: TableNames
    gx_dir: Path
    build_docs: bool
    keep_runs: int


def run_suites(
    tables: Mapping[str, pd.DataFrame | Any],
    *,
    latest_batch: pd.Series | Any,
    finance_total: int | None,
    expected_users: int,
    gx_dir: Path = Path("gx"),
    build_docs: bool = True,
    suite_path: Path | None = None,
    keep_runs: int = KEEP_RUNS,
    encoding: Encoding | None = None,
) -> SuiteRun:
    """Validate every table with the suite in one Checkpoint run; build self-contained Data Docs.

    ``latest_batch`` is each user's largest batch_id across the feed (index user_id); it is joined
    as the column ``feed_latest_batch_id`` for the batch-currency expectation. When
    ``finance_total`` is None the revenue-total expectation is skipped (and listed in ``skipped``).
    A table, and ``latest_batch``, may be a pandas frame or a Spark DataFrame (``gather_evidence``); GX
    validates the evidence (``validate_evidence``, which a runner may hand to another process).
    ``encoding`` is the run's (its contract names the suite, ``expectations/<table>.json``, and the columns;
    tables in computing form are validated as typed values). Raises SuiteError when the suite is incomplete or an
    expectation could not be evaluated.
    """
    return validate_evidence(gather_evidence(
        tables, latest_batch=latest_batch, finance_total=finance_total, expected_users=expected_users, gx_dir=gx_dir,
        build_docs=build_docs, suite_path=suite_path, keep_runs=keep_runs, encoding=encoding,
    ))


def gather_evidence(
    tables: Mapping[str, pd.DataFrame | Any],
    *,
    latest_batch: pd.Series | Any,
    finance_total: int | None,
    expected_users: int,
    gx_dir: Path = Path("gx"),
    build_docs: bool = True,
    suite_path: Path | None = None,
    keep_runs: int = KEEP_RUNS,
    encoding: Encoding | None = None,
    suite_check: Callable[[str, list[dict]], None] | None = None,
) -> Evidence:
    """Each table's evidence frame and figures (computed here, no GX), for ``validate_evidence``: a pandas frame's in
    Polars, a Spark DataFrame's in Spark SQL (only the figures and the evidence rows come to this process). The
    feed's ``latest_batch`` is a pandas Series (index the key) or a Spark DataFrame with the key and version columns.

    When the figures cannot be computed, ``suite_check`` (default ``check_suite``; a runner may ask its helper
    process) is asked first, so that GX's own word on an invalid expectation is the error.
    """
    encoding, names, declared, parameters, expectations, skipped = _declared(tables, finance_total, expected_users, suite_path, encoding)
    in_pandas = [name for name, frame in tables.items() if not is_spark_frame(frame)]
    latest_in_pandas = pandas_latest(latest_batch, names) if in_pandas else None
    by_user = latest_by_user(latest_in_pandas) if in_pandas else None
    frames, figures = {}, {}
    try:
        for name, frame in tables.items():
            if name in in_pandas:
                frames[name], figures[name] = table_evidence(
                    name, frame, latest_in_pandas, by_user, expectations, parameters, names, encoding
                )
            else:
                frames[name], figures[name] = spark_evidence(
                    name, frame, latest_batch, expectations, parameters, names, encoding
                )
    except SuiteError:
        (suite_check or check_suite)(declared["name"], expectations)
        raise
    return Evidence(
        suite_name=declared["name"], expectations=expectations, skipped=skipped, parameters=parameters, frames=frames,
        figures=figures, names=names, gx_dir=Path(gx_dir).resolve(), build_docs=build_docs, keep_runs=keep_runs,
    )


def check_suite(name: str, expectations: list[dict]) -> None:
    """SuiteError when GX refuses an expectation's kwargs."""
    build_suite(import_gx(), name, expectations)


def validate_evidence(evidence: Evidence) -> SuiteRun:
    """GX's Checkpoint over the evidence frames, the results completed with the figures, and the Data Docs."""
    gx = import_gx()
    context = open_context(gx, evidence.gx_dir)
    # GX checks every expectation's kwargs first.
    suite = build_suite(gx, evidence.suite_name, evidence.expectations)
    checkpoint = build_checkpoint(gx, context, suite, evidence.frames, evidence.gx_dir / "uncommitted" / "tables", evidence.names)
    return _validate(gx, context, checkpoint, evidence)


def _declared(
    tables: Mapping[str, pd.DataFrame | Any], finance_total: int | None, expected_users: int, suite_path: Path | None,
    encoding: Encoding | None,
) -> tuple[Encoding, TableNames, dict, dict[str, Any], list[dict], tuple[str, ...]]:
    """The run's encoding, names, declared suite, parameters, the expectations to run and those skipped."""
    if not tables:
        raise SuiteError("no tables to validate")
    encoding = encoding or default_encoding()
    names = TableNames.of(encoding.contract)
    declared = load_suite_json(suite_path or contract_suite_path(encoding.contract))
    parameters = {"expected_users": int(expected_users), "finance_total": finance_total}
    expectations, skipped = expectations_to_run(declared, parameters)
    for name, frame in tables.items():
        table_columns(name, frame, names)  # a wrong column set is bad input: refuse it before GX's import
    return encoding, names, declared, parameters, expectations, skipped


def _validate(gx: Any, context: Any, checkpoint: Any, evidence: Evidence) -> SuiteRun:
    """Run the Checkpoint, complete and store each result, and build the Data Docs."""
    names, skipped, figures = evidence.names, evidence.skipped, evidence.figures
    run_time = datetime.now(timezone.utc)
    prune_runs(evidence.gx_dir, evidence.suite_name, evidence.keep_runs - 1)  # before GX builds the index from the store
    run_id = gx.core.run_identifier.RunIdentifier(run_name=RUN_NAME, run_time=run_time)
    try:
        run_results = checkpoint.run(
            expectation_parameters={key: value for key, value in evidence.parameters.items() if value is not None},
            run_id=run_id,
        ).run_results
    except Exception as error:  # GX raises many unrelated types; all mean the suite did not run
        raise SuiteError(f"the Great Expectations checkpoint failed: {error}") from error

    by_table = {}
    for identifier, validation in run_results.items():
        table = identifier.batch_identifier.removeprefix(f"{DATASOURCE}-")
        by_table[table] = table_result(table, validation, skipped)  # raises on exception_info first
        if figures[table] is not None:
            complete(validation, figures[table])
        whole_number_bounds(validation)
        name_data_asset(validation, f"{evidence.suite_name}: {table}")
        context.validation_results_store.set(identifier, validation)  # the docs render the stored result
        by_table[table] = table_result(table, validation, skipped)
    results = tuple(by_table[name] for name in evidence.frames)

    docs_index, pages = None, {}
    if evidence.build_docs:
        docs_index, pages = build_site(context, evidence.gx_dir, evidence.suite_name, list(run_results), run_time, names)
    return SuiteRun(results=results, docs_index=docs_index, skipped=skipped, run_time=run_time.isoformat(), pages=pages)
