"""The whole check of one case, stage by stage: feed checks, dedup output, expectation suites, diagnosis, report.

This is what ``checks run`` does; the gate and the benchmarks call it too. Stages are timed, and
the process's peak memory is noted after each, so that a slow or greedy one shows up in
``summary.json``.
"""
from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from checks.config import Case
from checks.contract import contract_or_default
from checks.encoding import Encoding
from checks.engines.base import Capability, Engine, check_contract, diagnose_on, discover_on, supports
from checks.errors import UsageError
from checks.feed import discover_deltas, refuse_missing_table
from checks.pages import plain_pages
from checks.peak import peak_memory_bytes, reusing_freed_memory, stop_reusing_freed_memory
from checks.results import DeltaValidation, FeedCheck, suites_table
from checks.sidecar import Sidecar
from checks.validate import quarantined_rows
from checks.writers import atomic_write_text

if TYPE_CHECKING:
    from checks.arrivals import Arrival
    from checks.contract import Contract
    from checks.report import ReportNames


@dataclass(frozen=True)
class RunResult:
    """What a run found and wrote; ``passed`` is the load decision."""

    case: Case
    feed: FeedCheck
    suites: Any | None
    diagnosis: Any | None
    outputs: dict[str, Path | str]  # a URI as text (an output folder at one: ``--out s3a://...``)
    timings: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    helper_process: dict[str, float | int] | None = None  # the Sidecar's CPU seconds and peak, when there was one

    @property
    def passed(self) -> bool:
        """Every delta and check across the feed passed, every suite passed, and the platform's table holds each key's
        latest row as the feed sent it: a value a load changed in a column no expectation speaks of (a count set to
        0, a plan upper-cased) is a discrepancy too, as ``checks diagnose`` says it with its exit code."""
        suites_pass = self.suites is None or all(result.success for result in self.suites.results)
        platform_matches = self.diagnosis is None or not self.diagnosis.discrepancy
        return self.feed.passed and suites_pass and platform_matches

    def _amount_total(self) -> dict[str, Any]:
        """The deduplicated table's total, keyed by the amount column's name."""
        from checks.wording import Words

        shape = self.feed.encoding.contract.shape
        if shape.amount is None:
            return {}
        return {shape.amount: Words.of(self.feed.encoding).plain_amount(self.feed.amount_total())}

    def to_dict(self) -> dict[str, Any]:
        from checks.output import failures_to_records

        return {
            "passed": self.passed,
            "feed": {
                "folder": str(self.case.feed),
                "files": [validation.summary() for validation in self.feed.validations],
                "quarantined": list(self.feed.quarantined),
                "users": self.feed.user_count,
                **self._amount_total(),
                "failures": failures_to_records(self.feed.failures.head(1000)),
                "failure_count": len(self.feed.failures),
            },
            "suites": self.suites.to_dict() if self.suites is not None else None,
            "diagnosis": self.diagnosis.to_dict() if self.diagnosis is not None else None,
            "outputs": {name: str(path) for name, path in self.outputs.items()},
            "timings_seconds": {name: round(seconds, 3) for name, seconds in self.timings.items()},
            # Every thread's, the stage's threads and the background imports alike: the figure to trust on a busy machine.
            "cpu_seconds": {name: round(seconds, 3) for name, seconds in self.cpu.items()},
            "helper_process": self.helper_process,
            "peak_memory_mb_after": self.peak_memory_mb,
        }


