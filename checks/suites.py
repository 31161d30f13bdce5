"""Great Expectations: the user-summary suite run through one Checkpoint over every table, and its Data Docs.

The only module that imports great_expectations (lazily, inside functions). The suite is read from
``expectations/user_summary.json``; the GX project is ``gx/`` (stores and Data Docs under
``gx/uncommitted/``). Each table is validated as its own validation definition, named for the table,
in one Checkpoint run. Traps of GX 1.x guarded here: case-insensitive column matching, expectations
silently dropped when a suite loads, expectations that report an exception instead of a result,
expectations that do not run on pandas, sums and counts Data Docs would print rounded (≈2.014667295e+10),
and GX's own progress bars and usage statistics.

At scale GX never sees a full table: the suite's figures (row count, sum, each expectation's
unexpected and missing counts) are computed once per table in Polars, GX validates a small
evidence frame (the first rows plus the first unexpected rows of every expectation, in table
order), and its results are completed with the full table's figures before they are stored and
rendered, so the validation results and Data Docs read as for the whole table. An expectation the
fast path cannot compute sends that table through GX whole. Each row's latest batch in the feed is
looked up by user_id in the deduplicated table's own batch_ids (no join, no copy). A column an
engine narrowed to int32 (every value fits) is int64 in what GX sees and summed in int64, so results
and Data Docs are those of the file's int64 columns.

On an engine with GX's Spark datasource (Spark) the same happens on Spark: the figures come from Spark SQL
(``checks.engines.spark_suites``), GX validates the evidence as a Spark DataFrame through its Spark
datasource (one whole-dataframe batch and one Checkpoint per table, one run id), and the suite's
numpy type names are translated to Spark's for GX and back in its results.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks.engines import get_engine
from checks.engines.base import Capability, Engine, SparkDatasource, supports
from checks.errors import BadInputError, SuiteError
from checks.contract import Contract
from checks.contract_suite import latest_column, suite_path as contract_suite_path
from checks.encoding import NULL, Encoding, default_encoding
from checks.feed import column_differences

DEFAULT_GX_CONFIG = Path(__file__).resolve().parent.parent / "gx" / "great_expectations.yml"
LINEAGE_COLUMNS = ("source_file", "source_row")
RUN_NAME = "checks"
KEEP_RUNS = 20
DOCS_INDEX = Path("uncommitted") / "data_docs" / "local_site" / "index.html"

# Suite parameter -> the expectation ("check" in its meta) skipped when the parameter is not given.
_OPTIONAL_PARAMETERS = {"finance_total": "revenue_total"}
# Expectations that GX accepts but cannot run on pandas: they report failure without raising.
_NOT_ON_PANDAS = frozenset({"unexpected_rows_expectation"})
_PARTIAL_UNEXPECTED = 20
_DATASOURCE = "tables"
_SITE = "local_site"


@dataclass(frozen=True)
class _Names:
    """The names a run's tables are validated by, from the feed's contract."""

    columns: tuple[str, ...]  # the contract's, in its order
    key: str
    latest: str  # the helper column: each key's largest version across the feed
    key_word: str  # what people call a key ("user")

    @classmethod
    def of(cls, contract: Contract) -> _Names:
        return cls(contract.names, contract.key.name, latest_column(contract), contract.key.business_name or contract.key.name)

    @property
    def latest_statement(self) -> str:
        """How Data Docs state the batch-currency expectation, without the helper column it compares with."""
        return f"must be each {self.key_word}'s latest in the feed"

    @property
    def result_format(self) -> dict[str, Any]:
        return {"result_format": "SUMMARY", "unexpected_index_column_names": [self.key], "partial_unexpected_count": _PARTIAL_UNEXPECTED}


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result on one table; ``check`` is the suite's short name for it."""

    expectation: str
    column: str | None
    success: bool
    observed: Any
    expected: Any
    unexpected_examples: tuple = ()
    check: str = ""
    unexpected_count: int | None = None
    rows: int | None = None  # rows the expectation looked at (map expectations)


@dataclass(frozen=True)
class TableResult:
    """The suite's result on one table (one validation result in GX, named for the table)."""

    table: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    skipped: tuple[str, ...] = ()

    def failed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.success)


