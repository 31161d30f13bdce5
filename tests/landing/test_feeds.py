"""The feeds file: every feed with its paths read from the file's folder, thresholds and webhooks; anything wrong is one line."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.errors import BadInputError, UsageError
from checks.landing.anomalies import Thresholds
from checks.landing.feeds import parse_threshold_options, read_feeds, select_feeds, with_command_line

GOOD = """
notify = ["https://hooks.slack.com/services/T/B/X"]
[anomalies]
tolerance = 0.3
history = 4

[[feed]]
name = "johnnys-jeans"
source = "s3://customer-drops/johnnys-jeans"
stage = "landing/jj/stage"
ledger = "landing/jj/ledger.sqlite"
contract = "contracts/user-summary.yaml"
gx_dir = "gx/jj"
notify = "http://127.0.0.1:9000/hook"
notify_on = "always"

[[feed]]
name = "second.customer"
source = "drops/second"
stage = "landing/second/stage"
ledger = "landing/second/ledger.sqlite"
cadence = "7d"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(text)
    return path


def test_a_feeds_file_reads_every_feed(tmp_path: Path) -> None:
    first, second = read_feeds(_write(tmp_path, GOOD))
    assert (first.name, first.source, first.stage, first.contract) == (
        "johnnys-jeans", "s3://customer-drops/johnnys-jeans", tmp_path / "landing/jj/stage", tmp_path / "contracts/user-summary.yaml",
    )
    assert first.notify == ("https://hooks.slack.com/services/T/B/X", "http://127.0.0.1:9000/hook") and first.notify_on == "always"
    assert first.gx_dir == tmp_path / "gx/jj" and second.gx_dir is None
    assert second.source == str(tmp_path / "drops/second") and second.cadence == "7d" and second.contract is None
    assert second.notify == ("https://hooks.slack.com/services/T/B/X",) and second.notify_on == "refuse"
    assert first.thresholds == second.thresholds == Thresholds(tolerance=0.3, history=4)
    assert [spec.name for spec in select_feeds([first, second], ["second.customer"])] == ["second.customer"]


MINIMAL = '[[feed]]\nname = "a"\nsource = "s"\nstage = "t"\nledger = "l"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feed = [", "not valid TOML"),
        ("", "no feed"),
        ("feeds = 1\n" + MINIMAL, r"unknown key\(s\) feeds"),
        ('[[feed]]\nname = "a"\nsource = "s"\nstage = "t"\n', r"feed\[a\]: missing ledger"),
        (MINIMAL + 'ledger_path = "x"\n', r"feed\[a\]: unknown key\(s\) ledger_path"),
        (MINIMAL.replace('"a"', '"../a"'), "name may hold letters"),
        (MINIMAL + MINIMAL, r"feed name\(s\) given twice: a"),
        (MINIMAL + 'notify = ["ftp://x/y"]\n', r"feed\[a\].notify: --notify needs an http"),
        (MINIMAL + 'notify_on = "sometimes"\n', r"notify_on: one of refuse, always"),
        ("[anomalies]\ntolerance = -1\n" + MINIMAL, "tolerance must be a number of at least 0"),
        ("[anomalies]\nhistory = 2.5\n" + MINIMAL, "history must be a whole number"),
        ("[anomalies]\nmedian = 2\n" + MINIMAL, "unknown threshold 'median'"),
    ],
)
def test_a_bad_feeds_file_is_bad_input(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        read_feeds(_write(tmp_path, text))


def test_a_missing_feeds_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="feeds file not found"):
        read_feeds(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("options", "expected"),
    [([], Thresholds()), (["tolerance=0.3", "ratio = 3"], Thresholds(tolerance=0.3, ratio=3.0)), (["history=5"], Thresholds(history=5))],
)
def test_threshold_options(options: list[str], expected: Thresholds) -> None:
    assert parse_threshold_options(options) == expected


@pytest.mark.parametrize(("option", "message"), [("tolerance", "NAME=VALUE"), ("window=x", "window must be a whole number")])
def test_bad_threshold_options(option: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_threshold_options([option])


def test_an_unknown_feed_name_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no feed named other"):
        select_feeds(read_feeds(_write(tmp_path, MINIMAL)), ["other"])


def test_the_command_line_adds_webhooks_and_overrides_thresholds(tmp_path: Path) -> None:
    first, second = with_command_line(read_feeds(_write(tmp_path, GOOD)), ("http://127.0.0.1:1/x",), ["ratio=3", "tolerance=0.5"])
    assert first.thresholds == second.thresholds == Thresholds(tolerance=0.5, history=4, ratio=3.0)
    assert second.notify == ("https://hooks.slack.com/services/T/B/X", "http://127.0.0.1:1/x")
