"""``diagnose``: reconcile the platform's table with the feed, then attribute the gap to simulated faults."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import deduplicate
from checks.diagnose._engine import Engine
from checks.diagnose._keys import Rekeying
from checks.diagnose._scan import Scan, Table, all_rows, expected_rows, picks_of
from checks.diagnose.results import Diagnosis, RootCause
from checks.encoding import Encoding
from checks.lineage import (
    Feed, Matches, Packing, PlatformRows, Settled, UserIndex, lineage_counts, lineage_of, match_rows, traced_to_quarantined,
)
from checks.model import Delta
from checks.pages import plain_pages
from checks.reconcile import (
    Agreement,
    ExpectedRows,
    Reconciliation,
    classify_users,
    compare_customer,
    compare_rows,
    summarise_users,
)
from checks.wording import Words, default_words


def diagnose(
    deltas: Sequence[Delta],
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    finance_total: int | None = None,
    *,
    deduplicated: pd.DataFrame | None = None,
    reconciliation: Reconciliation | None = None,
    encoding: Encoding | None = None,
    on_listed: OnListed | None = None,
    quarantined: Quarantined | None = None,
) -> Diagnosis:
    """Reconcile the platform's table with the feed and attribute every dollar of the gap that the data explains.

    ``deduplicated`` is ``checks.dedup.deduplicate(deltas)`` when the caller already has it (not computed again);
    ``reconciliation`` is the one an engine computed already (Spark: ``checks.engines.spark_reconcile``), taken
    as it is; ``encoding`` is the run's (the feed's contract and its dictionaries; default: the first customer's).
    ``on_listed(users, lineage, words)`` is called on a worker thread as soon as the listed users' rows
    (``Reconciliation.users``) and the lineage are known, while the root causes are still being searched
    (``checks.discrepancies.DiscrepanciesWriter.start`` writes the per-user table then); it must return at once.
    ``quarantined()`` gives the readable rows of the files validation quarantined (``quarantined_rows``); it is
    called only when some user's row is left unexplained, to tell whether the platform loaded such a file anyway.
    """
    words = default_words() if encoding is None else Words.of(encoding)
    with plain_pages():
        return _diagnose(
            tuple(deltas), platform, customer, finance_total, deduplicated, reconciliation, words, on_listed, quarantined
        )


# The listed users' rows, their platform rows' lineage (None without one) and the run's words.
OnListed = Callable[[pd.DataFrame, "pd.DataFrame | None", Words], None]
# The readable rows of the files validation quarantined, read when first asked for.
Quarantined = Callable[[], Sequence[Delta]]


def _diagnose(
    deltas: tuple[Delta, ...],
    platform: pd.DataFrame,
    customer: pd.DataFrame | None,
    finance_total: int | None,
    deduplicated: pd.DataFrame | None,
    reconciliation: Reconciliation | None,
    words: Words,
    on_listed: OnListed | None,
    quarantined: Quarantined | None,
    rekeyed: Rekeying | None = None,
) -> Diagnosis:
    """``diagnose``; given ``rekeyed``, ``platform`` holds the rewritten keys' rows under the keys as sent."""
    shape = words.encoding.contract.shape
    platform_ids = platform[shape.key].to_numpy()
    if deduplicated is not None:
        users = UserIndex.around(deduplicated[shape.key].to_numpy(), platform_ids)
    else:
        users = UserIndex(*[delta.frame[shape.key].to_numpy() for delta in deltas], platform_ids)
    expected = None if deduplicated is None else ExpectedRows.spread(deduplicated, users, shape)
    # The customer's export is compared with the expected rows, the platform's rows indexed and the first table
    # read on other threads while the feed is stacked and matched (NumPy's gathers and scatters release the GIL).
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="diagnosis") as pool:
        customer_rows = None
        if customer is not None and expected is not None:
            customer_rows = pool.submit(compare_customer, customer, expected, users)
        indexing = pool.submit(PlatformRows.build, platform, users, shape.key)
        feed = Feed.stack(deltas, users, shape=shape)
        # The first table is the deduplicated one, read from its lineage when that names feed rows.
        reading = None if expected is None else pool.submit(picks_of, expected, feed)
        platform_rows = indexing.result()
        picks = None if reading is None else reading.result()
        if picks is None:
            picks = Scan(feed, ("numeric",), all_rows(feed)).best(ties=True)
            if picks.tied:
                deduplicate(deltas, shape)  # two latest rows for a user: the reference raises its error, naming them
            expected = expected_rows(feed, picks) if expected is None else expected
        packing = Packing.of(feed, platform_rows)
        agreement = compare_rows(expected, platform_rows, packing)
        settled = _settled(feed, picks, expected, platform_rows, agreement, packing)
        # Only the other users' rows are compared one by one (a fifth of the feed when a file went missing).
        unsettled = ~settled.users
        unsettled_feed = feed.only(unsettled)
        matches = match_rows(unsettled_feed, platform_rows, settled=settled)
        del settled
        rows = classify_users(
            expected,
            platform_rows,
            customer,
            known=matches.known_batch,
            users=users,
            customer_rows=None if customer_rows is None else customer_rows.result(),
            agreement=agreement,
        )
        del expected, customer_rows, agreement
        platform_rows.forget_packed()
        # The listed users' rows, and their platform rows' lineage (every row is counted), built meanwhile.
        listed = rows.listed()
        listing = None if reconciliation is not None else pool.submit(rows.frame, np.flatnonzero(listed))
        lineage = pool.submit(_lineage, feed, matches, platform, np.flatnonzero(listed[platform_rows.user]), quarantined)
        del listed
        if on_listed is not None:
            pool.submit(_when_listed, on_listed, reconciliation.users if listing is None else listing, lineage, words)
        engine = Engine(feed, platform_rows, matches, rows, picks, words, (unsettled_feed, unsettled), quarantined, rekeyed)
        del unsettled_feed, unsettled
        # A done future keeps its result: the first table (and its caches, 100 MB at 10 M users) would outlive
        # the change that replaces it.
        del picks, reading, indexing
        rekeying = engine.rekeying()
        if rekeying is None:
            causes, unexplained = engine.attribute()
            found = _Found(tuple(causes), int(unexplained.sum()), int(engine.gap[unexplained].sum()), engine.share(unexplained))
        else:
            # Keys the load rewrote, some of whose rows changed too: searched again with every rewritten key's row
            # moved back under the key as sent, where a row older than the feed's latest tells a file never loaded.
            del engine, platform_rows, matches
            moved = platform.assign(**{shape.key: rekeying.held_as_sent(platform_ids)})
            again = _diagnose(deltas, moved, None, None, deduplicated, None, words, None, quarantined, rekeying)
            found = _Found(again.root_causes, again.unexplained_users, again.unexplained_gap, again.unexplained_share)
        if reconciliation is None:
            reconciliation = summarise_users(rows, listing.result())
        lineage, counts = lineage.result()
    return Diagnosis(
        reconciliation=reconciliation,
        root_causes=found.causes,
        unexplained_users=found.unexplained_users,
        unexplained_gap=found.unexplained_gap,
        unexplained_share=found.unexplained_share,
        finance_total=None if finance_total is None else stored_amount(words, finance_total),
        files=tuple(delta.name for delta in deltas),
        lineage=lineage,
        lineage_counts=counts,
        words=words,
    )


