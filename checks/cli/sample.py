"""``checks sample``: write the seeded synthetic case that ``checks run`` uses by default."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)


def sample(
    out: Annotated[Path, typer.Option(help="Folder to write the case into.")] = Path("data"),
    users: Annotated[int, typer.Option(min=1, help="Number of users in the base delta.")] = 1000,
    deltas: Annotated[int, typer.Option(min=2, help="Number of delta files (delta0 is the base).")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same files.")] = 7,
    shape: Annotated[
        str,
        typer.Option(help="user-summary (the first customer's five integers), accounts (string key, timestamps, decimals) "
                     "or typed-accounts (the same accounts without text: numbers, a boolean, a date)."),
    ] = "user-summary",
) -> None:
    """Generate a synthetic feed, customer export and a platform table with one planted fault."""
    from checks import output
    from checks.errors import UsageError

    if shape in ("accounts", "typed-accounts"):
        from checks.sample_accounts import generate_accounts_case, write_accounts_case

        accounts = generate_accounts_case(users, deltas, seed=seed)
        case_file = write_accounts_case(accounts, out, typed=shape == "typed-accounts")
        output.print_line(
            f"wrote {len(accounts.files)} files, platform and customer tables to {out} "
            f"(planted fault: {accounts.skipped_file} never ingested); case file {case_file}"
        )
        return
    if shape != "user-summary":
        raise UsageError(f"unknown shape {shape!r} (choose user-summary, accounts or typed-accounts)")
    from checks.sample import generate_case, write_case

    case = generate_case(users, deltas, seed=seed)
    case_file = write_case(case, out)
    output.print_line(
        f"wrote {len(case.deltas)} deltas, platform and customer tables to {out} "
        f"(planted fault: {case.skipped_file} never ingested); case file {case_file}"
    )
