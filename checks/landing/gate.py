"""The gate in front of the load: verify the staged bytes, audit the landing zone, check the feed, run the suites.

``gate`` says yes only when the audit finds nothing, the stage holds exactly the files the ledger
staged and each still has the sha256 the ledger recorded, every staged delta passes its checks,
dedup is unambiguous and every expectation passes. The checks run on a copy of the verified bytes,
not on the stage, so what passed is what the manifest lists: ``gate.json`` carries that manifest
(file, sha256, rows) for the loader to check in turn. It writes the Data Docs and ``gate.json``
whatever the answer, including "could not decide" when the machinery broke (``write_undecided``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from checks.contract import contract_or_default
from checks.errors import EXIT_CHECKS_FAILED, BadInputError, ChecksError, UsageError
from checks.feed import order_key
from checks.landing.anomalies import Thresholds
from checks.landing.audit import AUTO, AuditReport, CadenceSetting, Finding, audit
from checks.landing.feeds import FeedSpec
from checks.landing.ingest import LEGACY_QUARANTINE, check_stage_owner, control_dir, stage_lock
from checks.landing.ledger import Ledger, ObjectRecord
from checks.landing.notify import ON_REFUSE, Delivery, Policy, notify, should_notify
from checks.landing.source import Source

LOAD = "load"
REFUSE = "refuse"
UNDECIDED = "could not decide"
RESULTS_FILE = "gate.json"

TAMPERED = "tampered"
STAGING_MISMATCH = "staging_mismatch"
FEED_CHECK = "feed_check"
EXPECTATION = "expectation"
RUN_ERROR = "run_error"


@dataclass(frozen=True)
class ManifestEntry:
    """One file the gate verified and checked: the loader loads it only if its bytes still hash to ``sha256``."""

    file: str
    sha256: str
    rows: int | None


@dataclass(frozen=True)
class GateReport:
    """The gate's decision and every reason for it; ``run`` is the check run's summary (None if it could not run)."""

    audit: AuditReport
    findings: tuple[Finding, ...]
    run: dict[str, Any] | None
    results_path: Path
    docs_index: Path | None
    manifest: tuple[ManifestEntry, ...] = ()
    feed: str = ""
    history_page: Path | None = None
    notifications: tuple[Delivery, ...] = ()

    @property
    def passed(self) -> bool:
        return self.audit.passed and not self.findings

    @property
    def decision(self) -> str:
        return LOAD if self.passed else REFUSE

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        return self.audit.findings + self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "passed": self.passed,
            "decision": self.decision,
            "manifest": [asdict(entry) for entry in self.manifest],
            "findings": [
                {"kind": finding.kind, "key": finding.key, "message": finding.message} for finding in self.all_findings
            ],
            "notes": list(self.audit.notes),
            "audit": self.audit.to_dict(),
            "run": self.run,
            "results": str(self.results_path),
            "data_docs": str(self.docs_index) if self.docs_index else None,
            "history": str(self.history_page) if self.history_page else None,
            "notifications": [asdict(delivery) for delivery in self.notifications],
        }

    def message(self) -> dict[str, Any]:
        """What the webhooks are told: the feed, the decision, every finding as its line, the links."""
        outputs = (self.run or {}).get("outputs", {})
        return {
            "feed": self.feed,
            "decision": self.decision,
            "findings": [str(finding) for finding in self.all_findings],
            "notes": list(self.audit.notes),
            "data_docs": str(self.docs_index) if self.docs_index else None,
            "history": str(self.history_page) if self.history_page else None,
            "incident": outputs.get("incident.html"),
            "results": str(self.results_path),
        }


def gate(
    source: Source,
    ledger: Ledger,
    stage_dir: str | Path,
    *,
    out_dir: str | Path = Path("out/gate"),
    gx_dir: str | Path = Path("gx"),
    finance_total: int | None = None,
    cadence: CadenceSetting = AUTO,
    batch_gap: int | None = None,
    build_docs: bool = True,
    contract: Path | None = None,
    thresholds: Thresholds = Thresholds(),
    feed: str | None = None,
    notify_urls: tuple[str, ...] = (),
    notify_on: str = ON_REFUSE,
    notify_policy: Policy = Policy(),
) -> GateReport:
    """Decide whether the staged feed of ``source`` is safe to load (``contract``: the feed's; default: the first customer's).

    The decision is recorded in the ledger: update deltas a gate said ``load`` to are no longer compared
    with the feed's history (they are part of it). ``notify_urls`` are told of the decision (every
    decision with ``notify_on="always"``, else every refusal); what became of each is in ``gate.json``.
    ``feed`` names the feed in messages (default: the source's URL).
    """
    stage_dir, out_dir = Path(stage_dir), Path(out_dir)
    check_stage_owner(stage_dir, ledger)
    audit_report = audit(
        source, ledger, cadence=cadence, batch_gap=batch_gap, contract=contract_or_default(contract), thresholds=thresholds
    )
    run_summary, docs_index, broken = None, None, None
    # The checks read a private copy of the bytes just verified: a change to the stage during the
    # run cannot slip between the hash and the check.
    control = control_dir(stage_dir)
    control.mkdir(parents=True, exist_ok=True)
    verified_dir = _verified_copy_dir(control)
    try:
        with stage_lock(stage_dir, timeout=60.0):
            manifest, findings = _verify(stage_dir, ledger.records(source.url), verified_dir)
        try:
            result = _run(verified_dir, out_dir, Path(gx_dir), finance_total, build_docs, contract)
        except ChecksError as error:
            findings.append(Finding(RUN_ERROR, str(stage_dir), str(error).replace(str(verified_dir), str(stage_dir))))
            # An unusable staged feed (nothing staged, ambiguous dedup) is a reason to refuse the load;
            # a broken suite or GX project means the gate cannot decide: exit 2 after writing gate.json.
            if not isinstance(error, BadInputError) and error.exit_code != EXIT_CHECKS_FAILED:
                broken = error
        else:
            run_summary = result.to_dict()
            run_summary["feed"]["folder"] = str(stage_dir)  # checked through its verified copy
            docs_index = result.suites.docs_index if result.suites is not None else None
            findings.extend(_run_findings(result))
    finally:
        shutil.rmtree(verified_dir, ignore_errors=True)
    report = GateReport(
        audit=audit_report,
        findings=tuple(findings),
        run=run_summary,
        results_path=out_dir / RESULTS_FILE,
        docs_index=docs_index,
        manifest=tuple(manifest),
        feed=feed or source.url,
    )
    if build_docs:
        report = replace(report, history_page=_history_page(ledger, source.url, out_dir, contract, thresholds, docs_index))
    if notify_urls and should_notify(report.decision, notify_on):
        report = replace(report, notifications=tuple(notify(notify_urls, report.message(), notify_policy)))
    from checks.writers import atomic_write_text

    atomic_write_text(report.results_path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    if broken is not None:
        raise broken
    ledger.record_decision(source.url, report.decision, [entry.file for entry in report.manifest])
    return report


def gate_feed(
    spec: FeedSpec, *, out_dir: str | Path, gx_dir: str | Path = Path("gx"), build_docs: bool = True,
    notify_policy: Policy = Policy(), named: bool = True,
) -> GateReport:
    """``gate`` one feed as a feeds file declares it (``checks.landing.feeds.FeedSpec``): opens its source and ledger.

    ``named=False`` for a single feed given on the command line, whose results carry no feed name.
    """
    from checks.config import parse_amount
    from checks.landing.audit import parse_cadence
    from checks.landing.source import source as open_source

    if spec.stage is None:
        raise UsageError(f"feed {spec.name}: the gate needs the feed's stage")
    contract_or_default(spec.contract)  # a broken contract is bad input, before the ledger is touched
    total = None if spec.finance_total is None else parse_amount(spec.finance_total, "finance_total")
    with Ledger(spec.ledger) as ledger:
        return gate(
            open_source(spec.source), ledger, spec.stage, out_dir=out_dir,
            gx_dir=spec.gx_dir or gx_dir, finance_total=total, cadence=parse_cadence(spec.cadence),
            batch_gap=spec.batch_gap, build_docs=build_docs, contract=spec.contract, thresholds=spec.thresholds,
            feed=spec.name if named else None, notify_urls=spec.notify, notify_on=spec.notify_on, notify_policy=notify_policy,
        )


def _history_page(
    ledger: Ledger, url: str, out_dir: Path, contract: Path | None, thresholds: Thresholds, docs_index: Path | None
) -> Path:
    """The feed's history page beside ``gate.json``, linked from the top of the Data Docs index."""
    from checks.landing.history import write_history_page

    page = write_history_page(ledger, url, out_dir, contract_or_default(contract), thresholds)
    if docs_index is not None and docs_index.is_file():
        from checks.data_docs import link_pages

        link_pages(docs_index, [(page, "The feed's history: rows and amount per delta over time, anomalies marked")])
    return page


def write_undecided(
    out_dir: str | Path, reason: str, log: Path | None, *, feed: str = "", notifications: tuple[Delivery, ...] = ()
) -> Path:
    """``gate.json`` saying the gate could not decide (the machinery broke), with the reason and the traceback's log."""
    from checks.writers import atomic_write_text

    payload = {
        "feed": feed, "passed": False, "decision": UNDECIDED, "manifest": [], "error": reason,
        "log": str(log) if log else None, "notifications": [asdict(delivery) for delivery in notifications],
    }
    return atomic_write_text(Path(out_dir) / RESULTS_FILE, json.dumps(payload, indent=2) + "\n")


def undecided_message(feed: str, reason: str, out_dir: str | Path) -> dict[str, Any]:
    """What the webhooks are told when the gate could not decide."""
    return {
        "feed": feed, "decision": UNDECIDED, "findings": [], "notes": [], "error": reason, "data_docs": None,
        "history": None, "incident": None, "results": str(Path(out_dir) / RESULTS_FILE),
    }


def _verify(
    stage_dir: Path, records: list[ObjectRecord], verified_dir: Path
) -> tuple[list[ManifestEntry], list[Finding]]:
    """Hash every staged file against the ledger, copy the good ones to ``verified_dir``, name all else in the stage."""
    manifest, findings = [], []
    staged = sorted((r for r in records if r.status == "staged"), key=lambda r: order_key(r.delta_number or 0))
    for record in staged:
        name = str(record.staged_name)
        path = stage_dir / name
        if path.is_symlink():
            findings.append(Finding(TAMPERED, name, "is a symbolic link, not the file the ingest staged"))
            continue
        try:
            data = _read_no_link(path)
        except FileNotFoundError:
            findings.append(
                Finding(STAGING_MISMATCH, name, f"staged by the ledger but missing from {stage_dir} (ingest with --keep-staging)")
            )
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 != record.plaintext_sha256:
            findings.append(Finding(TAMPERED, name, "sha256 differs from the ledger"))
            continue
        (verified_dir / name).write_bytes(data)
        manifest.append(ManifestEntry(file=name, sha256=sha256, rows=record.rows))
    expected = {str(record.staged_name) for record in staged}
    for entry in _stage_entries(stage_dir):
        if entry in expected:
            continue
        if entry.split("/", 1)[0] == LEGACY_QUARANTINE:
            why = (
                "quarantined plaintext inside the stage (an older version kept it there); "
                f"the next ingest moves it to {control_dir(stage_dir)}"
            )
        else:
            why = f"in {stage_dir} but not in the manifest (left by a killed run or copied by hand); a loader must not see it"
        findings.append(Finding(STAGING_MISMATCH, entry, why))
    return manifest, findings


def _read_no_link(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


def _stage_entries(stage_dir: Path) -> list[str]:
    """Every file, link or other entry under the stage (folders themselves aside), as paths relative to it.

    Hidden ones too: a killed ingest's ``.incoming/`` holds plaintext no ledger vouches for.
    """
    if not stage_dir.is_dir():
        return []
    entries = []
    for folder, folders, files in os.walk(stage_dir, followlinks=False):
        base = Path(folder)
        links = [name for name in folders if (base / name).is_symlink()]
        folders[:] = sorted(name for name in folders if name not in links)
        entries += [(base / name).relative_to(stage_dir).as_posix() for name in [*files, *links]]
    return sorted(entries)


def _run(  # noqa: ANN202
    stage_dir: Path, out_dir: Path, gx_dir: Path, finance_total: int | None, build_docs: bool, contract: Path | None
):
    from checks.config import Case
    from checks.runner import run_case

    case = Case(feed=stage_dir, finance_total=finance_total, contract=contract)
    return run_case(case, out_dir=out_dir, gx_dir=gx_dir, build_docs=build_docs)


def _run_findings(result: Any) -> list[Finding]:
    findings = []
    for validation in result.feed.validations:
        if not validation.passed:
            findings.append(Finding(FEED_CHECK, validation.name, f"{len(validation.failures)} validation failure(s)"))
    failures = result.feed.feed_failures
    groups = failures.groupby(["file", "check"], sort=True) if not failures.empty else []
    for (file, check), group in groups:
        findings.append(Finding(FEED_CHECK, str(file), f"{len(group)} {check} failure(s), first at row {group['row'].iloc[0]}"))
    if result.suites is not None:
        for table in result.suites.results:
            for outcome in table.failed():
                name = outcome.check or outcome.expectation
                column = f" on {outcome.column}" if outcome.column else ""
                findings.append(
                    Finding(EXPECTATION, table.table, f"{name}{column} failed (observed {outcome.observed})")
                )
    return findings


def _verified_copy_dir(control: Path) -> Path:
    """A fresh folder for this gate's private copy, named by host and process. Copies of gates on this host whose
    process is gone (killed: no clean-up ran) are removed first; another host's, or a live gate's, are left."""
    host = socket.gethostname().replace("-", "_")
    for left in control.glob(f"gate-{host}-*-*"):
        pid = left.name.split("-")[2]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"gate-{host}-{os.getpid()}-", dir=control))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
