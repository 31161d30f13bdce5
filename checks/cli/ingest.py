"""``checks ingest``: fetch every new landing-zone object, verify, decrypt, validate and stage it."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from checks.cli._options import ContractOption
from checks.cli._landing import (
    DEFAULT_LEDGER,
    DEFAULT_STAGE,
    JsonOption,
    LedgerOption,
    SourceOption,
    StageOption,
    could_not_decide,
)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    source: SourceOption,
    stage: StageOption = DEFAULT_STAGE,
    ledger: LedgerOption = DEFAULT_LEDGER,
    gnupghome: Annotated[
        Optional[Path], typer.Option(help="GnuPG keyring folder [default: env CHECKS_GNUPGHOME or GNUPGHOME].")
    ] = None,
    passphrase_file: Annotated[
        Optional[Path],
        typer.Option(help="File holding the key's passphrase [default: env CHECKS_GPG_PASSPHRASE, then CHECKS_GPG_PASSPHRASE_FILE]."),
    ] = None,
    trusted_signer: Annotated[
        Optional[list[str]],
        typer.Option(
            "--trusted-signer",
            metavar="FPR",
            help="Fingerprint of a key allowed to sign this feed's drops (repeat for several) "
            "[default: env CHECKS_GPG_TRUSTED_SIGNERS, comma-separated]. When any is given, every drop must be "
            "signed by one of them: unsigned or otherwise signed drops are quarantined.",
        ),
    ] = None,
    allow_unsigned: Annotated[
        bool, typer.Option(help="With trusted signers: accept unsigned drops (a drop signed by another key is still refused).")
    ] = False,
    keep_staging: Annotated[
        bool, typer.Option(help="Keep decrypted deltas in the staging folder after the run (the gate reads them).")
    ] = True,
    lock_timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait for another ingest to finish.")] = 60.0,
    contract: ContractOption = None,
    json: JsonOption = False,
) -> None:
    """Fetch every object not ingested before, verify size and checksum, decrypt, validate and stage it.

    Each step is recorded in the ledger. Exit 0 when every new object was staged, 1 when one was
    quarantined or could not be fetched, 2 on bad input or usage, 3 when the ledger, the stage or the
    disk broke (traceback in checks-ingest-error.log beside the ledger).
    """
    from checks import output
    from checks.landing.decrypt import keyring
    from checks.landing.ingest import SKIPPED
    from checks.landing.ingest import ingest as run_ingest
    from checks.landing.ledger import Ledger
    from checks.landing.quoting import quoted
    from checks.landing.source import source as open_source

    from checks.cli._options import encoding_of

    encoding = encoding_of(contract)  # a broken contract is bad input, before the ledger is touched
    keys = keyring(gnupghome, passphrase_file, trusted_signers=trusted_signer or (), allow_unsigned=allow_unsigned)
    with could_not_decide(ledger.parent, "ingest"), Ledger(ledger) as book, output.progress_step("ingesting"):
        report = run_ingest(
            open_source(source), stage, book, keys=keys, keep_staging=keep_staging, lock_timeout=lock_timeout,
            encoding=encoding,
        )
    if json:
        output.print_json(report.to_dict())
    else:
        for item in report.outcomes:
            if item.outcome != SKIPPED:
                detail = item.reason or f"{item.staged_name}, {item.rows} rows"
                output.print_line(f"{item.outcome}: {quoted(item.key)}: {detail}")
        for warning in report.warnings:
            output.print_warning(warning)
        output.print_line(
            f"{report.source}: {report.listed} object(s), {len(report.staged)} staged, "
            f"{len(report.quarantined)} quarantined, {len(report.failed)} failed, {len(report.skipped)} already ingested"
        )
    raise typer.Exit(0 if report.passed else 1)
