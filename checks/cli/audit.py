"""``checks audit``: compare the landing zone with the ledger, the feed's numbering and its history; nothing is fetched."""
from __future__ import annotations

import typer

from checks.cli._options import ContractOption
from checks.cli._landing import (
    DEFAULT_CADENCE,
    DEFAULT_LEDGER,
    AnomalyOption,
    BatchGapOption,
    CadenceOption,
    FeedNameOption,
    FeedsOption,
    JsonOption,
    LedgerOption,
    OptionalSourceOption,
    could_not_decide,
    refuse_per_feed_options,
)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    source: OptionalSourceOption = None,
    ledger: LedgerOption = DEFAULT_LEDGER,
    cadence: CadenceOption = DEFAULT_CADENCE,
    batch_gap: BatchGapOption = None,
    contract: ContractOption = None,
    anomaly: AnomalyOption = None,
    feeds: FeedsOption = None,
    feed: FeedNameOption = None,
    json: JsonOption = False,
) -> None:
    """Name every object never ingested or failed, every gap in delta numbering or batch ranges, a late feed, and
    every new delta far from the feed's usual size or amount.

    One line per finding. Exit 0 when complete, 1 when anything is missing or wrong, 2 on bad input,
    3 when the ledger or the disk broke (traceback in checks-audit-error.log beside the ledger).
    With --feeds: every feed of the feeds file, its name before each line; exit code the worst.
    """
    from checks import output
    from checks.errors import UsageError
    from checks.landing.feeds import FeedSpec, parse_threshold_options, read_feeds, select_feeds, with_command_line

    thresholds = parse_threshold_options(anomaly or [])
    if feeds is None:
        if source is None:
            raise UsageError("give --source (one feed) or --feeds FILE (every feed of a feeds file)")
        spec = FeedSpec(name=source, source=source, ledger=ledger, contract=contract, cadence=cadence, batch_gap=batch_gap,
                        thresholds=thresholds)
        report = _audit_feed(spec)
        _print_report(report, json, prefix="")
        raise typer.Exit(0 if report.passed else 1)
    per_feed = {
        "--source": source is not None, "--ledger": ledger != DEFAULT_LEDGER, "--contract": contract is not None,
        "--cadence": cadence != DEFAULT_CADENCE, "--batch-gap": batch_gap is not None,
    }
    refuse_per_feed_options(per_feed)
    reports, worst = {}, 0
    for spec in with_command_line(select_feeds(read_feeds(feeds), feed or []), (), anomaly or []):
        report = _audit_feed(spec)
        reports[spec.name] = report.to_dict()
        worst = max(worst, 0 if report.passed else 1)
        if not json:
            _print_report(report, False, prefix=f"{spec.name}: ")
    if json:
        output.print_json({"feeds": reports})
    raise typer.Exit(worst)


def _audit_feed(spec):  # noqa: ANN001, ANN202
    from checks.contract import contract_or_default
    from checks.landing.audit import audit as run_audit
    from checks.landing.audit import parse_cadence
    from checks.landing.ledger import Ledger
    from checks.landing.source import source as open_source

    feed_contract = contract_or_default(spec.contract)
    cadence = parse_cadence(spec.cadence)
    with could_not_decide(spec.ledger.parent, "audit"), Ledger(spec.ledger) as book:
        return run_audit(
            open_source(spec.source), book, cadence=cadence, batch_gap=spec.batch_gap, contract=feed_contract,
            thresholds=spec.thresholds,
        )


def _print_report(report, json: bool, *, prefix: str) -> None:  # noqa: ANN001
    from checks import output

    if json:
        output.print_json(report.to_dict())
        return
    for finding in report.findings:
        output.print_line(f"{prefix}{finding}")
    for note in report.notes:
        output.print_line(f"{prefix}note: {note}")
    verdict = "complete" if report.passed else f"{len(report.findings)} finding(s)"
    output.print_line(f"{prefix}{report.source}: {report.listed} object(s), {len(report.staged)} staged; {verdict}")
