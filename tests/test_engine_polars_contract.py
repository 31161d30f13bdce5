"""The Polars path for contracts of any shape reads a file a block of lines at a time: cut into blocks of a few lines,
every file is read as the pandas reference reads it (the reading quirks and planted faults of ``test_engine_polars``)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from checks.engines import get_engine, polars_contract
from tests import test_engine_polars as whole_files
from tests.test_contract_shapes import CASE as ACCOUNTS
from tests.test_contract_shapes import encoding as accounts_encoding
from tests.test_engine_polars import (
    ACCOUNTS_BAD_CELLS,
    QUIRKY_CELLS,
    THIRD_FILE,
    _accounts_feed,
    _blank_line,
    _crlf,
    _header_only,
    _long_row,
    _repeated_key,
    _same_on_both,
    _set_account_cell,
    _short_row,
    _upper_case_header,
    reference_reads,  # noqa: F401 (a fixture)
)

# Lines of the sample are 40 to 70 bytes: blocks of these sizes cut every file many times, at every kind of place.
BLOCK_SIZES = [64, 97, 300]


@pytest.fixture(params=BLOCK_SIZES, ids=lambda size: f"{size} bytes")
def small_blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(polars_contract, "_BLOCK_BYTES", request.param)
    return request.param


def test_a_clean_feed_cut_into_blocks_is_read_by_polars_alone(
    small_blocks: int, reference_reads: list[str], tmp_path: Path
) -> None:
    result = _same_on_both(_accounts_feed(tmp_path / "feed"))
    assert result.passed and len(result.deduplicated) == 300
    assert reference_reads == []


def _blank_lines_everywhere(lines: dict[str, list[str]]) -> None:
    lines[THIRD_FILE] = [line for row in lines[THIRD_FILE] for line in (row, "")]


@pytest.mark.parametrize(
    "edit", [_blank_line, _blank_lines_everywhere, _short_row, _long_row, _crlf, _upper_case_header, _header_only, _repeated_key],
    ids=lambda edit: edit.__name__.strip("_"),
)
def test_files_cut_into_blocks_are_read_as_the_reference_reads_them(
    small_blocks: int, edit: Callable, tmp_path: Path
) -> None:
    _same_on_both(_accounts_feed(tmp_path / "feed", edit))


@pytest.mark.parametrize(
    ("column", "cell"), [*QUIRKY_CELLS, *[(column, cell) for cells, column, _, _ in ACCOUNTS_BAD_CELLS for cell in cells.values()]]
)
def test_cells_in_a_later_block_are_judged_as_the_reference_judges_them(
    column: str, cell: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(polars_contract, "_BLOCK_BYTES", BLOCK_SIZES[1])
    _same_on_both(_accounts_feed(tmp_path / "feed", lambda lines: _set_account_cell(lines, THIRD_FILE, 5, column, cell)))


def test_tables_cut_into_blocks_share_the_reference_codes(small_blocks: int, reference_reads: list[str], tmp_path: Path) -> None:
    whole_files.test_tables_of_another_shape_share_the_reference_codes(reference_reads, tmp_path)


# Held as int32 where every value lies within 2**30; an optional column's empty cells (``NULL``) keep it int64, and so
# do microseconds since 1970.
NARROWED = {"account_id": "int32", "plan": "int32", "referrer": "int64", "orders": "int32", "lifetime_value": "int32",
            "exported_at": "int64"}


@pytest.mark.parametrize("table", ["platform", "customer"])
def test_columns_are_held_as_int32_only_where_every_value_fits(table: str, tmp_path: Path) -> None:
    path = tmp_path / f"{table}.csv"
    getattr(ACCOUNTS, table).to_csv(path, index=False)
    read = get_engine("polars").read_table(path, accounts_encoding())
    assert read.dtypes.astype(str).to_dict() == NARROWED
    reference = get_engine("pandas").read_table(path, accounts_encoding())
    assert (read.to_numpy() == reference.to_numpy()).all()
