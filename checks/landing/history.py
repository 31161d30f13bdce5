"""A feed's history: every staged delta's recorded figures in feed order, with the anomalies each showed when compared.

``feed_history`` reads them (from a ``Ledger`` or a read-only ``LedgerReader``); ``history_lines``
and ``history_records`` render them for the terminal and JSON; ``write_history_page`` writes the
Data Docs page: the chart (rows and amount added per delta over time, anomalies marked) and the table.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from checks.contract import Contract
from checks.feed import order_key
from checks.landing.anomalies import AMOUNT_ANOMALY, VOLUME_ANOMALY, Anomaly, Thresholds, delta_anomalies
from checks.ledger_records import DeltaMetrics, ObjectRecord
from checks.wording import Words

HISTORY_PAGE = "history.html"
COLUMNS = (
    "file", "arrived", "fetched", "rows", "bytes", "new keys", "updated keys", "amount sum", "amount added", "versions",
    "nulls", "anomalies",
)


class _Book(Protocol):
    def records(self, source: str | None = None) -> list[ObjectRecord]: ...

    def metrics(self, source: str | None = None) -> list[DeltaMetrics]: ...


@dataclass(frozen=True)
class HistoryRow:
    """One staged delta's figures, and what the comparison with the updates before it found (``compared``: had enough of them)."""

    metrics: DeltaMetrics
    anomalies: tuple[Anomaly, ...]
    compared: bool


def feed_history(book: _Book, source: str, contract: Contract, thresholds: Thresholds = Thresholds()) -> list[HistoryRow]:
    """The feed of ``source``'s staged deltas that have figures, in feed order."""
    from checks.encoding import Encoding

    numbers = {record.id: record.delta_number for record in book.records(source)}
    metrics = sorted(book.metrics(source), key=lambda item: order_key(numbers.get(item.object_id) or 0))
    found, too_early = delta_anomalies(metrics, Words.of(Encoding.of(contract)), thresholds)
    return [
        HistoryRow(item, tuple(found.get(item.file, ())), not item.base and item.file not in too_early)
        for item in metrics
    ]


def history_records(rows: list[HistoryRow], words: Words) -> list[dict[str, Any]]:
    """The rows for JSON: amounts exact (a decimal amount as text), anomalies as their finding lines."""
    records = []
    for row in rows:
        item = row.metrics
        records.append({
            "file": item.file, "base": item.base, "arrived_at": item.arrived_at, "fetched_at": item.fetched_at,
            "rows": item.rows, "bytes": item.bytes, "new_keys": item.new_keys, "updated_keys": item.updated_keys,
            "amount_sum": _plain(words, item.amount_sum), "amount_added": _plain(words, item.amount_added),
            "version_min": _version(words, item.version_min), "version_max": _version(words, item.version_max),
            "null_shares": item.null_shares, "compared": row.compared,
            "anomalies": [f"{anomaly.kind}: {anomaly.file}: {anomaly.message}" for anomaly in row.anomalies],
        })
    return records


def history_cells(row: HistoryRow, words: Words) -> list[str]:
    """One row's cells, in ``COLUMNS`` order, as people read them."""
    item = row.metrics
    nulls = ", ".join(f"{name} {share:.1%}" for name, share in item.null_shares.items() if share) or "none"
    if item.base:
        verdict = "base"
    elif not row.compared:
        verdict = "too little history"
    else:
        verdict = ", ".join(anomaly.kind for anomaly in row.anomalies) or "usual"
    return [
        item.file, _time(item.arrived_at), _time(item.fetched_at), f"{item.rows:,}", f"{item.bytes:,}",
        f"{item.new_keys:,}", f"{item.updated_keys:,}", _money(words, item.amount_sum), _money(words, item.amount_added),
        f"{_version(words, item.version_min)}..{_version(words, item.version_max)}", nulls, verdict,
    ]


def history_lines(rows: list[HistoryRow], words: Words) -> list[str]:
    """The rows as an aligned text table, a header first."""
    table = [list(COLUMNS)] + [history_cells(row, words) for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]


def write_history_page(book: _Book, source: str, out_dir: Path, contract: Contract, thresholds: Thresholds = Thresholds()) -> Path:
    """``out_dir/history.html``: the feed's chart and table, self-contained (the chart inline, nothing fetched)."""
    from checks.charts import render_history_chart
    from checks.encoding import Encoding
    from checks.writers import atomic_write_text

    words = Words.of(Encoding.of(contract))
    rows = feed_history(book, source, contract, thresholds)
    updates = [row for row in rows if not row.metrics.base]
    if updates:
        chart = render_history_chart(
            [datetime.fromisoformat(row.metrics.arrived_at) for row in updates],
            [row.metrics.file for row in updates],
            [row.metrics.rows for row in updates],
            [row.metrics.amount_added for row in updates],
            tuple([any(anomaly.kind == kind for anomaly in row.anomalies) for row in updates] for kind in (VOLUME_ANOMALY, AMOUNT_ANOMALY)),
            words,
        )
        chart = chart[chart.find("<svg"):]  # inline: the XML prolog belongs to a file, not a page
    else:
        chart = "<p>No update delta has figures yet: each <code>checks ingest</code> records them.</p>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in history_cells(row, words)) + "</tr>" for row in rows
    )
    findings = "".join(
        f"<li>{html.escape(f'{anomaly.kind}: {anomaly.file}: {anomaly.message}')}</li>" for row in rows for anomaly in row.anomalies
    )
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>History of {html.escape(source)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>History of {html.escape(source)}</h1><p>Update deltas by arrival (the base is in the table only); "
        f"anomalies in red.</p>{chart}"
        f"<h2>Anomalies</h2><ul>{findings or '<li>none</li>'}</ul>"
        f"<h2>Every staged delta</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>\n"
    )
    return atomic_write_text(Path(out_dir) / HISTORY_PAGE, page)


def _time(text: str | None) -> str:
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M") if text else "-"


def _money(words: Words, stored: int | None) -> str:
    return "-" if stored is None else words.money(stored)


def _plain(words: Words, stored: int | None) -> int | str | None:
    return None if stored is None else words.plain_amount(stored)


def _version(words: Words, stored: int | None) -> str:
    return "?" if stored is None else words.version_value(stored)