@dataclass(frozen=True)
class SuiteRun:
    """Every table's result from one Checkpoint run, and the Data Docs index (None when not built)."""

    results: tuple[TableResult, ...]
    docs_index: Path | None
    skipped: tuple[str, ...] = field(default=())
    run_time: str = ""
    # Each table's validation page in the Data Docs site (empty when the docs were not built).
    pages: Mapping[str, Path] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "run_time": self.run_time,
            "docs_index": str(self.docs_index) if self.docs_index is not None else None,
            "skipped": list(self.skipped),
            "tables": [
                {
                    "table": result.table,
                    "success": result.success,
                    "skipped": list(result.skipped),
                    "outcomes": [
                        {
                            "check": outcome.check,
                            "expectation": outcome.expectation,
                            "column": outcome.column,
                            "success": outcome.success,
                            "observed": outcome.observed,
                            "expected": outcome.expected,
                            "unexpected_count": outcome.unexpected_count,
                            "unexpected_examples": list(outcome.unexpected_examples),
                        }
                        for outcome in result.outcomes
                    ],
                }
                for result in self.results
            ],
        }


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
    names = _Names.of(encoding.contract)
    decimal_sums: dict[str, dict[str, Decimal]] = {}
    if not encoding.plain:  # GX sees values as the files wrote them: datetimes, text, decimals (as floats, see below)
        # GX takes 26 ms a row over an exact decimal column (10,000 rows: 262 s): it gets floats, and a decimal
        # column's sum is taken here, exactly, from the computing form.
        decimal_sums = {name: _decimal_sums(frame, encoding) for name, frame in tables.items()}
        tables = {name: encoding.typed(frame, exact_decimals=False) for name, frame in tables.items()}
        version = encoding.contract.shape.version
        latest_batch = pd.Series(encoding.typed_column(version, latest_batch.to_numpy()),
                                 index=encoding.typed_column(names.key, latest_batch.index.to_numpy()))
    engine = get_engine(engine) if isinstance(engine, str) else engine
    on_spark = engine is not None and supports(engine, Capability.GX_SPARK_DATASOURCE)
    declared = load_suite_json(suite_path or contract_suite_path(encoding.contract))
    parameters = {"expected_users": int(expected_users), "finance_total": finance_total}
    expectations, skipped = _expectations_to_run(declared, parameters)
    for name, frame in tables.items():
        _table_columns(name, frame, names)  # a wrong column set is bad input: refuse it before GX's import
    frames, figures = {}, {}
    by_user = None if on_spark else _latest_by_user(latest_batch)
    gx = _import_gx()
    gx_dir = Path(gx_dir).resolve()
    context = _open_context(gx, gx_dir)
    # GX checks every expectation's kwargs first.
    suite = _build_suite(gx, declared["name"], _spark_types(expectations) if on_spark else expectations)
    evidence = _spark_evidence if on_spark else _evidence
    for name, frame in tables.items():
        frames[name], figures[name] = evidence(name, frame, latest_batch, by_user, expectations, parameters, names)
        if figures[name] is None and decimal_sums.get(name):
            figures[name] = _exact_sums(len(frame), expectations, decimal_sums[name])
    run_time = datetime.now(timezone.utc)
    if on_spark:
        runs = _build_spark_checkpoints(gx, context, suite, frames, names)
    else:
        runs = [(_build_checkpoint(gx, context, suite, frames, gx_dir / "uncommitted" / "tables", names), None)]
    _prune_runs(gx_dir, declared["name"], keep_runs - 1)  # before GX builds the index from the store
    run_id = gx.core.run_identifier.RunIdentifier(run_name=RUN_NAME, run_time=run_time)
    run_results = {}
    try:
        with _few_spark_partitions(engine if on_spark else None):
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
        table = identifier.batch_identifier.removeprefix(f"{_DATASOURCE}-")
        by_table[table] = _table_result(table, validation, skipped)  # raises on exception_info first
        if on_spark:
            _declared_types(validation)
        if figures[table] is not None:
            _complete(validation, figures[table])
        _whole_number_bounds(validation)
        _name_data_asset(validation, f"{declared['name']}: {table}")
        context.validation_results_store.set(identifier, validation)  # the docs render the stored result
        by_table[table] = _table_result(table, validation, skipped)
    results = tuple(by_table[name] for name in frames)

    docs_index, pages = None, {}
    if build_docs:
        if on_spark:
            _declared_suite_types(suite)
        docs_index, pages = _build_docs(gx, context, gx_dir, declared["name"], list(run_results), run_time, names)
    return SuiteRun(results=results, docs_index=docs_index, skipped=skipped, run_time=run_time.isoformat(), pages=pages)


def _name_data_asset(validation: Any, name: str) -> None:
    """Data Docs read the asset's name from the batch spec, where GX 1.x's file assets leave it out ("Data asset: None"):
    name it for the feed's table and the table validated ("user_summary: platform")."""
    spec = validation.meta.get("batch_spec")
    if isinstance(spec, dict):
        spec["data_asset_name"] = name
    else:
        validation.meta["batch_spec"] = {"data_asset_name": name}


def load_suite_json(path: Path) -> dict:
    """The suite as declared in version control: a name and a list of expectations, each with a check name."""
    path = Path(path)
    try:
        declared = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SuiteError("expectation suite file not found", file=path) from error
    except (OSError, json.JSONDecodeError) as error:
        raise SuiteError(f"cannot read the expectation suite: {error}", file=path) from error
    if not isinstance(declared, dict) or not isinstance(declared.get("expectations"), list) or not declared.get("name"):
        raise SuiteError("expectation suite must be an object with a name and a list of expectations", file=path)
    for number, expectation in enumerate(declared["expectations"], start=1):
        if not isinstance(expectation, dict) or not expectation.get("type"):
            raise SuiteError(f"expectation {number} has no type", file=path)
        if expectation["type"] in _NOT_ON_PANDAS:
            raise SuiteError(
                f"expectation {number} ({expectation['type']}) does not run on pandas in GX 1.x; "
                "it would report failure without checking anything",
                file=path,
            )
    return declared


def prepare_table(name: str, frame: pd.DataFrame, latest_batch: pd.Series, names: _Names | None = None) -> pd.DataFrame:
    """The frame GX validates: the contract's columns as given, plus each key's latest version in the feed.

    GX resolves column names case-insensitively, so an ``Amount`` column would silently pass
    for ``amount``; any column set other than exactly the contract's (lineage columns aside) is
    refused here. Column order is left to the suite's ordered-list expectation.
    """
    names = names or _Names.of(default_encoding().contract)
    columns = _table_columns(name, frame, names)
    latest = frame[names.key].map(latest_batch)
    latest = latest.astype("Int64") if pd.api.types.is_integer_dtype(latest_batch.dtype) else latest
    table = _declared_types_of(frame.loc[:, columns])
    return table.assign(**{names.latest: latest.to_numpy()}).reset_index(drop=True)


