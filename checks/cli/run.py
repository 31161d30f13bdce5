"""``checks run``: the whole check of a case; with no arguments, the synthetic sample in ``data/``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from checks.cli._options import (
    ContractOption,
    DEFAULT_ENGINE,
    DEFAULT_GX_DIR,
    DEFAULT_SPARK_MASTER,
    DocsOption,
    EngineOption,
    EtaOption,
    FinanceTotalOption,
    GxDirOption,
    JsonOption,
    LedgerOption,
    SenderNameOption,
    SparkMasterOption,
    VerboseOption,
)

if TYPE_CHECKING:
    from checks.runner import RunResult


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    case: Annotated[
        Optional[Path], typer.Option(help="Case file naming feed, tables and finance total \\[default: data/case.toml].")
    ] = None,
    feed: Annotated[Optional[Path], typer.Option(help="Folder of delta CSV files.")] = None,
    platform: Annotated[Optional[Path], typer.Option(help="The platform's loaded table (CSV).")] = None,
    customer: Annotated[Optional[Path], typer.Option(help="The customer's own export (CSV).")] = None,
    finance_total: FinanceTotalOption = None,
    contract: ContractOption = None,
    out: Annotated[
        Path,
        typer.Option(help="Folder for outputs (dedup CSV/Parquet, report, summary); with --engine spark also s3a://bucket/prefix."),
    ] = Path("out"),
    gx_dir: GxDirOption = DEFAULT_GX_DIR,
    docs: DocsOption = True,
    customer_company: Annotated[Optional[str], typer.Option(help="Customer's company name, for the report.")] = None,
    customer_contact: Annotated[Optional[str], typer.Option(help="Customer's contact, addressed in their email.")] = None,
    platform_company: Annotated[Optional[str], typer.Option(help="Platform's company name, for the report.")] = None,
    engineer_name: Annotated[Optional[str], typer.Option(help="Platform's backend engineer, addressed in their email.")] = None,
    sender_name: SenderNameOption = None,
    eta: EtaOption = None,
    ledger: LedgerOption = None,
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    verbose: VerboseOption = False,
    json: JsonOption = False,
) -> None:
    """Validate the feed, deduplicate it, run the expectation suites on every table and explain any gap.

    Exit 0 when everything passes, 1 when a check fails, 2 on bad input.
    """
    from checks.config import DEFAULT_CASE, Case, load_case
    from checks.cli._options import finance_total_of
    from checks.sidecar import Sidecar

    if case is None and feed is None:
        case = DEFAULT_CASE
    chosen = load_case(case) if case is not None else Case()
    chosen = chosen.override(
        feed=feed, platform=platform, customer=customer, finance_total=finance_total_of(finance_total), contract=contract,
        eta=eta, ledger=ledger,
    )
    names = chosen.names.override(
        customer_company=customer_company,
        customer_contact=customer_contact,
        platform_company=platform_company,
        engineer_name=engineer_name,
        sender_name=sender_name,
    )
    chosen = chosen.override(names=names)
    # The helper process starts first: its imports (GX's, 4 CPU-s) run on the other core while this one imports
    # what the run needs (pandas, Polars, the engine: about 1 CPU-s, the other core idle otherwise).
    with Sidecar.for_run() as helper:
        from checks import output
        from checks.cli._options import engine_and_output_folder
        from checks.runner import run_case

        with (
            engine_and_output_folder(engine, spark_master, verbose=verbose, out=out) as (module, out_dir),
            output.stage_progress() as on_stage,
        ):
            result = run_case(
                chosen,
                out_dir=out_dir,
                gx_dir=gx_dir,
                build_docs=docs,
                engine=module,
                on_stage=on_stage,
                on_warning=output.print_warning,
                helper=helper,
            )
            if out_dir != out:
                result = _at_destination(result)
    if json:
        output.print_json(result.to_dict())
    else:
        output.show_run(result)
    raise typer.Exit(0 if result.passed else 1)


def _at_destination(result: RunResult) -> RunResult:
    """A run whose outputs went to a staging folder (``--out s3a://...``), its outputs and ``summary.json`` naming where
    the files end."""
    from dataclasses import replace

    from checks.engines.spark_files import destination
    from checks.runner import write_summary

    staged = result.outputs["summary"]
    result = replace(result, outputs={name: destination(Path(path)) for name, path in result.outputs.items()})
    write_summary(result, Path(staged))
    return result