@dataclass(frozen=True)
class _Found:
    """What the search found: the root causes, and the users, dollars and share no cause explains."""

    causes: tuple[RootCause, ...]
    unexplained_users: int
    unexplained_gap: int
    unexplained_share: float


def _settled(
    feed: Feed, picks: Table, expected: ExpectedRows, platform: PlatformRows, agreement: Agreement, packing: Packing | None
) -> Settled:
    """The users whose one platform row is their expected row: the dedup picked it as the only row of their latest
    version (it refuses two), so it is the only feed row equal to the platform's, at the pick's file and position."""
    users = agreement.same & expected.present & (platform.count == 1) & (picks.part >= 0)
    if feed.one_row_per_user_and_file:
        file = picks.part  # a part per file, in file order
    else:
        file = np.array([part.file for part in feed.parts], dtype=picks.part.dtype)[np.maximum(picks.part, 0)]
    return Settled(users, file, picks.position, packing)


def _lineage(
    feed: Feed, matches: Matches, platform: pd.DataFrame, rows: np.ndarray, quarantined: Quarantined | None
) -> tuple[pd.DataFrame, dict[str | None, int]]:
    """The lineage of the platform rows at ``rows`` and how many platform rows each file is the source of, the rows no
    validated file holds traced to the files validation quarantined (read only when some row is left untraced)."""
    lineage, counts = lineage_of(feed, matches, platform, rows), lineage_counts(feed, matches)
    if quarantined is None or None not in counts:
        return lineage, counts
    return traced_to_quarantined(lineage, counts, quarantined(), feed.shape.names)


def _when_listed(on_listed: OnListed, listing: pd.DataFrame | Future, lineage: Future, words: Words) -> None:
    """``on_listed`` once the listing and the lineage, built on the other worker threads, are done."""
    users = listing.result() if isinstance(listing, Future) else listing
    on_listed(users, lineage.result()[0], words)


def stored_amount(words: Words, total: int | Any) -> int:
    """A total given in the amount's own units (dollars, or an exact decimal) in its computing form."""
    amount = words.encoding.contract.amount
    return int(total) if amount is None else int(words.encoding.codecs[amount.name].stored(total))
