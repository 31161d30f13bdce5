"""`checks run` on the real first incident: the dedup reproduces the customer's export, the platform's
table fails exactly the revenue-total and batch-currency expectations, Data Docs and the report exist."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from checks.cli import main
from checks.sample import COLUMNS
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_run(johnnys_jeans, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("real-run")
    out, gx_dir = scratch / "out", scratch / "gx"
    code = main(
        ["run", "--case", str(PROJECT_ROOT / "cases" / "johnnys-jeans.toml"), "--out", str(out), "--gx-dir", str(gx_dir)]
    )
    return code, out, gx_dir, json.loads((out / "summary.json").read_text())


def test_run_fails_because_the_platform_table_is_wrong(real_run):
    code, _, _, summary = real_run
    assert code == 1
    assert summary["passed"] is False
    assert summary["feed"]["quarantined"] == []
    by_table = {table["table"]: table for table in summary["suites"]["tables"]}
    assert by_table["deduplicated"]["success"] and by_table["customer"]["success"]
    assert not by_table["platform"]["success"]


def test_deduplicated_output_reproduces_the_customer_export(real_run, johnnys_jeans):
    _, out, _, _ = real_run
    customer = pd.read_csv(johnnys_jeans / "Johnny-user-summary.csv")
    for deduplicated in (pd.read_csv(out / "deduplicated.csv"), pd.read_parquet(out / "deduplicated.parquet")):
        assert len(deduplicated) == 10_000
        assert deduplicated["total_spend"].sum() == 33_904_525
        pd.testing.assert_frame_equal(
            deduplicated[list(COLUMNS)].sort_values("user_id", ignore_index=True),
            customer[list(COLUMNS)].sort_values("user_id", ignore_index=True),
            check_dtype=False,
        )
        assert deduplicated["source_file"].str.fullmatch(r"delta[0-4]\.csv").all()


def test_platform_fails_revenue_total_and_batch_currency_with_observed_values(real_run):
    _, _, _, summary = real_run
    platform = next(table for table in summary["suites"]["tables"] if table["table"] == "platform")
    failed = {outcome["check"]: outcome for outcome in platform["outcomes"] if not outcome["success"]}
    assert set(failed) == {"revenue_total", "batch_currency"}
    assert failed["revenue_total"]["observed"] == 29_162_044
    assert failed["revenue_total"]["expected"] == 33_904_525
    assert failed["batch_currency"]["unexpected_count"] == 1_841
    assert failed["batch_currency"]["unexpected_examples"]


def test_data_docs_and_the_incident_report_are_written(real_run):
    _, out, gx_dir, summary = real_run
    index = gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.is_file()
    assert 'href="incident.html"' in index.read_text()
    assert (index.parent / "incident.html").is_file()
    causes = summary["diagnosis"]["root_causes"]
    assert [(cause["kind"], cause["file"]) for cause in causes] == [("file_not_ingested", "delta3.csv")]
    assert summary["diagnosis"]["totals"]["gap"] == 4_742_481
    customer_email = (out / "email-customer.md").read_text()
    assert "$33,904,525" in customer_email and "Dear Michael," in customer_email
    assert "batch_id" not in customer_email  # plain language for the customer
    engineer_email = (out / "email-engineer.md").read_text()
    assert "delta3.csv" in engineer_email and "$4,742,481" in engineer_email


def _site(gx_dir):
    return gx_dir / "uncommitted" / "data_docs" / "local_site"


def test_the_platform_page_shows_only_the_tables_columns_and_links_the_incident(real_run):
    _, _, gx_dir, _ = real_run
    (page,) = _site(gx_dir).glob("validations/*/*/*/tables-platform.html")
    html = page.read_text()
    assert "feed_latest_batch_id" not in html
    assert "must be each user's latest in the feed" in html and "user_id known to the feed" in html
    assert ">29,162,044<" in html and "33,904,525" in html and "29162044" not in html
    assert 'href="../../../../incident.html"' in html
    for other in _site(gx_dir).glob("validations/*/*/*/*.html"):
        assert "feed_latest_batch_id" not in other.read_text(), other.name


def test_nothing_in_the_site_references_the_network(real_run):
    from checks.data_docs import remote_references

    _, _, gx_dir, _ = real_run
    site = _site(gx_dir)
    assert remote_references(site) == []
    assert "url('https://" not in (site / "static" / "styles" / "data_docs_default_styles.css").read_text()  # the dark theme's logo
    incident = (site / "incident.html").read_text()
    assert "http" not in incident and "../" not in incident


def test_the_incident_page_renders_offline_with_its_charts_and_examples(real_run, tmp_path):
    from tests.test_data_docs import _browse, _chromium

    chromium = _chromium()
    _, _, gx_dir, _ = real_run
    page = _site(gx_dir) / "incident.html"
    moved = tmp_path / "elsewhere" / "incident.html"  # copied anywhere, it still has everything
    moved.parent.mkdir()
    moved.write_bytes(page.read_bytes())
    dom = _browse(chromium, moved, tmp_path, "--dump-dom").stdout.decode()
    assert dom.count("<svg") == 3 and "Spend gap by root cause" in dom  # the amount's word, as the tables' gap column
    assert "file never loaded: delta3.csv" in dom and "<td>delta0.csv line 6804</td>" in dom


def test_the_terminal_help_shows_the_case_default(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "checks", "run", "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"}, check=True
    )
    assert "finance total [default: data/case.toml]." in result.stdout


def test_inputs_are_not_modified(real_run, johnnys_jeans):
    # The shared files are read-only in CI; here we check nothing was written beside them.
    assert sorted(path.name for path in johnnys_jeans.iterdir()) == sorted(
        ["AIQ-user-summary.csv", "Johnny-user-summary.csv"] + [f"delta{number}.csv" for number in range(5)]
    )


def test_outputs_written_in_the_background_are_whole_when_a_later_stage_fails(tmp_path, monkeypatch):
    import checks.suites.run
    from checks.config import load_case
    from checks.errors import SuiteError
    from checks.runner import run_case

    def broken_suites(*_args, **_kwargs):
        raise SuiteError("the suite could not run")

    monkeypatch.setattr(checks.suites.run, "gather_evidence", broken_suites)
    case = load_case(PROJECT_ROOT / "data" / "case.toml")
    with pytest.raises(SuiteError):
        run_case(case, out_dir=tmp_path / "out", gx_dir=tmp_path / "gx")

    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["deduplicated.csv", "deduplicated.parquet", "failures.csv"]
    csv = pd.read_csv(tmp_path / "out" / "deduplicated.csv")
    pd.testing.assert_frame_equal(csv, pd.read_parquet(tmp_path / "out" / "deduplicated.parquet"), check_dtype=False)


def test_an_error_in_the_helper_process_is_the_runs_error(tmp_path):
    """GX validates in a helper process (checks.sidecar): what fails there is raised by the run, the outputs whole."""
    from checks.config import load_case
    from checks.errors import SuiteError
    from checks.runner import run_case

    gx_dir = tmp_path / "gx"
    gx_dir.mkdir()
    (gx_dir / "great_expectations.yml").write_text("stores: [unclosed\n")
    case = load_case(PROJECT_ROOT / "data" / "case.toml")
    with pytest.raises(SuiteError, match="cannot read the Great Expectations config"):
        run_case(case, out_dir=tmp_path / "out", gx_dir=gx_dir)

    csv = pd.read_csv(tmp_path / "out" / "deduplicated.csv")
    pd.testing.assert_frame_equal(csv, pd.read_parquet(tmp_path / "out" / "deduplicated.parquet"), check_dtype=False)



@pytest.mark.slow
@pytest.mark.parametrize(("stop", "code", "line"), [
    # Ctrl-C reaches the terminal's whole group: the run and its helper process. Typer ends the line the ^C began.
    (lambda pid: os.killpg(pid, signal.SIGINT), 130, None),
    # A scheduler or a container stops the command's own process.
    (lambda pid: os.kill(pid, signal.SIGTERM), 143, "checks: error: terminated"),
], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_ends_with_its_helper_process_without_a_traceback(tmp_path, stop, code, line):
    """Stopped while it works: its exit code, one line, no process and no temporary file left."""
    import time

    run = subprocess.Popen(
        [sys.executable, "-m", "checks", "run", "--out", str(tmp_path / "out"), "--gx-dir", str(tmp_path / "gx")],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    # Stopped once it writes its first output (the deduplicated table, mid-run: the helper's suites and the diagnosis
    # are still to come). A fixed sleep of 2.5 s came after the end of a 2.7 s run on a quiet machine.
    out = tmp_path / "out"
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(out.iterdir())) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    stop(run.pid)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == code
    assert "Traceback" not in stderr and stderr.strip().splitlines() == ([line] if line else []), stderr
    assert not list((tmp_path / "out").glob(".*.tmp"))
    time.sleep(0.5)
    # No process of the run's group is left running (one that has ended may wait a moment to be reaped).
    group = subprocess.run(["ps", "-o", "stat=", "-g", str(run.pid)], capture_output=True, text=True).stdout.split()
    assert [state for state in group if not state.startswith("Z")] == []
