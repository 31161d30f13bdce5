"""Rendering a diagnosis for people: the incident report (Markdown and a self-contained HTML page), the engineer's
and the customer's emails (Markdown and ready-to-send ``.eml`` messages).

Every number comes from the ``Diagnosis``; names of people and companies are parameters, and a name not
given is worded around, never filled with a placeholder. The emails state what the data shows; a
mechanism is offered as a hypothesis, and arrival times and checksums only when the landing zone's
ledger is given. Text that comes from files (file names, values) and the names given on the command
line are escaped for the format they land in, so a ``<script>`` or ``=HYPERLINK(...)`` shows as the
text it is.
"""
from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from checks.diagnose import (
    DUPLICATE_ROWS,
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    MISSING_USERS,
    QUARANTINED_FILE_LOADED,
    UNEXPECTED_USERS,
    VALUE_DRIFT,
    WRONG_DEDUP_ORDER,
    Diagnosis,
    RootCause,
    cause_label,
)
from checks.diagnose.sentences import cause_words, dropped_words
from checks.discrepancies import DISCREPANCIES_CSV, DiscrepanciesWriter
from checks.model import CUSTOMER_CLASS, SOURCE_FILE, SOURCE_ROW, SPEND_GAP
from checks.wording import SHARE_OF_DOLLARS_OFF, Words, agreeing, capitalised, counted, shown_cell
from checks.reconcile import CLASS_WORDS, MATCH
from checks.results import FAILURES_CSV, UsersElsewhere
from checks.writers import atomic_write_bytes, atomic_write_text, read_output

if TYPE_CHECKING:
    from checks.arrivals import Arrival

INCIDENT_MD = "incident.md"
INCIDENT_HTML = "incident.html"
EMAIL_ENGINEER = "email-engineer.md"
EMAIL_CUSTOMER = "email-customer.md"
EMAIL_ENGINEER_EML = "email-engineer.eml"
EMAIL_CUSTOMER_EML = "email-customer.eml"
# Beyond this many rows (about 10 MB) discrepancies.csv stays beside the emails instead of in the engineer's:
# mail servers refuse larger messages, and encoding hundreds of MB into a message takes longer than the whole run.
ATTACHED_ROWS = 100_000
# A share of the gap below this is reported as "fully explained".
EXPLAINED_TOLERANCE = 0.001
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|])")


@dataclass(frozen=True)
class ReportNames:
    """Who the emails go to and who signs them, and what they may promise; None keeps wording that needs no name."""

    engineer_name: str | None = None
    customer_contact: str | None = None
    customer_company: str | None = None
    platform_company: str | None = None
    sender_name: str | None = None
    platform_file: str | None = None
    # When the corrected figures will be live ("by Friday 12 December"); None: the emails promise no date.
    eta: str | None = None


def write_incident_report(
    diagnosis: Diagnosis,
    out_dir: Path,
    *,
    names: ReportNames = ReportNames(),
    docs_index: Path | None = None,
    arrivals: Mapping[str, Arrival] | None = None,
    submit: Callable[..., Future] | None = None,
    discrepancies: DiscrepanciesWriter | None = None,
) -> list[Path]:
    """Write incident.md, both emails (Markdown and .eml), discrepancies.csv, the charts and incident.html (beside
    the Data Docs index when given, else in ``out_dir``); every file atomically. Returns the paths written.

    ``arrivals`` (``checks.arrivals.read_arrivals``) are the landing zone's facts the emails may cite. ``submit``
    (a helper process's, ``checks.sidecar``) draws the charts elsewhere meanwhile; without it they are drawn here.
    ``discrepancies`` is the writer of ``discrepancies.csv`` when the caller started it during the diagnosis.
    """
    from checks.charts import chart_paths, chart_specs, draw_charts

    out_dir = Path(out_dir)
    html_path = (Path(docs_index).parent if docs_index else out_dir) / INCIDENT_HTML
    chart_pngs = {name: paths[0] for name, paths in chart_paths(out_dir).items()}
    # The per-user table (millions of rows at scale) is sorted and written by Arrow and Polars, which release
    # the GIL, from the start (or since the diagnosis listed its users): the charts' figures are computed meanwhile, and matplotlib draws them (here, or in
    # ``submit``'s process); leaving the block waits for both.
    with contextlib.ExitStack() as stack:
        if discrepancies is None:
            discrepancies = stack.enter_context(DiscrepanciesWriter(out_dir))
        table = discrepancies.written(diagnosis)
        specs = chart_specs(diagnosis)
        drawing = submit(draw_charts, specs, out_dir) if submit is not None else None
        drawn = draw_charts(specs, out_dir) if drawing is None else None
        incident = atomic_write_text(
            out_dir / INCIDENT_MD,
            render_incident(diagnosis, names, charts=_relative(chart_pngs, out_dir), docs_index=_link(docs_index, out_dir)),
        )
        engineer = _engineer_email(diagnosis, names, arrivals or {})
        customer = _customer_email(diagnosis, names, arrivals or {})
        emails = [
            atomic_write_text(out_dir / EMAIL_ENGINEER, engineer.markdown()),
            atomic_write_text(out_dir / EMAIL_CUSTOMER, customer.markdown()),
        ]
        charts = drawn if drawing is None else drawing.result()
        written = [*(path for paths in charts.values() for path in paths), incident, *emails, table.result()]
    chart_svgs = {name: path.read_text(encoding="utf-8") for name, paths in charts.items() for path in paths if path.suffix == ".svg"}
    attachments = [out_dir / DISCREPANCIES_CSV] if _attached(diagnosis) else []
    written.append(atomic_write_bytes(out_dir / EMAIL_ENGINEER_EML, engineer.message(attachments=attachments)))
    written.append(atomic_write_bytes(out_dir / EMAIL_CUSTOMER_EML, customer.message()))
    written.append(
        atomic_write_text(
            html_path,
            render_incident_html(diagnosis, names, charts=chart_svgs, docs_index=_link(docs_index, html_path.parent)),
        )
    )
    return written


# --- wording shared by the report and the emails -----------------------------------------------------

def _title_line(diagnosis: Diagnosis, company: str | None) -> str:
    whose = f" ({company})" if company else ""
    if not _discrepant_users(diagnosis):
        return f"No discrepancy: the platform table matches the feed{whose}"
    return f"Incident: the platform table does not match the feed{whose}"


# --- the incident report ------------------------------------------------------------------------------


