"""No input makes the tool crash: arbitrary bytes, lines and cells thrown at every reader through the CLI's entry point.

Every reader (a delta through the pandas, Polars and DuckDB engines, a delta of the second sample's shape
under its contract, the platform's table, the customer's export, a case file, a contract) must answer exit 1 (checks failed) or 2 (bad input) with one clear line on stderr,
never a traceback and never the CLI's last guard ("a bug in checks"), which would mean a reader let an
unexpected error through. Examples are few (the file runs in well under a minute); hypothesis keeps
the ones that failed once in its database and tries them first.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.cli import main
from checks.sample import COLUMNS
from checks.sample import generate_feed, write_feed
from tests import faults

HEADER = ",".join(COLUMNS)
FEED = generate_feed(30, 3, seed=5)
BUG = "a bug in checks"
EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# Cells that have broken readers or nearly: integer literals past Python's 4,300-digit limit and past int64,
# carriage returns and quotes inside fields, NUL bytes, signs, blanks, floats, non-ASCII digits.
_HARD_CELLS = st.sampled_from([
    "9" * 5000, "-" + "1" * 4301, "0" * 6000 + "7", "9223372036854775808", "-9223372036854775809", "\r", "1\r2",
    '"', '"1', '1"', "\x00", "+", "-", " ", "\t1", "1e3", "12.0", "١٢", "nan", "", "''", '""', ",",
])
_CELL = st.one_of(_HARD_CELLS, st.integers(-(10**20), 10**20).map(str), st.text(max_size=8))
_ROW = st.lists(_CELL, min_size=0, max_size=7).map(lambda cells: ",".join(cells))
_HEADER = st.one_of(
    st.just(HEADER),
    st.just(HEADER.replace(",", ",\r", 1)),  # a stray carriage return inside the header line
    st.just(HEADER + ",loaded_at"),
    st.just(HEADER.upper()),
    st.lists(st.sampled_from([*COLUMNS, "x", "", '"user_id', "\r"]), max_size=7).map(",".join),
)
_NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def csv_bytes(draw) -> bytes:
    """A CSV file as bytes: arbitrary bytes, a table of small integers (repeats, negatives, users the feed never
    sent), or a header and rows of hard cells, with any line ending."""
    kind = draw(st.sampled_from(["bytes", "integers", "cells"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "integers":
        rows = draw(st.lists(st.lists(st.integers(-2, 40), min_size=len(COLUMNS), max_size=len(COLUMNS)), max_size=8))
        return "\n".join([HEADER, *(",".join(map(str, row)) for row in rows)]).encode()
    newline = draw(_NEWLINE)
    text = newline.join([draw(_HEADER), *draw(st.lists(_ROW, max_size=5))])
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8", errors="surrogatepass")


@st.composite
def case_text(draw) -> bytes:
    """A case file: arbitrary bytes, or TOML-like lines with the case's keys and hard values."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    keys = st.sampled_from(["feed", "platform", "customer", "ledger", "finance_total", "eta", "sender_name", "customer_contact", "other"])
    values = st.one_of(
        st.just("9" * 5000), st.just('"a\\u0000b"'), st.just("[" * 3000), st.just('"/no/such"'), st.just("true"),
        st.integers(-(2**70), 2**70).map(str), st.text(max_size=10).map(repr),
    )
    lines = draw(st.lists(st.tuples(keys, values).map(lambda pair: f"{pair[0]} = {pair[1]}"), max_size=5))
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


