"""Rendering a diagnosis for people: the incident report (Markdown and HTML), the engineer's and the customer's emails.

Every number comes from the ``Diagnosis``; names of people and companies are parameters. Text that
comes from files (file names, values) and the names given on the command line are escaped for the
format they land in, so a ``<script>`` or ``=HYPERLINK(...)`` shows as the text it is.
"""
from __future__ import annotations

import html
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import SOURCE_FILE, SOURCE_ROW
from checks.diagnose import (
    DUPLICATE_ROWS,
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    MISSING_USERS,
    UNEXPECTED_USERS,
    VALUE_DRIFT,
    WRONG_DEDUP_ORDER,
    Diagnosis,
    RootCause,
)
from checks.reconcile import MATCH, SPEND_GAP
from checks.writers import atomic_write_frame, atomic_write_text

INCIDENT_MD = "incident.md"
INCIDENT_HTML = "incident.html"
EMAIL_ENGINEER = "email-engineer.md"
EMAIL_CUSTOMER = "email-customer.md"
DISCREPANCIES_CSV = "discrepancies.csv"
# A share of the gap below this is reported as "fully explained".
EXPLAINED_TOLERANCE = 0.001
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|])")


@dataclass(frozen=True)
class ReportNames:
    """Who the emails go to and who sends them; every default reads sensibly when nobody is named."""

    engineer_name: str = "team"
    customer_contact: str = ""
    customer_company: str = "your company"
    platform_company: str = "our platform"
    sender_name: str = "Integration Engineering"
    platform_file: str = "platform-table.csv"
    correction_eta: str = "within one business day"


def write_incident_report(
    diagnosis: Diagnosis, out_dir: Path, *, names: ReportNames = ReportNames(), docs_index: Path | None = None
) -> list[Path]:
    """Write incident.md, both emails, discrepancies.csv, the charts and incident.html (beside the Data Docs
    index when given, else in ``out_dir``); every file atomically. Returns the paths written."""
    from checks.charts import render_charts

    out_dir = Path(out_dir)
    html_path = (Path(docs_index).parent if docs_index else out_dir) / INCIDENT_HTML
    # The per-user table (millions of rows at scale) is sorted and written by Arrow and Polars, which
    # release the GIL, while matplotlib draws the charts here; leaving the block waits for it either way.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="discrepancies") as pool:
        table = pool.submit(_write_discrepancies, diagnosis, out_dir / DISCREPANCIES_CSV)
        charts = render_charts(diagnosis, out_dir)
        chart_pngs = {name: paths[0] for name, paths in charts.items()}
        written = [path for paths in charts.values() for path in paths]
        written.append(
            atomic_write_text(
                out_dir / INCIDENT_MD,
                render_incident(diagnosis, names, charts=_relative(chart_pngs, out_dir), docs_index=_link(docs_index, out_dir)),
            )
        )
        written.append(atomic_write_text(out_dir / EMAIL_ENGINEER, render_engineer_email(diagnosis, names)))
        written.append(atomic_write_text(out_dir / EMAIL_CUSTOMER, render_customer_email(diagnosis, names)))
        written.append(table.result())
    written.append(
        atomic_write_text(
            html_path,
            render_incident_html(
                diagnosis,
                names,
                charts=_relative(chart_pngs, html_path.parent),
                docs_index=_link(docs_index, html_path.parent),
                markdown_report=_link(out_dir / INCIDENT_MD, html_path.parent),
            ),
        )
    )
    return written


# --- the incident report ------------------------------------------------------------------------------


