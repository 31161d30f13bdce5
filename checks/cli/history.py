"""``checks history``: every staged delta's figures per feed, from the ledger (read-only), as a table or JSON."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._landing import DEFAULT_LEDGER, AnomalyOption, JsonOption, LedgerOption
from checks.cli._options import ContractOption


def register(app: typer.Typer) -> None:
    app.command("history")(history)


def history(
    ledger: LedgerOption = DEFAULT_LEDGER,
    source: Annotated[Optional[str], typer.Option("--source", help="Only this feed's source [default: every feed in the ledger].")] = None,
    contract: ContractOption = None,
    anomaly: AnomalyOption = None,
    out: Annotated[
        Optional[Path], typer.Option(help="Also write each feed's history page (chart and table) in this folder.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Per feed, each staged delta's arrival and fetch time, rows, bytes, new and updated keys, amount and what it
    added, version range, null shares, and the anomalies it showed against the updates before it.

    Reads the ledger without changing it. Exit 0; 2 when the ledger is missing or is no ledger.
    """
    from checks import output
    from checks.contract import contract_or_default
    from checks.encoding import Encoding
    from checks.landing.feeds import parse_threshold_options
    from checks.landing.history import feed_history, history_lines, history_records, write_history_page
    from checks.ledger_records import LedgerReader
    from checks.wording import Words

    feed_contract = contract_or_default(contract)
    thresholds = parse_threshold_options(anomaly or [])
    words = Words.of(Encoding.of(feed_contract))
    feeds: dict[str, list] = {}
    with LedgerReader(ledger) as book:
        for url in [source] if source is not None else book.sources():
            feeds[url] = feed_history(book, url, feed_contract, thresholds)
            if out is not None:
                folder = out / _folder_name(url) if source is None else out
                write_history_page(book, url, folder, feed_contract, thresholds)
    if json:
        output.print_json({"feeds": [{"source": url, "deltas": history_records(rows, words)} for url, rows in feeds.items()]})
        raise typer.Exit(0)
    for url, rows in feeds.items():
        output.print_line(f"{url}: {len(rows)} delta(s) with figures")
        for line in history_lines(rows, words):
            output.print_line(f"  {line}")
    raise typer.Exit(0)


def _folder_name(url: str) -> str:
    """A folder name for a source URL: its characters other than letters and digits as ``_``."""
    return "".join(character if character.isalnum() else "_" for character in url).strip("_") or "feed"
