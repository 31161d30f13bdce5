"""``checks audit``: compare the landing zone with the ledger and the feed's numbering; nothing is fetched."""
from __future__ import annotations

import typer

from checks.cli._options import ContractOption
from checks.cli._landing import (
    DEFAULT_CADENCE,
    DEFAULT_LEDGER,
    BatchGapOption,
    CadenceOption,
    JsonOption,
    LedgerOption,
    SourceOption,
    could_not_decide,
)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    source: SourceOption,
    ledger: LedgerOption = DEFAULT_LEDGER,
    cadence: CadenceOption = DEFAULT_CADENCE,
    batch_gap: BatchGapOption = None,
    contract: ContractOption = None,
    json: JsonOption = False,
) -> None:
    """Name every object never ingested or failed, every gap in delta numbering or batch ranges, and a stale source.

    One line per finding. Exit 0 when complete, 1 when anything is missing or wrong, 2 on bad input,
    3 when the ledger or the disk broke (traceback in checks-audit-error.log beside the ledger).
    """
    from checks import output
    from checks.landing.audit import audit as run_audit
    from checks.landing.audit import parse_cadence
    from checks.landing.ledger import Ledger
    from checks.landing.source import source as open_source

    from checks.contract import contract_or_default

    feed_contract = contract_or_default(contract)
    with could_not_decide(ledger.parent, "audit"), Ledger(ledger) as book:
        report = run_audit(open_source(source), book, cadence=parse_cadence(cadence), batch_gap=batch_gap, contract=feed_contract)
    if json:
        output.print_json(report.to_dict())
    else:
        for finding in report.findings:
            output.print_line(str(finding))
        verdict = "complete" if report.passed else f"{len(report.findings)} finding(s)"
        output.print_line(f"{report.source}: {report.listed} object(s), {len(report.staged)} staged; {verdict}")
    raise typer.Exit(0 if report.passed else 1)
