"""Diagnosing a discrepancy: which explicit faults, simulated on the feed, reproduce the platform's table.

Each hypothesis (a file never ingested, a file cut short, the wrong dedup order, no dedup) is a
change to how the platform would have built its table from the feed. We simulate it, compare the
result with the platform row by row, and keep greedily the change that explains the most dollars
without breaking users that already agreed. What no simulation reproduces is then sorted into
dropped users, unexpected users, duplicate rows and values changed in transit, or left unexplained.
Nothing here looks at file names or at any known case: every answer comes from the rows.

At 10 M users everything is arrays over one dense user index, and the feed stays in the deltas' own
frames: a delta holds each user once, so a simulation is one gather and scatter per row and file.
The first table is the deduplicated one; a file left out or cut short changes only the users whose
pick it holds, who fall back to their runner-up row, computed only for users whose platform row the
feed holds elsewhere (the others cannot come to agree). While every user agrees, nothing is tried.
``tests/reference`` holds the earlier pandas version; the tests hold both to the same answers.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import deduplicate
from checks.lineage import (
    Feed,
    Matches,
    Part,
    PlatformRows,
    UserIndex,
    lineage_counts,
    lineage_of,
    match_rows,
    position_dtype,
    row_keys,
)
from checks.encoding import Encoding
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta
from checks.pages import plain_pages
from checks.reconcile import (
    CLASSES,
    MATCH,
    ExpectedRows,
    Reconciliation,
    UserRows,
    classify_users,
    compare_customer,
    largest,
    compared,
    summarise_users,
)
from checks.wording import Words, default_words

FILE_NOT_INGESTED = "file_not_ingested"
FILE_PARTIALLY_INGESTED = "file_partially_ingested"
WRONG_DEDUP_ORDER = "wrong_dedup_order"
DUPLICATE_ROWS = "duplicate_rows"
MISSING_USERS = "missing_users"
UNEXPECTED_USERS = "unexpected_users"
VALUE_DRIFT = "value_drift"
KINDS: tuple[str, ...] = (
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    WRONG_DEDUP_ORDER,
    DUPLICATE_ROWS,
    MISSING_USERS,
    UNEXPECTED_USERS,
    VALUE_DRIFT,
)
EXAMPLES_PER_CAUSE = 5
# Each root cause as people say it; the identifiers stay in JSON and CSV.
CAUSE_WORDS = {
    FILE_NOT_INGESTED: "file never loaded",
    FILE_PARTIALLY_INGESTED: "file only partly loaded",
    WRONG_DEDUP_ORDER: "wrong row kept per user",
    DUPLICATE_ROWS: "users loaded more than once",
    MISSING_USERS: "users missing from the table",
    UNEXPECTED_USERS: "users the feed never sent",
    VALUE_DRIFT: "values changed after loading",
}
# A hypothesis may break at most this share of the users it explains (users that already agreed).
_MAX_BROKEN_SHARE = 0.01


@dataclass(frozen=True)
class RootCause:
    """One explanation: what happened, to which file, how many users and dollars it accounts for."""

    kind: str
    file: str | None
    users: int
    revenue_gap: int
    share_of_gap: float
    evidence: str
    examples: pd.DataFrame = field(repr=False, compare=False)
    absolute_gap: int = 0
    # Facts the reports use (rows in the file, rows kept, users also in later files, the load order).
    details: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self, amount: Callable[[int], Any] = int) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "users": self.users,
            "revenue_gap": amount(self.revenue_gap),
            "share_of_gap": round(self.share_of_gap, 6),
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Diagnosis:
    """The reconciliation, the root causes ordered by dollars explained, and what is left unexplained."""

    reconciliation: Reconciliation
    root_causes: tuple[RootCause, ...]
    unexplained_users: int
    unexplained_gap: int
    unexplained_share: float
    finance_total: int | None
    files: tuple[str, ...]
    # The lineage of the platform rows of the users ``reconciliation.users`` lists (``checks.lineage.lineage_of``).
    lineage: pd.DataFrame = field(repr=False, compare=False)
    # How many of all the platform's rows each delta file is the source of (None: no file), in feed order.
    lineage_counts: dict[str | None, int] = field(default_factory=dict, repr=False, compare=False)
    # The feed's words and value formats (its contract's): amounts below are in the amount column's computing form.
    words: Words = field(default_factory=default_words, repr=False, compare=False)

    @property
    def discrepancy(self) -> bool:
        return self.reconciliation.discrepant_users > 0

    @property
    def expected_total(self) -> int:
        return self.reconciliation.expected_total

    @property
    def platform_total(self) -> int:
        return self.reconciliation.platform_total

    @property
    def gap(self) -> int:
        return self.reconciliation.gap

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts in units of the amount column (``amount_column``), an int for an integer amount,
        the exact decimal as text for a decimal one ("1234.50")."""
        reconciliation, amount = self.reconciliation, self.words.plain_amount
        totals: dict[str, Any] = {
            "expected": amount(reconciliation.expected_total),
            "platform": amount(reconciliation.platform_total),
        }
        if reconciliation.customer_total is not None:
            totals["customer"] = amount(reconciliation.customer_total)
        if self.finance_total is not None:
            totals["finance"] = amount(self.finance_total)
        totals |= {
            "gap": amount(reconciliation.gap),
            "discrepant_users": reconciliation.discrepant_users,
            "unexplained_users": self.unexplained_users,
            "unexplained_gap": amount(self.unexplained_gap),
            "unexplained_share": round(self.unexplained_share, 6),
            "amount_column": self.words.encoding.contract.shape.amount,
        }
        return {
            "totals": totals,
            "classes": {
                summary.name: {"users": summary.users, "revenue_gap": amount(summary.revenue_gap)}
                for summary in reconciliation.classes
            },
            "root_causes": [cause.to_dict(amount) for cause in self.root_causes],
        }


