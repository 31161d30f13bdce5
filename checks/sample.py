"""Generating synthetic feeds and cases, seeded, so that tests, benchmarks and ``data/`` need no real customer data.

A generated feed obeys every rule the suite checks: unique users per delta, batch ids that move
forward from one delta to the next, lifetime spend that never falls. A generated case adds the
customer's export (the correct dedup), the finance total, and a platform table with one planted
fault: a delta the platform never ingested.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from checks.model import Delta

_BATCHES_PER_DELTA = 1500
# The first customer's columns (contracts/user-summary.yaml): this generator writes that shape.
COLUMNS: tuple[str, ...] = ("user_id", "total_spend", "count_saved_items", "loyalty_credits", "batch_id")


@dataclass(frozen=True)
class SampleCase:
    """A feed with what the platform loaded, what the customer holds, and what finance counted."""

    deltas: tuple[Delta, ...]
    platform: pd.DataFrame
    customer: pd.DataFrame
    finance_total: int
    skipped_file: str


def generate_feed(users: int = 1000, deltas: int = 5, *, seed: int = 7, update_share: float = 0.25) -> list[Delta]:
    """A valid feed: ``delta0`` holds every user, each later delta updates a random ``update_share`` of them."""
    if users < 1 or deltas < 1:
        raise ValueError("a feed needs at least one user and one delta")
    rng = np.random.default_rng(seed)
    user_ids = np.arange(1, users + 1, dtype="int64")
    spend = rng.integers(0, 2_000, size=users, dtype="int64")
    feed = [_delta(0, user_ids, spend, rng, first_batch=0)]
    for number in range(1, deltas):
        chosen = np.sort(rng.choice(users, size=max(1, int(users * update_share)), replace=False))
        spend[chosen] += rng.integers(0, 2_500, size=len(chosen), dtype="int64")
        first_batch = number * _BATCHES_PER_DELTA + 1
        feed.append(_delta(number, user_ids[chosen], spend[chosen], rng, first_batch=first_batch))
    return feed


def generate_case(users: int = 1000, deltas: int = 5, *, seed: int = 7) -> SampleCase:
    """A feed plus a platform table that missed one update delta, chosen by the seed."""
    from checks.dedup import deduplicate

    feed = generate_feed(users, deltas, seed=seed)
    rng = np.random.default_rng(seed + 1)
    skipped = int(rng.integers(1, deltas)) if deltas > 1 else 0
    customer = deduplicate(feed)[list(COLUMNS)]
    platform = deduplicate([delta for delta in feed if delta.number != skipped])[list(COLUMNS)]
    # Exports come in no particular order; the suite must not depend on it.
    customer = customer.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    platform = platform.sample(frac=1.0, random_state=seed + 2).reset_index(drop=True)
    return SampleCase(
        deltas=tuple(feed),
        platform=platform,
        customer=customer,
        finance_total=int(customer["total_spend"].sum()),
        skipped_file=feed[skipped].name,
    )


def write_feed(deltas: list[Delta] | tuple[Delta, ...], directory: str | Path) -> list[Path]:
    """Write each delta as CSV (``deltaN.csv``) into ``directory``."""
    from checks.writers import atomic_write_frame

    directory = Path(directory)
    return [atomic_write_frame(directory / delta.name, delta.frame) for delta in deltas]


def write_case(case: SampleCase, directory: str | Path) -> Path:
    """Write a case folder: ``feed/``, both tables, and ``case.toml`` that ``checks run`` reads by default."""
    from checks.writers import atomic_write_frame, atomic_write_text

    directory = Path(directory)
    write_feed(case.deltas, directory / "feed")
    atomic_write_frame(directory / "platform-user-summary.csv", case.platform)
    atomic_write_frame(directory / "customer-user-summary.csv", case.customer)
    return atomic_write_text(
        directory / "case.toml",
        "# Written by `checks sample`: the defaults `checks run` uses with no arguments.\n"
        f"# Planted fault: the platform table never ingested {case.skipped_file}.\n"
        'feed = "feed"\n'
        'platform = "platform-user-summary.csv"\n'
        'customer = "customer-user-summary.csv"\n'
        f"finance_total = {case.finance_total}\n",
    )


def _delta(number: int, user_ids: np.ndarray, spend: np.ndarray, rng: np.random.Generator, *, first_batch: int) -> Delta:
    rows = len(user_ids)
    order = rng.permutation(rows)
    frame = pd.DataFrame(
        {
            "user_id": user_ids[order],
            "total_spend": spend[order],
            "count_saved_items": rng.integers(0, 50, size=rows, dtype="int64"),
            "loyalty_credits": rng.integers(0, 800, size=rows, dtype="int64"),
            "batch_id": rng.integers(first_batch, first_batch + _BATCHES_PER_DELTA, size=rows, dtype="int64"),
        }
    )
    frame.index = pd.RangeIndex(2, rows + 2, name="row")
    return Delta(name=f"delta{number}.csv", number=number, frame=frame)