def _declared_types_of(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with int32 columns as int64: an engine holds an int64 column as int32 when every value fits
    (losslessly), and GX must see, and report, the type the file had."""
    narrowed = [column for column in frame.columns if frame[column].dtype == np.int32]
    return frame.astype(dict.fromkeys(narrowed, "int64")) if narrowed else frame


def _table_columns(name: str, frame: pd.DataFrame, names: _Names) -> list:
    """The table's columns without lineage; BadInputError unless they are exactly the contract's (any order)."""
    columns = [column for column in frame.columns if column not in LINEAGE_COLUMNS]
    parts = column_differences([str(column) for column in columns], names.columns)
    if parts:
        unexpected = [column for column in columns if column not in names.columns]
        casefolded = {column.casefold() for column in names.columns}
        if any(str(column).casefold() in casefolded for column in unexpected):
            parts.append("column names are case-sensitive (GX would match them case-insensitively)")
        raise BadInputError(f"table {name!r}: " + "; ".join(parts))
    return columns


def _expectations_to_run(declared: dict, parameters: Mapping[str, Any]) -> tuple[list[dict], tuple[str, ...]]:
    skip = {check for parameter, check in _OPTIONAL_PARAMETERS.items() if parameters.get(parameter) is None}
    expectations = [
        expectation for expectation in declared["expectations"] if _check_name(expectation) not in skip
    ]
    return expectations, tuple(sorted(skip))


def _check_name(expectation: Mapping[str, Any]) -> str:
    meta = expectation.get("meta") or {}
    return str(meta.get("check") or expectation.get("type"))


# Expectation types whose full-table figures the fast path computes, with the kwargs it understands.
# Map expectations get counts; aggregates an observed value; "as is" ones read only the columns and
# dtypes, which the evidence frame shares with the table.
_RANGE_KWARGS = frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"})
_PAIR_KWARGS = frozenset({"column_A", "column_B", "ignore_row_if", "mostly"})
_MAP_KWARGS = {
    "expect_column_values_to_not_be_null": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_unique": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_between": _RANGE_KWARGS | {"mostly"},
    "expect_column_pair_values_to_be_equal": _PAIR_KWARGS,
    "expect_batch_id_to_be_latest_in_feed": _PAIR_KWARGS,
}
_AGGREGATE_KWARGS = {
    "expect_table_row_count_to_equal": frozenset({"value"}),
    "expect_column_sum_to_be_between": _RANGE_KWARGS,
}
_AS_IS_KWARGS = {
    "expect_table_columns_to_match_ordered_list": frozenset({"column_list"}),
    "expect_column_values_to_be_of_type": frozenset({"column", "type_"}),
}
_FIRST_ROWS = 20  # always in the evidence, so that no expectation sees an empty table
_PARTIAL = _PARTIAL_UNEXPECTED


@dataclass(frozen=True)
class _Figures:
    """One table's full-table figures, by check: map counts and aggregate observed values."""

    rows: int
    counts: Mapping[str, tuple[int, int, bool]]  # check -> (rows considered, unexpected, nulls skipped)
    observed: Mapping[str, Any]  # check -> observed value


def _decimal_sums(frame: pd.DataFrame, encoding: Encoding) -> dict[str, Decimal]:
    """Each exact decimal column's sum, to the last decimal, from its computing form (an integer count of units)."""
    sums = {}
    for column in encoding.contract.columns:
        if column.decimal is not None and column.name in frame.columns:
            stored = frame[column.name].to_numpy()
            sums[column.name] = Decimal(int(stored[stored != NULL].sum())).scaleb(-column.decimal[1])
    return sums


def _exact_sums(rows: int, expectations: list[dict], sums: Mapping[str, Decimal]) -> _Figures | None:
    """The observed sums of exact decimal columns for GX's results: GX sums floats (3795795.7500000005)."""
    observed = {
        _check_name(expectation): sums[column]
        for expectation in expectations
        if expectation["type"] == "expect_column_sum_to_be_between"
        and (column := expectation.get("kwargs", {}).get("column")) in sums
    }
    return _Figures(rows=rows, counts={}, observed=observed) if observed else None


def _evidence(
    name: str,
    frame: pd.DataFrame,
    latest_batch: pd.Series,
    by_user: _LatestByUser | None,
    expectations: list[dict],
    parameters: Mapping[str, Any],
    names: _Names,
) -> tuple[pd.DataFrame, _Figures | None]:
    """The frame GX validates for a table, and the full-table figures to complete its results with.

    The evidence is the table's first rows and, for every map expectation, its first unexpected rows
    (for uniqueness, with the rows they repeat), in table order, so GX lists the same examples as
    on the whole table. Figures are None when the fast path does not apply: GX gets the whole table.
    """
    columns = _table_columns(name, frame, names)
    _refuse_unknown_columns(name, expectations, [*columns, names.latest])
    if not _fast_path_applies(frame, columns, expectations):
        return prepare_table(name, frame, latest_batch, names), None
    import polars as pl

    # Zero-copy for numpy int64 columns.
    table = pl.from_pandas(frame.loc[:, columns].reset_index(drop=True))
    joined = _join_latest(table, frame[names.key], by_user, names)
    if joined is None:
        latest = pl.DataFrame(
            {names.key: latest_batch.index.to_numpy(), names.latest: latest_batch.to_numpy()}
        ).cast({names.key: table.schema[names.key]}, strict=False)  # a feed id beyond an int32 table's matches none
        joined = table.join(latest, on=names.key, how="left", maintain_order="left")
        if joined.height != table.height:  # latest_batch repeats a user: let pandas refuse it as before
            return prepare_table(name, frame, latest_batch, names), None

    aggregates, map_checks, sums = [pl.len().alias("__rows")], [], {}
    for expectation in expectations:
        check, kind = _check_name(expectation), expectation["type"]
        kwargs = {key: _resolve(value, parameters) for key, value in expectation.get("kwargs", {}).items()}
        if kind in _MAP_KWARGS:
            considered, unexpected = _map_masks(kind, kwargs, joined.columns)
            map_checks.append((check, kind, kwargs))
            aggregates += [
                considered.sum().alias(f"{check}|considered"),
                unexpected.sum().alias(f"{check}|unexpected"),
                unexpected.arg_true().head(_PARTIAL).implode().alias(f"{check}|first"),
            ]
        elif kind == "expect_column_sum_to_be_between":
            sums[check] = kwargs["column"]
    try:
        found = joined.select(aggregates).row(0, named=True)
    except pl.exceptions.PolarsError as error:  # e.g. a bound of the wrong type for the column
        raise SuiteError(f"table {name!r}: the suite's figures could not be computed: {_first_line(error)}") from error

    positions = set(range(min(_FIRST_ROWS, joined.height)))
    counts = {}
    for check, kind, kwargs in map_checks:
        first = found[f"{check}|first"]
        positions.update(first)
        if kind == "expect_column_values_to_be_unique" and first:
            positions.update(_first_repeats(joined, kwargs["column"], first))
        nulls_skipped = kind == "expect_column_values_to_not_be_null"
        counts[check] = (int(found[f"{check}|considered"]), int(found[f"{check}|unexpected"]), nulls_skipped)
    observed = {
        _check_name(expectation): int(found["__rows"])
        for expectation in expectations
        if expectation["type"] == "expect_table_row_count_to_equal"
    }
    observed |= {check: _sum(joined[column]) for check, column in sums.items()}

    taken = sorted(positions)
    evidence = _declared_types_of(frame.loc[:, columns].iloc[taken].reset_index(drop=True))
    latest_values = joined[names.latest].gather(taken).to_pandas().astype("Int64")
    evidence = evidence.assign(**{names.latest: latest_values.to_numpy()})
    return evidence, _Figures(rows=int(found["__rows"]), counts=counts, observed=observed)


def _spark_evidence(
    name: str,
    frame: pd.DataFrame,
    latest_batch: pd.Series,
    by_user: _LatestByUser | None,
    expectations: list[dict],
    parameters: Mapping[str, Any],
    names: _Names,
) -> tuple[Any, _Figures | None]:
    """``_evidence`` on Spark: the evidence as a small Spark DataFrame, the figures from Spark SQL.

    Figures are None when the fast path does not apply: GX then gets the whole table as a Spark DataFrame.
    """
    from checks.engines import spark_suites as sql

    columns = _table_columns(name, frame, names)
    _refuse_unknown_columns(name, expectations, [*columns, names.latest])
    if not latest_batch.index.is_unique:
        return prepare_table(name, frame, latest_batch, names), None  # pandas refuses a user repeated in the feed's latest
    joined = sql.join_latest(sql.table_frame(frame, columns), latest_batch, key=names.key, latest=names.latest)
    if not _fast_path_applies(frame, columns, expectations):
        return sql.whole(joined), None
    map_checks, sums = [], {}
    for expectation in expectations:
        check, kind = _check_name(expectation), expectation["type"]
        kwargs = {key: _resolve(value, parameters) for key, value in expectation.get("kwargs", {}).items()}
        if kind in _MAP_KWARGS:
            map_checks.append(sql.MapCheck(check, kind, kwargs))
        elif kind == "expect_column_sum_to_be_between":
            sums[check] = kwargs["column"]
    joined = joined.cache()
    try:
        found = sql.figures(joined, map_checks, sums, partial=_PARTIAL)
        positions = set(range(min(_FIRST_ROWS, found.rows)))
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
        raise SuiteError(f"table {name!r}: the suite's figures could not be computed: {_first_line(error)}") from error
    finally:
        joined.unpersist()
    observed = {
        _check_name(expectation): found.rows
        for expectation in expectations
        if expectation["type"] == "expect_table_row_count_to_equal"
    }
    observed |= {check: _plain(value) for check, value in found.sums.items()}
    return evidence, _Figures(rows=found.rows, counts=counts, observed=observed)


_REPEATED = "__repeated_"  # a precomputed "value occurs more than once" column, e.g. __repeated_user_id
# Direct addressing by user_id when ids are this dense: an array of max id + 1 entries per lookup.
_DENSE_IDS_PER_USER, _DENSE_IDS_SLACK = 4, 1_000_000


@dataclass(frozen=True)
class _LatestByUser:
    """Each user's latest batch_id at position ``user_id - first``: lookups without a hash join.

    When the feed's users are consecutive ids in order (the deduplicated table of a dense feed,
    sorted by user_id) ``batch`` is the latest batch_ids as given, not a copy; otherwise an array
    indexed by user_id holding ``unknown`` where the feed has no such user.
    """

    batch: np.ndarray
    first: int
    users: int

    @property
    def unknown(self) -> int:
        return int(np.iinfo(self.batch.dtype).min)  # never a batch_id (checked when built)

    @property
    def limit(self) -> int:
        return _DENSE_IDS_PER_USER * self.users + _DENSE_IDS_SLACK


def _latest_by_user(latest_batch: pd.Series) -> _LatestByUser | None:
    """None unless user ids are non-negative, dense enough, unique, and batch ids plain integers."""
    users = latest_batch.index
    if not (_plain_integers(users.dtype) and _plain_integers(latest_batch.dtype)) or latest_batch.empty:
        return None
    batches = latest_batch.to_numpy()
    unknown = np.iinfo(batches.dtype).min
    if batches.min() == unknown:
        return None
    if isinstance(users, pd.RangeIndex):
        if users.step == 1 and users.start >= 0:
            return _LatestByUser(batch=batches, first=users.start, users=batches.size)
        return None
    ids = users.to_numpy()
    if ids[0] >= 0 and ids[-1] - ids[0] == ids.size - 1 and bool((ids[1:] > ids[:-1]).all()):
        return _LatestByUser(batch=batches, first=int(ids[0]), users=ids.size)  # consecutive ids, in order
    if ids.min() < 0 or ids.max() > _DENSE_IDS_PER_USER * ids.size + _DENSE_IDS_SLACK:
        return None
    batch = np.full(ids.max() + 1, unknown, dtype=batches.dtype)
    batch[ids] = batches
    if int(np.count_nonzero(batch != unknown)) != ids.size:  # a user twice: the join path leaves the refusal to pandas
        return None
    return _LatestByUser(batch=batch, first=0, users=ids.size)


def _plain_integers(dtype: Any) -> bool:
    """A numpy int32 or int64 dtype: no missing values, direct addressing possible."""
    return dtype in (np.dtype(np.int64), np.dtype(np.int32))


def _join_latest(table: Any, user_ids: pd.Series, by_user: _LatestByUser | None, names: _Names) -> Any:
    """``table`` with each row's latest batch_id in the feed (null if unknown) and whether its user_id repeats.

    None when ids do not suit direct addressing; the caller joins instead.
    """
    import polars as pl
    import pyarrow as pa

    if by_user is None or not _plain_integers(user_ids.dtype) or user_ids.empty:
        return None
    ids = user_ids.to_numpy()
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high > by_user.limit:
        return None
    # Consecutive ids in order (the deduplicated table): each once, and their latest batches a slice.
    in_order = (
        int(ids[0]) == low and int(ids[-1]) == high and high - low == ids.size - 1 and bool((ids[1:] > ids[:-1]).all())
    )
    start, stop = low - by_user.first, high - by_user.first + 1
    if 0 <= start and stop <= by_user.batch.size:
        batches = pl.Series(values=by_user.batch)
        if in_order:
            latest = batches.slice(start, stop - start)
        else:
            # Straight into Polars' index type: no wider temporary, no cast (positions lie in [0, users)).
            positions = np.subtract(ids, by_user.first, dtype=np.uint32, casting="unsafe")
            latest = batches.gather(pl.Series(values=positions))
            del positions
        unknown = latest == by_user.unknown
        if unknown.any():
            latest = latest.set(unknown, None)
    else:  # some ids lie outside the feed's: unknown
        positions = ids - by_user.first
        batch = np.full(ids.size, by_user.unknown, dtype=by_user.batch.dtype)
        inside = (positions >= 0) & (positions < by_user.batch.size)
        batch[inside] = by_user.batch[positions[inside]]
        latest = pl.from_arrow(pa.array(batch, mask=batch == by_user.unknown))
    repeated = pl.lit(False) if in_order else _repeated(ids, high)
    return table.with_columns(latest.alias(names.latest), repeated.alias(f"{_REPEATED}{names.key}"))


def _repeated(ids: np.ndarray, high: int) -> Any:
    """Whether each row's id occurs more than once in ``ids`` (all non-negative, at most ``high``).

    Usually every id is distinct: one bit of memory per possible id tells, and the column is a constant.
    """
    import polars as pl

    seen = np.zeros(high + 1, dtype=bool)
    seen[ids] = True
    if np.count_nonzero(seen) == ids.size:
        return pl.lit(False)
    del seen
    return pl.Series(np.bincount(ids)[ids] > 1)


def _fast_path_applies(frame: pd.DataFrame, columns: list, expectations: list[dict]) -> bool:
    known = _MAP_KWARGS | _AGGREGATE_KWARGS | _AS_IS_KWARGS
    checks = [_check_name(expectation) for expectation in expectations]
    if len(checks) != len(set(checks)):  # results are matched to figures by check name
        return False
    for expectation in expectations:
        allowed = known.get(expectation["type"])
        if allowed is None or not set(expectation.get("kwargs", {})) <= allowed:
            return False
        kwargs = expectation.get("kwargs", {})
        if "column_A" in kwargs and kwargs.get("ignore_row_if") != "either_value_is_missing":
            return False  # GX's handling of one missing value in a pair is not reproduced here
    return all(pd.api.types.is_integer_dtype(frame[column].dtype) for column in columns)


def _refuse_unknown_columns(name: str, expectations: list[dict], columns: list) -> None:
    """GX would resolve ``Amount`` in a suite to ``amount`` silently; a name must match exactly."""
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        for key in ("column", "column_A", "column_B"):
            column = kwargs.get(key)
            if isinstance(column, str) and column not in columns:
                raise SuiteError(
                    f"table {name!r}: expectation {expectation['type']} could not be evaluated: "
                    f"no column {column!r} (column names are case-sensitive)"
                )


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return parameters.get(value["$PARAMETER"])
    return value


def _map_masks(kind: str, kwargs: Mapping[str, Any], columns: list[str]) -> tuple[Any, Any]:
    """(rows GX considers, rows it counts unexpected) for a map expectation, as Polars expressions."""
    import polars as pl

    if "column_A" in kwargs:  # ignore_row_if == either_value_is_missing (see _fast_path_applies)
        first, second = pl.col(kwargs["column_A"]), pl.col(kwargs["column_B"])
        considered = first.is_not_null() & second.is_not_null()
        return considered, considered & (first != second)
    column = pl.col(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return pl.repeat(True, pl.len()), column.is_null()
    considered = column.is_not_null()
    if kind == "expect_column_values_to_be_unique":
        repeated = f"{_REPEATED}{kwargs['column']}"
        return considered, considered & (pl.col(repeated) if repeated in columns else column.is_duplicated())
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inside = pl.lit(True)
    if low is not None:
        inside = inside & (column > low if kwargs.get("strict_min") else column >= low)
    if high is not None:
        inside = inside & (column < high if kwargs.get("strict_max") else column <= high)
    return considered, considered & ~inside


def _sum(column: Any) -> int:
    """A Polars integer column's sum in int64: Polars sums Int32 as Int32 (it overflows), and a widened
    copy of a 10 M-row column would cost 80 MB, so numpy sums the int32 values into an int64 total."""
    import polars as pl

    if column.dtype == pl.Int32 and not column.has_nulls():
        return int(column.to_numpy().sum(dtype=np.int64))
    return int(column.cast(pl.Int64).sum())


def _first_repeats(joined: Any, column: str, first: list[int]) -> list[int]:
    """Positions of the first two rows of each value among ``first``: each listed row's repeat is then in the evidence."""
    import polars as pl

    values = joined[column].gather(first).unique()
    repeats = (
        joined.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("__row"), pl.col(column))
        .filter(pl.col(column).is_in(values.implode()))
        .group_by(column, maintain_order=True)
        .head(2)
    )
    return repeats["__row"].to_list()


def _complete(validation: Any, figures: _Figures) -> None:
    """Replace the evidence frame's counts and observed values with the full table's, and the verdicts with them."""
    for result in validation.results:
        config = result.expectation_config
        check = _check_name({"type": config.type, "meta": config.meta})
        details = result.result
        if check in figures.counts:
            considered, unexpected, nulls_skipped = figures.counts[check]
            details.update(_map_counts(figures.rows, considered, unexpected, nulls_skipped, "missing_count" in details))
            mostly = 1.0 if config.kwargs.get("mostly") is None else config.kwargs["mostly"]
            result.success = figures.rows == 0 or considered == 0 or (considered - unexpected) / considered >= mostly
        elif check in figures.observed:
            details["observed_value"] = figures.observed[check]
            result.success = _within(figures.observed[check], config.kwargs)
    evaluated = len(validation.results)
    successful = sum(bool(result.success) for result in validation.results)
    validation.success = successful == evaluated
    validation.statistics.update(
        evaluated_expectations=evaluated,
        successful_expectations=successful,
        unsuccessful_expectations=evaluated - successful,
        success_percent=successful / evaluated * 100 if evaluated else None,
    )


def _whole_number_bounds(validation: Any) -> None:
    """A row count's or a column sum's bounds as the whole numbers given: GX's bound fields are floats
    (33904525 becomes 33904525.0), and Data Docs print them as stored."""
    for result in validation.results:
        config = result.expectation_config
        if config.type in _AGGREGATE_KWARGS:
            for key in ("value", "min_value", "max_value"):
                bound = config.kwargs.get(key)
                if isinstance(bound, float) and bound.is_integer():
                    config.kwargs[key] = int(bound)


def _map_counts(rows: int, considered: int, unexpected: int, nulls_skipped: bool, with_missing: bool) -> dict:
    """The count fields of a map expectation's result, by GX's own formulas (_format_map_output)."""
    counts: dict[str, Any] = {"element_count": rows, "unexpected_count": unexpected}
    total = unexpected / rows * 100 if rows else None
    if nulls_skipped or not with_missing:
        return counts | {"unexpected_percent": total}
    nonmissing = unexpected / considered * 100 if rows and considered else None
    return counts | {
        "missing_count": rows - considered,
        "missing_percent": (rows - considered) / rows * 100 if rows else None,
        "unexpected_percent": nonmissing,
        "unexpected_percent_total": total,
        "unexpected_percent_nonmissing": nonmissing,
    }


def _within(observed: Any, kwargs: Mapping[str, Any]) -> bool:
    if isinstance(observed, Decimal):  # GX keeps a bound as a float: compare it by the text it was given as
        kwargs = {key: Decimal(repr(value)) if isinstance(value, float) else value for key, value in kwargs.items()}
    if "value" in kwargs:
        return observed == kwargs["value"]
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and (observed <= low if kwargs.get("strict_min") else observed < low):
        return False
    return not (high is not None and (observed >= high if kwargs.get("strict_max") else observed > high))


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def preload() -> None:
    """Import Great Expectations and define the custom expectation ahead of use (the runner does it in a thread)."""
    _import_gx()


def _import_gx() -> Any:
    # Before the import: GX reads these at import time.
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    import great_expectations.core.run_identifier  # noqa: F401  (gx.core.run_identifier below)

    _register_custom_expectations()
    return gx


_CUSTOM_EXPECTATIONS: dict[str, type] = {}


def _register_custom_expectations() -> None:
    """Define (once) the suite's custom expectation, and the renderers that print whole sums in full.

    GX registers the expectation by its snake-case type on definition. The suite must only be loaded
    after this: GX drops an unknown expectation type with a log line.
    """
    if _CUSTOM_EXPECTATIONS:
        return
    from great_expectations.expectations import ExpectColumnPairValuesToBeEqual
    from great_expectations.render import LegacyDiagnosticRendererType, RenderedTableContent
    from great_expectations.render.renderer.renderer import renderer

    class ExpectBatchIdToBeLatestInFeed(ExpectColumnPairValuesToBeEqual):
        """Batch currency: each row's batch_id equals that user's largest batch_id across the feed."""

        @classmethod
        @renderer(renderer_type=LegacyDiagnosticRendererType.UNEXPECTED_TABLE)
        def _diagnostic_unexpected_table_renderer(cls, configuration=None, result=None, runtime_configuration=None):
            # The stock table prints each (batch_id, latest) pair run together; show the rows instead.
            details = (result.result or {}) if result is not None else {}
            rows = details.get("partial_unexpected_index_list") or []
            if not rows:
                return None
            kwargs = result.expectation_config.kwargs
            key = next(column for column in rows[0] if column not in (kwargs["column_A"], kwargs["column_B"]))
            columns = [key, kwargs["column_A"], kwargs["column_B"]]
            return [
                RenderedTableContent(
                    content_block_type="table",
                    header_row=[key, f"{kwargs['column_A']} in table", f"latest {kwargs['column_A']} in feed"],
                    table=[[row.get(column) for column in columns] for row in rows],
                    styling={"body": {"classes": ["table-bordered", "table-sm", "mt-3"]}},
                )
            ]

    _CUSTOM_EXPECTATIONS["expect_batch_id_to_be_latest_in_feed"] = ExpectBatchIdToBeLatestInFeed
    _register_exact_observed_values()


def _register_exact_observed_values() -> None:
    """Data Docs show a row count's or a column sum's observed value with every digit.

    GX prints every observed number with num_to_str(precision=10): a sum of 11 digits or more reads
    "≈2.014667295e+10". It has no setting for that, only a renderer per expectation type, so the
    observed-value renderer of the stock expectations whose observed value is a whole number is
    replaced by one that prints the integer as is (anything else still goes to GX's own).
    """
    from great_expectations.expectations.registry import get_renderer_impl, register_renderer
    from great_expectations.render import LegacyDiagnosticRendererType

    registry_log = logging.getLogger("great_expectations.expectations.registry")
    registry_log.addFilter(_drop_record)  # its warning "Overwriting declaration of ... renderer" is the point here
    try:
        for kind in _AGGREGATE_KWARGS:
            stock = get_renderer_impl(kind, LegacyDiagnosticRendererType.OBSERVED_VALUE)
            register_renderer(kind, stock.expectation, _exact_observed_value(stock.renderer))
    finally:
        registry_log.removeFilter(_drop_record)


def _drop_record(record: logging.LogRecord) -> bool:
    return False


def _exact_observed_value(stock: Any) -> Any:
    """An observed-value renderer: a whole number in all its digits, anything else as ``stock`` renders it."""
    from great_expectations.render import LegacyDiagnosticRendererType
    from great_expectations.render.renderer.renderer import renderer

    @renderer(renderer_type=LegacyDiagnosticRendererType.OBSERVED_VALUE)
    def render(configuration: Any = None, result: Any = None, runtime_configuration: Any = None) -> str:
        observed = (result.result or {}).get("observed_value") if result is not None else None
        if isinstance(observed, float) and observed.is_integer():
            observed = int(observed)  # a sum GX took over a float column
        if isinstance(observed, int) and not isinstance(observed, bool):
            return f"{observed:,}"  # every digit, grouped for people
        return stock(result=result)

    return render


def _open_context(gx: Any, gx_dir: Path) -> Any:
    """The committed project config with its store folders resolved against ``gx_dir``.

    Data sources, suite and checkpoint live in memory so the committed files never change.
    """
    from great_expectations.data_context.types.base import DataContextConfig
    from ruamel.yaml import YAML, YAMLError  # GX's own YAML library

    config_path = gx_dir / "great_expectations.yml"
    if not config_path.exists():
        # A fresh --gx-dir starts from the project's committed configuration.
        config_path = DEFAULT_GX_CONFIG
    try:
        config = YAML(typ="safe", pure=True).load(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SuiteError("Great Expectations project config not found", file=config_path) from error
    except (OSError, YAMLError) as error:
        raise SuiteError(f"cannot read the Great Expectations config: {error}", file=config_path) from error
    config["analytics_enabled"] = False
    config["progress_bars"] = {"globally": False, "metric_calculations": False}
    backends = [store["store_backend"] for store in config.get("stores", {}).values()]
    backends += [site["store_backend"] for site in config.get("data_docs_sites", {}).values()]
    for backend in backends:
        if "base_directory" in backend:
            backend["base_directory"] = str(gx_dir / backend["base_directory"])
    return gx.get_context(mode="ephemeral", project_config=DataContextConfig(**config))


def _build_suite(gx: Any, name: str, expectations: list[dict]) -> Any:
    """The GX suite from the declared expectations; SuiteError if GX dropped or changed any."""
    try:
        suite = gx.ExpectationSuite(name=name, expectations=[dict(expectation) for expectation in expectations])
    except Exception as error:  # pydantic's ValidationError and GX's own errors for a malformed expectation
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        detail = lines[0] + (f" (field {lines[1]})" if len(lines) > 1 else "")  # pydantic: the field is line 2
        raise SuiteError(f"suite {name!r} has an invalid expectation: {detail}") from error
    declared = Counter((expectation["type"], _check_name(expectation)) for expectation in expectations)
    loaded = Counter(
        (expectation.expectation_type, _check_name({"type": expectation.expectation_type, "meta": expectation.meta}))
        for expectation in suite.expectations
    )
    if loaded != declared:
        lost = sorted(f"{check} ({kind})" for kind, check in (declared - loaded).elements())
        extra = sorted(f"{check} ({kind})" for kind, check in (loaded - declared).elements())
        detail = "; ".join(
            part for part in (f"dropped: {', '.join(lost)}" if lost else "", f"added: {', '.join(extra)}" if extra else "") if part
        )
        raise SuiteError(
            f"suite {name!r} loaded {len(suite.expectations)} of {len(expectations)} declared expectations "
            f"({detail}); an unknown or invalid expectation (e.g. a custom class not imported) was dropped by GX"
        )
    return suite


def _build_checkpoint(
    gx: Any,
    context: Any,
    suite: Any,
    frames: Mapping[str, pd.DataFrame],
    tables_dir: Path,
    names: _Names,
) -> Any:
    """One validation definition per table in one Checkpoint.

    A Checkpoint run passes the same batch parameters to every validation definition, so each
    table is handed to GX as a Parquet file of its own rather than as an in-memory dataframe.
    """
    shutil.rmtree(tables_dir, ignore_errors=True)
    tables_dir.mkdir(parents=True)
    suite = context.suites.add(suite)
    datasource = context.data_sources.add_pandas_filesystem(_DATASOURCE, base_directory=tables_dir)
    definitions = []
    for name, frame in frames.items():
        file_name = f"{name}.parquet"
        frame.to_parquet(tables_dir / file_name, index=False)
        asset = datasource.add_parquet_asset(name)
        batch_definition = asset.add_batch_definition_path(name, path=file_name)
        definitions.append(
            context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
        )
    # No UpdateDataDocsAction: it rebuilds the site (and re-reads every stored result for the
    # index) once per validation result; run_suites builds it once for the whole run instead.
    return context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=definitions, actions=[], result_format=names.result_format)
    )


