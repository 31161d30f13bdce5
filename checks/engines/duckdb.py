"""The DuckDB engine: a feed checked out of core, its memory bounded by a limit, not by the size of the feed.

Every statement is generated from the run's contract (its columns, key, version, the columns that never
decrease, and its value rules through ``checks.engines.sql_rules``). On a contract with the first
customer's rules (``checks.rules.first_customer_rules``) Polars streams each delta CSV to typed Parquet
with its line numbers (the Polars engine's own reading, so the same cells fail and the same odd files go
to the pandas path, which holds such a file whole) and DuckDB runs the value rules on it; a delta of any
other contract is read and validated in memory by the Polars engine's reader for any contract
(``checks.engines.polars_contract``, which hands a failing file to the pandas path) and its computing form
(``checks.encoding``) written to Parquet. DuckDB, with ``memory_limit`` and a spill folder, then asks of those files what the
other engines ask of frames: the failures across the feed (versions rising file by file, repeated
(key, version) pairs, columns that never decrease, from one window over the keys) and the deduplicated
table with its lineage, which it writes straight to Parquet or CSV (decoded in memory first when a
column is not an integer). Only failures and counts come back to Python.

``deduplicate_feed_folder`` is the bounded path (``checks dedup --engine duckdb``). The engine
functions every engine offers (``check_feed_folder``, ``check_validations``, ``check_feed``) run the
same SQL and read the rows back into the usual ``FeedCheck``: the same answers, for feeds that fit.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from checks.dedup import deduplicate as _deduplicate_pandas
from checks.encoding import Encoding, default_encoding
from checks.engines import _frames, polars_contract, polars_csv, sql_rules
from checks.engines import polars as _polars_engine
from checks.engines.base import Capability
from checks.errors import ChecksError, UsageError
from checks.feed import discover_deltas as _discover_deltas
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, DeltaFile, concat_failures, empty_failures, failure_rows
from checks.results import DeltaValidation, FeedCheck, FeedVerdict, file_summary
from checks.rules import BATCH_MONOTONIC, PAIR_UNIQUE, feed_rules, first_customer_rules, never_decreases_check, never_decreasing, tie_error
from checks.validate import read_and_validate as _read_and_validate_pandas
from checks.wording import Words
from checks.writers import atomic_path, atomic_write_frame, neutralise_formulas

NAME = "duckdb"
CAPABILITIES: frozenset[Capability] = frozenset({Capability.OUT_OF_CORE_DEDUP, Capability.ANY_CONTRACT})
# DuckDB's own buffers; Polars' streaming reader, Python and the failures come on top (about 1 GB at 100 M users).
DEFAULT_MEMORY_LIMIT = "2.5GB"

_ROW = polars_csv.ROW
_FILE = "file_index"
_PART_COMPRESSION = "lz4"  # the parts are read once or twice, right away: speed over size

read_table = _polars_engine.read_table
read_and_validate = _polars_engine.read_and_validate


class OutOfMemoryError(ChecksError):
    """DuckDB could not finish within its memory limit and the disk left for spilling (exit 2, like bad usage)."""


@dataclass(frozen=True)
class DeltaVerdict:
    """One delta validated out of core: a ``DeltaValidation`` whose rows stay on disk."""

    name: str
    number: int
    passed: bool
    failures: pd.DataFrame
    warnings: tuple[str, ...] = ()
    rows: int = 0

    def summary(self) -> dict[str, object]:
        return file_summary(self)


@dataclass(frozen=True)
class DeduplicatedFeed(FeedVerdict):
    """A feed checked and deduplicated out of core: verdicts, failures and counts; the table is only in ``outputs``."""

    validations: tuple[DeltaVerdict, ...]
    feed_failures: pd.DataFrame
    users: int
    amount_total: int  # the sum of the amount column
    outputs: tuple[Path, ...]

    @property
    def quarantined(self) -> tuple[str, ...]:
        return tuple(validation.name for validation in self.validations if not validation.passed)


def deduplicate_feed_folder(
    directory: str | Path,
    outputs: Sequence[str | Path],
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    spill_directory: str | Path | None = None,
    on_file: Callable[[DeltaFile], None] | None = None,
    encoding: Encoding | None = None,
) -> DeduplicatedFeed:
    """Check every delta in ``directory`` and write the deduplicated table to ``outputs`` (.parquet, .csv).

    The answers are ``checks.pipeline.check_feed_folder``'s; each output is written atomically. A
    tie on a key's latest version raises ``DeduplicationError`` before anything is written.
    """
    outputs = tuple(Path(path) for path in outputs)
    unsupported = [str(path) for path in outputs if path.suffix not in (".parquet", ".csv")]
    if unsupported:
        raise UsageError(f"the deduplicated table is written as .parquet or .csv, not {', '.join(unsupported)}")
    with _Session(memory_limit, spill_directory, encoding) as session:
        checked = [session.validate(delta_file, on_file) for delta_file in session.discover(directory)]
        feed = session.feed([entry for entry in checked if entry.part is not None])
        feed_failures = session.feed_failures(feed)
        users, amount_total = session.write_deduplicated(feed, outputs)
    return DeduplicatedFeed(
        validations=tuple(entry.verdict for entry in checked),
        feed_failures=feed_failures,
        users=users,
        amount_total=amount_total,
        outputs=outputs,
    )


def check_feed_folder(
    directory: str | Path,
    *,
    on_file: Callable[[DeltaFile], None] | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    encoding: Encoding | None = None,
) -> FeedCheck:
    """``checks.pipeline.check_feed_folder`` through DuckDB; the deltas and the table are read back into memory."""
    with _Session(memory_limit, encoding=encoding) as session:
        checked = [session.validate(delta_file, on_file) for delta_file in session.discover(directory)]
        feed = session.feed([entry for entry in checked if entry.part is not None])
        feed_failures = session.feed_failures(feed)
        deduplicated = session.read_deduplicated(feed)
        validations = [entry.validation(session.columns) for entry in checked]
    return FeedCheck.assemble(validations, feed_failures, deduplicated, session.encoding)


def check_validations(
    validations: Sequence[DeltaValidation], *, memory_limit: str = DEFAULT_MEMORY_LIMIT, encoding: Encoding | None = None
) -> FeedCheck:
    """``checks.pipeline.check_validations`` through DuckDB: cross-file checks and dedup over validated deltas."""
    with _Session(memory_limit, encoding=encoding) as session:
        feed = session.feed([session.add(validation) for validation in validations if validation.delta is not None])
        feed_failures = session.feed_failures(feed)
        deduplicated = session.read_deduplicated(feed)
    return FeedCheck.assemble(validations, feed_failures, deduplicated, session.encoding)


def check_feed(
    deltas: Sequence[Delta], *, memory_limit: str = DEFAULT_MEMORY_LIMIT, encoding: Encoding | None = None
) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` through DuckDB, for deltas already in memory (e.g. new files plus history)."""
    with _Session(memory_limit, encoding=encoding) as session:
        feed = session.feed([session.add(_passed(delta)) for delta in deltas])
        return session.feed_failures(feed, raise_ties=False)


