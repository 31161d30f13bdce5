"""The ingestion ledger: one SQLite row per object version, each step's time, sizes, hashes and row counts.

Every change is one transaction (the row and its event together), so a kill leaves the ledger at the
last completed step; ``status`` says how far an object got. ``staged`` and ``quarantined`` are final;
any other status is picked up again by the next ingest. A file lock beside the database keeps two
ingests from working at once.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from checks.errors import SourceError
from checks.landing.source import ObjectInfo

DEFAULT_LEDGER = Path("landing/ledger.sqlite")
STEPS = ("seen", "fetched", "decrypted", "validated", "staged", "quarantined", "failed")
FINAL = ("staged", "quarantined")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_modified TEXT NOT NULL,
    version_id TEXT,
    status TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    fetched_at TEXT,
    decrypted_at TEXT,
    validated_at TEXT,
    staged_at TEXT,
    quarantined_at TEXT,
    failed_at TEXT,
    fetched_size INTEGER,
    sha256 TEXT,
    plaintext_size INTEGER,
    plaintext_sha256 TEXT,
    delta_number INTEGER,
    rows INTEGER,
    batch_min INTEGER,
    batch_max INTEGER,
    batch_step INTEGER,
    staged_name TEXT,
    reason TEXT,
    flag TEXT,
    UNIQUE (source, key, etag, size)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL REFERENCES objects(id),
    step TEXT NOT NULL,
    at TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_object ON events(object_id);
"""


class LedgerBusyError(SourceError):
    """Another ingest holds the ledger's lock for longer than we were willing to wait."""


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

    @property
    def final(self) -> bool:
        return self.status in FINAL


_COLUMNS = tuple(field.name for field in fields(ObjectRecord))
_UPDATABLE = frozenset(_COLUMNS) - {"id", "source", "key", "etag", "size", "status", "seen_at"}


def now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="microseconds")


class Ledger:
    """The ledger at ``path`` (created on first use); use as a context manager to close it."""

    def __init__(self, path: str | Path = DEFAULT_LEDGER) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise SourceError("ledger path is a folder; give a file such as ledger.sqlite", file=self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        import filelock

        # Switching to WAL takes an exclusive lock that SQLite's busy timeout does not wait for, so two
        # processes opening a new ledger at once could see "database is locked": set up one at a time.
        # A lock of its own, not the ingest lock, so that an audit can open the ledger while an ingest runs.
        try:
            setup_lock = filelock.FileLock(str(self.path) + ".setup.lock").acquire(timeout=30)
        except filelock.Timeout as error:
            raise LedgerBusyError("another process has been setting up the ledger for over 30 s", file=self.path) from error
        with setup_lock:
            try:
                # Autocommit mode: transactions are opened explicitly in _transaction.
                self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
                self._connection.execute("PRAGMA journal_mode=WAL")
                self._connection.execute("PRAGMA synchronous=FULL")
                self._connection.executescript(_SCHEMA)
            except sqlite3.DatabaseError as error:
                raise SourceError(f"not a usable ledger database: {error}", file=self.path) from error

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def lock(self, timeout: float = 60.0) -> Iterator[None]:
        """Hold the ingest lock (a file beside the ledger) for the duration of the block."""
        import filelock

        lock = filelock.FileLock(str(self.path) + ".lock")
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout as error:
            raise LedgerBusyError(f"another ingest has held the lock for over {timeout:g} s", file=self.path) from error
        try:
            yield
        finally:
            lock.release()

    def see(self, source: str, info: ObjectInfo) -> ObjectRecord:
        """The record of this object version, created with status ``seen`` if it is new."""
        with self._transaction() as cursor:
            cursor.execute(
                "INSERT OR IGNORE INTO objects (source, key, etag, size, last_modified, status, seen_at)"
                " VALUES (?, ?, ?, ?, ?, 'seen', ?)",
                (source, info.key, info.etag, info.size, info.last_modified.isoformat(), now()),
            )
            if cursor.rowcount:
                cursor.execute("INSERT INTO events (object_id, step, at) VALUES (?, 'seen', ?)", (cursor.lastrowid, now()))
        record = self.find(source, info)
        assert record is not None
        return record

    def find(self, source: str, info: ObjectInfo) -> ObjectRecord | None:
        rows = self._select("WHERE source = ? AND key = ? AND etag = ? AND size = ?", (source, info.key, info.etag, info.size))
        return rows[0] if rows else None

    def record(self, object_id: int, step: str, detail: str | None = None, **values: object) -> ObjectRecord:
        """Move an object to ``step`` (setting its time and ``values``) and log the event, in one transaction."""
        if step not in STEPS:
            raise ValueError(f"unknown ledger step {step!r}")
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise ValueError(f"not ledger columns: {', '.join(sorted(unknown))}")
        at = now()
        assignments = {"status": step, f"{step}_at": at, **values} if step != "seen" else {"status": step, **values}
        columns = ", ".join(f"{name} = ?" for name in assignments)
        with self._transaction() as cursor:
            cursor.execute(f"UPDATE objects SET {columns} WHERE id = ?", (*assignments.values(), object_id))
            cursor.execute(
                "INSERT INTO events (object_id, step, at, detail) VALUES (?, ?, ?, ?)", (object_id, step, at, detail)
            )
        return self.get(object_id)

    def get(self, object_id: int) -> ObjectRecord:
        return self._select("WHERE id = ?", (object_id,))[0]

    def records(self, source: str | None = None) -> list[ObjectRecord]:
        """Every object version of ``source`` (all sources when None), oldest first."""
        if source is None:
            return self._select("", ())
        return self._select("WHERE source = ?", (source,))

    def events(self, object_id: int | None = None) -> list[tuple[int, str, str, str | None]]:
        """``(object_id, step, at, detail)`` in the order they happened."""
        query = "SELECT object_id, step, at, detail FROM events"
        parameters: tuple[object, ...] = ()
        if object_id is not None:
            query += " WHERE object_id = ?"
            parameters = (object_id,)
        return list(self._connection.execute(query + " ORDER BY id", parameters))

    def _select(self, where: str, parameters: tuple[object, ...]) -> list[ObjectRecord]:
        cursor = self._connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM objects {where} ORDER BY id", parameters)
        return [ObjectRecord(*row) for row in cursor]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