def diagnose(
    deltas: Sequence[Delta],
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    finance_total: int | None = None,
    *,
    deduplicated: pd.DataFrame | None = None,
    reconciliation: Reconciliation | None = None,
    encoding: Encoding | None = None,
) -> Diagnosis:
    """Reconcile the platform's table with the feed and attribute every dollar of the gap that the data explains.

    ``deduplicated`` is ``checks.dedup.deduplicate(deltas)`` when the caller already has it (not computed again);
    ``reconciliation`` is the one an engine computed already (Spark: ``checks.engines.spark_reconcile``), taken
    as it is; ``encoding`` is the run's (the feed's contract and its dictionaries; default: the first customer's).
    """
    words = default_words() if encoding is None else Words.of(encoding)
    with plain_pages():
        return _diagnose(tuple(deltas), platform, customer, finance_total, deduplicated, reconciliation, words)


def _diagnose(
    deltas: tuple[Delta, ...],
    platform: pd.DataFrame,
    customer: pd.DataFrame | None,
    finance_total: int | None,
    deduplicated: pd.DataFrame | None,
    reconciliation: Reconciliation | None,
    words: Words,
) -> Diagnosis:
    shape = words.encoding.contract.shape
    platform_ids = platform[shape.key].to_numpy()
    if deduplicated is not None:
        users = UserIndex.around(deduplicated[shape.key].to_numpy(), platform_ids)
    else:
        users = UserIndex(*[delta.frame[shape.key].to_numpy() for delta in deltas], platform_ids)
    expected = None if deduplicated is None else ExpectedRows.spread(deduplicated, users, shape)
    # The customer's export is compared with the expected rows on a second core while the feed is matched
    # with the platform's rows (NumPy's gathers and scatters release the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnosis") as pool:
        customer_rows = None
        if customer is not None and expected is not None:
            customer_rows = pool.submit(compare_customer, customer, expected, users)
        feed = Feed.stack(deltas, users, shape=shape)
        platform_rows = PlatformRows.build(platform, users, shape.key)
        matches = match_rows(feed, platform_rows)
        # The first table is the deduplicated one, read from its lineage when that names feed rows.
        picks = None if expected is None else _picks_of(expected, feed)
        if picks is None:
            picks = _Scan(feed, ("numeric",), _all_rows(feed)).best(ties=True)
            if picks.tied:
                deduplicate(deltas, shape)  # two latest rows for a user: the reference raises its error, naming them
            expected = _expected_rows(feed, picks) if expected is None else expected
        rows = classify_users(
            expected,
            platform_rows,
            customer,
            known=matches.known_batch,
            users=users,
            packing=matches.packing,
            customer_rows=None if customer_rows is None else customer_rows.result(),
        )
        del expected, customer_rows
        platform_rows.forget_packed()
        # The listed users' rows, and their platform rows' lineage (every row is counted), built meanwhile.
        listed = rows.listed()
        listing = None if reconciliation is not None else pool.submit(rows.frame, np.flatnonzero(listed))
        lineage = pool.submit(lineage_of, feed, matches, platform, np.flatnonzero(listed[platform_rows.user]))
        del listed
        engine = _Engine(feed, platform_rows, matches, rows, picks, words)
        del picks
        causes, unexplained = engine.attribute()
        if reconciliation is None:
            reconciliation = summarise_users(rows, listing.result())
        lineage = lineage.result()
    return Diagnosis(
        reconciliation=reconciliation,
        root_causes=tuple(causes),
        unexplained_users=int(unexplained.sum()),
        unexplained_gap=int(engine.gap[unexplained].sum()),
        unexplained_share=engine.share(unexplained),
        finance_total=None if finance_total is None else _stored_amount(words, finance_total),
        files=tuple(delta.name for delta in deltas),
        lineage=lineage,
        lineage_counts=lineage_counts(feed, matches),
        words=words,
    )


def _stored_amount(words: Words, total: int | Any) -> int:
    """A total given in the amount's own units (dollars, or an exact decimal) in its computing form."""
    amount = words.encoding.contract.amount
    return int(total) if amount is None else int(words.encoding.codecs[amount.name].stored(total))


# --- simulation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """How the platform built its table: how many leading rows of each file it read, how it picked one per user."""

    cuts: tuple[int, ...]  # per file: rows at positions below the cut were read
    rule: tuple  # ("numeric",) | ("string",) | ("order", file positions, lowest priority first) | ("none",)


@dataclass(frozen=True)
class _Table:
    """A simulated table, per user: the part and file position of the row picked (-1 if none); without
    dedup (rule "none") how many rows and the sum of their hashes instead."""

    part: np.ndarray | None
    position: np.ndarray | None
    count: np.ndarray
    model: _Model
    signature: np.ndarray | None = None
    tied: bool = False
    # Derived once per table: users by the part of their pick, and runner-up rows found so far.
    cache: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class _Hypothesis:
    kind: str
    file: int | None
    model: _Model
    note: dict


def _row_dtype(feed: Feed) -> np.dtype:
    """Positions of rows within a file: int32 unless a file is too long for it."""
    return position_dtype(max(_all_rows(feed), default=0))


def _all_rows(feed: Feed) -> tuple[int, ...]:
    return tuple(feed.rows(file) for file in range(len(feed.names)))


def _kept(part: Part, cut: int) -> slice | np.ndarray:
    """A part's rows that a model with this cut for its file read (a slice when the part is the whole file)."""
    if part.position is None:
        return slice(0, min(cut, len(part)))
    return np.flatnonzero(part.position < cut)


def _file_positions(part: Part, rows: np.ndarray) -> np.ndarray:
    """File positions of a part's rows given as indexes into the part."""
    return rows if part.position is None else part.position[rows]


