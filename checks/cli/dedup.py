"""``checks dedup``: validate a feed and write its deduplicated table with lineage, without the suites."""
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
    app.command("dedup")(dedup)


def dedup(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files.")],
    out: Annotated[
        Path,
        typer.Option(help="Folder for deduplicated.csv and deduplicated.parquet; with --engine spark also s3a://bucket/prefix."),
    ] = Path("out"),
    contract: ContractOption = None,
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    verbose: VerboseOption = False,
    memory_limit: Annotated[
        Optional[str],
        typer.Option(help="With --engine duckdb: DuckDB's memory limit (default 2.5GB, about 3 GB for the process); it spills to disk beyond."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Keep each key's row with the largest version (the contract's); quarantined files are left out.

    Exit 0 when the feed passes every check, 1 when a file was quarantined or a feed check failed.
    """
    from checks import output
    from checks.cli._options import encoding_of, engine_and_output_folder
    from checks.engines.base import Capability, check_contract, supports
    from checks.errors import UsageError
    from checks.reconcile import amount_total
    from checks.wording import Words
    from checks.results import write_deduplicated_files

    with engine_and_output_folder(engine, spark_master, verbose=verbose, out=out) as (module, out_dir):
        encoding = encoding_of(contract)
        with_encoding = check_contract(module, encoding)
        words = Words.of(encoding)
        outputs = [out_dir / "deduplicated.csv", out_dir / "deduplicated.parquet"]
        out_of_core = supports(module, Capability.OUT_OF_CORE_DEDUP)
        if memory_limit is not None and not out_of_core:
            raise UsageError("--memory-limit applies to --engine duckdb only")
        with output.stage_progress() as on_stage:
            on_file = lambda delta_file: on_stage(f"validate {delta_file.name}")  # noqa: E731
            if out_of_core:
                # The engine writes the table itself and never holds it in memory.
                limit = {} if memory_limit is None else {"memory_limit": memory_limit}
                result = module.deduplicate_feed_folder(feed, outputs, on_file=on_file, **limit, **with_encoding)
                users, total, written = result.users, result.amount_total, list(result.outputs)
            else:
                result = module.check_feed_folder(feed, on_file=on_file, **with_encoding)
                on_stage("write outputs")
                written = write_deduplicated_files(outputs, result.deduplicated, encoding)
                users, total = len(result.deduplicated), amount_total(result.deduplicated, encoding.contract.shape)
        if out_dir != out:  # written in a staging folder: named where they end
            from checks.engines.spark_files import destination

            written = [destination(path) for path in written]
    amount = encoding.contract.shape.amount
    if json:
        output.print_json(
            {
                "passed": result.passed,
                "users": users,
                **({amount: words.plain_amount(total)} if amount else {}),
                "quarantined": list(result.quarantined),
                "feed_failures": len(result.feed_failures),
                "outputs": [str(path) for path in written],
            }
        )
    else:
        output.show_validations(result.validations)
        output.show_failures(result.failures)
        summed = f", {amount} {words.money(total)}" if amount else ""
        output.print_line(f"{users:,} {words.keys}{summed} -> {', '.join(str(path) for path in written)}", markup=False)
    raise typer.Exit(0 if result.passed else 1)