def render_incident(
    diagnosis: Diagnosis, names: ReportNames, *, charts: dict[str, str] | None = None, docs_index: str | None = None
) -> str:
    """The full finding in Markdown: totals, classes, root causes with evidence and examples, lineage."""
    reconciliation = diagnosis.reconciliation
    lines = [f"# Incident: platform table does not match the feed ({_md(names.customer_company)})", ""]
    lines += [_headline(diagnosis), ""]
    lines += ["## Totals", "", "| | total spend |", "|---|---:|"]
    lines += [f"| {label} | {_money(value)} |" for label, value in _totals(diagnosis)]
    lines += ["", "## Users by class", "", "| class | users | revenue gap |", "|---|---:|---:|"]
    lines += [
        f"| {summary.name.replace('_', ' ')} | {summary.users:,} | {_money(summary.revenue_gap)} |"
        for summary in reconciliation.classes
    ]
    lines += ["", "## Root causes", ""]
    if diagnosis.root_causes:
        lines += ["| # | kind | file | users | revenue gap | share of gap |", "|---:|---|---|---:|---:|---:|"]
        lines += [
            f"| {index} | {cause.kind} | {_md(cause.file or '—')} | {cause.users:,} | {_money(cause.revenue_gap)} "
            f"| {cause.share_of_gap:.1%} |"
            for index, cause in enumerate(diagnosis.root_causes, start=1)
        ]
        lines.append(
            f"| | unexplained | | {diagnosis.unexplained_users:,} | {_money(diagnosis.unexplained_gap)} "
            f"| {diagnosis.unexplained_share:.1%} |"
        )
        for index, cause in enumerate(diagnosis.root_causes, start=1):
            lines += ["", f"### {index}. {cause.kind.replace('_', ' ')}" + (f": {_md(cause.file)}" if cause.file else ""), ""]
            lines += [_md(cause.evidence), "", _examples_table(cause.examples)]
    else:
        lines.append("None: every user on the platform matches the deduplicated feed." if not _discrepant_users(diagnosis) else
                     "No tested hypothesis explains the discrepancy; see the classes above.")
    lines += ["", "## Lineage of the platform's rows", "", _lineage_table(diagnosis)]
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{_md(name)}]({_url(path)})" for name, path in charts.items()]
    lines += ["", "## Files", ""]
    lines += [
        f"- Per-user discrepancies: [{DISCREPANCIES_CSV}]({DISCREPANCIES_CSV})",
        f"- Email to the backend engineer: [{EMAIL_ENGINEER}]({EMAIL_ENGINEER})",
        f"- Email to the customer: [{EMAIL_CUSTOMER}]({EMAIL_CUSTOMER})",
    ]
    if docs_index:
        lines.append(f"- Data Docs (failing expectations): [index.html]({_url(docs_index)})")
    return "\n".join(lines) + "\n"


