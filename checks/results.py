"""What the checks hand on, below every stage: one delta's validation, and a checked feed.

Frozen results whatever the engine; rendering them is left to ``checks.output`` and the reports.
"""
from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from checks.encoding import Encoding, default_encoding
from checks.model import FAILURE_COLUMNS, Delta, concat_failures

if TYPE_CHECKING:
    from checks.wording import Words
    from checks.writers import PendingWrites

# The feed's failures, every delta's and those across the files: one file in the output folder.
FAILURES_CSV = "failures.csv"


@dataclass(frozen=True)
class DeltaValidation:
    """The outcome of validating one delta file; ``delta`` is None when the file is quarantined."""

    name: str
    number: int
    delta: Delta | None
    failures: pd.DataFrame | FailuresElsewhere
    warnings: tuple[str, ...] = ()
    rows: int = 0

    @property
    def passed(self) -> bool:
        return self.delta is not None

    def summary(self) -> dict[str, object]:
        return file_summary(self)


def file_summary(validation: DeltaValidation | Any) -> dict[str, object]:
    """A file's verdict as JSON-ready data (the failures themselves are listed elsewhere); any engine's verdict."""
    return {
        "file": validation.name,
        "rows": validation.rows,
        "passed": validation.passed,
        "failures": len(validation.failures),
        "warnings": list(validation.warnings),
    }


class FailuresElsewhere(ABC):
    """Failures whose rows stay in an engine (Spark), in ``FAILURE_COLUMNS`` and the pandas path's order. It answers
    the part of a failures frame's interface that the run's outputs use (``len``, ``empty``, ``columns``, ``head``:
    the counts in ``summary.json``, the first rows it and the terminal show) from there, and writes ``failures.csv``
    there; ``frame`` collects every row, for the code that still lists them all (``checks validate``)."""

    columns: tuple[str, ...] = FAILURE_COLUMNS

    @abstractmethod
    def __len__(self) -> int: ...

    @property
    def empty(self) -> bool:
        return len(self) == 0

    @abstractmethod
    def head(self, rows: int) -> pd.DataFrame:
        """The first ``rows`` failures as the pandas path's frame: at most ``rows`` rows come to this process."""

    @property
    @abstractmethod
    def frame(self) -> pd.DataFrame: ...

    @abstractmethod
    def write_csv(self, path: Path) -> Path:
        """``failures.csv`` at ``path`` (atomically), byte for byte as ``checks.writers`` writes the pandas frame."""

    @abstractmethod
    def joined(self, parts: Sequence[pd.DataFrame | FailuresElsewhere]) -> FailuresElsewhere:
        """``parts`` one after the other, held where this engine holds failures (``parts`` holds ``self``)."""


def pandas_failures(failures: pd.DataFrame | FailuresElsewhere) -> pd.DataFrame:
    """``failures`` as a pandas frame: itself, or the rows an engine holds collected."""
    return failures.frame if isinstance(failures, FailuresElsewhere) else failures


def collect_failures(validations: Iterable[DeltaValidation], feed_failures: pd.DataFrame) -> pd.DataFrame:
    """Every failure of every file, then those across the feed, in one tidy frame (every row collected)."""
    return concat_failures([pandas_failures(part) for part in (*(validation.failures for validation in validations), feed_failures)])


def joined_failures(
    validations: Iterable[DeltaValidation], feed_failures: pd.DataFrame | FailuresElsewhere
) -> pd.DataFrame | FailuresElsewhere:
    """``collect_failures``, kept where an engine holds some of them (Spark) rather than collected."""
    parts = [*(validation.failures for validation in validations), feed_failures]
    held = [part for part in parts if isinstance(part, FailuresElsewhere)]
    return held[0].joined(parts) if held else concat_failures(parts)


def write_failures(path: Path, failures: pd.DataFrame | FailuresElsewhere) -> Path:
    """``failures.csv`` at ``path``, atomically: written where the failures are held."""
    from checks.writers import atomic_write_frame

    return failures.write_csv(path) if isinstance(failures, FailuresElsewhere) else atomic_write_frame(path, failures)