def render_incident(
    diagnosis: Diagnosis, names: ReportNames, *, charts: dict[str, str] | None = None, docs_index: str | None = None
) -> str:
    """The full finding in Markdown: totals, classes, root causes with evidence and examples, lineage."""
    reconciliation = diagnosis.reconciliation
    company = _md(names.customer_company) if names.customer_company else None
    lines = [f"# {_title_line(diagnosis, company)}", ""]
    lines += [_headline(diagnosis), ""]
    w = diagnosis.words
    keys, key_word = _md(w.keys), _md(w.key_word)
    if w.has_amount:  # without an amount every total is 0: no table of them
        lines += ["## Totals", "", f"| | total {_md(w.amount_word)} |", "|---|---:|"]
        lines += [f"| {label} | {w.money(value)} |" for label, value in _totals(diagnosis)]
        lines.append("")
    lines += [f"## {capitalised(keys)} by class", "", *_markdown_columns(_class_columns(w), reconciliation.classes)]
    lines += ["", "## Root causes", ""]
    if diagnosis.root_causes:
        lines += _markdown_columns(_cause_columns(diagnosis, numbered=True), _cause_rows(diagnosis))
        for index, cause in enumerate(diagnosis.root_causes, start=1):
            lines += ["", f"### {index}. {_md(cause_words(cause, w))}", ""]
            lines += [_md(cause.evidence), "", _markdown_table(*_examples_rows(cause.examples, _md, w))]
            changes = _changes_rows(cause, _md, w)
            if changes[1]:
                lines += ["", "What the load did, value by value:", "", _markdown_table(*changes)]
    else:
        lines.append(f"None: every {key_word} on the platform matches the deduplicated feed." if not _discrepant_users(diagnosis) else
                     "No tested hypothesis explains the discrepancy; see the classes above.")
    lines += ["", "## Lineage of the platform's rows", "", _lineage_table(diagnosis)]
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{_md(name)}]({_url(path)})" for name, path in charts.items()]
    lines += ["", "## Files", ""]
    lines += [
        f"- Per-{key_word} discrepancies: [{DISCREPANCIES_CSV}]({DISCREPANCIES_CSV})",
        f"- Email to the backend engineer, ready to send: [{EMAIL_ENGINEER_EML}]({EMAIL_ENGINEER_EML}) "
        f"(Markdown: [{EMAIL_ENGINEER}]({EMAIL_ENGINEER}))",
        f"- Email to the customer, ready to send: [{EMAIL_CUSTOMER_EML}]({EMAIL_CUSTOMER_EML}) "
        f"(Markdown: [{EMAIL_CUSTOMER}]({EMAIL_CUSTOMER}))",
    ]
    if docs_index:
        lines.append(f"- Data Docs (failing expectations): [index.html]({_url(docs_index)})")
    return "\n".join(lines) + "\n"


def _headline(diagnosis: Diagnosis) -> str:
    w = diagnosis.words
    if not _discrepant_users(diagnosis):
        apart = customer_apart(diagnosis)
        return (
            f"No discrepancy: all {diagnosis.reconciliation.user_count:,} {_md(w.keys)} match"
            f"{w.money_part('; both totals are {}', diagnosis.expected_total)}." + (f" {_md(apart)}" if apart else "")
        )
    causes = diagnosis.root_causes
    explained = 1 - diagnosis.unexplained_share
    main = causes[0] if causes else None
    discrepant = _discrepant_users(diagnosis)
    if w.has_amount:
        text = (
            f"The platform's table totals {w.money(diagnosis.platform_total)}, the deduplicated feed "
            f"{w.money(diagnosis.expected_total)}: a gap of {w.money(diagnosis.gap)} across {_md(w.count(discrepant))}."
        )
    else:  # the keys that differ are what the causes' shares divide
        text = (
            f"{discrepant:,} of {diagnosis.reconciliation.user_count:,} {_md(w.keys)} on the platform's table "
            f"{agreeing(discrepant, 'do')} not match the deduplicated feed."
        )
    if main is not None:
        # Of the gap, or of the dollars off either way where some keys' dollars pulled it up and others' down.
        whole = f"the {w.money_word} off" if diagnosis.share_basis == SHARE_OF_DOLLARS_OFF else "it" if w.has_amount else "them"
        text += (
            f" {counted(len(causes), 'root cause')} {agreeing(len(causes), 'explain')} {explained:.1%} of "
            f"{whole}; the largest, {_md(cause_words(main, w))}, accounts for {_md(w.count(main.users))}"
            f"{w.money_part(' and {}', main.revenue_gap)}."
        )
    return text


def _totals(diagnosis: Diagnosis) -> list[tuple[str, int]]:
    reconciliation = diagnosis.reconciliation
    rows = [("expected (deduplicated feed)", reconciliation.expected_total), ("platform table", reconciliation.platform_total)]
    if reconciliation.customer_total is not None:
        rows.append(("customer export", reconciliation.customer_total))
    if diagnosis.finance_total is not None:
        rows.append(("finance total", diagnosis.finance_total))
    rows.append(("gap (expected minus platform)", reconciliation.gap))
    return rows


@dataclass(frozen=True)
class _Column:
    """A column of a table on the incident page: its heading (None: left out, as a gap without an amount), its
    cell for one item, and whether it holds numbers (right-aligned)."""

    heading: str | None
    cell: Callable[[Any], str]
    number: bool = False


@dataclass(frozen=True)
class _CauseRow:
    """A root cause, or what is left unexplained, as one row of the table of causes."""

    number: str
    label: str
    file: str | None  # None: a cause of no one file; "" for what is left unexplained
    users: int
    gap: int
    share: float


def _class_columns(words: Words) -> list[_Column]:
    return [
        _Column(f"{words.keys} who", lambda summary: CLASS_WORDS.get(summary.name, summary.name)),
        _Column(words.keys, lambda summary: f"{summary.users:,}", number=True),
        _Column(words.gap_heading, lambda summary: words.money(summary.revenue_gap), number=True),
    ]


def _cause_columns(diagnosis: Diagnosis, *, numbered: bool) -> list[_Column]:
    """The table of causes: numbered in Markdown, where the sections below follow the numbers."""
    words = diagnosis.words
    share = words.share_heading(basis=diagnosis.share_basis) if numbered else "share"
    columns = [_Column("#", lambda row: row.number, number=True)] if numbered else []
    return columns + [
        _Column("cause", lambda row: row.label),
        _Column("file", lambda row: row.file if row.file is not None else ("—" if numbered else "")),
        _Column(words.keys, lambda row: f"{row.users:,}", number=True),
        _Column(words.gap_heading, lambda row: words.money(row.gap), number=True),
        _Column(share, lambda row: f"{row.share:.1%}", number=True),
    ]


def _cause_rows(diagnosis: Diagnosis) -> list[_CauseRow]:
    """Each root cause, then what is left unexplained."""
    rows = [
        _CauseRow(str(index), cause_label(cause.kind, diagnosis.words), cause.file, cause.users, cause.revenue_gap, cause.share_of_gap)
        for index, cause in enumerate(diagnosis.root_causes, start=1)
    ]
    unexplained = _CauseRow("", "unexplained", "", diagnosis.unexplained_users, diagnosis.unexplained_gap, diagnosis.unexplained_share)
    return rows + [unexplained]