def _headline(diagnosis: Diagnosis) -> str:
    if not _discrepant_users(diagnosis):
        return f"No discrepancy: all {diagnosis.reconciliation.user_count:,} users match; both totals are {_money(diagnosis.expected_total)}."
    causes = diagnosis.root_causes
    explained = 1 - diagnosis.unexplained_share
    main = causes[0] if causes else None
    text = (
        f"The platform's table totals {_money(diagnosis.platform_total)}, the deduplicated feed "
        f"{_money(diagnosis.expected_total)}: a gap of {_money(diagnosis.gap)} across "
        f"{_discrepant_users(diagnosis):,} users."
    )
    if main is not None:
        text += (
            f" {len(causes)} root cause(s) explain {explained:.1%} of it; the largest, "
            f"{main.kind.replace('_', ' ')}{' (' + _md(main.file) + ')' if main.file else ''}, accounts for "
            f"{main.users:,} users and {_money(main.revenue_gap)}."
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


def _examples_table(examples: pd.DataFrame) -> str:
    lines = [
        "| user_id | platform row (spend, saved, credits, batch_id) | platform row's source | latest row | latest row's source |",
        "|---:|---|---|---|---|",
    ]
    for row in examples.itertuples(index=False):  # a handful of examples, never the table
        record = row._asdict()
        lines.append(
            f"| {int(record['user_id'])} | {_row_text(record, 'platform_')} | {_source(record.get('platform_file'), record.get('platform_source_row'))} "
            f"| {_row_text(record, 'expected_')} | {_source(record.get(SOURCE_FILE), record.get(SOURCE_ROW))} |"
        )
    return "\n".join(lines)


def _row_text(record: dict[str, Any], prefix: str) -> str:
    if pd.isna(record.get(prefix + "batch_id")):
        return "no row"
    values = [record[prefix + column] for column in ("total_spend", "count_saved_items", "loyalty_credits", "batch_id")]
    return ", ".join(str(int(value)) for value in values)


def _source(file: Any, row: Any) -> str:
    if file is None or (isinstance(file, float) and pd.isna(file)) or pd.isna(row):
        return "no delta file"
    return f"{_md(str(file))} row {int(row)}"


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


# --- the engineer's email -----------------------------------------------------------------------------


def render_engineer_email(diagnosis: Diagnosis, names: ReportNames) -> str:
    """An email to the platform's backend engineer: what is wrong, evidence, how to reproduce, mechanism, fix, backfill."""
    subject = (
        f"{_md(names.customer_company)}: platform table is {_money(diagnosis.gap)} off the feed"
        if _discrepant_users(diagnosis)
        else f"{_md(names.customer_company)}: platform table matches the feed"
    )
    lines = [f"**Subject:** {subject}", "", f"Hi {_md(names.engineer_name)},", ""]
    if not _discrepant_users(diagnosis):
        lines += [
            f"I reconciled the loaded table for {_md(names.customer_company)} against the deduplicated feed "
            f"({len(diagnosis.files)} delta files): every user matches and both totals are {_money(diagnosis.expected_total)}. "
            "Nothing to do.",
        ]
        return _sign(lines, names)
    reconciliation = diagnosis.reconciliation
    lines += [
        f"{_md(names.customer_company)} reported that our numbers don't match theirs, and they are right. The loaded table "
        f"({_md(names.platform_file)}) totals {_money(diagnosis.platform_total)}; rebuilding it from the "
        f"{len(diagnosis.files)} delta files (latest numeric batch_id per user) gives {_money(diagnosis.expected_total)}"
        + (", which is also the customer's finance total" if diagnosis.finance_total == diagnosis.expected_total else "")
        + f". The gap is {_money(diagnosis.gap)} across {_discrepant_users(diagnosis):,} of "
        f"{reconciliation.user_count:,} users.",
        "",
    ]
    for cause in diagnosis.root_causes:
        lines += [f"**{_title(cause)}** ({cause.users:,} users, {_money(cause.revenue_gap)}, {cause.share_of_gap:.1%} of the gap)", ""]
        lines += [f"What the data shows: {_md(cause.evidence)}", ""]
        lines += [f"Likely mechanism: {_mechanism(cause)}", "", f"Fix: {_fix(cause)}", "", f"Backfill: {_backfill(cause, diagnosis)}", ""]
    if diagnosis.unexplained_users:
        lines += [
            f"Still unexplained: {diagnosis.unexplained_users:,} users, {_money(diagnosis.unexplained_gap)} "
            f"({diagnosis.unexplained_share:.1%} of the gap); none of the simulated faults reproduces their rows. "
            f"They are in {DISCREPANCIES_CSV}.",
            "",
        ]
    else:
        lines += ["Nothing is left unexplained: after the above, every user matches the feed.", ""]
    lines += ["To reproduce (pandas, from the folder with the delta files):", "", "```python", *_reproduction(diagnosis, names), "```", ""]
    lines += [
        "Or with our suite: `checks diagnose --feed <feed folder> --platform <platform table> --json`.",
        "",
        f"Please reply when the fix is deployed; I'll re-run the reconciliation and confirm the total is {_money(diagnosis.expected_total)} "
        f"before we tell {_md(names.customer_company)} it's corrected. The full report is in {INCIDENT_MD}.",
    ]
    return _sign(lines, names)


def _title(cause: RootCause) -> str:
    file = _md(cause.file) if cause.file else ""
    return {
        FILE_NOT_INGESTED: f"{file} was never ingested",
        FILE_PARTIALLY_INGESTED: f"{file} was only partly ingested",
        WRONG_DEDUP_ORDER: "Deduplication kept the wrong row per user",
        DUPLICATE_ROWS: "Users are loaded more than once",
        MISSING_USERS: "Users are missing from the table",
        UNEXPECTED_USERS: "The table holds users the feed never sent",
        VALUE_DRIFT: "Values changed between the file and the table",
    }[cause.kind]


def _mechanism(cause: RootCause) -> str:
    file = _md(cause.file or "the file")
    details = cause.details
    if cause.kind == FILE_NOT_INGESTED:
        return (
            f"{file} (batch_ids {details.get('first_batch', '?')}–{details.get('last_batch', '?')}, {details.get('rows', 0):,} rows) "
            "is missing entirely while the files before and after it are loaded. That is the signature of the 24-hour poller "
            "fetching one new file per run: when two deltas land in the same window, it takes one, marks the window as done, "
            "and the other is never picked up. Worth checking the poller's log for the run that should have fetched it."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return (
            f"only the first {details.get('kept', 0):,} of {details.get('total', 0):,} rows of {file} are in the table, and "
            "none after. The load stopped part-way (a timeout, a crash or a size limit) and the file was still marked as done."
        )
    if cause.kind == WRONG_DEDUP_ORDER:
        if details.get("rule") == "string":
            return "batch_id is compared as text (a VARCHAR column, or the CSV read without types), so 999 beats 1500."
        order = ", ".join(_md(name) for name in details.get("order", []))
        return f"each load overwrote the users it held (last write wins) and the files were loaded in the order {order}."
    if cause.kind == DUPLICATE_ROWS:
        return "the loader appends rows instead of upserting on user_id, so a user updated by several deltas appears several times."
    if cause.kind == MISSING_USERS:
        return "rows are dropped between the file and the table (a filter, a failed insert batch, or a join that loses users)."
    if cause.kind == UNEXPECTED_USERS:
        return "rows from another source (test data, another customer, an old import) ended up in this customer's table."
    return "values are rewritten between the file and the table (a transform, a type conversion, or a manual edit)."


def _fix(cause: RootCause) -> str:
    if cause.kind == FILE_NOT_INGESTED:
        return (
            "on each run, list every unprocessed file in the landing zone and load all of them in delta-number order, "
            "recording each one (name and checksum) in a ledger only after it is loaded; alert when the ledger has a gap "
            "in the delta numbers."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return "load each file in one transaction and mark it done only when the rows loaded equal the rows in the file."
    if cause.kind == WRONG_DEDUP_ORDER:
        return "store batch_id as an integer and upsert with `WHERE new.batch_id > current.batch_id`; never rely on load order."
    if cause.kind == DUPLICATE_ROWS:
        return "make user_id the table's primary key and upsert (keep the row with the largest numeric batch_id)."
    return "compare row counts and totals between each file and the table after every load, and fail the load when they differ."


def _backfill(cause: RootCause, diagnosis: Diagnosis) -> str:
    target = _money(diagnosis.expected_total)
    if cause.kind == FILE_NOT_INGESTED:
        later = cause.details.get("users_in_later_files", 0)
        return (
            f"load {_md(cause.file or 'the file')} now with the batch_id-guarded upsert. Order matters: {later:,} of its users "
            "are updated again by later deltas, so a plain overwrite would regress them; with the guard only the "
            f"{cause.users:,} affected users change. The table total should then be {target}."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return (
            f"re-load the whole of {_md(cause.file or 'the file')} with the batch_id-guarded upsert (rows already loaded are no-ops); "
            f"the total should then be {target}."
        )
    return f"rebuild the table from all {len(diagnosis.files)} deltas with the guarded upsert; the total should then be {target}."


def _reproduction(diagnosis: Diagnosis, names: ReportNames) -> list[str]:
    skipped = [cause.file for cause in diagnosis.root_causes if cause.kind == FILE_NOT_INGESTED and cause.file]
    files = [name for name in diagnosis.files if name not in skipped]
    lines = [
        "import pandas as pd",
        # Names are data: repr, so a crafted name (a newline, a quote) stays inside its string literal.
        f"files = {files!r}" + (f"  # without {', '.join(map(repr, skipped))}" if skipped else ""),
        "feed = pd.concat(pd.read_csv(name) for name in files)",
        'rebuilt = feed.sort_values("batch_id").drop_duplicates("user_id", keep="last")',
        f"platform = pd.read_csv({names.platform_file!r})",
        'print(rebuilt["total_spend"].sum(), platform["total_spend"].sum())'
        + (f"  # both {diagnosis.platform_total:,}" if skipped else ""),
    ]
    # The code block is shown verbatim; a backtick fence in a name must not close it.
    return [line.replace("```", "'''") for line in lines]


# --- the customer's email -----------------------------------------------------------------------------


def render_customer_email(diagnosis: Diagnosis, names: ReportNames) -> str:
    """A plain-language email to the customer: what happened, their data is safe, the corrected total, what next."""
    company = _md(names.customer_company)
    lines = ["**Subject:** The difference in your total spend figures", "", f"Dear {_md(names.customer_contact)}," if names.customer_contact else "Hello,", ""]
    if not _discrepant_users(diagnosis):
        lines += [
            "Thank you for raising the question about your figures. We checked every customer record we hold for "
            f"{company} against the files you sent us, and they match: the total spend is {_money(diagnosis.expected_total)}.",
        ]
        return _sign(lines, names)
    customers = _discrepant_users(diagnosis)
    lines += [
        f"Thank you for flagging that the total spend shown in {_md(names.platform_company)} didn't match your own records. "
        f"You were right, and I'm sorry for the confusion it caused. We showed {_money(diagnosis.platform_total)}; "
        f"the correct figure is {_money(diagnosis.expected_total)}"
        + (", which matches your finance team's total" if diagnosis.finance_total == diagnosis.expected_total else "")
        + f". The difference, {_money(abs(diagnosis.gap))}, affects {customers:,} of your customers.",
        "",
        "**What happened.** " + " ".join(_plain(cause) for cause in diagnosis.root_causes[:3])
        + (" A small remaining part is still being checked and we will confirm it separately." if diagnosis.unexplained_share >= EXPLAINED_TOLERANCE else ""),
        "",
        "**Your data is safe.** Nothing you sent us was lost or altered: the files are stored intact on our side, "
        "and the problem was only in how we loaded them into the figures you see. No data went anywhere it shouldn't.",
        "",
        f"**What we are doing.** We are reloading your data so that every customer shows their latest figures, and the "
        f"corrected total of {_money(diagnosis.expected_total)} will be visible {_md(names.correction_eta)}. We are also "
        "fixing the cause and adding an automatic check that compares our totals with the files after every update, "
        "so a difference like this is caught before you see it.",
        "",
        "I'll write again as soon as the corrected figures are live. If it helps, I'm happy to walk you or your team "
        "through the details on a short call.",
    ]
    return _sign(lines, names, regards="Kind regards")


def _plain(cause: RootCause) -> str:
    people = f"{cause.users:,} customers"
    if cause.kind == FILE_NOT_INGESTED:
        return (
            "You send us regular update files. One of them arrived safely but was never loaded into our system. "
            "The most likely reason is that two files arrived close together and our daily import picked up only one; "
            f"we are confirming that now. As a result, {people} still showed older figures."
        )
    if cause.kind == FILE_PARTIALLY_INGESTED:
        return f"One of your update files was only partly loaded, so {people} still showed older figures."
    if cause.kind == WRONG_DEDUP_ORDER:
        return f"When several updates existed for the same customer, our system sometimes kept an older one; this affected {people}."
    if cause.kind == DUPLICATE_ROWS:
        return f"Some customers were counted more than once ({people})."
    if cause.kind == MISSING_USERS:
        return f"Some customers were left out of our figures ({people})."
    if cause.kind == UNEXPECTED_USERS:
        return f"Our figures included {people} that are not in your files."
    return f"Some figures were changed on our side after we received them ({people})."


def _sign(lines: list[str], names: ReportNames, regards: str = "Thanks") -> str:
    return "\n".join([*lines, "", f"{regards},", "", _md(names.sender_name), _md(names.platform_company)]) + "\n"


# --- HTML page beside the Data Docs -------------------------------------------------------------------


def render_incident_html(
    diagnosis: Diagnosis,
    names: ReportNames,
    *,
    charts: dict[str, str] | None = None,
    docs_index: str | None = None,
    markdown_report: str | None = None,
) -> str:
    """A standalone page with the finding and the charts; every piece of text is HTML-escaped."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Incident: {e(names.customer_company)}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}"
        "td.n{text-align:right}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>Incident: platform table does not match the feed ({e(names.customer_company)})</h1>",
        f"<p>{_unmd_escape(_headline(diagnosis))}</p>",
    ]
    if docs_index:
        parts.append(f'<p><a href="{e(docs_index, quote=True)}">Data Docs: the failing expectations</a></p>')
    if markdown_report:
        parts.append(f'<p><a href="{e(markdown_report, quote=True)}">Full report (Markdown)</a></p>')
    parts.append("<h2>Totals</h2><table>")
    parts += [f'<tr><th>{e(label)}</th><td class="n">{e(_money(value))}</td></tr>' for label, value in _totals(diagnosis)]
    parts.append("</table><h2>Root causes</h2>")
    if diagnosis.root_causes:
        parts.append("<table><tr><th>kind</th><th>file</th><th>users</th><th>revenue gap</th><th>share</th><th>evidence</th></tr>")
        parts += [
            f"<tr><td>{e(cause.kind)}</td><td>{e(cause.file or '')}</td><td class=\"n\">{cause.users:,}</td>"
            f'<td class="n">{e(_money(cause.revenue_gap))}</td><td class="n">{cause.share_of_gap:.1%}</td>'
            f"<td>{e(cause.evidence)}</td></tr>"
            for cause in diagnosis.root_causes
        ]
        parts.append(
            f'<tr><td>unexplained</td><td></td><td class="n">{diagnosis.unexplained_users:,}</td>'
            f'<td class="n">{e(_money(diagnosis.unexplained_gap))}</td><td class="n">{diagnosis.unexplained_share:.1%}</td><td></td></tr></table>'
        )
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Users by class</h2><table><tr><th>class</th><th>users</th><th>revenue gap</th></tr>")
    parts += [
        f'<tr><td>{e(summary.name)}</td><td class="n">{summary.users:,}</td><td class="n">{e(_money(summary.revenue_gap))}</td></tr>'
        for summary in diagnosis.reconciliation.classes
    ]
    parts.append("</table>")
    for name, path in (charts or {}).items():
        parts.append(f'<h2>{e(name.replace("-", " "))}</h2><img src="{e(path, quote=True)}" alt="{e(name, quote=True)}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --- the per-user table -------------------------------------------------------------------------------


def discrepancies_table(diagnosis: Diagnosis) -> pd.DataFrame:
    """Every user that does not match, with its rows, largest gap first.

    Text cells are neutralised for spreadsheets where the CSV is written (``checks.writers``).
    """
    return diagnosis.reconciliation.users.take(_discrepancy_order(diagnosis)).reset_index(drop=True)


def _write_discrepancies(diagnosis: Diagnosis, path: Path) -> Path:
    """``discrepancies_table`` written from the users' columns, its rows gathered in Arrow rather than as a pandas frame."""
    return atomic_write_frame(path, diagnosis.reconciliation.users, rows=_discrepancy_order(diagnosis))


def _discrepancy_order(diagnosis: Diagnosis) -> np.ndarray:
    """Positions of the users that do not match, largest absolute gap first, ties in user order."""
    users = diagnosis.reconciliation.users
    off = np.flatnonzero(users["class"].ne(MATCH).to_numpy(dtype=bool))
    size = np.abs(users[SPEND_GAP].to_numpy()[off])
    # A sort of the discrepant users' keys, not of the table; gaps under $65,536 (the usual case) sort
    # as 16-bit keys, for which numpy's stable sort is a radix sort, linear in the users.
    key = size.max(initial=0) - size
    if key.dtype.kind in "iu" and key.max(initial=0) < 1 << 16:
        key = key.astype("uint16")
    return off[np.argsort(key, kind="stable")]


# --- helpers ------------------------------------------------------------------------------------------


def _discrepant_users(diagnosis: Diagnosis) -> int:
    """Users that do not match, from the class counts (the table has millions of rows to count again)."""
    return sum(summary.users for summary in diagnosis.reconciliation.classes if summary.name != MATCH)


def _md(text: Any) -> str:
    """Text from a file or the command line, safe inside Markdown: no HTML, no links, no emphasis."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def _unmd_escape(markdown: str) -> str:
    """Markdown text already made safe by ``_md``, shown as HTML: drop the backslashes (the HTML escapes stay)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _money(value: int) -> str:
    value = int(value)
    return f"-${-value:,}" if value < 0 else f"${value:,}"


def _url(path: str) -> str:
    return path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _relative(paths: dict[str, Path], base: Path) -> dict[str, str]:
    return {name: os.path.relpath(path, base) for name, path in paths.items()}


def _link(target: Path | None, base: Path) -> str | None:
    return None if target is None else os.path.relpath(Path(target), base)