def _answer(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of the CLI's entry point, in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _assert_clear(code: int, stderr: str, about: Path | None = None, *, valid: int | None = None) -> None:
    """Exit 1 or 2 (or ``valid``, the answer to an input that happens to be valid); on 2, one error line (warnings
    aside), naming the file under test when ``about`` is given."""
    assert code in (1, 2, valid), (code, stderr)
    assert "Traceback" not in stderr and BUG not in stderr, stderr
    errors = [line for line in stderr.splitlines() if not line.startswith("warning:")]
    if code == 2:
        assert len(errors) == 1 and errors[0].startswith("checks: error:"), stderr
        assert about is None or about.name in errors[0], stderr


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("feed") / "feed"
    write_feed(FEED, folder)
    return folder


@pytest.fixture(scope="module")
def platform_csv(tmp_path_factory) -> Path:
    """A platform table that never loaded one delta: the diagnosis always has something to say (exit 1)."""
    path = tmp_path_factory.mktemp("platform") / "platform.csv"
    faults.without_file(FEED, 1).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
@EXAMPLES
@given(data=csv_bytes())
def test_a_delta_of_any_bytes_fails_in_one_line(tmp_path_factory, engine, data):
    path = tmp_path_factory.mktemp("delta") / "delta1.csv"
    path.write_bytes(data)
    _assert_clear(*_answer(["validate", str(path), "--engine", engine]), about=path, valid=0)


@pytest.mark.parametrize("engine", ["pandas", "polars"])
@EXAMPLES
@given(data=csv_bytes())
def test_a_platform_table_of_any_bytes_fails_in_one_line(tmp_path_factory, feed_dir, engine, data):
    path = tmp_path_factory.mktemp("platform") / "platform.csv"
    path.write_bytes(data)
    _assert_clear(*_answer(["diagnose", "--feed", str(feed_dir), "--platform", str(path), "--engine", engine]), about=path)


@EXAMPLES
@given(data=csv_bytes())
def test_a_customer_export_of_any_bytes_fails_in_one_line(tmp_path_factory, feed_dir, platform_csv, data):
    path = tmp_path_factory.mktemp("customer") / "customer.csv"
    path.write_bytes(data)
    _assert_clear(*_answer(["diagnose", "--feed", str(feed_dir), "--platform", str(platform_csv), "--customer", str(path)]), about=path)


@EXAMPLES
@given(data=case_text())
def test_a_case_file_of_any_bytes_fails_in_one_line(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("case")
    path = folder / "case.toml"
    path.write_bytes(data)
    _assert_clear(*_answer(["run", "--case", str(path), "--no-docs", "--out", str(folder / "out")]))


@st.composite
def contract_text(draw) -> bytes:
    """A contract: arbitrary bytes, or the first customer's contract with a line dropped, changed or repeated."""
    from checks.contract import DEFAULT_CONTRACT_PATH

    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    lines = DEFAULT_CONTRACT_PATH.read_text(encoding="utf-8").splitlines()
    at = draw(st.integers(0, len(lines) - 1))
    change = draw(st.sampled_from(["drop", "repeat", "replace", "truncate"]))
    if change == "drop":
        del lines[at]
    elif change == "repeat":
        lines.insert(at, lines[at])
    elif change == "replace":
        lines[at] = draw(st.one_of(_HARD_CELLS, st.text(max_size=30), st.just("  - {name: x, logicalType: money}")))
    else:
        lines = lines[:at]
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


@EXAMPLES
@given(data=contract_text())
def test_a_contract_of_any_bytes_is_refused_in_one_line_or_read(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("contract") / "feed.yaml"
    path.write_bytes(data)
    _assert_clear(*_answer(["contract", "lint", str(path)]), about=path, valid=0)


@pytest.mark.parametrize("engine", ["pandas", "polars"])
@EXAMPLES
@given(cells=st.lists(st.one_of(_HARD_CELLS, st.text(max_size=12)), min_size=6, max_size=6))
def test_a_delta_of_another_shape_with_any_cells_fails_in_one_line(tmp_path_factory, engine, cells):
    from checks.sample_accounts import CONTRACT_PATH

    path = tmp_path_factory.mktemp("accounts") / "accounts_2026-01-01.csv"
    header = "account_id,plan,referrer,orders,lifetime_value,exported_at"
    path.write_text(header + "\n" + ",".join(cell.replace(",", "").replace("\n", "") for cell in cells) + "\n",
                    encoding="utf-8", errors="surrogatepass")
    code, stderr = _answer(["validate", str(path), "--contract", str(CONTRACT_PATH), "--engine", engine])
    _assert_clear(code, stderr, about=path, valid=0)


@pytest.mark.parametrize(
    ("command", "content", "code", "message"),
    [
        # The two inputs held-out broken files found: each crashed with a traceback.
        ("validate", f"{HEADER}\n1,{'9' * 1_000_000},1,1,1\n", 1, None),
        ("platform", HEADER.replace(",", ",\r", 1) + "\n1,2,3,4,5\n", 2, "malformed CSV header"),
    ],
)
def test_the_inputs_that_crashed_are_one_line_from_the_console_script(tmp_path, feed_dir, command, content, code, message):
    path = tmp_path / "delta1.csv"
    path.write_text(content, newline="")
    argv = ["validate", str(path)] if command == "validate" else ["diagnose", "--feed", str(feed_dir), "--platform", str(path)]
    result = subprocess.run(
        [sys.executable, "-m", "checks", *argv], capture_output=True, text=True, env={**os.environ, "CI": "1"}, timeout=120
    )
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and BUG not in result.stderr
    if message:
        assert result.stderr.count("\n") == 1 and message in result.stderr


def test_the_last_guard_names_a_bug_in_one_line(monkeypatch, tmp_path):
    import checks.runner

    def broken(*_args, **_kwargs):
        raise RuntimeError("a reader let this through\nsecond line")

    monkeypatch.setattr(checks.runner, "discover_deltas", broken)
    monkeypatch.delenv("CHECKS_TRACEBACK", raising=False)
    code, stderr = _answer(["run", "--feed", str(tmp_path), "--no-docs", "--out", str(tmp_path / "out")])
    assert code == 2 and stderr.count("\n") == 1
    assert "unexpected RuntimeError: a reader let this through" in stderr and BUG in stderr
