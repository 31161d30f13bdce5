"""Differential tests: every engine returns the pandas path's FeedCheck on the same seeded feeds.

Planted faults (one per case of ``FAULTS``, each written into a generated feed's CSV text): a cell that
is not an integer, a negative value, a user repeated inside one delta, a batch_id below an earlier
delta's (batch overlap), a lifetime spend that falls, a tie on a user's latest batch, a (user,
batch) pair repeated in a later file, and the reading quirks the fast engines hand to the pandas
path (blank line, empty cell, BOM with an upper-case header, CRLF, an integer beyond int64 alone or
beside a bad cell, a delta with no rows, a row with too many fields, a reordered header, a missing column, quoted cells,
leading spaces, a plus sign). Spark runs a few combined feeds (``SPARK_CASES``) in one session.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from checks.encoding import Encoding
from checks.engines import ENGINES, get_engine
from checks.errors import ChecksError, UsageError
from checks.sample import COLUMNS
from checks.results import FeedCheck, pandas_failures, pandas_table
from checks.sample import generate_feed, write_feed
from tests.frames import assert_same_rows

FAST_ENGINES = ("polars",)


def assert_same_feed_check(actual: FeedCheck, expected: FeedCheck) -> None:
    """Field by field, frame by frame: the engines must agree on content and dtypes (int32 only as lossless narrowing)."""
    assert [v.name for v in actual.validations] == [v.name for v in expected.validations]
    for mine, reference in zip(actual.validations, expected.validations):
        assert (mine.number, mine.rows, mine.warnings, mine.passed) == (
            reference.number, reference.rows, reference.warnings, reference.passed
        ), mine.name
        # An engine may hold them elsewhere (Spark): collected to compare.
        pd.testing.assert_frame_equal(pandas_failures(mine.failures), reference.failures, obj=f"failures of {mine.name}")
    pd.testing.assert_frame_equal(pandas_failures(actual.feed_failures), expected.feed_failures, obj="feed failures")
    assert [delta.name for delta in actual.deltas] == [delta.name for delta in expected.deltas]
    for mine, reference in zip(actual.deltas, expected.deltas):
        assert mine.number == reference.number
        assert_same_rows(mine.frame, reference.frame, obj=f"rows of {mine.name}")
    assert actual.quarantined == expected.quarantined
    assert_same_rows(actual.deduplicated, expected.deduplicated, obj="deduplicated")


def run_both(engine: str, folder: Path, encoding: Encoding | None = None) -> FeedCheck | None:
    """Run the pandas path and ``engine`` on ``folder`` (under ``encoding``'s contract, shared by both runs so that
    strings get the same codes); same FeedCheck, or the same error. The reference's FeedCheck (None on error)."""
    contract = {} if encoding is None else {"encoding": encoding}
    try:
        expected = get_engine("pandas").check_feed_folder(folder, **contract)
    except Exception as reference_error:  # noqa: BLE001 - the engine must fail exactly as the reference does
        with pytest.raises(type(reference_error)) as raised:
            get_engine(engine).check_feed_folder(folder, **contract)
        assert str(raised.value) == str(reference_error)
        return None
    assert_same_feed_check(get_engine(engine).check_feed_folder(folder, **contract), expected)
    return expected


def write_generated_feed(folder: Path, *, users: int = 300, seed: int = 5) -> Path:
    write_feed(generate_feed(users, 5, seed=seed), folder)
    return folder


def feed_with_cell(users: int, *, delta: int, column: str, value: int) -> list:
    """A generated in-memory feed (4 deltas, seed 9) whose delta ``delta`` has ``value`` in ``column`` of its first row."""
    feed = generate_feed(users, 4, seed=9)
    broken = feed[delta].frame.copy()
    broken.iloc[0, COLUMNS.index(column)] = value
    feed[delta] = type(feed[delta])(name=feed[delta].name, number=delta, frame=broken)
    return feed


def edit_cell(folder: Path, file: str, line: int, column: str, value: str) -> None:
    path = folder / file
    lines = path.read_text().split("\n")
    cells = lines[line - 1].split(",")
    cells[COLUMNS.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines))


def cell(folder: Path, file: str, line: int, column: str) -> str:
    return (folder / file).read_text().split("\n")[line - 1].split(",")[COLUMNS.index(column)]


def find_line(folder: Path, file: str, user_id: str) -> int:
    lines = (folder / file).read_text().split("\n")
    return next(number for number, text in enumerate(lines, start=1) if text.split(",")[0] == user_id)


def _bad_cell(folder: Path) -> None:
    edit_cell(folder, "delta2.csv", 7, "total_spend", "12x")
    edit_cell(folder, "delta2.csv", 9, "user_id", "7.0")


def _negative_value(folder: Path) -> None:
    edit_cell(folder, "delta1.csv", 4, "loyalty_credits", "-3")
    edit_cell(folder, "delta3.csv", 5, "user_id", "0")


