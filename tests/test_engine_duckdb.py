"""Differential tests: the DuckDB engine gives the Polars engine's answers, in memory and written out of core.

The feeds are ``tests.test_engines``' seeded feeds with its planted faults (``FAULTS``: bad cells,
negative values, repeated users, batch overlap, falling spend, a tie, repeated pairs and the reading
quirks), plus a feed whose delta2 is ``broken_delta_text`` (``BROKEN_DELTA_CELLS``). Out of core,
the written Parquet and CSV must equal what ``checks.writers`` writes for the Polars engine's table.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from checks.engines import get_engine
from checks.errors import ChecksError, DeduplicationError, UsageError
from checks.feed import discover_deltas
from checks.sample import COLUMNS
from checks.sample import generate_feed
from checks.results import write_deduplicated
from tests.conftest import BROKEN_DELTA_CELLS, BROKEN_DELTA_FAILURES
from tests.test_engines import FAULTS, assert_same_feed_check, write_generated_feed

duckdb_engine = get_engine("duckdb")
polars_engine = get_engine("polars")


def run_both(folder: Path, **options) -> pd.DataFrame | None:
    """Polars and DuckDB on ``folder``: the same FeedCheck or the same error; the reference's table (None on error)."""
    try:
        expected = polars_engine.check_feed_folder(folder)
    except ChecksError as reference_error:
        with pytest.raises(type(reference_error)) as raised:
            duckdb_engine.check_feed_folder(folder, **options)
        assert str(raised.value) == str(reference_error)
        return None
    assert_same_feed_check(duckdb_engine.check_feed_folder(folder, **options), expected)
    return expected.deduplicated


