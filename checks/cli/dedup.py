"""``checks dedup``: validate a feed and write its deduplicated table with lineage, without the suites."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from checks.cli._options import DEFAULT_ENGINE, DEFAULT_SPARK_MASTER, EngineOption, JsonOption, SparkMasterOption


def register(app: typer.Typer) -> None:
    app.command("dedup")(dedup)


def dedup(
    feed: Annotated[Path, typer.Option(help="Folder of delta CSV files.")],
    out: Annotated[Path, typer.Option(help="Folder for deduplicated.csv and deduplicated.parquet.")] = Path("out"),
    engine: EngineOption = DEFAULT_ENGINE,
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    json: JsonOption = False,
) -> None:
    """Keep each user's row with the largest batch_id; quarantined files are left out.

    Exit 0 when the feed passes every check, 1 when a file was quarantined or a feed check failed.
    """
    from checks import output
    from checks.cli._options import engine_module
    from checks.writers import atomic_write_frame

    result = engine_module(engine, spark_master).check_feed_folder(feed)
    written = [
        atomic_write_frame(out / "deduplicated.csv", result.deduplicated),
        atomic_write_frame(out / "deduplicated.parquet", result.deduplicated),
    ]
    if json:
        output.print_json(
            {
                "passed": result.passed,
                "users": len(result.deduplicated),
                "total_spend": int(result.deduplicated["total_spend"].sum()),
                "quarantined": list(result.quarantined),
                "feed_failures": len(result.feed_failures),
                "outputs": [str(path) for path in written],
            }
        )
    else:
        output.show_validations(result.validations)
        output.show_failures(result.failures)
        output.print_line(
            f"{len(result.deduplicated):,} users, total_spend {int(result.deduplicated['total_spend'].sum()):,}"
            f" -> {', '.join(str(path) for path in written)}"
        )
    raise typer.Exit(0 if result.passed else 1)
