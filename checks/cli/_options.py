"""Options shared by several commands; typer only, so ``checks --help`` stays instant."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional

import typer

from checks.engines import DEFAULT_ENGINE  # noqa: F401  (the commands' default)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help=(
            "What reads, validates and deduplicates the feed: polars (fast, default), pandas, duckdb (out of core, "
            "bounded memory), or spark (also reads s3a://, hdfs:// and file:// locations)."
        ),
    ),
]
SparkMasterOption = Annotated[
    str, typer.Option("--spark-master", help="Spark master URL, with --engine spark (local[*], spark://host:7077).")
]
DEFAULT_SPARK_MASTER = "local[*]"
FinanceTotalOption = Annotated[
    Optional[int], typer.Option("--finance-total", min=0, help="Total spend finance reported, in dollars.")
]
GxDirOption = Annotated[Path, typer.Option("--gx-dir", help="Great Expectations project folder.")]
DEFAULT_GX_DIR = Path("gx")
DocsOption = Annotated[bool, typer.Option("--docs/--no-docs", help="Build the Data Docs site.")]
EtaOption = Annotated[
    Optional[str],
    typer.Option("--eta", help="When the corrected figures will be live, as the customer's email says it (\"by Friday\"); none: no date promised."),
]
SenderNameOption = Annotated[Optional[str], typer.Option("--sender-name", help="Who signs both emails (a person's name).")]
LedgerOption = Annotated[
    Optional[Path],
    typer.Option("--ledger", help="The landing zone's ledger.sqlite: the emails then cite when each file landed and was fetched, and its sha256."),
]


def engine_module(engine: str, spark_master: str = DEFAULT_SPARK_MASTER) -> ModuleType:
    """The engine module for ``--engine``, with Spark pointed at ``--spark-master``."""
    from checks.engines import get_engine

    module = get_engine(engine)
    if engine == "spark":
        module.configure(master=spark_master)
    return module