def write_both(folder: Path, out: Path) -> None:
    """The out-of-core path writes what the CLI writes for Polars, and reports the same verdicts and failures."""
    try:
        expected = polars_engine.check_feed_folder(folder)
    except ChecksError as reference_error:
        outputs = [out / "duckdb.csv", out / "duckdb.parquet"]
        with pytest.raises(type(reference_error)) as raised:
            duckdb_engine.deduplicate_feed_folder(folder, outputs)
        assert str(raised.value) == str(reference_error)
        assert not any(path.exists() for path in outputs)
        return
    written = duckdb_engine.deduplicate_feed_folder(folder, [out / "duckdb.parquet", out / "duckdb.csv"])
    assert (written.passed, written.quarantined) == (expected.passed, expected.quarantined)
    assert [v.summary() for v in written.validations] == [v.summary() for v in expected.validations]
    pd.testing.assert_frame_equal(written.failures, expected.failures)
    assert (written.users, written.amount_total) == (len(expected.deduplicated), int(expected.deduplicated["total_spend"].sum()))
    write_deduplicated(out / "polars.csv", expected.deduplicated)
    write_deduplicated(out / "polars.parquet", expected.deduplicated)
    assert (out / "duckdb.csv").read_bytes() == (out / "polars.csv").read_bytes()
    # pandas writes an empty object column without a type, so only a non-empty table compares dtypes.
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "duckdb.parquet"), pd.read_parquet(out / "polars.parquet"),
        check_dtype=not expected.deduplicated.empty,
    )
    assert sorted(path.name for path in out.iterdir()) == ["duckdb.csv", "duckdb.parquet", "polars.csv", "polars.parquet"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_valid_feed_matches_polars(seed: int, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", seed=seed)
    deduplicated = run_both(folder)
    assert len(deduplicated) == 300
    write_both(folder, tmp_path / "out")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_planted_fault_matches_polars(fault: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    FAULTS[fault](folder)
    run_both(folder)
    write_both(folder, tmp_path / "out")


def test_broken_delta_fails_on_every_planted_cell(broken_delta_text: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    (folder / "delta2.csv").write_text(broken_delta_text)
    run_both(folder)
    result = duckdb_engine.deduplicate_feed_folder(folder, [tmp_path / "out" / "deduplicated.parquet"])
    assert result.quarantined == ("delta2.csv",)
    broken = result.validations[2].failures
    assert len(broken) == BROKEN_DELTA_FAILURES
    found = list(broken[["row", "column", "check", "value"]].itertuples(index=False, name=None))
    assert found == [(line, column, check, value) for line, column, check, value in BROKEN_DELTA_CELLS]


def test_tie_writes_nothing(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed")
    FAULTS["tie"](folder)
    out = tmp_path / "out"
    with pytest.raises(DeduplicationError, match="latest row is ambiguous"):
        duckdb_engine.deduplicate_feed_folder(folder, [out / "deduplicated.parquet", out / "deduplicated.csv"])
    assert not out.exists() or not any(out.iterdir())


def test_small_memory_limit_matches_polars(tmp_path: Path) -> None:
    """A memory limit that makes DuckDB spill to disk: the answers do not change.

    Measured on this feed (2 threads): without a spill folder the run needs more than 80MB; with one it
    failed now and then at 48-56MB (the deduplicating COPY holds some memory it cannot spill) and never in
    16 runs at 64 or 72MB. 24MB on a 60,000-user feed sat on that edge: it failed 1 run in 5 here, and a CI run.
    """
    folder = write_generated_feed(tmp_path / "feed", users=200_000, seed=4)
    FAULTS["spend decrease"](folder)
    FAULTS["batch overlap"](folder)
    run_both(folder, memory_limit="72MB")


def test_every_file_quarantined_writes_an_empty_table(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=30)
    for delta_file in discover_deltas(folder):
        edit_cell_text = delta_file.path.read_text().replace("\n1", "\nx", 1)
        delta_file.path.write_text(edit_cell_text)
    run_both(folder)
    write_both(folder, tmp_path / "out")
    assert pd.read_parquet(tmp_path / "out" / "duckdb.parquet").empty


def test_check_feed_on_deltas_matches_polars() -> None:
    feed = generate_feed(200, 4, seed=9)
    broken = feed[2].frame.copy()
    broken.iloc[0, COLUMNS.index("batch_id")] = 3
    broken.iloc[1, COLUMNS.index("total_spend")] = 0
    feed[2] = type(feed[2])(name=feed[2].name, number=2, frame=broken)
    expected = polars_engine.check_feed(feed)
    assert set(expected["check"]) == {"batch_monotonic", "spend_never_decreases"}
    pd.testing.assert_frame_equal(duckdb_engine.check_feed(feed), expected)


def test_check_validations_matches_polars(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", seed=6)
    FAULTS["repeated pair, not the latest"](folder)
    validations = [polars_engine.read_and_validate(delta_file) for delta_file in discover_deltas(folder)]
    expected = polars_engine.check_validations(validations)
    assert not expected.feed_failures.empty
    assert_same_feed_check(duckdb_engine.check_validations(validations), expected)


def test_progress_callback_sees_every_file_in_order(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=50)
    seen: list[str] = []
    duckdb_engine.deduplicate_feed_folder(folder, [tmp_path / "d.csv"], on_file=lambda delta_file: seen.append(delta_file.name))
    assert seen == [f"delta{number}.csv" for number in range(5)]


def test_real_case_matches_polars(johnnys_jeans: Path, tmp_path: Path) -> None:
    run_both(johnnys_jeans)
    write_both(johnnys_jeans, tmp_path / "out")


@pytest.mark.parametrize(
    ("outputs", "options", "message"),
    [
        (["deduplicated.json"], {}, "written as .parquet or .csv"),
        (["deduplicated.csv"], {"memory_limit": "lots"}, "memory limit 'lots'"),
    ],
)
def test_bad_options_are_usage_errors(outputs: list[str], options: dict, message: str, tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=20)
    with pytest.raises(UsageError, match=message):
        duckdb_engine.deduplicate_feed_folder(folder, [tmp_path / name for name in outputs], **options)


def test_running_out_of_memory_is_one_line(tmp_path: Path) -> None:
    folder = write_generated_feed(tmp_path / "feed", users=200)
    with pytest.raises(duckdb_engine.OutOfMemoryError, match="ran out of memory or disk within memory_limit 100KB") as raised:
        duckdb_engine.deduplicate_feed_folder(folder, [tmp_path / "out" / "deduplicated.csv"], memory_limit="100KB")
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "out" / "deduplicated.csv").exists()
