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
    """The human summary of ``checks run``: files, feed failures, suites per table, the diagnosis, then what to do
    and the files written."""
    from checks.wording import Words

    show_validations(result.feed.validations)
    failures = result.feed.failures
    if not failures.empty:
        stdout.print(f"{len(failures):,} failure(s) in the feed")
        show_failures(failures)
    words = Words.of(result.feed.encoding)
    total = words.money_part(f", total {words.amount_word} {{}}", result.feed.amount_total())
    stdout.print(escape(f"deduplicated: {words.count(result.feed.user_count)}{total}"))
    if result.suites is not None:
        for table in result.suites.results:
            verdict = "[green]pass[/]" if table.success else "[red]FAIL[/]"
            stdout.print(f"{verdict}  suite on {escape(table.table)}")
            for outcome in table.failed():
                stdout.print(f"      {escape(describe_outcome(outcome))}")
    if result.diagnosis is not None:
        show_diagnosis(result.diagnosis)
    stdout.print("")
    stdout.print("[green]all checks passed[/]" if result.passed else "[red]checks failed[/]")
    if result.diagnosis is not None:
        show_next_steps(result.diagnosis, result.outputs, names=result.case.names)
    else:
        show_written(result.outputs)


def describe_outcome(outcome: Any) -> str:
    """A failed expectation as a sentence: "batch_id is not the latest in the feed for 1,841 of 10,000 rows"."""
    from checks.contract_suite import LATEST_PREFIX

    column = str(outcome.column or "").split("=")[0]
    unexpected, rows = outcome.unexpected_count, outcome.rows
    of_rows = f"{_number(unexpected)} of {_number(rows)} rows" if rows is not None else f"{_number(unexpected)} rows"
    kind = outcome.expectation
    if kind == "expect_batch_id_to_be_latest_in_feed":
        return f"{column} is not the latest in the feed for {of_rows}"
    if kind == "expect_column_sum_to_be_between":
        return f"{column} sums to {_number(outcome.observed)}, expected {_bounds(outcome.expected)}"
    if kind == "expect_table_row_count_to_equal":
        return f"the table has {_number(outcome.observed)} rows, expected {_number(outcome.expected)}"
    if kind == "expect_table_columns_to_match_ordered_list":
        def shown(columns: Any) -> str:
            listed = columns if isinstance(columns, list) else [columns]
            return ", ".join(str(name) for name in listed if not str(name).startswith(LATEST_PREFIX))
        return f"the columns are {shown(outcome.observed)}, expected {shown(outcome.expected)}"
    if kind == "expect_column_values_to_not_be_null":
        if column.startswith(LATEST_PREFIX):
            return f"{of_rows} hold a user the feed never sent"
        return f"{column} is empty in {of_rows}"
    if kind == "expect_column_values_to_be_unique":
        return f"{column} repeats in {of_rows}"
    if kind == "expect_column_values_to_be_between":
        low, high = (outcome.expected or {}).get("min"), (outcome.expected or {}).get("max")
        if high is None:
            return f"{column} is below {_number(low)} in {of_rows}"
        if low is None:
            return f"{column} is above {_number(high)} in {of_rows}"
        return f"{column} is outside {_number(low)} to {_number(high)} in {of_rows}"
    if kind == "expect_column_values_to_be_of_type":
        return f"{column} is of type {outcome.observed}, expected {outcome.expected}"
    if kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set") and isinstance(outcome.expected, dict):
        (how, values), = outcome.expected.items()
        listed = ", ".join(repr(value) for value in values if value is not None)
        return f"{column} holds a value {'outside' if how == 'in' else 'among'} {listed} in {of_rows}"
    if kind == "expect_column_values_to_match_regex" and isinstance(outcome.expected, dict):
        return f"{column} does not match {outcome.expected['matches']} in {of_rows}"
    where = f" ({column})" if column else ""
    return f"{kind}{where}: observed {_short(outcome.observed)}, expected {_short(outcome.expected)}"


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _bounds(expected: Any) -> str:
    if isinstance(expected, dict):
        low, high = expected.get("min"), expected.get("max")
        if low is not None and high is not None:
            return f"between {_number(low)} and {_number(high)}"
        return f"at least {_number(low)}" if low is not None else f"at most {_number(high)}"
    return _number(expected)