def _repeated_user(folder: Path) -> None:
    edit_cell(folder, "delta2.csv", 6, "user_id", cell(folder, "delta2.csv", 3, "user_id"))


def _batch_overlap(folder: Path) -> None:
    edit_cell(folder, "delta3.csv", 2, "batch_id", cell(folder, "delta1.csv", 2, "batch_id"))


def _spend_decrease(folder: Path) -> None:
    user = cell(folder, "delta4.csv", 3, "user_id")
    edit_cell(folder, "delta4.csv", 3, "total_spend", "0")
    edit_cell(folder, "delta0.csv", find_line(folder, "delta0.csv", user), "total_spend", "5")


def _tie(folder: Path) -> None:
    # delta4's row 2 again in delta3 with the same batch_id: a repeated pair and a tie on the latest row.
    row = (folder / "delta4.csv").read_text().split("\n")[1]
    with open(folder / "delta3.csv", "a") as handle:
        handle.write(row + "\n")


def _repeated_pair_not_latest(folder: Path) -> None:
    row = (folder / "delta1.csv").read_text().split("\n")[1]
    with open(folder / "delta2.csv", "a") as handle:
        handle.write(row + "\n")


def _blank_line(folder: Path) -> None:
    path = folder / "delta1.csv"
    lines = path.read_text().split("\n")
    path.write_text("\n".join([*lines[:4], "", *lines[4:]]))
    edit_cell(folder, "delta1.csv", 9, "batch_id", "x")


def _empty_cell(folder: Path) -> None:
    edit_cell(folder, "delta2.csv", 3, "count_saved_items", "")


def _bom_and_upper_case_header(folder: Path) -> None:
    path = folder / "delta1.csv"
    text = path.read_text()
    header, _, body = text.partition("\n")
    path.write_bytes(b"\xef\xbb\xbf" + (header.upper().replace("USER_ID", " User_ID") + "\n" + body).encode())


def _crlf(folder: Path) -> None:
    path = folder / "delta2.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def _integer_beyond_int64(folder: Path) -> None:
    edit_cell(folder, "delta2.csv", 4, "total_spend", "99999999999999999999")


def _integer_beyond_int64_beside_a_bad_cell(folder: Path) -> None:
    _integer_beyond_int64(folder)
    edit_cell(folder, "delta2.csv", 4, "batch_id", "n/a")


def _no_rows(folder: Path) -> None:
    (folder / "delta3.csv").write_text(",".join(COLUMNS) + "\n")


def _too_many_fields(folder: Path) -> None:
    path = folder / "delta2.csv"
    lines = path.read_text().split("\n")
    lines[3] += ",9"
    path.write_text("\n".join(lines))


def _reordered_header(folder: Path) -> None:
    path = folder / "delta1.csv"
    frame = pd.read_csv(path, dtype=str)
    frame[list(reversed(COLUMNS))].to_csv(path, index=False)


def _missing_column(folder: Path) -> None:
    path = folder / "delta1.csv"
    pd.read_csv(path, dtype=str).drop(columns="batch_id").to_csv(path, index=False)


def _quoted_cells_and_spaces(folder: Path) -> None:
    edit_cell(folder, "delta1.csv", 3, "total_spend", '"15"')
    edit_cell(folder, "delta1.csv", 4, "total_spend", " 15")
    edit_cell(folder, "delta1.csv", 5, "batch_id", "+7000")


FAULTS: dict[str, Callable[[Path], None]] = {
    "bad cell": _bad_cell,
    "negative value": _negative_value,
    "repeated user": _repeated_user,
    "batch overlap": _batch_overlap,
    "spend decrease": _spend_decrease,
    "tie": _tie,
    "repeated pair, not the latest": _repeated_pair_not_latest,
    "blank line": _blank_line,
    "empty cell": _empty_cell,
    "BOM and upper-case header": _bom_and_upper_case_header,
    "CRLF": _crlf,
    "integer beyond int64": _integer_beyond_int64,
    "integer beyond int64 beside a bad cell": _integer_beyond_int64_beside_a_bad_cell,
    "no rows": _no_rows,
    "too many fields": _too_many_fields,
    "reordered header": _reordered_header,
    "missing column": _missing_column,
    "quoted cells, spaces, plus sign": _quoted_cells_and_spaces,
}