def _passed(delta: Delta) -> DeltaValidation:
    return DeltaValidation(name=delta.name, number=delta.number, delta=delta, failures=empty_failures(), rows=len(delta.frame))


@dataclass(frozen=True)
class _Checked:
    """A validated delta and, when it passed, its rows as Parquet (``row`` + the contract's columns) in the session folder."""

    verdict: DeltaVerdict
    part: Path | None
    in_memory: DeltaValidation | None = None  # the pandas path's answer, when the file went there

    def validation(self, columns: Sequence[str]) -> DeltaValidation:
        """The verdict as a ``DeltaValidation``, its rows read back from Parquet."""
        if self.in_memory is not None:
            return self.in_memory
        verdict = self.verdict
        delta = None if self.part is None else Delta.validated(verdict.name, verdict.number, _read_part(self.part, columns))
        return DeltaValidation(
            name=verdict.name, number=verdict.number, delta=delta, failures=verdict.failures,
            warnings=verdict.warnings, rows=verdict.rows,
        )


@dataclass(frozen=True)
class _Feed:
    """The passed deltas in feed order, as Parquet files; ``file_index`` is a delta's place in ``names``."""

    names: tuple[str, ...]
    parts: tuple[Path, ...]
    maxima: tuple[int, ...]


class _Session:
    """A DuckDB connection with a memory limit, spilling into a private folder that also holds the deltas as Parquet.

    Its statements are the contract's (``encoding``'s; default: the first customer's), with every name quoted.
    """

    def __init__(self, memory_limit: str, spill_directory: str | Path | None = None, encoding: Encoding | None = None) -> None:
        self._memory_limit = memory_limit
        self._parent = spill_directory
        self._stack = ExitStack()
        self.encoding = encoding or default_encoding()
        contract = self.encoding.contract
        shape = contract.shape
        quote = sql_rules.DUCKDB.name
        self.columns = contract.names
        self.key, self.version = quote(shape.key), quote(shape.version)
        self.amount = None if shape.amount is None else quote(shape.amount)
        # The Polars streaming read serves the first customer's columns and rules; other contracts' deltas
        # are read and validated in memory by ``polars_contract``.
        self.streaming = first_customer_rules(self.encoding)
        self.rules = feed_rules(shape, self.encoding)
        self.rising = [(quote(column.name), self.rules[never_decreases_check(column)])
                       for column in never_decreasing(self.encoding, shape)]

    def __enter__(self) -> _Session:
        folder = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="checks-duckdb-", dir=self._parent))
        self.folder = Path(folder)
        try:
            self.connection = duckdb.connect(
                config={
                    "memory_limit": self._memory_limit,
                    "temp_directory": str(self.folder / "spill"),
                    # Only results with ORDER BY need an order; the rest may stream in any order, with less memory.
                    "preserve_insertion_order": False,
                }
            )
        except duckdb.Error as error:
            self._stack.close()
            raise UsageError(f"DuckDB refused the memory limit {self._memory_limit!r}: {_first_line(error)}") from error
        self._stack.callback(self.connection.close)
        self._parts = 0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def sql(self, query: str, parameters: Sequence[object] = ()) -> list[tuple]:
        """Run ``query``; running out of memory or disk is an error the CLI names in one line."""
        try:
            return self.connection.execute(query, list(parameters)).fetchall()
        except (duckdb.OutOfMemoryException, duckdb.IOException) as error:
            # IOException: the spill folder's disk is full (or gone); raising the limit or freeing disk helps.
            raise OutOfMemoryError(
                f"DuckDB ran out of memory or disk within memory_limit {self._memory_limit} (spilling to {self.folder}):"
                f" {_first_line(error)}"
            ) from error

    def _new_part(self) -> Path:
        self._parts += 1
        return self.folder / f"delta-{self._parts}.parquet"

    # Per delta ---------------------------------------------------------------------------------

    def discover(self, directory: str | Path) -> list[DeltaFile]:
        return _discover_deltas(directory, self.encoding.contract)

    def validate(self, delta_file: DeltaFile, on_file: Callable[[DeltaFile], None] | None) -> _Checked:
        """Validate one delta file as the Polars engine does, its rows streamed to Parquet, never held whole."""
        if on_file is not None:
            on_file(delta_file)
        if not self.streaming:
            return self.add(polars_contract.read_and_validate(delta_file, self.encoding))
        part = self._new_part()
        try:
            return self._validate_streaming(delta_file, part)
        except polars_csv.NeedsPandasPath:
            part.unlink(missing_ok=True)
            return self.add(_read_and_validate_pandas(delta_file, self.encoding))

    def _validate_streaming(self, delta_file: DeltaFile, part: Path) -> _Checked:
        header = _frames.read_header(delta_file.path)
        if header is None:
            raise polars_csv.NeedsPandasPath
        try:
            _sink_typed(delta_file.path, header, part)
        except pl.exceptions.PolarsError as error:
            raise polars_csv.NeedsPandasPath from error
        rows, nulls, breaking = self._delta_statistics(part)
        if rows == 0:
            raise polars_csv.NeedsPandasPath  # the not_empty failure, as the pandas path words it
        name = delta_file.name
        text_failures = empty_failures()
        if nulls:
            suspects = pl.scan_parquet(part).filter(pl.any_horizontal(pl.col(column).is_null() for column in self.columns))
            text_failures = polars_csv.text_failures(delta_file.path, header, suspects.collect(), name)
        value_failures = self._value_failures(part, name) if breaking else empty_failures()
        failures = _frames.combine_validation_failures(text_failures, value_failures)
        passed = failures.empty
        verdict = DeltaVerdict(
            name=name, number=delta_file.number, passed=passed, failures=failures, warnings=header.warnings, rows=rows
        )
        if not passed:
            part.unlink()
        return _Checked(verdict=verdict, part=part if passed else None)

    def add(self, validation: DeltaValidation) -> _Checked:
        """A delta validated in memory (by the pandas path, or given), its rows written as a part when it passed."""
        part = None
        if validation.delta is not None:
            part = self._new_part()
            frame = validation.delta.frame
            columns = {_ROW: frame.index.to_numpy(dtype="int64")}
            columns.update({column: frame[column].to_numpy(dtype="int64") for column in self.columns})
            pl.DataFrame(columns).write_parquet(part, compression=_PART_COMPRESSION)
        verdict = DeltaVerdict(
            name=validation.name, number=validation.number, passed=validation.passed, failures=validation.failures,
            warnings=validation.warnings, rows=validation.rows,
        )
        return _Checked(verdict=verdict, part=part, in_memory=validation)

    def _delta_statistics(self, part: Path) -> tuple[int, int, bool]:
        """Rows, empty cells, and whether a value rule breaks (a bound, an allowed value, a repeated key), in one scan."""
        quote = sql_rules.DUCKDB.name
        repeats = [f"count({quote(column)}) - count(distinct {quote(column)})" for column in sql_rules.unique_columns(self.encoding)]
        rows, nulls, breaking = self.sql(
            f"select count(*), {' + '.join(f'count(*) - count({quote(column)})' for column in self.columns)},"
            f" count(*) filter (where {sql_rules.any_value_breaks(self.encoding, sql_rules.DUCKDB)})"
            f"{''.join(f' + {repeat}' for repeat in repeats)} from read_parquet({_literal(part)})"
        )[0]
        return rows, nulls, bool(breaking)

    def _value_failures(self, part: Path, name: str) -> pd.DataFrame:
        """The value pass's failures (the contract's value rules: ``checks.engines.sql_rules``), one row per cell."""
        query = sql_rules.failure_query(self.encoding, f"read_parquet({_literal(part)})", _ROW, sql_rules.DUCKDB)
        cells = self.sql(query) if query else []
        if not cells:
            return empty_failures()
        rows, columns, checks, values = zip(*cells)
        return _frames.validation_failures(name, rows, columns, checks, values)

    # Across the feed ---------------------------------------------------------------------------

    def feed(self, checked: Sequence[_Checked]) -> _Feed:
        """The passed deltas as one view ``feed`` (the contract's columns, row, file_index) and a table of their names."""
        parts = tuple(entry.part for entry in checked)
        names = tuple(entry.verdict.name for entry in checked)
        if parts:
            scans = [
                f"select *, {index}::integer as {_FILE} from read_parquet({_literal(part)})" for index, part in enumerate(parts)
            ]
            self.sql(f"create or replace temp view feed as {' union all '.join(scans)}")
            maxima = self.sql(f"select {_FILE}, max({self.version}) from feed group by {_FILE} order by {_FILE}")
        else:
            empty = ", ".join(f"null::bigint as {sql_rules.DUCKDB.name(column)}" for column in (_ROW, *self.columns))
            self.sql(f"create or replace temp view feed as select {empty}, null::integer as {_FILE} where false")
            maxima = []
        # A file name becomes a CSV cell: the written CSV gets it formula-proof, as checks.writers does.
        csv_names = neutralise_formulas(pd.DataFrame({"name": pd.Series(names, dtype=object)}))["name"].tolist()
        self.sql(f"create or replace temp table names ({_FILE} integer, name varchar, csv_name varchar)")
        for index, (name, csv_name) in enumerate(zip(names, csv_names)):
            self.sql("insert into names values (?, ?, ?)", [index, name, csv_name])
        return _Feed(names=names, parts=parts, maxima=tuple(maximum for _, maximum in maxima))

    def feed_failures(self, feed: _Feed, *, raise_ties: bool = True) -> pd.DataFrame:
        """``checks.crossfeed``'s failures over the passed deltas; a tie on a latest version raises first, as in dedup."""
        if not feed.parts:
            return empty_failures()
        key, version = self.key, self.version
        # One window over each key's rows in (version, feed) order finds the keys with a repeated
        # pair or a falling column; the rows that break something are then taken from those keys only.
        # (One comparison per row is about four times cheaper than carrying every lag through the window.)
        window = f"window w as (partition by {key} order by {version}, {_FILE}, {_ROW})"
        odd = " or ".join([f"{version} = lag({version}) over w", *(f"{column} < lag({column}) over w" for column, _ in self.rising)])
        self.sql(
            f"create or replace temp table odd_users as select distinct {key} from ("
            f" select {key}, {odd} as odd from feed {window}) where odd"
        )
        falls = [f"{column} < previous_{index}" for index, (column, _) in enumerate(self.rising)]
        self.sql(
            f"create or replace temp table anomalies as select * from ("
            f" select {key}, {version}, {_FILE}, {_ROW},"
            + "".join(f" {column}, lag({column}) over w as previous_{index}," for index, (column, _) in enumerate(self.rising))
            + f"  lag({version}) over w as previous_version,"
            f"  lag({_FILE}) over w as previous_file, lead({key}) over w is null as last"
            f" from feed semi join odd_users using ({key}) {window})"
            f" where {' or '.join([f'{version} = previous_version', *falls])}"
        )
        if raise_ties:
            self._raise_ties(feed)
        decreases = [self._decreases(feed, index) for index in range(len(self.rising))]
        return concat_failures([self._version_monotonicity(feed), self._repeated_pairs(feed), *decreases])

    def _version_monotonicity(self, feed: _Feed) -> pd.DataFrame:
        bounds, setters = _frames.earlier_batches(feed.names, feed.maxima)
        rule = self.rules[BATCH_MONOTONIC]
        files, rows, values = [], [], []
        for index, (bound, setter) in enumerate(zip(bounds, setters)):
            if bound is None:
                continue
            found = self.sql(
                f"select {_ROW}, {self.version} from read_parquet({_literal(feed.parts[index])})"
                f" where {self.version} <= ? order by {_ROW}",
                [bound],
            )
            if not found:
                continue
            files.extend([feed.names[index]] * len(found))
            rows.extend(row for row, _ in found)
            version = rule.column
            versions = self.encoding.written(version, [value for _, value in found])
            values.extend(rule.values(versions, repeat(self.encoding.written(version, [bound])[0]), repeat(setter)))
        if not files:
            return empty_failures()
        return failure_rows(files, rows, column=rule.column, check=rule.check, values=values)

    def _repeated_pairs(self, feed: _Feed) -> pd.DataFrame:
        """Every occurrence of a (key, version) pair after its first in feed order, naming the first."""
        key, version = self.key, self.version
        if not self.sql(f"select 1 from anomalies where {version} = previous_version limit 1"):
            return empty_failures()
        found = self.sql(
            f"select {_FILE}, {_ROW}, {key}, {version}, first_file, first_row from ("
            f" select f.{_FILE}, f.{_ROW}, f.{key}, f.{version},"
            f"  first_value(f.{_FILE}) over w as first_file, first_value(f.{_ROW}) over w as first_row,"
            f"  row_number() over w as place"
            f" from feed f semi join (select distinct {key}, {version} from anomalies where {version} = previous_version) r"
            f"  on f.{key} = r.{key} and f.{version} = r.{version}"
            f" window w as (partition by f.{key}, f.{version} order by f.{_FILE}, f.{_ROW}))"
            f" where place > 1 order by {_FILE}, {_ROW}"
        )
        if not found:
            return empty_failures()
        files, rows, keys, versions, first_files, first_rows = zip(*found)
        shape = self.encoding.contract.shape
        rule = self.rules[PAIR_UNIQUE]
        values = rule.values(
            self.encoding.written(shape.key, keys), self.encoding.written(shape.version, versions), [feed.names[file] for file in first_files], first_rows
        )
        return failure_rows([feed.names[file] for file in files], rows, column=rule.column, check=rule.check, values=values)

    def _decreases(self, feed: _Feed, index: int) -> pd.DataFrame:
        """The rows where the ``index``-th column that never decreases falls below the key's row before it."""
        column, rule = self.rising[index]
        found = self.sql(
            f"select {_FILE}, {_ROW}, {column}, previous_{index}, previous_version, previous_file from anomalies"
            f" where {column} < previous_{index} order by {self.key}, {self.version}, {_FILE}, {_ROW}"
        )
        if not found:
            return empty_failures()
        files, rows, now, before, previous_versions, previous_files = zip(*found)
        version = self.encoding.contract.shape.version
        values = rule.values(
            self.encoding.written(rule.column, now), self.encoding.written(rule.column, before),
            self.encoding.written(version, previous_versions), [feed.names[file] for file in previous_files],
        )
        return failure_rows([feed.names[file] for file in files], rows, column=rule.column, check=rule.check, values=values)

    def _raise_ties(self, feed: _Feed) -> None:
        """Keys whose largest version is on two rows: the latest row is ambiguous, so nothing is written."""
        key, version = self.key, self.version
        tied = self.sql(f"select count(*), min({key}) from anomalies where last and {version} = previous_version")[0]
        if not tied[0]:
            return
        first_key = tied[1]
        latest = self.sql(f"select max({version}) from feed where {key} = ?", [first_key])[0][0]
        places = self.sql(
            f"select {_FILE}, {_ROW} from feed where {key} = ? and {version} = ? order by {_FILE}, {_ROW}", [first_key, latest]
        )
        words = Words.of(self.encoding)
        raise tie_error(
            tied[0], words.key(first_key), words.version_value(latest),
            [(feed.names[file], row) for file, row in places], self.encoding,
        )

    # The deduplicated table --------------------------------------------------------------------

    def _deduplicated_query(self) -> str:
        """One row per key, its largest version (ties were refused before), with lineage, sorted by the key."""
        # arg_max per key is about five times faster than a window with QUALIFY; with the ties refused,
        # every arg_max of a key picks the same row.
        quote = sql_rules.DUCKDB.name
        key, version = self.key, self.version
        others = [quote(column) for column in self.columns if quote(column) not in (key, version)]
        latest = ", ".join(f"arg_max({column}, {version}) as {column}" for column in (*others, _FILE, _ROW))
        return (
            f"select {', '.join(f'latest.{quote(column)}' for column in self.columns)},"
            f" names.name as {SOURCE_FILE}, latest.{_ROW} as {SOURCE_ROW}"
            f" from (select {key}, max({version}) as {version}, {latest} from feed group by {key}) latest"
            f" join names using ({_FILE}) order by latest.{key}"
        )

    def write_deduplicated(self, feed: _Feed, outputs: Sequence[Path]) -> tuple[int, int]:
        """Write the table to each output (atomically) straight from DuckDB; its key count and amount total.

        A contract with columns other than integers has its table decoded as the files wrote it (``checks.encoding``),
        in memory, and written by ``checks.writers``.
        """
        parquet_outputs = [path for path in outputs if path.suffix == ".parquet"]
        csv_outputs = [path for path in outputs if path.suffix == ".csv"]
        decoded = not self.encoding.plain
        # The table is computed once, into the first Parquet output (or a private one); the rest are read from it.
        primary = parquet_outputs[0] if parquet_outputs and not decoded else self.folder / "deduplicated.parquet"
        with atomic_path(primary) as temporary:
            self.sql(f"copy ({self._deduplicated_query()}) to {_literal(temporary)} (format parquet)")
        if decoded:
            table = self.encoding.decode(pd.read_parquet(primary))
            for path in outputs:
                atomic_write_frame(path, table)
        else:
            for path in parquet_outputs[1:]:
                with atomic_path(path) as temporary:
                    shutil.copyfile(primary, temporary)
            if csv_outputs:
                self._write_csv(primary, csv_outputs)
        total = f"coalesce(sum({self.amount}), 0)" if self.amount is not None else "0"
        users, amount_total = self.sql(f"select count(*), {total} from read_parquet({_literal(primary)})")[0]
        return int(users), int(amount_total)

    def _write_csv(self, primary: Path, outputs: Sequence[Path]) -> None:
        # Reading the sorted Parquet back in order: the CSV keeps its row order without a second sort.
        self.sql("set preserve_insertion_order = true")
        try:
            risky = self.sql("select name, csv_name from names where name <> csv_name")
            source_file = SOURCE_FILE
            if risky:
                cases = " ".join(f"when {_literal(name)} then {_literal(csv_name)}" for name, csv_name in risky)
                source_file = f"case {SOURCE_FILE} {cases} else {SOURCE_FILE} end as {SOURCE_FILE}"
            columns = ", ".join([*map(sql_rules.DUCKDB.name, self.columns), source_file, SOURCE_ROW])
            for path in outputs:
                with atomic_path(path) as temporary:
                    self.sql(
                        f"copy (select {columns} from read_parquet({_literal(primary)})) to {_literal(temporary)}"
                        " (format csv, header true)"
                    )
        finally:
            self.sql("set preserve_insertion_order = false")

    def read_deduplicated(self, feed: _Feed) -> pd.DataFrame:
        """The deduplicated table read back into pandas, typed as ``checks.dedup.deduplicate`` returns it."""
        if not feed.parts:
            return _deduplicate_pandas([], encoding=self.encoding)
        path = self.folder / "deduplicated.parquet"
        with atomic_path(path) as temporary:
            self.sql(f"copy ({self._deduplicated_query()}) to {_literal(temporary)} (format parquet)")
        return pd.read_parquet(path)


