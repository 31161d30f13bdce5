"""The feed's history: recorded by every ingest, kept across a ledger from before it, shown by ``checks history``."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from checks.cli import main
from checks.landing.ingest import ingest
from checks.landing.ledger import Ledger
from checks.landing.source import source
from tests.landing.conftest import case_dir, real_feed, small_feed


def _counts(ledger: Path) -> tuple[int, int, int]:
    with sqlite3.connect(ledger) as connection:
        return tuple(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ("objects", "events", "meta"))


def _make_older(ledger: Path) -> None:
    """The ledger as a version before the history wrote it: no metrics, no decisions."""
    with sqlite3.connect(ledger) as connection:
        connection.execute("DROP TABLE delta_metrics")
        connection.execute("DROP TABLE decisions")


def test_an_older_ledger_keeps_its_rows_and_gets_its_history(tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    for number, data in enumerate(small_feed(deltas=3)):
        (drops / f"delta{number}.csv").write_bytes(data)
    ledger_path, stage = tmp_path / "ledger.sqlite", tmp_path / "stage"
    with Ledger(ledger_path) as ledger:
        ingest(source(drops), stage, ledger)
    _make_older(ledger_path)
    before = _counts(ledger_path)

    with Ledger(ledger_path) as ledger:
        assert ledger.metrics() == [] and _counts(ledger_path) == before  # opening migrates, touching no row
        ingest(source(drops), stage, ledger)  # nothing new to fetch: the staged deltas are measured
        metrics = ledger.metrics()
    assert _counts(ledger_path) == before
    assert [(item.file, item.base, item.rows, item.new_keys, item.updated_keys) for item in metrics] == [
        ("delta0.csv", True, 4, 4, 0), ("delta1.csv", False, 4, 0, 4), ("delta2.csv", False, 4, 0, 4),
    ]
    # small_feed: spend 100 * batch, batches 1..4, 5..8, 9..12 for users 1..4: each update adds 4 * 400.
    assert [item.amount_added for item in metrics] == [1000, 1600, 1600]


def test_history_prints_every_delta_per_feed(tmp_path: Path, capsys) -> None:
    case_dir()
    drops = real_feed(tmp_path / "drops", None)
    ledger = tmp_path / "ledger.sqlite"
    assert main(["ingest", "--source", str(drops), "--stage", str(tmp_path / "stage"), "--ledger", str(ledger)]) == 0
    capsys.readouterr()
    locks_before = sorted(path.name for path in tmp_path.glob("*.lock"))

    assert main(["history", "--ledger", str(ledger)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{drops.resolve()}: 5 delta(s) with figures"
    assert lines[1].split()[:4] == ["file", "arrived", "fetched", "rows"]
    assert lines[2].split()[0] == "delta0.csv" and lines[2].rstrip().endswith("base")
    assert lines[3].rstrip().endswith("too little history") and lines[6].rstrip().endswith("usual")
    assert "2,483" in lines[6] and "$8,501,742" in lines[6] and "6002..8000" in lines[6]

    assert main(["history", "--ledger", str(ledger), "--json", "--out", str(tmp_path / "pages")]) == 0
    (feed,) = json.loads(capsys.readouterr().out)["feeds"]
    assert [delta["rows"] for delta in feed["deltas"]] == [10000, 2494, 2519, 2473, 2483]
    assert feed["deltas"][4]["amount_added"] == 8501742 and feed["deltas"][4]["version_min"] == "6002"
    (page,) = (tmp_path / "pages").rglob("history.html")
    assert "<svg" in page.read_text() and "http" not in page.read_text().split("<svg")[0]
    assert sorted(path.name for path in tmp_path.glob("*.lock")) == locks_before  # read-only: no lock of its own


def test_history_of_a_missing_ledger_is_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["history", "--ledger", str(tmp_path / "none.sqlite")]) == 2
    assert "ledger not found" in capsys.readouterr().err
