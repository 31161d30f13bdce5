"""What every engine provides, and what one may add: the engines' contract, with capabilities declared, never guessed.

An engine is a module of ``checks.engines`` that offers ``Engine``'s members with exactly the pandas
path's answers; only the speed and the memory differ. An engine may hold an integer column as int32
instead of int64 when every value of it lies within ``checks.engines._frames.NARROW_LIMIT`` (2**30):
lossless, half the memory, and the difference of any two values still fits. Everything downstream
sums in int64 and writes such a column as int64, so no answer or output depends on it.

What an engine adds is declared in its ``CAPABILITIES``, each with the members it brings (the
protocols below): callers ask ``supports(engine, Capability...)``, never the engine's name.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    import pandas as pd

    from checks.contract import Contract
    from checks.encoding import Encoding
    from checks.diagnose import Diagnosis
    from checks.model import Delta, DeltaFile
    from checks.results import DeltaValidation, FeedCheck, FeedVerdict


class Capability(Enum):
    """What an engine may add to ``Engine``; each names the protocol whose members come with it."""

    OUT_OF_CORE_DEDUP = "out-of-core dedup"  # OutOfCoreDedup: the table written without being held
    OWN_LISTING = "own listing"  # OwnListing: feed folders at URIs (s3a://, hdfs://, file://)
    OWN_DIAGNOSIS = "own diagnosis"  # OwnDiagnosis: the reconciliation where the rows are
    CLUSTER = "cluster"  # Cluster: a master to run on, chosen before the first job
    ANY_CONTRACT = "any contract"  # AnyContract: every contract's types and rules, taking its run's ``encoding``
    READS_BESIDE = "reads beside"  # ReadsBeside: a plain contract's tables read on a thread while the deltas are validated


class Engine(Protocol):
    """What every engine provides, with the answers of the pandas path (``checks.pipeline`` and the stages)."""

    NAME: str
    CAPABILITIES: frozenset[Capability]

    def read_and_validate(self, delta_file: DeltaFile) -> DeltaValidation:
        """Read one delta file and validate it (``checks.validate.read_and_validate``)."""

    def check_feed_folder(
        self, directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None
    ) -> FeedCheck:
        """Validate every delta of a feed folder, check across the files, deduplicate (``checks.pipeline``)."""

    def check_validations(self, validations: Sequence[DeltaValidation]) -> FeedCheck:
        """The checks across the files and the dedup over validated deltas (``checks.pipeline``)."""

    def check_feed(self, deltas: Sequence[Delta]) -> pd.DataFrame:
        """The failures across the deltas, already in feed order (``checks.crossfeed.check_feed``)."""

    def read_table(self, path: str | Path) -> pd.DataFrame:
        """A loaded table as int64 columns; a non-integer cell is bad input (``checks.feed.read_table``)."""


class OutOfCoreDedup(Engine, Protocol):
    """``Capability.OUT_OF_CORE_DEDUP``: the feed checked and its table written with bounded memory."""

    def deduplicate_feed_folder(
        self,
        directory: str | Path,
        outputs: Sequence[str | Path],
        *,
        memory_limit: str = ...,
        spill_directory: str | Path | None = None,
        on_file: Callable[[DeltaFile], None] | None = None,
        encoding: Encoding | None = None,
    ) -> FeedVerdict:
        """Check every delta and write the deduplicated table to ``outputs`` without holding it (``encoding``: the
        run's, for an engine that also has ``Capability.ANY_CONTRACT``)."""


class OwnListing(Engine, Protocol):
    """``Capability.OWN_LISTING``: the engine lists feed folders itself, at a local path or a URI."""

    def discover_deltas(self, directory: str | Path, contract: Contract | None = None) -> list[DeltaFile]:
        """``checks.feed.discover_deltas`` of a folder the engine reads: the files ``contract`` names."""


class OwnDiagnosis(Engine, Protocol):
    """``Capability.OWN_DIAGNOSIS``: the engine diagnoses with ``checks.diagnose.diagnose``'s answers."""

    def diagnose(
        self,
        deltas: Sequence[Delta],
        platform: pd.DataFrame,
        customer: pd.DataFrame | None,
        finance_total: int | None = None,
        *,
        deduplicated: pd.DataFrame | None = None,
    ) -> Diagnosis:
        """The diagnosis of the platform's table against the feed."""


class AnyContract(Engine, Protocol):
    """``Capability.ANY_CONTRACT``: reading, validation, the checks across files and the dedup take the run's
    ``encoding=`` (its contract and dictionaries). Engines without it check contracts of the first customer's
    rules only (``checks.rules.first_customer_rules``), and ``check_contract`` says so in one line."""


class ReadsBeside(Engine, Protocol):
    """``Capability.READS_BESIDE``: with a plain contract (no dictionaries to fill in order) ``read_table`` may run on
    a thread while ``read_and_validate`` and ``check_validations`` run, the reading letting go of the interpreter lock."""


class Cluster(Engine, Protocol):
    """``Capability.CLUSTER``: the engine runs on a master chosen before its first job."""

    def configure(self, *, master: str, log: Path | None = None) -> None:
        """Choose the master (``local[*]``, ``spark://host:7077``, ...) and the file the engine's own log lines go to
        (None: the terminal)."""


def supports(engine: Engine, capability: Capability) -> bool:
    """Whether ``engine`` declares ``capability`` (and so offers the members that come with it)."""
    return capability in engine.CAPABILITIES


def discover_on(engine: Engine) -> Callable[[str | Path], list[DeltaFile]]:
    """How ``engine`` lists a feed folder: its own listing (``Capability.OWN_LISTING``), else ``checks.feed``'s."""
    if supports(engine, Capability.OWN_LISTING):
        return cast(OwnListing, engine).discover_deltas
    from checks.feed import discover_deltas

    return discover_deltas


def diagnose_on(engine: Engine) -> Callable[..., Diagnosis]:
    """How ``engine`` diagnoses: its own way (``Capability.OWN_DIAGNOSIS``, Spark: the reconciliation in
    Spark SQL), else ``checks.diagnose.diagnose``."""
    if supports(engine, Capability.OWN_DIAGNOSIS):
        return cast(OwnDiagnosis, engine).diagnose
    from checks.diagnose import diagnose

    return diagnose


# Each capability's protocol: the members an engine that declares it must offer (tests hold every engine to it).
PROTOCOLS: dict[Capability, type[Engine]] = {
    Capability.OUT_OF_CORE_DEDUP: OutOfCoreDedup,
    Capability.OWN_LISTING: OwnListing,
    Capability.OWN_DIAGNOSIS: OwnDiagnosis,
    Capability.CLUSTER: Cluster,
    Capability.ANY_CONTRACT: AnyContract,
    Capability.READS_BESIDE: ReadsBeside,
}


def check_contract(engine: Engine, encoding: Encoding) -> dict[str, Encoding]:
    """The keyword arguments that hand ``engine`` the run's encoding; a contract it cannot check is a usage error."""
    if supports(engine, Capability.ANY_CONTRACT):
        return {"encoding": encoding}
    from checks.rules import first_customer_rules

    if not first_customer_rules(encoding):
        from checks.errors import UsageError

        raise UsageError(
            f"--engine {engine.NAME} checks contracts with the first customer's rules only (five integer columns, "
            f"as contracts/user-summary.yaml); contract {encoding.contract.id!r} has others: use --engine polars or pandas"
        )
    return {}
