"""The Polars engine's one-pass shortcut for clean feeds: taken when it may be, and the same answers as the sort."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from checks.engines import get_engine
from checks.engines import polars as polars_engine
from checks.engines import polars_csv
from tests.test_engines import FAULTS, assert_same_feed_check, run_both, write_generated_feed


@pytest.fixture
def sorts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the engine's sorts by (user_id, batch_id)."""
    calls: list[int] = []
    original = polars_engine._sort_by_user_and_batch

    def counting(frame):
        calls.append(frame.height)
        return original(frame)

    monkeypatch.setattr(polars_engine, "_sort_by_user_and_batch", counting)
    return calls


def test_clean_dense_feed_takes_one_pass_without_the_sort(sorts: list[int], tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    result = polars_engine.check_feed_folder(folder)
    assert result.passed and sorts == []
    assert_same_feed_check(result, get_engine("pandas").check_feed_folder(folder))


def _spread_user_ids(folder: Path, factor: int) -> None:
    for path in folder.glob("delta*.csv"):
        frame = pd.read_csv(path)
        frame["user_id"] *= factor
        frame.to_csv(path, index=False)


def test_sparse_user_ids_fall_back_to_the_sort(sorts: list[int], tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    _spread_user_ids(folder, 10_000)
    result = polars_engine.check_feed_folder(folder)
    assert result.passed and len(sorts) == 1
    assert_same_feed_check(result, get_engine("pandas").check_feed_folder(folder))


@pytest.mark.parametrize("fault", ["spend decrease", "batch overlap", "tie"])
def test_faults_go_to_the_sort_and_match_pandas(sorts: list[int], fault: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    FAULTS[fault](folder)
    run_both("polars", folder)
    assert sorts, "a faulty feed must be reported by the sort, which names every offending row"


@pytest.mark.parametrize("factor", [1, 10_000], ids=["dense ids", "sparse ids"])
def test_repeated_user_in_a_file_is_found_whatever_the_id_spread(factor: int, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    _spread_user_ids(folder, factor)
    FAULTS["repeated user"](folder)
    result = polars_engine.check_feed_folder(folder)
    assert not result.passed and "field_uniqueness" in set(result.failures["check"])
    run_both("polars", folder)


@pytest.mark.parametrize("cell", [" 15", "\t15", "  -3", "15 ", '"15"', "", "1e3"])
def test_cells_the_integer_parser_might_take_are_judged_as_the_text_pass_does(cell: str, tmp_path: Path) -> None:
    # Polars' CSV integer parser takes " 15" and "\t15"; the text pass must still refuse them.
    from tests.test_engines import edit_cell

    folder = write_generated_feed(tmp_path / "feed")
    edit_cell(folder, "delta2.csv", 4, "total_spend", cell)
    run_both("polars", folder)


def test_blank_line_alone_matches_pandas(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    path = folder / "delta1.csv"
    lines = path.read_text().split("\n")
    path.write_text("\n".join([*lines[:4], "", *lines[4:]]))
    run_both("polars", folder)


def test_clean_files_are_parsed_as_integers_straight(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")

    def refuse(*_args):
        raise AssertionError("a clean file was read as text")

    monkeypatch.setattr(polars_csv, "scan_typed", refuse)
    assert polars_engine.check_feed_folder(folder).passed


def _set_cell(folder: Path, name: str, row: int, column: str, value: int) -> None:
    frame = pd.read_csv(folder / name)
    frame.loc[row, column] = value
    frame.to_csv(folder / name, index=False)


def test_columns_are_narrowed_only_where_every_value_fits(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    # delta4 is the last word for its users: a spend at the bound keeps its column wide there only.
    _set_cell(folder, "delta4.csv", 0, "total_spend", polars_engine.NARROW_LIMIT)
    result = polars_engine.check_feed_folder(folder)
    kinds = {delta.name: delta.frame.dtypes.astype(str).to_dict() for delta in result.deltas}
    assert kinds["delta4.csv"]["total_spend"] == "int64"
    assert kinds["delta3.csv"]["total_spend"] == "int32" and kinds["delta4.csv"]["user_id"] == "int32"
    # Files narrowed differently are stacked at the wider type: the same table and figures as pandas.
    assert result.deduplicated["total_spend"].dtype == "int64"
    assert result.deduplicated["total_spend"].max() == polars_engine.NARROW_LIMIT
    assert_same_feed_check(result, get_engine("pandas").check_feed_folder(folder))


def test_a_narrowed_table_is_written_with_int64_columns(tmp_path: Path) -> None:
    from checks.writers import atomic_write_frame

    folder = write_generated_feed(tmp_path / "feed")
    deduplicated = polars_engine.check_feed_folder(folder).deduplicated
    assert (deduplicated.dtypes == "int32").sum() == 5
    reference = get_engine("pandas").check_feed_folder(folder).deduplicated
    atomic_write_frame(tmp_path / "polars.parquet", deduplicated)
    atomic_write_frame(tmp_path / "pandas.parquet", reference)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "polars.parquet"), pd.read_parquet(tmp_path / "pandas.parquet"))
    atomic_write_frame(tmp_path / "polars.csv", deduplicated)
    atomic_write_frame(tmp_path / "pandas.csv", reference)
    assert (tmp_path / "polars.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
