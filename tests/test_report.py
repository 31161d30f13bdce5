"""Reports: every file written, numbers from the diagnosis, and text from files or names never becomes markup or a formula."""
from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from checks.charts import _gap_by_file
from checks.cli import main
from checks.diagnose import diagnose
from checks.report import (
    ReportNames,
    _discrepancy_order,
    _lineage_table,
    _md,
    discrepancies_table,
    render_customer_email,
    render_engineer_email,
    write_incident_report,
)
from checks.sample import generate_feed, write_feed
from checks.validate import Delta
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
    incident = (tmp_path / "out" / "incident.md").read_text()
    assert "gap-by-root-cause.png" in incident and "index.html" in incident
    page = (docs.parent / "incident.html").read_text()
    assert 'href="index.html"' in page and "gap-by-root-cause.png" in page


def test_emails_carry_the_diagnosis_numbers_and_the_names(diagnosis):
    names = ReportNames(engineer_name="Priya", customer_contact="Ms Rivera", customer_company="Acme Denim", platform_company="AIQ")
    cause = diagnosis.root_causes[0]
    engineer = render_engineer_email(diagnosis, names)
    customer = render_customer_email(diagnosis, names)
    assert f"${diagnosis.gap:,}" in engineer and f"${diagnosis.expected_total:,}" in customer
    assert f"{cause.users:,}" in engineer and f"{cause.users:,}" in customer
    assert cause.file in engineer and "poller" in engineer and "```python" in engineer
    assert "Hi Priya" in engineer and "Dear Ms Rivera" in customer and "AIQ" in customer
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


def _users(gaps, classes) -> SimpleNamespace:
    """A diagnosis stand-in holding only the per-user table the ordering reads."""
    users = pd.DataFrame({"user_id": np.arange(len(gaps)), "class": pd.array(classes, dtype="str"), "spend_gap": np.asarray(gaps, dtype="int64")})
    return SimpleNamespace(reconciliation=SimpleNamespace(users=users))


@pytest.mark.parametrize("scale", [1, 100, 10_000_000])  # 16-bit keys (radix sort) and wider ones
def test_discrepancies_are_ordered_by_gap_like_a_stable_sort(scale):
    rng = np.random.default_rng(scale)
    gaps = rng.integers(-50, 50, 400) * scale
    classes = np.where(rng.random(400) < 0.3, "match", "stale")
    fake = _users(gaps, classes)
    users = fake.reconciliation.users
    reference = users[users["class"].ne("match")].sort_values("spend_gap", key=lambda gap: -gap.abs(), kind="stable")
    assert list(_discrepancy_order(fake)) == list(reference.index)


def test_discrepancies_csv_is_the_table(diagnosis, tmp_path):
    write_incident_report(diagnosis, tmp_path)
    table = discrepancies_table(diagnosis)
    users = diagnosis.reconciliation.users
    assert len(table) == int(users["class"].ne("match").sum()) > 0
    assert table["spend_gap"].abs().is_monotonic_decreasing
    assert (tmp_path / "discrepancies.csv").read_bytes() == atomic_write_frame(tmp_path / "reference.csv", table).read_bytes()


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


def test_the_same_diagnosis_writes_the_same_bytes(diagnosis, tmp_path):
    first = write_incident_report(diagnosis, tmp_path / "first")
    second = write_incident_report(diagnosis, tmp_path / "second")
    assert [path.name for path in first] == [path.name for path in second]
    for one, other in zip(first, second):
        assert one.read_bytes() == other.read_bytes(), one.name


def test_int32_frames_write_the_same_bytes(tmp_path):
    # The engines hold a table as int32 when its values allow: every file reads as it does from int64.
    from checks.dedup import deduplicate
    from checks.feed import COLUMNS

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
