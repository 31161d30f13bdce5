"""Reports: every file written, numbers from the diagnosis, and text from files or names never becomes markup or a formula."""
from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from checks.charts import _gap_by_file
from checks.cli import main
from checks.dedup import deduplicate
from checks.diagnose import diagnose
from checks.model import Delta
from checks.discrepancies import DiscrepanciesWriter, discrepancies_table, discrepancy_order
from checks.report import (
    ReportNames,
    first_name,
    _lineage_table,
    _md,
    render_customer_email,
    render_engineer_email,
    render_incident,
    write_incident_report,
)
from checks.sample import generate_feed, write_feed
from checks.writers import atomic_write_frame, neutralise_formulas
from tests import faults

FEED = generate_feed(500, 4, seed=41)
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def diagnosis():
    return diagnose(FEED, faults.without_file(FEED, 2))


def test_every_file_is_written_and_linked(diagnosis, tmp_path):
    docs = tmp_path / "docs" / "index.html"
    docs.parent.mkdir()
    docs.write_text("<html></html>")
    written = write_incident_report(diagnosis, tmp_path / "out", names=ReportNames(), docs_index=docs)
    names = {path.name for path in written}
    assert {"incident.md", "email-engineer.md", "email-customer.md", "incident.html", "discrepancies.csv"} <= names
    assert {"gap-by-root-cause.png", "gap-by-root-cause.svg", "gap-by-file.png", "stale-users-by-batch.svg"} <= names
    assert all(path.stat().st_size > 0 for path in written)
    assert (docs.parent / "incident.html").exists()
    assert {"email-engineer.eml", "email-customer.eml"} <= names
    incident = (tmp_path / "out" / "incident.md").read_text()
    assert "gap-by-root-cause.png" in incident and "index.html" in incident
    page = (docs.parent / "incident.html").read_text()
    # Self-contained: the charts are inline SVG, the only link is to the Data Docs index beside it.
    assert 'href="index.html"' in page and page.count("<svg") == 3
    assert re.findall(r'(?:href|src)="([^"#]*)"', page) == ["index.html"]
    assert "http" not in page and "../" not in page


def test_emails_carry_the_diagnosis_numbers_and_the_names(diagnosis):
    names = ReportNames(engineer_name="Priya", customer_contact="Ms Rivera", customer_company="Acme Denim", platform_company="AIQ")
    cause = diagnosis.root_causes[0]
    engineer = render_engineer_email(diagnosis, names)
    customer = render_customer_email(diagnosis, names)
    assert f"${diagnosis.gap:,}" in engineer and f"${diagnosis.expected_total:,}" in customer
    assert f"{cause.users:,}" in engineer and f"{cause.users:,}" in customer
    assert cause.file in engineer and "Hypothesis to confirm" in engineer and "```python" in engineer
    assert "Hi Priya" in engineer and "Dear Ms," in customer and "AIQ" in customer
    # The customer gets plain language, no pipeline jargon.
    for jargon in ("batch_id", "dedup", "delta", ".csv", "ingest"):
        assert jargon not in customer


def test_hostile_names_and_file_names_stay_text(tmp_path):
    renamed = [Delta(name=f"{HOSTILE}delta{d.number}.csv" if d.number == 2 else d.name, number=d.number, frame=d.frame) for d in FEED]
    diagnosis = diagnose(renamed, faults.without_file(FEED, 2))
    assert diagnosis.root_causes[0].file.startswith(HOSTILE)
    names = ReportNames(engineer_name=HOSTILE, customer_contact="=HYPERLINK(\"http://x\")", customer_company=HOSTILE)
    docs = tmp_path / "index.html"
    write_incident_report(diagnosis, tmp_path, names=names, docs_index=docs)
    for name in ("incident.md", "email-engineer.md", "email-customer.md", "incident.html"):
        text = (tmp_path / name).read_text()
        assert HOSTILE not in text.split("```")[0] + "".join(text.split("```")[2::2]), name
        if name != "email-customer.md":  # the customer's email names neither files nor the company
            assert "&lt;script&gt;" in text, name
    svg = (tmp_path / "gap-by-root-cause.svg").read_text()
    assert HOSTILE not in svg and "&lt;script&gt;" in svg