def _markdown_columns(columns: list[_Column], items: Sequence[Any]) -> list[str]:
    shown = [column for column in columns if column.heading is not None]
    alignment = "|" + "|".join("---:" if column.number else "---" for column in shown) + "|"
    rows = [[_md(column.cell(item)) for column in shown] for item in items]
    return [_markdown_row([_md(column.heading) for column in shown]), alignment, *map(_markdown_row, rows)]


def _markdown_row(cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def _html_columns(columns: list[_Column], items: Sequence[Any]) -> tuple[str, list[str]]:
    """A table's header row and its rows, HTML-escaped."""
    shown = [column for column in columns if column.heading is not None]
    header = "<tr>" + "".join(f"<th>{html.escape(column.heading)}</th>" for column in shown) + "</tr>"
    rows = [
        "<tr>" + "".join(f'<td{_NUMBER if column.number else ""}>{html.escape(column.cell(item))}</td>' for column in shown) + "</tr>"
        for item in items
    ]
    return header, rows


_NUMBER = ' class="n"'


def _value_columns(words: Words) -> tuple[str, ...]:
    """A row's values after its key, in the feed's order, the version last."""
    shape = words.encoding.contract.shape
    return (*shape.values, shape.version)


def _examples_rows(examples: pd.DataFrame, escape: Callable[[str], str], words: Words) -> tuple[list[str], list[list[str]]]:
    """The examples as a table: each key's platform row and the latest row, each with the file and line it came from."""
    values = ", ".join(_value_columns(words))
    header = [escape(words.key_name), f"platform row ({escape(values)})", "platform row from", "latest row in the feed", "latest row from"]
    rows = []
    for record in examples.to_dict("records"):  # a handful of examples, never the table
        rows.append([
            escape(words.key(record[words.key_name])),
            escape(_row_text(record, "platform_", words)),  # cells from the files: a "|" would split a Markdown cell
            _source(record.get("platform_file"), record.get("platform_source_row"), escape),
            escape(_row_text(record, "expected_", words)),
            _source(record.get(SOURCE_FILE), record.get(SOURCE_ROW), escape),
        ])
    return header, rows


def _changes_rows(cause: RootCause, escape: Callable[[str], str], words: Words) -> tuple[list[str], list[list[str]]]:
    """What a load did to a few values (``value_drift`` with a mechanism): the value in the file and on the platform."""
    header = [words.key_name, "column", f"in {escape(cause.file)}" if cause.file else "in the file", "on the platform"]
    rows = [
        [escape(change["key"]), escape(change["column"]), escape(shown_cell(change["file"])), escape(shown_cell(change["platform"]))]
        for change in cause.details.get("changes", [])
    ]
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if index == 0 else "---" for index in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _row_text(record: dict[str, Any], prefix: str, words: Words) -> str:
    if pd.isna(record.get(prefix + words.version)):
        return "no row"
    return ", ".join(words.value(column, record[prefix + column]) for column in _value_columns(words))


def _source(file: Any, row: Any, escape: Callable[[str], str] = str) -> str:
    if file is None or (isinstance(file, float) and pd.isna(file)) or pd.isna(row):
        return "no delta file"
    return f"{escape(str(file))} line {int(row)}"


def _lineage_table(diagnosis: Diagnosis) -> str:
    # Most rows first, as a count of the sources would list them.
    counts: dict[str, int] = {}
    for name, rows in sorted(diagnosis.lineage_counts.items(), key=lambda item: -item[1]):
        label = "no delta file" if name is None else str(name)
        counts[label] = counts.get(label, 0) + int(rows)
    order = [name for name in diagnosis.files if name in counts] + [name for name in counts if name not in diagnosis.files]
    lines = ["| source of the platform row | rows |", "|---|---:|"]
    lines += [f"| {_md(name)} | {counts[name]:,} |" for name in order]
    return "\n".join(lines)


# --- emails: one text, written as Markdown and as a message file ---------------------------------------


@dataclass(frozen=True)
class _Email:
    """An email as blocks (``("p", text)``, ``("h", heading)``, ``("list", items)``, ``("table", header, rows)``,
    ``("code", lines)``), written in its words twice: Markdown with text escaped, and plain text."""

    subject: str
    blocks: Callable[[Callable[[str], str]], list[tuple]]

    def markdown(self) -> str:
        parts = [f"**Subject:** {_md(self.subject)}"]
        for block in self.blocks(_md):
            kind = block[0]
            if kind == "h":
                parts.append(f"**{block[1]}**")
            elif kind == "list":
                parts.append("\n".join(f"- {item}" for item in block[1]))
            elif kind == "table":
                parts.append(_markdown_table(block[1], block[2]))
            elif kind == "code":
                # The code block is shown verbatim; a backtick fence in a name must not close it.
                parts.append("\n".join(["```python", *(line.replace("```", "'''") for line in block[1]), "```"]))
            else:
                parts.append(block[1])
        return "\n\n".join(parts) + "\n"

    def text(self) -> str:
        parts = []
        for block in self.blocks(str):
            kind = block[0]
            if kind == "list":
                parts.append("\n".join(f"- {item}" for item in block[1]))
            elif kind == "table":
                parts.append(_text_table(block[1], block[2]))
            elif kind == "code":
                parts.append("\n".join(f"    {line}" for line in block[1]))
            else:
                parts.append(block[1])
        return "\n\n".join(parts) + "\n"

    def message(self, attachments: Sequence[Path] = ()) -> bytes:
        """An RFC 5322 message (a draft: ``X-Unsent``, no addresses) with a plain-text body and ``attachments``."""
        from email.message import EmailMessage
        from email.policy import SMTP

        message = EmailMessage(policy=SMTP)
        message["Subject"] = self.subject
        message["X-Unsent"] = "1"  # mail clients open it as a draft to address and send
        message.set_content(self.text())
        for path in attachments:
            message.add_attachment(read_output(path), maintype="text", subtype="csv", filename=Path(path).name)
        if message.is_multipart():
            # A boundary from the content, not a random one: the same report writes the same bytes.
            message.set_boundary("=_checks_" + hashlib.sha256(message.get_body().get_content().encode()).hexdigest()[:32])
        return message.as_bytes()


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(line[index]) for line in [header, *rows]) for index in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [header, *rows]]
    return "\n".join(lines)


def _greeting(salutation: str, name: str | None, escape: Callable[[str], str]) -> str:
    return f"{salutation} {escape(name)}," if name else f"{salutation},"


def first_name(contact: str | None) -> str | None:
    """The name to greet a contact by: "Michael Greene, email marketing director" -> "Michael"."""
    if not contact or not contact.strip():
        return None
    return contact.split(",")[0].split()[0]


def _signature(names: ReportNames, escape: Callable[[str], str], regards: str) -> str:
    lines = [f"{regards},"]
    lines += [escape(name) for name in (names.sender_name, names.platform_company) if name]
    return "\n".join(lines)


