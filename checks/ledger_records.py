"""The landing zone's ledger as data, below every stage: its record types, its tables' columns and a read-only reader.

``checks.landing.ledger`` writes the ledger (and creates these tables); the emails' evidence
(``checks.arrivals``) and ``checks history`` read it here, opened read-only (``mode=ro``): a read never
creates a lock file, never switches the journal mode, never changes a byte of a ledger in use.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path

from checks.errors import BadInputError

STEPS = ("seen", "fetched", "decrypted", "validated", "staged", "quarantined", "failed")
FINAL = ("staged", "quarantined")
# What a staged event records of its object, so that an edit of the object's row alone is noticed.
STAGED_DETAIL = ("staged_name", "plaintext_sha256", "rows")


@dataclass(frozen=True)
class ObjectRecord:
    """One object version as the ledger knows it."""

    id: int
    source: str
    key: str
    etag: str
    size: int
    last_modified: str
    version_id: str | None
    status: str
    seen_at: str
    fetched_at: str | None
    decrypted_at: str | None
    validated_at: str | None
    staged_at: str | None
    quarantined_at: str | None
    failed_at: str | None
    fetched_size: int | None
    sha256: str | None
    plaintext_size: int | None
    plaintext_sha256: str | None
    delta_number: int | None
    rows: int | None
    batch_min: int | None
    batch_max: int | None
    batch_step: int | None
    staged_name: str | None
    reason: str | None
    flag: str | None
    signer: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True)
class Measure:
    """What one delta brought to its feed (``checks.landing.metrics.measure``).

    Amounts are in the contract's computing form (whole units of its smallest decimal); None when the
    contract declares no amount. Versions are the version column's computing form (int64).
    ``null_shares`` maps each column to the share of its cells that are empty (0.0 to 1.0).
    """

    file: str
    base: bool
    rows: int
    new_keys: int
    updated_keys: int
    amount_sum: int | None
    amount_added: int | None
    version_min: int | None
    version_max: int | None
    null_shares: dict[str, float]


@dataclass(frozen=True)
class DeltaMetrics(Measure):
    """A staged delta's measure as the ingest recorded it (table ``delta_metrics``), with its object's facts.

    ``arrived_at`` is when the object landed in the source, ``fetched_at`` when the ingest fetched it.
    """

    object_id: int
    source: str
    arrived_at: str
    fetched_at: str | None
    bytes: int
    recorded_at: str


OBJECT_COLUMNS = tuple(field.name for field in fields(ObjectRecord))
# Stored in delta_metrics; the others (source, arrival and fetch times) come from the object's row.
METRIC_COLUMNS = (
    "object_id", "file", "base", "rows", "bytes", "new_keys", "updated_keys", "amount_sum", "amount_added",
    "version_min", "version_max", "null_shares", "recorded_at",
)
_METRICS_QUERY = (
    "SELECT m.object_id, o.source, m.file, m.base, o.last_modified, o.fetched_at, m.rows, m.bytes, m.new_keys, "
    "m.updated_keys, m.amount_sum, m.amount_added, m.version_min, m.version_max, m.null_shares, m.recorded_at "
    "FROM delta_metrics m JOIN objects o ON o.id = m.object_id"
)


_METRICS_FIELDS = (
    "object_id", "source", "file", "base", "arrived_at", "fetched_at", "rows", "bytes", "new_keys", "updated_keys",
    "amount_sum", "amount_added", "version_min", "version_max", "null_shares", "recorded_at",
)


def metrics_of(row: tuple) -> DeltaMetrics:
    """A ``DeltaMetrics`` from a row of ``_METRICS_QUERY``."""
    values = dict(zip(_METRICS_FIELDS, row))
    values["base"] = bool(values["base"])
    values["null_shares"] = json.loads(values["null_shares"]) if values["null_shares"] else {}
    return DeltaMetrics(**values)


def select_records(connection: sqlite3.Connection, where: str = "", parameters: tuple[object, ...] = ()) -> list[ObjectRecord]:
    cursor = connection.execute(f"SELECT {', '.join(OBJECT_COLUMNS)} FROM objects {where} ORDER BY id", parameters)
    return [ObjectRecord(*row) for row in cursor]


def select_metrics(connection: sqlite3.Connection, source: str | None = None) -> list[DeltaMetrics]:
    """Every recorded delta's metrics (of ``source``, or all sources), in the order they were recorded."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "delta_metrics" not in tables:
        return []  # a ledger from before the metrics: no history yet
    where, parameters = ("WHERE o.source = ?", (source,)) if source is not None else ("", ())
    return [metrics_of(row) for row in connection.execute(f"{_METRICS_QUERY} {where} ORDER BY m.rowid", parameters)]


