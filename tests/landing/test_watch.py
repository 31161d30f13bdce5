"""Acceptance of watching feeds over time (issue 13), through the command line on the real deltas.

The five real deltas of ../shared/cases/johnnys-jeans landed a week apart, then a sixth valid update:
cut to a third of the usual size the gate refuses it with ``volume_anomaly: delta5.csv: ...`` and the
webhook on loopback hears of it; at the usual size it passes. A feed whose newest drop is overdue
gets ``late_delta``. Two feeds in one feeds file, one good and one bad: two decisions, exit 1, both
on the index page.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from checks.cli import main
from tests.landing.conftest import case_dir, real_feed, sixth_delta

PROJECT = Path(__file__).resolve().parents[2]
USUAL, THIRD = None, 828  # delta4's 2,483 users, or the third of them with the lowest batches


def _cli(capsys, *arguments: str) -> tuple[int, str, str]:
    code = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _gx_dir(tmp_path: Path) -> Path:
    gx_dir = tmp_path / "gx"
    gx_dir.mkdir(exist_ok=True)
    shutil.copy(PROJECT / "gx" / "great_expectations.yml", gx_dir)
    return gx_dir


def _ingested(tmp_path: Path, name: str, sixth_rows: int | None, capsys, *, newest_age_days: float = 1.0) -> dict[str, Path]:
    """A feed folder of the real deltas plus a sixth, ingested: its source, stage and ledger."""
    case = case_dir()
    feed = {
        "source": real_feed(tmp_path / name / "drops", sixth_delta(case, sixth_rows), newest_age_days=newest_age_days),
        "stage": tmp_path / name / "stage",
        "ledger": tmp_path / name / "ledger.sqlite",
    }
    code, _, _ = _cli(capsys, "ingest", "--source", feed["source"], "--stage", feed["stage"], "--ledger", feed["ledger"])
    assert code == 0
    return feed


@pytest.mark.slow
@pytest.mark.parametrize(("sixth_rows", "code"), [(THIRD, 1), (USUAL, 0)])
def test_a_delta_a_third_the_usual_size_is_refused_and_told(tmp_path: Path, capsys, webhook, sixth_rows, code: int) -> None:
    feed = _ingested(tmp_path, "johnnys-jeans", sixth_rows, capsys)
    out = tmp_path / "out"
    exit_code, text, errors = _cli(
        capsys, "gate", "--source", feed["source"], "--stage", feed["stage"], "--ledger", feed["ledger"],
        "--out", out, "--gx-dir", _gx_dir(tmp_path), "--notify", webhook.url,
    )
    assert exit_code == code, text + errors
    results = json.loads((out / "gate.json").read_text())
    if sixth_rows == THIRD:
        assert "volume_anomaly: delta5.csv: 828 rows vs usual 2,488 rows (median of 4 earlier updates)" in text
        assert "refuse the load" in text
        (told,) = webhook.received
        assert told["decision"] == "refuse" and told["feed"] == str(feed["source"].resolve())
        assert any(line.startswith("volume_anomaly: delta5.csv: ") for line in told["findings"])
        assert Path(told["data_docs"]).is_file() and Path(told["history"]).is_file()
        assert results["notifications"][0]["delivered"] is True
    else:
        assert "safe to load" in text and webhook.received == []  # --notify-on refuse by default
        assert results["notifications"] == []
    assert not any(finding["kind"] == "volume_anomaly" for finding in results["findings"]) is (code == 0)
    assert "s3cr3t" not in text + errors + (out / "gate.json").read_text()


@pytest.mark.slow
def test_a_failed_notification_changes_nothing_and_shows_no_secret(tmp_path: Path, capsys, webhook) -> None:
    feed = _ingested(tmp_path, "johnnys-jeans", THIRD, capsys)
    webhook.statuses.extend([500, 500, 500])
    out = tmp_path / "out"
    exit_code, text, errors = _cli(
        capsys, "gate", "--source", feed["source"], "--stage", feed["stage"], "--ledger", feed["ledger"],
        "--out", out, "--gx-dir", _gx_dir(tmp_path), "--no-docs", "--notify", webhook.url, "--notify-timeout", "5",
    )
    assert exit_code == 1 and "volume_anomaly: delta5.csv: " in text
    port = webhook.url.split(":")[2].split("/")[0]
    assert f"notification to http://127.0.0.1:{port}/… failed after 3 attempt(s): HTTP 500" in errors
    (delivery,) = json.loads((out / "gate.json").read_text())["notifications"]
    assert delivery == {"target": f"http://127.0.0.1:{port}/…", "delivered": False, "attempts": 3, "error": "HTTP 500"}
    assert "s3cr3t" not in text + errors + (out / "gate.json").read_text() and webhook.received == []


@pytest.mark.slow
def test_an_overdue_feed_is_late(tmp_path: Path, capsys) -> None:
    feed = _ingested(tmp_path, "johnnys-jeans", USUAL, capsys, newest_age_days=30)
    code, text, _ = _cli(
        capsys, "gate", "--source", feed["source"], "--stage", feed["stage"], "--ledger", feed["ledger"],
        "--out", tmp_path / "out", "--gx-dir", _gx_dir(tmp_path), "--no-docs",
    )
    assert code == 1
    assert "late_delta: delta5.csv: nothing new for 30.0 days" in text
    assert "vs usual one every 7.0 days (learned from 6 deliveries; late after 10.5 days)" in text


def test_the_contracts_frequency_is_the_cadence(tmp_path: Path, capsys) -> None:
    contract = tmp_path / "daily.yaml"
    text = (PROJECT / "contracts" / "user-summary.yaml").read_text()
    contract.write_text(text + "slaProperties:\n  - {property: frequency, value: 1, unit: d}\n")
    drops = real_feed(tmp_path / "drops", None, newest_age_days=3)
    ledger = tmp_path / "ledger.sqlite"
    assert _cli(capsys, "ingest", "--source", drops, "--stage", tmp_path / "stage", "--ledger", ledger, "--contract", contract)[0] == 0
    code, out, _ = _cli(capsys, "audit", "--source", drops, "--ledger", ledger, "--contract", contract)
    assert code == 1
    assert "late_delta: delta4.csv: nothing new for 3.0 days" in out
    assert "vs usual one every 24.0 hours (the contract's frequency; late after 24.0 hours)" in out


@pytest.mark.slow
def test_a_feeds_file_gates_every_feed(tmp_path: Path, capsys) -> None:
    good = _ingested(tmp_path, "good", USUAL, capsys)
    bad = _ingested(tmp_path, "bad", THIRD, capsys)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        "".join(
            f'[[feed]]\nname = "{name}"\nsource = "{name}/drops"\nstage = "{name}/stage"\nledger = "{name}/ledger.sqlite"\n\n'
            for name in ("good", "bad")
        )
    )
    assert good["source"] == tmp_path / "good" / "drops" and bad["source"] == tmp_path / "bad" / "drops"
    out = tmp_path / "out"
    code, text, _ = _cli(capsys, "gate", "--feeds", feeds, "--out", out, "--gx-dir", _gx_dir(tmp_path))
    assert code == 1
    decisions = [line for line in text.splitlines() if ": gate: " in line]
    assert [line.split(":")[0] for line in decisions] == ["good", "bad"]
    assert "safe to load" in decisions[0] and "refuse the load" in decisions[1]
    assert "bad: volume_anomaly: delta5.csv: " in text
    for name, decision in (("good", "load"), ("bad", "refuse")):
        assert json.loads((out / name / "gate.json").read_text())["decision"] == decision
    index = (out / "index.html").read_text()
    assert index.count("<tr><td>") == 2
    assert '<td>good</td><td style="color:#2f855a"><b>load</b>' in index
    assert '<td>bad</td><td style="color:#c53030"><b>refuse</b>' in index
    assert 'href="bad/gate.json"' in index and "http" not in index


@pytest.mark.parametrize(
    ("sla", "message"),
    [
        ("{property: frequency, value: 1, unit: fortnight}", "frequency needs a positive number value and a unit"),
        ("{property: frequency, value: -2, unit: d}", "frequency needs a positive number value"),
    ],
)
def test_a_bad_frequency_is_bad_input(tmp_path: Path, capsys, sla: str, message: str) -> None:
    contract = tmp_path / "bad.yaml"
    contract.write_text((PROJECT / "contracts" / "user-summary.yaml").read_text() + f"slaProperties:\n  - {sla}\n")
    code, _, errors = _cli(capsys, "audit", "--source", tmp_path, "--ledger", tmp_path / "ledger.sqlite", "--contract", contract)
    assert code == 2 and message in errors


def test_a_gate_that_could_not_decide_tells_the_webhook(tmp_path: Path, capsys, webhook) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    stage = tmp_path / "stage"
    assert _cli(capsys, "ingest", "--source", drops, "--stage", stage, "--ledger", tmp_path / "first.sqlite")[0] == 0
    out = tmp_path / "out"
    code, _, errors = _cli(
        capsys, "gate", "--source", drops, "--stage", stage, "--ledger", tmp_path / "second.sqlite", "--out", out,
        "--notify", webhook.url,
    )
    assert code == 3 and "the stage is filled by another ledger" in errors
    (told,) = webhook.received
    assert told["decision"] == "could not decide" and "another ledger" in told["error"]
    results = json.loads((out / "gate.json").read_text())
    assert results["decision"] == "could not decide" and results["notifications"][0]["delivered"] is True


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("gate",), "give --source (one feed) or --feeds FILE"),
        (("audit",), "give --source (one feed) or --feeds FILE"),
        (("gate", "--feeds", "{feeds}", "--contract", "x.yaml"), "with --feeds, each feed's --contract comes from the feeds file"),
        (("audit", "--feeds", "{feeds}", "--source", "drops"), "with --feeds, each feed's --source comes from the feeds file"),
        (("gate", "--feeds", "{feeds}", "--feed", "other"), "no feed named other"),
        (("gate", "--source", "drops", "--notify", "ftp://x/y?token=s3cr3t"), "--notify needs an http"),
        (("gate", "--source", "drops", "--notify-on", "sometimes"), "--notify-on must be one of refuse, always"),
        (("gate", "--source", "drops", "--anomaly", "tolerance"), "--anomaly takes NAME=VALUE"),
    ],
)
def test_usage_errors(tmp_path: Path, capsys, arguments: tuple[str, ...], message: str) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feed]]\nname = "a"\nsource = "s"\nstage = "t"\nledger = "l"\n')
    code, _, errors = _cli(capsys, *(argument.format(feeds=feeds) for argument in arguments))
    assert code == 2 and message in errors and "s3cr3t" not in errors


def test_a_feed_that_cannot_be_decided_stops_only_itself(tmp_path: Path, capsys, webhook) -> None:
    (tmp_path / "empty").mkdir()
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f'notify = ["{webhook.url}"]\n'
        '[[feed]]\nname = "broken"\nsource = "empty"\nstage = "b/stage"\nledger = "b/ledger.sqlite"\ncontract = "missing.yaml"\n\n'
        '[[feed]]\nname = "empty"\nsource = "empty"\nstage = "e/stage"\nledger = "e/ledger.sqlite"\n'
    )
    out = tmp_path / "out"
    code, text, errors = _cli(capsys, "gate", "--feeds", feeds, "--out", out, "--gx-dir", _gx_dir(tmp_path), "--no-docs")
    assert code == 2  # the worst: one could not be decided (bad input), one refused
    assert "broken: " in errors and "contract file not found" in errors
    assert "empty: empty_source: " in text and "empty: gate: refuse the load" in text
    assert json.loads((out / "broken" / "gate.json").read_text())["decision"] == "could not decide"
    index = (out / "index.html").read_text()
    assert "<td>broken</td>" in index and "could not decide" in index and "<td>empty</td>" in index
    assert [(told["feed"], told["decision"]) for told in webhook.received] == [("broken", "could not decide"), ("empty", "refuse")]
