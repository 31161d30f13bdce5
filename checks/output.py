"""Everything the suite shows a person or a machine: terminal summaries, JSON, errors, progress.

Only this module prints. Values that come from input files are shown with ``rich.markup.escape``
so that a cell holding ``[bold]`` or ``<script>`` is printed as the text it is.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """One line on stderr, prefixed like every other command-line tool's errors."""
    stderr.print(f"[bold red]checks: error:[/] {escape(message)}")


def print_warning(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(message)}")


def print_line(message: str = "", *, markup: bool = False) -> None:
    """A line for a person; ``markup`` only for strings the suite wrote itself."""
    stdout.print(message if markup else escape(message))


def print_json(payload: Any) -> None:
    """One JSON document on stdout, nothing else, for machines."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    # numpy scalars and paths are the usual non-JSON values in results.
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def progress_enabled() -> bool:
    """Bars only for a person at a terminal; never in CI logs or when output is piped."""
    return stderr.is_terminal and not os.environ.get("CI")


@contextmanager
def progress_step(description: str) -> Iterator[None]:
    """A spinner on stderr while one long step runs (silent when not at a terminal)."""
    if not progress_enabled():
        yield
        return
    with stderr.status(escape(description), spinner="dots"):
        yield


def failures_to_records(failures: Any) -> list[dict[str, Any]]:
    """A failures frame as JSON-ready records (row numbers as ints, missing values as null)."""
    records = []
    for record in failures.astype(object).where(failures.notna(), None).to_dict(orient="records"):
        records.append({key: (int(value) if key == "row" and value is not None else value) for key, value in record.items()})
    return records


def show_failures(failures: Any, *, limit: int = 20) -> None:
    """The first ``limit`` failures as a table, and how many more there are."""
    from rich.table import Table

    if failures.empty:
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in failures.columns:
        table.add_column(str(column))
    for record in failures.head(limit).astype(object).where(failures.head(limit).notna(), "").itertuples(index=False):
        # Cells come from input files: never let them be read as rich markup.
        table.add_row(*(escape(str(cell)) for cell in record))
    stdout.print(table)
    if len(failures) > limit:
        stdout.print(f"... and {len(failures) - limit} more failure(s); use --json or --failures-csv for all")


def show_validations(validations: Any) -> None:
    """One line per delta file: passed or quarantined, with row and failure counts and warnings."""
    for validation in validations:
        for warning in validation.warnings:
            print_warning(f"{validation.name}: {warning}")
        if validation.passed:
            stdout.print(f"[green]pass[/]  {escape(validation.name)}  {validation.rows:,} rows")
        else:
            stdout.print(
                f"[red]FAIL[/]  {escape(validation.name)}  {validation.rows:,} rows, "
                f"{len(validation.failures):,} failure(s): quarantined"
            )


@contextmanager
def stage_progress() -> Iterator[Any]:
    """Yield ``on_stage(name, done=None, total=None)``: each stage on its own line with its elapsed time.

    A stage with a ``total`` (files to validate) gets a bar; a finished stage keeps its line and its
    time, so a slow stage is visible afterwards. Silent when not at a terminal.
    """
    if not progress_enabled():
        yield lambda name, done=None, total=None: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description:<24}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr) as progress:
        tasks: dict[str, Any] = {}

        def finish_others(current: str) -> None:
            for name, task in tasks.items():
                if name != current and not progress.tasks[task].finished:
                    progress.update(task, total=1, completed=1)

        def on_stage(name: str, done: int | None = None, total: int | None = None) -> None:
            finish_others(name)
            if name not in tasks:
                tasks[name] = progress.add_task(escape(name), total=total)
            progress.update(tasks[name], total=total, completed=done or 0)

        yield on_stage
        finish_others("")


def show_run(result: Any) -> None:
    """The human summary of ``checks run``: files, feed failures, suites per table, the diagnosis, outputs."""
    show_validations(result.feed.validations)
    failures = result.feed.failures
    if not failures.empty:
        stdout.print(f"{len(failures):,} failure(s) in the feed")
        show_failures(failures)
    deduplicated = result.feed.deduplicated
    stdout.print(
        f"deduplicated: {len(deduplicated):,} users, total_spend {int(deduplicated['total_spend'].sum()):,}"
    )
    if result.suites is not None:
        for table in result.suites.results:
            verdict = "[green]pass[/]" if table.success else "[red]FAIL[/]"
            stdout.print(f"{verdict}  suite on {escape(table.table)}")
            for outcome in table.failed():
                column = f" ({escape(str(outcome.column))})" if outcome.column else ""
                stdout.print(
                    f"      {escape(outcome.expectation)}{column}: observed {escape(_short(outcome.observed))}, "
                    f"expected {escape(_short(outcome.expected))}"
                )
    if result.diagnosis is not None:
        show_diagnosis(result.diagnosis.to_dict())
    for name, path in result.outputs.items():
        stdout.print(f"[dim]{escape(name)}: {escape(str(path))}[/]")
    stdout.print("[green]all checks passed[/]" if result.passed else "[red]checks failed[/]")


def show_diagnosis(diagnosis: dict[str, Any]) -> None:
    """Totals, then each root cause with the dollars and users it explains."""
    totals = diagnosis.get("totals", {})
    parts = [f"{key} {value:,}" for key, value in totals.items() if isinstance(value, int)]
    stdout.print("totals: " + escape(", ".join(parts)))
    for cause in diagnosis.get("root_causes", []):
        file = f" {cause['file']}" if cause.get("file") else ""
        stdout.print(
            f"[bold]root cause[/] {escape(cause['kind'])}{escape(file)}: {cause['users']:,} users, "
            f"${cause['revenue_gap']:,} ({cause['share_of_gap']:.1%} of the gap)"
        )
        stdout.print(f"      {escape(cause['evidence'])}")


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