def show_next_steps(diagnosis: Any, outputs: dict[str, Any], *, names: Any = None) -> None:
    """What a person on call acts on: the cause, the users, the dollars, what to open and send; then the files written."""
    from checks.reconcile import UNEXPECTED
    from checks.report import EMAIL_CUSTOMER_EML, EMAIL_ENGINEER_EML, INCIDENT_HTML, cause_words, customer_apart
    from checks.wording import agreeing

    reconciliation, words = diagnosis.reconciliation, diagnosis.words
    money = words.money
    stdout.print("[bold]Summary[/]")
    if not diagnosis.discrepancy:
        stdout.print(escape(
            f"  the platform's table matches the feed: {words.keys_and_money(reconciliation.user_count, diagnosis.expected_total)}"
        ))
        if (apart := customer_apart(diagnosis)) is not None:
            stdout.print(escape(f"  customer: {apart}"))
    else:
        for cause in diagnosis.root_causes:
            stdout.print(escape(
                f"  cause:   {cause_words(cause, words)} ({words.keys_and_money(cause.users, cause.revenue_gap)}, "
                f"{words.share(cause.share_of_gap, basis=diagnosis.share_basis)})"
            ))
        if diagnosis.unexplained_users or not diagnosis.root_causes:
            stdout.print(escape(
                f"  cause:   unexplained for {words.count(diagnosis.unexplained_users)}{words.money_part(' ({})', diagnosis.unexplained_gap)}"
            ))
        discrepant = reconciliation.discrepant_users
        # The keys counted are the feed's and the platform's: say how many only the platform holds, if any.
        only_platform = reconciliation.summary(UNEXPECTED).users
        beside = f" ({only_platform:,} of them only on the platform)" if only_platform else ""
        stdout.print(
            f"  {words.keys + ':':<8} {discrepant:,} of {reconciliation.user_count:,} {agreeing(discrepant, 'do')} not match the feed"
            + escape(beside)
        )
        if words.has_amount:
            stdout.print(escape(
                f"  {words.money_word + ':':<8} the platform shows {money(diagnosis.platform_total)}, the feed {money(diagnosis.expected_total)}: "
                f"{money(diagnosis.gap)} off"
            ))
    steps = [
        ("open", INCIDENT_HTML, "the incident page"),
        ("send", EMAIL_ENGINEER_EML, "to the platform's engineers (discrepancies.csv attached)"),
        ("send", EMAIL_CUSTOMER_EML, "to the customer"),
    ]
    for verb, name, what in steps:
        if name in outputs and (diagnosis.discrepancy or verb == "open"):
            stdout.print(f"  {verb}:    {escape(str(outputs[name]))}  {what}")
    if diagnosis.discrepancy and INCIDENT_HTML not in outputs:
        stdout.print("  next:    checks run (or checks report) writes the incident page and both emails")
    missing = [option for option, value in (("--sender-name", getattr(names, "sender_name", None)),) if not value]
    if diagnosis.discrepancy and names is not None and missing:
        stdout.print(f"  note:    no {', '.join(missing)}: the emails are signed with the company's name only")
    show_written(outputs)


def show_written(outputs: dict[str, Any]) -> None:
    """The files a command wrote, one a line, dimmed."""
    if outputs:
        stdout.print("[dim]written:[/]")
    for name, path in outputs.items():
        stdout.print(f"[dim]  {escape(name)}: {escape(str(path))}[/]")


def show_diagnosis(diagnosis: Any) -> None:
    """Totals in dollars (where the feed has an amount), then each root cause, as people say it, with the keys and
    dollars it explains."""
    from checks.diagnose.sentences import cause_words

    reconciliation, words = diagnosis.reconciliation, diagnosis.words
    totals = {"expected": reconciliation.expected_total, "platform": reconciliation.platform_total,
              "customer": reconciliation.customer_total, "finance": diagnosis.finance_total, "gap": reconciliation.gap}
    parts = [f"{key} {words.money(value)}" for key, value in totals.items() if value is not None]
    if words.has_amount:  # without an amount every total is 0
        stdout.print("totals: " + escape(", ".join(parts)))
    for cause in diagnosis.root_causes:
        stdout.print(
            f"[bold]root cause[/] {escape(cause_words(cause, words))}: "
            + escape(f"{words.keys_and_money(cause.users, cause.revenue_gap)} "
                     f"({words.share(cause.share_of_gap, basis=diagnosis.share_basis)})")
        )
        stdout.print(f"      {escape(cause.evidence)}")


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