@pytest.mark.parametrize("engine", FAST_ENGINES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_valid_feed_matches_pandas(engine: str, seed: int, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", seed=seed)
    expected = get_engine("pandas").check_feed_folder(folder)
    assert expected.passed and len(expected.deduplicated) == 300
    assert_same_feed_check(get_engine(engine).check_feed_folder(folder), expected)


@pytest.mark.parametrize("engine", FAST_ENGINES)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_planted_fault_matches_pandas(engine: str, fault: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    FAULTS[fault](folder)
    run_both(engine, folder)


@pytest.mark.parametrize("fault", ["bad cell", "batch overlap", "spend decrease", "tie", "repeated user"])
def test_planted_faults_are_found(fault: str, tmp_path: Path) -> None:
    """Guard for the differential tests: each planted fault really fails the reference."""
    folder = write_generated_feed(tmp_path / "feed")
    FAULTS[fault](folder)
    try:
        result = get_engine("pandas").check_feed_folder(folder)
    except ChecksError:
        assert fault == "tie"
        return
    assert not result.passed


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_progress_callback_sees_every_file_in_order(engine: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=50)
    seen: list[str] = []
    get_engine(engine).check_feed_folder(folder, on_file=lambda delta_file: seen.append(delta_file.name))
    assert seen == [f"delta{number}.csv" for number in range(5)]


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_read_table_matches_pandas(engine: str, sample_case, tmp_path: Path) -> None:
    read_table_matches_pandas(engine, sample_case, tmp_path)


def read_table_matches_pandas(engine: str, sample_case, tmp_path: Path) -> None:
    """A good table reads as on pandas; a table with a bad cell fails with the pandas path's message."""
    path = tmp_path / "platform.csv"
    sample_case.platform.to_csv(path, index=False)
    assert_same_rows(pandas_table(get_engine(engine).read_table(path)), get_engine("pandas").read_table(path))
    text = path.read_text().split("\n")
    text[5] = text[5].replace(",", ",x", 1)
    path.write_text("\n".join(text))
    with pytest.raises(ChecksError) as reference:
        get_engine("pandas").read_table(path)
    with pytest.raises(type(reference.value), match="non-integer") as raised:
        get_engine(engine).read_table(path)
    assert str(raised.value) == str(reference.value)


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_check_feed_on_deltas_matches_pandas(engine: str) -> None:
    from checks.crossfeed import check_feed

    feed = feed_with_cell(200, delta=2, column="batch_id", value=3)
    expected = check_feed(feed)
    assert not expected.empty
    pd.testing.assert_frame_equal(get_engine(engine).check_feed(feed), expected)


def test_unknown_engine_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown engine 'dask'"):
        get_engine("dask")
    assert set(ENGINES) >= {"pandas", "polars", "spark"}


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_real_case_matches_pandas(engine: str, johnnys_jeans: Path) -> None:
    run_both(engine, johnnys_jeans)


def test_shared_case_required_in_ci() -> None:
    """The real case is part of the differential test in CI, never silently skipped."""
    if os.environ.get("CI"):
        from tests.conftest import SHARED_CASE

        assert (SHARED_CASE / "delta0.csv").is_file()


def _cell_faults(folder: Path) -> None:
    for fault in ("bad cell", "negative value", "repeated user", "empty cell"):
        FAULTS[fault](folder)


def _feed_faults(folder: Path) -> None:
    for fault in ("batch overlap", "spend decrease", "repeated pair, not the latest", "BOM and upper-case header"):
        FAULTS[fault](folder)


SPARK_CASES: dict[str, Callable[[Path], None]] = {
    "cell faults": _cell_faults,
    "feed faults": _feed_faults,
    "tie": _tie,
    "too many fields": _too_many_fields,
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SPARK_CASES))
def test_spark_matches_pandas(spark_engine, case: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=120)
    SPARK_CASES[case](folder)
    run_both("spark", folder)


@pytest.mark.slow
def test_spark_check_feed_on_deltas_matches_pandas(spark_engine) -> None:
    from checks.crossfeed import check_feed

    feed = feed_with_cell(150, delta=3, column="total_spend", value=0)
    expected = check_feed(feed)
    assert not expected.empty
    pd.testing.assert_frame_equal(spark_engine.check_feed(feed), expected)


@pytest.mark.slow
def test_spark_matches_pandas_on_real_case(spark_engine, johnnys_jeans: Path) -> None:
    run_both("spark", johnnys_jeans)


@pytest.mark.slow
def test_spark_read_table_matches_pandas(spark_engine, sample_case, tmp_path: Path) -> None:
    read_table_matches_pandas("spark", sample_case, tmp_path)


def _spark_cells(spark_engine, path: Path):
    """A delta's cells as the Spark engine reads them: as text, and as bigint."""
    from checks.encoding import default_encoding
    from checks.engines import _frames, spark_cells

    text, _ = spark_engine._read_text(path, _frames.read_header(path), spark_engine._Form.of(None))
    cells = spark_cells.read(text, default_encoding(), COLUMNS)
    return spark_cells.texts(cells, COLUMNS), spark_cells.parsed(cells, COLUMNS)


@pytest.mark.slow
def test_pandera_pyspark_fails_exactly_the_planted_checks(spark_engine, broken_delta_text, tmp_path: Path) -> None:
    from checks.engines.spark_schemas import pandera_failures
    from checks.model import DeltaFile
    from tests.conftest import BROKEN_DELTA_CELLS, BROKEN_DELTA_FAILURES, write_csv

    path = write_csv(tmp_path / "delta0.csv", broken_delta_text)
    planted = {(column, check) for _, column, check, _ in BROKEN_DELTA_CELLS}
    assert pandera_failures(*_spark_cells(spark_engine, path)) == planted
    # The engine asks Pandera too, and its rows are the planted ones.
    validation = spark_engine.read_and_validate(DeltaFile(path, 0))
    assert len(validation.failures) == BROKEN_DELTA_FAILURES
    failures = pandas_failures(validation.failures)
    assert set(zip(failures["column"], failures["check"])) == planted


@pytest.mark.slow
@pytest.mark.parametrize("disagreement", ["SQL misses a check", "SQL fails a check Pandera passes"])
def test_pandera_and_sql_disagreeing_is_an_error(spark_engine, broken_delta_text, tmp_path: Path, disagreement: str) -> None:
    from checks.engines.spark_schemas import EngineDisagreementError, confirm
    from tests.conftest import BROKEN_DELTA_CELLS, write_csv

    path = write_csv(tmp_path / "delta0.csv", broken_delta_text)
    rows = [{"row": line, "column": column, "check": check, "value": value} for line, column, check, value in BROKEN_DELTA_CELLS]
    if disagreement == "SQL misses a check":
        rows = [row for row in rows if row["check"] != "greater_than(0)"]
        message = "only Pandera fails user_id greater_than\\(0\\); only the SQL fails nothing"
    else:
        rows.append({"row": 2, "column": "count_saved_items", "check": "greater_than_or_equal_to(0)", "value": "1"})
        message = "only Pandera fails nothing; only the SQL fails count_saved_items greater_than_or_equal_to\\(0\\)"
    with pytest.raises(EngineDisagreementError, match=message):
        confirm("delta0.csv", *_spark_cells(spark_engine, path), pd.DataFrame(rows))


@pytest.mark.slow
def test_a_check_pandera_cannot_run_is_an_error_not_a_pass(spark_engine, tmp_path: Path) -> None:
    from checks.engines.spark_schemas import EngineDisagreementError, pandera_failures
    from tests.conftest import write_csv

    path = write_csv(tmp_path / "delta0.csv", ",".join(COLUMNS) + "\n1,2,3,4,5\n")
    text, _ = _spark_cells(spark_engine, path)
    # Text where Pandera's value model expects bigint: its range checks cannot run on it.
    with pytest.raises(EngineDisagreementError, match="could not run greater_than"):
        pandera_failures(text, text)


@pytest.mark.parametrize(
    ("path", "is_s3a", "uri"),
    [
        ("s3a://bucket/feeds/johnny", True, "s3a://bucket/feeds/johnny"),
        (Path("s3a://bucket/feeds/johnny"), True, "s3a://bucket/feeds/johnny"),  # Path folds the double slash
        ("s3://bucket/feeds", False, None),
        (Path("/data/feed"), False, None),
    ],
)
def test_s3a_paths_are_recognised_in_either_spelling(path, is_s3a: bool, uri: str | None) -> None:
    from checks.engines import spark_s3a
    from checks.feed import location

    assert spark_s3a.is_s3a(path) is is_s3a
    if is_s3a:
        assert location(path) == uri


@pytest.mark.slow
@pytest.mark.parametrize("call", ["check_feed_folder", "discover_deltas", "read_table"])
def test_s3a_without_the_connector_is_one_clear_usage_error(spark_engine, monkeypatch, call: str) -> None:
    from checks.engines.spark_s3a import MissingConnectorError, has_connector

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret")
    assert not has_connector(spark_engine.session())  # pyspark ships no hadoop-aws
    with pytest.raises(MissingConnectorError, match=r"s3a://bucket/feed: .*scripts/dev setup.*CHECKS_SPARK_JARS") as raised:
        getattr(spark_engine, call)(Path("s3a://bucket/feed"))
    assert raised.value.exit_code == 2
    assert "\n" not in str(raised.value) and "planted-secret" not in str(raised.value)


# ``checks run`` in a process of its own, noting at its exit which of these modules it imported. A file, not
# ``-c`` (PySpark exits a process whose main module has no file), run with this project first on the path;
# guarded, as the helper process imports it again.
_DRIVER = """
import atexit, json, sys
if __name__ == "__main__":
    watched = set(sys.argv[1].split(","))
    atexit.register(lambda: print(json.dumps(sorted(watched & set(sys.modules)))))
    sys.argv = ["checks", *sys.argv[2:]]
    from checks.cli import entrypoint
    entrypoint()
"""
_NEVER_IN_THE_DRIVER = ("great_expectations", "matplotlib")


@pytest.mark.slow
def test_spark_run_writes_what_the_default_engine_writes(spark_engine, tmp_path: Path) -> None:
    """`checks run` end to end on the sample: the same verdicts, suites, diagnosis and files from either engine,
    and the Spark run's own process never imports GX or matplotlib (the helper process validates and draws)."""
    import json
    import subprocess
    import sys

    from checks.config import load_case
    from checks.runner import run_case

    root = Path(__file__).resolve().parent.parent
    run_case(load_case(root / "data" / "case.toml"), out_dir=tmp_path / "polars" / "out", gx_dir=tmp_path / "polars" / "gx",
             engine=get_engine("polars"))
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    driver = subprocess.run(
        [sys.executable, str(script), ",".join(_NEVER_IN_THE_DRIVER), "run", "--engine", "spark",
         "--case", str(root / "data" / "case.toml"), "--out", str(tmp_path / "spark" / "out"),
         "--gx-dir", str(tmp_path / "spark" / "gx")],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=1200,
    )
    assert driver.returncode == 1, driver.stderr  # the sample's platform table is wrong
    assert json.loads(driver.stdout.splitlines()[-1]) == []
    summaries = {name: json.loads((tmp_path / name / "out" / "summary.json").read_text()) for name in ("polars", "spark")}
    for summary in summaries.values():
        for varying in ("timings_seconds", "cpu_seconds", "helper_process", "peak_memory_mb_after", "outputs"):
            del summary[varying]
        del summary["suites"]["run_time"], summary["suites"]["docs_index"]
    assert summaries["spark"] == summaries["polars"]
    assert not summaries["polars"]["passed"]
    for written in ("deduplicated.csv", "failures.csv", "discrepancies.csv", "incident.md", "email-customer.md"):
        assert (tmp_path / "spark" / "out" / written).read_bytes() == (tmp_path / "polars" / "out" / written).read_bytes(), written
    pd.testing.assert_frame_equal(*(pd.read_parquet(tmp_path / name / "out" / "deduplicated.parquet") for name in ("spark", "polars")))


@pytest.mark.slow
def test_spark_feed_check_keeps_the_deduplicated_table_in_spark(spark_engine, tmp_path: Path) -> None:
    """The count, the total, each key's latest version and the output files come from Spark: the deduplicated table
    stays there (its pandas frame is collected only when asked for), and the files are the default engine's."""
    from checks.engines.spark_deltas import SparkTable
    from checks.engines.spark_suites import latest_versions as spark_latest_versions

    folder = write_generated_feed(tmp_path / "feed", users=200)
    FAULTS["spend decrease"](folder)
    reference = get_engine("pandas").check_feed_folder(folder)
    feed = spark_engine.check_feed_folder(folder)
    held = feed.deduplicated_rows
    assert isinstance(held, SparkTable) and not reference.failures.empty
    written = feed.write_outputs(tmp_path / "spark").wait()
    expected = reference.write_outputs(tmp_path / "pandas").wait()
    assert (feed.user_count, feed.amount_total()) == (reference.user_count, reference.amount_total())
    shape = reference.encoding.contract.shape
    pd.testing.assert_series_equal(
        spark_latest_versions(feed.latest_versions(), key=shape.key, version=shape.version), reference.latest_versions(), check_names=False
    )
    assert held._frame is None
    for name in ("deduplicated_csv", "failures_csv"):
        assert written[name].read_bytes() == expected[name].read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(written["deduplicated_parquet"]), pd.read_parquet(expected["deduplicated_parquet"]))
    assert sorted(path.name for path in (tmp_path / "spark").iterdir()) == ["deduplicated.csv", "deduplicated.parquet", "failures.csv"]
    assert_same_rows(feed.deduplicated, reference.deduplicated)  # collected when asked for


@pytest.mark.slow
def test_spark_reads_a_feed_at_a_uri_as_at_a_local_path(spark_engine, tmp_path: Path) -> None:
    """A ``file://`` feed goes through Hadoop's FileSystem API, as an ``s3a://`` one would; a file only the
    pandas path reads (no rows) is copied out, and still gives the pandas path's answer."""
    folder = write_generated_feed(tmp_path / "feed", users=120)
    for fault in ("bad cell", "spend decrease", "BOM and upper-case header", "no rows"):
        FAULTS[fault](folder)
    expected = get_engine("pandas").check_feed_folder(folder)
    assert not expected.passed
    assert_same_feed_check(spark_engine.check_feed_folder(folder.as_uri()), expected)
    broken = write_generated_feed(tmp_path / "broken", users=120)
    FAULTS["missing column"](broken)
    with pytest.raises(ChecksError) as reference:
        get_engine("pandas").check_feed_folder(broken)
    with pytest.raises(ChecksError) as raised:
        spark_engine.check_feed_folder(broken.as_uri())
    assert str(raised.value) == str(reference.value).replace(str(broken), broken.as_uri())  # the URI, not a copy


@pytest.mark.slow
def test_spark_reads_a_table_at_a_uri_and_names_the_uri_in_errors(spark_engine, sample_case, tmp_path: Path) -> None:
    path = tmp_path / "platform.csv"
    sample_case.platform.to_csv(path, index=False)
    assert_same_rows(pandas_table(spark_engine.read_table(path.as_uri())), get_engine("pandas").read_table(path))
    broken = tmp_path / "broken.csv"
    broken.write_text(path.read_text().replace("\n", "\nx,", 1))  # a row of six fields: the pandas path's message
    with pytest.raises(ChecksError, match="more fields than the header") as raised:
        spark_engine.read_table(broken.as_uri())
    assert str(raised.value).startswith(f"{broken.as_uri()}, row 2: ")
    with pytest.raises(ChecksError, match="file not found") as raised:
        spark_engine.read_table((tmp_path / "absent.csv").as_uri())
    assert raised.value.exit_code == 2
    with pytest.raises(ChecksError, match="feed folder not found"):
        spark_engine.discover_deltas((tmp_path / "nowhere").as_uri())


@pytest.mark.parametrize(
    ("given", "read_as"),
    [
        (Path("s3a://bucket/feed"), "s3a://bucket/feed"),
        (Path("hdfs://namenode:8020/feed"), "hdfs://namenode:8020/feed"),
        (Path("file:///srv/feed"), "file:///srv/feed"),
        ("file:///srv/feed", "file:///srv/feed"),
        (Path("/srv/feed"), "/srv/feed"),
    ],
)
def test_a_folded_uri_is_unfolded_for_hadoop(given, read_as: str) -> None:
    from checks.feed import location

    assert location(given) == read_as


@pytest.mark.slow
def test_checks_diagnose_on_spark_prints_the_default_engine_s_diagnosis(spark_engine, sample_case, tmp_path: Path, capsys) -> None:
    from checks.cli import main
    from checks.sample import write_case

    write_case(sample_case, tmp_path)
    printed = {}
    for engine in ("polars", "spark"):
        code = main([
            "diagnose", "--engine", engine, "--json", "--feed", str(tmp_path / "feed"),
            "--platform", str(tmp_path / "platform-user-summary.csv"), "--customer", str(tmp_path / "customer-user-summary.csv"),
        ])
        printed[engine] = (code, capsys.readouterr().out)
    assert printed["spark"] == printed["polars"]
    assert printed["polars"][0] == 1 and sample_case.skipped_file in printed["polars"][1]


# --- The second shape: a string key, a timestamp version, a decimal amount (``tests.test_contract_shapes``) ---------


def _accounts_encoding() -> Encoding:
    from checks.contract import load_contract
    from checks.sample_accounts import CONTRACT_PATH

    return Encoding.of(load_contract(CONTRACT_PATH))


def _write_accounts(files: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in files.items():
        frame.to_csv(folder / name, index=False)
    return folder


def _accounts_with_cell(cells: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The accounts feed with ``cells`` written into the fourth row of its third file."""
    from tests.test_contract_shapes import CASE, NAMES

    files = dict(CASE.files)
    broken = files[NAMES[2]].copy()
    for column, value in cells.items():
        broken.loc[3, column] = value
    files[NAMES[2]] = broken
    return files


def _accounts_tie() -> dict[str, pd.DataFrame]:
    """The last file's first row again in the file before it: a repeated (key, version) pair that is a key's latest."""
    from tests.test_contract_shapes import CASE, NAMES

    files = dict(CASE.files)
    files[NAMES[3]] = pd.concat([files[NAMES[3]], files[NAMES[4]].iloc[[0]]], ignore_index=True)
    return files


def _accounts_faults() -> dict[str, dict[str, pd.DataFrame]]:
    """Every fault kind of the second shape: each cell that breaks a rule, each fault across the files, a tie."""
    from tests.test_contract_shapes import BAD_CELLS, FEED_FAULTS

    faults = {f"{column} {check} {value!r}": _accounts_with_cell(cells) for cells, column, check, value in BAD_CELLS}
    faults |= {name: files for name, (files, _, _) in FEED_FAULTS.items()}
    faults["tie on a latest version"] = _accounts_tie()
    return faults


ACCOUNTS_FAULTS = _accounts_faults()
CONTRACT_ENGINES = ("polars", "duckdb")  # Spark's cases are few: ``test_spark_matches_pandas_on_another_shape``


@pytest.mark.parametrize("engine", CONTRACT_ENGINES)
@pytest.mark.parametrize("fault", list(ACCOUNTS_FAULTS))
def test_planted_fault_of_another_shape_matches_pandas(engine: str, fault: str, tmp_path: Path) -> None:
    folder = _write_accounts(ACCOUNTS_FAULTS[fault], tmp_path / "feed")
    expected = run_both(engine, folder, _accounts_encoding())
    assert expected is None or not expected.passed  # the planted fault fails the reference


@pytest.mark.parametrize("engine", CONTRACT_ENGINES)
def test_check_feed_of_another_shape_on_deltas_matches_pandas(engine: str, tmp_path: Path) -> None:
    from checks.crossfeed import check_feed
    from tests.test_contract_shapes import FEED_FAULTS

    encoding = _accounts_encoding()
    feed = get_engine("pandas").check_feed_folder(_write_accounts(FEED_FAULTS["amount falls"][0], tmp_path), encoding=encoding)
    expected = check_feed(feed.deltas, encoding)
    assert "lifetime_value_never_decreases" in set(expected["check"])
    pd.testing.assert_frame_equal(get_engine(engine).check_feed(feed.deltas, encoding=encoding), expected)


@pytest.mark.parametrize("engine", ("pandas", *CONTRACT_ENGINES))
def test_passed_deltas_of_another_shape_are_marked_as_holding_each_key_once(engine: str, tmp_path: Path) -> None:
    # Every contract's key is unique: a delta that passed proved it, and the diagnosis does not look again.
    from tests.test_contract_shapes import CASE

    feed = get_engine(engine).check_feed_folder(_write_accounts(dict(CASE.files), tmp_path), encoding=_accounts_encoding())
    assert len(feed.deltas) == len(CASE.files) and all(delta.unique_keys for delta in feed.deltas)


def test_duckdb_writes_the_table_of_another_shape_as_the_files_wrote_it(tmp_path: Path) -> None:
    """Out of core, a table of strings, decimals and timestamps is written as ``checks dedup`` writes it on pandas."""
    from checks.cli import main
    from tests.test_contract_shapes import CASE

    from checks.sample_accounts import CONTRACT_PATH

    feed = _write_accounts(CASE.files, tmp_path / "feed")
    codes = {
        engine: main(["dedup", "--feed", str(feed), "--out", str(tmp_path / engine), "--engine", engine,
                      "--contract", str(CONTRACT_PATH), "--json", *(["--memory-limit", "200MB"] if engine == "duckdb" else [])])
        for engine in ("pandas", "duckdb")
    }
    assert codes == {"pandas": 0, "duckdb": 0}
    written = (tmp_path / "duckdb" / "deduplicated.csv").read_bytes()
    assert written == (tmp_path / "pandas" / "deduplicated.csv").read_bytes()
    assert b"AC-" in written and b"Z," in written
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "duckdb" / "deduplicated.parquet"), pd.read_parquet(tmp_path / "pandas" / "deduplicated.parquet")
    )


@pytest.mark.parametrize("engine", ["duckdb"])
@pytest.mark.parametrize("fault", ["file never loaded", "amount changed"])
def test_the_diagnosis_of_another_shape_is_the_reference_s(engine: str, fault: str, tmp_path: Path, capsys) -> None:
    from checks.cli import main
    from checks.sample_accounts import CONTRACT_PATH
    from tests.test_contract_shapes import CASE, PLATFORM_FAULTS

    feed = _write_accounts(CASE.files, tmp_path / "feed")
    PLATFORM_FAULTS[fault][0].to_csv(tmp_path / "platform.csv", index=False)
    printed = {}
    for name in ("pandas", engine):
        code = main(["diagnose", "--feed", str(feed), "--platform", str(tmp_path / "platform.csv"),
                     "--contract", str(CONTRACT_PATH), "--engine", name, "--json"])
        printed[name] = (code, capsys.readouterr().out)
    assert printed[engine] == printed["pandas"]
    assert printed["pandas"][0] == 1 and PLATFORM_FAULTS[fault][1] in printed["pandas"][1]


def assert_runs_write_the_same(case, engine: str, tmp_path: Path) -> dict:
    """`checks run` of ``case`` on the default engine and on ``engine``: the same summary (times and paths aside) and
    the same files, byte for byte; the default engine's summary."""
    from checks.runner import run_case

    results = {
        name: run_case(case, out_dir=tmp_path / name / "out", gx_dir=tmp_path / name / "gx", build_docs=False,
                       engine=get_engine(name))
        for name in ("polars", engine)
    }
    summaries = {name: result.to_dict() for name, result in results.items()}
    for summary in summaries.values():
        for varying in ("timings_seconds", "cpu_seconds", "helper_process", "peak_memory_mb_after", "outputs"):
            del summary[varying]
        del summary["suites"]["run_time"]
    assert summaries[engine] == summaries["polars"]
    for written in ("deduplicated.csv", "failures.csv", "discrepancies.csv", "incident.md", "email-engineer.md"):
        assert (tmp_path / engine / "out" / written).read_bytes() == (tmp_path / "polars" / "out" / written).read_bytes(), written
    return summaries["polars"]


def test_duckdb_run_on_the_sample_of_another_shape_writes_what_the_default_engine_writes(tmp_path: Path) -> None:
    """`checks run` end to end on the second sample (a file never loaded): the same summary and files from either engine."""
    from checks.config import load_case

    case = load_case(Path(__file__).resolve().parent.parent / "data" / "accounts" / "case.toml")
    summary = assert_runs_write_the_same(case, "duckdb", tmp_path)
    assert summary["diagnosis"]["root_causes"][0]["kind"] == "file_not_ingested"


def _accounts_spark_faults() -> dict[str, dict[str, pd.DataFrame]]:
    """Few and combined, for Spark's slow jobs: bad cells in one file beside faults across the others; a tie."""
    from tests.test_contract_shapes import FEED_FAULTS, NAMES

    combined = dict(FEED_FAULTS["amount falls"][0])  # NAMES[3]
    combined[NAMES[2]] = FEED_FAULTS["version back in time"][0][NAMES[2]]
    broken = combined[NAMES[1]].copy()
    broken.loc[3, ["plan", "lifetime_value", "exported_at"]] = ["gold", "1.234", ""]
    combined[NAMES[1]] = broken
    return {"cells and feed faults": combined, "tie on a latest version": _accounts_tie()}


@pytest.mark.slow
@pytest.mark.parametrize("case", ["cells and feed faults", "tie on a latest version"])
def test_spark_matches_pandas_on_another_shape(spark_engine, case: str, tmp_path: Path) -> None:
    folder = _write_accounts(_accounts_spark_faults()[case], tmp_path / "feed")
    expected = run_both("spark", folder, _accounts_encoding())
    assert expected is None or not expected.passed


@pytest.mark.slow
def test_spark_diagnoses_another_shape_as_the_reference(spark_engine, tmp_path: Path, capsys) -> None:
    """A table with a file never loaded (the fault search on the driver), one that matches (all in Spark SQL), one
    whose keys a load lower-cased (the driver's, which sets such keys aside before its simulations) and one with both
    (the driver's, which moves the rows back under the keys as sent and searches again), and one whose file lost its
    basic accounts' rows on the way in (the driver's: accounts left on an older row)."""
    from checks.cli import main
    from checks.sample_accounts import CONTRACT_PATH
    from tests.test_contract_shapes import CASE, PLATFORM_FAULTS

    feed = _write_accounts(CASE.files, tmp_path / "feed")
    never_loaded = PLATFORM_FAULTS["file never loaded"][0]
    tables = {
        "file never loaded": never_loaded, "matches": CASE.customer,
        "keys lower-cased": CASE.customer.assign(account_id=CASE.customer["account_id"].str.lower()),
        "both": never_loaded.assign(account_id=never_loaded["account_id"].str.lower()),
        "rows filtered": pd.concat(
            frame[frame["plan"] != "basic"] if number == 1 else frame for number, frame in enumerate(CASE.files.values())
        ).sort_values("exported_at", kind="stable").drop_duplicates("account_id", keep="last"),
    }
    printed = {}
    for case, table in tables.items():
        table.to_csv(tmp_path / "platform.csv", index=False)
        for name in ("pandas", "spark"):
            code = main(["diagnose", "--feed", str(feed), "--platform", str(tmp_path / "platform.csv"),
                         "--contract", str(CONTRACT_PATH), "--engine", name, "--json"])
            printed[case, name] = (code, capsys.readouterr().out)
        assert printed[case, "spark"] == printed[case, "pandas"], case
    assert '"rewrite": "lowercase"' in printed["keys lower-cased", "pandas"][1]
    assert printed["file never loaded", "pandas"][0] == 1 and "file_not_ingested" in printed["file never loaded", "pandas"][1]
    assert printed["matches", "pandas"][0] == 0
    both = [cause["kind"] for cause in json.loads(printed["both", "pandas"][1])["root_causes"]]
    assert sorted(both) == ["file_not_ingested", "value_drift"]
    assert '"kind": "file_partially_ingested"' in printed["rows filtered", "pandas"][1]


@pytest.mark.slow
def test_spark_run_on_a_feed_without_an_amount_writes_what_the_default_engine_writes(spark_engine, tmp_path: Path, monkeypatch) -> None:
    """Keys only, no dollars: Spark's facts count the keys that differ by file for the charts, as the default engine."""
    from checks.cli import main
    from checks.config import load_case
    from checks.contract_suite import suite_path
    from checks.runner import run_case
    from tests.test_contract_shapes import MEMBERS_CONTRACT, _latest_by_member, _members_files, _write

    (tmp_path / "contract.yaml").write_text(MEMBERS_CONTRACT)
    assert main(["contract", "suite", str(tmp_path / "contract.yaml"), "--out", str(tmp_path / "expectations")]) == 0
    monkeypatch.setattr("checks.suites.run.contract_suite_path", lambda contract: suite_path(contract, tmp_path / "expectations"))
    files = _members_files()
    last = list(files)[-1]
    _latest_by_member([*list(files.values())[:-1], files[last].iloc[:-5]]).to_csv(tmp_path / "platform.csv", index=False)
    _write(files, tmp_path / "feed")
    (tmp_path / "case.toml").write_text('contract = "contract.yaml"\nfeed = "feed"\nplatform = "platform.csv"\n')
    case = load_case(tmp_path / "case.toml")
    for name in ("polars", "spark"):
        run_case(case, out_dir=tmp_path / name / "out", gx_dir=tmp_path / name / "gx", build_docs=False, engine=get_engine(name))
    for written in ("deduplicated.csv", "discrepancies.csv", "incident.md", "email-engineer.md", "email-customer.md",
                    "gap-by-root-cause.svg", "gap-by-file.svg"):
        assert (tmp_path / "spark" / "out" / written).read_bytes() == (tmp_path / "polars" / "out" / written).read_bytes(), written
    assert "$" not in (tmp_path / "spark" / "out" / "incident.md").read_text()
