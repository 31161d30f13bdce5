"""``checks diagnose``: reconcile the platform's table with the feed and name the root causes of the gap."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from checks.cli._options import (
    DEFAULT_ENGINE,
    DEFAULT_SPARK_MASTER,
    EngineOption,
    FinanceTotalOption,
    JsonOption,
    SparkMasterOption,
)

if TYPE_CHECKING:
    from checks.diagnose import Diagnosis


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose_command)


def diagnose_command(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files (delta0.csv, delta1.csv, ...).")],
    platform: Annotated[Path, typer.Option(help="The platform's loaded table (CSV).")],
    customer: Annotated[Optional[Path], typer.Option(help="The customer's own export (CSV).")] = None,
    finance_total: FinanceTotalOption = None,
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    json: JsonOption = False,
) -> None:
    """Classify every user, attribute the gap to root causes by simulating faults on the feed.

    Exit 0 when the platform matches the feed, 1 when it does not, 2 on bad input.
    """
    from checks import output

    from checks.cli._options import engine_module

    diagnosis = load_and_diagnose(feed, platform, customer, finance_total, engine=engine_module(engine, spark_master))
    if json:
        output.print_json(diagnosis.to_dict())
    else:
        _show(diagnosis)
    raise typer.Exit(1 if diagnosis.discrepancy else 0)


def load_and_diagnose(
    feed: Path,
    platform: Path,
    customer: Path | None = None,
    finance_total: int | None = None,
    *,
    engine: ModuleType | None = None,
) -> Diagnosis:
    """Read the feed (quarantining files that fail validation) and both tables, then diagnose, on ``engine``
    (the default one when None; Spark reconciles in Spark SQL)."""
    from checks import output
    from checks.engines import DEFAULT_ENGINE, diagnose_on, get_engine

    engine = engine or get_engine(DEFAULT_ENGINE)
    with output.progress_step("checking the feed"):
        checked = engine.check_feed_folder(feed)
    for name in checked.quarantined:
        output.print_warning(f"{name} failed validation and is left out of the expected table")
    platform_table = engine.read_table(platform, warn=output.print_warning)
    customer_table = engine.read_table(customer, warn=output.print_warning) if customer is not None else None
    with output.progress_step("reconciling and testing hypotheses"):
        return diagnose_on(engine)(
            checked.deltas, platform_table, customer_table, finance_total, deduplicated=checked.deduplicated
        )


def _show(diagnosis: Diagnosis) -> None:
    from checks import output
    from checks.report import CLASS_WORDS

    totals = diagnosis.to_dict()["totals"]
    for key in ("expected", "platform", "customer", "finance", "gap"):
        if key in totals:
            output.print_line(f"{key:>9}: ${totals[key]:,}")
    output.print_line("")
    for summary in diagnosis.reconciliation.classes:
        if summary.users:
            output.print_line(f"{summary.users:>9,} users {CLASS_WORDS.get(summary.name, summary.name)}: ${summary.revenue_gap:,}")
    output.print_line("")
    for index, cause in enumerate(diagnosis.root_causes, start=1):
        output.print_line(f"{index}. {cause.evidence}")
    output.print_line("")
    if diagnosis.discrepancy:
        output.print_line("[red]the platform's table does not match the feed[/]", markup=True)
    else:
        output.print_line("[green]the platform's table matches the feed[/]", markup=True)
    output.show_next_steps(diagnosis, {})