class _Scan:
    """Per user, the highest row under a rule among the rows a model reads: parts in feed order, and a later
    part wins a tie (the priority is the rule's key, then the file, then the line)."""

    def __init__(self, feed: Feed, rule: tuple, cuts: tuple[int, ...], keys: Callable | None = None) -> None:
        self.feed, self.rule, self.cuts = feed, rule, cuts
        self._keys = keys or (lambda part, index: feed.values(part, feed.shape.version))

    def key(self, index: int, part: Part) -> np.ndarray | None:
        """The rule's key of each row of a part; None under a load order, where the last file loaded wins."""
        return None if self.rule[0] == "order" else self._keys(part, index)

    def parts(self) -> Iterator[tuple[int, Part]]:
        """The parts in the order they are read: the feed's, or the load order's (a file's parts stay in order)."""
        parts = list(enumerate(self.feed.parts))
        if self.rule[0] == "order":
            rank = {file: at for at, file in enumerate(self.rule[1])}
            parts.sort(key=lambda item: rank[item[1].file])
        return iter(parts)

    def best(self, *, ties: bool = False) -> _Table:
        """The whole table: one pass over the read rows, a gather and a scatter per row."""
        size = self.feed.users
        key = np.full(size, np.iinfo("int64").min, dtype="int64")
        dtype = np.dtype("int16") if len(self.feed.parts) < 2**15 else np.dtype("int32")
        part_of = np.full(size, -1, dtype=dtype)
        position = np.full(size, -1, dtype=_row_dtype(self.feed))
        tied = np.zeros(size, dtype=bool) if ties else None
        for index, part in self.parts():
            rows = _kept(part, self.cuts[part.file])
            users = part.user[rows]
            keys = self.key(index, part)
            if keys is None:
                wins = np.arange(len(users))
                winners = users
            else:
                keys = keys[rows]
                wins = np.flatnonzero(keys >= key[users])
                winners = users[wins]
                if ties:
                    tied[winners] = (keys[wins] == key[winners]) & (part_of[winners] >= 0)
                key[winners] = keys[wins]
            part_of[winners] = index
            position[winners] = _file_positions(part, wins if isinstance(rows, slice) else rows[wins])
        model = _Model(self.cuts, self.rule)
        return _Table(part_of, position, part_of >= 0, model, tied=bool(ties and tied.any()))

    def runner_up(self, table: _Table, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For ``users`` (sorted), the highest read row other than their pick: what they fall back to when
        their pick's file is left out (a part holds a user once, so the rest of the file goes with it)."""
        feed = self.feed
        wanted = np.zeros(feed.users, dtype=bool)
        wanted[users] = True
        slot = np.empty(feed.users, dtype=position_dtype(len(users)))
        slot[users] = np.arange(len(users), dtype=slot.dtype)
        picked = table.part[users]
        key = np.full(len(users), np.iinfo("int64").min, dtype="int64")
        part_of = np.full(len(users), -1, dtype=table.part.dtype)
        position = np.full(len(users), -1, dtype=table.position.dtype)
        for index, part in self.parts():
            rows = _kept(part, self.cuts[part.file])
            owners = part.user[rows]
            hits = np.flatnonzero(wanted[owners])  # a bool gather: 10 MB at 10 M users, mostly in cache
            at = slot[owners[hits]]
            other = picked[at] != index
            hits, at = hits[other], at[other]
            keys = self.key(index, part)
            if keys is not None:
                keys = keys[rows][hits]
                wins = keys >= key[at]
                hits, at = hits[wins], at[wins]
                key[at] = keys[wins]
            part_of[at] = index
            position[at] = _file_positions(part, hits if isinstance(rows, slice) else rows[hits])
        return part_of, position


def _picks_of(expected: ExpectedRows, feed: Feed) -> _Table | None:
    """The deduplicated table's rows as picks: the file and line it names for each user, as part and position
    (None when it has no lineage or a file's line numbers repeat)."""
    indexes = [delta.frame.index for delta in feed.deltas]
    if expected.source_file is None or SOURCE_ROW not in expected.values or not all(index.is_unique for index in indexes):
        return None
    file = expected.file_codes(feed.names)
    lines = expected.values[SOURCE_ROW]
    position = np.full(len(file), -1, dtype="int64")
    if all(isinstance(index, pd.RangeIndex) for index in indexes):
        start = np.array([index.start for index in indexes] or [0], dtype="int64")
        step = np.array([index.step for index in indexes] or [1], dtype="int64")
        if (step == 1).all() and (start == start[0]).all():
            position = np.subtract(lines, start[0], out=np.empty(len(lines), dtype=_row_dtype(feed)), casting="unsafe")
            position[file < 0] = -1
        else:
            known = np.maximum(file, 0)
            position = np.where(file >= 0, (lines - start[known]) // step[known], -1)
    else:
        for number, index in enumerate(indexes):
            at = np.flatnonzero(file == number)
            position[at] = pd.Index(index).get_indexer(lines[at])
    if feed.one_row_per_user_and_file:
        part = file.astype("int16" if len(feed.parts) < 2**15 else "int32")
    else:
        part = np.full(len(file), -1, dtype="int32")
        for index, candidate in enumerate(feed.parts):
            at = np.flatnonzero(file == candidate.file)
            rows = candidate.positions()
            found = np.searchsorted(rows, position[at])
            inside = found < len(rows)
            hit = at[inside][rows[found[inside]] == position[at[inside]]]
            part[hit] = index
    return _Table(part, position.astype(_row_dtype(feed), copy=False), part >= 0, _Model(_all_rows(feed), ("numeric",)))


def _expected_rows(feed: Feed, picks: _Table) -> ExpectedRows:
    """``checks.dedup.deduplicate`` spread over the user index, from the numeric scan's picks."""
    size = feed.users
    present = picks.part >= 0
    columns = compared(feed.shape)
    values = {column: np.zeros(size, dtype="int64") for column in (*columns, SOURCE_ROW)}
    file = np.full(size, -1, dtype="int32")
    for index, users in _groups(picks.part, len(feed.parts)):
        part = feed.parts[index]
        position = picks.position[users]
        for column in columns:
            values[column][users] = feed.column(part.file, column)[position]
        values[SOURCE_ROW][users] = feed.lines(np.full(len(users), part.file), position)
        file[users] = part.file
    total = int(values[feed.shape.amount].sum()) if feed.shape.amount else 0
    return ExpectedRows(present, values, total, feed.shape, file, feed.names)


class _Engine:
    """The feed and the platform as arrays over one dense user index; a file left out or cut short is tried
    on the users whose pick it holds, falling back to their runner-up row."""

    def __init__(self, feed: Feed, platform: PlatformRows, matches: Matches, rows: UserRows, picks: _Table, words: Words) -> None:
        self.feed, self.platform, self.matches, self.words = feed, platform, matches, words
        self.compared = compared(feed.shape)
        self.names = feed.names
        self.rows = rows
        self.size = len(rows)
        self.gap = rows.gap
        self.discrepant = rows.classes != CLASSES.index(MATCH)
        self.initial = picks
        self.initial_agrees = ~self.discrepant
        self._total_absolute = int(np.abs(self.gap[self.discrepant]).sum())
        self._part_files = np.array([part.file for part in feed.parts], dtype="int64")
        self._cache: dict = {}

    def _absolute(self, users: np.ndarray) -> np.ndarray:
        """The size of the spend gap of some users (by mask or position): no second 10 M-user array."""
        return np.abs(self.gap[users])

    @property
    def observed_count(self) -> np.ndarray:
        return self.platform.count

    @cached_property
    def _without_row(self) -> np.ndarray:
        """The users the platform holds no row of (usually few: counting them among others is then cheap)."""
        return np.flatnonzero(self.observed_count == 0)

    def share(self, users: np.ndarray) -> float:
        if self._total_absolute > 0:
            return float(self._absolute(users).sum() / self._total_absolute)
        discrepant = self.discrepant.sum()
        return float(users.sum() / discrepant) if discrepant else 0.0

    # -- agreement -------------------------------------------------------------------------------------

    def _agree(self, users: np.ndarray, part: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Whether each user's simulated row (part, file position; -1 none) is exactly its platform row."""
        count = self.observed_count[users]
        agree = (count == 0) & (part < 0)
        held = self.matches.user_count[users]
        # Where the feed holds the platform row once, agreeing is being that row: no values compared.
        once = np.flatnonzero((count == 1) & (part >= 0) & (held == 1))
        agree[once] = (self._part_files[part[once]] == self.matches.user_file[users[once]]) & (
            position[once] == self.matches.user_position[users[once]]
        )
        check = np.flatnonzero((count == 1) & (part >= 0) & (held > 1))
        for index, at in _groups(part[check], len(self.feed.parts)):
            at = check[at]
            file = self.feed.parts[index].file
            rows = position[at]
            same = np.ones(len(at), dtype=bool)
            for column in self.compared:
                same &= self.feed.column(file, column)[rows] == self.platform.values_at(column, users[at])
            agree[at] = same
        return agree

    def _agree_without_dedup(self, table: _Table) -> np.ndarray:
        observed_count, observed_signature = self._observed_signature()
        return (table.count == observed_count) & (table.signature == observed_signature)

    def _observed_signature(self) -> tuple[np.ndarray, np.ndarray]:
        if "observed" not in self._cache:
            hashes = row_keys(self.platform.frame, self.feed.shape.names)
            distinct = self.observed_count.max(initial=0) <= 1
            self._cache["observed"] = (
                self.observed_count,
                _sum_hashes(self.platform.user, hashes, self.size, distinct=distinct),
            )
        return self._cache["observed"]

    def _feed_hashes(self, index: int) -> np.ndarray:
        key = ("hash", index)
        if key not in self._cache:
            part = self.feed.parts[index]
            frame = {column: self.feed.values(part, column) for column in self.feed.shape.names}
            self._cache[key] = row_keys(frame, self.feed.shape.names)
        return self._cache[key]

    # -- simulating ------------------------------------------------------------------------------------

    def simulate(self, model: _Model) -> _Table:
        if model.rule[0] == "none":
            users, hashes = [], []
            for index, part in enumerate(self.feed.parts):
                rows = _kept(part, model.cuts[part.file])
                users.append(part.user[rows])
                hashes.append(self._feed_hashes(index)[rows])
            users, hashes = np.concatenate(users), np.concatenate(hashes)
            count = np.bincount(users, minlength=self.size)
            return _Table(None, None, count, model, _sum_hashes(users, hashes, self.size))
        return self._scan(model).best()

    def _scan(self, model: _Model) -> _Scan:
        return _Scan(self.feed, model.rule, model.cuts, self._text_keys if model.rule[0] == "string" else None)

    def _text_keys(self, part: Part, index: int) -> np.ndarray:
        """batch_id ordered as text: "999" after "1500"; equal keys for equal text."""
        key = ("text", index)
        if key not in self._cache:
            batches = [self.feed.values(candidate, self.feed.shape.version) for candidate in self.feed.parts]
            for number, keys in enumerate(_text_order(batches)):
                self._cache[("text", number)] = keys
        return self._cache[key]

    def _changed(self, table: _Table, candidate: _Table) -> np.ndarray:
        """Users whose simulated rows differ between two tables."""
        if candidate.signature is not None or table.signature is not None:
            return np.arange(self.size)
        return np.flatnonzero((candidate.part != table.part) | (candidate.position != table.position))

    def _effect(self, hypothesis: _Hypothesis, table: _Table, agrees: np.ndarray) -> tuple[np.ndarray, np.ndarray, _Table | None]:
        """The users a hypothesis changes, whether each then agrees with the platform, and the new table when
        it had to be simulated whole."""
        model = hypothesis.model
        if model.rule[0] != "none" and table.signature is None and hypothesis.file is not None and self.feed.one_row_per_user_and_file:
            users = self._losing_pick(hypothesis, table)
            # Only users without a platform row, or whose platform row the feed holds besides their pick,
            # can agree once they fall back to their runner-up.
            observed, held = self.observed_count[users], self.matches.user_count[users]
            could = (observed == 0) | ((observed == 1) & (held >= 1) & (~agrees[users] | (held >= 2)))
            now = np.zeros(len(users), dtype=bool)
            candidates = np.flatnonzero(could)
            part, position = self._fallback(table, users[candidates])
            now[candidates] = self._agree(users[candidates], part, position)
            return users, now, None
        candidate = self.simulate(model)
        if candidate.signature is not None:
            return np.arange(self.size), self._agree_without_dedup(candidate), candidate
        users = self._changed(table, candidate)
        return users, self._agree(users, candidate.part[users], candidate.position[users]), candidate

    def _losing_pick(self, hypothesis: _Hypothesis, table: _Table) -> np.ndarray:
        """Users whose pick is in the rows a file-level hypothesis stops reading (sorted)."""
        file = hypothesis.file
        users = self._picking(table, file)
        cut = hypothesis.model.cuts[file]
        if cut > 0:
            users = users[table.position[users] >= cut]
        return users

    def _picking(self, table: _Table, file: int) -> np.ndarray:
        """The users whose pick is in a file (one part per file here), in order."""
        if "groups" not in table.cache:
            table.cache["groups"] = dict(_groups(table.part, len(self.feed.parts)))
        return table.cache["groups"].get(file, np.array([], dtype="int64"))

    def _fallback(self, table: _Table, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The runner-up rows of ``users`` (sorted) under a table, each user's computed once per table."""
        if "fallback" not in table.cache:
            table.cache["fallback"] = (
                np.full(self.size, -1, dtype=table.part.dtype),
                np.full(self.size, -1, dtype=table.position.dtype),
                np.zeros(self.size, dtype=bool),
            )
        part, position, known = table.cache["fallback"]
        missing = users[~known[users]]
        if len(missing):
            found_part, found_position = self._scan(table.model).runner_up(table, missing)
            part[missing], position[missing], known[missing] = found_part, found_position, True
        return part[users], position[users]

    # -- hypotheses ------------------------------------------------------------------------------------

    def _file_hypotheses(self, model: _Model, table: _Table, agrees: np.ndarray) -> list[_Hypothesis]:
        """The changes worth trying first: a file left out, or cut short where the platform stopped reading it."""
        found = []
        for file in range(len(self.names)):
            if not min(model.cuts[file], self.feed.rows(file)):
                continue
            cuts = model.cuts[:file] + (0,) + model.cuts[file + 1 :]
            found.append(_Hypothesis(FILE_NOT_INGESTED, file, _Model(cuts, model.rule), {}))
            cut = self._truncation_point(file, model, table, agrees)
            if cut is not None:
                kept_rows, total_rows, first_row = cut
                cuts = model.cuts[:file] + (first_row,) + model.cuts[file + 1 :]
                note = {"kept": kept_rows, "total": total_rows}
                found.append(_Hypothesis(FILE_PARTIALLY_INGESTED, file, _Model(cuts, model.rule), note))
        return found

    def _rule_hypotheses(self, model: _Model) -> list[_Hypothesis]:
        """Then the way one row per user is chosen: batch_id as text, a load order, or no dedup at all."""
        if model.rule != ("numeric",):
            return []
        rules = [_Hypothesis(WRONG_DEDUP_ORDER, None, _Model(model.cuts, ("string",)), {"rule": "string"})]
        for order in self._candidate_orders():
            note = {"rule": "order", "order": [self.names[position] for position in order]}
            rules.append(_Hypothesis(WRONG_DEDUP_ORDER, None, _Model(model.cuts, ("order", order)), note))
        rules.append(_Hypothesis(DUPLICATE_ROWS, None, _Model(model.cuts, ("none",)), {"rule": "none"}))
        return rules

    def _truncation_point(self, file: int, model: _Model, table: _Table, agrees: np.ndarray) -> tuple[int, int, int] | None:
        """Where the platform stopped reading a file: the cut that best splits rows it shows from rows it lacks."""
        if table.signature is None and self.feed.one_row_per_user_and_file:
            # A row is lacking only where its user's pick is in this file and disagrees.
            picking = self._picking(table, file)
            if agrees[picking].all():
                return None
        parts = [(index, part) for index, part in enumerate(self.feed.parts) if part.file == file]
        cut = model.cuts[file]
        # Positions, parts and running counts in narrow types: a 10 M-row file costs tens of MB here, not hundreds.
        narrow = _row_dtype(self.feed)
        part_dtype = "int16" if len(self.feed.parts) < 2**15 else "int32"
        if len(parts) == 1 and parts[0][1].position is None:
            index, part = parts[0]
            users = part.user[: min(cut, len(part))]
            positions = np.arange(len(users), dtype=narrow)
            part_of = np.full(len(users), index, dtype=part_dtype)
        else:
            chunks = [(index, part, _kept(part, cut)) for index, part in parts]
            users = np.concatenate([part.user[rows] for _, part, rows in chunks])
            positions = np.concatenate([_file_positions(part, np.arange(len(part))[rows]) for _, part, rows in chunks])
            part_of = np.concatenate([np.full(len(part.user[rows]), index, dtype=part_dtype) for index, part, rows in chunks])
            order = np.argsort(positions, kind="stable")
            users, positions, part_of = users[order], positions[order], part_of[order]
        shown = self._shows(file, users, positions)
        if table.signature is None:
            lacking = (table.part[users] == part_of) & ~shown
        else:
            lacking = np.zeros(len(users), dtype=bool)
        if not lacking.any():
            return None
        counts = position_dtype(len(users) + 1)
        shown_before = np.concatenate([np.zeros(1, dtype=counts), np.cumsum(shown, dtype=counts)])
        lacking_after = np.concatenate([np.zeros(1, dtype=counts), np.cumsum(lacking, dtype=counts)])
        np.subtract(lacking.sum(), lacking_after, out=lacking_after)
        score = shown_before + lacking_after
        cut = len(score) - 1 - int(np.argmax(score[::-1]))  # the largest prefix among the best
        if cut == 0 or cut == len(users):
            return None
        return cut, len(users), int(positions[cut])

    def _shows(self, file: int, users: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Whether the platform holds exactly these rows of a file (one platform row for the user, equal to it)."""
        matches = self.matches
        count = matches.user_count[users]
        shown = (matches.user_file[users] == file) & (count == 1)
        if not self.feed.one_row_per_user_and_file:
            return self._agree_rows(file, users, positions)
        several = np.flatnonzero(count > 1)
        if len(several):
            shown[several] = self._agree_rows(file, users[several], positions[several])
        return shown

    def _agree_rows(self, file: int, users: np.ndarray, positions: np.ndarray) -> np.ndarray:
        same = self.observed_count[users] == 1
        for column in self.compared:
            same &= self.feed.column(file, column)[positions] == self.platform.values_at(column, users)
        return same

    def _candidate_orders(self) -> list[tuple[int, ...]]:
        """Load orders to try for "last file loaded wins": the one the platform's rows imply, and the reverse."""
        if "orders" not in self._cache:
            self._cache["orders"] = self._inferred_orders()
        return self._cache["orders"]

    def _inferred_orders(self) -> list[tuple[int, ...]]:
        files = len(self.names)
        if files < 2:
            return []
        platform = self.platform
        single = self.observed_count[platform.user] == 1
        source = self.matches.rows()[0]
        chosen_file = np.where((source >= 0) & single, source, -1)
        # For users in several files, how often the platform kept each file's row.
        in_files = np.bincount(np.concatenate([part.user for part in self.feed.parts]), minlength=self.size)
        appearances = np.zeros(files, dtype="int64")
        for part in self.feed.parts:
            appearances[part.file] += int((in_files[part.user] > 1).sum())
        winner = chosen_file[(chosen_file >= 0) & (in_files[platform.user] > 1)]
        wins = np.bincount(winner, minlength=files)
        rate = np.where(appearances > 0, wins / np.maximum(appearances, 1), 0.0)
        inferred = tuple(int(p) for p in np.lexsort((np.arange(files), rate)))
        orders = [inferred, tuple(range(files - 1, -1, -1))]
        return [order for index, order in enumerate(orders) if order not in orders[:index]]

    # -- attribution -----------------------------------------------------------------------------------

    def attribute(self) -> tuple[list[RootCause], np.ndarray]:
        table, agrees = self.initial, self.initial_agrees
        self.initial = None  # the first table goes once a change replaces it (its caches are 100 MB at 10 M users)
        model = table.model
        cause_of = np.full(self.size, -1, dtype="int16")  # a position among the chosen changes: a few
        chosen: list[tuple[_Hypothesis, int]] = []
        # While some user disagrees: a change can only gain users that disagree.
        while not agrees.all():
            # Files first: a missing or cut file is the simpler story, and a load order that puts
            # a file last can mimic a file never loaded.
            best = self._best(self._file_hypotheses(model, table, agrees), agrees, table)
            if best is None:
                best = self._best(self._rule_hypotheses(model), agrees, table)
            if best is None:
                break
            _, hypothesis, gained, lost, users, now, candidate = best
            table = self._apply(hypothesis, table, users, candidate)
            agrees = agrees.copy()
            agrees[users] = now
            cause_of[lost] = -1
            if len(chosen) == np.iinfo(cause_of.dtype).max:
                cause_of = cause_of.astype("int32")
            cause_of[gained] = len(chosen)
            chosen.append((hypothesis, int(agrees.sum())))
            model = hypothesis.model

        causes = [
            self._simulated_cause(hypothesis, agreeing, cause_of == index)
            for index, (hypothesis, agreeing) in enumerate(chosen)
        ]
        causes = [cause for cause in causes if cause.users]
        residual, unexplained = self._residual_causes(table, ~agrees)
        causes.extend(residual)
        causes.sort(key=lambda cause: (-cause.absolute_gap, -cause.users, cause.kind))
        return causes, unexplained

    def _apply(self, hypothesis: _Hypothesis, table: _Table, users: np.ndarray, candidate: _Table | None) -> _Table:
        if candidate is not None:
            return candidate
        part, position = self._fallback(table, users)
        new_part, new_position = table.part.copy(), table.position.copy()
        new_part[users], new_position[users] = part, position
        return _Table(new_part, new_position, new_part >= 0, hypothesis.model)

    def _best(self, hypotheses: list[_Hypothesis], agrees: np.ndarray, table: _Table) -> tuple | None:
        """The hypothesis that explains the most dollars (then users) while breaking almost no agreeing user.

        Only the users a hypothesis changes are compared, so trying a file costs the users it holds, not the feed.
        """
        best = None
        for hypothesis in hypotheses:
            users, now, candidate = self._effect(hypothesis, table, agrees)
            before = agrees[users]
            gained, lost = users[now & ~before], users[before & ~now]
            if not len(gained) or len(lost) > _MAX_BROKEN_SHARE * len(gained):
                continue
            score = (
                int(self._absolute(gained).sum() - self._absolute(lost).sum()),
                len(gained) - len(lost),
            )
            if score > (0, 0) and (best is None or score > best[0]):
                best = (score, hypothesis, gained, lost, users, now, candidate)
        return best

    def _residual_causes(self, table: _Table, left: np.ndarray) -> tuple[list[RootCause], np.ndarray]:
        """Sort what no simulation reproduced into dropped, unexpected, duplicated and changed users."""
        observed_count = self.observed_count
        simulated_count = table.count
        missing = left & (observed_count == 0) & (simulated_count > 0)
        unexpected = left & (simulated_count == 0) & (observed_count > 0)
        duplicated = left & (observed_count > 1)
        drifted = np.zeros(self.size, dtype=bool)
        if table.part is not None:
            candidates = np.flatnonzero(left & (observed_count == 1) & (table.part >= 0))
            version = self.feed.shape.version
            picked_batch = self._picked_values(table, candidates, version)
            drifted[candidates[picked_batch == self.platform.values_at(version, candidates)]] = True
        causes = [
            self._cause(MISSING_USERS, missing, self._file_of_picks(table, missing), self._missing_evidence),
            self._cause(UNEXPECTED_USERS, unexpected, self._file_of_platform(unexpected), self._unexpected_evidence),
            self._cause(DUPLICATE_ROWS, duplicated, self._file_of_extra_rows(table, duplicated), self._duplicate_evidence),
            self._cause(VALUE_DRIFT, drifted, self._file_of_picks(table, drifted), self._drift_evidence),
        ]
        explained = missing | unexpected | duplicated | drifted
        return [cause for cause in causes if cause.users], left & ~explained

    def _picked_values(self, table: _Table, users: np.ndarray, column: str) -> np.ndarray:
        values = np.zeros(len(users), dtype="int64")
        for index, at in _groups(table.part[users], len(self.feed.parts)):
            values[at] = self.feed.column(self.feed.parts[index].file, column)[table.position[users[at]]]
        return values

    # -- building root causes --------------------------------------------------------------------------

    def _simulated_cause(self, hypothesis: _Hypothesis, agreeing: int, users: np.ndarray) -> RootCause:
        name = None if hypothesis.file is None else self.names[hypothesis.file]

        def evidence(users: np.ndarray, examples: pd.DataFrame) -> str:
            return self._simulation_evidence(hypothesis, name, users, examples, agreeing)

        details = dict(hypothesis.note)
        if hypothesis.file is not None:
            details |= self._file_facts(hypothesis.file)
        return self._cause(hypothesis.kind, users, name, evidence, details)

    def _file_facts(self, position: int) -> dict[str, Any]:
        """How big the file is, its batch range, and how many of its users later files update again."""
        batches = self.feed.column(position, self.feed.shape.version)
        later = np.zeros(self.size, dtype=bool)
        for part in self.feed.parts:
            if part.file > position:
                later[part.user] = True
        again = sum(int(later[part.user].sum()) for part in self.feed.parts if part.file == position)
        return {
            "rows": self.feed.rows(position),
            "first_batch": int(batches.min()),
            "last_batch": int(batches.max()),
            "users_in_later_files": again,
        }

    def _cause(
        self, kind: str, users: np.ndarray, file: str | None, evidence, details: dict | None = None
    ) -> RootCause:
        examples = self._examples(users)
        return RootCause(
            kind=kind,
            file=file,
            users=int(users.sum()),
            revenue_gap=int(self.gap[users].sum()),
            share_of_gap=self.share(users),
            evidence=evidence(users, examples) if users.any() else "",
            examples=examples,
            absolute_gap=int(self._absolute(users).sum()),
            details=details or {},
        )

    def _examples(self, users: np.ndarray) -> pd.DataFrame:
        """A few users with the largest gaps: the platform's row, the expected row, and where each lives."""
        members = np.flatnonzero(users)
        members = members[largest(self._absolute(members), EXAMPLES_PER_CAUSE)]
        frame = self.rows.frame(members)
        platform_first = self.platform.first[members]
        row = np.maximum(platform_first, 0)
        if len(self.platform.user):
            file, position, _ = self.matches.rows(row)
            file = np.where(platform_first >= 0, file, -1)
        else:
            file, position = np.full(len(members), -1), np.zeros(len(members), dtype="int64")
        lines = self.feed.lines(file, position)
        frame["platform_file"] = [self.names[code] if code >= 0 else None for code in file]
        frame["platform_source_row"] = [int(line) if code >= 0 else None for code, line in zip(file, lines)]
        return frame

    def _file_of_picks(self, table: _Table, users: np.ndarray) -> str | None:
        if table.part is None or not users.any():
            return None
        picks = table.part[users]
        return self._single_file(self._part_files[picks[picks >= 0]])

    def _file_of_platform(self, users: np.ndarray) -> str | None:
        if not users.any():
            return None
        rows = np.flatnonzero(users[self.platform.user])
        source = self.matches.rows(rows)[0]
        if (source < 0).any():
            return None
        return self._single_file(source)

    def _file_of_extra_rows(self, table: _Table, users: np.ndarray) -> str | None:
        if not users.any():
            return None
        rows = np.flatnonzero(users[self.platform.user])
        owners = self.platform.user[rows]
        names = self.feed.shape.names
        hashes = row_keys(self.platform.frame.iloc[rows], names)
        if table.signature is not None:
            signature = table.signature[owners]
        else:
            # A one-row table's signature is its pick's hash (none without a pick).
            signature = np.zeros(len(rows), dtype="uint64")
            picked = np.flatnonzero(table.part[owners] >= 0)
            key = self.feed.shape.key
            values = {column: self._picked_values(table, owners[picked], column) for column in names if column != key}
            values[key] = self.platform.frame[key].to_numpy()[rows[picked]]
            signature[picked] = row_keys(values, names)
        source = self.matches.rows(rows[hashes != signature])[0]
        if not len(source) or (source < 0).any():
            return None
        return self._single_file(source)

    def _single_file(self, positions: np.ndarray) -> str | None:
        distinct = np.unique(positions)
        return self.names[int(distinct[0])] if len(distinct) == 1 else None

    # -- evidence sentences ----------------------------------------------------------------------------

    def _simulation_evidence(
        self, hypothesis: _Hypothesis, name: str | None, users: np.ndarray, examples: pd.DataFrame, agree: int
    ) -> str:
        dollars = int(self.gap[users].sum())
        without_row = int(np.count_nonzero(users[self._without_row]))  # ``users``: a mask
        return _simulation_sentence(
            hypothesis.kind, hypothesis.note, name, int(users.sum()), dollars, agree, self.size, examples, without_row, self.words
        )

    def _missing_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        return _missing_sentence(int(users.sum()), int(self.gap[users].sum()), examples, self.words)

    def _unexpected_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        rows = np.flatnonzero(users[self.platform.user])
        no_file = int((self.matches.rows(rows)[0] < 0).sum())
        return _unexpected_sentence(int(users.sum()), no_file, int(self.gap[users].sum()), examples, self.words)

    def _duplicate_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        extra = int((self.observed_count[users] - 1).sum())
        return _duplicate_sentence(int(users.sum()), extra, int(self.gap[users].sum()), examples, self.words)

    def _drift_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        return _drift_sentence(self.rows.frame(np.flatnonzero(users)), int(self.gap[users].sum()), examples, self.words)


# -- evidence sentences (the reference diagnosis in tests/ words its findings with these too) -------------


def _simulation_sentence(
    kind: str,
    note: dict,
    name: str | None,
    count: int,
    dollars: int,
    agree: int,
    size: int,
    examples: pd.DataFrame,
    without_row: int = 0,
    words: Words | None = None,
) -> str:
    """What a simulated fault reproduces: ``count`` keys (``without_row`` of them left with no row at all),
    ``dollars`` of gap; ``agree`` of ``size`` keys agree with it."""
    w = words or default_words()
    whole = f"the table simulated with this fault agrees with the platform for {agree:,} of {size:,} {w.keys}"
    example = _example_sentence(examples, w)
    if kind == FILE_NOT_INGESTED:
        lacking = _older_or_none(count, without_row, w.keys, f" instead of their latest one in {name}")
        return (
            f"{lacking}, as if {name} had never "
            f"been loaded; together they are {w.money(dollars)} short. Rebuilding the table from the feed "
            f"without {name} reproduces these rows exactly ({whole}).{example}"
        )
    if kind == FILE_PARTIALLY_INGESTED:
        return (
            f"Only the first {note['kept']:,} of {note['total']:,} rows of {name} reached the platform: "
            f"{_older_or_none(count, without_row, f'{w.keys} whose latest row is further down the file')}, "
            f"{w.money(dollars)} in all ({whole}).{example}"
        )
    if kind == WRONG_DEDUP_ORDER:
        if note["rule"] == "string":
            how = f"comparing {w.version} as text (so 999 beats 1500) instead of by its value"
        else:
            how = "keeping the row of the last file loaded, with files loaded in the order " + ", ".join(note["order"])
        return (
            f"{count:,} {w.keys} hold a row that is not their latest; deduplicating the feed by {how} "
            f"reproduces them exactly, {w.money(dollars)} in all ({whole}).{example}"
        )
    return (
        f"{count:,} {w.keys} appear once per feed row instead of once: the table equals the feed without "
        f"deduplication for them, {w.money(-dollars)} counted twice or more ({whole}).{example}"
    )


def _older_or_none(count: int, without_row: int, who: str, instead: str = "") -> str:
    """``count`` ``who`` that hold an older row (``instead`` of what), or none at all: their only rows went unread."""
    older = f"hold an older row{instead}"
    none = "have no row at all (no other row of theirs was loaded)"
    if not without_row:
        return f"{count:,} {who} {older}"
    if without_row == count:
        return f"{count:,} {who} {none}"
    return f"{count:,} {who} lack their latest row: {count - without_row:,} {older} and {without_row:,} {none}"


def _missing_sentence(count: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{count:,} {w.keys} of the feed are absent from the platform's table, "
        f"{w.money(dollars)} of {w.amount_word} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def _unexpected_sentence(count: int, no_file: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{count:,} {w.keys} on the platform should not be there ({no_file:,} of their rows match no delta "
        f"file), adding {w.money(-dollars)} (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def _duplicate_sentence(count: int, extra: int, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return (
        f"{count:,} {w.keys} appear more than once on the platform ({extra:,} extra rows), "
        f"counting {w.money(-dollars)} more than once (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def _drift_sentence(members: pd.DataFrame, dollars: int, examples: pd.DataFrame, words: Words | None = None) -> str:
    """``members``: the drifting keys' rows of the per-key table (expected_* and platform_* columns)."""
    w = words or default_words()
    changed = [
        f"{column} for {int(count):,}"
        for column in w.encoding.contract.shape.values
        if (count := members[f"expected_{column}"].ne(members[f"platform_{column}"]).sum())
    ]
    return (
        f"{len(members):,} {w.keys} hold the right {w.version} with different values ({', '.join(changed)} {w.keys}), "
        f"{w.money(dollars)} in all (e.g. {w.key_word} {_id_list(examples, w)})."
    )


def _example_sentence(examples: pd.DataFrame, words: Words | None = None) -> str:
    if examples.empty:
        return ""
    w = words or default_words()
    version, amount = w.version, w.encoding.contract.shape.amount
    row = examples.iloc[0]

    def state(prefix: str) -> str:
        held = f"{version} {w.version_value(row[f'{prefix}_{version}'])}"
        return held + (f", {w.amount_word} {w.money(row[f'{prefix}_{amount}'])}" if amount else "")

    platform = state("platform") if pd.notna(row[f"platform_{version}"]) else "no row"
    where = f" from {row['platform_file']}" if row["platform_file"] else ""
    return (
        f" For example, {w.key_word} {w.key(row[w.key_name])} has {platform}{where} on the platform, but its latest "
        f"row is {state('expected')}, in {row[SOURCE_FILE]} row {_integer(row[SOURCE_ROW])}."
    )


def _id_list(examples: pd.DataFrame, words: Words | None = None) -> str:
    w = words or default_words()
    return ", ".join(w.key(key) for key in examples[w.key_name].head(3))


def _integer(value: Any) -> str:
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value)}"


def _groups(codes: np.ndarray, size: int) -> list[tuple[int, np.ndarray]]:
    """For each code from 0 to ``size`` - 1 present in ``codes``, where it occurs (ascending)."""
    if not len(codes):
        return []
    if size <= 16:
        # A pass per code beats a sort when the codes are few (a file each).
        narrow = position_dtype(len(codes))  # positions of 10 M users: half the memory as int32
        return [(code, where.astype(narrow)) for code in range(size) if len(where := np.flatnonzero(codes == code))]
    small = codes.astype("int16") if size < 2**15 else codes  # 16-bit keys sort by radix: linear
    order = np.argsort(small, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(small + 1, minlength=size + 1))])[1:]
    return [(code, order[start:stop]) for code, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])) if stop > start]


