"""Options shared by ``ingest``, ``audit`` and ``gate``; typer only, so ``checks --help`` stays instant."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._options import JsonOption  # noqa: F401  (re-exported for the landing commands)

SourceOption = Annotated[
    str,
    typer.Option(
        "--source",
        help="Landing zone: a local folder or s3://bucket/prefix. S3 endpoint, region and credentials "
        "come only from the standard AWS environment variables and config (AWS_ENDPOINT_URL, AWS_PROFILE, ...).",
    ),
]
LedgerOption = Annotated[Path, typer.Option("--ledger", help="Ingestion ledger (SQLite file).")]
StageOption = Annotated[Path, typer.Option("--stage", help="Staging folder for decrypted, validated deltas.")]
CadenceOption = Annotated[
    str, typer.Option("--cadence", help="Longest expected time between drops: 35d, 4w, 24h, or off.")
]
BatchGapOption = Annotated[
    Optional[int],
    typer.Option(
        "--batch-gap",
        min=0,
        help="Largest jump in batch_id between consecutive deltas that is not a gap "
        "[default: the largest jump inside any staged delta].",
    ),
]

DEFAULT_LEDGER = Path("landing/ledger.sqlite")
DEFAULT_STAGE = Path("landing/stage")
DEFAULT_CADENCE = "35d"
