"""Options shared by ``ingest``, ``audit`` and ``gate``, and the guard that tells a broken pipeline from bad data.

Typer only at import, so ``checks --help`` stays instant.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.errors import ChecksError, InfrastructureError

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
OptionalSourceOption = Annotated[
    Optional[str],
    typer.Option(
        "--source",
        help="Landing zone: a local folder or s3://bucket/prefix (or give --feeds). S3 endpoint, region and credentials "
        "come only from the standard AWS environment variables and config (AWS_ENDPOINT_URL, AWS_PROFILE, ...).",
    ),
]
FeedsOption = Annotated[
    Optional[Path],
    typer.Option("--feeds", help="Feeds file (TOML): check every feed it lists, one decision each (docs/landing-zone.md)."),
]
FeedNameOption = Annotated[
    Optional[list[str]], typer.Option("--feed", metavar="NAME", help="With --feeds: only this feed (repeat for several).")
]
CadenceOption = Annotated[
    str,
    typer.Option(
        "--cadence",
        help="Longest expected time between drops: 35d, 4w, 24h, off, or auto (the contract's slaProperties "
        "frequency, else learned from the feed's arrivals).",
    ),
]
AnomalyOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--anomaly",
        metavar="NAME=VALUE",
        help="An anomaly threshold (repeat for several): history=3, window=12, tolerance=0.25, robust_z=3.5, "
        "ratio=2, late_factor=1.5 (docs/landing-zone.md).",
    ),
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
DEFAULT_CADENCE = "auto"


def refuse_per_feed_options(given: dict[str, bool]) -> None:
    """With ``--feeds``, a feed's own settings come from the feeds file: one given on the command line is a usage error."""
    from checks.errors import UsageError

    names = [name for name, present in given.items() if present]
    if names:
        raise UsageError(f"with --feeds, each feed's {', '.join(names)} comes from the feeds file")


@contextmanager
def could_not_decide(
    log_dir: Path, command: str, on_failure: Callable[[str, Path | None], None] | None = None
) -> Iterator[None]:
    """A failure of the machinery (ledger, disk, keyring copy, a bug) becomes exit 3, never a verdict on the data.

    One line says what broke and what to check; the traceback goes to ``LOG_DIR/checks-COMMAND-error.log``
    (the system temp folder when that is not writable); ``on_failure(line, log)`` lets the gate still
    write its ``gate.json``. Errors about the data or the arguments pass through unchanged.
    """
    try:
        yield
    except ChecksError as error:
        if not isinstance(error, InfrastructureError):
            raise
        raise _infrastructure(str(error), log_dir, command, on_failure) from error
    except Exception as error:  # noqa: BLE001 - anything unforeseen is the pipeline's failure, not the data's
        raise _infrastructure(_describe(error), log_dir, command, on_failure) from error


def _describe(error: Exception) -> str:
    import sqlite3

    if isinstance(error, sqlite3.Error):
        return f"the ledger failed ({error}); check the ledger file, its permissions and the disk"
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return f"cannot use{where}: {error.strerror or error}; check permissions, free space and mounts"
    return f"internal error ({type(error).__name__}: {error}); report it with the log"


def _infrastructure(
    line: str, log_dir: Path, command: str, on_failure: Callable[[str, Path | None], None] | None
) -> InfrastructureError:
    log = _write_log(log_dir, command)
    if on_failure is not None:
        try:
            on_failure(line, log)
        except OSError:
            pass  # the output folder itself is broken: the line on stderr is all we can give
    return InfrastructureError(f"could not decide: {line}" + (f" (traceback in {log})" if log else ""))


def _write_log(log_dir: Path, command: str) -> Path | None:
    import tempfile

    from checks.writers import atomic_write_text

    text = traceback.format_exc()
    for folder in (log_dir, Path(tempfile.gettempdir())):
        try:
            return atomic_write_text(folder / f"checks-{command}-error.log", text)
        except OSError:
            continue
    return None
