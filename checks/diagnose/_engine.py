"""The hypotheses and their greedy attribution: the feed and the platform as arrays over one dense user index;
a file left out or cut short is tried on the users whose pick it holds, falling back to their runner-up row.
Files are tried first, then the dedup rule; of the changes taken, one that alone explains what they all did is
kept alone (``sole_change``); what no simulation reproduces is sorted into residual causes."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from checks.diagnose._drift import Drift
from checks.diagnose._dropped import MIN_DROPPED, Dropped, by_key_order, by_value, explains_cut, filterable
from checks.diagnose._keys import EXAMPLES as KEY_EXAMPLES
from checks.diagnose._keys import MIN_PAIRS, Rekeying, Rewrite, file_rewrite, rewrites
from checks.diagnose._scan import (
    Model,
    Scan,
    Table,
    file_positions,
    groups,
    kept,
    picked_values,
    row_dtype,
    rows_per_user,
    sum_hashes,
    text_order,
)
from checks.diagnose.results import (
    DUPLICATE_ROWS,
    EXAMPLES_PER_CAUSE,
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    KEYS_REWRITTEN,
    MAX_BROKEN_SHARE,
    MISSING_USERS,
    QUARANTINED_FILE_LOADED,
    UNEXPECTED_USERS,
    UNEXPLAINED,
    VALUE_DRIFT,
    WRONG_DEDUP_ORDER,
    Mechanism,
    RootCause,
)
from checks.diagnose.sentences import (
    drift_sentence,
    duplicate_sentence,
    lacking_rows_sentence,
    mechanism_sentence,
    mechanism_words,
    missing_sentence,
    quarantined_sentence,
    rewritten_sentence,
    simulation_sentence,
    unexpected_sentence,
)
from checks.lineage import Feed, Matches, Part, PlatformRows, UserIndex, code_dtype, position_dtype, row_keys
from checks.model import Delta, Shape, side_column
from checks.reconcile import CLASSES, MATCH, UserRows, compared, largest
from checks.wording import Words


@dataclass(frozen=True)
class Hypothesis:
    kind: str
    file: int | None
    model: Model
    note: dict


def hypothesis_score(
    gained: int, lost: int, dollars: Callable[[], int], orphaned: Callable[[], int]
) -> tuple[int, int] | None:
    """A change's score in the greedy search (dollars it explains net of those it breaks, then users, net), or
    ``None`` when it makes no user agree or breaks (or leaves without a row) too many that agreed. ``dollars`` and
    ``orphaned`` are asked for only when needed (both cost a pass over the users changed)."""
    if not gained or lost > MAX_BROKEN_SHARE * gained:
        return None
    if lost + orphaned() > MAX_BROKEN_SHARE * gained:
        return None
    score = (dollars(), gained - lost)
    return score if score > (0, 0) else None


def _traced_to(examples: pd.DataFrame, delta: Delta, shape: Shape) -> None:
    """The examples' platform rows that no validated file holds, traced (in place) to ``delta``'s line holding their
    key at their version."""
    version = side_column("platform", shape.version)
    lines = pd.Series(delta.frame.index.to_numpy(), index=pd.MultiIndex.from_arrays(
        [delta.frame[shape.key].to_numpy(), delta.frame[shape.version].to_numpy()]
    ))
    lines = lines[~lines.index.duplicated()]
    for at in examples.index[examples["platform_file"].isna()]:
        line = lines.get((examples.at[at, shape.key], examples.at[at, version]))
        if line is not None:
            examples.at[at, "platform_file"], examples.at[at, "platform_source_row"] = delta.name, int(line)


def change_alone(first: Any, file: int | None, model: Any) -> Any:
    """A chosen change made alone to the first model (either engine's: ``cuts`` and ``rule``): the file it changed
    read as ``model`` reads it, or (``file`` None) ``model``'s rule."""
    if file is None:
        return replace(first, rule=model.rule)
    return replace(first, cuts=first.cuts[:file] + (model.cuts[file],) + first.cuts[file + 1 :])


def sole_change(trials: Sequence[tuple[bool, int]]) -> int | None:
    """Redundancy after the greedy cover: of the changes chosen, each tried alone from the first table (whether it
    alone makes agree every user the chosen changes left agreeing and every user that agreed at the start, and how
    many users it makes agree), the one that is the whole story; None when none is. The others were artefacts of
    trying files first (a cut that fixes a moved file's last key before the load order that explains it too). Of
    several, the one agreeing with more users, then the first chosen: the search's own preference, files first."""
    whole = [(agreeing, -index) for index, (covers, agreeing) in enumerate(trials) if covers]
    return -max(whole)[1] if whole else None


def rule_changes(names: tuple[str, ...], orders: list[tuple[int, ...]]) -> list[tuple[str, tuple, dict]]:
    """The dedup rules tried after the files, in order (kind, rule, note): batch_id as text, each load order
    (``candidate_orders``), no dedup at all."""
    rules: list[tuple[str, tuple, dict]] = [(WRONG_DEDUP_ORDER, ("string",), {"rule": "string"})]
    newest_first = tuple(range(len(names) - 1, -1, -1))
    for order in orders:
        note = {"rule": "order", "order": [names[position] for position in order], "first_wins": order == newest_first}
        rules.append((WRONG_DEDUP_ORDER, ("order", order), note))
    rules.append((DUPLICATE_ROWS, ("none",), {"rule": "none"}))
    return rules


def candidate_orders(wins: np.ndarray, appearances: np.ndarray) -> list[tuple[int, ...]]:
    """Load orders to try, from per file how often the platform kept its row (``wins``) of the users it shares with
    other files (``appearances``): the feed's order reversed (each key's first row kept), then least kept loaded
    first. The first is the simpler story where both reproduce the table (no key in two of the files whose order
    they differ on: an insert that skips keys the table holds read as files 2, 3, 4, 1, 0 before)."""
    files = len(wins)
    if files < 2:
        return []
    rate = np.where(appearances > 0, wins / np.maximum(appearances, 1), 0.0)
    inferred = tuple(int(p) for p in np.lexsort((np.arange(files), rate)))
    orders = [tuple(range(files - 1, -1, -1)), inferred]
    return [order for index, order in enumerate(orders) if order not in orders[:index]]


# A runner-up's part in ``Engine._fallback``'s cache before it is looked up (-1: the user has none).
NOT_FOUND_YET = -2


class Engine:
    """The feed and the platform as arrays over one dense user index; a file left out or cut short is tried
    on the users whose pick it holds, falling back to their runner-up row."""

    def __init__(
        self,
        feed: Feed,
        platform: PlatformRows,
        matches: Matches,
        rows: UserRows,
        picks: Table,
        words: Words,
        unsettled: tuple[Feed, np.ndarray] | None = None,
        quarantined: Callable[[], Sequence[Delta]] | None = None,
        rekeyed: Rekeying | None = None,
    ) -> None:
        """``unsettled``: the feed's rows of the users whose platform row is not their pick (``Feed.only`` them) and
        the mask of those users: the runner-ups asked for are theirs, found in their rows only. ``quarantined``: the
        readable rows of the files validation quarantined (``checks.validate.readable_rows``), asked for only when
        some user is left unexplained. ``rekeyed``: the rewrites another engine found (``rekeying``), whose rows
        ``platform`` holds under the keys as sent: named at no dollars, each cause's share by keys of the keys that
        differed before the move."""
        self.feed, self.platform, self.matches, self.words = feed, platform, matches, words
        self._rekeyed = rekeyed
        self._unsettled = unsettled
        self._quarantined = quarantined
        self._aside: np.ndarray | None = None  # users whose keys a load rewrote (a mask), out of the search; None: none
        self.compared = compared(feed.shape)
        self.names = feed.names
        self.rows = rows
        self.size = len(rows)
        self.gap = rows.gap
        # Only the agreeing users' mask is kept, and the count of the others: one 10 M-user mask instead of two.
        self.initial_agrees = rows.classes == CLASSES.index(MATCH)
        discrepant = ~self.initial_agrees
        self._discrepant_count = int(np.count_nonzero(discrepant)) if rekeyed is None else rekeyed.discrepant
        self.initial = picks
        self._total_absolute = int(np.abs(self.gap[discrepant]).sum())
        self._part_files = np.array([part.file for part in feed.parts], dtype="int64")
        self._cache: dict = {}

    def _absolute(self, users: np.ndarray) -> np.ndarray:
        """The size of the spend gap of some users (by mask or position): no second 10 M-user array."""
        return np.abs(self.gap[users])

    @property
    def observed_count(self) -> np.ndarray:
        return self.platform.count

    @cached_property
    def _unsettled_count(self) -> int:
        """How many users the unsettled part of the feed is of (``unsettled``'s mask)."""
        return int(np.count_nonzero(self._unsettled[1]))

    @cached_property
    def _without_row(self) -> np.ndarray:
        """The users the platform holds no row of (usually few: counting them among others is then cheap)."""
        return np.flatnonzero(self.observed_count == 0)

    def share(self, users: np.ndarray) -> float:
        if self._total_absolute > 0:
            return float(self._absolute(users).sum() / self._total_absolute)
        discrepant = self._discrepant_count
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
        for index, at in groups(part[check], len(self.feed.parts)):
            at = check[at]
            file = self.feed.parts[index].file
            rows = position[at]
            same = np.ones(len(at), dtype=bool)
            for column in self.compared:
                same &= self.feed.column(file, column)[rows] == self.platform.values_at(column, users[at])
            agree[at] = same
        return agree

    def _agree_without_dedup(self, table: Table) -> np.ndarray:
        observed_count, observed_signature = self._observed_signature()
        return (table.count == observed_count) & (table.signature == observed_signature)

    def _observed_signature(self) -> tuple[np.ndarray, np.ndarray]:
        if "observed" not in self._cache:
            hashes = row_keys(self.platform.frame, self.feed.shape.names)
            distinct = self.observed_count.max(initial=0) <= 1
            self._cache["observed"] = (
                self.observed_count,
                sum_hashes(self.platform.user, hashes, self.size, distinct=distinct),
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

    def simulate(self, model: Model) -> Table:
        if model.rule[0] == "none":
            users, hashes = [], []
            for index, part in enumerate(self.feed.parts):
                rows = kept(part, model.cuts[part.file])
                users.append(part.user[rows])
                hashes.append(self._feed_hashes(index)[rows])
            users, hashes = np.concatenate(users), np.concatenate(hashes)
            count = np.bincount(users, minlength=self.size)
            return Table(None, None, count, model, sum_hashes(users, hashes, self.size))
        return self._scan(model).best()

    def _scan(self, model: Model) -> Scan:
        return Scan(self.feed, model.rule, model.cuts, self._text_keys if model.rule[0] == "string" else None)

    def _text_keys(self, part: Part, index: int) -> np.ndarray:
        """The version ordered as the files' text: "999" after "1500"; equal keys for equal text."""
        key = ("text", index)
        if key not in self._cache:
            version = self.feed.shape.version
            codec = self.words.encoding.codecs[version]
            render = None if codec.column.logical_type == "integer" else codec.render
            batches = [self.feed.values(candidate, version) for candidate in self.feed.parts]
            for number, keys in enumerate(text_order(batches, render)):
                self._cache[("text", number)] = keys
        return self._cache[key]

    def _changed(self, table: Table, candidate: Table) -> np.ndarray:
        """Users whose simulated rows differ between two tables."""
        if candidate.signature is not None or table.signature is not None:
            return np.arange(self.size)
        return np.flatnonzero((candidate.part != table.part) | (candidate.position != table.position))

    def _effect(self, hypothesis: Hypothesis, table: Table, agrees: np.ndarray) -> tuple[np.ndarray, np.ndarray, Table | None]:
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
            candidates = users[could]  # by mask: no int64 positions of them
            part, position = self._fallback(table, candidates)
            now[could] = self._agree(candidates, part, position)
            return users, now, None
        candidate = self.simulate(model)
        if candidate.signature is not None:
            return np.arange(self.size), self._agree_without_dedup(candidate), candidate
        users = self._changed(table, candidate)
        return users, self._agree(users, candidate.part[users], candidate.position[users]), candidate

    def _orphaned(self, users: np.ndarray, table: Table, candidate: Table | None) -> int:
        """How many of the users a hypothesis changes it leaves without any row though the platform holds one:
        a file the platform never read cannot be the only source of rows it shows."""
        if candidate is None:
            # A user's pick is its only row in its file: with no other row read (no runner-up), it is left with none.
            # The runner-ups of the users that could agree are known already: no count of every user's rows.
            held = users[self.observed_count[users] > 0]
            return self._not_quarantined(held[self._fallback(table, held)[0] < 0])
        if candidate.signature is None:
            return self._not_quarantined(users[(candidate.part[users] < 0) & (self.observed_count[users] > 0)])
        return 0

    def _not_quarantined(self, users: np.ndarray) -> int:
        """How many of ``users`` (positions) hold a platform row no quarantined file holds: a row the platform shows
        from a file validation quarantined does not tell against a file never read."""
        if not len(users) or self._quarantined is None:
            return len(users)
        return int(np.count_nonzero(self._quarantined_source[0][users] < 0))

    @cached_property
    def _quarantined_source(self) -> tuple[np.ndarray, list[Delta]]:
        """Per user, which quarantined file (its place among ``quarantined()``, in feed order; -1 none) gave the key its
        one platform row's version, and those files' rows. Read once, on first ask; only users that disagree at first
        are looked at (a user that agrees holds its validated row)."""
        shape = self.feed.shape
        source = np.full(self.size, -1, dtype="int16")
        files = list(self._quarantined())
        candidates = np.flatnonzero((self.rows.classes != CLASSES.index(MATCH)) & (self.observed_count == 1))
        users = UserIndex.around(self.rows.ids)
        held = pd.DataFrame({"user": candidates, shape.version: self.platform.values_at(shape.version, candidates)})
        for place, delta in reversed(list(enumerate(files))):  # the first file in feed order written last: it wins
            at = users.find(delta.frame[shape.key].to_numpy())
            known = at >= 0
            sent = pd.DataFrame({"user": at[known], shape.version: delta.frame[shape.version].to_numpy()[known]})
            source[held.merge(sent.drop_duplicates(), on=["user", shape.version])["user"].to_numpy()] = place
        return source, files

    def _losing_pick(self, hypothesis: Hypothesis, table: Table) -> np.ndarray:
        """Users whose pick is in the rows a file-level hypothesis stops reading (sorted)."""
        file = hypothesis.file
        users = self._picking(table, file)
        cut = hypothesis.model.cuts[file]
        if cut > 0:
            users = users[table.position[users] >= cut]
        return users

    def _picking(self, table: Table, file: int) -> np.ndarray:
        """The users whose pick is in a file (one part per file here), in order."""
        if len(self.feed.parts) <= 16:
            # A pass for the file asked for (as ``groups`` makes one per code): most files are never asked for.
            if ("picking", file) not in table.cache:
                table.cache[("picking", file)] = np.flatnonzero(table.part == file).astype(position_dtype(self.size))
            return table.cache[("picking", file)]
        if "groups" not in table.cache:
            table.cache["groups"] = dict(groups(table.part, len(self.feed.parts)))
        return table.cache["groups"].get(file, np.array([], dtype="int64"))

    def _fallback(self, table: Table, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The runner-up rows of ``users`` (sorted) under a table, each user's computed once per table."""
        if "fallback" not in table.cache:
            # Per user the runner-up's part (NOT_FOUND_YET until looked up: no mask of its own) and position.
            table.cache["fallback"] = (
                np.full(self.size, NOT_FOUND_YET, dtype=table.part.dtype),
                np.full(self.size, -1, dtype=table.position.dtype),
            )
        part, position = table.cache["fallback"]
        missing = users[part[users] == NOT_FOUND_YET]
        if len(missing):
            scan, every_user = self._scan(table.model), False
            if self._unsettled is not None and table.model.rule[0] != "string" and self._unsettled[1][missing].all():
                # Their rows are all in the unsettled users' part of the feed (text keys are the whole feed's); when
                # they are all the unsettled users, every row of it is theirs.
                scan = Scan(self._unsettled[0], table.model.rule, table.model.cuts)
                every_user = len(missing) == self._unsettled_count
            # Their positions are written below: the scan keeps its slots there meanwhile.
            found_part, found_position = scan.runner_up(table, missing, every_user=every_user, slots=position)
            part[missing], position[missing] = found_part, found_position
        return part[users], position[users]

    # -- hypotheses ------------------------------------------------------------------------------------

    def _file_hypotheses(self, model: Model, table: Table, agrees: np.ndarray) -> list[Hypothesis]:
        """The changes worth trying first: a file left out, or cut short where the platform stopped reading it."""
        found = []
        # Reading fewer rows of a file changes only the users whose pick is in it (one row a user): it can gain
        # none where they all agree already, so such files are not tried.
        worth = range(len(self.names)) if table.signature is not None else self._files_of_picks(table, ~agrees)
        for file in range(len(self.names)):
            if not min(model.cuts[file], self.feed.rows(file)) or file not in worth:
                continue
            cuts = model.cuts[:file] + (0,) + model.cuts[file + 1 :]
            found.append(Hypothesis(FILE_NOT_INGESTED, file, Model(cuts, model.rule), {}))
            cut = self._truncation_point(file, model, table, agrees)
            if cut is not None:
                kept_rows, total_rows, first_row = cut
                cuts = model.cuts[:file] + (first_row,) + model.cuts[file + 1 :]
                note = {"kept": kept_rows, "total": total_rows}
                found.append(Hypothesis(FILE_PARTIALLY_INGESTED, file, Model(cuts, model.rule), note))
        return found

    def _files_of_picks(self, table: Table, users: np.ndarray) -> set[int]:
        """The files holding the picks of some users (a mask)."""
        parts = np.unique(table.part[np.flatnonzero(users)])
        return {int(self._part_files[part]) for part in parts if part >= 0}

    def _rule_hypotheses(self, model: Model) -> list[Hypothesis]:
        """Then the way one row per user is chosen: batch_id as text, a load order, or no dedup at all."""
        if model.rule != ("numeric",):
            return []
        return [
            Hypothesis(kind, None, Model(model.cuts, rule), note)
            for kind, rule, note in rule_changes(self.names, self._candidate_orders())
        ]

    def _truncation_point(self, file: int, model: Model, table: Table, agrees: np.ndarray) -> tuple[int, int, int] | None:
        """Where the platform stopped reading a file: the cut that best splits rows it shows from rows it lacks."""
        if table.signature is None and self.feed.one_row_per_user_and_file:
            # A row is lacking only where its user's pick is in this file and disagrees.
            picking = self._picking(table, file)
            if agrees[picking].all():
                return None
        parts = [(index, part) for index, part in enumerate(self.feed.parts) if part.file == file]
        cut = model.cuts[file]
        # Positions, parts and running counts in narrow types: a 10 M-row file costs tens of MB here, not hundreds.
        narrow = row_dtype(self.feed)
        part_dtype = code_dtype(len(self.feed.parts))
        if len(parts) == 1 and parts[0][1].position is None:
            index, part = parts[0]
            users = part.user[: min(cut, len(part))]
            positions = np.arange(len(users), dtype=narrow)
            part_of = index  # one part: compared as a scalar, no array of it
        else:
            chunks = [(index, part, kept(part, cut)) for index, part in parts]
            users = np.concatenate([part.user[rows] for _, part, rows in chunks])
            positions = np.concatenate([file_positions(part, np.arange(len(part))[rows]) for _, part, rows in chunks])
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
        # Per cut, rows shown before it plus rows lacking from it on: running counts written in place (two arrays
        # of the file's length, not five).
        counts = position_dtype(len(users) + 1)
        score, lacking_after = np.zeros(len(users) + 1, dtype=counts), np.zeros(len(users) + 1, dtype=counts)
        np.cumsum(shown, dtype=counts, out=score[1:])
        np.cumsum(lacking, dtype=counts, out=lacking_after[1:])
        np.subtract(lacking_after[-1], lacking_after, out=lacking_after)
        score += lacking_after
        del lacking_after
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
        """Load orders to try for "last file loaded wins": the feed's order reversed, then the one the platform's rows
        imply (``candidate_orders``)."""
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
        in_files = rows_per_user((part.user for part in self.feed.parts), self.size, len(self.feed.parts))
        appearances = np.zeros(files, dtype="int64")
        for part in self.feed.parts:
            appearances[part.file] += int((in_files[part.user] > 1).sum())
        winner = chosen_file[(chosen_file >= 0) & (in_files[platform.user] > 1)]
        return candidate_orders(np.bincount(winner, minlength=files), appearances)

    # -- attribution -----------------------------------------------------------------------------------

    def attribute(self) -> tuple[list[RootCause], np.ndarray]:
        table, agrees = self.initial, self.initial_agrees
        self.initial = self.initial_agrees = None  # the first table goes once a change replaces it (its caches are 100 MB at 10 M users)
        model = first_model = table.model
        # Keys a load rewrote first, from the expected rows: their users are set aside from the search (both sides
        # agree with no change; a file never loaded would otherwise "explain" every key the platform lacks).
        rewrite_causes, self._aside = self._rewritten_keys(table, agrees)
        if self._aside is not None:
            agrees = agrees | self._aside
        # Per user, which chosen change made it agree and the last one that moved its row: made at the first change
        # chosen, so not held through the first search (``_no_changes``).
        cause_of = moved_by = None
        chosen: list[tuple[Hypothesis, int]] = []
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
            if cause_of is None:
                cause_of, moved_by = self._no_changes()
            agrees = agrees.copy()
            agrees[users] = now
            cause_of[lost] = -1
            if len(chosen) == np.iinfo(cause_of.dtype).max:
                cause_of, moved_by = cause_of.astype("int32"), moved_by.astype("int32")
            cause_of[gained] = len(chosen)
            moved_by[users] = len(chosen)
            chosen.append((hypothesis, int(agrees.sum())))
            model = hypothesis.model

        table.cache.clear()  # the search is over: its runner-ups and users by pick (60 MB at 10 M users) serve no more
        if len(chosen) > 1:
            whole = self._whole_story(first_model, chosen, agrees)
            if whole is not None:
                table, agrees, cause_of, moved_by, chosen = whole
        if cause_of is None:
            cause_of, moved_by = self._no_changes()
        cuts = {
            index: cause_of == index for index, (hypothesis, _) in enumerate(chosen) if hypothesis.kind == FILE_PARTIALLY_INGESTED
        }
        missed = {
            index: (hypothesis.file, cause_of == index)
            for index, (hypothesis, _) in enumerate(chosen) if hypothesis.kind == FILE_NOT_INGESTED
        }
        residual, unexplained, transformed, yielded = self._residual_causes(table, ~agrees, moved_by, cuts, missed)
        # Counted as agreeing in the search: not so in any simulation.
        aside = 0 if self._aside is None else int(np.count_nonzero(self._aside))
        causes = [
            self._simulated_cause(hypothesis, agreeing - aside, cause_of == index, self._composed(transformed, moved_by, index))
            for index, (hypothesis, agreeing) in enumerate(chosen)
            if index not in yielded
        ]
        causes = [cause for cause in causes if cause.users]
        causes.extend(residual)
        causes.extend(rewrite_causes)
        causes.sort(key=lambda cause: (-cause.absolute_gap, -cause.users, cause.kind))
        return causes, unexplained

    def _whole_story(self, first_model: Model, chosen: list[tuple[Hypothesis, int]], agrees: np.ndarray) -> tuple | None:
        """``sole_change`` over the chosen changes, each tried alone from the first table (simulated again: it is not
        held through the search); the search's outcome with that change alone (its table, agreements, ``cause_of``,
        ``moved_by`` and chosen change), or None. Only after two changes or more: one simulation per change."""
        first = self.simulate(first_model)
        first_agrees = self.rows.classes == CLASSES.index(MATCH)
        if self._aside is not None:
            first_agrees |= self._aside
        to_keep = agrees | first_agrees
        trials, covering = [], {}
        for index, (hypothesis, _) in enumerate(chosen):
            alone = replace(hypothesis, model=change_alone(first_model, hypothesis.file, hypothesis.model))
            users, now, candidate = self._effect(alone, first, first_agrees)
            alone_agrees = first_agrees.copy()
            alone_agrees[users] = now
            covers = bool(alone_agrees[to_keep].all())
            trials.append((covers, int(np.count_nonzero(alone_agrees))))
            if covers:  # only these can be kept (usually one or none): no table held per change
                covering[index] = (alone, users, alone_agrees, candidate)
        index = sole_change(trials)
        if index is None:
            return None
        alone, users, alone_agrees, candidate = covering[index]
        cause_of, moved_by = self._no_changes()
        cause_of[alone_agrees & ~first_agrees] = 0
        moved_by[users] = 0
        return self._apply(alone, first, users, candidate), alone_agrees, cause_of, moved_by, [(alone, trials[index][1])]

    def _no_changes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per user, no chosen change (-1) twice: ``attribute``'s ``cause_of`` and ``moved_by``, positions among the
        chosen changes (a few: int8, widened past 127)."""
        return np.full(self.size, -1, dtype="int8"), np.full(self.size, -1, dtype="int8")

    def _share_composed(self, transformed: tuple[np.ndarray, np.ndarray], moved_by: np.ndarray) -> None:
        """Where a change of rows and a transformation each explain part of a user's gap, shares are of the sum of
        the parts' sizes (a row read older, then scaled, moves the amount twice, maybe in opposite directions)."""
        users, changed = transformed
        composed = moved_by[users] >= 0
        gap = self.gap[users[composed]]
        parts = np.abs(gap - changed[composed]) + np.abs(changed[composed]) - np.abs(gap)
        self._total_absolute += int(parts.sum())

    def _composed(self, transformed: tuple[np.ndarray, np.ndarray], moved_by: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The users a chosen change moved to a row that a load then transformed (``transformed``: users and the
        dollars the transformation changed), with the dollars the change itself explains for them."""
        users, changed = transformed
        mine = moved_by[users] == index
        return users[mine], self.gap[users[mine]] - changed[mine]

    def _apply(self, hypothesis: Hypothesis, table: Table, users: np.ndarray, candidate: Table | None) -> Table:
        if candidate is not None:
            return candidate
        part, position = self._fallback(table, users)
        table.cache.clear()  # the table is being replaced: its runner-ups (50 MB at 10 M users) go before the copies come
        new_part, new_position = table.part.copy(), table.position.copy()
        new_part[users], new_position[users] = part, position
        return Table(new_part, new_position, new_part >= 0, hypothesis.model)

    def _best(self, hypotheses: list[Hypothesis], agrees: np.ndarray, table: Table) -> tuple | None:
        """The hypothesis that explains the most dollars (then users) while breaking almost no agreeing user.

        Only the users a hypothesis changes are compared, so trying a file costs the users it holds, not the feed.
        """
        best = None
        for hypothesis in hypotheses:
            users, now, candidate = self._effect(hypothesis, table, agrees)
            if self._aside is not None:  # keys a load rewrote: no change gains or breaks them
                kept = ~self._aside[users]
                users, now = users[kept], now[kept]
            before = agrees[users]
            gained, lost = users[now & ~before], users[before & ~now]
            score = hypothesis_score(
                len(gained), len(lost), lambda: int(self._absolute(gained).sum() - self._absolute(lost).sum()),
                lambda: self._orphaned(users, table, candidate),
            )
            if score is not None and (best is None or score > best[0]):
                best = (score, hypothesis, gained, lost, users, now, candidate)
        return best

    def _residual_causes(
        self, table: Table, left: np.ndarray, moved_by: np.ndarray, cuts: dict[int, np.ndarray],
        missed: dict[int, tuple[int, np.ndarray]] | None = None,
    ) -> tuple[list[RootCause], np.ndarray, tuple[np.ndarray, np.ndarray], set[int]]:
        """Sort what no simulation reproduced (``left``, a mask this takes over) into the rows of a quarantined file
        the platform loaded anyway, dropped, unexpected, duplicated and changed users; a change a load made to the
        values (``checks.diagnose._mechanisms``) is named where one reproduces the rows. Also the users so
        transformed, the dollars each transformation changed, and which of the chosen files cut short (``cuts``: their
        users by place among the chosen changes) the filter that dropped the missing users explains instead
        (``checks.diagnose._dropped.explains_cut``): their users are told as missing, and which of the chosen files never
        loaded (``missed``: their file and users by place) a load that rewrote that file's keys explains instead
        (``_file_rewrites``)."""
        quarantined = self._quarantined_causes(left)
        observed_count = self.observed_count
        simulated_count = table.count
        older = self._older_rows(table, left)
        unexpected = left & (simulated_count == 0) & (observed_count > 0)
        rewritten = np.zeros(self.size, dtype=bool)  # the users one file's rewritten keys explain, both sides
        yielded: set[int] = set()
        file_rewrites = self._file_rewrites(table, unexpected, older, rewritten, missed or {}, yielded)
        lacking = self._lacking_rows_causes(table, older)
        missing = left & (observed_count == 0) & (simulated_count > 0)
        duplicated = left & (observed_count > 1)
        drifted = np.zeros(self.size, dtype=bool)
        drift_causes: list[RootCause] = []
        transformed = (np.array([], dtype="int64"), np.array([], dtype="int64"))
        if table.part is not None:
            candidates = np.flatnonzero(left & (observed_count == 1) & (table.part >= 0) & ~older & ~rewritten)
            found = Drift(self.feed, table, candidates, self.platform, self.rows.expected, self.rows.ids, self.words)
            transformed = found.transformed()
            self._share_composed(transformed, moved_by)
            drift_causes, explained = self._drift_causes(found, table), found.explained
            version = self.feed.shape.version
            same_version = found.expected[version] == found.platform[version]
            drifted[candidates[same_version & ~explained]] = True
            drifted_unexplained = drifted.copy()
            drifted[candidates[explained]] = True
            if drifted_unexplained.any():
                drift_causes.append(
                    self.cause(
                        VALUE_DRIFT, drifted_unexplained, self.file_of_picks(table, drifted_unexplained),
                        self._drift_evidence, mechanism=Mechanism(UNEXPLAINED, ()),
                    )
                )
        dropped = self._dropped(table, missing)
        filtered = {index for index, users in cuts.items() if self._filter_explains_cut(dropped, users)}
        for index in filtered:
            missing |= cuts[index]
        yielded |= filtered
        causes = [
            self.cause(
                MISSING_USERS, missing, self.file_of_picks(table, missing),
                lambda users, examples: self._missing_evidence(users, examples, dropped),
                {"dropped": dropped} if dropped is not None else None,
            ),
            self.cause(UNEXPECTED_USERS, unexpected, self._file_of_platform(unexpected), self._unexpected_evidence),
            self._duplicate_cause(table, duplicated),
            *file_rewrites,
            *lacking,
            *drift_causes,
            *quarantined,
        ]
        # The explained users gathered in ``drifted`` and taken off ``left`` (the caller's temporary) in place:
        # no further 10 M-user masks at the diagnosis's peak.
        for explained in (missing, unexpected, duplicated, older, rewritten):
            drifted |= explained
        left &= np.logical_not(drifted, out=drifted)
        return [cause for cause in causes if cause.users], left, transformed, yielded

    def _older_rows(self, table: Table, left: np.ndarray) -> np.ndarray:
        """The users ``left`` whose one platform row is a row of theirs the feed holds with an older version than the
        row ``table`` picks (a mask): their row of the pick's file never reached the table, though no file left out
        or cut short explains it (rows lacking here and there: a filter, rows a constraint rejected). Told so, not as
        the values of the row before kept column by column (``not_updated``, a ``constant`` version)."""
        older = np.zeros(self.size, dtype=bool)
        if table.part is None:  # no dedup simulated: no one row picked per user
            return older
        users = np.flatnonzero(left & (self.observed_count == 1) & (table.part >= 0))
        users = users[self.matches.user_file[users] >= 0]  # the platform's row is one of the feed's
        version = self.feed.shape.version
        held, picked = self.platform.values_at(version, users), picked_values(self.feed, table, users, version)
        older[users[held < picked]] = True
        return older

    def _file_rewrites(
        self, table: Table, unexpected: np.ndarray, older: np.ndarray, rewritten: np.ndarray,
        missed: dict[int, tuple[int, np.ndarray]], yielded: set[int],
    ) -> list[RootCause]:
        """Keys one file's load rewrote (``checks.diagnose._keys.file_rewrite``: a spreadsheet stripped one file's keys
        of their leading zeros): one ``keys_rewritten`` cause per such file, with the keys the feed never sent whose
        rows are the file's and the file's keys left on an older row (or none) under their own. Those users are taken
        off ``unexpected`` and ``older`` and marked in ``rewritten``, in place. The search may have told the keys left
        so as the file never loaded (every one of its keys rewritten): such a chosen change (``missed``, by place) whose
        users are all the rewrite's is its part, added to ``yielded``."""
        codec = self.words.encoding.codecs[self.feed.shape.key]
        held = np.flatnonzero(unexpected & (self.observed_count == 1))
        if codec.dictionary is None or len(held) < MIN_PAIRS:
            return []
        causes, ids = [], self.rows.ids

        def texts(users: np.ndarray) -> pd.Series:
            return pd.Series(codec.dictionary.decode(ids[users]), dtype=object)

        for file, name in enumerate(self.names):
            parts = [part for part in self.feed.parts if part.file == file]
            if not parts or len(held) < MIN_PAIRS:
                continue
            users = np.concatenate([part.user for part in parts])
            positions = np.concatenate([part.positions() for part in parts])

            def same_rows(rows: np.ndarray, at: np.ndarray, file=file, positions=positions, held=held) -> np.ndarray:
                agree = np.ones(len(rows), dtype=bool)
                for column in self.compared:
                    agree &= self.feed.column(file, column)[positions[rows]] == self.platform.values_at(column, held[at])
                return agree

            found = file_rewrite(
                lambda rows, users=users: texts(users if rows is None else users[rows]), len(users), texts(held), same_rows
            )
            if found is None:
                continue
            rewrite, rows, at = found
            sent, becomes = users[rows], held[at]
            kept_older = sent[older[sent]]
            unexpected[becomes] = older[kept_older] = False
            rewritten[becomes] = rewritten[kept_older] = True
            held = np.delete(held, at)
            in_file = np.zeros(self.size, dtype=bool)
            in_file[sent] = True
            for index, (missed_file, members) in missed.items():
                if missed_file == file and not (members & ~in_file).any():
                    yielded.add(index)  # "never loaded": under other keys, as told here
                    kept_older = np.concatenate([kept_older, np.flatnonzero(members)])
            dollars = np.concatenate([self.gap[becomes], self.gap[kept_older]])
            causes.append(self._rewrite_cause(
                table, Rewrite(rewrite, sent, becomes), sent, ids[sent], ids[becomes], dollars, np.abs(dollars),
                file=name, kept_older=(len(kept_older), int(np.count_nonzero(self.observed_count[kept_older] == 0))),
            ))
        return causes

    def _lacking_rows_causes(self, table: Table, older: np.ndarray) -> list[RootCause]:
        """One ``file_partially_ingested`` cause per file whose rows the ``older`` users' picks are, with what those
        rows share that the file's other picked rows do not, when anything (``_dropped``)."""
        if not older.any():
            return []
        picked_file = np.full(self.size, -1, dtype="int64")
        picked = np.flatnonzero(table.part >= 0)
        picked_file[picked] = self._part_files[table.part[picked]]
        causes = []
        for file in np.unique(picked_file[older]):
            users, among = older & (picked_file == file), picked_file == file
            dropped = self._dropped(table, users, among)
            name, latest = self.names[file], int(np.count_nonzero(among))
            causes.append(self.cause(
                FILE_PARTIALLY_INGESTED, users, name,
                lambda members, examples, name=name, latest=latest, dropped=dropped: lacking_rows_sentence(
                    name, int(members.sum()), latest, int(self.gap[members].sum()), examples, self.words, dropped
                ),
                {"scattered": True, "lacking": int(np.count_nonzero(users)), "latest": latest, "dropped": dropped},
            ))
        return causes

    def _filter_explains_cut(self, dropped: Dropped | None, users: np.ndarray) -> bool:
        """``explains_cut`` for the users a file cut short explains (a mask), their values those of their expected rows."""
        def facts(column: str) -> tuple[bool, set[str]]:
            members = np.flatnonzero(users)
            values = self.words.encoding.written(column, np.unique(self.rows.expected.values[column][members]))
            return not self.observed_count[members].any(), {str(value) for value in values}

        return explains_cut(dropped, facts)

    def _quarantined_causes(self, left: np.ndarray) -> list[RootCause]:
        """One cause per quarantined file whose rows the platform holds: the users ``left`` whose one platform row
        holds their key at a version that file gave it (the validated feed holds none such), taken off ``left`` in
        place. The files are read only when some user is left with one row."""
        if self._quarantined is None or not np.any(left & (self.observed_count == 1)):
            return []
        source, files = self._quarantined_source
        causes = []
        for place, delta in enumerate(files):
            users = left & (source == place)
            if not users.any():
                continue
            left &= ~users
            as_sent = self._as_sent(delta, np.flatnonzero(users))
            cause = self.cause(  # its examples traced to the file's lines below: no validated file holds their rows
                QUARANTINED_FILE_LOADED, users, delta.name,
                lambda members, examples, name=delta.name, same=as_sent: quarantined_sentence(
                    name, int(members.sum()), same, int(self.gap[members].sum()), examples, self.words
                ),
            )
            _traced_to(cause.examples, delta, self.feed.shape)
            causes.append(cause)
        return causes

    def rekeying(self) -> Rekeying | None:
        """The rewrites found where some rewritten keys' rows changed too (``Rekeying``), None where none did: the
        diagnosis then moves those rows back under the keys as sent and searches again (this engine's search would
        leave those keys missing beside keys never sent). Never for an engine given one."""
        if self._rekeyed is not None:
            return None
        found = self._found_rewrites(self.initial, self.initial_agrees)
        if not any(rewrite.changed for rewrite in found):
            return None
        ids = self.rows.ids
        return Rekeying(
            tuple(replace(rewrite, sent=ids[rewrite.sent], held=ids[rewrite.held]) for rewrite in found), self._discrepant_count
        )

    def _rewritten_keys(self, table: Table, agrees: np.ndarray) -> tuple[list[RootCause], np.ndarray | None]:
        """Keys a load rewrote (``checks.diagnose._keys``) among the users ``table`` (the expected rows) leaves without
        a platform row and those with one row the feed never sent: one ``value_drift`` cause per rewrite found, counted
        as the keys the feed sent, with the dollars of both sides; and every user it explains, both sides (a mask; None
        when none is). Given a ``Rekeying`` (the platform's rows already moved back under the keys as sent), its
        rewrites, at no dollars: what the moved rows still get wrong is the search's to tell."""
        if self._rekeyed is not None:
            causes = []
            for found in self._rekeyed.rewrites:
                users = np.searchsorted(self.rows.ids, found.sent)
                causes.append(self._rewrite_cause(table, found, users, found.sent, found.held, np.zeros(len(users), dtype="int64")))
            return causes, None
        found = self._found_rewrites(table, agrees)
        if not found:
            return [], None
        explained = np.zeros(self.size, dtype=bool)
        causes, ids = [], self.rows.ids
        for rewrite in found:
            order = np.argsort(rewrite.sent)  # the users in index order, as ``cause`` takes their dollars
            sent, held = rewrite.sent[order], rewrite.held[order]
            explained[sent] = explained[held] = True
            causes.append(self._rewrite_cause(
                table, rewrite, sent, ids[sent], ids[held], self.gap[sent] + self.gap[held],
                absolute=np.abs(self.gap[sent]) + np.abs(self.gap[held]),
            ))
        return causes, explained

    def _found_rewrites(self, table: Table, agrees: np.ndarray) -> list[Rewrite]:
        """``checks.diagnose._keys.rewrites`` of the users ``table`` leaves without a platform row and those with one
        row the feed never sent (positions in the user index), found once."""
        if "rewrites" in self._cache:
            return self._cache["rewrites"]
        codec = self.words.encoding.codecs[self.feed.shape.key]
        found: list[Rewrite] = []
        if codec.dictionary is not None:  # a key held as a number has no text to rewrite
            picked = table.part >= 0
            sent = np.flatnonzero(~agrees & picked & (self.observed_count == 0))  # missing from the table
            held = np.flatnonzero(~agrees & ~picked & (self.observed_count == 1))  # never sent
            if len(sent) and len(held):
                found = rewrites(*self._rewrite_evidence(table, codec, sent, held))
        self._cache["rewrites"] = found
        return found

    def _rewrite_evidence(self, table: Table, codec, sent: np.ndarray, held: np.ndarray) -> tuple:
        """``rewrites``' arguments: the keys' texts, the users, and how their rows are compared."""
        compared = self.compared

        def same_rows(sent_users: np.ndarray, held_users: np.ndarray) -> np.ndarray:
            agree = np.ones(len(sent_users), dtype=bool)
            for column in compared:
                agree &= picked_values(self.feed, table, sent_users, column) == self.platform.values_at(column, held_users)
            return agree

        def texts(users: np.ndarray) -> pd.Series:
            return pd.Series(codec.dictionary.decode(self.rows.ids[users]), dtype=object)

        def digests(sent_users: np.ndarray, held_users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sent_rows = {column: picked_values(self.feed, table, sent_users, column) for column in compared}
            held_rows = {column: self.platform.values_at(column, held_users) for column in compared}
            return row_keys(sent_rows, compared), row_keys(held_rows, compared)

        return texts(sent), sent, texts(held), held, same_rows, digests

    def _rewrite_cause(
        self, table: Table, found: Rewrite, sent_users: np.ndarray, sent_ids: np.ndarray, held_ids: np.ndarray,
        dollars: np.ndarray, absolute: np.ndarray | None = None, *, file: str | None = None,
        kept_older: tuple[int, int] | None = None,
    ) -> RootCause:
        """One rewrite's ``value_drift`` cause over the users the feed sent (positions), with the keys' ids both ways;
        of one ``file``'s load only, ``kept_older``: how many of those keys are left on an older row under their own,
        and of those how many on none."""
        key = self.feed.shape.key
        users = np.zeros(self.size, dtype=bool)
        users[sent_users] = True
        mechanism = Mechanism(KEYS_REWRITTEN, (key,), found.name)
        what, why, fix = mechanism_words(mechanism, self.words)
        order = np.argsort(sent_ids, kind="stable")
        shown = order[largest(np.abs(self.gap[sent_users[order]]), KEY_EXAMPLES)]
        changes = [
            {"key": self.words.key(sent_key), "column": key, "file": self.words.key(sent_key), "platform": self.words.key(held_key)}
            for sent_key, held_key in zip(sent_ids[shown], held_ids[shown])
        ]
        file = self.file_of_picks(table, users) if file is None else file
        return self.cause(
            VALUE_DRIFT, users, file,
            lambda members, examples: rewritten_sentence(
                mechanism, file, int(members.sum()), int(dollars.sum()), changes, self.words, changed=found.changed,
                kept_older=kept_older,
            ),
            {"changes": changes, "what": what, "why": why, "fix": fix, "changed": found.changed}, dollars=dollars,
            mechanism=mechanism, absolute=absolute,
        )

    def _as_sent(self, delta: Delta, users: np.ndarray) -> int:
        """How many of ``users`` hold a platform row equal in every compared column to a row ``delta`` holds."""
        shape = self.feed.shape
        columns = [shape.key, *self.compared]
        held = pd.DataFrame({column: self.platform.values_at(column, users) for column in self.compared})
        held[shape.key] = self.rows.ids[users]
        return len(held.merge(delta.frame.loc[:, columns].drop_duplicates(), on=columns))

    # -- building root causes --------------------------------------------------------------------------

    def _drift_causes(self, drift: Drift, table: Table) -> list[RootCause]:
        """One ``value_drift`` cause per mechanism: its users, the dollars it moved, what it did in words."""
        causes = []
        for mechanism, users, dollars, changes in drift.findings():
            file = self.file_of_picks(table, users)
            evidence = mechanism_sentence(mechanism, file, int(users.sum()), int(dollars.sum()), changes, self.words)
            details = {"changes": changes, **dict(zip(("what", "why", "fix"), mechanism_words(mechanism, self.words)))}
            causes.append(self.cause(VALUE_DRIFT, users, file, lambda *_, said=evidence: said, details, dollars=dollars, mechanism=mechanism))
        return causes

    def _simulated_cause(
        self, hypothesis: Hypothesis, agreeing: int, users: np.ndarray, composed: tuple[np.ndarray, np.ndarray]
    ) -> RootCause:
        """A chosen change's cause: the users it made agree, and those it moved to a row a load then transformed
        (``composed``: those users and the dollars the change explains for them)."""
        name = None if hypothesis.file is None else self.names[hypothesis.file]
        also, also_dollars = composed
        dollars = None
        if len(also):
            users = users.copy()
            users[also] = True
            members = np.flatnonzero(users)
            dollars = self.gap[members]
            dollars[np.searchsorted(members, also)] = also_dollars

        def evidence(users: np.ndarray, examples: pd.DataFrame) -> str:
            return self._simulation_evidence(hypothesis, name, users, examples, agreeing, dollars)

        details = dict(hypothesis.note)
        if hypothesis.file is not None:
            details |= self._file_facts(hypothesis.file)
        return self.cause(hypothesis.kind, users, name, evidence, details, dollars=dollars)

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

    def cause(
        self,
        kind: str,
        users: np.ndarray,
        file: str | None,
        evidence,
        details: dict | None = None,
        *,
        dollars: np.ndarray | None = None,
        absolute: np.ndarray | None = None,
        mechanism: Mechanism | None = None,
    ) -> RootCause:
        """``dollars``: the part of each user's gap the cause explains (in user order), when not the whole gap;
        ``absolute``: the size of what it explains, when not ``dollars``' (a key rewritten explains both keys' gaps,
        which cancel in its dollars)."""
        # The members' gaps gathered once for the examples, the totals and the share.
        members = np.flatnonzero(users)
        gap = self.gap[members]
        sizes = np.abs(gap)
        examples = self._examples(members, sizes)
        if absolute is None:
            absolute = sizes if dollars is None else np.abs(dollars)
        return RootCause(
            kind=kind,
            file=file,
            users=len(members),
            revenue_gap=int(gap.sum() if dollars is None else dollars.sum()),
            share_of_gap=float(absolute.sum() / self._total_absolute) if self._total_absolute else self.share(users),
            evidence=evidence(users, examples) if len(members) else "",
            examples=examples,
            absolute_gap=int(absolute.sum()),
            details=details or {},
            mechanism=mechanism,
        )

    def _examples(self, members: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
        """A few of ``members`` (positions) with the largest gaps (``sizes``: theirs): the platform's row, the expected
        row, and where each lives."""
        members = members[largest(sizes, EXAMPLES_PER_CAUSE)]
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

    def file_of_picks(self, table: Table, users: np.ndarray) -> str | None:
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

    def _duplicate_cause(self, table: Table, users: np.ndarray) -> RootCause:
        """The users the platform holds more than once, named after the file their extra rows come from; else after the
        file whose row every one of them holds beside another (a file appended, not merged: its rows beside the rows
        the table held, the extra one the older row for some users and the file's for others)."""
        file, appended = self._file_of_extra_rows(table, users), None
        if file is None and table.signature is None:  # (a table without dedup holds a row per file: no file appended)
            file = appended = self._file_held_by_all(users)
        return self.cause(
            DUPLICATE_ROWS, users, file,
            lambda members, examples: duplicate_sentence(
                int(members.sum()), int((self.observed_count[members] - 1).sum()), int(self.gap[members].sum()), examples,
                self.words, appended=appended,
            ),
            {"appended": appended} if appended else None,
        )

    def _file_held_by_all(self, users: np.ndarray) -> str | None:
        """The one file exactly one row of which each of ``users`` holds on the platform beside exactly one row of another
        file (the same row twice is no file appended), every row of theirs a feed row."""
        if not users.any() or (self.observed_count[users] != 2).any():
            return None
        rows = np.flatnonzero(users[self.platform.user])
        source = self.matches.rows(rows)[0]
        if (source < 0).any():
            return None
        owner = np.searchsorted(np.flatnonzero(users), self.platform.user[rows])  # each row's user, 0 to n - 1
        count = int(np.count_nonzero(users))
        holders = [file for file in np.unique(source) if (np.bincount(owner[source == file], minlength=count) == 1).all()]
        return self.names[int(holders[0])] if len(holders) == 1 else None

    def _file_of_extra_rows(self, table: Table, users: np.ndarray) -> str | None:
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
            values = {column: picked_values(self.feed, table, owners[picked], column) for column in names if column != key}
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
        self, hypothesis: Hypothesis, name: str | None, users: np.ndarray, examples: pd.DataFrame, agree: int,
        dollars: np.ndarray | None = None,
    ) -> str:
        dollars = int(self.gap[users].sum() if dollars is None else dollars.sum())
        without_row = int(np.count_nonzero(users[self._without_row]))  # ``users``: a mask
        return simulation_sentence(
            hypothesis.kind, hypothesis.note, name, int(users.sum()), dollars, agree, self.size, examples, without_row, self.words
        )

    def _missing_evidence(self, users: np.ndarray, examples: pd.DataFrame, dropped: Dropped | None = None) -> str:
        return missing_sentence(int(users.sum()), int(self.gap[users].sum()), examples, self.words, dropped)

    def _dropped(self, table: Table, missing: np.ndarray, among: np.ndarray | None = None) -> Dropped | None:
        """What the ``missing`` users share and no other user with a row in ``table`` does (``checks.diagnose._dropped``):
        a value of a compared column, else a place in key order. ``among``: those other users only (a mask)."""
        if table.part is None or int(np.count_nonzero(missing)) < MIN_DROPPED:
            return None
        users = np.flatnonzero(table.part >= 0 if among is None else among)
        lost = missing[users]
        encoding = self.words.encoding
        found = by_value(
            lost, filterable(self.compared, self.feed.shape.version),
            lambda column, at: picked_values(self.feed, table, users if at is None else users[at], column),
            lambda column, value: str(encoding.written(column, [value])[0]),
        )
        if found is not None:
            return found
        key = self.feed.shape.key
        dictionary = encoding.codecs[key].dictionary
        ids = self.rows.ids[users]
        cut = by_key_order(lost, ids if dictionary is None else dictionary.decode_arrow(ids, empty=None))
        return None if cut is None else Dropped(None, cut[1] if dictionary is not None else self.words.key(cut[1]), cut[0])

    def _unexpected_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        rows = np.flatnonzero(users[self.platform.user])
        no_file = int((self.matches.rows(rows)[0] < 0).sum())
        return unexpected_sentence(int(users.sum()), no_file, int(self.gap[users].sum()), examples, self.words)

    def _drift_evidence(self, users: np.ndarray, examples: pd.DataFrame) -> str:
        return drift_sentence(self.rows.frame(np.flatnonzero(users)), int(self.gap[users].sum()), examples, self.words)