def _text_order(batches: list[np.ndarray]) -> list[np.ndarray]:
    """Keys ordering each part's batch_ids as their decimal text does ("1500" before "999"; equal text, equal key)."""
    present = [values for values in batches if len(values)]
    lowest = min((int(values.min()) for values in present), default=0)
    highest = max((int(values.max()) for values in present), default=0)
    if lowest >= 0 and highest < 10**17:
        # The digits shifted to a common width, then the length: a prefix sorts before its extensions.
        digits = len(str(highest))
        powers = 10 ** np.arange(digits + 1, dtype="int64")

        def key(values: np.ndarray) -> np.ndarray:
            length = np.maximum(np.searchsorted(powers, values, side="right"), 1)
            return values * powers[digits - length] * (digits + 1) + length

        return [key(values) for values in batches]
    distinct = pd.unique(np.concatenate(batches)) if batches else np.array([], dtype="int64")
    rank = np.empty(len(distinct), dtype="int64")
    rank[np.argsort(distinct.astype(str), kind="stable")] = np.arange(len(distinct))
    index = pd.Index(distinct)
    return [rank[index.get_indexer(values)] for values in batches]


def _sum_hashes(users: np.ndarray, hashes: np.ndarray, size: int, *, distinct: bool = False) -> np.ndarray:
    """Per user, the sum (mod 2**64) of its rows' hashes: an order-free signature of a set of rows.

    ``distinct`` says no user repeats; users in ascending order are summed by segments.
    """
    if distinct or not len(users):
        signature = np.zeros(size, dtype="uint64")
        signature[users] = hashes
        return signature
    if (users[1:] >= users[:-1]).all():
        # Unsigned integer sums wrap around, so they are the sums mod 2**64.
        starts = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]]))
        signature = np.zeros(size, dtype="uint64")
        signature[users[starts]] = np.add.reduceat(hashes, starts)
        return signature
    low = np.bincount(users, weights=(hashes & np.uint64(0xFFFFFFFF)).astype("float64"), minlength=size)
    high = np.bincount(users, weights=(hashes >> np.uint64(32)).astype("float64"), minlength=size)
    # Exact: each half is below 2**32 and no user has 2**21 rows.
    return (high.astype("uint64") << np.uint64(32)) + low.astype("uint64")
