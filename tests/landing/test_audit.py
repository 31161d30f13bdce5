"""The completeness audit over a real S3 API: never ingested, failed, numbering and batch-range gaps, freshness."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.errors import UsageError
from checks.landing.anomalies import LATE_DELTA
from checks.landing.audit import (
    BATCH_GAP,
    BATCH_OVERLAP,
    EMPTY_SOURCE,
    FAILED,
    NEVER_INGESTED,
    NUMBERING_GAP,
    VANISHED,
    audit,
    parse_cadence,
)
from checks.landing.ingest import ingest
from checks.landing.ledger import Ledger
from checks.landing.source import source
from tests.landing.conftest import delta_csv, small_feed


def _kinds(report) -> list[tuple[str, str]]:
    return [(finding.kind, finding.key) for finding in report.findings]


def _ingest(bucket, tmp_path: Path, **options) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ingest(source(bucket.url), tmp_path / "stage", ledger, **options)
    return ledger


def test_complete_feed_passes(bucket, tmp_path: Path) -> None:
    for number, data in enumerate(small_feed()):
        bucket.put(f"delta{number}.csv", data)
    ledger = _ingest(bucket, tmp_path)

    report = audit(source(bucket.url), ledger)

    assert report.passed and report.staged == ("delta0.csv", "delta1.csv", "delta2.csv")


def test_empty_bucket_is_a_finding(bucket, tmp_path: Path) -> None:
    report = audit(source(bucket.url), Ledger(tmp_path / "ledger.sqlite"))
    assert _kinds(report) == [(EMPTY_SOURCE, source(bucket.url).url)]


def test_skipped_object_is_named_with_the_numbering_and_batch_gaps(bucket, tmp_path: Path) -> None:
    feed = small_feed(deltas=4)
    for number in (0, 1, 3):
        bucket.put(f"delta{number}.csv", feed[number])
    ledger = _ingest(bucket, tmp_path)
    bucket.put("delta2.csv", feed[2])  # landed after the poller's run

    report = audit(source(bucket.url), ledger)

    assert _kinds(report) == [
        (NEVER_INGESTED, "delta2.csv"),
        (NUMBERING_GAP, "delta2"),
        (BATCH_GAP, "delta1.csv -> delta3.csv"),
    ]
    assert "the source has delta2.csv" in report.findings[1].message


def test_overlapping_batch_ranges(bucket, tmp_path: Path) -> None:
    bucket.put("delta0.csv", delta_csv([(1, 10, 1, 1, 100), (2, 10, 1, 1, 200)]))
    bucket.put("delta1.csv", delta_csv([(3, 20, 1, 1, 300), (4, 20, 1, 1, 400)]))
    ledger = _ingest(bucket, tmp_path)
    # Stage a delta whose range reaches back into delta1's, as a lenient loader would have.
    bucket.put("delta2.csv", delta_csv([(5, 30, 1, 1, 350), (6, 30, 1, 1, 500)]))
    ingest(source(bucket.url), tmp_path / "stage", ledger)

    report = audit(source(bucket.url), ledger, batch_gap=1000)

    assert (FAILED, "delta2.csv") not in _kinds(report)
    assert ("quarantined", "delta2.csv") in _kinds(report)
    (finding,) = [f for f in report.findings if f.key == "delta2.csv"]
    assert "batch_monotonic" in finding.message


def test_overlap_between_staged_deltas_is_reported(tmp_path: Path) -> None:
    # A folder source with a ledger that staged two overlapping deltas (e.g. by an older ingest).
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "delta0.csv").write_bytes(delta_csv([(1, 10, 1, 1, 100), (2, 10, 1, 1, 200)]))
    (drops / "delta1.csv").write_bytes(delta_csv([(3, 20, 1, 1, 150), (4, 20, 1, 1, 400)]))
    store = source(drops)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for info, (low, high) in zip(store.list_objects(), [(100, 200), (150, 400)]):
        record = ledger.see(store.url, info)
        ledger.record(record.id, "staged", staged_name=info.key, delta_number=int(info.key[5]), batch_min=low,
                      batch_max=high, batch_step=100)

    report = audit(store, ledger)

    assert _kinds(report) == [(BATCH_OVERLAP, "delta0.csv -> delta1.csv")]
    assert "starts at 150" in report.findings[0].message and "ends at 200" in report.findings[0].message


def test_failed_fetch_is_reported_until_retried(bucket, tmp_path: Path) -> None:
    bucket.put("delta0.csv", small_feed(deltas=1)[0])

    def delete_after_listing(listed):
        bucket.delete("delta0.csv")
        return listed

    ledger = _ingest(bucket, tmp_path, select=delete_after_listing)
    bucket.put("delta0.csv", small_feed(deltas=1)[0])

    report = audit(source(bucket.url), ledger)

    assert _kinds(report) == [(FAILED, "delta0.csv")]
    assert "deleted between listing and fetch" in report.findings[0].message


@pytest.mark.parametrize(("age", "stale"), [(timedelta(days=3), False), (timedelta(days=40), True)])
def test_freshness_against_the_cadence(bucket, tmp_path: Path, age: timedelta, stale: bool) -> None:
    bucket.put("delta0.csv", small_feed(deltas=1)[0])
    ledger = _ingest(bucket, tmp_path)
    (info,) = source(bucket.url).list_objects()

    report = audit(source(bucket.url), ledger, cadence=timedelta(days=35), now=info.last_modified + age)

    assert ((LATE_DELTA, "delta0.csv") in _kinds(report)) is stale


@pytest.mark.parametrize(
    ("text", "expected"),
    [("35d", timedelta(days=35)), ("4w", timedelta(weeks=4)), ("24h", timedelta(hours=24)),
     ("90M", timedelta(minutes=90)), ("off", None), ("auto", "auto")],
)
def test_parse_cadence(text: str, expected: timedelta | None) -> None:
    assert parse_cadence(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "3 days", "-1d", "1y"])
def test_bad_cadence_is_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="cadence must look like"):
        parse_cadence(text)


def test_audit_never_fetches(bucket, tmp_path: Path) -> None:
    bucket.put("delta0.csv", small_feed(deltas=1)[0])
    ledger = Ledger(tmp_path / "ledger.sqlite")

    report = audit(source(bucket.url), ledger)

    assert _kinds(report) == [(NEVER_INGESTED, "delta0.csv")]
    assert ledger.records() == [] and not (tmp_path / "stage").exists()
    assert datetime.now(tz=UTC) - report.checked_at < timedelta(minutes=5)


def _folder_ingest(tmp_path: Path, files: dict[str, bytes]):
    drops = tmp_path / "drops"
    drops.mkdir()
    for name, data in files.items():
        (drops / name).write_bytes(data)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ingest(source(drops), tmp_path / "stage", ledger)
    return drops, ledger


def test_a_numbering_gap_is_one_line_however_long(tmp_path: Path) -> None:
    feed = small_feed(deltas=6)
    drops, ledger = _folder_ingest(
        tmp_path, {"delta0.csv": feed[0], "delta2.csv": feed[2], "delta2000000.csv": feed[5], "delta7.csv.bak": b"x"}
    )

    report = audit(source(drops), ledger, cadence=None, batch_gap=100)

    gaps = [finding for finding in report.findings if finding.kind == NUMBERING_GAP]
    assert [str(finding) for finding in gaps] == [
        "numbering_gap: delta1: missing from the staged feed between delta0 and delta2; no object with this number in the source",
        "numbering_gap: delta3..delta1999999: missing from the staged feed between delta2 and delta2000000 "
        "(1999997 numbers); no object with these numbers in the source",
    ]


def test_a_staged_object_deleted_from_the_source_is_reported(tmp_path: Path) -> None:
    drops, ledger = _folder_ingest(tmp_path, {f"delta{n}.csv": data for n, data in enumerate(small_feed())})
    (drops / "delta1.csv").unlink()

    report = audit(source(drops), ledger, cadence=None)

    assert _kinds(report) == [(VANISHED, "delta1.csv")]
    (vanished,) = report.findings
    assert vanished.message.startswith("staged as delta1.csv at ") and "no longer in the source" in vanished.message


@pytest.mark.parametrize(
    ("key", "shown"),
    [("delta9.csv", "delta9.csv"), ("x\nstale: y", "'x\\nstale: y'"), (" lead.csv", "' lead.csv'"), ("a\u202ecsv", "'a\\u202ecsv'")],
)
def test_finding_lines_quote_names_that_are_not_plain_text(key: str, shown: str) -> None:
    from checks.landing.audit import Finding

    line = str(Finding(NEVER_INGESTED, key, "uploaded then, never ingested"))

    assert line == f"{NEVER_INGESTED}: {shown}: uploaded then, never ingested" and "\n" not in line
