"""``checks gate``: exit 0 only when the staged feed is safe to load (audit, anomalies, feed checks, dedup, expectations).

With ``--feeds FILE`` it gates every feed of the platform's feeds file: one decision each, exit code the worst.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from checks.cli._landing import (
    DEFAULT_CADENCE,
    DEFAULT_LEDGER,
    DEFAULT_STAGE,
    AnomalyOption,
    BatchGapOption,
    CadenceOption,
    FeedNameOption,
    FeedsOption,
    JsonOption,
    LedgerOption,
    OptionalSourceOption,
    StageOption,
    could_not_decide,
    refuse_per_feed_options,
)
from checks.cli._options import ContractOption, DEFAULT_GX_DIR, DocsOption, FinanceTotalOption, GxDirOption

NOTIFY_ENV = "CHECKS_NOTIFY"


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)


def gate(
    source: OptionalSourceOption = None,
    stage: StageOption = DEFAULT_STAGE,
    ledger: LedgerOption = DEFAULT_LEDGER,
    out: Annotated[
        Path, typer.Option(help="Folder for gate.json, the dedup output and the run summary (with --feeds: one folder per feed).")
    ] = Path("out/gate"),
    gx_dir: GxDirOption = DEFAULT_GX_DIR,
    finance_total: FinanceTotalOption = None,
    cadence: CadenceOption = DEFAULT_CADENCE,
    batch_gap: BatchGapOption = None,
    docs: DocsOption = True,
    contract: ContractOption = None,
    anomaly: AnomalyOption = None,
    notify: Annotated[
        Optional[list[str]],
        typer.Option(
            "--notify",
            metavar="URL",
            help=f"Webhook told of the decision, one JSON POST (repeat for several; also env {NOTIFY_ENV}, "
            "space-separated, or the feeds file). A Slack incoming-webhook URL gets a Slack message.",
        ),
    ] = None,
    notify_on: Annotated[str, typer.Option(help="Notify on every refusal (refuse) or every decision (always).")] = "refuse",
    notify_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds the notifications may take in all, retries included.")
    ] = 10.0,
    feeds: FeedsOption = None,
    feed: FeedNameOption = None,
    json: JsonOption = False,
) -> None:
    """Audit the landing zone, compare new deltas with the feed's history, check and deduplicate the staged feed,
    run the expectation suites.

    Writes gate.json (with the manifest of verified files), the feed's history page and the Data Docs whatever the
    outcome. Exit 0: safe to load; 1: refuse the load (one line per reason); 2: bad input or usage; 3: could not
    decide because the ledger, disk or stage broke (traceback in OUT/checks-gate-error.log). A notification that
    fails is reported on stderr and in gate.json; it never changes the exit code.
    """
    from checks.errors import UsageError
    from checks.landing.feeds import FeedSpec, parse_threshold_options, read_feeds, select_feeds, with_command_line
    from checks.landing.notify import NOTIFY_ON, Policy, check_url

    if notify_on not in NOTIFY_ON:
        raise UsageError(f"--notify-on must be one of {', '.join(NOTIFY_ON)}, not {notify_on!r}")
    urls = tuple(notify or ()) + tuple(os.environ.get(NOTIFY_ENV, "").split())
    for url in urls:
        check_url(url)
    overrides = parse_threshold_options(anomaly or [])
    policy = Policy(deadline=notify_timeout)
    if feeds is None:
        if source is None:
            raise UsageError("give --source (one feed) or --feeds FILE (every feed of a feeds file)")
        spec = FeedSpec(
            name=source, source=source, stage=stage, ledger=ledger, contract=contract, cadence=cadence,
            batch_gap=batch_gap, finance_total=finance_total, notify=urls, notify_on=notify_on, thresholds=overrides,
        )
        report = _gate_feed(spec, out, gx_dir, docs, policy, single=True)
        _print_report(report, json, prefix="")
        raise typer.Exit(0 if report.passed else 1)
    per_feed = {
        "--source": source is not None, "--stage": stage != DEFAULT_STAGE, "--ledger": ledger != DEFAULT_LEDGER,
        "--contract": contract is not None, "--cadence": cadence != DEFAULT_CADENCE, "--batch-gap": batch_gap is not None,
        "--finance-total": finance_total is not None,
    }
    refuse_per_feed_options(per_feed)
    decisions: list[dict[str, Any]] = []
    worst = 0
    for spec in with_command_line(select_feeds(read_feeds(feeds), feed or []), urls, anomaly or []):
        decision, code = _gate_in_feeds(spec, out / spec.name, spec.gx_dir or gx_dir, docs, policy, json)
        decisions.append(decision)
        worst = max(worst, code)
    from checks import output
    from checks.data_docs import write_feeds_index

    index = write_feeds_index(out, decisions)
    if json:
        output.print_json({"feeds": decisions, "index": str(index)})
    else:
        output.print_line(f"gate: {len(decisions)} feed(s), {sum(d['decision'] == 'load' for d in decisions)} safe to load; index {index}")
    raise typer.Exit(worst)


def _gate_feed(spec: Any, out: Path, gx_dir: Path, docs: bool, policy: Any, *, single: bool):  # noqa: ANN202
    """Gate one feed; ``ChecksError`` when it could not decide (``gate.json`` written and webhooks told all the same)."""
    from checks import output
    from checks.landing.gate import gate_feed, undecided_message, write_undecided
    from checks.landing.notify import notify

    name = "" if single else spec.name

    def undecided(line: str, log: Path | None) -> None:
        told = tuple(notify(spec.notify, undecided_message(name or spec.source, line, out), policy))
        write_undecided(out, line, log, feed=name or spec.source, notifications=told)
        _print_failed_notifications(told)

    with could_not_decide(out, "gate", undecided), output.progress_step("checking the landing zone"):
        report = gate_feed(spec, out_dir=out, gx_dir=gx_dir, build_docs=docs, notify_policy=policy, named=not single)
    _print_failed_notifications(report.notifications)
    return report


def _gate_in_feeds(spec: Any, out: Path, gx_dir: Path, docs: bool, policy: Any, json: bool) -> tuple[dict[str, Any], int]:
    """One feed of a feeds file: its decision as ``gate.json`` holds it, and its exit code; an error stops only this feed."""
    from checks import output
    from checks.errors import ChecksError, InfrastructureError
    from checks.landing.gate import RESULTS_FILE, UNDECIDED, undecided_message, write_undecided
    from checks.landing.notify import notify
    from checks.landing.quoting import one_line

    try:
        report = _gate_feed(spec, out, gx_dir, docs, policy, single=False)
    except ChecksError as error:
        line = one_line(error, limit=2000)
        output.print_error(f"{spec.name}: {line}")
        if not isinstance(error, InfrastructureError):  # bad input: nothing written or told yet, and the index links gate.json
            told = tuple(notify(spec.notify, undecided_message(spec.name, line, out), policy))
            write_undecided(out, line, None, feed=spec.name, notifications=told)
            _print_failed_notifications(told)
        decision = {"feed": spec.name, "decision": UNDECIDED, "findings": [], "error": line, "results": str(out / RESULTS_FILE)}
        return decision, error.exit_code
    if not json:
        _print_report(report, False, prefix=f"{spec.name}: ")
    return report.to_dict(), 0 if report.passed else 1


def _print_report(report: Any, json: bool, *, prefix: str) -> None:
    from checks import output

    if json:
        output.print_json(report.to_dict())
        return
    for finding in report.all_findings:
        output.print_line(f"{prefix}{finding}")
    for note in report.audit.notes:
        output.print_line(f"{prefix}note: {note}")
    decision = "safe to load" if report.passed else f"refuse the load ({len(report.all_findings)} finding(s))"
    output.print_line(f"{prefix}gate: {decision}; results in {report.results_path}")
    if report.docs_index is not None:
        output.print_line(f"{prefix}Data Docs: {report.docs_index}")


def _print_failed_notifications(deliveries: Any) -> None:
    from checks import output

    for delivery in deliveries:
        if not delivery.delivered:
            output.print_warning(str(delivery))