# --- the engineer's email -----------------------------------------------------------------------------

EXAMPLES_IN_EMAIL = 10


def render_engineer_email(diagnosis: Diagnosis, names: ReportNames, arrivals: Mapping[str, Arrival] | None = None) -> str:
    """The email to the platform's backend engineer, in Markdown (``email-engineer.eml`` holds it as a message)."""
    return _engineer_email(diagnosis, names, arrivals or {}).markdown()


def _engineer_email(diagnosis: Diagnosis, names: ReportNames, arrivals: Mapping[str, Arrival]) -> _Email:
    """What is wrong and its impact, the evidence and examples, a hypothesis to confirm, fix, backfill, what is attached."""
    company = names.customer_company
    if not _discrepant_users(diagnosis):
        subject = f"{company}: platform table matches the feed" if company else "Platform table matches the customer's feed"
    else:
        subject = (f"{company}: platform" if company else "Platform") + _how_far_off(diagnosis)

    def blocks(e: Callable[[str], str]) -> list[tuple]:
        whose = f" for {e(company)}" if company else ""
        out: list[tuple] = [("p", _greeting("Hi", names.engineer_name, e))]
        if not _discrepant_users(diagnosis):
            out.append(("p",
                f"I reconciled the loaded table{whose} against the deduplicated feed ({counted(len(diagnosis.files), 'delta file')}): "
                f"every {e(diagnosis.words.key_word)} matches{diagnosis.words.money_part(' and both totals are {}', diagnosis.expected_total)}. "
                + ("Nothing to do." if (apart := customer_apart(diagnosis)) is None else f"Nothing to do on our side. {e(apart)}")
            ))
            return out + [("p", _signature(names, e, "Thanks"))]
        reconciliation = diagnosis.reconciliation
        discrepant = _discrepant_users(diagnosis)
        table = f" ({e(names.platform_file)})" if names.platform_file else ""
        reconciled = f"I reconciled the loaded table{table}{whose} against the {counted(len(diagnosis.files), 'delta file')} the customer sent"
        out.append(("p", _reconciled_totals(diagnosis, reconciled, e)))
        off_by = (
            diagnosis.words.money_part(", and the table's total is off by {}", diagnosis.gap) if diagnosis.totals_differ
            else diagnosis.words.amount_part(", though the table's total is right")
        )
        if _only_quarantined(diagnosis):
            shown, used = "figures from a file validation quarantined", "those values"
        elif diagnosis.root_causes and all(cause.details.get("what") for cause in diagnosis.root_causes):  # changed, not older
            shown, used = "figures other than the files'", "the changed values"
        else:
            shown, used = "figures that are not their latest", "the older values"
        out.append(("p",
            f"Impact: {discrepant:,} of {reconciliation.user_count:,} {e(diagnosis.words.keys)} ({discrepant / max(reconciliation.user_count, 1):.1%}) "
            f"{agreeing(discrepant, 'show')} {shown}{off_by}. Anything built "
            f"on those {e(diagnosis.words.keys)}' figures (segments, campaigns, reports) used {used}."
        ))
        agreement = _customer_agreement(diagnosis, e)
        if agreement:
            out.append(("p", agreement))
        for cause in diagnosis.root_causes:
            said = (f"{diagnosis.words.keys_and_money(cause.users, cause.revenue_gap)}, "
                    f"{diagnosis.words.share(cause.share_of_gap, basis=diagnosis.share_basis)}")
            out.append(("h", f"{_title(cause, e, diagnosis.words)} ({e(said)})"))
            out.append(("p", f"What the data shows: {e(cause.evidence)}"))
            changes = _changes_rows(cause, e, diagnosis.words)
            if changes[1]:
                out.append(("table", *changes))
            landed = _arrival_facts(cause, diagnosis, arrivals, e)
            if landed:
                out.append(("p", "What the landing zone's ledger recorded:"))
                out.append(("list", landed))
            out.append(("p", f"Hypothesis to confirm: {_mechanism(cause, e, diagnosis.words)}"))
            out.append(("p", f"Fix: {_fix(cause, diagnosis.words)}"))
            out.append(("p", f"Backfill: {_backfill(cause, diagnosis, e)}"))
        if diagnosis.unexplained_users:
            out.append(("p",
                f"Still unexplained: {e(diagnosis.words.keys_and_money(diagnosis.unexplained_users, diagnosis.unexplained_gap))} "
                f"({e(diagnosis.words.share(diagnosis.unexplained_share, basis=diagnosis.share_basis))}); none of the simulated faults reproduces their rows. "
                f"They are in {DISCREPANCIES_CSV}."
            ))
        else:
            out.append(("p", f"Nothing is left unexplained: with the above, every {e(diagnosis.words.key_word)} matches the feed."))
        examples = _email_examples(diagnosis)
        if not examples.empty:
            largest = diagnosis.words.amount_part(", largest gaps first")
            out.append(("p", f"{counted(len(examples), 'example')}{largest} (values: {', '.join(_value_columns(diagnosis.words))}):"))
            out.append(("table", *_examples_rows(examples, e, diagnosis.words)))
        out.append(("p", "To reproduce (pandas, from the folder with the delta files):"))
        out.append(("code", _reproduction(diagnosis, names)))
        out.append(("p", "Or with our suite: checks diagnose --feed <feed folder> --platform <platform table> --json"))
        described = (
            f"{DISCREPANCIES_CSV}: the {e(diagnosis.words.count(discrepant))} that {agreeing(discrepant, 'do')} not match"
            f"{diagnosis.words.amount_part(', largest gap first')}, each with the platform's "
            "row and the file and line it came from, and the latest row and the file and line it came from."
        )
        if _attached(diagnosis):
            out.append(("p", "Attached:"))
            out.append(("list", [described]))
        else:
            out.append(("p", f"Too large to attach ({discrepant:,} rows), in the incident folder beside this email:"))
            out.append(("list", [described]))
        out.append(("p", f"The full report is {INCIDENT_MD} (and {INCIDENT_HTML} beside the Data Docs)."))
        out.append(("p",
            f"Please reply when the fix is deployed; I'll re-run the reconciliation and confirm "
            f"{_corrected(diagnosis, e, 'the total is', 'matches the feed')} before we tell " + (e(company) if company else "the customer") + " it's corrected."
        ))
        return out + [("p", _signature(names, e, "Thanks"))]

    return _Email(subject, blocks)


def _reconciled_totals(diagnosis: Diagnosis, reconciled: str, e: Callable[[str], str]) -> str:
    """The engineer's first finding: what was reconciled, with both totals where the feed has an amount."""
    w = diagnosis.words
    rebuilt = f"latest {w.version} per {e(w.key_word)}"
    if not w.has_amount:
        return f"{reconciled}, rebuilt from the files ({rebuilt})."
    finance = ", which is also the customer's finance total" if diagnosis.finance_total == diagnosis.expected_total else ""
    return (
        f"{reconciled}. It totals {w.money(diagnosis.platform_total)}; rebuilt from the files ({rebuilt}) it is "
        f"{w.money(diagnosis.expected_total)}{finance}."
    )