@plain_pages()  # every stage makes fresh arrays of millions of rows
@reusing_freed_memory()  # ... one after another: each on the pages of those freed before it
def run_case(
    case: Case,
    *,
    out_dir: Path,
    gx_dir: Path,
    build_docs: bool = True,
    engine: Engine | None = None,
    on_stage: Callable[..., None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    helper: Sidecar | None = None,
) -> RunResult:
    """Check the feed, write the deduplicated output, run the suites on every table, diagnose the platform's.

    ``on_stage(name, done=None, total=None)`` is called as each stage starts, and with counts as the
    deltas are validated one by one; ``on_warning(text)`` is told what was read other than asked
    (a table's columns ignored). ``helper`` is the run's helper process (``Sidecar.for_run``) when the caller
    started it already, before importing what the run needs; the run ends it.
    """
    if case.feed is None:
        raise UsageError("no feed given: pass --feed DIR or a case file with feed = ...")
    timings: dict[str, float] = {}
    peak_memory_mb: dict[str, int] = {}
    cpu: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if on_stage is not None:
            on_stage(name)
        started, cpu_started = time.perf_counter(), time.process_time()
        yield
        timings[name] = time.perf_counter() - started
        cpu[name] = time.process_time() - cpu_started
        peak_memory_mb[name] = _peak_memory_mb()

    arrivals = case_arrivals(case)  # a ledger that cannot be read is refused before the work
    for table in (case.platform, case.customer):
        if table is not None:
            refuse_missing_table(table)

    if engine is None:
        from checks.engines import DEFAULT_ENGINE, get_engine

        engine = get_engine(DEFAULT_ENGINE)
    # A helper process imports GX and matplotlib while the feed is read, validates the suites' evidence while the
    # diagnosis runs, and draws the report's charts while the per-user table is written: neither is imported here.
    with (helper if helper is not None else Sidecar.for_run()) as helper:
        # One encoding for the run: the contract, and the dictionaries every table's strings are coded with.
        encoding = Encoding.of(contract_or_default(case.contract))
        with_encoding = check_contract(engine, encoding)

        # Where the engine can, the tables are read on a thread while the deltas are validated and deduplicated: each
        # side's single-threaded parts fill the other's idle core. A table's error still comes first; its warnings wait.
        warned: list[str] = []
        reads_beside = supports(engine, Capability.READS_BESIDE) and encoding.plain
        warn = warned.append if reads_beside and on_warning is not None else on_warning
        read_tables = functools.partial(_read_tables, case, engine, with_encoding, warn)
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read tables") as pool:
                with stage("read tables"):
                    beside = pool.submit(read_tables) if reads_beside else None
                    platform, customer = read_tables() if beside is None else (None, None)
                try:
                    with stage("validate deltas"):
                        validations = _validate_deltas(case.feed, engine, encoding.contract, with_encoding, on_stage)

                    with stage("feed checks and dedup"):
                        feed = engine.check_validations(validations, **with_encoding)
                except BaseException:
                    if beside is not None:
                        beside.result()  # a table's error is the run's, as when the tables were read first
                    raise
                if beside is not None:
                    with stage("finish reading tables"):
                        platform, customer = beside.result()
        finally:
            for text in warned:
                on_warning(text)

        # The outputs are written on a background thread while the suites and the diagnosis run.
        with stage("start writing outputs"):
            pending = feed.write_outputs(out_dir)
        outputs: dict[str, Path] = {}
        try:
            with stage("expectation suites"):
                shape = encoding.contract.shape
                # A table an engine holds elsewhere (Spark) is handed over as the engine's frame: its figures are
                # computed there, and only they and the evidence rows come to this process.
                tables = {"deduplicated": suites_table(feed.deduplicated_rows, shape.names)}
                if platform is not None:
                    tables["platform"] = suites_table(platform, shape.names)
                if customer is not None:
                    tables["customer"] = suites_table(customer, shape.names)
                suites_run = _start_suites(
                    tables,
                    helper,
                    # The deduplicated table holds each key's latest version already.
                    latest_batch=feed.latest_versions(),
                    finance_total=case.finance_total,
                    expected_users=feed.user_count,
                    gx_dir=gx_dir,
                    build_docs=build_docs,
                    encoding=encoding,
                )
                if suites_run.docs_index is not None:
                    outputs["data_docs"] = suites_run.docs_index

            diagnosis = None
            if platform is not None:
                from checks.discrepancies import DiscrepanciesWriter
                from checks.report import write_incident_report

                with DiscrepanciesWriter(out_dir) as discrepancies:
                    with stage("diagnosis"):
                        # The per-user table is written while the root causes are searched; an engine with a
                        # diagnosis of its own (Spark) writes it where its rows are, when the report asks.
                        early = {} if supports(engine, Capability.OWN_DIAGNOSIS) else {"on_listed": discrepancies.start}
                        diagnosis = diagnose_on(engine)(
                            feed.deltas, platform, customer, finance_total=case.finance_total, deduplicated=feed.deduplicated_rows,
                            quarantined=quarantined_rows(case.feed, feed.validations, encoding), **with_encoding, **early,
                        )

                    # The report renders the per-user table on threads while the diagnosis's results are held: heap
                    # blocks freed there stayed resident (10 M accounts: peak 6.1-6.3 GB against 5.4-5.5; at 10 M users
                    # the same CPU either way).
                    stop_reusing_freed_memory()
                    with stage("report"):
                        written = write_incident_report(
                            diagnosis,
                            out_dir,
                            names=report_names(case),
                            docs_index=suites_run.docs_index,
                            arrivals=arrivals,
                            submit=helper.submit,
                            discrepancies=discrepancies,
                        )
                        outputs.update({path.name: path for path in written})

            with stage("finish expectation suites"):
                suites = suites_run.result()
            if suites.docs_index is not None:
                incident_page = outputs.get("incident.html")
                if incident_page is not None and diagnosis.discrepancy:
                    from checks.data_docs import link_incident

                    link_incident(suites.docs_index, incident_page, suites.pages.get("platform"))
        except BaseException:
            # Let the writes end before the error leaves: the console script does not wait for threads.
            with contextlib.suppress(Exception):
                pending.wait()
            raise
        with stage("finish writing outputs"):
            outputs = {**pending.wait(), **outputs}

    result = RunResult(
        case=case,
        feed=feed,
        suites=suites,
        diagnosis=diagnosis,
        outputs=outputs,
        timings=timings,
        peak_memory_mb=peak_memory_mb,
        cpu=cpu,
        helper_process=helper.usage.to_dict() if helper.usage is not None else None,
    )
    outputs["summary"] = out_dir / "summary.json"
    write_summary(result, outputs["summary"])
    return result


def _read_tables(
    case: Case, engine: Engine, with_encoding: dict[str, Encoding], warn: Callable[[str], None] | None
) -> tuple[Any, Any]:
    """The case's platform and customer tables (None where the case names none)."""
    platform = engine.read_table(case.platform, warn=warn, **with_encoding) if case.platform is not None else None
    customer = engine.read_table(case.customer, warn=warn, **with_encoding) if case.customer is not None else None
    return platform, customer


def write_summary(result: RunResult, path: Path) -> Path:
    """``summary.json``: the run's result for machines (``RunResult.to_dict``)."""
    return atomic_write_text(path, json.dumps(result.to_dict(), indent=2, default=str) + "\n")


def _validate_deltas(
    feed: Path, engine: Engine, contract: Contract, with_encoding: dict[str, Encoding], on_stage: Callable[..., None] | None
) -> list[DeltaValidation]:
    """Every delta of the feed read and validated, in feed order, ``on_stage`` told the count as it goes."""
    # An engine may list the feed itself (Spark: s3a:// folders).
    if supports(engine, Capability.OWN_LISTING):
        delta_files = discover_on(engine)(feed, contract)
    else:
        delta_files = discover_deltas(feed, contract)
    validations = []
    for done, delta_file in enumerate(delta_files):
        if on_stage is not None:
            on_stage("validate deltas", done, len(delta_files))
        validations.append(engine.read_and_validate(delta_file, **with_encoding))
    if on_stage is not None:
        on_stage("validate deltas", len(delta_files), len(delta_files))
    return validations


@dataclass(frozen=True)
class _SuitesRun:
    """The suites' results, ready or on their way from the helper process; ``docs_index`` known at once."""

    docs_index: Path | None
    result: Callable[[], Any]


def _start_suites(tables: dict[str, pd.DataFrame], helper: Sidecar, **options: Any) -> _SuitesRun:
    """The suites' figures computed here (``gather_evidence``: no GX) and GX's part handed to the helper process,
    which answers while the diagnosis runs."""
    from checks.suites.docs import site_index
    from checks.suites.run import check_suite, gather_evidence, validate_evidence

    evidence = gather_evidence(tables, suite_check=functools.partial(helper.call, check_suite), **options)
    validating = helper.submit(validate_evidence, evidence)
    return _SuitesRun(site_index(options["gx_dir"]) if options["build_docs"] else None, validating.result)


def report_names(case: Case) -> ReportNames:
    """The report's names and promises from a case (its own wording for what the case leaves out)."""
    from checks.report import ReportNames

    names = {key: value for key, value in vars(case.names).items() if value is not None}
    return ReportNames(**names, platform_file=case.platform.name if case.platform is not None else None, eta=case.eta)


def case_arrivals(case: Case) -> dict[str, Arrival] | None:
    """The ledger's facts about the feed's files, when the case names a ledger."""
    if case.ledger is None:
        return None
    from checks.arrivals import read_arrivals

    return read_arrivals(case.ledger, case.feed)


def _peak_memory_mb() -> int:
    """This process's own peak resident memory so far."""
    return peak_memory_bytes() // 2**20
