"""The DuckDB engine: a feed checked out of core, its memory bounded by a limit, not by the size of the feed.

Polars streams each delta CSV to typed Parquet with its line numbers (the Polars engine's own reading,
so the same cells fail and the same odd files go to the pandas path, which holds such a file whole). DuckDB, with ``memory_limit``
and a spill folder, then asks of those files what the other engines ask of frames: the value
failures of each delta, the failures across the feed (batch monotonicity, repeated (user, batch)
pairs, spend never decreasing, from one window over the users) and the deduplicated table with its
lineage, which it writes straight to Parquet or CSV. Only failures and counts come back to Python.

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
from checks.engines import _frames, polars_csv
from checks.engines import polars as _polars_engine
from checks.engines.base import Capability
from checks.errors import ChecksError, UsageError
from checks.feed import discover_deltas as _discover_deltas
from checks.encoding import default_encoding
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, DeltaFile, concat_failures, empty_failures, failure_rows
from checks.results import DeltaValidation, FeedCheck, FeedVerdict, file_summary
from checks.rules import BATCH_MONOTONIC, FIELD_UNIQUENESS, PAIR_UNIQUE, first_customer_form, tie_error
from checks.validate import read_and_validate as _read_and_validate_pandas
from checks.writers import atomic_path, neutralise_formulas

# The first customer's columns: the form this module's fast path is written for (checks.rules.first_customer_rules).
COLUMNS = default_encoding().contract.names
VALUE_CHECKS, FEED_RULES, SPEND_NEVER_DECREASES = first_customer_form()
_SPEND = default_encoding().contract.shape.amount

NAME = "duckdb"
CAPABILITIES: frozenset[Capability] = frozenset({Capability.OUT_OF_CORE_DEDUP})
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
) -> DeduplicatedFeed:
    """Check every delta in ``directory`` and write the deduplicated table to ``outputs`` (.parquet, .csv).

    The answers are ``checks.pipeline.check_feed_folder``'s; each output is written atomically. A
    tie on a user's latest batch raises ``DeduplicationError`` before anything is written.
    """
    outputs = tuple(Path(path) for path in outputs)
    unsupported = [str(path) for path in outputs if path.suffix not in (".parquet", ".csv")]
    if unsupported:
        raise UsageError(f"the deduplicated table is written as .parquet or .csv, not {', '.join(unsupported)}")
    with _Session(memory_limit, spill_directory) as session:
        checked = [session.validate(delta_file, on_file) for delta_file in _discover_deltas(directory)]
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
) -> FeedCheck:
    """``checks.pipeline.check_feed_folder`` through DuckDB; the deltas and the table are read back into memory."""
    with _Session(memory_limit) as session:
        checked = [session.validate(delta_file, on_file) for delta_file in _discover_deltas(directory)]
        feed = session.feed([entry for entry in checked if entry.part is not None])
        feed_failures = session.feed_failures(feed)
        deduplicated = session.read_deduplicated(feed)
        validations = [entry.validation() for entry in checked]
    return FeedCheck.assemble(validations, feed_failures, deduplicated)


def check_validations(validations: Sequence[DeltaValidation], *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> FeedCheck:
    """``checks.pipeline.check_validations`` through DuckDB: cross-file checks and dedup over validated deltas."""
    with _Session(memory_limit) as session:
        feed = session.feed([session.add(validation) for validation in validations if validation.delta is not None])
        feed_failures = session.feed_failures(feed)
        deduplicated = session.read_deduplicated(feed)
    return FeedCheck.assemble(validations, feed_failures, deduplicated)


def check_feed(deltas: Sequence[Delta], *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> pd.DataFrame:
    """``checks.crossfeed.check_feed`` through DuckDB, for deltas already in memory (e.g. new files plus history)."""
    with _Session(memory_limit) as session:
        feed = session.feed([session.add(_passed(delta)) for delta in deltas])
        return session.feed_failures(feed, raise_ties=False)


def _passed(delta: Delta) -> DeltaValidation:
    return DeltaValidation(name=delta.name, number=delta.number, delta=delta, failures=empty_failures(), rows=len(delta.frame))


@dataclass(frozen=True)
class _Checked:
    """A validated delta and, when it passed, its rows as Parquet (``row`` + COLUMNS) in the session folder."""

    verdict: DeltaVerdict
    part: Path | None
    in_memory: DeltaValidation | None = None  # the pandas path's answer, when the file went there

    def validation(self) -> DeltaValidation:
        """The verdict as a ``DeltaValidation``, its rows read back from Parquet."""
        if self.in_memory is not None:
            return self.in_memory
        verdict = self.verdict
        delta = None if self.part is None else Delta(verdict.name, verdict.number, _read_part(self.part))
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
    """A DuckDB connection with a memory limit, spilling into a private folder that also holds the deltas as Parquet."""

    def __init__(self, memory_limit: str, spill_directory: str | Path | None = None) -> None:
        self._memory_limit = memory_limit
        self._parent = spill_directory
        self._stack = ExitStack()

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

    def validate(self, delta_file: DeltaFile, on_file: Callable[[DeltaFile], None] | None) -> _Checked:
        """Validate one delta file as the Polars engine does, its rows streamed to Parquet, never held whole."""
        if on_file is not None:
            on_file(delta_file)
        part = self._new_part()
        try:
            return self._validate_streaming(delta_file, part)
        except polars_csv.NeedsPandasPath:
            part.unlink(missing_ok=True)
            return self.add(_read_and_validate_pandas(delta_file))

    def _validate_streaming(self, delta_file: DeltaFile, part: Path) -> _Checked:
        header = _frames.read_header(delta_file.path)
        if header is None:
            raise polars_csv.NeedsPandasPath
        try:
            _sink_typed(delta_file.path, header, part)
        except pl.exceptions.PolarsError as error:
            raise polars_csv.NeedsPandasPath from error
        stats = self._delta_statistics(part)
        if stats["rows"] == 0:
            raise polars_csv.NeedsPandasPath  # the not_empty failure, as the pandas path words it
        name = delta_file.name
        text_failures = empty_failures()
        if stats["nulls"]:
            suspects = pl.scan_parquet(part).filter(pl.any_horizontal(pl.col(column).is_null() for column in COLUMNS))
            text_failures = polars_csv.text_failures(delta_file.path, header, suspects.collect(), name)
        value_failures = self._value_failures(part, name) if _values_fail(stats) else empty_failures()
        failures = _frames.combine_validation_failures(text_failures, value_failures)
        passed = failures.empty
        verdict = DeltaVerdict(
            name=name, number=delta_file.number, passed=passed, failures=failures, warnings=header.warnings, rows=stats["rows"]
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
            columns.update({column: frame[column].to_numpy(dtype="int64") for column in COLUMNS})
            pl.DataFrame(columns).write_parquet(part, compression=_PART_COMPRESSION)
        verdict = DeltaVerdict(
            name=validation.name, number=validation.number, passed=validation.passed, failures=validation.failures,
            warnings=validation.warnings, rows=validation.rows,
        )
        return _Checked(verdict=verdict, part=part, in_memory=validation)

    def _delta_statistics(self, part: Path) -> dict[str, int | None]:
        """Row and null counts, each column's minimum, the largest batch_id and how many user_ids repeat, in one scan."""
        names = ["rows", "nulls", *(f"min_{column}" for column in COLUMNS), "max_batch", "repeated"]
        row = self.sql(
            f"select count(*), {' + '.join(f'count(*) - count({column})' for column in COLUMNS)},"
            f" {', '.join(f'min({column})' for column in COLUMNS)}, max(batch_id),"
            f" count(user_id) - count(distinct user_id) from read_parquet({_literal(part)})"
        )[0]
        return dict(zip(names, row))

    def _value_failures(self, part: Path, name: str) -> pd.DataFrame:
        """The value pass's failures (ranges, then user_id repeated within the delta), one row per cell."""
        source = f"read_parquet({_literal(part)})"
        ranges = [
            f"select {_ROW}, '{column}', {_literal(VALUE_CHECKS[column])}, {column}::varchar from {source}"
            f" where {column} {'<= 0' if column == 'user_id' else '< 0'}"
            for column in COLUMNS
        ]
        repeated = (
            f"select {_ROW}, 'user_id', {_literal(FIELD_UNIQUENESS)}, user_id::varchar from {source} where user_id in"
            f" (select user_id from {source} where user_id is not null group by user_id having count(*) > 1)"
        )
        cells = self.sql(" union all ".join([*ranges, repeated]))
        if not cells:
            return empty_failures()
        rows, columns, checks, values = zip(*cells)
        return _frames.validation_failures(name, rows, columns, checks, values)

    # Across the feed ---------------------------------------------------------------------------

    def feed(self, checked: Sequence[_Checked]) -> _Feed:
        """The passed deltas as one view ``feed`` (COLUMNS, row, file_index) and a table of their names."""
        parts = tuple(entry.part for entry in checked)
        names = tuple(entry.verdict.name for entry in checked)
        if parts:
            scans = [
                f"select *, {index}::integer as {_FILE} from read_parquet({_literal(part)})" for index, part in enumerate(parts)
            ]
            self.sql(f"create or replace temp view feed as {' union all '.join(scans)}")
            maxima = self.sql(f"select {_FILE}, max(batch_id) from feed group by {_FILE} order by {_FILE}")
        else:
            empty = ", ".join(f"null::bigint as {column}" for column in (_ROW, *COLUMNS))
            self.sql(f"create or replace temp view feed as select {empty}, null::integer as {_FILE} where false")
            maxima = []
        # A file name becomes a CSV cell: the written CSV gets it formula-proof, as checks.writers does.
        csv_names = neutralise_formulas(pd.DataFrame({"name": pd.Series(names, dtype=object)}))["name"].tolist()
        self.sql(f"create or replace temp table names ({_FILE} integer, name varchar, csv_name varchar)")
        for index, (name, csv_name) in enumerate(zip(names, csv_names)):
            self.sql("insert into names values (?, ?, ?)", [index, name, csv_name])
        return _Feed(names=names, parts=parts, maxima=tuple(maximum for _, maximum in maxima))

    def feed_failures(self, feed: _Feed, *, raise_ties: bool = True) -> pd.DataFrame:
        """``checks.crossfeed``'s failures over the passed deltas; a tie on a latest batch raises first, as in dedup."""
        if not feed.parts:
            return empty_failures()
        # One window over each user's rows in (batch_id, feed) order finds the users with a repeated
        # pair or a falling spend; the rows that break something are then taken from those users only.
        # (One comparison per row is about four times cheaper than carrying every lag through the window.)
        window = f"window w as (partition by user_id order by batch_id, {_FILE}, {_ROW})"
        self.sql(
            f"create or replace temp table odd_users as select distinct user_id from ("
            f" select user_id, batch_id = lag(batch_id) over w or {_SPEND} < lag({_SPEND}) over w as odd"
            f" from feed {window}) where odd"
        )
        self.sql(
            f"create or replace temp table anomalies as select * from ("
            f" select user_id, batch_id, {_FILE}, {_ROW}, {_SPEND},"
            f"  lag({_SPEND}) over w as previous_spend, lag(batch_id) over w as previous_batch,"
            f"  lag({_FILE}) over w as previous_file, lead(user_id) over w is null as last"
            f" from feed semi join odd_users using (user_id) {window})"
            f" where batch_id = previous_batch or {_SPEND} < previous_spend"
        )
        if raise_ties:
            self._raise_ties(feed)
        return concat_failures([self._batch_monotonicity(feed), self._repeated_user_batch(feed), self._spend_decreases(feed)])

    def _batch_monotonicity(self, feed: _Feed) -> pd.DataFrame:
        bounds, setters = _frames.earlier_batches(feed.names, feed.maxima)
        rule = FEED_RULES[BATCH_MONOTONIC]
        files, rows, values = [], [], []
        for index, (bound, setter) in enumerate(zip(bounds, setters)):
            if bound is None:
                continue
            found = self.sql(
                f"select {_ROW}, batch_id from read_parquet({_literal(feed.parts[index])}) where batch_id <= ? order by {_ROW}",
                [bound],
            )
            files.extend([feed.names[index]] * len(found))
            rows.extend(row for row, _ in found)
            values.extend(rule.values([batch for _, batch in found], repeat(bound), repeat(setter)))
        if not files:
            return empty_failures()
        return failure_rows(files, rows, column=rule.column, check=rule.check, values=values)

    def _repeated_user_batch(self, feed: _Feed) -> pd.DataFrame:
        """Every occurrence of a (user_id, batch_id) pair after its first in feed order, naming the first."""
        if not self.sql("select 1 from anomalies where batch_id = previous_batch limit 1"):
            return empty_failures()
        found = self.sql(
            f"select {_FILE}, {_ROW}, user_id, batch_id, first_file, first_row from ("
            f" select f.{_FILE}, f.{_ROW}, f.user_id, f.batch_id,"
            f"  first_value(f.{_FILE}) over w as first_file, first_value(f.{_ROW}) over w as first_row,"
            f"  row_number() over w as place"
            f" from feed f semi join (select distinct user_id, batch_id from anomalies where batch_id = previous_batch) r"
            f"  on f.user_id = r.user_id and f.batch_id = r.batch_id"
            f" window w as (partition by f.user_id, f.batch_id order by f.{_FILE}, f.{_ROW}))"
            f" where place > 1 order by {_FILE}, {_ROW}"
        )
        if not found:
            return empty_failures()
        files, rows, users, batches, first_files, first_rows = zip(*found)
        rule = FEED_RULES[PAIR_UNIQUE]
        values = rule.values(users, batches, [feed.names[file] for file in first_files], first_rows)
        return failure_rows([feed.names[file] for file in files], rows, column=rule.column, check=rule.check, values=values)

    def _spend_decreases(self, feed: _Feed) -> pd.DataFrame:
        found = self.sql(
            f"select {_FILE}, {_ROW}, {_SPEND}, previous_spend, previous_batch, previous_file from anomalies"
            f" where {_SPEND} < previous_spend order by user_id, batch_id, {_FILE}, {_ROW}"
        )
        if not found:
            return empty_failures()
        files, rows, spends, previous_spends, previous_batches, previous_files = zip(*found)
        rule = FEED_RULES[SPEND_NEVER_DECREASES]
        values = rule.values(spends, previous_spends, previous_batches, [feed.names[file] for file in previous_files])
        return failure_rows([feed.names[file] for file in files], rows, column=rule.column, check=rule.check, values=values)

    def _raise_ties(self, feed: _Feed) -> None:
        """Users whose largest batch_id is on two rows: the latest row is ambiguous, so nothing is written."""
        tied = self.sql("select count(*), min(user_id) from anomalies where last and batch_id = previous_batch")[0]
        if not tied[0]:
            return
        first_user = tied[1]
        batch = self.sql("select max(batch_id) from feed where user_id = ?", [first_user])[0][0]
        places = self.sql(
            f"select {_FILE}, {_ROW} from feed where user_id = ? and batch_id = ? order by {_FILE}, {_ROW}", [first_user, batch]
        )
        raise tie_error(tied[0], first_user, batch, [(feed.names[file], row) for file, row in places])

    # The deduplicated table --------------------------------------------------------------------

    def _deduplicated_query(self) -> str:
        """One row per user, its largest batch_id (ties were refused before), with lineage, sorted by user_id."""
        # arg_max per user is about five times faster than a window with QUALIFY; with the ties refused,
        # every arg_max of a user picks the same row.
        latest = ", ".join(f"arg_max({column}, batch_id) as {column}" for column in (*COLUMNS[1:4], _FILE, _ROW))
        return (
            f"select {', '.join(f'latest.{column}' for column in COLUMNS)},"
            f" names.name as {SOURCE_FILE}, latest.{_ROW} as {SOURCE_ROW}"
            f" from (select user_id, max(batch_id) as batch_id, {latest} from feed group by user_id) latest"
            f" join names using ({_FILE}) order by latest.user_id"
        )

    def write_deduplicated(self, feed: _Feed, outputs: Sequence[Path]) -> tuple[int, int]:
        """Write the table to each output (atomically) straight from DuckDB; its user count and total spend."""
        parquet_outputs = [path for path in outputs if path.suffix == ".parquet"]
        csv_outputs = [path for path in outputs if path.suffix == ".csv"]
        # The table is computed once, into the first Parquet output (or a private one); the rest are read from it.
        primary = parquet_outputs[0] if parquet_outputs else self.folder / "deduplicated.parquet"
        with atomic_path(primary) as temporary:
            self.sql(f"copy ({self._deduplicated_query()}) to {_literal(temporary)} (format parquet)")
        for path in parquet_outputs[1:]:
            with atomic_path(path) as temporary:
                shutil.copyfile(primary, temporary)
        if csv_outputs:
            self._write_csv(primary, csv_outputs)
        users, amount_total = self.sql(f"select count(*), coalesce(sum({_SPEND}), 0) from read_parquet({_literal(primary)})")[0]
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
            columns = ", ".join([*COLUMNS, source_file, SOURCE_ROW])
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
            return _deduplicate_pandas([])
        path = self.folder / "deduplicated.parquet"
        self.write_deduplicated(feed, [path])
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


def _values_fail(stats: dict[str, int | None]) -> bool:
    """Whether the delta's minima or its repeated user_ids say the value pass has something to report."""

    def below(minimum: int | None, bound: int) -> bool:
        return minimum is not None and minimum < bound

    ranges = below(stats["min_user_id"], 1) or any(below(stats[f"min_{column}"], 0) for column in COLUMNS[1:])
    return ranges or bool(stats["repeated"])


def _read_part(part: Path) -> pd.DataFrame:
    """A part's rows as a delta's frame: int64 COLUMNS indexed by line number."""
    table = pl.read_parquet(part)
    rows = table[_ROW].to_numpy()
    index = pd.RangeIndex(2, len(rows) + 2, name="row")
    if not np.array_equal(rows, index.to_numpy()):
        index = pd.Index(rows, name="row", dtype="int64")
    return pd.DataFrame({column: table[column].to_numpy() for column in COLUMNS}, index=index)


def _first_line(error: Exception) -> str:
    """DuckDB's message without its hints: the CLI prints an error as one line."""
    return str(error).strip().splitlines()[0]


def _literal(value: object) -> str:
    """A SQL string literal (paths and names go into statements DuckDB cannot take parameters for)."""
    return "'" + str(value).replace("'", "''") + "'"
