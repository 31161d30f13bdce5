"""``checks report``: write the incident report, both emails, the per-user table and the charts."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._options import ContractOption, FinanceTotalOption


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files (delta0.csv, delta1.csv, ...).")],
    platform: Annotated[Path, typer.Option(help="The platform's loaded table (CSV).")],
    out: Annotated[Path, typer.Option(help="Folder to write incident.md, the emails and the charts into.")],
    customer: Annotated[Optional[Path], typer.Option(help="The customer's own export (CSV).")] = None,
    finance_total: FinanceTotalOption = None,
    contract: ContractOption = None,
    engineer_name: Annotated[str, typer.Option(help="Greeting name of the platform's backend engineer.")] = "team",
    customer_contact: Annotated[str, typer.Option(help="Greeting name of the customer's contact.")] = "there",
    customer_company: Annotated[str, typer.Option(help="The customer's company name.")] = "your company",
    platform_company: Annotated[str, typer.Option(help="Our company / platform name.")] = "our platform",
    sender_name: Annotated[str, typer.Option(help="Who signs the emails.")] = "Integration Engineering",
    docs_index: Annotated[Optional[Path], typer.Option(help="Data Docs index.html to link (incident.html goes beside it).")] = None,
) -> None:
    """Diagnose, then write the incident report and the emails. Exit 0 no discrepancy, 1 discrepancy, 2 bad input."""
    from checks import output
    from checks.cli._options import encoding_of, finance_total_of
    from checks.cli.diagnose import load_and_diagnose
    from checks.report import ReportNames, write_incident_report

    diagnosis = load_and_diagnose(feed, platform, customer, finance_total_of(finance_total), encoding=encoding_of(contract))
    names = ReportNames(
        engineer_name=engineer_name,
        customer_contact=customer_contact,
        customer_company=customer_company,
        platform_company=platform_company,
        sender_name=sender_name,
        platform_file=platform.name,
    )
    with output.progress_step("writing the report"):
        written = write_incident_report(diagnosis, out, names=names, docs_index=docs_index)
    for path in written:
        output.print_line(f"wrote {path}")
    raise typer.Exit(1 if diagnosis.discrepancy else 0)