def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path):
    frame = pd.DataFrame({"text": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain", HOSTILE], "number": [-1, 2, 3, 4, 5, 6]})
    safe = neutralise_formulas(frame)
    assert list(safe["text"]) == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "plain", HOSTILE]
    assert list(safe["number"]) == [-1, 2, 3, 4, 5, 6]  # numbers are numbers, never formulas
    assert frame["text"].iloc[0].startswith("=")  # the input is not changed


def test_discrepancies_csv_neutralises_file_names(tmp_path):
    renamed = [Delta(name=f"=HYPERLINK(\"x\")delta{d.number}.csv" if d.number == 2 else d.name, number=d.number, frame=d.frame) for d in FEED]
    write_incident_report(diagnose(renamed, faults.without_file(FEED, 2)), tmp_path, names=ReportNames())
    rows = list(csv.DictReader(io.StringIO((tmp_path / "discrepancies.csv").read_text())))
    files = {row["source_file"] for row in rows}
    assert "'=HYPERLINK(\"x\")delta2.csv" in files and not any(name.startswith("=") for name in files)


def test_report_command_writes_the_files(tmp_path):
    write_feed(FEED, tmp_path / "feed")
    faults.without_file(FEED, 1).to_csv(tmp_path / "platform.csv", index=False)
    code = main([
        "report", "--feed", str(tmp_path / "feed"), "--platform", str(tmp_path / "platform.csv"),
        "--out", str(tmp_path / "out"), "--customer-company", "Acme", "--engineer-name", "Sam",
    ])
    assert code == 1
    assert "Hi Sam" in (tmp_path / "out" / "email-engineer.md").read_text()
    assert "delta1.csv" in (tmp_path / "out" / "incident.md").read_text()


def _users(gaps, classes) -> pd.DataFrame:
    """The per-user table the ordering reads."""
    return pd.DataFrame({"user_id": np.arange(len(gaps)), "class": pd.array(classes, dtype="str"), "spend_gap": np.asarray(gaps, dtype="int64")})


@pytest.mark.parametrize("scale", [1, 100, 10_000_000])  # 16-bit keys (radix sort) and wider ones
def test_discrepancies_are_ordered_by_gap_like_a_stable_sort(scale):
    rng = np.random.default_rng(scale)
    gaps = rng.integers(-50, 50, 400) * scale
    classes = np.where(rng.random(400) < 0.3, "match", "stale")
    users = _users(gaps, classes)
    reference = users[users["class"].ne("match")].sort_values("spend_gap", key=lambda gap: -gap.abs(), kind="stable")
    assert list(discrepancy_order(users)) == list(reference.index)


def test_discrepancies_csv_is_the_table(diagnosis, tmp_path):
    write_incident_report(diagnosis, tmp_path)
    table = discrepancies_table(diagnosis)
    users = diagnosis.reconciliation.users
    assert len(table) == int(users["class"].ne("match").sum()) > 0
    assert table["spend_gap"].abs().is_monotonic_decreasing
    assert (tmp_path / "discrepancies.csv").read_bytes() == atomic_write_frame(tmp_path / "reference.csv", table).read_bytes()


@pytest.mark.parametrize("given_dedup", [False, True])
def test_discrepancies_started_during_the_diagnosis_are_the_report_s_table(tmp_path, given_dedup):
    handed = []
    (tmp_path / "early").mkdir()
    with DiscrepanciesWriter(tmp_path / "early") as early:

        def on_listed(users, lineage, words):
            handed.append((users, lineage))
            early.start(users, lineage, words)

        platform = faults.without_file(FEED, 2)
        found = diagnose(FEED, platform, deduplicated=deduplicate(FEED) if given_dedup else None, on_listed=on_listed)
        write_incident_report(found, tmp_path / "early", discrepancies=early)
    write_incident_report(found, tmp_path / "late")
    assert len(handed) == 1
    assert handed[0][0] is found.reconciliation.users and handed[0][1] is found.lineage
    assert (tmp_path / "early" / "discrepancies.csv").read_bytes() == (tmp_path / "late" / "discrepancies.csv").read_bytes()


def test_lineage_and_chart_sums_count_every_row(diagnosis):
    from checks.lineage import trace_lineage

    lineage = trace_lineage(faults.without_file(FEED, 2), FEED)  # every platform row, not only the listed users'
    naive = lineage["source_file"].astype(object).where(lineage["source_file"].notna(), "no delta file").value_counts()
    table = _lineage_table(diagnosis)
    assert table.count("\n") == 1 + len(naive)
    for name, rows in naive.items():
        assert f"| {_md(name)} | {rows:,} |" in table
    users = diagnosis.reconciliation.users
    off = users[users["class"].ne("match")]
    by_file = _gap_by_file(diagnosis)
    assert sum(by_file.values()) == off["spend_gap"].sum() == diagnosis.gap
    assert by_file == {name: int(off.loc[off["source_file"].eq(name), "spend_gap"].sum()) for name in by_file}


def test_the_gap_by_file_is_in_feed_order():
    found = diagnose(FEED, faults.lowest_version(FEED))  # every later file's users short
    by_file = _gap_by_file(found)
    assert len(by_file) > 2
    assert list(by_file) == [name for name in found.files if name in by_file]


def test_the_same_diagnosis_writes_the_same_bytes(diagnosis, tmp_path):
    first = write_incident_report(diagnosis, tmp_path / "first")
    second = write_incident_report(diagnosis, tmp_path / "second")
    assert [path.name for path in first] == [path.name for path in second]
    for one, other in zip(first, second):
        assert one.read_bytes() == other.read_bytes(), one.name


def test_int32_frames_write_the_same_bytes(tmp_path):
    # The engines hold a table as int32 when its values allow: every file reads as it does from int64.
    from checks.dedup import deduplicate
    from checks.sample import COLUMNS

    def narrowed(frame):
        return frame.astype({column: "int32" for column in COLUMNS})

    platform, customer = faults.without_file(FEED, 2), faults.drifted(FEED, 3, seed=2)
    wide = diagnose(FEED, platform, customer, deduplicated=deduplicate(FEED))
    narrow_feed = [Delta(delta.name, delta.number, narrowed(delta.frame)) for delta in FEED]
    narrow = diagnose(narrow_feed, narrowed(platform), narrowed(customer), deduplicated=deduplicate(narrow_feed))
    assert narrow.reconciliation.users["expected_total_spend"].dtype == np.int32  # held as given, not widened
    first = write_incident_report(wide, tmp_path / "int64")
    second = write_incident_report(narrow, tmp_path / "int32")
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name


# --- what people read: emails that can be sent as they are -------------------------------------------------------------

NAMED = ReportNames(
    engineer_name="Priya", customer_contact="Michael Greene, email marketing director", customer_company="Acme Denim",
    platform_company="AIQ", sender_name="Dana Reyes", platform_file="platform.csv",
)


def _message(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _body(message) -> str:
    """The plain-text body as a person reads it (the message carries CRLF line ends, as RFC 5322 wants)."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The report of a platform table that never loaded delta2, with a customer export that agrees with the feed."""
    out = tmp_path_factory.mktemp("report")
    diagnosis = diagnose(FEED, faults.without_file(FEED, 2), faults.expected(FEED))
    write_incident_report(diagnosis, out, names=NAMED)
    return diagnosis, out


def test_the_emails_are_messages_a_mail_client_opens(written):
    diagnosis, out = written
    engineer, customer = _message(out / "email-engineer.eml"), _message(out / "email-customer.eml")
    assert engineer["Subject"] == f"Acme Denim: platform table is ${diagnosis.gap:,} off the customer's feed"
    assert customer["Subject"] == "The difference in your total spend figures"
    for message in (engineer, customer):
        body = _body(message)
        assert "**" not in body and "```" not in body and body.rstrip().endswith("Dana Reyes\nAIQ")
        assert message["X-Unsent"] == "1"
    attachments = list(engineer.iter_attachments())
    assert [(part.get_filename(), part.get_content_type()) for part in attachments] == [("discrepancies.csv", "text/csv")]
    assert attachments[0].get_content().encode() == (out / "discrepancies.csv").read_bytes()
    assert not customer.is_multipart()
    # The Markdown says the same in Markdown.
    assert "**Subject:**" in (out / "email-engineer.md").read_text() and "```python" in (out / "email-engineer.md").read_text()


@pytest.mark.parametrize(
    ("contact", "engineer", "greeting", "engineer_greeting"),
    [
        ("Michael Greene, email marketing director", "Priya", "Dear Michael,", "Hi Priya,"),
        ("Michael", None, "Dear Michael,", "Hi,"),
        (None, None, "Hello,", "Hi,"),
        ("  ", None, "Hello,", "Hi,"),
    ],
)
def test_greetings_use_a_first_name_or_no_name_never_a_placeholder(diagnosis, contact, engineer, greeting, engineer_greeting):
    names = ReportNames(customer_contact=contact, engineer_name=engineer)
    customer, engineer_email = render_customer_email(diagnosis, names), render_engineer_email(diagnosis, names)
    assert customer.split("\n\n")[1] == greeting and engineer_email.split("\n\n")[1] == engineer_greeting
    for text in (customer, engineer_email):
        assert "there," not in text and "your company reported" not in text and "None" not in text


@pytest.mark.parametrize(("contact", "first"), [("Michael Greene, email marketing director", "Michael"), ("Ana", "Ana"), ("", None), (None, None)])
def test_first_name(contact, first):
    assert first_name(contact) == first


@pytest.mark.parametrize(("eta", "promise"), [(None, None), ("by Friday 11 December", "will be visible by Friday 11 December")])
def test_the_customer_is_promised_a_date_only_when_one_is_given(diagnosis, eta, promise):
    customer = render_customer_email(diagnosis, ReportNames(eta=eta))
    assert "business day" not in customer
    if promise is None:
        assert "will be visible" not in customer and "as soon as the corrected total" in customer
    else:
        assert promise in customer


# Sentences the inputs cannot show without the landing zone's ledger.
UNSHOWN = ("stored intact", "arrived close together", "went anywhere", "24-hour", "signature of", "poller", "checksum matches")


def test_without_a_ledger_the_emails_claim_nothing_they_cannot_show(written):
    _, out = written
    for name in ("email-engineer.md", "email-customer.md"):
        text = (out / name).read_text()
        assert not [claim for claim in UNSHOWN if claim in text], name
    assert "Hypothesis to confirm:" in (out / "email-engineer.md").read_text()


def test_the_engineer_gets_examples_impact_agreement_and_attachments(written):
    diagnosis, out = written
    text = _body(_message(out / "email-engineer.eml"))
    cause = diagnosis.root_causes[0]
    assert f"Impact: {diagnosis.reconciliation.discrepant_users:,} of {diagnosis.reconciliation.user_count:,} users" in text
    assert "The customer's own export agrees with the feed for every user" in text
    assert "Attached:\n\n- discrepancies.csv:" in text
    examples = [line for line in text.splitlines() if re.match(r"^\d+ ", line) and " line " in line]
    assert 5 <= len(examples) <= 10
    for row in cause.examples.itertuples(index=False):  # both sides, each with the file and line it came from
        line = next(line for line in examples if line.startswith(f"{row.user_id} "))
        assert f"{row.platform_file} line {row.platform_source_row}" in line
        assert f"{row.source_file} line {row.source_row}" in line
    assert "with it, the simulated table" not in text


def test_the_customer_email_speaks_in_one_voice_and_offers_the_list(written):
    diagnosis, out = written
    text = _body(_message(out / "email-customer.eml"))
    assert text.startswith("Dear Michael,")
    assert not re.search(r"\bI\b|I'm|I'll", text)  # "we" throughout, signed by a person
    assert "campaign, segment or report" in text
    assert f"the list of the {diagnosis.reconciliation.discrepant_users:,} affected customers" in text
    for jargon in ("batch_id", "dedup", "delta", ".csv", "ingest"):
        assert jargon not in text


def test_discrepancies_csv_says_where_the_platform_row_came_from(written):
    diagnosis, out = written
    rows = {int(row["user_id"]): row for row in csv.DictReader(io.StringIO((out / "discrepancies.csv").read_text()))}
    header = list(next(iter(rows.values())))
    assert header.index("platform_source_file") == header.index("platform_row") + 1
    for example in diagnosis.root_causes[0].examples.itertuples(index=False):
        row = rows[int(example.user_id)]
        assert (row["platform_source_file"], int(row["platform_source_row"])) == (example.platform_file, example.platform_source_row)


def test_a_table_that_matches_is_no_incident(tmp_path):
    write_incident_report(diagnose(FEED, faults.expected(FEED)), tmp_path, names=NAMED)
    assert (tmp_path / "incident.md").read_text().startswith("# No discrepancy: the platform table matches the feed (Acme Denim)")
    assert "<h1>No discrepancy" in (tmp_path / "incident.html").read_text()
    assert _message(tmp_path / "email-engineer.eml")["Subject"] == "Acme Denim: platform table matches the feed"


def test_the_incident_page_words_causes_for_people_and_keeps_the_examples(written):
    diagnosis, out = written
    page = (out / "incident.html").read_text()
    assert "file_not_ingested" not in page and "file never loaded" in page
    assert "<td>stale</td>" not in page and "hold an older row than their latest" in page
    example = diagnosis.root_causes[0].examples.iloc[0]
    assert f"<td>{example['platform_file']} line {example['platform_source_row']}</td>" in page


def _ledger(path, feed_dir, *, landed: dict[str, str]):
    """A landing-zone ledger that fetched and staged each file of ``feed_dir`` as it is now, landed at ``landed``."""
    import hashlib

    from checks.landing.ledger import Ledger
    from checks.landing.source import ObjectInfo

    with Ledger(path) as ledger:
        for file in sorted(feed_dir.iterdir()):
            data = file.read_bytes()
            info = ObjectInfo(key=f"in/{file.name}", size=len(data), etag=file.name, last_modified=datetime.fromisoformat(landed[file.name]))
            record = ledger.see("s3://bucket/in", info)
            digest = hashlib.sha256(data).hexdigest()
            ledger.record(record.id, "fetched", sha256=digest, delta_number=int(file.stem.removeprefix("delta")))
            ledger.record(record.id, "decrypted", plaintext_sha256=digest)
            ledger.record(record.id, "staged", staged_name=file.name)
    return path


@pytest.mark.parametrize("altered", [False, True])
def test_with_a_ledger_the_emails_cite_arrivals_and_checksums(tmp_path, altered):
    from checks.arrivals import read_arrivals

    feed_dir = tmp_path / "feed"
    write_feed(FEED, feed_dir)
    landed = {f"delta{number}.csv": f"2026-11-0{number + 1}T06:00:00+00:00" for number in range(len(FEED))}
    ledger = _ledger(tmp_path / "ledger.sqlite", feed_dir, landed=landed)
    if altered:
        (feed_dir / "delta1.csv").write_bytes((feed_dir / "delta1.csv").read_bytes() + b"\n")
    arrivals = read_arrivals(ledger, feed_dir)
    diagnosis = diagnose(FEED, faults.without_file(FEED, 2))
    engineer, customer = render_engineer_email(diagnosis, NAMED, arrivals), render_customer_email(diagnosis, NAMED, arrivals)
    digest = arrivals["delta2.csv"].sha256
    assert f"delta2.csv: landed {landed['delta2.csv']}, fetched " in engineer and f"sha256 {digest}" in engineer
    assert "delta1.csv: landed" in engineer and "delta3.csv: landed" in engineer  # the files either side
    assert "delta2.csv landed 24.0 hours after delta1.csv and 24.0 hours before delta3.csv." in engineer
    assert "that reached us on 2026-11-03" in customer
    assert ("does NOT have this sha256" in engineer) is altered
    assert ("checksum matches the one we recorded on arrival" in customer) is (not altered)


def test_a_ledger_that_is_not_one_is_bad_input(tmp_path):
    from checks.arrivals import read_arrivals
    from checks.errors import BadInputError, ChecksError

    (tmp_path / "ledger.sqlite").write_bytes(b"not sqlite at all" * 10)
    with pytest.raises(ChecksError, match="not a usable ledger") as raised:
        read_arrivals(tmp_path / "ledger.sqlite", tmp_path)
    assert raised.value.exit_code == 2
    with pytest.raises(BadInputError, match="ledger not found"):
        read_arrivals(tmp_path / "absent.sqlite", tmp_path)


def test_report_command_takes_the_sender_the_promise_the_ledger_and_a_table_with_extra_columns(tmp_path, capsys):
    write_feed(FEED, tmp_path / "feed")
    landed = {f"delta{number}.csv": f"2026-11-0{number + 1}T06:00:00+00:00" for number in range(len(FEED))}
    ledger = _ledger(tmp_path / "ledger.sqlite", tmp_path / "feed", landed=landed)
    faults.without_file(FEED, 2).assign(loaded_at="2026-11-05").to_csv(tmp_path / "platform.csv", index=False)
    code = main([
        "report", "--feed", str(tmp_path / "feed"), "--platform", str(tmp_path / "platform.csv"), "--out", str(tmp_path / "out"),
        "--sender-name", "Dana Reyes", "--eta", "by Friday", "--ledger", str(ledger), "--customer-contact", "Michael Greene",
    ])
    captured = capsys.readouterr()
    assert code == 1
    assert "warning: platform.csv: column(s) 'loaded_at' ignored" in captured.err
    customer = _body(_message(tmp_path / "out" / "email-customer.eml"))
    assert customer.startswith("Dear Michael,") and "will be visible by Friday." in customer and customer.rstrip().endswith("Dana Reyes")
    assert f"delta2.csv: landed {landed['delta2.csv']}" in _body(_message(tmp_path / "out" / "email-engineer.eml"))
    assert "Summary" in captured.out and "email-customer.eml" in captured.out
@pytest.mark.parametrize(
    "crafted",
    ["x\nimport os; os.system('echo pwned')\n#delta2.csv", "x', __import__('os').getcwd(), 'delta2.csv", "x\r\nprint('pwned')#delta2.csv"],
    ids=["newline", "quote", "carriage-return"],
)
def test_a_crafted_file_name_stays_a_string_in_the_engineer_snippet(crafted: str) -> None:
    import ast

    renamed = [Delta(name=crafted if d.number == 2 else d.name, number=d.number, frame=d.frame) for d in FEED]
    diagnosis = diagnose(renamed, faults.without_file(FEED, 2))
    assert diagnosis.root_causes[0].file == crafted

    snippet = render_engineer_email(diagnosis, ReportNames()).split("```python\n", 1)[1].split("```", 1)[0]

    statements = ast.parse(snippet).body
    assert len(statements) == 6 and isinstance(statements[0], ast.Import)
    assert not any(isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" for node in ast.walk(ast.parse(snippet)))
    assert "pwned" not in "".join(ast.unparse(statement) for statement in statements)


def test_a_discrepancies_table_too_large_for_mail_stays_beside_the_message(tmp_path, monkeypatch):
    import checks.report

    monkeypatch.setattr(checks.report, "ATTACHED_ROWS", 3)
    diagnosis = diagnose(FEED, faults.without_file(FEED, 2), faults.expected(FEED))
    assert diagnosis.reconciliation.discrepant_users > 3
    write_incident_report(diagnosis, tmp_path, names=NAMED)
    message = _message(tmp_path / "email-engineer.eml")
    assert not list(message.iter_attachments())
    assert f"Too large to attach ({diagnosis.reconciliation.discrepant_users:,} rows)" in _body(message)
    assert (tmp_path / "discrepancies.csv").is_file()


# What a load did to the values, in the words of each document: (change on delta3's load, what, why/fix words).
DRIFTS = [
    (faults.scaled("total_spend", 100), "the spend was multiplied by 100", "cents read as dollars", "in the unit the contract declares"),
    (faults.swapped("count_saved_items", "loyalty_credits"), "count_saved_items and loyalty_credits were swapped",
     "mapped by position", "header names"),
    (faults.rounded("total_spend", 10), "the spend was rounded to tens", "coarser type", "precision"),
    (faults.shifted(1), "each row's values were attached to the wrong user: every user holds the values of the row 1 row below in the file",
     "row number", "never join values to keys by row number"),
]


@pytest.mark.parametrize(("change", "what", "why", "fix"), DRIFTS, ids=[case[1] for case in DRIFTS])
def test_every_document_says_what_the_load_did_with_examples_fix_and_backfill(tmp_path, change, what, why, fix):
    platform = faults.loaded_with(FEED, 3, change, without=2)
    diagnosis = diagnose(FEED, platform)
    (drift,) = [cause for cause in diagnosis.root_causes if cause.kind == "value_drift"]
    change_row = drift.details["changes"][0]
    write_incident_report(diagnosis, tmp_path, names=ReportNames())
    incident, page = (tmp_path / "incident.md").read_text(), (tmp_path / "incident.html").read_text()
    engineer, customer = (tmp_path / "email-engineer.md").read_text(), (tmp_path / "email-customer.md").read_text()
    for document in (incident, page, engineer):
        assert f"delta3.csv, {what}" in document or f"When delta3.csv was loaded, {what}" in document
        # One example: the value in the file and on the platform.
        assert f"{change_row['key']} | {change_row['column']} | {change_row['file']} | {change_row['platform']}" in document or (
            f"<td>{change_row['key']}</td><td>{change_row['column']}</td><td>{change_row['file']}</td><td>{change_row['platform']}</td>" in document
        )
    assert why in engineer and fix in engineer
    assert f"re-load delta3.csv with the batch_id-guarded upsert: the {drift.users:,} users" in engineer
    assert f"When one of your update files was loaded, {what} for {drift.users:,} customers" in customer
    # The missed file keeps its own story in every document.
    assert "delta2.csv was never loaded" in engineer


def test_the_customer_is_told_a_load_changed_their_first_file_not_an_update(tmp_path):
    platform = faults.loaded_with(FEED, 0, faults.scaled("total_spend", 100))
    diagnosis = diagnose(FEED, platform)
    (drift,) = [cause for cause in diagnosis.root_causes if cause.kind == "value_drift"]
    assert drift.file == "delta0.csv"
    write_incident_report(diagnosis, tmp_path, names=ReportNames())
    customer = (tmp_path / "email-customer.md").read_text()
    assert "When your first file was loaded, the spend was multiplied by 100" in customer and "update file" not in customer


def test_no_total_is_corrected_when_only_other_figures_changed(tmp_path):
    # A count zeroed moves no dollar: the email spoke of a total that "didn't match", $X shown, $X correct, a $0 difference.
    platform = faults.loaded_with(FEED, 3, faults.replaced("loyalty_credits", 0))
    diagnosis = diagnose(FEED, platform)
    assert diagnosis.discrepancy and diagnosis.gap == 0
    write_incident_report(diagnosis, tmp_path, names=ReportNames())
    customer = (tmp_path / "email-customer.md").read_text()
    assert customer.startswith("**Subject:** The difference in your figures\n")
    assert "the figures shown on our side didn't match your own records" in customer
    assert "$" not in customer and "total spend" not in customer.replace("did not change the total spend", "")
    assert "as soon as the corrected figures are visible" in customer
    # The engineer's: no "$0 off", no share "of the gap" of a gap of $0, no "older values" of changed ones.
    engineer = (tmp_path / "email-engineer.md").read_text()
    users = f"{diagnosis.reconciliation.discrepant_users:,} users"
    assert engineer.startswith(f"**Subject:** Platform table differs from the customer's feed for {users}\n")
    assert "show figures other than the files', though the table's total is right" in engineer
    assert "100.0% of the users that differ" in engineer and "of the gap" not in engineer


@pytest.mark.parametrize("size", [0, 1, 7, 1000])
def test_platform_rows_are_found_as_a_hash_index_finds_them(size):
    """The direct-address lookup of platform rows answers as ``pandas.Index.get_indexer``: absent, empty and
    fractional row numbers give -1, and sparse row numbers (the hash index's fallback) too."""
    from checks.discrepancies import _positions_of

    rng = np.random.default_rng(size)
    for keys in (rng.permutation(np.arange(2, size + 2))[: max(0, size - 3)], np.arange(size) * 10**9):
        keys = keys.astype(np.int64)
        wanted = rng.integers(-2, size + 5, size=60).astype(float)
        wanted[::7], wanted[3] = np.nan, 2.5
        wanted[5] = keys[0] if len(keys) else 0
        assert _positions_of(keys, wanted).tolist() == pd.Index(keys).get_indexer(wanted).tolist()


@pytest.mark.parametrize(
    ("users", "said"),
    [
        (1, ["1 user of the feed is absent", "(1 customer)", "For that customer we showed", "1 of 500 users (0.2%) shows",
             "the 1 user that does not match", "the list of the 1 affected customer with"]),
        (2, ["2 users of the feed are absent", "(2 customers)", "For those 2 customers we showed", "2 of 500 users (0.4%) show",
             "the 2 users that do not match", "the list of the 2 affected customers with"]),
    ],
)
def test_one_user_is_said_in_the_singular_noun_and_verb(users, said):
    dropped = diagnose(FEED, faults.dropped(FEED, users, seed=3))
    texts = render_incident(dropped, ReportNames()) + render_engineer_email(dropped, ReportNames()) + render_customer_email(dropped, ReportNames())
    assert [phrase for phrase in said if phrase not in texts] == []


def test_the_customer_is_told_keys_rewritten_in_every_file_were_so_when_their_files_were_loaded(tmp_path):
    from checks.cli.diagnose import load_and_diagnose
    from checks.contract import load_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH, generate_accounts_case

    case = generate_accounts_case(accounts=120, files=3, seed=5)
    folder = tmp_path / "feed"
    folder.mkdir()
    for name, frame in case.files.items():
        frame.to_csv(folder / name, index=False)
    platform = case.customer.assign(account_id=case.customer["account_id"].str.lower())  # every file's keys, lowered
    platform.to_csv(tmp_path / "platform.csv", index=False)
    diagnosis = load_and_diagnose(folder, tmp_path / "platform.csv", encoding=Encoding.of(load_contract(CONTRACT_PATH)))
    (cause,) = diagnosis.root_causes
    assert cause.file is None and cause.mechanism.name == "keys_rewritten"
    write_incident_report(diagnosis, tmp_path / "out", names=ReportNames())
    customer = (tmp_path / "out" / "email-customer.md").read_text()
    assert "When your files were loaded, account_id was lower-cased for 120 customers" in customer


def test_a_platform_that_matches_beside_an_export_that_does_not_puts_the_difference_in_the_export():
    """The customer's finance counted from its own export: 12 of its customers are missing there and 3 hold other
    figures, while the platform's table matches the feed. Every reader is told the difference is in the export."""
    latest = deduplicate(FEED)
    export = latest.iloc[12:].copy()
    export.loc[export.index[:3], "total_spend"] += 100
    found = diagnose(FEED, faults.loaded(latest), export)
    assert found.reconciliation.discrepant_users == 0
    said = f"export differs from the feed for 15 users (its total is ${found.reconciliation.customer_total:,}, the feed's ${found.expected_total:,})"
    assert said in render_incident(found, ReportNames()) and said in render_engineer_email(found, ReportNames())
    customer = render_customer_email(found, ReportNames())
    assert "differs from those files for 15 of your customers" in customer
    matching = diagnose(FEED, faults.loaded(latest), latest)
    assert "differs" not in render_customer_email(matching, ReportNames()) + render_incident(matching, ReportNames())
