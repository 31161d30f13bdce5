"""Anomalies against the feed's own history: the defaults' two promises, the method's edges, the learned cadence."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.landing.anomalies import (
    AMOUNT_ANOMALY,
    LATE_DELTA,
    VOLUME_ANOMALY,
    Cadence,
    Thresholds,
    compare,
    delta_anomalies,
    late,
    learned_cadence,
)
from checks.ledger_records import DeltaMetrics
from checks.wording import default_words

DEFAULTS = Thresholds()
histories = st.lists(st.integers(min_value=1, max_value=10**9), min_size=3, max_size=30)


@given(histories, st.floats(min_value=-0.25, max_value=0.25))
def test_within_a_quarter_of_the_median_is_never_flagged(history: list[int], offset: float) -> None:
    recent = sorted(history[-DEFAULTS.window:])
    middle = len(recent) // 2
    median = recent[middle] if len(recent) % 2 else (recent[middle - 1] + recent[middle]) / 2
    comparison = compare(median * (1 + offset), history, DEFAULTS)
    assert comparison is not None and not comparison.unusual


@given(histories)
def test_a_third_of_the_usual_is_always_flagged(history: list[int]) -> None:
    usual = compare(0, history, DEFAULTS).usual  # type: ignore[union-attr]
    assert compare(usual / 3, history, DEFAULTS).unusual  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("observed", "history", "thresholds", "unusual"),
    [
        (2488, [2494, 2519, 2473, 2483], DEFAULTS, False),  # the real updates
        (828, [2494, 2519, 2473, 2483], DEFAULTS, True),  # cut to a third
        (3300, [2494, 2519, 2473, 2483], DEFAULTS, True),  # a third more, in a steady feed: many spreads away
        (3300, [1000, 4000, 2500, 1500, 3500], DEFAULTS, False),  # the same in a noisy feed: within its spread
        (828, [2494, 2519, 2473, 2483], Thresholds(tolerance=0.7), False),  # configured wider
        (2000, [2494, 2519, 2473, 2483], Thresholds(tolerance=0.1), True),  # configured tighter
    ],
)
def test_compare(observed: float, history: list[int], thresholds: Thresholds, unusual: bool) -> None:
    assert compare(observed, history, thresholds).unusual is unusual  # type: ignore[union-attr]


@pytest.mark.parametrize(("earlier", "compared"), [(0, False), (2, False), (3, True)])
def test_too_little_history_compares_nothing(earlier: int, compared: bool) -> None:
    assert (compare(1, [2500] * earlier, DEFAULTS) is not None) is compared


def _metrics(file: str, rows: int, added: int, *, base: bool = False) -> DeltaMetrics:
    return DeltaMetrics(
        object_id=0, source="/drops", file=file, base=base, arrived_at="2026-11-01T00:00:00+00:00", fetched_at=None,
        rows=rows, bytes=rows * 20, new_keys=0, updated_keys=rows, amount_sum=added, amount_added=added,
        version_min=1, version_max=2, null_shares={}, recorded_at="2026-11-01T00:00:00+00:00",
    )


def test_updates_are_compared_with_earlier_updates_never_the_base() -> None:
    feed = [_metrics("delta0.csv", 10_000, 9_000_000, base=True)] + [
        _metrics(f"delta{n}.csv", rows, added)
        for n, (rows, added) in enumerate([(2494, 3_700_000), (2519, 5_300_000), (2473, 6_400_000), (828, 6_000_000)], 1)
    ]
    found, too_early = delta_anomalies(feed, default_words())
    assert too_early == ["delta1.csv", "delta2.csv", "delta3.csv"]
    assert [(anomaly.kind, anomaly.file) for anomaly in found["delta4.csv"]] == [(VOLUME_ANOMALY, "delta4.csv")]
    assert found["delta4.csv"][0].message == "828 rows vs usual 2,494 rows (median of 3 earlier updates): 0.33 times the usual"


def test_an_amount_far_from_the_usual_is_named_in_dollars() -> None:
    updates = [(n, added) for n, added in enumerate([5_000_000, 5_100_000, 4_900_000, 900_000], 1)]
    feed = [_metrics("delta0.csv", 10_000, 9_000_000, base=True)] + [_metrics(f"delta{n}.csv", 2500, a) for n, a in updates]
    found, _ = delta_anomalies(feed, default_words())
    (anomaly,) = found["delta4.csv"]
    assert anomaly.kind == AMOUNT_ANOMALY
    assert anomaly.message == (
        "adds $900,000 to total_spend vs usual $5,000,000 (median of 3 earlier updates): 0.18 times the usual"
    )


WEEKLY = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(weeks=n) for n in range(5)]


@pytest.mark.parametrize(
    ("arrivals", "usual"),
    [
        (WEEKLY, timedelta(weeks=1)),
        (WEEKLY + [WEEKLY[-1] + timedelta(minutes=5)], timedelta(weeks=1)),  # two files of one delivery
        (WEEKLY[:3], None),  # two intervals: too few to learn from
        ([WEEKLY[0]] * 6, None),  # everything at once: no rhythm
    ],
)
def test_learned_cadence(arrivals: list[datetime], usual: timedelta | None) -> None:
    cadence = learned_cadence(arrivals)
    assert (cadence.usual if cadence else None) == usual
    if cadence is not None:
        assert cadence.limit == usual * DEFAULTS.late_factor  # type: ignore[operator]


@pytest.mark.parametrize(("quiet_days", "flagged"), [(10, False), (11, True)])
def test_late_after_the_cadence_allows(quiet_days: int, flagged: bool) -> None:
    cadence = Cadence(timedelta(days=10.5), timedelta(weeks=1), "learned from 5 deliveries")
    found = late("delta4.csv", WEEKLY[-1], WEEKLY[-1] + timedelta(days=quiet_days), cadence)
    assert (found is not None) is flagged
    if found is not None:
        assert found.kind == LATE_DELTA and found.message.startswith("nothing new for 11.0 days")
        assert "vs usual one every 7.0 days (learned from 5 deliveries; late after 10.5 days)" in found.message
