"""Diagnosing a discrepancy: which explicit faults, simulated on the feed, reproduce the platform's table.

Each hypothesis (a file never ingested, a file cut short, the wrong dedup order, no dedup) is a
change to how the platform would have built its table from the feed. We simulate it, compare the
result with the platform row by row, and keep greedily the change that explains the most dollars
without breaking users that already agreed. What no simulation reproduces is then sorted into
dropped users, unexpected users, duplicate rows and values changed in transit, or left unexplained.
Nothing here looks at file names or at any known case: every answer comes from the rows.

At 10 M users everything is arrays over one dense user index, with the feed's rows ordered by user:
a simulation keeps each user's best and runner-up row, so a file read or cut short is tried by
looking only at that file's rows (a user who loses its pick falls back to its runner-up).
``tests/reference`` holds the earlier pandas version; the tests hold both to the same answers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import SOURCE_FILE, SOURCE_ROW, deduplicate
from checks.lineage import FeedRows, UserIndex, lineage_of, platform_sources, row_keys
from checks.reconcile import MATCH, SPEND_GAP, ExpectedRows, Reconciliation, reconcile_rows
from checks.validate import Delta

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
# A hypothesis may break at most this share of the users it explains (users that already agreed).
_MAX_BROKEN_SHARE = 0.01
_VALUE_COLUMNS = ("total_spend", "count_saved_items", "loyalty_credits", "batch_id")


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "users": self.users,
            "revenue_gap": self.revenue_gap,
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
    lineage: pd.DataFrame = field(repr=False, compare=False)

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
        reconciliation = self.reconciliation
        totals: dict[str, Any] = {
            "expected": reconciliation.expected_total,
            "platform": reconciliation.platform_total,
        }
        if reconciliation.customer_total is not None:
            totals["customer"] = reconciliation.customer_total
        if self.finance_total is not None:
            totals["finance"] = self.finance_total
        totals |= {
            "gap": reconciliation.gap,
            "discrepant_users": reconciliation.discrepant_users,
            "unexplained_users": self.unexplained_users,
            "unexplained_gap": self.unexplained_gap,
            "unexplained_share": round(self.unexplained_share, 6),
        }
        return {
            "totals": totals,
            "classes": {
                summary.name: {"users": summary.users, "revenue_gap": summary.revenue_gap}
                for summary in reconciliation.classes
            },
            "root_causes": [cause.to_dict() for cause in self.root_causes],
        }


def diagnose(
    deltas: Sequence[Delta],
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    finance_total: int | None = None,
    *,
    deduplicated: pd.DataFrame | None = None,
) -> Diagnosis:
    """Reconcile the platform's table with the feed and attribute every dollar of the gap that the data explains.

    ``deduplicated`` is ``checks.dedup.deduplicate(deltas)`` when the caller already has it (not computed again).
    """
    deltas = tuple(deltas)
    users = UserIndex(*[delta.frame["user_id"].to_numpy() for delta in deltas], platform["user_id"].to_numpy())
    rows = FeedRows.stack(deltas, users)
    expected = _deduplicate(deltas, rows) if deduplicated is None else ExpectedRows.spread(deduplicated, users)
    reconciliation = reconcile_rows(expected, platform, customer, rows=rows, users=users)
    del expected
    platform_hash = row_keys(platform)
    source, matches = platform_sources(platform, rows, users, platform_hash)
    lineage = lineage_of(platform, rows, users, source, matches)
    engine = _Engine.build(rows, users, platform, platform_hash, source, reconciliation)
    causes, unexplained = engine.attribute()
    return Diagnosis(
        reconciliation=reconciliation,
        root_causes=tuple(causes),
        unexplained_users=int(unexplained.sum()),
        unexplained_gap=int(engine.gap[unexplained].sum()),
        unexplained_share=engine.share(unexplained),
        finance_total=None if finance_total is None else int(finance_total),
        files=tuple(delta.name for delta in deltas),
        lineage=lineage,
    )


def _deduplicate(deltas: tuple[Delta, ...], rows: FeedRows) -> ExpectedRows:
    """``checks.dedup.deduplicate`` on the stacked arrays, per user; on a tie, the reference raises its error."""
    size, feed_user = rows.users, rows.user
    latest = np.full(size, np.iinfo("int64").min, dtype="int64")
    np.maximum.at(latest, feed_user, rows.batch_id)
    is_latest = rows.batch_id == latest[feed_user]
    del latest
    if np.bincount(feed_user[is_latest], minlength=size).max(initial=0) > 1:
        deduplicate(deltas)  # two latest rows for a user: the reference raises its error, naming them
    pick = np.full(size, -1, dtype="int64")
    pick[feed_user[is_latest]] = np.flatnonzero(is_latest)
    present = pick >= 0
    row = np.maximum(pick, 0)
    values = {column: np.where(present, rows.column(column, row), 0) for column in (*_VALUE_COLUMNS, SOURCE_ROW)}
    source_file = np.where(present, rows.file[row], -1)
    return ExpectedRows(present, values, int(values["total_spend"].sum()), source_file, rows.names)


# --- simulation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """How the platform built its table: which feed rows it read and how it picked one per user."""

    keep: np.ndarray  # bool per feed row
    rule: tuple  # ("numeric",) | ("string",) | ("order", file positions, lowest priority first) | ("none",)


@dataclass(frozen=True)
class _Table:
    """A simulated table, per user: how many rows, a hash of those rows, the row picked and the runner-up (-1 if none)."""

    count: np.ndarray
    signature: np.ndarray
    pick: np.ndarray
    runner_up: np.ndarray


@dataclass(frozen=True)
class _Hypothesis:
    kind: str
    file: int | None
    model: _Model
    note: dict
    removed: np.ndarray | None = None  # the feed rows a file-level change stops reading


class _Engine:
    """The feed and the platform as arrays over one dense user index, so each simulation is linear."""

    def __init__(self, **arrays: Any) -> None:
        self.__dict__.update(arrays)
        self._priorities: dict[tuple, np.ndarray] = {}

    @classmethod
    def build(
        cls,
        rows: FeedRows,
        user_index: UserIndex,
        platform: pd.DataFrame,
        platform_hash: np.ndarray,
        source: np.ndarray,
        reconciliation: Reconciliation,
    ) -> _Engine:
        users = reconciliation.users
        universe = users["user_id"].to_numpy(dtype="int64")
        size = len(universe)
        platform_user = user_index.locate(platform["user_id"].to_numpy(dtype="int64"))
        platform_count = np.bincount(platform_user, minlength=size)
        platform_table = _Table(
            count=platform_count,
            signature=_sum_hashes(platform_user, platform_hash, size, distinct=platform_count.max(initial=0) <= 1),
            pick=_none(size),
            runner_up=_none(size),
        )
        gap = users[SPEND_GAP].to_numpy(dtype="int64")
        # The engine's row r is the feed's row original[r]: rows sorted by user, so that per-user
        # maxima are segment reductions over memory read in order.
        original = rows.by_user()
        inverse = np.empty_like(original)
        inverse[original] = np.arange(len(original), dtype=original.dtype)
        feed_user = rows.user[original]
        counts = np.bincount(feed_user, minlength=size)
        return cls(
            rows=rows,
            names=rows.names,
            universe=universe,
            original=original,
            inverse=inverse,
            feed_user=feed_user,
            segment_starts=(np.cumsum(counts) - counts)[counts > 0],
            segment_sizes=counts[counts > 0],
            feed_hash=rows.hash[original],
            batch=rows.batch_id[original],
            file_position=rows.file[original],
            row_position=rows.position[original],
            platform=platform,
            platform_user=platform_user,
            platform_hash=platform_hash,
            platform_source=np.where(source >= 0, inverse[np.maximum(source, 0)], -1),
            observed=platform_table,
            users=users,
            gap=gap,
            absolute=np.abs(gap),
            discrepant=users["class"].ne(MATCH).to_numpy(),
        )

    def share(self, users: np.ndarray) -> float:
        total = self.absolute[self.discrepant].sum()
        if total > 0:
            return float(self.absolute[users].sum() / total)
        discrepant = self.discrepant.sum()
        return float(users.sum() / discrepant) if discrepant else 0.0

    def agrees(self, table: _Table) -> np.ndarray:
        return (table.count == self.observed.count) & (table.signature == self.observed.signature)

    # -- simulating ------------------------------------------------------------------------------------

    def simulate(self, model: _Model, *, runner_up: bool = True) -> _Table:
        size = len(self.universe)
        if model.rule[0] == "none":
            users = self.feed_user[model.keep]
            return _Table(
                count=np.bincount(users, minlength=size),
                signature=_sum_hashes(users, self.feed_hash[model.keep], size),
                pick=_none(size),
                runner_up=_none(size),
            )
        priority = self._priority(model.rule)
        pick = self._best_rows(priority, model.keep)
        picked = np.flatnonzero(pick >= 0)
        # The runner-up is the pick once the picked rows are gone: what a user falls back to without a file.
        if runner_up:
            others = model.keep.copy()
            others[pick[picked]] = False
            fallback = self._best_rows(priority, others)
        else:
            fallback = _none(size)
        count = np.zeros(size, dtype="int64")
        count[picked] = 1
        signature = np.zeros(size, dtype="uint64")
        signature[picked] = self.feed_hash[pick[picked]]
        return _Table(count=count, signature=signature, pick=pick, runner_up=fallback)

    def _best_rows(self, priority: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Per user, the kept feed row with the highest priority (-1 when none is kept)."""
        pick = np.full(len(self.universe), -1, dtype="int64")
        if not len(priority):
            return pick
        everything = bool(keep.all())
        best = np.maximum.reduceat(priority if everything else np.where(keep, priority, -1), self.segment_starts)
        wins = priority == np.repeat(best, self.segment_sizes)
        if not everything:
            wins &= keep
        pick[self.feed_user[wins]] = np.flatnonzero(wins)
        return pick

    def _priority(self, rule: tuple) -> np.ndarray:
        """One int64 per feed row ordering it within its user by the rule (the highest wins); all distinct."""
        if rule in self._priorities:
            return self._priorities[rule]
        batch = self.batch
        files = max(len(self.names), 1)
        within = int(self.row_position.max(initial=0)) + 1
        if rule[0] == "order":
            primary = np.zeros(len(batch), dtype="int64")
            file_rank = np.empty(files, dtype="int64")
            file_rank[list(rule[1])] = np.arange(files)
            file_key = file_rank[self.file_position]
        else:
            file_key = self.file_position
            if rule[0] == "string":
                distinct = pd.unique(batch)
                text_rank = np.empty(len(distinct), dtype="int64")
                text_rank[np.argsort(distinct.astype(str), kind="stable")] = np.arange(len(distinct))
                primary = text_rank[pd.Index(distinct).get_indexer(batch)]
            else:
                primary = batch
            if primary.min(initial=0) < 0 or int(primary.max(initial=0)) >= (2**62) // (files * within):
                primary = np.unique(primary, return_inverse=True)[1].astype("int64")
        priority = (primary * files + file_key) * within + self.row_position
        if rule == ("numeric",):
            self._priorities[rule] = priority
        return priority

    def _effect(self, hypothesis: _Hypothesis, table: _Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The users a hypothesis changes, with their simulated row counts and signatures."""
        removed = hypothesis.removed
        if removed is None or not self.rows.one_row_per_user_and_file:
            # Only the winner needs runner-ups; it is simulated again once chosen.
            candidate = self.simulate(hypothesis.model, runner_up=False)
            return np.arange(len(self.universe)), candidate.count, candidate.signature
        users = self.feed_user[removed]
        if hypothesis.model.rule[0] == "none":
            # Each removed row is one row fewer for its user (one row per user and file).
            return users, table.count[users] - 1, table.signature[users] - self.feed_hash[removed]
        lost_pick = table.pick[users] == removed
        users = users[lost_pick]
        fallback = table.runner_up[users]
        count = (fallback >= 0).astype("int64")
        signature = np.where(fallback >= 0, self.feed_hash[np.maximum(fallback, 0)], np.uint64(0))
        return users, count, signature

    # -- hypotheses ------------------------------------------------------------------------------------

    def hypotheses(self, model: _Model, table: _Table) -> tuple[list[_Hypothesis], list[_Hypothesis]]:
        """The changes worth trying next: to the files read, and to the way one row per user is chosen."""
        found, rules = [], []
        for position, name in enumerate(self.names):
            in_file = model.keep & (self.file_position == position)
            if not in_file.any():
                continue
            removed = np.flatnonzero(in_file)
            found.append(_Hypothesis(FILE_NOT_INGESTED, position, _Model(model.keep & ~in_file, model.rule), {}, removed))
            cut = self._truncation_point(position, in_file, table)
            if cut is not None:
                kept_rows, total_rows, first_row = cut
                cut_off = in_file & (self.row_position >= first_row)
                note = {"kept": kept_rows, "total": total_rows}
                hypothesis = _Hypothesis(
                    FILE_PARTIALLY_INGESTED, position, _Model(model.keep & ~cut_off, model.rule), note, np.flatnonzero(cut_off)
                )
                found.append(hypothesis)
        if model.rule == ("numeric",):
            rules.append(_Hypothesis(WRONG_DEDUP_ORDER, None, _Model(model.keep, ("string",)), {"rule": "string"}))
            for order in self._candidate_orders():
                note = {"rule": "order", "order": [self.names[position] for position in order]}
                rules.append(_Hypothesis(WRONG_DEDUP_ORDER, None, _Model(model.keep, ("order", order)), note))
            rules.append(_Hypothesis(DUPLICATE_ROWS, None, _Model(model.keep, ("none",)), {"rule": "none"}))
        return found, rules

    def _truncation_point(self, position: int, in_file: np.ndarray, table: _Table) -> tuple[int, int, int] | None:
        """Where the platform stopped reading a file: the cut that best splits rows it shows from rows it lacks."""
        # The file's rows in file order, read from the feed-order arrays: only per-user lookups jump around.
        start, stop = self.rows.offsets[position], self.rows.offsets[position + 1]
        rows = self.inverse[start:stop]
        kept = in_file[rows]
        users, hashes, lines = self.rows.user[start:stop], self.rows.hash[start:stop], self.rows.position[start:stop]
        if not kept.all():
            rows, users, hashes, lines = rows[kept], users[kept], hashes[kept], lines[kept]
        shown = (self.observed.count[users] == 1) & (self.observed.signature[users] == hashes)
        lacking = (table.pick[users] == rows) & ~shown
        if not lacking.any():
            return None
        shown_before = np.concatenate([[0], np.cumsum(shown)])
        lacking_after = lacking.sum() - np.concatenate([[0], np.cumsum(lacking)])
        score = shown_before + lacking_after
        cut = len(score) - 1 - int(np.argmax(score[::-1]))  # the largest prefix among the best
        if cut == 0 or cut == len(rows):
            return None
        return cut, len(rows), int(lines[cut])

    def _candidate_orders(self) -> list[tuple[int, ...]]:
        """Load orders to try for "last file loaded wins": the one the platform's rows imply, and the reverse."""
        # They depend on the feed and the platform only, not on the model: computed once.
        if not hasattr(self, "_orders"):
            self._orders = self._inferred_orders()
        return self._orders

    def _inferred_orders(self) -> list[tuple[int, ...]]:
        files = len(self.names)
        if files < 2:
            return []
        source = self.platform_source
        single = self.observed.count[self.platform_user] == 1
        chosen_file = np.where((source >= 0) & single, self.file_position[np.maximum(source, 0)], -1)
        # For users in several files, how often the platform kept each file's row.
        in_files = np.bincount(self.feed_user, minlength=len(self.universe))
        multi = in_files[self.feed_user] > 1
        appearances = np.bincount(self.file_position[multi], minlength=files)
        winner = chosen_file[(chosen_file >= 0) & (in_files[self.platform_user] > 1)]
        wins = np.bincount(winner, minlength=files)
        rate = np.where(appearances > 0, wins / np.maximum(appearances, 1), 0.0)
        inferred = tuple(int(p) for p in np.lexsort((np.arange(files), rate)))
        orders = [inferred, tuple(range(files - 1, -1, -1))]
        return [order for index, order in enumerate(orders) if order not in orders[:index]]

    # -- attribution -----------------------------------------------------------------------------------

    def attribute(self) -> tuple[list[RootCause], np.ndarray]:
        model = _Model(np.ones(len(self.feed_user), dtype=bool), ("numeric",))
        table = self.simulate(model)
        agrees = self.agrees(table)
        cause_of = np.full(len(self.universe), -1)
        chosen: list[tuple[_Hypothesis, int]] = []
        while True:
            # Files first: a missing or cut file is the simpler story, and a load order that puts
            # a file last can mimic a file never loaded.
            file_level, rule_level = self.hypotheses(model, table)
            best = self._best(file_level, agrees, table) or self._best(rule_level, agrees, table)
            if best is None:
                break
            _, hypothesis, gained, lost = best
            table = self.simulate(hypothesis.model)
            agrees = self.agrees(table)
            cause_of[lost] = -1
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

    def _best(self, hypotheses: list[_Hypothesis], agrees: np.ndarray, table: _Table) -> tuple | None:
        """The hypothesis that explains the most dollars (then users) while breaking almost no agreeing user.

        Only the users a hypothesis changes are compared, so trying a file costs its rows, not the feed's.
        """
        best = None
        for hypothesis in hypotheses:
            users, count, signature = self._effect(hypothesis, table)
            now = (count == self.observed.count[users]) & (signature == self.observed.signature[users])
            before = agrees[users]
            gained, lost = users[now & ~before], users[before & ~now]
            if not len(gained) or len(lost) > _MAX_BROKEN_SHARE * len(gained):
                continue
            score = (
                int(self.absolute[gained].sum() - self.absolute[lost].sum()),
                len(gained) - len(lost),
            )
            if score > (0, 0) and (best is None or score > best[0]):
                best = (score, hypothesis, gained, lost)
        return best

    def _residual_causes(self, table: _Table, left: np.ndarray) -> tuple[list[RootCause], np.ndarray]:
        """Sort what no simulation reproduced into dropped, unexpected, duplicated and changed users."""
        observed = self.observed
        platform_first = self._platform_first_row()
        picked_batch = self.batch[np.maximum(table.pick, 0)]
        platform_batch = self.platform["batch_id"].to_numpy()[np.maximum(platform_first, 0)]
        missing = left & (observed.count == 0) & (table.count > 0)
        unexpected = left & (table.count == 0) & (observed.count > 0)
        duplicated = left & (observed.count > 1)
        drifted = left & (observed.count == 1) & (table.pick >= 0) & (picked_batch == platform_batch)
        causes = [
            self._cause(MISSING_USERS, missing, self._file_of_picks(table, missing), self._missing_evidence),
            self._cause(UNEXPECTED_USERS, unexpected, self._file_of_platform(unexpected), self._unexpected_evidence),
            self._cause(DUPLICATE_ROWS, duplicated, self._file_of_extra_rows(table, duplicated), self._duplicate_evidence),
            self._cause(VALUE_DRIFT, drifted, self._file_of_picks(table, drifted), self._drift_evidence),
        ]
        explained = missing | unexpected | duplicated | drifted
        return [cause for cause in causes if cause.users], left & ~explained

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
        in_file = self.file_position == position
        batches = self.batch[in_file]
        later = np.zeros(len(self.universe), dtype=bool)
        later[self.feed_user[self.file_position > position]] = True
        return {
            "rows": int(in_file.sum()),
            "first_batch": int(batches.min()),
            "last_batch": int(batches.max()),
            "users_in_later_files": int(later[self.feed_user[in_file]].sum()),
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
            absolute_gap=int(self.absolute[users].sum()),
            details=details or {},
        )

    def _examples(self, users: np.ndarray) -> pd.DataFrame:
        """A few users with the largest gaps: the platform's row, the expected row, and where each lives."""
        members = np.flatnonzero(users)
        members = members[np.argsort(-self.absolute[members], kind="stable")][:EXAMPLES_PER_CAUSE]
        frame = self.users.iloc[members].reset_index(drop=True)
        platform_first = self._platform_first_row()[members]
        source = np.where(platform_first >= 0, self.platform_source[np.maximum(platform_first, 0)], -1)
        lines = self.rows.column(SOURCE_ROW, self.original[np.maximum(source, 0)])
        frame["platform_file"] = [self.names[self.file_position[row]] if row >= 0 else None for row in source]
        frame["platform_source_row"] = [int(line) if row >= 0 else None for row, line in zip(source, lines)]
        return frame

    def _platform_first_row(self) -> np.ndarray:
        """Per user, the position of its first platform row (-1 when the platform has none)."""
        if not hasattr(self, "_first_rows"):
            first = np.full(len(self.universe), -1)
            positions = np.arange(len(self.platform_user))
            first[self.platform_user[::-1]] = positions[::-1]
            self._first_rows = first
        return self._first_rows

    def _file_of_picks(self, table: _Table, users: np.ndarray) -> str | None:
        picks = table.pick[users]
        return self._single_file(self.file_position[picks[picks >= 0]])

    def _file_of_platform(self, users: np.ndarray) -> str | None:
        rows = np.flatnonzero(users[self.platform_user])
        source = self.platform_source[rows]
        if (source < 0).any():
            return None
        return self._single_file(self.file_position[source])

    def _file_of_extra_rows(self, table: _Table, users: np.ndarray) -> str | None:
        rows = np.flatnonzero(users[self.platform_user])
        extra = rows[self.platform_hash[rows] != table.signature[self.platform_user[rows]]]
        source = self.platform_source[extra]
        if not len(source) or (source < 0).any():
            return None
        return self._single_file(self.file_position[source])

    def _single_file(self, positions: np.ndarray) -> str | None:
        distinct = np.unique(positions)
        return self.names[int(distinct[0])] if len(distinct) == 1 else None

    # -- evidence sentences ----------------------------------------------------------------------------

    def _simulation_evidence(
        self, hypothesis: _Hypothesis, name: str | None, users: np.ndarray, examples: pd.DataFrame, agree: int
    ) -> str:
        count, dollars = int(users.sum()), int(self.gap[users].sum())
        whole = f"with it, the simulated table agrees with the platform for {agree:,} of {len(self.universe):,} users"
        example = _example_sentence(examples)
        if hypothesis.kind == FILE_NOT_INGESTED:
            return (
                f"{count:,} users hold an older row instead of their latest one in {name}, as if {name} had never "
                f"been loaded; together they are {_dollars(dollars)} short. Rebuilding the table from the feed "
                f"without {name} reproduces these rows exactly ({whole}).{example}"
            )
        if hypothesis.kind == FILE_PARTIALLY_INGESTED:
            note = hypothesis.note
            return (
                f"Only the first {note['kept']:,} of {note['total']:,} rows of {name} reached the platform: "
                f"{count:,} users whose latest row is further down the file hold an older row, "
                f"{_dollars(dollars)} in all ({whole}).{example}"
            )
        if hypothesis.kind == WRONG_DEDUP_ORDER:
            if hypothesis.note["rule"] == "string":
                how = "comparing batch_id as text (so 999 beats 1500) instead of as a number"
            else:
                how = "keeping the row of the last file loaded, with files loaded in the order " + ", ".join(
                    hypothesis.note["order"]
                )
            return (
                f"{count:,} users hold a row that is not their latest; deduplicating the feed by {how} "
                f"reproduces them exactly, {_dollars(dollars)} in all ({whole}).{example}"
            )
        return (
            f"{count:,} users appear once per feed row instead of once: the table equals the feed without "
            f"deduplication for them, {_dollars(-dollars)} counted twice or more ({whole}).{example}"
        )

    def _missing_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        ids = _id_list(examples)
        return (
            f"{int(users.sum()):,} users of the feed are absent from the platform's table, "
            f"{_dollars(int(self.gap[users].sum()))} of spend (e.g. user {ids})."
        )

    def _unexpected_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        rows = np.flatnonzero(users[self.platform_user])
        no_file = int((self.platform_source[rows] < 0).sum())
        return (
            f"{int(users.sum()):,} users on the platform should not be there ({no_file:,} of their rows match no delta "
            f"file), adding {_dollars(-int(self.gap[users].sum()))} (e.g. user {_id_list(examples)})."
        )

    def _duplicate_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        extra = int((self.observed.count[users] - 1).sum())
        return (
            f"{int(users.sum()):,} users appear more than once on the platform ({extra:,} extra rows), "
            f"counting {_dollars(-int(self.gap[users].sum()))} more than once (e.g. user {_id_list(examples)})."
        )

    def _drift_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        members = self.users[users]
        changed = [
            f"{column} for {int(count):,}"
            for column in _VALUE_COLUMNS[:-1]
            if (count := members[f"expected_{column}"].ne(members[f"platform_{column}"]).sum())
        ]
        return (
            f"{int(users.sum()):,} users hold the right batch_id with different values ({', '.join(changed)} users), "
            f"{_dollars(int(self.gap[users].sum()))} in all (e.g. user {_id_list(examples)})."
        )


def _example_sentence(examples: pd.DataFrame) -> str:
    if examples.empty:
        return ""
    row = examples.iloc[0]
    platform = (
        f"batch_id {_integer(row['platform_batch_id'])}, spend {_dollars(row['platform_total_spend'])}"
        if pd.notna(row["platform_batch_id"])
        else "no row"
    )
    where = f" from {row['platform_file']}" if row["platform_file"] else ""
    return (
        f" For example, user {int(row['user_id'])} has {platform}{where} on the platform, but its latest row is "
        f"batch_id {_integer(row['expected_batch_id'])}, spend {_dollars(row['expected_total_spend'])}, "
        f"in {row[SOURCE_FILE]} row {_integer(row[SOURCE_ROW])}."
    )


def _id_list(examples: pd.DataFrame) -> str:
    return ", ".join(str(int(user)) for user in examples["user_id"].head(3))


def _integer(value: Any) -> str:
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value)}"


def _dollars(value: Any) -> str:
    value = int(value)
    return f"-${-value:,}" if value < 0 else f"${value:,}"


def _none(size: int) -> np.ndarray:
    """-1 for every user, as a read-only view that takes no memory."""
    return np.broadcast_to(np.int64(-1), (size,))


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