def _sink_typed(path: Path, header: _frames.Header, part: Path) -> None:
    """Stream the delta's cells as Int64 to ``part``, read as the Polars engine reads them (``_read_typed``).

    A file without spaces or tabs is parsed as integers straight from the CSV (twice as fast); if
    that errors on a cell that is no integer, the file is read as text and cast, nulls marking the cells.
    """
    if not polars_csv.has_blanks(path):
        # A file of its own: a sink that failed may still finish writing after the error is raised
        # (seen as a part DuckDB could not read, now and then), and must not land on the part.
        straight = part.with_name(f"{part.stem}-straight.parquet")
        try:
            polars_csv.scan_integers(path, header).sink_parquet(straight, compression=_PART_COMPRESSION)
            straight.replace(part)
            return
        except pl.exceptions.PolarsError:
            pass  # a cell that is no integer: the text read finds it (the session folder removes the attempt)
    polars_csv.scan_typed(path, header).sink_parquet(part, compression=_PART_COMPRESSION)


def _read_part(part: Path, columns: Sequence[str]) -> pd.DataFrame:
    """A part's rows as a delta's frame: int64 ``columns`` indexed by line number."""
    table = pl.read_parquet(part)
    rows = table[_ROW].to_numpy()
    index = pd.RangeIndex(2, len(rows) + 2, name="row")
    if not np.array_equal(rows, index.to_numpy()):
        index = pd.Index(rows, name="row", dtype="int64")
    return pd.DataFrame({column: table[column].to_numpy() for column in columns}, index=index)


def _first_line(error: Exception) -> str:
    """DuckDB's message without its hints: the CLI prints an error as one line."""
    return str(error).strip().splitlines()[0]


def _literal(value: object) -> str:
    """A SQL string literal (paths and names go into statements DuckDB cannot take parameters for)."""
    return sql_rules.literal(str(value))
