"""``checks contract``: check a feed contract, draft one from a feed, generate its expectation suite."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

contract_app = typer.Typer(
    name="contract",
    help="Feed contracts (ODCS v3 YAML): lint one, draft one from a feed, generate its suite.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(contract_app)


@contract_app.command("lint")
def lint(contract: Annotated[Path, typer.Argument(help="The contract's YAML file.")]) -> None:
    """Check a contract and print what it declares: key, version, amount, columns, rules, file pattern.

    Exit 0 when the contract is valid, 2 (one line naming the file and the property) when it is not.
    """
    from checks import output
    from checks.contract import load_contract

    for line in load_contract(contract).describe():
        output.print_line(line)


@contract_app.command("infer")
def infer(
    feed: Annotated[Path, typer.Option("--feed", help="Folder of the customer's delta CSV files.")],
    files: Annotated[
        Optional[str],
        typer.Option("--files", help=r"Regular expression delta file names match, with a group 'order' (default: deltaN.csv, else guessed from the names)."),
    ] = None,
) -> None:
    """Draft a contract from the files a feed already holds, printed as YAML.

    Types and bounds come from the cells; the key, version and amount are candidates marked CONFIRM.
    """
    from checks.contract_infer import infer_contract

    typer.echo(infer_contract(feed, files), nl=False)


@contract_app.command("suite")
def suite(
    contract: Annotated[Path, typer.Argument(help="The contract's YAML file.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder the suite JSON is written to.  [default: the project's expectations/, where `checks run` reads it]")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when the file differs.")] = False,
) -> None:
    """Generate the contract's Great Expectations suite as JSON (expectations/<table>.json)."""
    from checks import output
    from checks.contract import load_contract
    from checks.contract_suite import EXPECTATIONS_DIR, suite_path, suite_text
    from checks.writers import atomic_write_text

    loaded = load_contract(contract)
    # By default where ``checks run`` reads it, whatever the working folder (a cwd-relative default wrote it where no run looked).
    path, text = suite_path(loaded, out or EXPECTATIONS_DIR), suite_text(loaded)
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if check:
        output.print_line(f"{path}: {'up to date' if current == text else 'differs from the contract'}")
        raise typer.Exit(0 if current == text else 1)
    atomic_write_text(path, text)
    output.print_line(f"wrote {path}")
