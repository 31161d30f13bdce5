"""The gate as Dagster asset checks: one blocking check per feed, so a load asset downstream never runs on a refusal.

The check runs ``checks.landing.gate.gate_feed`` and only translates its report: a refusal is a failed
check of severity ERROR (Dagster then skips every asset downstream of the checked one), a pass passes;
findings of the kinds named as ``warnings`` (anomalies only) alone give severity WARN, and the load runs.
A gate that could not decide writes ``gate.json`` saying so, tells the webhooks, and fails the check's
step, so the load is skipped too. Needs the ``dagster`` extra: ``pip install 'checks[dagster]'``.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

try:
    import dagster as dg
except ImportError as error:  # a clear line instead of a bare ModuleNotFoundError
    raise ImportError("checks.orchestrators.dagster needs Dagster: pip install 'checks[dagster]'") from error

from checks.errors import ChecksError, UsageError
from checks.landing.anomalies import AMOUNT_ANOMALY, LATE_DELTA, VOLUME_ANOMALY
from checks.landing.feeds import FeedSpec, read_feeds
from checks.landing.gate import GateReport, gate_feed, undecided_message, write_undecided
from checks.landing.notify import Policy, notify
from checks.landing.quoting import one_line

# The findings that may be warnings: how unusual a delta is, never whether its bytes or checks are right.
ANOMALY_KINDS = frozenset({VOLUME_ANOMALY, AMOUNT_ANOMALY, LATE_DELTA})
CHECK_NAME = "gate"


def gate_check(
    feed: FeedSpec,
    asset: dg.AssetsDefinition | dg.AssetKey | str | list[str],
    *,
    out_dir: str | Path,
    gx_dir: str | Path = Path("gx"),
    build_docs: bool = True,
    warnings: Collection[str] = (),
    notify_policy: Policy = Policy(),
    name: str = CHECK_NAME,
) -> dg.AssetChecksDefinition:
    """A blocking asset check on ``asset`` (the staged feed) that gates ``feed`` into ``out_dir`` on every run.

    ``warnings``: finding kinds (of ``ANOMALY_KINDS``) that fail the check with severity WARN instead of
    ERROR when they are all the gate found; the gate's own decision, ``gate.json`` and ledger still say
    ``refuse``, so the delta is warned about again at every run until a gate says ``load`` to it.
    """
    warning_kinds = frozenset(warnings)
    if not warning_kinds <= ANOMALY_KINDS:
        unknown = ", ".join(sorted(warning_kinds - ANOMALY_KINDS))
        raise UsageError(f"warnings: {unknown} cannot be a warning (only {', '.join(sorted(ANOMALY_KINDS))})")
    out_dir = Path(out_dir)

    @dg.asset_check(
        asset=asset, name=name, blocking=True,
        description=f"checks gate on feed {feed.name}: the load downstream runs only when the staged feed is safe to load",
    )
    def _gate() -> dg.AssetCheckResult:
        try:
            report = gate_feed(feed, out_dir=out_dir, gx_dir=gx_dir, build_docs=build_docs, notify_policy=notify_policy)
        except ChecksError as error:
            raise _undecided(feed, out_dir, one_line(error, limit=2000), notify_policy) from error
        return gate_result(report, warning_kinds)

    return _gate


def gate_checks(
    feeds_file: str | Path,
    assets: Mapping[str, dg.AssetsDefinition | dg.AssetKey | str | list[str]],
    *,
    out_dir: str | Path,
    gx_dir: str | Path = Path("gx"),
    build_docs: bool = True,
    warnings: Collection[str] = (),
    notify_policy: Policy = Policy(),
) -> list[dg.AssetChecksDefinition]:
    """One ``gate_check`` per feed of ``feeds_file`` on ``assets[feed name]``, each gating into ``out_dir/NAME``."""
    specs = read_feeds(feeds_file)
    missing = sorted({spec.name for spec in specs} - set(assets))
    if missing:
        raise UsageError(f"assets: no asset given for feed(s) {', '.join(missing)} of {feeds_file}")
    return [
        gate_check(
            spec, assets[spec.name], out_dir=Path(out_dir) / spec.name, gx_dir=gx_dir, build_docs=build_docs,
            warnings=warnings, notify_policy=notify_policy,
        )
        for spec in specs
    ]


def gate_result(report: GateReport, warnings: Collection[str] = frozenset()) -> dg.AssetCheckResult:
    """The gate's report as a check result: ERROR on a refusal, WARN when every finding is of a ``warnings`` kind."""
    findings = [str(finding) for finding in report.all_findings]
    only_warnings = bool(findings) and all(finding.kind in warnings for finding in report.all_findings)
    summary = "safe to load" if report.passed else f"refuse the load ({len(findings)} finding(s))"
    if only_warnings:
        summary += "; every finding is a warning: the load runs"
    metadata: dict[str, Any] = {
        "decision": report.decision,
        "findings": dg.MetadataValue.json(findings),
        "notes": dg.MetadataValue.json(list(report.audit.notes)),
        "manifest": dg.MetadataValue.json([entry.file for entry in report.manifest]),
        "results": dg.MetadataValue.path(str(report.results_path)),
    }
    for label, page in (("data_docs", report.docs_index), ("history", report.history_page)):
        if page is not None:
            metadata[label] = dg.MetadataValue.path(str(page))
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.WARN if only_warnings else dg.AssetCheckSeverity.ERROR,
        description=f"gate: {summary}" + "".join(f"\n{line}" for line in findings),
        metadata=metadata,
    )


def _undecided(feed: FeedSpec, out_dir: Path, line: str, policy: Policy) -> dg.Failure:
    """As the command line does: ``gate.json`` says "could not decide", the webhooks are told, and the step fails."""
    told = tuple(notify(feed.notify, undecided_message(feed.name, line, out_dir), policy))
    results = write_undecided(out_dir, line, None, feed=feed.name, notifications=told)
    return dg.Failure(
        description=f"gate could not decide: {line}", metadata={"decision": "could not decide", "results": dg.MetadataValue.path(str(results))}
    )
