"""The ingestion ledger: one SQLite row per object version, each step's time, sizes, hashes and row counts.

Every change is one transaction (the row and its event together), so a kill leaves the ledger at the
last completed step; ``status`` says how far an object got. ``staged`` and ``quarantined`` are final;
any other status is picked up again by the next ingest. A file lock beside the database keeps two
ingests from working at once.

The ledger is checked on every open (SQLite's ``quick_check``, then the events against the objects
they tell the story of): a damaged ledger is an infrastructure failure (``LedgerError``, exit 3),
never a verdict on the data.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from checks.errors import InfrastructureError, SourceError
from checks.landing.source import ObjectInfo
from checks.ledger_records import (
    FINAL,
    METRIC_COLUMNS,
    OBJECT_COLUMNS,
    STEPS,
    DeltaMetrics,
    ObjectRecord,
    integrity_problem,
    select_metrics,
    select_records,
    staged_detail,
)

DEFAULT_LEDGER = Path("landing/ledger.sqlite")

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
    signer TEXT,
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
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delta_metrics (
    object_id INTEGER PRIMARY KEY REFERENCES objects(id),
    file TEXT NOT NULL,
    base INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    new_keys INTEGER NOT NULL,
    updated_keys INTEGER NOT NULL,
    amount_sum INTEGER,
    amount_added INTEGER,
    version_min INTEGER,
    version_max INTEGER,
    null_shares TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    decision TEXT NOT NULL,
    files TEXT NOT NULL
);
"""
# Columns added after the first release: (name, type), added to an older ledger on open. Tables added
# later (delta_metrics, decisions) are created on open by _SCHEMA's IF NOT EXISTS: no row is touched.
_ADDED_COLUMNS = (("signer", "TEXT"),)


class LedgerBusyError(SourceError):
    """Another ingest holds the ledger's lock for longer than we were willing to wait."""


class LedgerError(InfrastructureError, SourceError):
    """The ledger is damaged, read-only or unreachable: the pipeline is broken, not the data."""


_COLUMNS = OBJECT_COLUMNS
_UPDATABLE = frozenset(_COLUMNS) - {"id", "source", "key", "etag", "size", "status", "seen_at"}
# Programming mistakes (a value SQLite cannot store, a broken constraint) stay what they are; every
# other SQLite error means the file or the disk under it is in trouble.
_BUGS = (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError)


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
        with setup_lock, self._sqlite_errors("open"):
            # Autocommit mode: transactions are opened explicitly in _transaction.
            self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.executescript(_SCHEMA)
            self._upgrade()
            self.ledger_id = self._ledger_id()
        self.check_integrity()

    def _upgrade(self) -> None:
        present = {row[1] for row in self._connection.execute("PRAGMA table_info(objects)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in present:
                self._connection.execute(f"ALTER TABLE objects ADD COLUMN {name} {kind}")

    def _ledger_id(self) -> str:
        """This ledger's identity, made once: a stage remembers which ledger fills it."""
        row = self._connection.execute("SELECT value FROM meta WHERE name = 'ledger_id'").fetchone()
        if row is None:
            self._connection.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('ledger_id', ?)", (uuid.uuid4().hex,))
            row = self._connection.execute("SELECT value FROM meta WHERE name = 'ledger_id'").fetchone()
        return str(row[0])

    def check_integrity(self) -> None:
        """SQLite's own page check, then the events against the objects; ``LedgerError`` naming the first problem."""
        with self._sqlite_errors("check"):
            problem = integrity_problem(self._connection)
        if problem:
            self._damaged(problem)

    def _damaged(self, problem: str) -> None:
        raise LedgerError(
            f"ledger is damaged: {problem}; restore it from a backup and check the disk", file=self.path
        )

    @contextmanager
    def _sqlite_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except _BUGS:
            raise
        except sqlite3.Error as error:
            what = {"open": "cannot open", "write": "cannot write", "read": "cannot read", "check": "cannot check"}[action]
            hint = "check the file's permissions, the disk and free space" if action == "write" else (
                "check that it is the ledger, the disk, or restore it from a backup"
            )
            raise LedgerError(f"{what} the ledger ({error}); {hint}", file=self.path) from error

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
            if step == "staged":
                # What was staged, in the append-only log too: an edit of the row alone is noticed on open.
                row = cursor.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM objects WHERE id = ?", (object_id,)
                ).fetchone()
                detail = staged_detail(ObjectRecord(*row))
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
        with self._sqlite_errors("read"):
            return list(self._connection.execute(query + " ORDER BY id", parameters))

    def _select(self, where: str, parameters: tuple[object, ...]) -> list[ObjectRecord]:
        with self._sqlite_errors("read"):
            return select_records(self._connection, where, parameters)

    def record_metrics(self, metrics: DeltaMetrics) -> None:
        """Keep what a staged delta brought to its feed (replacing an earlier record of the same object)."""
        values = {name: getattr(metrics, name) for name in METRIC_COLUMNS}
        values["base"] = int(metrics.base)
        values["null_shares"] = json.dumps(metrics.null_shares, sort_keys=True)
        marks = ", ".join("?" for _ in values)
        with self._transaction() as cursor:
            cursor.execute(f"INSERT OR REPLACE INTO delta_metrics ({', '.join(values)}) VALUES ({marks})", tuple(values.values()))

    def metrics(self, source: str | None = None) -> list[DeltaMetrics]:
        """Every staged delta's metrics (of ``source``, or all), in the order they were recorded."""
        with self._sqlite_errors("read"):
            return select_metrics(self._connection, source)

    def record_decision(self, source: str, decision: str, files: list[str]) -> None:
        """A gate's decision on ``source`` and the staged files it covered: a load marks them as no longer new."""
        with self._transaction() as cursor:
            cursor.execute(
                "INSERT INTO decisions (source, at, decision, files) VALUES (?, ?, ?, ?)",
                (source, now(), decision, json.dumps(files)),
            )

    def loaded_files(self, source: str) -> set[str]:
        """Every staged file a gate has said ``load`` to."""
        with self._sqlite_errors("read"):
            rows = self._connection.execute(
                "SELECT files FROM decisions WHERE source = ? AND decision = 'load'", (source,)
            ).fetchall()
        return {name for (files,) in rows for name in json.loads(files)}

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._sqlite_errors("write"):
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                if self._connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