class FeedVerdict:
    """``passed`` and ``failures`` of a checked feed, for any result with ``validations``, ``feed_failures``
    and ``quarantined`` (``FeedCheck``, and the out-of-core engine's result that holds no rows)."""

    validations: Sequence
    feed_failures: pd.DataFrame | FailuresElsewhere
    quarantined: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.quarantined and self.feed_failures.empty

    @property
    def failures(self) -> pd.DataFrame | FailuresElsewhere:
        """Every failure of every file and of the feed as a whole, in one tidy frame (or where an engine holds them)."""
        return joined_failures(self.validations, self.feed_failures)


class TableElsewhere(ABC):
    """A table whose rows stay in an engine (Spark): ``frame`` collects them as a pandas frame, once, for the code
    that still asks for one."""

    @property
    @abstractmethod
    def frame(self) -> pd.DataFrame: ...


class OrderedTableElsewhere(TableElsewhere):
    """A table held in an engine whose rows keep ``frame``'s order there too (a feed's deduplicated rows, a table read):
    the suites read it where it is."""

    @abstractmethod
    def in_order(self, columns: Sequence[str]) -> Any:
        """``columns`` of the rows where the engine holds them, in ``frame``'s order (the suites read a Spark
        DataFrame so, its figures computed where it is)."""


class UsersElsewhere(TableElsewhere):
    """A reconciliation's per-user table (``checks.reconcile.Reconciliation.users``) where an engine holds it (Spark):
    the report asks it for ``discrepancies.csv`` and for the figures it shows, computed there; ``frame`` collects the
    rows for the code that still asks for them."""

    @abstractmethod
    def write_discrepancies(self, path: Path, words: Words) -> Path:
        """``checks.report``'s per-user table of the keys that do not match, written at ``path`` (atomically), its
        values as the files wrote them (``words``' encoding)."""

    @abstractmethod
    def customer_differing(self) -> int | None:
        """How many keys' customer rows differ from the expected ones (None: no customer export)."""

    @abstractmethod
    def gap_by_file(self) -> dict[str | None, int]:
        """The gap of the keys that do not match, summed by the file of their latest row (None: not in the feed)."""

    @abstractmethod
    def discrepant_by_file(self) -> dict[str | None, int]:
        """How many keys do not match, by the file of their latest row (None: not in the feed)."""

    @abstractmethod
    def histograms(self, name: str, columns: Sequence[str], bins: int) -> tuple[int, list[tuple[Any, Any]]]:
        """How many keys class ``name`` holds, and ``np.histogram``'s counts and edges of each of their ``columns``
        over the span of all of them."""


def pandas_table(table: pd.DataFrame | TableElsewhere) -> pd.DataFrame:
    """``table`` as a pandas frame: itself, or the rows an engine holds collected."""
    return table.frame if isinstance(table, TableElsewhere) else table


def suites_table(table: pd.DataFrame | TableElsewhere, columns: Sequence[str]) -> Any:
    """``columns`` of ``table`` as the suites take it: a pandas frame, or the engine's own frame where the engine keeps
    the rows' order (never collected)."""
    return table.in_order(columns) if isinstance(table, OrderedTableElsewhere) else pandas_table(table)[list(columns)]


