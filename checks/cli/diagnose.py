"""``checks diagnose``: reconcile the platform's table with the feed and name the root causes of the gap."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from checks.cli._options import (
    ContractOption,
    DEFAULT_ENGINE,
    DEFAULT_SPARK_MASTER,
    EngineOption,
    FinanceTotalOption,
    JsonOption,
    SparkMasterOption,
    VerboseOption,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from checks.diagnose import Diagnosis
    from checks.encoding import Encoding
    from checks.engines.base import Engine


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose_command)


def diagnose_command(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files (delta0.csv, delta1.csv, ...).")],
    platform: Annotated[Path, typer.Option(help="The platform's loaded table (CSV).")],
    customer: Annotated[Optional[Path], typer.Option(help="The customer's own export (CSV).")] = None,
    finance_total: FinanceTotalOption = None,
    contract: ContractOption = None,
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    verbose: VerboseOption = False,
    json: JsonOption = False,
) -> None:
    """Classify every key, attribute the gap to root causes by simulating faults on the feed.

    Exit 0 when the platform matches the feed, 1 when it does not, 2 on bad input.
    """
    from checks import output

    from checks.cli._options import encoding_of, engine_module, finance_total_of

    diagnosis = load_and_diagnose(
        feed, platform, customer, finance_total_of(finance_total), engine=engine_module(engine, spark_master, verbose=verbose),
        encoding=encoding_of(contract),
    )
    if json:
        output.print_json(diagnosis.to_dict())
    else:
        _show(diagnosis)
    raise typer.Exit(1 if diagnosis.discrepancy else 0)


def load_and_diagnose(
    feed: Path,
    platform: Path,
    customer: Path | None = None,
    finance_total: int | Decimal | None = None,
    *,
    engine: Engine | None = None,
    encoding: Encoding | None = None,
) -> Diagnosis:
    """Read the feed (quarantining files that fail validation) and both tables, then diagnose, on ``engine``
    (the default one when None; Spark reconciles in Spark SQL), against ``encoding``'s contract."""
    from checks import output
    from checks.encoding import default_encoding
    from checks.engines import DEFAULT_ENGINE, get_engine
    from checks.engines.base import check_contract, diagnose_on
    from checks.validate import quarantined_rows

    engine = engine or get_engine(DEFAULT_ENGINE)
    with_encoding = check_contract(engine, encoding or default_encoding())
    with output.progress_step("checking the feed"):
        checked = engine.check_feed_folder(feed, **with_encoding)
    for name in checked.quarantined:
        output.print_warning(f"{name} failed validation and is left out of the expected table")
    platform_table = engine.read_table(platform, warn=output.print_warning, **with_encoding)
    customer_table = engine.read_table(customer, warn=output.print_warning, **with_encoding) if customer is not None else None
    with output.progress_step("reconciling and testing hypotheses"):
        return diagnose_on(engine)(
            checked.deltas, platform_table, customer_table, finance_total, deduplicated=checked.deduplicated_rows,
            quarantined=quarantined_rows(feed, checked.validations, encoding or default_encoding()), **with_encoding
        )


def _show(diagnosis: Diagnosis) -> None:
    from checks import output
    from checks.reconcile import CLASS_WORDS

    words, reconciliation = diagnosis.words, diagnosis.reconciliation
    totals = {"expected": reconciliation.expected_total, "platform": reconciliation.platform_total,
              "customer": reconciliation.customer_total, "finance": diagnosis.finance_total, "gap": reconciliation.gap}
    if words.has_amount:  # without an amount every total is 0
        for key, value in totals.items():
            if value is not None:
                output.print_line(f"{key:>9}: {words.money(value)}")
        output.print_line("")
    for summary in reconciliation.classes:
        if summary.users:
            output.print_line(
                f"{summary.users:>9,} {words.keys} {CLASS_WORDS.get(summary.name, summary.name)}{words.money_part(': {}', summary.revenue_gap)}"
            )
    output.print_line("")
    for index, cause in enumerate(diagnosis.root_causes, start=1):
        output.print_line(f"{index}. {cause.evidence}")
    output.print_line("")
    if diagnosis.discrepancy:
        output.print_line("[red]the platform's table does not match the feed[/]", markup=True)
    else:
        output.print_line("[green]the platform's table matches the feed[/]", markup=True)
    output.show_next_steps(diagnosis, {})
