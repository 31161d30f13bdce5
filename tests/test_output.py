"""Progress at a terminal: each stage of a run on its own line, a bar for the per-file work, nothing when piped."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from checks import output
from checks.config import load_case
from checks.runner import run_case

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    screen = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=screen, force_terminal=True, width=100, highlight=False))
    monkeypatch.delenv("CI", raising=False)
    return screen


@pytest.mark.slow
def test_every_stage_of_a_run_shows_with_its_time(terminal: io.StringIO, tmp_path: Path) -> None:
    case = load_case(PROJECT_ROOT / "data" / "case.toml")
    with output.stage_progress() as on_stage:
        result = run_case(case, out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False, on_stage=on_stage)

    shown = terminal.getvalue()
    files = len(result.feed.validations)
    for stage in result.timings:
        assert stage in shown, stage
    assert f"{files}/{files}" in shown
    assert shown.count("✓") >= len(result.timings)


def test_nothing_is_shown_when_not_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=screen, force_terminal=False))
    with output.stage_progress() as on_stage:
        on_stage("validate deltas", 1, 5)
    assert screen.getvalue() == ""


def test_ci_gets_no_progress(terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with output.stage_progress() as on_stage:
        on_stage("read tables")
    assert terminal.getvalue() == ""


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """``checks run`` on the sample (one delta never loaded), with every stage name as it was announced."""
    stages: list[str] = []
    scratch = tmp_path_factory.mktemp("sample-run")
    case = load_case(PROJECT_ROOT / "data" / "case.toml")
    result = run_case(
        case, out_dir=scratch / "out", gx_dir=scratch / "gx", build_docs=False,
        on_stage=lambda name, done=None, total=None: stages.append(name),
    )
    return result, stages


@pytest.mark.slow
def test_stage_names_are_unique(sample_run) -> None:
    _, stages = sample_run
    names = list(dict.fromkeys(stages))
    assert names == [
        "read tables", "validate deltas", "feed checks and dedup", "finish reading tables", "start writing outputs", "expectation suites",
        "diagnosis", "report", "finish expectation suites", "finish writing outputs",
    ]


@pytest.mark.slow
def test_a_run_ends_with_what_to_do_then_the_files_written(sample_run, monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = sample_run
    screen = io.StringIO()
    monkeypatch.setattr(output, "stdout", Console(file=screen, width=300, highlight=False, soft_wrap=True))
    output.show_run(result)
    lines = screen.getvalue().splitlines()
    summary, written = lines.index("Summary"), lines.index("written:")
    cause = result.diagnosis.root_causes[0]
    assert lines[summary - 1] == "checks failed"
    assert lines[summary + 1].startswith(f"  cause:   file never loaded: {cause.file} ({cause.users:,} users, ${cause.revenue_gap:,}")
    assert f"  users:   {cause.users:,} of" in lines[summary + 2] and f"${result.diagnosis.gap:,} off" in lines[summary + 3]
    steps = [line.split()[0] for line in lines[summary + 4:written]]
    assert steps == ["open:", "send:", "send:", "note:"]  # the incident page, both emails; no --sender-name given
    assert lines[summary + 4].split()[1].endswith("incident.html") and lines[summary + 5].split()[1].endswith("email-engineer.eml")
    assert len(lines) - written - 1 == len(result.outputs)  # every file after the summary, nothing else
    assert f"      batch_id is not the latest in the feed for {cause.users:,} of" in "\n".join(lines[:summary])


def _outcome(expectation: str, column=None, observed=None, expected=None, unexpected=None, rows=None):
    from checks.suites.results import ExpectationOutcome

    return ExpectationOutcome(expectation, column, False, observed, expected, unexpected_count=unexpected, rows=rows)


@pytest.mark.parametrize(
    ("outcome", "sentence"),
    [
        (_outcome("expect_batch_id_to_be_latest_in_feed", "batch_id=feed_latest_batch_id", unexpected=1841, rows=10000),
         "batch_id is not the latest in the feed for 1,841 of 10,000 rows"),
        (_outcome("expect_column_sum_to_be_between", "total_spend", 29162044, 33904525), "total_spend sums to 29,162,044, expected 33,904,525"),
        (_outcome("expect_column_sum_to_be_between", "total_spend", 5, {"min": 10, "max": None}), "total_spend sums to 5, expected at least 10"),
        (_outcome("expect_table_row_count_to_equal", observed=9999, expected=10000), "the table has 9,999 rows, expected 10,000"),
        (_outcome("expect_table_columns_to_match_ordered_list", observed=["user_id", "batch_id", "feed_latest_batch_id"],
                  expected=["batch_id", "user_id", "feed_latest_batch_id"]), "the columns are user_id, batch_id, expected batch_id, user_id"),
        (_outcome("expect_column_values_to_not_be_null", "feed_latest_batch_id", unexpected=3, rows=10), "3 of 10 rows hold a user the feed never sent"),
        (_outcome("expect_column_values_to_be_unique", "user_id", unexpected=2, rows=10), "user_id repeats in 2 of 10 rows"),
        (_outcome("expect_column_values_to_be_between", "total_spend", expected={"min": 0, "max": None}, unexpected=1, rows=10),
         "total_spend is below 0 in 1 of 10 rows"),
        (_outcome("expect_column_values_to_be_between", "user_id", expected={"min": 1, "max": 9}, unexpected=1, rows=10),
         "user_id is outside 1 to 9 in 1 of 10 rows"),
        (_outcome("expect_column_values_to_be_in_set", "plan", expected={"in": ["basic", "pro"]}, unexpected=24, rows=400),
         "plan holds a value outside 'basic', 'pro' in 24 of 400 rows"),
        (_outcome("expect_column_values_to_not_be_in_set", "plan", expected={"not_in": ["n/a", None]}, unexpected=2, rows=400),
         "plan holds a value among 'n/a' in 2 of 400 rows"),
        (_outcome("expect_column_values_to_match_regex", "account_id", expected={"matches": "^AC-\\d+$"}, unexpected=1, rows=9),
         "account_id does not match ^AC-\\d+$ in 1 of 9 rows"),
    ],
)
def test_expectation_results_read_as_sentences(outcome, sentence) -> None:
    assert output.describe_outcome(outcome) == sentence


def test_case_files_name_the_sender_the_promise_and_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "case.toml"
    path.write_text('feed = "feed"\nsender_name = "Dana Reyes"\neta = "by Friday"\nledger = "landing/ledger.sqlite"\n')
    case = load_case(path)
    assert (case.names.sender_name, case.eta, case.ledger) == ("Dana Reyes", "by Friday", tmp_path / "landing" / "ledger.sqlite")
    assert load_case(PROJECT_ROOT / "cases" / "johnnys-jeans.toml").names.customer_contact.startswith("Michael Greene")


def test_the_summary_says_how_many_of_the_keys_that_differ_only_the_platform_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys counted are the feed's and the platform's: 20 strangers on the platform are said to be only there."""
    from checks.diagnose import diagnose
    from checks.sample import generate_feed
    from tests import faults

    feed = generate_feed(300, 3, seed=4)
    screen = io.StringIO()
    monkeypatch.setattr(output, "stdout", Console(file=screen, width=300, highlight=False, soft_wrap=True))
    output.show_next_steps(diagnose(feed, faults.with_strangers(feed, 20, seed=1)), {})
    output.show_next_steps(diagnose(feed, faults.without_file(feed, 2)), {})
    strangers, missed = [line for line in screen.getvalue().splitlines() if "do not match the feed" in line]
    assert strangers == "  users:   20 of 320 do not match the feed (20 of them only on the platform)"
    assert missed.endswith("do not match the feed")  # no key only on the platform