@dataclass(frozen=True)
class FeedCheck(FeedVerdict):
    """Everything known about a feed after its checks; ``deltas`` are the files that passed, in order."""

    validations: tuple[DeltaValidation, ...]
    feed_failures: pd.DataFrame | FailuresElsewhere
    deltas: tuple[Delta, ...]
    quarantined: tuple[str, ...]
    deduplicated: pd.DataFrame
    # The run's contract and dictionaries: what the deltas' and the table's computing form decodes with.
    encoding: Encoding = field(default_factory=default_encoding, compare=False)

    @classmethod
    def assemble(
        cls,
        validations: Sequence[DeltaValidation],
        feed_failures: pd.DataFrame | FailuresElsewhere,
        deduplicated: pd.DataFrame,
        encoding: Encoding | None = None,
    ) -> FeedCheck:
        """A FeedCheck from the per-file validations and what an engine found across the passing files."""
        return cls(
            validations=tuple(validations),
            feed_failures=feed_failures,
            deltas=passed_deltas(validations),
            quarantined=tuple(validation.name for validation in validations if validation.delta is None),
            deduplicated=deduplicated,
            encoding=encoding or default_encoding(),
        )

    # What a run asks of the deduplicated table; an engine that keeps the table elsewhere answers from there.
    @property
    def user_count(self) -> int:
        return len(self.deduplicated)

    def amount_total(self) -> int:
        """The deduplicated table's amount column summed in its computing form (0 without one)."""
        from checks.reconcile import amount_total

        return amount_total(self.deduplicated, self.encoding.contract.shape)

    def latest_versions(self) -> pd.Series | Any:
        """Each key's version in the deduplicated table (its latest), indexed by key (an engine that holds the table
        elsewhere gives its own frame of the key and version columns)."""
        shape = self.encoding.contract.shape
        return self.deduplicated.set_index(shape.key)[shape.version]

    @property
    def deduplicated_rows(self) -> pd.DataFrame | TableElsewhere:
        """The deduplicated table where it is held: ``deduplicated`` itself, or an engine's ``TableElsewhere``."""
        return self.deduplicated

    def write_outputs(self, out_dir: Path) -> PendingWrites:
        """Start writing ``deduplicated.csv``, ``deduplicated.parquet`` (values as the files wrote them) and
        ``failures.csv`` into ``out_dir``, atomically, in the background (``checks.writers.write_frames``)."""
        from checks.writers import start_writing

        paths = {"deduplicated_csv": out_dir / "deduplicated.csv", "deduplicated_parquet": out_dir / "deduplicated.parquet"}

        def deduplicated() -> dict[str, Path]:
            return dict(zip(paths, write_deduplicated_files(list(paths.values()), self.deduplicated, self.encoding)))

        failures = self.failures
        return start_writing({
            "deduplicated": deduplicated,
            "failures_csv": functools.partial(write_failures, out_dir / FAILURES_CSV, failures),
        })


def write_deduplicated(path: Path, table: pd.DataFrame, encoding: Encoding | None = None) -> Path:
    """The deduplicated table, already as the files wrote it (``encoding.decode``; default: the first customer's), to
    CSV or Parquet (by the suffix), atomically: its lineage's file names, a categorical in the Polars engine's table, go
    out as text, and the contract's numbers held as text (``Encoding.numbers_as_text``) as numbers."""
    from checks.writers import atomic_write_frame

    numbers = (encoding or default_encoding()).numbers_as_text(table.columns)
    return atomic_write_frame(path, table, categoricals_as_text=True, numbers=numbers)


def write_deduplicated_files(paths: Sequence[Path], table: pd.DataFrame, encoding: Encoding | None = None) -> list[Path]:
    """The deduplicated table in computing form (``table``) written to each of ``paths`` as ``write_deduplicated``
    writes it, its values as the files wrote them. A table held as the files wrote it is written as it is; any other
    is rendered a block of rows at a time, each block written to every file before the next is rendered: a 10 M-account
    table rendered whole held 1.4 GB while it was written."""
    from checks.writers import atomic_write_blocks

    encoding = encoding or default_encoding()
    if encoding.plain:
        return [write_deduplicated(path, table, encoding) for path in paths]
    return atomic_write_blocks(paths, _rendered_blocks(table, encoding), numbers=encoding.numbers_as_text(table.columns))


def _rendered_blocks(table: pd.DataFrame, encoding: Encoding) -> Iterator[Any]:
    """``table`` as the files wrote it (``Encoding.decode``), a block of rows at a time, as Arrow tables."""
    import pyarrow as pa

    from checks.writers import row_blocks

    for rows in row_blocks(len(table)):
        yield pa.Table.from_pandas(encoding.decode(table.iloc[rows]), preserve_index=False)


def passed_deltas(validations: Sequence[DeltaValidation]) -> tuple[Delta, ...]:
    """The deltas that passed validation, in feed order: the only ones merged into the output."""
    return tuple(validation.delta for validation in validations if validation.delta is not None)
