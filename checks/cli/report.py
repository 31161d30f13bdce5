"""``checks report``: write the incident report, both emails, the per-user table and the charts."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._options import ContractOption, EtaOption, FinanceTotalOption, LedgerOption, SenderNameOption


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files (delta0.csv, delta1.csv, ...).")],
    platform: Annotated[Path, typer.Option(help="The platform's loaded table (CSV).")],
    out: Annotated[Path, typer.Option(help="Folder to write incident.md, the emails and the charts into.")],
    customer: Annotated[Optional[Path], typer.Option(help="The customer's own export (CSV).")] = None,
    finance_total: FinanceTotalOption = None,
    contract: ContractOption = None,
    engineer_name: Annotated[Optional[str], typer.Option(help="Greeting name of the platform's backend engineer.")] = None,
    customer_contact: Annotated[Optional[str], typer.Option(help="The customer's contact (greeted by first name).")] = None,
    customer_company: Annotated[Optional[str], typer.Option(help="The customer's company name.")] = None,
    platform_company: Annotated[Optional[str], typer.Option(help="Our company / platform name.")] = None,
    sender_name: SenderNameOption = None,
    eta: EtaOption = None,
    ledger: LedgerOption = None,
    docs_index: Annotated[Optional[Path], typer.Option(help="Data Docs index.html to link (incident.html goes beside it).")] = None,
) -> None:
    """Diagnose, then write the incident report and the emails. Exit 0 no discrepancy, 1 discrepancy, 2 bad input."""
    from checks import output
    from checks.cli._options import encoding_of, finance_total_of
    from checks.cli.diagnose import load_and_diagnose
    from checks.config import Case, Names
    from checks.report import write_incident_report
    from checks.runner import case_arrivals, report_names

    case = Case(
        feed=feed,
        platform=platform,
        customer=customer,
        finance_total=finance_total_of(finance_total),
        eta=eta,
        ledger=ledger,
        names=Names(
            customer_company=customer_company,
            customer_contact=customer_contact,
            platform_company=platform_company,
            engineer_name=engineer_name,
            sender_name=sender_name,
        ),
        contract=contract,
    )
    arrivals = case_arrivals(case)  # a bad ledger is refused before the work
    diagnosis = load_and_diagnose(feed, platform, customer, case.finance_total, encoding=encoding_of(contract))
    with output.progress_step("writing the report"):
        written = write_incident_report(diagnosis, out, names=report_names(case), docs_index=docs_index, arrivals=arrivals)
    output.show_next_steps(diagnosis, {path.name: path for path in written})
    raise typer.Exit(1 if diagnosis.discrepancy else 0)
