"""The Polars engine: its one-pass shortcut for clean feeds (taken when it may be, the same answers as the sort), and its
path for contracts of any shape (the same answers as the pandas reference on the second sample's shape, planted faults
and reading quirks included)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from checks.engines import get_engine
from checks.engines import polars as polars_engine
from checks.engines import polars_contract, polars_csv, polars_feed
from checks.errors import ChecksError
from checks.results import FeedCheck
from tests.test_contract_shapes import BAD_CELLS as ACCOUNTS_BAD_CELLS
from tests.test_contract_shapes import CASE as ACCOUNTS
from tests.test_contract_shapes import HEADER as ACCOUNTS_HEADER
from tests.test_contract_shapes import encoding as accounts_encoding
from tests.test_engines import FAULTS, assert_same_feed_check, run_both, write_generated_feed


@pytest.fixture
def sorts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the engine's sorts by (key, version)."""
    calls: list[int] = []
    original = polars_feed._sort_by_key_and_version

    def counting(frame, form):
        calls.append(frame.height)
        return original(frame, form)

    monkeypatch.setattr(polars_feed, "_sort_by_key_and_version", counting)
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


@pytest.mark.parametrize(
    ("blank", "at"),
    [(None, 0), (b" ", 0), (b"\t", 5), (b" ", polars_csv._WINDOW - 1), (b"\t", polars_csv._WINDOW), (b" ", -1)],
    ids=["none", "first byte", "tab", "last of a window", "first of the next", "last byte"],
)
def test_a_space_or_tab_is_found_wherever_it_lies(blank: bytes | None, at: int, tmp_path: Path) -> None:
    body = bytearray(b"1,2\n" * (polars_csv._WINDOW // 2))
    if blank is not None:
        body[at] = blank[0]
    (path := tmp_path / "delta0.csv").write_bytes(bytes(body))
    assert polars_csv.has_blanks(path) == (blank is not None)


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
    from checks.results import write_deduplicated
    from checks.writers import atomic_write_frame

    folder = write_generated_feed(tmp_path / "feed")
    deduplicated = polars_engine.check_feed_folder(folder).deduplicated
    assert (deduplicated.dtypes == "int32").sum() == 5
    reference = get_engine("pandas").check_feed_folder(folder).deduplicated
    # As the run writes it: the file names, a categorical here, go out as text.
    assert isinstance(deduplicated["source_file"].dtype, pd.CategoricalDtype)
    write_deduplicated(tmp_path / "polars.parquet", deduplicated)
    atomic_write_frame(tmp_path / "pandas.parquet", reference)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "polars.parquet"), pd.read_parquet(tmp_path / "pandas.parquet"))
    assert (tmp_path / "polars.parquet").read_bytes() == (tmp_path / "pandas.parquet").read_bytes()
    atomic_write_frame(tmp_path / "polars.csv", deduplicated)
    atomic_write_frame(tmp_path / "pandas.csv", reference)
    assert (tmp_path / "polars.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


# --- contracts of any shape: the second sample's (string key, timestamp version, decimal amount) ---------------

ACCOUNTS_NAMES = list(ACCOUNTS.files)
FIRST_FILE, THIRD_FILE = ACCOUNTS_NAMES[0], ACCOUNTS_NAMES[2]

# Cells planted in the third file's line 5, beyond one per contract rule (``BAD_CELLS``): forms a reader might take
# otherwise than the reference, which the fast path must pass, or hand back, exactly as the reference judges them.
QUIRKY_CELLS = [
    ("orders", "+7"), ("orders", "007"), ("orders", " 7"), ("orders", "99999999999999999999"),
    ("lifetime_value", "+12.5"), ("lifetime_value", "0012.50"), ("lifetime_value", "12."), ("lifetime_value", ".5"),
    ("lifetime_value", "123456789012.00"), ("lifetime_value", "1234567890123.00"),
    ("lifetime_value", "12.345"), ("lifetime_value", "1e3"), ("lifetime_value", "-0.00"),  # Polars' decimal cast takes them
    ("exported_at", "2026-01-03 02:00:00"), ("exported_at", "2026-01-03T02:00:00+02:00"),
    ("exported_at", "2026-01-03T02:00:60Z"), ("exported_at", "2026-01-03T02:00:00.5Z"),
    ("account_id", "AC-1234567"), ("account_id", '"AC-000001"'), ("referrer", '""'), ("plan", '"pro"'),
    ("plan", "Pro"), ("referrer", "AC-9"),
]


def _accounts_feed(folder: Path, edit: Callable[[dict[str, list[str]]], None] | None = None) -> Path:
    """The 300-account sample's files as text lines (header first), after ``edit`` changed them."""
    lines = {name: [",".join(frame.columns), *(",".join(row) for row in frame.astype(str).itertuples(index=False))]
             for name, frame in ACCOUNTS.files.items()}
    if edit is not None:
        edit(lines)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in lines.items():
        (folder / name).write_text("\n".join(text) + "\n")
    return folder


def _set_account_cell(lines: dict[str, list[str]], file: str, line: int, column: str, value: str) -> None:
    cells = lines[file][line - 1].split(",")
    cells[ACCOUNTS_HEADER.split(",").index(column)] = value
    lines[file][line - 1] = ",".join(cells)


def _same_on_both(folder: Path) -> FeedCheck | None:
    """The Polars engine's feed check, asserted equal to the pandas reference's on ``folder`` (or the same error)."""
    try:
        reference = get_engine("pandas").check_feed_folder(folder, encoding=accounts_encoding())
    except ChecksError as error:
        with pytest.raises(type(error)) as raised:
            get_engine("polars").check_feed_folder(folder, encoding=accounts_encoding())
        assert str(raised.value) == str(error)
        return None
    polars = get_engine("polars").check_feed_folder(folder, encoding=accounts_encoding())
    assert_same_feed_check(polars, reference)
    return polars


@pytest.fixture
def reference_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files the any-shape path hands to the pandas reference."""
    handed: list[str] = []
    validate, read_table = polars_contract._read_and_validate_reference, polars_contract._read_table_reference

    def validating(delta_file, encoding):
        handed.append(delta_file.name)
        return validate(delta_file, encoding)

    def reading(path, encoding, *, warn=None):
        handed.append(Path(path).name)
        return read_table(path, encoding, warn=warn)

    monkeypatch.setattr(polars_contract, "_read_and_validate_reference", validating)
    monkeypatch.setattr(polars_contract, "_read_table_reference", reading)
    return handed


def test_a_clean_feed_of_another_shape_is_read_by_polars_alone_in_one_pass(
    reference_reads: list[str], sorts: list[int], tmp_path: Path
) -> None:
    result = _same_on_both(_accounts_feed(tmp_path / "feed"))
    assert result.passed and len(result.deduplicated) == 300
    assert reference_reads == [] and sorts == []  # dictionary codes are dense keys


@pytest.mark.parametrize(("cells", "column", "check", "value"), ACCOUNTS_BAD_CELLS)
def test_a_cell_that_breaks_a_rule_is_worded_as_the_reference_words_it(
    reference_reads: list[str], cells: dict[str, str], column: str, check: str, value: str, tmp_path: Path
) -> None:
    def plant(lines: dict[str, list[str]]) -> None:
        for name, cell in cells.items():
            _set_account_cell(lines, THIRD_FILE, 5, name, cell)

    result = _same_on_both(_accounts_feed(tmp_path / "feed", plant))
    failures = result.failures[["file", "row", "column", "check", "value"]].astype(object).values.tolist()
    assert [THIRD_FILE, 5, column, check, value] in failures
    assert THIRD_FILE in result.quarantined and THIRD_FILE in reference_reads


@pytest.mark.parametrize(("column", "cell"), QUIRKY_CELLS)
def test_cells_a_reader_might_take_otherwise_are_judged_as_the_reference_judges_them(
    column: str, cell: str, tmp_path: Path
) -> None:
    _same_on_both(_accounts_feed(tmp_path / "feed", lambda lines: _set_account_cell(lines, THIRD_FILE, 5, column, cell)))


def _blank_line(lines: dict[str, list[str]]) -> None:
    lines[THIRD_FILE].insert(4, "")


def _short_row(lines: dict[str, list[str]]) -> None:
    lines[THIRD_FILE][4] = lines[THIRD_FILE][4].rsplit(",", 1)[0]


def _long_row(lines: dict[str, list[str]]) -> None:
    lines[THIRD_FILE][4] += ",extra"


def _crlf(lines: dict[str, list[str]]) -> None:
    lines[FIRST_FILE] = [line + "\r" for line in lines[FIRST_FILE]]


def _upper_case_header(lines: dict[str, list[str]]) -> None:
    lines[FIRST_FILE][0] = lines[FIRST_FILE][0].upper()


def _reordered_columns(lines: dict[str, list[str]]) -> None:
    lines[FIRST_FILE] = [",".join(reversed(line.split(","))) for line in lines[FIRST_FILE]]


def _header_only(lines: dict[str, list[str]]) -> None:
    lines[THIRD_FILE] = lines[THIRD_FILE][:1]


def _repeated_key(lines: dict[str, list[str]]) -> None:
    lines[THIRD_FILE].append(lines[THIRD_FILE][1])


@pytest.mark.parametrize(
    "edit", [_blank_line, _short_row, _long_row, _crlf, _upper_case_header, _reordered_columns, _header_only, _repeated_key],
    ids=lambda edit: edit.__name__.strip("_"),
)
def test_files_read_otherwise_are_read_as_the_reference_reads_them(edit: Callable, tmp_path: Path) -> None:
    _same_on_both(_accounts_feed(tmp_path / "feed", edit))


def test_tables_of_another_shape_share_the_reference_codes(reference_reads: list[str], tmp_path: Path) -> None:
    platform, customer = tmp_path / "platform.csv", tmp_path / "customer.csv"
    ACCOUNTS.platform.to_csv(platform, index=False)
    ACCOUNTS.customer.to_csv(customer, index=False)
    read = {}
    for engine in ("polars", "pandas"):
        encoding = accounts_encoding()
        read[engine] = [get_engine(engine).read_table(path, encoding) for path in (platform, customer)]
        read[engine].append(encoding.decode(read[engine][1]))  # codes in first-seen order, decoded as written
    for mine, reference in zip(read["polars"], read["pandas"]):
        pd.testing.assert_frame_equal(mine, reference, check_dtype=False)  # Polars holds int32 where values fit
    assert reference_reads == []


def test_passed_deltas_are_marked_as_holding_each_user_once(tmp_path: Path) -> None:
    # The diagnosis then takes each as one part, without looking for a repeated user again.
    deltas = get_engine("polars").check_feed_folder(write_generated_feed(tmp_path / "feed")).deltas
    assert deltas and all(delta.unique_keys for delta in deltas)


@pytest.mark.parametrize(
    ("already_set", "expected"),
    [(None, "dirty_decay_ms:5000,muzzy_decay_ms:5000"), ("dirty_decay_ms:0", "dirty_decay_ms:0")],
    ids=["checks sets it", "the user's value wins"],
)
def test_importing_checks_sets_polars_allocator_decay_unless_set(already_set: str | None, expected: str) -> None:
    import os
    import subprocess
    import sys

    environment = {key: value for key, value in os.environ.items() if key != "_RJEM_MALLOC_CONF"}
    if already_set is not None:
        environment["_RJEM_MALLOC_CONF"] = already_set
    # Polars appends the variable to its own defaults when imported: later options win in jemalloc.
    shown = subprocess.run(
        [sys.executable, "-c", "import checks, polars, os; print(os.environ['_RJEM_MALLOC_CONF'])"],
        env=environment, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert shown.endswith("," + expected)