def _build_spark_checkpoints(gx: Any, context: Any, suite: Any, frames: Mapping[str, Any], names: _Names) -> list[tuple[Any, Any]]:
    """One Checkpoint per table on GX's Spark datasource, each with the Spark DataFrame it runs on.

    A Checkpoint passes the same batch parameters (here the dataframe) to every validation
    definition, so each table gets its own; they all run under one run id.
    """
    suite = context.suites.add(suite)
    datasource = context.data_sources.add_spark(_DATASOURCE)
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
def _few_spark_partitions(engine: SparkDatasource | None) -> Iterator[None]:
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


def _spark_types(expectations: list[dict]) -> list[dict]:
    translated = []
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        if expectation["type"] == _OF_TYPE and kwargs.get("type_") in _SPARK_TYPES:
            expectation = {**expectation, "kwargs": {**kwargs, "type_": _SPARK_TYPES[kwargs["type_"]]}}
        translated.append(expectation)
    return translated


def _declared_types(validation: Any) -> None:
    for result in validation.results:
        config = result.expectation_config
        if config.type != _OF_TYPE or config.kwargs.get("type_") not in _DECLARED_TYPES:
            continue
        config.kwargs["type_"] = _DECLARED_TYPES[config.kwargs["type_"]]
        observed = (result.result or {}).get("observed_value")
        if observed in _DECLARED_TYPES:
            result.result["observed_value"] = _DECLARED_TYPES[observed]


