"""When each delta file of a feed landed and was fetched, and whether it is still the file that arrived, from the landing zone's ledger.

Read through ``checks.ledger_records`` (read-only: the emails' read never locks or changes a ledger in use);
the emails cite these facts only when a ledger is given.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from checks.feed import delta_number, discover_deltas, is_uri
from checks.ledger_records import LedgerReader


@dataclass(frozen=True)
class Arrival:
    """One delta file as the ledger recorded it: when it landed in the source and was fetched, its sha256, its status,
    and whether the file in the feed folder still has the sha256 recorded on arrival (None: not compared)."""

    name: str
    landed_at: str
    fetched_at: str | None
    sha256: str | None
    status: str
    intact: bool | None


def read_arrivals(ledger: str | Path, feed: str | Path) -> dict[str, Arrival]:
    """The ledger's latest record of each delta file of ``feed``, by file name; files the ledger never saw are absent."""
    with LedgerReader(ledger) as opened:
        records = opened.records()
    local = {} if is_uri(feed) else {delta.number: delta.path for delta in discover_deltas(feed)}
    arrivals: dict[str, Arrival] = {}
    for record in records:  # oldest first: a later version of a file replaces an earlier one
        number = record.delta_number if record.delta_number is not None else delta_number(Path(record.key).name)
        if number is None:
            continue
        path = local.get(number)
        name = path.name if path is not None else (record.staged_name or Path(record.key).name)
        recorded = record.plaintext_sha256 or record.sha256
        arrivals[name] = Arrival(
            name=name,
            landed_at=record.last_modified,
            fetched_at=record.fetched_at,
            sha256=recorded,
            status=record.status,
            intact=None if path is None or recorded is None else _sha256(path) == recorded,
        )
    return arrivals


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