def _customer_differing(diagnosis: Diagnosis) -> int | None:
    """How many keys' rows in the customer's export differ from the feed's, or are missing or extra there (None
    without an export)."""
    reconciliation, users = diagnosis.reconciliation, diagnosis.reconciliation.users
    if isinstance(users, UsersElsewhere):  # an engine's (Spark): counted where the rows are
        differing = users.customer_differing()
    else:
        differing = int(users[CUSTOMER_CLASS].ne(MATCH).sum()) if CUSTOMER_CLASS in users else None
    return None if reconciliation.customer_total is None else differing


def customer_apart(diagnosis: Diagnosis) -> str | None:
    """Where the platform's table matches the feed but the customer's own export does not: that sentence (None
    otherwise). The difference in the customer's figures is then in its export."""
    if _discrepant_users(diagnosis) or not (differing := _customer_differing(diagnosis)):
        return None
    totals = _export_totals(diagnosis, ", the feed's {}")
    return f"The customer's own export differs from the feed for {diagnosis.words.count(differing)}{totals}: the difference is in the export."


def _export_totals(diagnosis: Diagnosis, feed_total: str) -> str:
    """The customer export's total beside the feed's (``feed_total`` says it: ``", the feed's {}"``), in brackets;
    nothing without an amount."""
    w = diagnosis.words
    totals = w.money_part(" (its total is {}", diagnosis.reconciliation.customer_total)
    return totals + w.money_part(feed_total + ")", diagnosis.expected_total) if totals else ""


def _customer_agreement(diagnosis: Diagnosis, e: Callable[[str], str]) -> str | None:
    """Whether the customer's export agrees with the feed, user by user (None without an export)."""
    reconciliation = diagnosis.reconciliation
    differing = _customer_differing(diagnosis)
    if differing is None:
        return None
    if not differing:
        return (
            f"The customer's own export agrees with the feed for every {e(diagnosis.words.key_word)} ({reconciliation.user_count:,} of "
            f"{reconciliation.user_count:,}{diagnosis.words.money_part('; total {}', reconciliation.customer_total)}), so the difference is on our side."
        )
    return (
        f"The customer's own export differs from the feed for {differing:,} {e(diagnosis.words.keys)}"
        f"{diagnosis.words.money_part(' (its total is {})', reconciliation.customer_total)}; {DISCREPANCIES_CSV} shows its row beside "
        f"each {e(diagnosis.words.key_word)} the platform's table gets wrong."
    )


def _email_examples(diagnosis: Diagnosis) -> pd.DataFrame:
    """Up to ``EXAMPLES_IN_EMAIL`` users across the causes, largest gaps first."""
    frames = [cause.examples for cause in diagnosis.root_causes if not cause.examples.empty]
    if not frames:
        return pd.DataFrame()
    examples = pd.concat(frames, ignore_index=True).drop_duplicates(diagnosis.words.key_name)
    order = np.argsort(-np.abs(examples[SPEND_GAP].to_numpy(dtype="float64")), kind="stable")
    return examples.iloc[order[:EXAMPLES_IN_EMAIL]]


def _arrival_facts(cause: RootCause, diagnosis: Diagnosis, arrivals: Mapping[str, Arrival], e: Callable[[str], str]) -> list[str]:
    """The ledger's record of the cause's file and of the files either side of it, as sentences."""
    if not cause.file or cause.file not in diagnosis.files or not arrivals:
        return []
    position = diagnosis.files.index(cause.file)
    nearby = diagnosis.files[max(position - 1, 0):position + 2]
    facts = []
    for name in nearby:
        arrival = arrivals.get(name)
        if arrival is None:
            facts.append(f"{e(name)}: no record in the ledger")
            continue
        fetched = f"fetched {arrival.fetched_at}" if arrival.fetched_at else "never fetched"
        digest = f", sha256 {arrival.sha256}" if arrival.sha256 else ""
        held = {True: "; the file in the feed folder still has this sha256", False: "; the file in the feed folder does NOT have this sha256", None: ""}[arrival.intact]
        facts.append(f"{e(name)}: landed {arrival.landed_at}, {fetched}, status {arrival.status}{digest}{held}")
    spacing = _landing_spacing(cause.file, nearby, arrivals, e)
    return facts + ([spacing] if spacing else [])


def _landing_spacing(file: str, nearby: Sequence[str], arrivals: Mapping[str, Arrival], e: Callable[[str], str]) -> str | None:
    """How far apart ``file`` and its neighbours landed ("3.0 hours after delta2.csv"), from the ledger's times."""
    from datetime import datetime

    def landed(name: str) -> datetime | None:
        arrival = arrivals.get(name)
        try:
            return datetime.fromisoformat(arrival.landed_at) if arrival is not None else None
        except ValueError:
            return None

    own = landed(file)
    if own is None:
        return None
    parts = []
    for name in nearby:
        other = landed(name)
        if name == file or other is None or (own.tzinfo is None) != (other.tzinfo is None):
            continue
        hours = (own - other).total_seconds() / 3600
        parts.append(f"{abs(hours):,.1f} hours {'after' if hours >= 0 else 'before'} {e(name)}")
    return f"{e(file)} landed " + " and ".join(parts) + "." if parts else None


def _title(cause: RootCause, e: Callable[[str], str], words: Words) -> str:
    file = e(cause.file) if cause.file else ""
    what = cause.details.get("what")
    if cause.kind == VALUE_DRIFT and what:
        return f"When {file or 'the files'} {'was' if file else 'were'} loaded, {e(what)}"
    keys = e(words.keys)
    return {
        FILE_NOT_INGESTED: f"{file} was never loaded",
        FILE_PARTIALLY_INGESTED: f"{file} was only partly loaded",
        WRONG_DEDUP_ORDER: f"Deduplication kept the wrong row per {e(words.key_word)}",
        DUPLICATE_ROWS: f"{capitalised(keys)} are loaded more than once",
        MISSING_USERS: f"{capitalised(keys)} are missing from the table",
        UNEXPECTED_USERS: f"The table holds {keys} the feed never sent",
        VALUE_DRIFT: "Values changed between the file and the table",
        QUARANTINED_FILE_LOADED: f"{file} was loaded although it failed validation",
    }[cause.kind]