def _declared_suite_types(suite: Any) -> None:
    """The stored suite (its Data Docs page) with the declared type names again."""
    for expectation in suite.expectations:
        if expectation.expectation_type == _OF_TYPE and expectation.type_ in _DECLARED_TYPES:
            expectation.type_ = _DECLARED_TYPES[expectation.type_]
    suite.save()


def _table_result(table: str, validation: Any, skipped: tuple[str, ...]) -> TableResult:
    outcomes = []
    for result in validation.results:
        config = result.expectation_config
        message = _raised_exception(result.exception_info)
        if message is not None:
            raise SuiteError(f"table {table!r}: expectation {config.type} could not be evaluated: {message}")
        outcomes.append(_outcome(config, result))
    return TableResult(table=table, success=bool(validation.success), outcomes=tuple(outcomes), skipped=skipped)


def _raised_exception(info: Any) -> str | None:
    """The first line of the exception GX caught for a result, if any.

    GX 1.x stores either one record or a dict of records keyed by metric.
    """
    if not isinstance(info, dict):
        return None
    records = [info] if "raised_exception" in info else [record for record in info.values() if isinstance(record, dict)]
    for record in records:
        if record.get("raised_exception"):
            return (str(record.get("exception_message") or "unknown error").strip().splitlines() or ["?"])[0]
    return None


