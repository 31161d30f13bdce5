"""The gate as a Dagster asset check, run in-process with ``dagster.materialize`` on the real deltas (issue 13).

The feed is the five real deltas of ../shared/cases/johnnys-jeans plus a sixth update, ingested as in
``tests/landing/test_watch.py``: cut to a third of the usual size (``volume_anomaly`` and
``amount_anomaly``) the check fails with ERROR and the load asset downstream is skipped; at the usual
size it passes and the load runs; with the anomalies named as warnings the check fails with WARN and
the load runs, unless a staged byte was changed too. A gate that cannot decide skips the load.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import dagster as dg  # the dagster extra is part of the test install (scripts/dev), never skipped

from checks.landing.feeds import FeedSpec
from checks.orchestrators.dagster import ANOMALY_KINDS, gate_check, gate_checks
from tests.landing.test_watch import THIRD, USUAL, _gx_dir, _ingested

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def _pipeline(feed: str, loaded: list[str]) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """The staged feed (already ingested) and the load that depends on it, which notes that it ran."""

    @dg.asset(key=[feed, "staged"])
    def staged() -> None:
        pass

    @dg.asset(key=[feed, "load"], deps=[staged])
    def load() -> None:
        loaded.append(feed)

    return staged, load


def _materialize(assets: list, checks: list) -> dg.ExecuteInProcessResult:
    return dg.materialize([*assets, *checks], raise_on_error=False)


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    """The assets the run materialized: a load that was skipped never started, so it is not among them."""
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def _evaluation(result: dg.ExecuteInProcessResult, feed: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.asset_key == dg.AssetKey([feed, "staged"])]
    return evaluation


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sixth_rows", "warnings", "tamper", "passed", "severity", "loads"),
    [
        (THIRD, (), False, False, ERROR, False),  # a delta a third the usual size: refused, the load skipped
        (USUAL, (), False, True, ERROR, True),  # the usual size: passes, the load runs
        (THIRD, ANOMALY_KINDS, False, False, WARN, True),  # anomalies as warnings: WARN, the load runs
        (THIRD, ANOMALY_KINDS, True, False, ERROR, False),  # a changed staged byte is never a warning
    ],
)
def test_the_load_runs_only_when_the_gate_lets_it(
    tmp_path: Path, capsys, sixth_rows, warnings, tamper: bool, passed: bool, severity, loads: bool
) -> None:
    feed = _ingested(tmp_path, "johnnys-jeans", sixth_rows, capsys)
    if tamper:
        with open(feed["stage"] / "delta2.csv", "ab") as staged_file:
            staged_file.write(b"1,2,3,4,5\r\n")
    spec = FeedSpec(name="johnnys-jeans", source=str(feed["source"]), stage=feed["stage"], ledger=feed["ledger"])
    loaded: list[str] = []
    assets = _pipeline("johnnys_jeans", loaded)
    out = tmp_path / "out"
    check = gate_check(spec, assets[0], out_dir=out, gx_dir=_gx_dir(tmp_path), warnings=warnings)

    result = _materialize(list(assets), [check])

    evaluation = _evaluation(result, "johnnys_jeans")
    assert (evaluation.passed, evaluation.severity, evaluation.blocking) == (passed, severity, True)
    assert loaded == (["johnnys_jeans"] if loads else [])
    assert ("johnnys_jeans/load" in _materialized(result)) is loads and result.success is loads
    results = json.loads((out / "gate.json").read_text())
    metadata = evaluation.metadata
    assert metadata["decision"].value == results["decision"] == ("load" if passed else "refuse")
    assert metadata["findings"].value == [
        f"{finding['kind']}: {finding['key']}: {finding['message']}" for finding in results["findings"]
    ]
    assert Path(metadata["data_docs"].value).is_file() and metadata["results"].value == str(out / "gate.json")
    kinds = {finding["kind"] for finding in results["findings"]}
    if sixth_rows == THIRD:
        assert "volume_anomaly" in kinds
        assert any(line.startswith("volume_anomaly: delta5.csv: 828 rows vs usual") for line in metadata["findings"].value)
    assert ("tampered" in kinds) is tamper


@pytest.mark.slow
def test_a_feeds_file_gives_one_check_per_feed(tmp_path: Path, capsys) -> None:
    for name, rows in (("good", USUAL), ("bad", THIRD)):
        _ingested(tmp_path, name, rows, capsys)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        "".join(
            f'[[feed]]\nname = "{name}"\nsource = "{name}/drops"\nstage = "{name}/stage"\nledger = "{name}/ledger.sqlite"\n\n'
            for name in ("good", "bad")
        )
    )
    loaded: list[str] = []
    pipelines = {name: _pipeline(name, loaded) for name in ("good", "bad")}
    out = tmp_path / "out"
    checks = gate_checks(
        feeds, {name: staged for name, (staged, _) in pipelines.items()}, out_dir=out, gx_dir=_gx_dir(tmp_path), build_docs=False
    )

    result = _materialize([asset for pipeline in pipelines.values() for asset in pipeline], checks)

    assert loaded == ["good"] and _materialized(result) == {"good/staged", "good/load", "bad/staged"}
    assert [_evaluation(result, name).passed for name in ("good", "bad")] == [True, False]
    for name, decision in (("good", "load"), ("bad", "refuse")):
        assert json.loads((out / name / "gate.json").read_text())["decision"] == decision


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        ({"contract": "missing.yaml"}, "missing.yaml: contract file not found"),
        ({"stage": None}, "feed broken: the gate needs the feed's stage"),
    ],
)
def test_a_gate_that_cannot_decide_skips_the_load(tmp_path: Path, webhook, broken: dict, error: str) -> None:
    paths = {"stage": tmp_path / "stage", "contract": None} | {
        key: tmp_path / value if value else None for key, value in broken.items()
    }
    spec = FeedSpec(
        name="broken", source=str(tmp_path / "drops"), ledger=tmp_path / "ledger.sqlite", notify=(webhook.url,), **paths
    )
    loaded: list[str] = []
    assets = _pipeline("broken", loaded)
    out = tmp_path / "out"

    result = _materialize(list(assets), [gate_check(spec, assets[0], out_dir=out)])

    assert loaded == [] and _materialized(result) == {"broken/staged"} and not result.success
    results = json.loads((out / "gate.json").read_text())
    assert results["decision"] == "could not decide" and error in results["error"]
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "broken__staged_gate"
    assert "Failure: gate could not decide: " in failure.step_failure_data.error.message
    assert failure.step_failure_data.error.message.rstrip().endswith(error)
    (told,) = webhook.received
    assert told["decision"] == "could not decide" and told["feed"] == "broken"


@pytest.mark.parametrize(
    ("warnings", "assets", "message"),
    [
        (("tampered",), None, "warnings: tampered cannot be a warning (only amount_anomaly, late_delta, volume_anomaly)"),
        ((), {}, "assets: no asset given for feed(s) a"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, warnings, assets, message: str) -> None:
    from checks.errors import UsageError

    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feed]]\nname = "a"\nsource = "s"\nstage = "t"\nledger = "l"\n')
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gate_checks(feeds, {"a": "a_staged"} if assets is None else assets, out_dir=tmp_path, warnings=warnings)
