"""checks.runner: the tables read beside the deltas where the engine can, with the answers of reading them first."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from checks.config import load_case
from checks.engines import get_engine
from checks.errors import BadInputError, DeduplicationError
from checks.runner import run_case

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HEADER = "user_id,total_spend,count_saved_items,loyalty_credits,batch_id"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample case (``data/``), to spoil."""
    folder = tmp_path / "case"
    shutil.copytree(PROJECT_ROOT / "data", folder, ignore=shutil.ignore_patterns("accounts"))
    return folder


def _feed_fails(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """The engine's dedup raises, as on a tie."""
    module = get_engine(engine)

    def tie(*_args, **_kwargs):
        raise DeduplicationError("a tie on the latest row")

    monkeypatch.setattr(module, "check_validations", tie)


@pytest.mark.parametrize(
    ("engine", "beside"), [("pandas", False), ("polars", True)],
)
def test_the_tables_are_read_beside_the_deltas_where_the_engine_can(sample: Path, tmp_path: Path, engine, beside):
    stages: list[str] = []
    result = run_case(
        load_case(sample / "case.toml"), out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False,
        engine=get_engine(engine), on_stage=lambda name, done=None, total=None: stages.append(name),
    )
    assert ("finish reading tables" in result.timings) == beside
    assert list(dict.fromkeys(stages))[:4] == (
        ["read tables", "validate deltas", "feed checks and dedup", "finish reading tables"] if beside
        else ["read tables", "validate deltas", "feed checks and dedup", "start writing outputs"]
    )


@pytest.mark.parametrize("engine", ["pandas", "polars"])
@pytest.mark.parametrize(
    ("spoil", "error", "words"),
    [
        ("table", BadInputError, "missing column(s): batch_id"),  # the table's error first, as when read first
        ("feed", DeduplicationError, "a tie on the latest row"),
    ],
)
def test_a_bad_table_is_the_runs_error_even_when_the_feed_fails_too(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine, spoil, error, words
):
    _feed_fails(monkeypatch, engine)
    if spoil == "table":
        (sample / "platform-user-summary.csv").write_text("user_id,total_spend,count_saved_items,loyalty_credits\n1,2,3,4\n")
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        run_case(load_case(sample / "case.toml"), out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False,
                 engine=get_engine(engine))


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_a_table_s_warning_reaches_the_caller_once(sample: Path, tmp_path: Path, monkeypatch, engine):
    _feed_fails(monkeypatch, engine)  # told even when the run fails
    platform = sample / "platform-user-summary.csv"
    lines = platform.read_text().splitlines()
    platform.write_text("\n".join([f"{lines[0]},loaded_at", *[f"{line},2026-11-02" for line in lines[1:]]]) + "\n")
    said: list[str] = []
    with pytest.raises(DeduplicationError):
        run_case(load_case(sample / "case.toml"), out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False,
                 engine=get_engine(engine), on_warning=said.append)
    assert len(said) == 1 and "'loaded_at'" in said[0]


@pytest.mark.parametrize(("table", "words"), [("absent", "file not found"), ("folder", "expected a CSV file")])
def test_a_table_that_is_not_there_is_refused_before_any_work(sample: Path, tmp_path: Path, table, words):
    # Read beside the feed, a missing table was told only once every delta had been validated (4.5 s at 10 M users).
    platform = sample / "platform-user-summary.csv"
    platform.unlink()
    if table == "folder":
        platform.mkdir()
    stages: list[str] = []
    with pytest.raises(BadInputError, match=f"platform-user-summary.csv: {words}"):
        run_case(load_case(sample / "case.toml"), out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False,
                 engine=get_engine("polars"), on_stage=lambda name, done=None, total=None: stages.append(name))
    assert stages == []


def test_a_quarantined_delta_the_platform_loaded_is_a_root_cause_read_from_its_file(sample: Path, tmp_path: Path):
    # The sample's platform never loaded delta3.csv; spoiled here, delta2.csv is quarantined, yet the platform holds it.
    delta2 = sample / "feed" / "delta2.csv"
    lines = delta2.read_text().splitlines()
    user, spend, saved, credits, batch = lines[5].split(",")
    lines[5] = ",".join([user, spend, saved, f"{credits}x", batch])  # a cell that is no integer: line 6
    delta2.write_text("\n".join(lines) + "\n")
    result = run_case(load_case(sample / "case.toml"), out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False,
                      engine=get_engine("polars"))
    assert result.feed.quarantined == ("delta2.csv",)
    diagnosis = result.diagnosis
    assert {(cause.kind, cause.file) for cause in diagnosis.root_causes} == {
        ("file_not_ingested", "delta3.csv"), ("quarantined_file_loaded", "delta2.csv"),
    }
    assert diagnosis.unexplained_users == 0
    held = next(cause for cause in diagnosis.root_causes if cause.kind == "quarantined_file_loaded")
    # The spoiled row's key and batch_id are readable: its user, if the platform holds that row, is among them.
    assert held.users > 0 and "as the file wrote it" in held.evidence
    incident = (tmp_path / "out" / "incident.md").read_text()
    assert re.search(r"### \d\. quarantined file loaded: delta2\.csv", incident)
    # Its rows on the platform are traced to their lines of delta2.csv, not to "no delta file".
    listed = pd.read_csv(tmp_path / "out" / "discrepancies.csv")
    from_file = listed[listed["platform_source_file"].eq("delta2.csv")]
    # (Every held user's row but the spoiled line's, whose readable row lacks the cell the platform holds.)
    assert 0 < len(from_file) <= held.users and from_file["platform_source_row"].notna().all()
    assert f"| delta2.csv | {diagnosis.lineage_counts['delta2.csv']:,} |" in incident
    assert "delta2.csv was loaded although it failed validation" in (tmp_path / "out" / "email-engineer.md").read_text()
    assert "did not pass our checks" in (tmp_path / "out" / "email-customer.md").read_text()


def test_a_platform_table_that_differs_only_where_no_expectation_looks_fails_the_run(sample: Path, tmp_path: Path):
    # The customer's export is the feed's latest rows; as the platform's table with one column zeroed, every suite
    # passes (its sums, versions and keys are right), yet the platform does not hold what the feed sent.
    import pandas as pd

    customer = pd.read_csv(sample / "customer-user-summary.csv")
    customer.assign(count_saved_items=0).to_csv(sample / "platform-user-summary.csv", index=False)
    result = run_case(load_case(sample / "case.toml"), out_dir=tmp_path / "out", gx_dir=tmp_path / "gx", build_docs=False,
                      engine=get_engine("polars"))
    assert result.feed.passed and all(table.success for table in result.suites.results)
    assert result.diagnosis.discrepancy and [cause.kind for cause in result.diagnosis.root_causes] == ["value_drift"]
    assert not result.passed and result.to_dict()["passed"] is False
    customer.to_csv(sample / "platform-user-summary.csv", index=False)
    matching = run_case(load_case(sample / "case.toml"), out_dir=tmp_path / "out2", gx_dir=tmp_path / "gx2", build_docs=False,
                        engine=get_engine("polars"))
    assert not matching.diagnosis.discrepancy and matching.passed