def _mechanism(cause: RootCause, e: Callable[[str], str], words: Words) -> str:
    file = e(cause.file or "the file")
    details = cause.details
    if cause.kind == FILE_NOT_INGESTED:
        return (
            f"{file} ({words.version} {_version_range(details, words)}, "
            f"{details.get('rows', 0):,} rows) is missing entirely while the files before and after it are loaded. "
            "That fits an import that fetches one new file per run: if two files were waiting in the same run, it would "
            "take one and mark the run done, and the other would never be picked up. The import's log for the run that "
            "should have fetched it, and the landing zone's arrival times, will confirm or rule this out."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED and details.get("scattered"):
        return (
            f"{details.get('lacking', 0):,} rows of {file} are not in the table, here and there in the file, while rows "
            "around them are. That fits rows rejected one by one (a constraint, a type the table refuses) or a filter "
            "between the file and the table; the loader's log for that file will tell."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return (
            f"only the first {details.get('kept', 0):,} of {details.get('total', 0):,} rows of {file} are in the table, and "
            "none after. That fits a load that stopped part-way (a timeout, a crash or a size limit) with the file still "
            "marked as done; the loader's log for that file will tell."
        )
    if cause.kind == WRONG_DEDUP_ORDER:
        if details.get("rule") == "string":
            return f"{words.version} compared as text (a VARCHAR column, or the CSV read without types), so 999 beats 1500."
        order = ", ".join(e(name) for name in details.get("order", []))
        if details.get("first_wins"):
            return (
                f"each load left the {e(words.keys)} the table held as they were (an insert that skips {e(words.keys)} already "
                f"there, such as ON CONFLICT DO NOTHING, instead of an upsert), or the files were loaded newest first ({order})."
            )
        return f"each load overwrote the {e(words.keys)} it held (last write wins) with the files loaded in the order {order}."
    if cause.kind == DUPLICATE_ROWS and details.get("appended"):
        return (
            f"the load of {file} appended its rows instead of upserting on {e(words.key_name)}, so each {e(words.key_word)} "
            f"it holds appears twice: its row of {file} beside the one the table held."
        )
    if cause.kind == DUPLICATE_ROWS:
        return (
            f"the loader appends rows instead of upserting on {e(words.key_name)}, so a {e(words.key_word)} updated by several deltas "
            "appears several times."
        )
    if cause.kind == MISSING_USERS and details.get("dropped") is not None:
        return f"the {e(words.keys)} missing are {e(dropped_words(details['dropped'], words))}."
    if cause.kind == MISSING_USERS:
        return f"rows dropped between the file and the table (a filter, a failed insert batch, or a join that loses {e(words.keys)})."
    if cause.kind == UNEXPECTED_USERS:
        return "rows from another source (test data, another customer, an old import) in this customer's table."
    if cause.kind == QUARANTINED_FILE_LOADED:
        return (
            f"the loader takes every file that lands, {file} included, without waiting for validation to pass it (its "
            f"failures are in {FAILURES_CSV}). The loader's log for {file} will show when it was picked up."
        )
    if details.get("why"):
        reproduced = f"the platform's rows of these {words.keys} exactly"
        if details.get("changed"):
            reproduced = (
                f"the platform's keys of these {words.keys} exactly, and their rows but for the {details['changed']:,} "
                f"the causes beside this one tell"
            )
        return (
            f"{details['why']}. Applied to the rows of {file}, this change reproduces {reproduced}; the loader's code and "
            f"its log for {file} will confirm it."
        )
    return "values rewritten between the file and the table (a transform, a type conversion, or a manual edit)."


def _fix(cause: RootCause, words: Words) -> str:
    if cause.kind == FILE_NOT_INGESTED:
        return (
            "on each run, list every unprocessed file in the landing zone and load all of them in delta-number order, "
            "recording each one (name and checksum) in a ledger only after it is loaded; alert when the ledger has a gap "
            "in the delta numbers."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return "load each file in one transaction and mark it done only when the rows loaded equal the rows in the file."
    if cause.kind == WRONG_DEDUP_ORDER:
        return f"store {words.version} with its type and upsert only when the new {words.version} is larger; never rely on load order."
    if cause.kind == DUPLICATE_ROWS:
        return f"make {words.key_name} the table's primary key and upsert (keep the row with the largest {words.version})."
    if cause.kind == QUARANTINED_FILE_LOADED:
        return "load only the files validation passed (`checks gate` refuses the others) and hold a quarantined file until a corrected one is sent."
    if cause.details.get("fix"):
        return f"{cause.details['fix']}."
    return "compare row counts and totals between each file and the table after every load, and fail the load when they differ."


def _version_range(details: Mapping[str, Any], words: Words) -> str:
    """A file's versions, first to last, as the file wrote them."""
    first, last = details.get("first_batch"), details.get("last_batch")
    return "?" if first is None or last is None else f"{words.version_value(first)}–{words.version_value(last)}"


def _backfill(cause: RootCause, diagnosis: Diagnosis, e: Callable[[str], str]) -> str:
    w = diagnosis.words
    then = _corrected(diagnosis, e, "the total should then be", "should then match the feed")
    if cause.kind == FILE_NOT_INGESTED:
        later = cause.details.get("users_in_later_files", 0)
        table_then = _corrected(diagnosis, e, "the table total should then be", "should then match the feed")
        return (
            f"load {e(cause.file or 'the file')} now with the {w.version}-guarded upsert. Order matters: {later:,} of its "
            f"{e(w.keys)} {agreeing(later, 'are')} updated again by later deltas, so a plain overwrite would regress them; with the "
            f"guard only the {cause.users:,} affected {e(w.keys if cause.users != 1 else w.key_word)} {agreeing(cause.users, 'change')}. "
            f"{capitalised(table_then)}."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return (
            f"re-load the whole of {e(cause.file or 'the file')} with the {w.version}-guarded upsert (rows already loaded "
            f"are no-ops); {then}."
        )
    if cause.kind == QUARANTINED_FILE_LOADED:
        return (
            f"rebuild the {e(w.keys)} affected from the validated files with the {w.version}-guarded upsert, leaving "
            f"{e(cause.file or 'the file')}'s rows out until the customer sends it corrected; {then}."
        )
    if cause.details.get("what"):
        source = e(cause.file) if cause.file else "the files"
        return (
            f"once the fix is deployed, re-load {source} with the {w.version}-guarded upsert: the {w.count(cause.users)} "
            f"whose values it changed {agreeing(cause.users, 'get')} the file's values back (rows already right are no-ops); {then}."
        )
    return f"rebuild the table from all {len(diagnosis.files)} deltas with the guarded upsert; {then}."


def _corrected(diagnosis: Diagnosis, e: Callable[[str], str], total: str, keys: str) -> str:
    """What the corrected table shows: ``total`` and the feed's total ("the total is $1,234"), or, without an
    amount, every key as ``keys`` says ("every member matches the feed")."""
    w = diagnosis.words
    return f"{total} {w.money(diagnosis.expected_total)}" if w.has_amount else f"every {e(w.key_word)} {keys}"


def _how_far_off(diagnosis: Diagnosis) -> str:
    """The engineer's subject after "Platform": " table is $1,234 off the customer's feed", or for how many keys."""
    w = diagnosis.words
    if diagnosis.totals_differ:
        return f" table is {w.money(diagnosis.gap)} off the customer's feed"
    return f" table differs from the customer's feed for {w.count(_discrepant_users(diagnosis))}"


def _reproduction(diagnosis: Diagnosis, names: ReportNames) -> list[str]:
    words = diagnosis.words
    skipped = [cause.file for cause in diagnosis.root_causes if cause.kind == FILE_NOT_INGESTED and cause.file]
    files = [name for name in diagnosis.files if name not in skipped]
    return [
        "import pandas as pd",
        # Names are data: repr, so a crafted name (a newline, a quote) stays inside its string literal.
        f"files = {files!r}" + (f"  # without {', '.join(map(repr, skipped))}" if skipped else ""),
        "feed = pd.concat(pd.read_csv(name) for name in files)",
        f"rebuilt = feed.sort_values({words.version!r}).drop_duplicates({words.key_name!r}, keep=\"last\")",
        f"platform = pd.read_csv({(names.platform_file or 'platform-table.csv')!r})",
        _compared(words, diagnosis.platform_total if skipped else None),
    ]


def _compared(words: Words, both: int | None) -> str:
    """The snippet's last line: the two totals (``both``: what they then are), or without an amount to sum, how
    many rebuilt rows the platform holds as they are."""
    amount = words.encoding.contract.shape.amount
    if not words.has_amount:
        return "print(len(rebuilt.merge(platform)), 'of', len(rebuilt), 'rebuilt rows are on the platform as they are')"
    return f"print(rebuilt[{amount!r}].sum(), platform[{amount!r}].sum())" + (f"  # both {words.money(both)}" if both is not None else "")


# --- the customer's email -----------------------------------------------------------------------------


def render_customer_email(diagnosis: Diagnosis, names: ReportNames, arrivals: Mapping[str, Arrival] | None = None) -> str:
    """The email to the customer, in Markdown (``email-customer.eml`` holds it as a message)."""
    return _customer_email(diagnosis, names, arrivals or {}).markdown()


def _customer_email(diagnosis: Diagnosis, names: ReportNames, arrivals: Mapping[str, Arrival]) -> _Email:
    """In plain language and one voice (we, signed by a person): what happened, what it meant, the corrected
    total, what we do next and when, the list of affected customers on request. Says only what the data shows."""
    greeting_name = first_name(names.customer_contact)
    totals_differ = diagnosis.totals_differ  # else the figures differ and there is no total to correct

    def blocks(e: Callable[[str], str]) -> list[tuple]:
        salutation = "Dear" if greeting_name else "Hello"
        out: list[tuple] = [("p", _greeting(salutation, greeting_name, e))]
        shown_in = f"in {e(names.platform_company)}" if names.platform_company else "on our side"
        if not _discrepant_users(diagnosis):
            out.append(("p",
                "Thank you for raising the question about your figures. We checked every customer record we hold "
                + (f"for {e(names.customer_company)} " if names.customer_company else "")
                + f"against the files you sent us, and they match"
                + diagnosis.words.money_part(f": the total {diagnosis.words.amount_word} is {{}}", diagnosis.expected_total) + "."
            ))
            if customer_apart(diagnosis) is not None:  # the difference is in the customer's own export
                out.append(("p",
                    f"The export you compared with, though, differs from those files for {_customer_differing(diagnosis):,} "
                    f"of your customers{_export_totals(diagnosis, '; the files total {}')}: that is where the difference in "
                    "your figures comes from. We can send you the list of those customers."
                ))
            return out + [("p", _signature(names, e, "Kind regards"))]
        customers, w = _discrepant_users(diagnosis), diagnosis.words
        flagged, corrected, difference = "the figures", "", ""
        if totals_differ:
            flagged = f"the total {e(w.amount_word)}"
            corrected = (
                f" We showed {w.money(diagnosis.platform_total)}; the correct figure is {w.money(diagnosis.expected_total)}"
                + (", which matches your finance team's total" if diagnosis.finance_total == diagnosis.expected_total else "")
                + "."
            )
            difference = f", {w.money(abs(diagnosis.gap))},"
        out.append(("p",
            f"Thank you for flagging that {flagged} shown {shown_in} didn't match your own records. You were right, "
            f"and we are sorry for the confusion it caused.{corrected} The difference{difference} "
            f"affects {customers:,} of your customers."
        ))
        happened = " ".join(_plain(cause, diagnosis, arrivals) for cause in diagnosis.root_causes[:3])
        if diagnosis.unexplained_share >= EXPLAINED_TOLERANCE:
            happened += " A small remaining part is still being checked and we will confirm it separately."
        out += [("h", "What happened"), ("p", happened or "We are still establishing the cause and will tell you as soon as we know.")]
        # Values a load changed are not older figures: say so when some cause is one.
        changed = any(cause.details.get("what") for cause in diagnosis.root_causes)
        shown = "figures other than the latest ones you sent" if changed else "older figures than the ones you sent"
        if _only_quarantined(diagnosis):
            shown = "figures from a file that had not passed our checks"
        out += [("h", "What it meant for you"), ("p",
            f"For {_those_customers(customers)} we showed {shown}. Any campaign, segment or "
            "report built on their figures used those until the correction."
        )]
        intact = _files_intact(diagnosis, arrivals)
        if intact:
            out += [("h", "Your files"), ("p", intact)]
        figures, are = (f"the corrected total of {w.money(diagnosis.expected_total)}", "is") if totals_differ else ("the corrected figures", "are")
        when = f" {capitalised(figures)} will be visible {e(names.eta)}." if names.eta else (
            f" We will write again as soon as {figures} {are} visible."
        )
        compared = "totals" if totals_differ else "figures"
        out += [("h", "What we are doing"), ("p",
            "We are reloading your data so that every customer shows their latest figures, fixing the cause, and adding an "
            f"automatic check that compares our {compared} with your files after every update, so that a difference like this "
            "is caught before you see it." + when
        )]
        out.append(("p",
            f"If it helps, we can send you the list of the {counted(customers, 'affected customer')} with their figures before and "
            "after the correction, or walk you or your team through the details on a short call."
        ))
        return out + [("p", _signature(names, e, "Kind regards"))]

    total = f"total {diagnosis.words.amount_word} " if totals_differ else ""
    return _Email(f"The difference in your {total}figures", blocks)


def _only_quarantined(diagnosis: Diagnosis) -> bool:
    """Whether every root cause is a quarantined file loaded: the table shows that file's figures, not older ones."""
    causes = diagnosis.root_causes
    return bool(causes) and all(cause.kind == QUARANTINED_FILE_LOADED for cause in causes)


def _those_customers(number: int) -> str:
    return "that customer" if number == 1 else f"those {number:,} customers"


def _plain(cause: RootCause, diagnosis: Diagnosis, arrivals: Mapping[str, Arrival]) -> str:
    people = counted(cause.users, "customer")
    # The feed's first file is its base, not an update.
    first = bool(diagnosis.files) and cause.file == diagnosis.files[0]
    if cause.kind == FILE_NOT_INGESTED:
        arrival = arrivals.get(cause.file or "")
        arrived = f"that reached us on {arrival.landed_at[:10]}" if arrival is not None else "you sent us"
        which = f"The first file {arrived}" if first else f"One of the regular update files {arrived}"
        return f"{which} was not loaded into our figures, so {people} still showed older figures. We are confirming why it was missed."
    if cause.kind == FILE_PARTIALLY_INGESTED:
        which = "Your first file" if first else "One of your update files"
        return f"{which} was only partly loaded, so {people} still showed older figures."
    if cause.kind == WRONG_DEDUP_ORDER:
        return f"When several updates existed for the same customer, our system sometimes kept an older one; this affected {people}."
    if cause.kind == DUPLICATE_ROWS:
        return f"Some customers were counted more than once ({people})."
    if cause.kind == MISSING_USERS:
        return f"Some customers were left out of our figures ({people})."
    if cause.kind == UNEXPECTED_USERS:
        return f"Our figures included {people} that {agreeing(cause.users, 'are')} not in your files."
    if cause.kind == QUARANTINED_FILE_LOADED:
        which = "Your first file" if first else "One of your update files"
        return (
            f"{which} did not pass our checks, and our system loaded it anyway instead of holding it back, so {people} "
            "showed figures from that file. We will tell you separately what in it needs correcting."
        )
    what = cause.details.get("what")
    if what:
        moved = "" if cause.revenue_gap else diagnosis.words.amount_part(f" This did not change the total {diagnosis.words.amount_word}.")
        which = "your files were" if cause.file is None else "your first file was" if first else "one of your update files was"
        return f"When {which} loaded, {what} for {people}.{moved}"
    return f"Some figures were changed on our side after we received them ({people})."


def _files_intact(diagnosis: Diagnosis, arrivals: Mapping[str, Arrival]) -> str | None:
    """A sentence for the customer when the ledger shows every file is held as it arrived; None when it cannot show it."""
    if not arrivals or not all(arrivals.get(name) is not None and arrivals[name].intact for name in diagnosis.files):
        return None
    return (
        f"We still hold all {len(diagnosis.files)} update files exactly as they reached us: each one's checksum "
        "matches the one we recorded on arrival."
    )


# --- HTML page beside the Data Docs -------------------------------------------------------------------


def render_incident_html(
    diagnosis: Diagnosis,
    names: ReportNames,
    *,
    charts: dict[str, str] | None = None,
    docs_index: str | None = None,
) -> str:
    """A self-contained page with the finding, examples and charts (``charts``: SVG text, inlined); text is HTML-escaped."""
    e, words = html.escape, diagnosis.words
    company = names.customer_company
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(_title_line(diagnosis, company))}</title>",
        "<style>body{font-family:sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
        "td.n{text-align:right}svg{max-width:100%;height:auto}</style>",
        "</head><body>",
        f"<h1>{e(_title_line(diagnosis, company))}</h1>",
        f"<p>{_unmd_escape(_headline(diagnosis))}</p>",
    ]
    if docs_index:
        parts.append(f'<p><a href="{e(docs_index, quote=True)}">Data Docs: the expectations on every table</a></p>')
    if words.has_amount:  # without an amount every total is 0: no table of them
        parts.append("<h2>Totals</h2><table>")
        parts += [f'<tr><th>{e(label)}</th><td class="n">{e(words.money(value))}</td></tr>' for label, value in _totals(diagnosis)]
        parts.append("</table><h2>Root causes</h2>")
    else:
        parts.append("<h2>Root causes</h2>")
    if diagnosis.root_causes:
        header, rows = _html_columns(_cause_columns(diagnosis, numbered=False), _cause_rows(diagnosis))
        parts += [f"<table>{header}", *rows[:-1], f"{rows[-1]}</table>"]
        for index, cause in enumerate(diagnosis.root_causes, start=1):
            parts.append(f"<h3>{index}. {e(cause_words(cause, words))}</h3><p>{e(cause.evidence)}</p>")
            for header, rows in (_examples_rows(cause.examples, str, diagnosis.words), _changes_rows(cause, str, diagnosis.words)):
                if rows:
                    parts.append("<table><tr>" + "".join(f"<th>{e(cell)}</th>" for cell in header) + "</tr>")
                    parts += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows]
                    parts.append("</table>")
    else:
        parts.append(f"<p>None: every {e(words.key_word)} on the platform matches the feed.</p>" if not _discrepant_users(diagnosis) else
                     f"<p>No tested hypothesis explains the discrepancy; see the {e(words.keys)} by class below.</p>")
    header, rows = _html_columns(_class_columns(words), diagnosis.reconciliation.classes)
    parts += [f"<h2>{e(capitalised(words.keys))} by class</h2><table>{header}", *rows, "</table>"]
    from checks.charts import chart_headings

    headings = chart_headings(words)
    for name, svg in (charts or {}).items():
        heading = headings.get(name, name)
        parts.append(f'<h2>{e(heading)}</h2><figure role="img" aria-label="{e(heading, quote=True)}">{_inline_svg(svg)}</figure>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)
_XML_NAMESPACE = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


def _inline_svg(svg: str) -> str:
    """An SVG file as an element of an HTML page: no XML prologue, no namespace URLs (HTML supplies them), no
    metadata (matplotlib's RDF names vocabularies by URL)."""
    return _SVG_METADATA.sub("", _XML_NAMESPACE.sub("", _XML_PROLOGUE.sub("", svg)))


# --- helpers ------------------------------------------------------------------------------------------


def _attached(diagnosis: Diagnosis) -> bool:
    """Whether discrepancies.csv goes with the engineer's message (``ATTACHED_ROWS``)."""
    return _discrepant_users(diagnosis) <= ATTACHED_ROWS


def _discrepant_users(diagnosis: Diagnosis) -> int:
    """Users that do not match, from the class counts (the table has millions of rows to count again)."""
    return sum(summary.users for summary in diagnosis.reconciliation.classes if summary.name != MATCH)


def _md(text: Any) -> str:
    """Text from a file or the command line, safe inside Markdown: no HTML, no links, no emphasis."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def _unmd_escape(markdown: str) -> str:
    """Markdown text already made safe by ``_md``, shown as HTML: drop the backslashes (the HTML escapes stay)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _url(path: str) -> str:
    return path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _relative(paths: dict[str, Path], base: Path) -> dict[str, str]:
    return {name: os.path.relpath(path, base) for name, path in paths.items()}


def _link(target: Path | None, base: Path) -> str | None:
    return None if target is None else os.path.relpath(Path(target), base)
