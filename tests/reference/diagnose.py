"""Diagnosing a discrepancy: which explicit faults, simulated on the feed, reproduce the platform's table.

Each hypothesis (a file never ingested, a file cut short, the wrong dedup order, no dedup) is a
change to how the platform would have built its table from the feed. We simulate it, compare the
result with the platform row by row, and keep greedily the change that explains the most dollars
without breaking users that already agreed. What no simulation reproduces is then sorted into
dropped users, unexpected users, duplicate rows and values changed in transit, or left unexplained.
Nothing here looks at file names or at any known case: every answer comes from the rows.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from checks.dedup import deduplicate
from checks.sample import COLUMNS
from checks.model import SOURCE_FILE, SOURCE_ROW, stack_feed
from tests.reference.lineage import first_feed_row, row_keys, trace_lineage
from tests.reference.mechanisms import column_mechanisms, shifted_keys
from tests.reference.reconcile import MATCH, SPEND_GAP, Reconciliation, reconcile
from checks.model import Delta

# The kinds, constants and result classes are the production ones: only the algorithm is the reference.
from checks.diagnose.results import (  # noqa: E402
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    WRONG_DEDUP_ORDER,
    DUPLICATE_ROWS,
    MISSING_USERS,
    UNEXPECTED_USERS,
    VALUE_DRIFT,
    EXAMPLES_PER_CAUSE,
    MAX_BROKEN_SHARE,
    CONSTANT,
    SHIFTED_KEYS,
    UNEXPLAINED,
    Mechanism,
    RootCause,
    Diagnosis,
)
from checks.diagnose.sentences import (  # noqa: E402
    drift_sentence,
    duplicate_sentence,
    mechanism_sentence,
    mechanism_words,
    missing_sentence,
    simulation_sentence,
    unexpected_sentence,
)


def diagnose(
    deltas: Sequence[Delta],
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    finance_total: int | None = None,
) -> Diagnosis:
    """Reconcile the platform's table with the feed and attribute every dollar of the gap that the data explains."""
    deltas = tuple(deltas)
    expected = deduplicate(deltas)
    reconciliation = reconcile(expected, platform, customer, feed=deltas)
    lineage = trace_lineage(platform, deltas)
    engine = _Engine.build(deltas, platform, reconciliation)
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


# --- simulation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """How the platform built its table: which feed rows it read and how it picked one per user."""

    keep: np.ndarray  # bool per feed row
    rule: tuple  # ("numeric",) | ("string",) | ("order", file positions, lowest priority first) | ("none",)


@dataclass(frozen=True)
class _Table:
    """A simulated table, per user: how many rows, a hash of those rows, and the row picked (-1 if not one)."""

    count: np.ndarray
    signature: np.ndarray
    pick: np.ndarray


@dataclass(frozen=True)
class _Hypothesis:
    kind: str
    file: int | None
    model: _Model
    note: dict


