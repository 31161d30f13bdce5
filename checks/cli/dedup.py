"""``checks dedup``: validate a feed and write its deduplicated table with lineage, without the suites."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._options import DEFAULT_ENGINE, DEFAULT_SPARK_MASTER, EngineOption, JsonOption, SparkMasterOption


def register(app: typer.Typer) -> None:
    app.command("dedup")(dedup)


def dedup(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files.")],
    out: Annotated[Path, typer.Option(help="Folder for deduplicated.csv and deduplicated.parquet.")] = Path("out"),
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    memory_limit: Annotated[
        Optional[str],
        typer.Option(help="With --engine duckdb: DuckDB's memory limit (default 2.5GB, about 3 GB for the process); it spills to disk beyond."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Keep each user's row with the largest batch_id; quarantined files are left out.

    Exit 0 when the feed passes every check, 1 when a file was quarantined or a feed check failed.
    """
    from checks import output
    from checks.cli._options import engine_module
    from checks.engines.base import Capability, supports
    from checks.errors import UsageError
    from checks.writers import atomic_write_frame

    module = engine_module(engine, spark_master)
    outputs = [out / "deduplicated.csv", out / "deduplicated.parquet"]
    out_of_core = supports(module, Capability.OUT_OF_CORE_DEDUP)
    if memory_limit is not None and not out_of_core:
        raise UsageError("--memory-limit applies to --engine duckdb only")
    with output.stage_progress() as on_stage:
        on_file = lambda delta_file: on_stage(f"validate {delta_file.name}")  # noqa: E731
        if out_of_core:
            # The engine writes the table itself and never holds it in memory.
            limit = {} if memory_limit is None else {"memory_limit": memory_limit}
            result = module.deduplicate_feed_folder(feed, outputs, on_file=on_file, **limit)
            users, total_spend, written = result.users, result.total_spend, list(result.outputs)
        else:
            result = module.check_feed_folder(feed, on_file=on_file)
            on_stage("write outputs")
            written = [atomic_write_frame(path, result.deduplicated) for path in outputs]
            users, total_spend = len(result.deduplicated), int(result.deduplicated["total_spend"].sum())
    if json:
        output.print_json(
            {
                "passed": result.passed,
                "users": users,
                "total_spend": total_spend,
                "quarantined": list(result.quarantined),
                "feed_failures": len(result.feed_failures),
                "outputs": [str(path) for path in written],
            }
        )
    else:
        output.show_validations(result.validations)
        output.show_failures(result.failures)
        output.print_line(f"{users:,} users, total_spend {total_spend:,} -> {', '.join(str(path) for path in written)}")
    raise typer.Exit(0 if result.passed else 1)
