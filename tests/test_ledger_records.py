"""The ledger's read side: read-only, so the emails' evidence never locks, converts or changes a ledger in use."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.errors import BadInputError
from checks.landing.ledger import Ledger
from checks.landing.source import ObjectInfo
from checks.ledger_records import LedgerReader


def _legacy_ledger(path: Path) -> Path:
    """A ledger with one staged object, left in SQLite's default journal mode with no lock files beside it."""
    with Ledger(path) as ledger:
        info = ObjectInfo(key="delta0.csv", size=3, etag="e0", last_modified=datetime(2026, 11, 1, tzinfo=UTC))
        record = ledger.see("/drops", info)
        ledger.record(record.id, "staged", staged_name="delta0.csv")
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    for leftover in path.parent.glob(path.name + ".*"):
        leftover.unlink()
    return path


def test_a_read_creates_no_file_and_keeps_the_journal_mode(tmp_path: Path) -> None:
    ledger = _legacy_ledger(tmp_path / "ledger.sqlite")
    before = sorted(path.name for path in tmp_path.iterdir())
    with LedgerReader(ledger) as reader:
        records = reader.records()
    assert [record.staged_name for record in records] == ["delta0.csv"]
    assert sorted(path.name for path in tmp_path.iterdir()) == before == ["ledger.sqlite"]
    with sqlite3.connect(ledger) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_ledger_from_before_the_metrics_reads_as_no_history(tmp_path: Path) -> None:
    ledger = _legacy_ledger(tmp_path / "ledger.sqlite")
    with sqlite3.connect(ledger) as connection:
        connection.execute("DROP TABLE delta_metrics")
    with LedgerReader(ledger) as reader:
        assert reader.metrics() == [] and len(reader.records()) == 1


@pytest.mark.parametrize(("content", "message"), [(None, "ledger not found"), (b"not a database at all" * 50, "not a usable ledger")])
def test_what_is_no_ledger_is_bad_input(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "ledger.sqlite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BadInputError, match=message):
        LedgerReader(path)


def test_a_damaged_ledger_is_no_evidence(tmp_path: Path) -> None:
    ledger = _legacy_ledger(tmp_path / "ledger.sqlite")
    with sqlite3.connect(ledger) as connection:
        connection.execute("UPDATE objects SET staged_name = 'delta9.csv'")  # the row edited, its event not
    with pytest.raises(BadInputError, match="ledger is damaged: object 1 .* differs from what its staged event recorded"):
        LedgerReader(ledger)