def _outcome(config: Any, result: Any) -> ExpectationOutcome:
    kwargs = dict(config.kwargs)
    details = result.result or {}
    column = kwargs.get("column") or (
        f"{kwargs['column_A']}={kwargs['column_B']}" if "column_A" in kwargs else None
    )
    if "observed_value" in details:
        observed = details["observed_value"]
    else:
        observed = f"{details.get('unexpected_count', 0)} unexpected of {details.get('element_count', 0)}"
    examples = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(result.success),
        observed=_plain(observed),
        expected=_plain(_expected(config.type, kwargs)),
        unexpected_examples=tuple(_plain(example) for example in examples),
        check=_check_name({"type": config.type, "meta": config.meta}),
        unexpected_count=_plain(details.get("unexpected_count")),
        rows=_plain(details.get("element_count")),
    )


def _expected(kind: str, kwargs: Mapping[str, Any]) -> Any:
    if "value" in kwargs:
        return kwargs["value"]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    if "type_" in kwargs:
        return kwargs["type_"]
    if "column_B" in kwargs:
        return f"equal to {kwargs['column_B']}"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and low == high:
        # Suite parameters come back as floats; a sum or count is a whole number.
        return int(low) if isinstance(low, float) and low.is_integer() else low
    if low is not None or high is not None:
        return {"min": low, "max": high}
    return {"unique": True} if "unique" in kind else {"not_null": True} if "null" in kind else None


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, tuples to lists, missing values to None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


