"""Anomalies of a feed against its own history: a delta far from the usual size or amount, a drop overdue.

Each update delta (never the base, the feed's first full export) is compared with the update deltas
before it in feed order, from the metrics the ingest recorded (``checks.landing.metrics``). The
method is robust to the odd delta in the history: the usual is the median of the last ``window``
earlier updates and the spread their median absolute deviation (MAD, scaled by 1.4826 to read as a
standard deviation). A value is unusual when it is more than ``tolerance`` away from the median (so
ordinary variation is never flagged) **and** either more than ``robust_z`` spreads away or more than
``ratio`` times above or below the median (so a third of the usual size is flagged even in a noisy
history). With fewer than ``history`` earlier updates nothing is compared.

The cadence a drop is late against: the contract's ``slaProperties`` ``frequency`` where declared,
else learned from arrival times (the median time between consecutive deliveries, times ``late_factor``;
drops landing within an hour of each other are one delivery).
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.ledger_records import DeltaMetrics
from checks.wording import Words

VOLUME_ANOMALY = "volume_anomaly"
AMOUNT_ANOMALY = "amount_anomaly"
LATE_DELTA = "late_delta"
ONE_DELIVERY = timedelta(hours=1)
# The MAD of a normal distribution times this is its standard deviation.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Thresholds:
    """How unusual is unusual; every field is an option of ``checks audit`` and ``checks gate`` and a key of the feeds file."""

    history: int = 3  # earlier update deltas needed before a delta is compared
    window: int = 12  # the most recent earlier updates the usual is taken from
    tolerance: float = 0.25  # never flagged within this share of the median
    robust_z: float = 3.5  # flagged beyond this many robust spreads from the median ...
    ratio: float = 2.0  # ... or beyond this many times above or below it
    late_factor: float = 1.5  # a learned cadence: late after this many usual intervals


@dataclass(frozen=True)
class Anomaly:
    """One unusual thing about one delta (or the feed's newest drop), as a finding line's parts."""

    kind: str
    file: str
    message: str


@dataclass(frozen=True)
class Cadence:
    """How long a feed may go without a new drop, and where that came from."""

    limit: timedelta
    usual: timedelta
    origin: str  # "the contract's frequency", "learned from 6 arrivals", "--cadence"


@dataclass(frozen=True)
class Comparison:
    """A delta compared with the usual: ``unusual`` says whether the thresholds flag it."""

    observed: float
    usual: float
    earlier: int
    unusual: bool

    @property
    def times(self) -> float:
        return self.observed / self.usual if self.usual else float("inf")


def compare(observed: float, earlier: Sequence[float], thresholds: Thresholds) -> Comparison | None:
    """``observed`` against the last ``window`` of ``earlier`` values; None with too little history."""
    recent = list(earlier)[-thresholds.window:]
    if len(recent) < thresholds.history:
        return None
    median = statistics.median(recent)
    spread = _MAD_TO_SIGMA * statistics.median(abs(value - median) for value in recent)
    deviation = abs(observed - median)
    far = deviation > thresholds.tolerance * abs(median)
    beyond_spread = deviation > thresholds.robust_z * spread
    beyond_ratio = median > 0 and (observed * thresholds.ratio < median or observed > median * thresholds.ratio)
    return Comparison(float(observed), float(median), len(recent), far and (beyond_spread or beyond_ratio))


def delta_anomalies(
    metrics: Sequence[DeltaMetrics], words: Words, thresholds: Thresholds = Thresholds()
) -> tuple[dict[str, list[Anomaly]], list[str]]:
    """Every update delta of ``metrics`` (feed order) compared with the updates before it.

    Returns the anomalies by file, and the files with too little history to be compared.
    """
    found: dict[str, list[Anomaly]] = {}
    too_early: list[str] = []
    updates = [item for item in metrics if not item.base]
    for index, item in enumerate(updates):
        earlier = updates[:index]
        volume = compare(item.rows, [e.rows for e in earlier], thresholds)
        if volume is None:
            too_early.append(item.file)
            continue
        anomalies = []
        if volume.unusual:
            anomalies.append(Anomaly(VOLUME_ANOMALY, item.file, _describe(volume, f"{item.rows:,} rows", f"{volume.usual:,.0f} rows")))
        added = [e.amount_added for e in earlier if e.amount_added is not None]
        if item.amount_added is not None:
            amount = compare(item.amount_added, added, thresholds)
            if amount is not None and amount.unusual:
                what = words.encoding.contract.amount.name  # type: ignore[union-attr]
                anomalies.append(
                    Anomaly(
                        AMOUNT_ANOMALY, item.file,
                        _describe(amount, f"adds {words.money(item.amount_added)} to {what}", words.money(round(amount.usual))),
                    )
                )
        if anomalies:
            found[item.file] = anomalies
    return found, too_early


def _describe(comparison: Comparison, observed: str, usual: str) -> str:
    return (
        f"{observed} vs usual {usual} (median of {comparison.earlier} earlier updates): "
        f"{comparison.times:.2f} times the usual"
    )


def learned_cadence(arrivals: Sequence[datetime], thresholds: Thresholds = Thresholds()) -> Cadence | None:
    """The feed's rhythm from its deltas' arrival times: None with fewer than ``history`` intervals between deliveries."""
    ordered = sorted(arrivals)
    # Drops that land within the hour are one delivery (two files of one export), not a rhythm of minutes.
    intervals = [later - earlier for earlier, later in zip(ordered, ordered[1:]) if later - earlier >= ONE_DELIVERY]
    if len(intervals) < thresholds.history:
        return None
    usual = statistics.median(intervals)
    return Cadence(usual * thresholds.late_factor, usual, f"learned from {len(intervals) + 1} deliveries")


def late(newest_key: str, landed: datetime, now: datetime, cadence: Cadence) -> Anomaly | None:
    """``late_delta`` when nothing has landed for longer than the cadence allows."""
    quiet = now - landed
    if quiet <= cadence.limit:
        return None
    return Anomaly(
        LATE_DELTA, newest_key,
        f"nothing new for {days(quiet)} (newest landed {landed.isoformat(timespec='seconds')}) vs usual one every "
        f"{days(cadence.usual)} ({cadence.origin}; late after {days(cadence.limit)})",
    )


def days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
