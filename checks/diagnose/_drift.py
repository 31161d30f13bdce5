"""Values changed by a load: the drifting users' rows as the feed holds them and as the platform does, and the
mechanisms that reproduce them (``checks.diagnose._mechanisms``), each with its users, dollars and examples."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checks.diagnose._mechanisms import MIN_USERS, Rows, column_mechanisms, shifted_rows
from checks.diagnose._scan import Table, groups, history_values, picked_values
from checks.diagnose.results import CONSTANT, FILLED, SHIFTED_KEYS, Mechanism
from checks.lineage import Feed, PlatformRows
from checks.reconcile import ExpectedRows, compared
from checks.wording import Words

CHANGES_SHOWN = 3  # examples of a changed value: in the file, on the platform


class Drift:
    """The users ``candidates`` (one platform row each, a row picked from the feed, disagreeing): for each,
    the compared columns of the picked row (``expected``) and of the platform row, and the mechanisms found.
    ``expected_rows`` (the deduplicated feed over the user index) and ``ids`` (each user's key) serve the key
    order and the examples."""

    def __init__(
        self,
        feed: Feed,
        table: Table,
        candidates: np.ndarray,
        platform: PlatformRows,
        expected_rows: ExpectedRows,
        ids: np.ndarray,
        words: Words,
    ) -> None:
        self.feed, self.table, self.users, self.expected_rows, self.ids, self.words = feed, table, candidates, expected_rows, ids, words
        self.columns = compared(feed.shape)
        self.expected = {column: picked_values(feed, table, candidates, column) for column in self.columns}
        self.platform = {column: platform.values_at(column, candidates) for column in self.columns}
        codecs = words.encoding.codecs
        version = feed.shape.version
        # Each differing column's history over the feed (summed, and the row before the latest): a pass over the feed.
        history = {
            column: history_values(feed, candidates, column, self.expected[version])
            for column in self.columns if column != version and np.any(self.expected[column] != self.platform[column])
        }
        self.found = column_mechanisms(
            self.expected, self.platform, {column: codecs[column].column for column in self.columns},
            lambda column, codes: codecs[column].render(codes), history,
        )
        self.explained = np.zeros(len(candidates), dtype=bool)
        for _, users in self.found:
            self.explained |= users
        self.found.extend(self._shifted_keys(~self.explained))
        for _, users in self.found:
            self.explained |= users

    def _changed_dollars(self) -> np.ndarray:
        """Per candidate, how much the transformation moved the amount (the picked row's minus the platform's)."""
        amount = self.feed.shape.amount
        if amount is None:
            return np.zeros(len(self.users), dtype="int64")
        return self.expected[amount] - self.platform[amount]

    def transformed(self) -> tuple[np.ndarray, np.ndarray]:
        """The users a mechanism explains (sorted) and the dollars it changed for each."""
        return self.users[self.explained], self._changed_dollars()[self.explained]

    def findings(self) -> Iterator[tuple[Mechanism, np.ndarray, np.ndarray, list[dict[str, str]]]]:
        """Each mechanism as JSON shows it, its users (a mask over the user index), the dollars it moved for each
        of them (0 where it moved no amount) and a few of its changes."""
        amount = self.feed.shape.amount
        changed = self._changed_dollars()
        for mechanism, users in self.found:
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[self.users[users]] = True
            moves_amount = mechanism.name == SHIFTED_KEYS or amount in mechanism.columns
            dollars = changed[users] if moves_amount else np.zeros(int(users.sum()), dtype="int64")
            mechanism = self._rendered(mechanism)
            yield mechanism, mask, dollars, self._changes(mechanism, users, dollars)

    def _rendered(self, mechanism: Mechanism) -> Mechanism:
        """The mechanism as JSON shows it: a constant (or a placeholder) as the file writes it."""
        if mechanism.name not in (CONSTANT, FILLED):
            return mechanism
        text = self.words.value(mechanism.columns[0], mechanism.value)
        return Mechanism(mechanism.name, mechanism.columns, text)

    def _changes(self, mechanism: Mechanism, users: np.ndarray, dollars: np.ndarray) -> list[dict[str, str]]:
        """A few of the users, the largest dollars first: each changed column's value in the file and on the platform."""
        words = self.words
        at = np.flatnonzero(users)
        at = at[np.argsort(-np.abs(dollars), kind="stable")[:CHANGES_SHOWN]]
        columns = mechanism.columns if mechanism.name != SHIFTED_KEYS else self.columns
        keys = self.ids[self.users[at]]
        changes = []
        for row, key in zip(at, keys):
            for column in columns:
                if self.expected[column][row] == self.platform[column][row] and mechanism.name == SHIFTED_KEYS:
                    continue
                changes.append({
                    "key": words.key(key),
                    "column": column,
                    "file": words.value(column, self.expected[column][row]),
                    "platform": words.value(column, self.platform[column][row]),
                })
        return changes

    def _shifted_keys(self, rest: np.ndarray) -> list[tuple[Mechanism, np.ndarray]]:
        """Rows attached to the wrong key: each file's rows a fixed offset away in the file's order, then
        the expected rows a fixed offset away in key order."""
        feed, key = self.feed, self.feed.shape.key
        found = []
        rest = rest.copy()
        for index, at in groups(self.table.part[self.users], len(feed.parts)):
            at = at[rest[at]]
            file = feed.parts[index].file
            rows = Rows(
                feed.rows(file),
                lambda column, positions, file=file: feed.column(file, column)[positions],
                lambda column, value, file=file: np.flatnonzero(feed.column(file, column) == value),
            )
            shifted = self._shifted(at, self.table.position[self.users[at]].astype("int64"), rows)
            if shifted is not None:
                offset, users = shifted
                rest &= ~users
                found.append((Mechanism(SHIFTED_KEYS, (key,), offset, "file"), users))
        at = np.flatnonzero(rest)
        if len(at) < MIN_USERS:
            return found
        expected = self.expected_rows
        ranked = np.flatnonzero(expected.present)  # the expected rows in key order
        rows = Rows(
            len(ranked),
            lambda column, positions: expected.values[column][ranked[positions]],
            lambda column, value: np.searchsorted(ranked, np.flatnonzero((expected.values[column] == value) & expected.present)),
        )
        shifted = self._shifted(at, np.searchsorted(ranked, self.users[at]), rows)
        if shifted is not None:
            offset, users = shifted
            found.append((Mechanism(SHIFTED_KEYS, (key,), offset, "key"), users))
        return found

    def _shifted(self, at: np.ndarray, positions: np.ndarray, rows: Rows) -> tuple[int, np.ndarray] | None:
        """The offset from their ``positions`` at which ``rows`` hold the platform rows of the candidates ``at``,
        and those candidates (a mask over every candidate); None when no offset is credible."""
        shifted = shifted_rows({column: self.platform[column][at] for column in self.columns}, positions, rows)
        if shifted is None:
            return None
        offset, users = shifted
        mask = np.zeros(len(self.users), dtype=bool)
        mask[at[users]] = True
        return offset, mask
