"""The ledger: one row per object version, transitions with times, events, and the lock."""
from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.errors import EXIT_INFRASTRUCTURE, SourceError
from checks.landing.ledger import Ledger, LedgerBusyError, LedgerError
from checks.landing.source import ObjectInfo

SOURCE = "s3://bucket/drops/"


def _info(key: str = "delta0.csv", etag: str = "a" * 32, size: int = 10) -> ObjectInfo:
    return ObjectInfo(key=key, size=size, etag=etag, last_modified=datetime(2026, 1, 1, tzinfo=UTC))


def test_one_row_per_object_version(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        first = ledger.see(SOURCE, _info())
        again = ledger.see(SOURCE, _info())
        new_version = ledger.see(SOURCE, _info(etag="b" * 32))
        other_source = ledger.see("s3://other/", _info())

        assert first.id == again.id
        assert len({first.id, new_version.id, other_source.id}) == 3
        assert [event[1] for event in ledger.events()] == ["seen", "seen", "seen"]


def test_transitions_record_time_values_and_event(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        record = ledger.see(SOURCE, _info())
        fetched = ledger.record(record.id, "fetched", fetched_size=10, sha256="f" * 64)
        staged = ledger.record(fetched.id, "staged", staged_name="delta0.csv")

    assert fetched.status == "fetched" and fetched.fetched_at and fetched.sha256 == "f" * 64
    assert staged.final and staged.staged_at >= fetched.fetched_at and staged.fetched_size == 10


def test_survives_reopening(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.record(ledger.see(SOURCE, _info()).id, "quarantined", "bad", reason="bad")
    with Ledger(tmp_path / "ledger.sqlite") as reopened:
        (record,) = reopened.records(SOURCE)
    assert record.status == "quarantined" and record.reason == "bad"


@pytest.mark.parametrize(
    ("step", "values", "message"),
    [("loaded", {}, "unknown ledger step"), ("fetched", {"colour": "red"}, "not ledger columns"),
     ("fetched", {"key": "other"}, "not ledger columns")],
)
def test_bad_transitions_are_refused(tmp_path: Path, step: str, values: dict, message: str) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        record = ledger.see(SOURCE, _info())
        with pytest.raises(ValueError, match=message):
            ledger.record(record.id, step, **values)
        assert ledger.get(record.id).status == "seen"


def test_failed_transaction_leaves_no_trace(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        record = ledger.see(SOURCE, _info())
        with pytest.raises(sqlite3.Error):
            ledger.record(record.id, "fetched", fetched_size=object())  # not storable: the UPDATE fails
        assert ledger.get(record.id).status == "seen"
        assert [event[1] for event in ledger.events(record.id)] == ["seen"]


@pytest.mark.parametrize("content", [b"this is not a database" * 100, None])
def test_unusable_ledger_path(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "ledger.sqlite"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(SourceError, match="ledger"):
        Ledger(path)


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    other = Ledger(tmp_path / "ledger.sqlite")
    acquired = []
    with ledger.lock():
        thread = threading.Thread(target=lambda: _try_lock(other, acquired))
        thread.start()
        thread.join()
    assert acquired == ["busy"]
    with other.lock(timeout=0.1):
        pass


def _try_lock(ledger: Ledger, acquired: list[str]) -> None:
    try:
        with ledger.lock(timeout=0.1):
            acquired.append("held")
    except LedgerBusyError:
        acquired.append("busy")


_OPEN_NEW_LEDGERS = """
import sys, time
from pathlib import Path
from checks.landing.ledger import Ledger
folder, start = Path(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
for round in range(int(sys.argv[3])):
    with Ledger(folder / f"round{round}" / "ledger.sqlite") as ledger:
        ledger.records()
"""


def test_processes_opening_a_new_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    # Regression: switching a new database to WAL is not covered by SQLite's busy timeout, so two
    # ingests started together used to fail with "database is locked".
    import subprocess
    import sys
    import time

    start = time.time() + 1.5  # past the interpreters' start-up, so that the openings overlap
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPEN_NEW_LEDGERS, str(tmp_path), str(start), "40"], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=60)[1].decode() for process in processes]

    assert [process.returncode for process in processes] == [0] * 4, [error[-300:] for error in errors]


def _staged_ledger(path: Path) -> None:
    with Ledger(path) as ledger:
        for number in range(2):
            record = ledger.see(SOURCE, _info(key=f"delta{number}.csv"))
            ledger.record(record.id, "validated", plaintext_sha256=f"{number}" * 64, rows=4)
            ledger.record(record.id, "staged", staged_name=f"delta{number}.csv")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE events SET object_id = 42 WHERE id = 1", "1 event(s) belong to no object"),
        ("UPDATE events SET step = 'loaded' WHERE id = 1", "1 event(s) with an unknown step"),
        ("DELETE FROM events WHERE step = 'staged' AND object_id = 2", "object 2 has status 'staged' but its events say otherwise"),
        ("UPDATE objects SET status = 'seen' WHERE id = 1", "object 1 has status 'seen' but its events say otherwise"),
        ("UPDATE objects SET staged_name = 'delta1.csv' WHERE id = 1", "object 1 (delta1.csv) differs from what its staged event"),
        ("UPDATE objects SET plaintext_sha256 = 'ff' WHERE id = 2", "object 2 (delta1.csv) differs from what its staged event"),
    ],
    ids=["orphan-event", "unknown-step", "missing-event", "status-edited", "name-edited", "sha-edited"],
)
def test_an_inconsistent_ledger_is_refused_on_open(tmp_path: Path, sql: str, message: str) -> None:
    path = tmp_path / "ledger.sqlite"
    _staged_ledger(path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(sql)
    connection.close()

    with pytest.raises(LedgerError, match=re.escape(message)) as caught:
        Ledger(path)
    assert caught.value.exit_code == EXIT_INFRASTRUCTURE and "restore it from a backup" in str(caught.value)


def test_a_damaged_page_is_refused_on_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _staged_ledger(path)
    data = bytearray(path.read_bytes())
    data[2 * 4096 : 2 * 4096 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))

    with pytest.raises(LedgerError, match="damaged|cannot open the ledger") as caught:
        Ledger(path)
    assert "\n" not in str(caught.value)


def test_an_older_ledger_gains_the_signer_column(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _staged_ledger(path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("ALTER TABLE objects DROP COLUMN signer")
        connection.execute("DROP TABLE meta")
    connection.close()

    with Ledger(path) as ledger:
        assert [record.signer for record in ledger.records()] == [None, None] and len(ledger.ledger_id) == 32