class _ErrorRecords(logging.Handler):
    """Collects the messages of ERROR records logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _prune_runs(gx_dir: Path, suite_name: str, keep_runs: int) -> None:
    """Keep the last ``keep_runs`` runs' results and pages.

    GX's index page loads every stored result (about 3 ms each), so an unbounded history would
    make every docs build slower than the last.
    """
    store = gx_dir / "uncommitted" / "validations" / suite_name / RUN_NAME
    pages = gx_dir / "uncommitted" / "data_docs" / _SITE / "validations" / suite_name / RUN_NAME
    if not store.is_dir():
        return
    runs = sorted(path.name for path in store.iterdir() if path.is_dir())
    for run in runs[: max(len(runs) - keep_runs, 0)]:
        shutil.rmtree(store / run, ignore_errors=True)
        shutil.rmtree(pages / run, ignore_errors=True)


def _build_docs(
    gx: Any, context: Any, gx_dir: Path, suite_name: str, result_ids: list, run_time: datetime, names: _Names
) -> tuple[Path, dict[str, Path]]:
    """Render only this run's pages, the suite page and the index, then make them self-contained and show
    only the tables' own columns. Returns the index and each table's validation page."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    from checks.data_docs import group_digits, make_self_contained, present_helper_column

    # GX logs a renderer's exception and leaves that part of the page out; treat it as a failure.
    errors = _ErrorRecords()
    gx_logger = logging.getLogger("great_expectations")
    gx_logger.addHandler(errors)
    try:
        context.build_data_docs(
            site_names=[_SITE], resource_identifiers=[*result_ids, ExpectationSuiteIdentifier(name=suite_name)]
        )
    except Exception as error:  # a broken renderer must not pass for a built site
        raise SuiteError(f"building Data Docs failed: {error}") from error
    finally:
        gx_logger.removeHandler(errors)
    if errors.messages:
        detail = next((line for line in errors.messages[0].splitlines() if "Error" in line), errors.messages[0])
        raise SuiteError(f"building Data Docs failed: {detail.strip()[:300]}")

    site_dir = gx_dir / "uncommitted" / "data_docs" / _SITE
    run_folder = site_dir / "validations" / suite_name / RUN_NAME / run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    pages = [site_dir / "index.html", *sorted(run_folder.glob("*.html")), *sorted((site_dir / "expectations").glob("*.html"))]
    make_self_contained(site_dir, pages)
    for page in pages[1:]:
        present_helper_column(
            page, names.latest, described_as=f"{names.key} known to the feed", statement=names.latest_statement
        )
        group_digits(page)
    tables = {page.stem.removeprefix(f"{_DATASOURCE}-"): page for page in sorted(run_folder.glob(f"{_DATASOURCE}-*.html"))}
    return gx_dir / DOCS_INDEX, tables
