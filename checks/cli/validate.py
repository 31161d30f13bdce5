"""``checks validate``: validate delta files, alone or against the history already on disk."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._options import (
    DEFAULT_ENGINE,
    DEFAULT_SPARK_MASTER,
    ContractOption,
    EngineOption,
    JsonOption,
    SparkMasterOption,
    VerboseOption,
)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(
    files: Annotated[list[Path], typer.Argument(help="Delta CSV files to validate (named as the contract's file pattern says, e.g. delta5.csv).")],
    history: Annotated[
        Optional[Path], typer.Option(help="Folder of deltas already received; the files are checked against it.")
    ] = None,
    contract: ContractOption = None,
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    verbose: VerboseOption = False,
    json: JsonOption = False,
    failures_csv: Annotated[Optional[Path], typer.Option(help="Write every failure to this CSV file.")] = None,
) -> None:
    """Validate delta files with the per-delta schema and the checks across the feed.

    Exit 0 when every file passes, 1 when a check fails, 2 on bad input.
    """
    from checks import output
    from checks.cli._options import encoding_of, engine_module
    from checks.validation_run import validate_against_history
    from checks.writers import atomic_write_frame

    result = validate_against_history(
        files, history, engine=engine_module(engine, spark_master, verbose=verbose), encoding=encoding_of(contract)
    )
    failures = result.failures
    if failures_csv is not None:
        atomic_write_frame(failures_csv, failures)
    if json:
        output.print_json(result.to_dict())
    else:
        output.show_validations(result.validations)
        if history is not None:
            output.print_line(f"checked against {len(result.history)} delta(s) of history in {history}")
        if not result.feed_failures.empty:
            output.print_line(f"{len(result.feed_failures):,} failure(s) across the feed", markup=False)
        output.show_failures(failures)
        output.print_line("[green]all checks passed[/]" if result.passed else "[red]checks failed[/]", markup=True)
    raise typer.Exit(0 if result.passed else 1)