def staged_detail(record: ObjectRecord) -> str:
    return json.dumps({name: getattr(record, name) for name in STAGED_DETAIL}, sort_keys=True)


def integrity_problem(connection: sqlite3.Connection) -> str | None:
    """The first problem of a ledger (SQLite's page check, then the events against the objects), or None."""
    verdict = [row[0] for row in connection.execute("PRAGMA quick_check")]
    if verdict != ["ok"]:
        return "SQLite reports " + " ".join(verdict[0].split())
    steps = ", ".join(f"'{step}'" for step in STEPS)
    orphan = connection.execute("SELECT COUNT(*) FROM events WHERE object_id NOT IN (SELECT id FROM objects)").fetchone()[0]
    if orphan:
        return f"{orphan} event(s) belong to no object"
    unknown = connection.execute(f"SELECT COUNT(*) FROM events WHERE step NOT IN ({steps})").fetchone()[0]
    if unknown:
        return f"{unknown} event(s) with an unknown step"
    # Each change writes the row and its event in one transaction: the last event is the status.
    disagree = connection.execute(
        "SELECT id, status FROM objects o WHERE status IS NOT "
        "(SELECT step FROM events e WHERE e.object_id = o.id ORDER BY e.id DESC LIMIT 1) LIMIT 1"
    ).fetchone()
    if disagree:
        return f"object {disagree[0]} has status {disagree[1]!r} but its events say otherwise"
    for record in select_records(connection, "WHERE status = 'staged'"):
        detail = connection.execute(
            "SELECT detail FROM events WHERE object_id = ? AND step = 'staged' ORDER BY id DESC LIMIT 1", (record.id,)
        ).fetchone()[0]
        if detail is not None and staged_detail(record) != detail:
            return f"object {record.id} ({record.staged_name}) differs from what its staged event recorded"
    return None


class LedgerReader:
    """A ledger opened read-only and checked as the writer checks it; use as a context manager.

    A file that is no ledger, or a damaged one, is bad input: it was given to a report as evidence.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BadInputError("ledger not found (give the landing zone's ledger.sqlite)", file=self.path)
        try:
            # mode=ro: no journal switch, no lock file of ours; SQLite still reads a WAL ledger's latest commits.
            self._connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            problem = integrity_problem(self._connection)
        except sqlite3.Error as error:
            raise BadInputError(f"not a usable ledger: {error}", file=self.path) from error
        if problem:
            self._connection.close()
            raise BadInputError(f"not a usable ledger: ledger is damaged: {problem}", file=self.path)

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._connection.close()

    def records(self, source: str | None = None) -> list[ObjectRecord]:
        """Every object version (of ``source``, or all), oldest first."""
        where, parameters = ("WHERE source = ?", (source,)) if source is not None else ("", ())
        return self._read(lambda: select_records(self._connection, where, parameters))

    def metrics(self, source: str | None = None) -> list[DeltaMetrics]:
        return self._read(lambda: select_metrics(self._connection, source))

    def sources(self) -> list[str]:
        return self._read(lambda: [row[0] for row in self._connection.execute("SELECT DISTINCT source FROM objects ORDER BY source")])

    def _read(self, read):  # noqa: ANN001, ANN202
        try:
            return read()
        except sqlite3.Error as error:
            raise BadInputError(f"not a usable ledger: {error}", file=self.path) from error
