"""Options shared by several commands; typer only, so ``checks --help`` stays instant."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, cast

import typer

from checks.engines import DEFAULT_ENGINE  # noqa: F401  (the commands' default)

if TYPE_CHECKING:
    from decimal import Decimal

    from checks.encoding import Encoding
    from checks.engines.base import Engine

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
    Optional[str],
    typer.Option(
        "--finance-total",
        help="The total finance reported, in units of the contract's amount column (dollars; 1234.56 for a decimal amount).",
    ),
]
ContractOption = Annotated[
    Optional[Path],
    typer.Option(
        "--contract",
        help="The feed's ODCS contract (YAML) [default: the first customer's, contracts/user-summary.yaml].",
    ),
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


VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        help="With --engine spark: show Spark's and the JVM's own log lines on the terminal (else they go to spark.log "
        "in the output folder; checks-spark.log in the system's temporary folder for commands without one).",
    ),
]
SPARK_LOG = "spark.log"


def engine_module(
    engine: str, spark_master: str = DEFAULT_SPARK_MASTER, *, verbose: bool = False, log_folder: Path | None = None
) -> Engine:
    """The engine for ``--engine``; one that runs on a cluster (Spark) pointed at ``--spark-master``, its own log
    lines in ``log_folder``/spark.log (the system's temporary folder when None) unless ``verbose``."""
    from checks.engines import get_engine
    from checks.engines.base import Capability, Cluster, supports

    module = get_engine(engine)
    if supports(module, Capability.CLUSTER):
        import tempfile

        if verbose:
            log = None
        elif log_folder is not None:
            log = log_folder / SPARK_LOG
        else:
            log = Path(tempfile.gettempdir()) / f"checks-{SPARK_LOG}"
        cast(Cluster, module).configure(master=spark_master, log=log)
    return module


@contextmanager
def engine_and_output_folder(
    engine: str, spark_master: str, *, verbose: bool, out: Path
) -> Iterator[tuple[Engine, Path]]:
    """The engine for ``--engine`` and the local folder a command writes its outputs in: ``out`` itself, or for an
    output folder at a URI (``s3a://bucket/prefix``, ``--engine spark`` only) a staging folder standing for it
    (``checks.engines.spark_files.output_folder``), whose files are there once the block ends without an error."""
    from checks.feed import is_uri

    if not is_uri(out):
        yield engine_module(engine, spark_master, verbose=verbose, log_folder=out), out
        return
    import tempfile

    from checks.engines import get_engine
    from checks.engines.base import Capability, supports
    from checks.errors import UsageError
    from checks.feed import location

    # The engine that opens URIs itself (Spark, through Hadoop) is the one that writes there.
    if not supports(get_engine(engine), Capability.OWN_LISTING):
        raise UsageError(f"--out {location(out)}: an output folder at a URI is written by --engine spark only; give a local folder")
    from checks.engines.spark_files import output_folder

    with tempfile.TemporaryDirectory(prefix="checks-out-") as staging:
        module = engine_module(engine, spark_master, verbose=verbose, log_folder=Path(staging))
        with output_folder(out, Path(staging)):
            yield module, Path(staging)


def encoding_of(contract: Path | None) -> Encoding:
    """The run's encoding for ``--contract`` (the first customer's contract when None)."""
    from checks.contract import contract_or_default
    from checks.encoding import Encoding

    return Encoding.of(contract_or_default(contract))


def finance_total_of(text: str | None) -> int | Decimal | None:
    """``--finance-total``: a whole number, or an exact decimal; anything else is bad input."""
    from checks.config import parse_amount

    return None if text is None else parse_amount(text, "--finance-total")
