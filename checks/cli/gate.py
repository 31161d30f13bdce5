"""``checks gate``: exit 0 only when the staged feed is safe to load (audit, feed checks, dedup, expectations)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from checks.cli._landing import (
    DEFAULT_CADENCE,
    DEFAULT_LEDGER,
    DEFAULT_STAGE,
    BatchGapOption,
    CadenceOption,
    JsonOption,
    LedgerOption,
    SourceOption,
    StageOption,
    could_not_decide,
)
from checks.cli._options import ContractOption, DEFAULT_GX_DIR, DocsOption, FinanceTotalOption, GxDirOption


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)


def gate(
    source: SourceOption,
    stage: StageOption = DEFAULT_STAGE,
    ledger: LedgerOption = DEFAULT_LEDGER,
    out: Annotated[Path, typer.Option(help="Folder for gate.json, the dedup output and the run summary.")] = Path(
        "out/gate"
    ),
    gx_dir: GxDirOption = DEFAULT_GX_DIR,
    finance_total: FinanceTotalOption = None,
    cadence: CadenceOption = DEFAULT_CADENCE,
    batch_gap: BatchGapOption = None,
    docs: DocsOption = True,
    contract: ContractOption = None,
    json: JsonOption = False,
) -> None:
    """Audit the landing zone, check and deduplicate the staged feed, run the expectation suites.

    Writes gate.json (with the manifest of verified files) and the Data Docs whatever the outcome.
    Exit 0: safe to load; 1: refuse the load (one line per reason); 2: bad input or usage; 3: could not
    decide because the ledger, disk or stage broke (traceback in OUT/checks-gate-error.log).
    """
    from checks import output
    from checks.cli._options import finance_total_of
    from checks.contract import contract_or_default
    from checks.landing.audit import parse_cadence
    from checks.landing.gate import gate as run_gate

    contract_or_default(contract)  # a broken contract is bad input, before the ledger is touched
    from checks.landing.gate import write_undecided
    from checks.landing.ledger import Ledger
    from checks.landing.source import source as open_source

    undecided = could_not_decide(out, "gate", lambda line, log: write_undecided(out, line, log))
    with undecided, Ledger(ledger) as book, output.progress_step("checking the landing zone"):
        report = run_gate(
            open_source(source),
            book,
            stage,
            out_dir=out,
            gx_dir=gx_dir,
            finance_total=finance_total_of(finance_total),
            cadence=parse_cadence(cadence),
            batch_gap=batch_gap,
            build_docs=docs,
            contract=contract,
        )
    if json:
        output.print_json(report.to_dict())
    else:
        for finding in report.all_findings:
            output.print_line(str(finding))
        decision = "safe to load" if report.passed else f"refuse the load ({len(report.all_findings)} finding(s))"
        output.print_line(f"gate: {decision}; results in {report.results_path}")
        if report.docs_index is not None:
            output.print_line(f"Data Docs: {report.docs_index}")
    raise typer.Exit(0 if report.passed else 1)
