"""Per-delta validation: one broken frame per rule, every failure collected, nothing coerced."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.feed import read_raw
from checks.sample import COLUMNS
from checks.model import FAILURE_COLUMNS, RawTable
from checks.sample import generate_feed
from checks.validate import validate_delta
from tests.conftest import BROKEN_DELTA_CELLS, BROKEN_DELTA_FAILURES

GOOD_ROW = {"user_id": "1", "total_spend": "10", "count_saved_items": "2", "loyalty_credits": "3", "batch_id": "4"}


def raw_delta(*rows: dict[str, str]) -> RawTable:
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS), dtype=str)
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return RawTable(name="delta1.csv", frame=frame)


def with_(**changes: str) -> dict[str, str]:
    return {**GOOD_ROW, **changes}


@pytest.mark.parametrize(
    ("row", "column", "check"),
    [
        (with_(user_id="0"), "user_id", "greater_than(0)"),
        (with_(user_id="-3"), "user_id", "greater_than(0)"),
        (with_(total_spend="-1"), "total_spend", "greater_than_or_equal_to(0)"),
        (with_(count_saved_items="-1"), "count_saved_items", "greater_than_or_equal_to(0)"),
        (with_(loyalty_credits="-1"), "loyalty_credits", "greater_than_or_equal_to(0)"),
        (with_(batch_id="-1"), "batch_id", "greater_than_or_equal_to(0)"),
        (with_(total_spend="12.0"), "total_spend", "is_integer"),
        (with_(total_spend="1e3"), "total_spend", "is_integer"),
        (with_(batch_id="seven"), "batch_id", "is_integer"),
        (with_(loyalty_credits=""), "loyalty_credits", "is_integer"),
        (with_(user_id="NaN"), "user_id", "is_integer"),
    ],
)
def test_each_rule_fails_its_broken_frame(row, column, check):
    validation = validate_delta(raw_delta(GOOD_ROW | {"user_id": "2"}, row), 1)
    assert not validation.passed
    assert validation.delta is None
    failures = validation.failures
    assert list(failures.columns) == list(FAILURE_COLUMNS)
    assert failures[["row", "column", "check"]].values.tolist() == [[3, column, check]]


def test_user_id_must_be_unique_within_a_file():
    validation = validate_delta(raw_delta(GOOD_ROW, with_(total_spend="20")), 1)
    assert validation.failures[["row", "check"]].values.tolist() == [[2, "field_uniqueness"], [3, "field_uniqueness"]]


def test_header_only_file_fails_not_empty():
    validation = validate_delta(raw_delta(), 1)
    assert validation.failures[["check"]].values.ravel().tolist() == ["not_empty"]


def test_every_failure_is_reported_in_one_run(tmp_path, broken_delta_text):
    path = tmp_path / "delta1.csv"
    path.write_text(broken_delta_text)
    failures = validate_delta(read_raw(path), 1).failures
    assert len(failures) == BROKEN_DELTA_FAILURES
    found = set(map(tuple, failures[["row", "column", "check", "value"]].astype(str).values.tolist()))
    assert found == {tuple(map(str, cell)) for cell in BROKEN_DELTA_CELLS}
    assert set(failures["file"]) == {"delta1.csv"}


def test_a_column_mixing_text_and_negative_values_reports_both():
    # Read as strings, Pandera alone reports the type failure and loses the range failure.
    validation = validate_delta(raw_delta(with_(total_spend="abc"), with_(user_id="2", total_spend="-7")), 1)
    assert validation.failures[["row", "column", "check", "value"]].values.tolist() == [
        [2, "total_spend", "is_integer", "abc"],
        [3, "total_spend", "greater_than_or_equal_to(0)", "-7"],
    ]


def test_valid_delta_passes_with_int64_frame():
    validation = validate_delta(raw_delta(GOOD_ROW, with_(user_id="2")), 1)
    assert validation.passed
    assert validation.failures.empty
    assert validation.delta.frame.dtypes.astype(str).tolist() == ["int64"] * 5
    assert validation.delta.frame.index.tolist() == [2, 3]


def test_validation_does_not_modify_its_input():
    raw = raw_delta(with_(total_spend="abc"), with_(user_id="2"))
    before = raw.frame.copy()
    validate_delta(raw, 1)
    pd.testing.assert_frame_equal(raw.frame, before)


@settings(max_examples=25, deadline=None)
@given(users=st.integers(1, 300), deltas=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_generated_valid_deltas_always_pass(users, deltas, seed):
    for delta in generate_feed(users, deltas, seed=seed):
        text = delta.frame.astype(str)
        assert validate_delta(RawTable(name=delta.name, frame=text), delta.number).passed


@pytest.mark.parametrize(
    ("value", "reported"),
    [
        ("5\n", True),  # passes a `$`-anchored pattern, is no integer
        ("99999999999999999999", True),  # beyond int64
        ("-9223372036854775809", True),  # one below int64's smallest
        ("9223372036854775807", False),  # int64's largest is fine
    ],
)
def test_cells_that_do_not_fit_int64_are_reported_not_crashed_on(value, reported):
    validation = validate_delta(raw_delta(with_(total_spend=value), with_(user_id="2")), 1)
    failures = validation.failures[["row", "column", "check", "value"]].values.tolist()
    if reported:
        assert failures == [[2, "total_spend", "is_integer", value]]
    else:
        assert validation.passed and validation.delta.frame["total_spend"].iloc[0] == int(value)


def test_large_integers_keep_their_precision_beside_a_bad_cell():
    # With a bad cell in the column, parsing through float64 would turn 2**53 + 1 into 2**53.
    validation = validate_delta(raw_delta(with_(total_spend=str(2**53 + 1)), with_(user_id="2", total_spend="x")), 1)
    assert validation.failures["row"].tolist() == [3]
    from checks.encoding import default_encoding

    _, typed, _ = default_encoding().parse_frame(raw_delta(with_(total_spend=str(2**53 + 1)), with_(user_id="2", total_spend="x")).frame)
    assert typed["total_spend"].iloc[0] == 2**53 + 1


def test_a_quarantined_delta_s_readable_rows_are_those_with_a_key_and_a_version(tmp_path):
    from checks.encoding import NULL
    from checks.model import DeltaFile
    from checks.validate import quarantined_rows, read_and_validate, readable_rows

    path = tmp_path / "delta2.csv"
    path.write_text(
        ",".join(COLUMNS) + "\n"
        "1,10,2,3x,40\n"  # a bad count: read, the count unknown
        "2,-5,2,3,41\n"  # a negative amount: read as the file wrote it
        "x3,10,2,3,42\n"  # no key
        "4,10,2,3,\n"  # no version
        "5,10,2,3,44\n"
    )
    validation = read_and_validate(DeltaFile(path, 2))
    assert not validation.passed
    rows = readable_rows(DeltaFile(path, 2))
    assert rows.name == "delta2.csv" and rows.number == 2
    assert rows.frame["user_id"].tolist() == [1, 2, 5]
    assert rows.frame.index.tolist() == [2, 3, 6]  # their lines in the file
    assert rows.frame["loyalty_credits"].tolist() == [NULL, 3, 3] and rows.frame["total_spend"].tolist() == [10, -5, 10]
    read = quarantined_rows(tmp_path, [validation])
    assert read() is read() and [delta.name for delta in read()] == ["delta2.csv"]  # read once, when asked
    assert quarantined_rows(tmp_path, []) is None
    assert readable_rows(DeltaFile(tmp_path / "gone.csv", 3)) is None  # a file no longer there is no evidence