class _Engine:
    """The feed and the platform as arrays over one dense user index, so each simulation is linear."""

    def __init__(self, **arrays: Any) -> None:
        self.__dict__.update(arrays)
        self._orders: dict[tuple, np.ndarray] = {}

    @classmethod
    def build(cls, deltas: tuple[Delta, ...], platform: pd.DataFrame, reconciliation: Reconciliation) -> _Engine:
        users = reconciliation.users
        universe = users["user_id"].to_numpy(dtype="int64")
        feed = stack_feed(deltas)
        file_position = np.repeat(np.arange(len(deltas)), [len(delta.frame) for delta in deltas])
        row_position = np.concatenate([np.arange(len(delta.frame)) for delta in deltas]) if deltas else np.array([], int)
        feed_user = np.searchsorted(universe, feed["user_id"].to_numpy())
        feed_hash = row_keys(feed)
        platform_user = np.searchsorted(universe, platform["user_id"].to_numpy())
        platform_hash = row_keys(platform)
        size = len(universe)
        platform_table = _Table(
            count=np.bincount(platform_user, minlength=size),
            signature=_sum_hashes(platform_user, platform_hash, size),
            pick=np.full(size, -1),
        )
        gap = users[SPEND_GAP].to_numpy(dtype="int64")
        engine = cls(
            deltas=deltas,
            names=tuple(delta.name for delta in deltas),
            universe=universe,
            feed=feed,
            feed_user=feed_user,
            feed_hash=feed_hash,
            file_position=file_position,
            row_position=row_position,
            platform=platform,
            platform_user=platform_user,
            platform_hash=platform_hash,
            observed=platform_table,
            users=users,
            gap=gap,
            absolute=np.abs(gap),
            discrepant=users["class"].ne(MATCH).to_numpy(),
        )
        engine.platform_source = engine._platform_source()
        engine.composed_extra = 0  # where a change and a transformation share a user's gap: the parts' extra size
        return engine

    # Which feed row (first in feed order) each platform row equals, -1 when none (keys hold user_id too).
    def _platform_source(self) -> np.ndarray:
        position = first_feed_row(self.feed_hash, self.platform_hash)
        source = np.maximum(position, 0)
        exact = position >= 0
        for column in COLUMNS:
            exact &= self.feed[column].to_numpy()[source] == self.platform[column].to_numpy()
        return np.where(exact, position, -1)

    def share(self, users: np.ndarray) -> float:
        total = self.absolute[self.discrepant].sum() + self.composed_extra
        if total > 0:
            return float(self.absolute[users].sum() / total)
        discrepant = self.discrepant.sum()
        return float(users.sum() / discrepant) if discrepant else 0.0

    def agrees(self, table: _Table) -> np.ndarray:
        return (table.count == self.observed.count) & (table.signature == self.observed.signature)

    # -- simulating ------------------------------------------------------------------------------------

    def simulate(self, model: _Model) -> _Table:
        size = len(self.universe)
        if model.rule[0] == "none":
            users = self.feed_user[model.keep]
            return _Table(
                count=np.bincount(users, minlength=size),
                signature=_sum_hashes(users, self.feed_hash[model.keep], size),
                pick=np.full(size, -1),
            )
        order = self._order(model.rule)
        order = order[model.keep[order]]
        users = self.feed_user[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = users[1:] != users[:-1]
        picks = order[last]
        picked_users = self.feed_user[picks]
        count = np.zeros(size, dtype="int64")
        count[picked_users] = 1
        signature = np.zeros(size, dtype="uint64")
        signature[picked_users] = self.feed_hash[picks]
        pick = np.full(size, -1)
        pick[picked_users] = picks
        return _Table(count=count, signature=signature, pick=pick)

    def _order(self, rule: tuple) -> np.ndarray:
        """Feed rows sorted by user, then by the rule's priority (the last row of each user wins)."""
        if rule not in self._orders:
            batch = self.feed["batch_id"].to_numpy()
            if rule[0] == "numeric":
                keys = (self.row_position, self.file_position, batch)
            elif rule[0] == "string":
                distinct = np.unique(batch)
                as_text = distinct.astype(str)
                text_rank = np.empty(len(distinct), dtype="int64")
                text_rank[np.argsort(as_text, kind="stable")] = np.arange(len(distinct))
                keys = (self.row_position, self.file_position, text_rank[np.searchsorted(distinct, batch)])
            else:
                priority = np.empty(len(self.deltas), dtype="int64")
                priority[list(rule[1])] = np.arange(len(self.deltas))
                keys = (self.row_position, priority[self.file_position])
            self._orders[rule] = np.lexsort((*keys, self.feed_user))
        return self._orders[rule]

    # -- hypotheses ------------------------------------------------------------------------------------

    def hypotheses(self, model: _Model, table: _Table) -> tuple[list[_Hypothesis], list[_Hypothesis]]:
        """The changes worth trying next: to the files read, and to the way one row per user is chosen."""
        found, rules = [], []
        for position, name in enumerate(self.names):
            in_file = model.keep & (self.file_position == position)
            if not in_file.any():
                continue
            found.append(_Hypothesis(FILE_NOT_INGESTED, position, _Model(model.keep & ~in_file, model.rule), {}))
            cut = self._truncation_point(position, in_file, table)
            if cut is not None:
                kept_rows, total_rows, first_row = cut
                keep = model.keep & ~(in_file & (self.row_position >= first_row))
                note = {"kept": kept_rows, "total": total_rows}
                found.append(_Hypothesis(FILE_PARTIALLY_INGESTED, position, _Model(keep, model.rule), note))
        if model.rule == ("numeric",):
            rules.append(_Hypothesis(WRONG_DEDUP_ORDER, None, _Model(model.keep, ("string",)), {"rule": "string"}))
            for order in self._candidate_orders():
                note = {
                    "rule": "order", "order": [self.names[position] for position in order],
                    "first_wins": order == tuple(range(len(self.names) - 1, -1, -1)),
                }
                rules.append(_Hypothesis(WRONG_DEDUP_ORDER, None, _Model(model.keep, ("order", order)), note))
            rules.append(_Hypothesis(DUPLICATE_ROWS, None, _Model(model.keep, ("none",)), {"rule": "none"}))
        return found, rules

    def _truncation_point(self, position: int, in_file: np.ndarray, table: _Table) -> tuple[int, int, int] | None:
        """Where the platform stopped reading a file: the cut that best splits rows it shows from rows it lacks."""
        rows = np.flatnonzero(in_file)
        rows = rows[np.argsort(self.row_position[rows], kind="stable")]
        users = self.feed_user[rows]
        shown = (self.observed.count[users] == 1) & (self.observed.signature[users] == self.feed_hash[rows])
        lacking = (table.pick[users] == rows) & ~shown
        if not lacking.any():
            return None
        shown_before = np.concatenate([[0], np.cumsum(shown)])
        lacking_after = lacking.sum() - np.concatenate([[0], np.cumsum(lacking)])
        score = shown_before + lacking_after
        cut = len(score) - 1 - int(np.argmax(score[::-1]))  # the largest prefix among the best
        if cut == 0 or cut == len(rows):
            return None
        return cut, len(rows), int(self.row_position[rows[cut]])

    def _candidate_orders(self) -> list[tuple[int, ...]]:
        """Load orders to try for "last file loaded wins": the feed's reversed (the first row kept), then the one the
        platform's rows imply."""
        files = len(self.deltas)
        if files < 2:
            return []
        source = self.platform_source
        single = self.observed.count[self.platform_user] == 1
        chosen_file = np.where((source >= 0) & single, self.file_position[np.maximum(source, 0)], -1)
        # For users in several files, how often the platform kept each file's row.
        in_files = np.zeros((len(self.universe),), dtype="int64")
        np.add.at(in_files, self.feed_user, 1)
        multi = in_files[self.feed_user] > 1
        appearances = np.bincount(self.file_position[multi], minlength=files)
        winner = chosen_file[(chosen_file >= 0) & (in_files[self.platform_user] > 1)]
        wins = np.bincount(winner, minlength=files)
        rate = np.where(appearances > 0, wins / np.maximum(appearances, 1), 0.0)
        inferred = tuple(int(p) for p in np.lexsort((np.arange(files), rate)))
        orders = [tuple(range(files - 1, -1, -1)), inferred]
        return [order for index, order in enumerate(orders) if order not in orders[:index]]

    # -- attribution -----------------------------------------------------------------------------------

    def attribute(self) -> tuple[list[RootCause], np.ndarray]:
        model = first_model = _Model(np.ones(len(self.feed_user), dtype=bool), ("numeric",))
        table = first_table = self.simulate(model)
        agrees = first_agrees = self.agrees(table)
        cause_of = np.full(len(self.universe), -1)
        moved_by = np.full(len(self.universe), -1)  # the last chosen change that changed a user's pick
        chosen: list[tuple[_Hypothesis, _Table]] = []
        while True:
            # Files first: a missing or cut file is the simpler story, and a load order that puts
            # a file last can mimic a file never loaded.
            file_level, rule_level = self.hypotheses(model, table)
            best = self._best(file_level, agrees, table) or self._best(rule_level, agrees, table)
            if best is None:
                break
            _, hypothesis, candidate, now, gained, lost = best
            cause_of[lost] = -1
            cause_of[gained] = len(chosen)
            moved_by[(candidate.pick != table.pick) | (candidate.count != table.count)] = len(chosen)
            chosen.append((hypothesis, table))
            model, table, agrees = hypothesis.model, candidate, now
        whole = self._whole_story(first_model, first_agrees, chosen, agrees) if len(chosen) > 1 else None
        if whole is not None:
            hypothesis, table, agrees = whole
            cause_of = np.where(agrees & ~first_agrees, 0, -1)
            moved_by = np.where((table.pick != first_table.pick) | (table.count != first_table.count), 0, -1)
            chosen = [(hypothesis, first_table)]

        residual, unexplained, transformed = self._residual_causes(table, ~agrees, moved_by)
        causes = []
        for index, (hypothesis, before) in enumerate(chosen):
            # The users it moved to a row a load then transformed: theirs too, less what the transformation changed.
            also = {user: self.gap[user] - changed for user, changed in transformed.items() if moved_by[user] == index}
            causes.append(self._simulated_cause(hypothesis, before, cause_of == index, also))
        causes = [cause for cause in causes if cause.users]
        causes.extend(residual)
        causes.sort(key=lambda cause: (-cause.absolute_gap, -cause.users, cause.kind))
        return causes, unexplained

    def _whole_story(
        self, first_model: _Model, first_agrees: np.ndarray, chosen: list[tuple[_Hypothesis, _Table]], agrees: np.ndarray
    ) -> tuple[_Hypothesis, _Table, np.ndarray] | None:
        """A chosen change that alone, from the first table, makes agree every user the chosen changes left agreeing
        and every user that agreed at the start: the whole story (the others came of trying files first). Of several,
        the one agreeing with more users, then the first chosen."""
        whole = None
        for hypothesis, _ in chosen:
            if hypothesis.file is None:
                model = _Model(first_model.keep, hypothesis.model.rule)
            else:
                in_file = self.file_position == hypothesis.file
                model = _Model(np.where(in_file, hypothesis.model.keep, first_model.keep), first_model.rule)
            alone = _Hypothesis(hypothesis.kind, hypothesis.file, model, hypothesis.note)
            candidate = self.simulate(model)
            now = self.agrees(candidate)
            if now[agrees | first_agrees].all() and (whole is None or now.sum() > whole[2].sum()):
                whole = (alone, candidate, now)
        return whole

    def _best(self, hypotheses: list[_Hypothesis], agrees: np.ndarray, table: _Table) -> tuple | None:
        """The hypothesis that explains the most dollars (then users) while breaking almost no agreeing user, nor
        leaving a user the platform shows without any row."""
        best = None
        for hypothesis in hypotheses:
            candidate = self.simulate(hypothesis.model)
            now = self.agrees(candidate)
            gained, lost = now & ~agrees, agrees & ~now
            orphaned = (candidate.count == 0) & (table.count > 0) & (self.observed.count > 0)
            if not gained.any() or lost.sum() + orphaned.sum() > MAX_BROKEN_SHARE * gained.sum():
                continue
            score = (int(self.absolute[gained].sum() - self.absolute[lost].sum()), int(gained.sum() - lost.sum()))
            if score > (0, 0) and (best is None or score > best[0]):
                best = (score, hypothesis, candidate, now, gained, lost)
        return best

    def _residual_causes(self, table: _Table, left: np.ndarray, moved_by: np.ndarray) -> tuple[list[RootCause], np.ndarray, dict[int, int]]:
        """Sort what no simulation reproduced into dropped, unexpected, duplicated and changed users; name what a
        load did to the values where a mechanism reproduces them. Also each transformed user's changed dollars."""
        observed = self.observed
        platform_first = self._platform_first_row()
        picked_batch = self.feed["batch_id"].to_numpy()[np.maximum(table.pick, 0)]
        platform_batch = self.platform["batch_id"].to_numpy()[np.maximum(platform_first, 0)]
        missing = left & (observed.count == 0) & (table.count > 0)
        unexpected = left & (table.count == 0) & (observed.count > 0)
        duplicated = left & (observed.count > 1)
        candidates = [int(user) for user in np.flatnonzero(left & (observed.count == 1) & (table.pick >= 0))]
        found = self._mechanisms(table, candidates)
        explained = set().union(*(users for _, users in found))
        # What each transformed user's picked row and platform row differ by in spend.
        transformed = {
            user: int(self.feed["total_spend"].iat[table.pick[user]] - self.platform["total_spend"].iat[platform_first[user]])
            for user in sorted(explained)
        }
        for user, changed in transformed.items():
            if moved_by[user] >= 0:
                self.composed_extra += abs(self.gap[user] - changed) + abs(changed) - abs(self.gap[user])
        drift_causes = [self._mechanism_cause(mechanism, users, table, transformed) for mechanism, users in found]
        unexplained_drift = left & (observed.count == 1) & (table.pick >= 0) & (picked_batch == platform_batch)
        unexplained_drift[list(explained)] = False
        drift_causes.append(
            self._cause(VALUE_DRIFT, unexplained_drift, table, self._file_of_picks(table, unexplained_drift),
                        self._drift_evidence, mechanism=Mechanism(UNEXPLAINED, ()))
        )
        drifted = unexplained_drift.copy()
        drifted[list(explained)] = True
        causes = [
            self._cause(MISSING_USERS, missing, table, self._file_of_picks(table, missing), self._missing_evidence),
            self._cause(UNEXPECTED_USERS, unexpected, table, self._file_of_platform(unexpected), self._unexpected_evidence),
            self._cause(DUPLICATE_ROWS, duplicated, table, self._file_of_extra_rows(table, duplicated), self._duplicate_evidence),
            *drift_causes,
        ]
        explained = missing | unexpected | duplicated | drifted
        return [cause for cause in causes if cause.users], left & ~explained, transformed

    def _mechanisms(self, table: _Table, candidates: list[int]) -> list[tuple[Mechanism, set[int]]]:
        """The mechanisms that reproduce the candidates' platform rows from their picked rows (users as positions)."""
        columns = [column for column in COLUMNS if column != "user_id"]
        first = self._platform_first_row()
        feed_rows = self.feed[columns].to_numpy().tolist()
        platform_rows = self.platform[columns].to_numpy().tolist()
        rows = [
            (dict(zip(columns, feed_rows[table.pick[user]])), dict(zip(columns, platform_rows[first[user]])))
            for user in candidates
        ]
        found = [
            (mechanism, {candidates[at] for at in users}) for mechanism, users in column_mechanisms(rows, columns)
        ]
        explained = set().union(*(users for _, users in found))
        rest = [at for at, user in enumerate(candidates) if user not in explained]

        def by_file():
            for position in range(len(self.deltas)):
                mine = [at for at in rest if self.file_position[table.pick[candidates[at]]] == position]
                in_file = [dict(zip(columns, values)) for values in self.deltas[position].frame[columns].to_numpy().tolist()]
                yield (
                    [candidates[at] for at in mine],
                    [rows[at][1] for at in mine],
                    [int(self.row_position[table.pick[candidates[at]]]) for at in mine],
                    in_file,
                )

        expected = deduplicate(self.deltas).sort_values("user_id")
        rank = {int(user): at for at, user in enumerate(expected["user_id"])}
        in_key_order = [dict(zip(columns, values)) for values in expected[columns].to_numpy().tolist()]
        left = [candidates[at] for at in rest]
        by_key = (
            [rows[at][1] for at in rest],
            [rank[int(self.universe[candidates[at]])] for at in rest],
            in_key_order,
        )
        return found + shifted_keys(left, lambda: list(by_file()), by_key, "user_id")

    def _mechanism_cause(self, mechanism: Mechanism, users: set[int], table: _Table, transformed: dict[int, int]) -> RootCause:
        members = sorted(users)
        moves = mechanism.name == SHIFTED_KEYS or "total_spend" in mechanism.columns
        dollars = np.array([transformed[user] if moves else 0 for user in members], dtype="int64")
        if mechanism.name == CONSTANT:
            mechanism = Mechanism(mechanism.name, mechanism.columns, str(mechanism.value))
        mask = np.zeros(len(self.universe), dtype=bool)
        mask[members] = True
        file = self._file_of_picks(table, mask)
        changes = self._changes(mechanism, members, dollars, table)
        evidence = mechanism_sentence(mechanism, file, len(members), int(dollars.sum()), changes)
        details = {"changes": changes, **dict(zip(("what", "why", "fix"), mechanism_words(mechanism)))}
        return self._cause(VALUE_DRIFT, mask, table, file, lambda *_: evidence, details, dollars=dollars, mechanism=mechanism)

    def _changes(self, mechanism: Mechanism, members: list[int], dollars: np.ndarray, table: _Table) -> list[dict[str, str]]:
        """The first three users by size of the dollars changed: each changed column, in the file and on the platform."""
        shown = sorted(range(len(members)), key=lambda at: -abs(int(dollars[at])))[:3]
        first = self._platform_first_row()
        columns = [column for column in COLUMNS if column != "user_id"]
        changes = []
        for at in shown:
            user = members[at]
            for column in mechanism.columns if mechanism.name != SHIFTED_KEYS else columns:
                file_value = int(self.feed[column].iat[table.pick[user]])
                platform_value = int(self.platform[column].iat[first[user]])
                if mechanism.name == SHIFTED_KEYS and file_value == platform_value:
                    continue
                changes.append({"key": str(int(self.universe[user])), "column": column, "file": str(file_value), "platform": str(platform_value)})
        return changes

    # -- building root causes --------------------------------------------------------------------------

    def _simulated_cause(self, hypothesis: _Hypothesis, before: _Table, users: np.ndarray, also: dict[int, int]) -> RootCause:
        """``also``: users it moved to a row a load then transformed, with the dollars it explains for each."""
        name = None if hypothesis.file is None else self.names[hypothesis.file]
        after = self.simulate(hypothesis.model)
        users = users.copy()
        users[list(also)] = True
        dollars = np.array([also.get(user, self.gap[user]) for user in np.flatnonzero(users)], dtype="int64")

        def evidence(users: np.ndarray, examples: pd.DataFrame) -> str:
            return self._simulation_evidence(hypothesis, name, users, examples, after, int(dollars.sum()))

        details = dict(hypothesis.note)
        if hypothesis.file is not None:
            details |= self._file_facts(hypothesis.file)
        return self._cause(hypothesis.kind, users, before, name, evidence, details, dollars=dollars if also else None)

    def _file_facts(self, position: int) -> dict[str, Any]:
        """How big the file is, its batch range, and how many of its users later files update again."""
        in_file = self.file_position == position
        batches = self.feed["batch_id"].to_numpy()[in_file]
        later = np.zeros(len(self.universe), dtype=bool)
        later[self.feed_user[self.file_position > position]] = True
        return {
            "rows": int(in_file.sum()),
            "first_batch": int(batches.min()),
            "last_batch": int(batches.max()),
            "users_in_later_files": int(later[self.feed_user[in_file]].sum()),
        }

    def _cause(
        self, kind: str, users: np.ndarray, table: _Table, file: str | None, evidence, details: dict | None = None,
        dollars: np.ndarray | None = None, mechanism: Mechanism | None = None,
    ) -> RootCause:
        """``dollars``: the part of each user's gap the cause explains, when not the whole gap."""
        examples = self._examples(users, table)
        absolute = self.absolute[users] if dollars is None else np.abs(dollars)
        total = self.absolute[self.discrepant].sum() + self.composed_extra
        return RootCause(
            kind=kind,
            file=file,
            users=int(users.sum()),
            revenue_gap=int(self.gap[users].sum() if dollars is None else dollars.sum()),
            share_of_gap=self.share(users) if dollars is None or not total else float(absolute.sum() / total),
            evidence=evidence(users, examples) if users.any() else "",
            examples=examples,
            absolute_gap=int(absolute.sum()),
            details=details or {},
            mechanism=mechanism,
        )

    def _examples(self, users: np.ndarray, table: _Table) -> pd.DataFrame:
        """A few users with the largest gaps: the platform's row, the expected row, and where each lives."""
        members = np.flatnonzero(users)
        members = members[np.argsort(-self.absolute[members], kind="stable")][:EXAMPLES_PER_CAUSE]
        frame = self.users.iloc[members].reset_index(drop=True)
        platform_first = self._platform_first_row()[members]
        source = np.where(platform_first >= 0, self.platform_source[np.maximum(platform_first, 0)], -1)
        frame["platform_file"] = [
            self.feed[SOURCE_FILE].iat[row] if row >= 0 else None for row in source
        ]
        frame["platform_source_row"] = [int(self.feed[SOURCE_ROW].iat[row]) if row >= 0 else None for row in source]
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
        self, hypothesis: _Hypothesis, name: str | None, users: np.ndarray, examples: pd.DataFrame, after: _Table, dollars: int
    ) -> str:
        agree = int(self.agrees(after).sum())
        without_row = int((users & (self.observed.count == 0)).sum())
        return simulation_sentence(
            hypothesis.kind, hypothesis.note, name, int(users.sum()), dollars, agree, len(self.universe), examples, without_row
        )

    def _missing_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        return missing_sentence(int(users.sum()), int(self.gap[users].sum()), examples)

    def _unexpected_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        rows = np.flatnonzero(users[self.platform_user])
        no_file = int((self.platform_source[rows] < 0).sum())
        return unexpected_sentence(int(users.sum()), no_file, int(self.gap[users].sum()), examples)

    def _duplicate_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        extra = int((self.observed.count[users] - 1).sum())
        return duplicate_sentence(int(users.sum()), extra, int(self.gap[users].sum()), examples)

    def _drift_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        return drift_sentence(self.users[users], int(self.gap[users].sum()), examples)

def _sum_hashes(users: np.ndarray, hashes: np.ndarray, size: int) -> np.ndarray:
    """Per user, the sum (mod 2**64) of its rows' hashes: an order-free signature of a set of rows."""
    low = np.bincount(users, weights=(hashes & np.uint64(0xFFFFFFFF)).astype("float64"), minlength=size)
    high = np.bincount(users, weights=(hashes >> np.uint64(32)).astype("float64"), minlength=size)
    # Exact: each half is below 2**32 and no user has 2**21 rows.
    return (high.astype("uint64") << np.uint64(32)) + low.astype("uint64")
