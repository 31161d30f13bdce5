"""The gate in front of the load: audit the landing zone, check the staged feed, run the expectation suites.

``gate`` says yes only when the audit finds nothing, the staging folder holds exactly what the
ledger vouches for, every staged delta passes its checks, dedup is unambiguous and every
expectation passes. It writes the Data Docs and ``gate.json`` whatever the answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from checks.errors import EXIT_CHECKS_FAILED, BadInputError, ChecksError
from checks.feed import delta_number
from checks.landing.audit import DEFAULT_CADENCE, AuditReport, Finding, audit
from checks.landing.ledger import Ledger
from checks.landing.source import Source

STAGING_MISMATCH = "staging_mismatch"
FEED_CHECK = "feed_check"
EXPECTATION = "expectation"
RUN_ERROR = "run_error"


@dataclass(frozen=True)
class GateReport:
    """The gate's decision and every reason for it; ``run`` is the check run's summary (None if it could not run)."""

    audit: AuditReport
    findings: tuple[Finding, ...]
    run: dict[str, Any] | None
    results_path: Path
    docs_index: Path | None

    @property
    def passed(self) -> bool:
        return self.audit.passed and not self.findings

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        return self.audit.findings + self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "decision": "load" if self.passed else "refuse",
            "findings": [
                {"kind": finding.kind, "key": finding.key, "message": finding.message} for finding in self.all_findings
            ],
            "audit": self.audit.to_dict(),
            "run": self.run,
            "results": str(self.results_path),
            "data_docs": str(self.docs_index) if self.docs_index else None,
        }


def gate(
    source: Source,
    ledger: Ledger,
    stage_dir: str | Path,
    *,
    out_dir: str | Path = Path("out/gate"),
    gx_dir: str | Path = Path("gx"),
    finance_total: int | None = None,
    cadence: timedelta | None = DEFAULT_CADENCE,
    batch_gap: int | None = None,
    build_docs: bool = True,
) -> GateReport:
    """Decide whether the staged feed of ``source`` is safe to load."""
    stage_dir, out_dir = Path(stage_dir), Path(out_dir)
    audit_report = audit(source, ledger, cadence=cadence, batch_gap=batch_gap)
    findings = list(_staging(stage_dir, ledger, source.url))
    run_summary, docs_index, broken = None, None, None
    try:
        result = _run(stage_dir, out_dir, Path(gx_dir), finance_total, build_docs)
    except ChecksError as error:
        findings.append(Finding(RUN_ERROR, str(stage_dir), str(error)))
        # An unusable staged feed (nothing staged, ambiguous dedup) is a reason to refuse the load;
        # a broken suite or GX project means the gate cannot decide: exit 2 after writing gate.json.
        if not isinstance(error, BadInputError) and error.exit_code != EXIT_CHECKS_FAILED:
            broken = error
    else:
        run_summary = result.to_dict()
        docs_index = result.suites.docs_index if result.suites is not None else None
        findings.extend(_run_findings(result))
    report = GateReport(
        audit=audit_report,
        findings=tuple(findings),
        run=run_summary,
        results_path=out_dir / "gate.json",
        docs_index=docs_index,
    )
    from checks.writers import atomic_write_text

    atomic_write_text(report.results_path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    if broken is not None:
        raise broken
    return report


def _staging(stage_dir: Path, ledger: Ledger, url: str) -> list[Finding]:
    """The staging folder must hold exactly the deltas the ledger staged: nothing missing, nothing extra."""
    recorded = {str(r.staged_name) for r in ledger.records(url) if r.status == "staged"}
    on_disk = {p.name for p in stage_dir.glob("*") if p.is_file() and delta_number(p.name) is not None}
    findings = [
        Finding(STAGING_MISMATCH, name, f"in {stage_dir} but not staged by the ledger (left by a killed run or copied by hand)")
        for name in sorted(on_disk - recorded)
    ]
    findings += [
        Finding(STAGING_MISMATCH, name, f"staged by the ledger but missing from {stage_dir} (ingest with --keep-staging)")
        for name in sorted(recorded - on_disk)
    ]
    return findings


def _run(stage_dir: Path, out_dir: Path, gx_dir: Path, finance_total: int | None, build_docs: bool):  # noqa: ANN202
    from checks.config import Case
    from checks.runner import run_case

    return run_case(Case(feed=stage_dir, finance_total=finance_total), out_dir=out_dir, gx_dir=gx_dir, build_docs=build_docs)


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
