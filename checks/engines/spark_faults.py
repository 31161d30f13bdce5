"""The fault search's simulations as Spark jobs: the greedy search of ``checks.diagnose._engine.Engine.attribute`` run
over counts, the driver holding no delta and no per-user table.

The default engine tries, round after round, a file left out or cut short, then (while the dedup rule is the feed's)
batch_id as text, each candidate load order and no dedup, and keeps the change that explains the most dollars while
breaking almost no user that agrees (``hypothesis_score``, shared); after two changes or more, one that alone makes
agree every user they did is kept alone (``sole_change``, shared). Every such change is a simulation: per user, the
row a model of the platform (which rows of each file it read, how it kept one per user) would hold. Here a model's
table is one window job over the stacked feed (per user its pick and its runner-up: the best row of another file,
what it falls back to when its pick's rows are not read), joined with the platform's first row and row count; no dedup
compares each user's read rows with the platform's as sorted lists. A family of changes is then scored in one
grouping: per file, how many disagreeing users leaving it out (or cutting it where the platform stopped reading it,
one window job per round) makes agree (gained), how many agreeing users it breaks (lost), their dollars, and how many
it leaves without a row that the platform holds. Only those counts, a chosen file's facts and each cause's capped
examples come to the driver, which runs the same greedy loop over them.

Decided here: files never loaded, files cut short, another dedup order, no dedup, several of these at once, and
the residual causes of the users left over after the last change taken (dropped, unexpected and duplicated users,
counted in Spark). ``None`` (the caller decides, see ``checks.engines.spark_reconcile.diagnose``) when a user left
over has one platform row and a simulated one (a value changed in transit: ``checks.diagnose._drift`` finds its
mechanism in the feed's rows), when a delta holds a user twice, when a user's two best rows tie, when a change
breaks a user that agreed (a cause's members would then include users the listing does not hold), when users are
left over after no dedup, or when batch_id as text must be tried on a version that is not an integer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from checks.diagnose._dropped import MIN_DROPPED, Dropped, cut_in_key_order, explains_cut, filterable
from checks.diagnose._engine import candidate_orders, change_alone, hypothesis_score, rule_changes, sole_change
from checks.diagnose.results import (
    DUPLICATE_ROWS,
    EXAMPLES_PER_CAUSE,
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    MISSING_USERS,
    UNEXPECTED_USERS,
    RootCause,
)
from checks.diagnose.sentences import duplicate_sentence, missing_sentence, simulation_sentence, unexpected_sentence
from checks.engines.spark_deltas import union
from checks.engines.spark_dictionary import frame as dictionary_frame
from checks.engines.spark_users import CODE, GAP, PLATFORM_FILE, SparkUsers
from checks.model import Shape
from checks.reconcile import CLASSES, MATCH, Reconciliation, compared
from checks.wording import Words

_PICK = "_pick"  # the file of a user's pick (its best row read)
_PICK_LINE = "_pick_line"  # and its line in that file
_TIE = "_tie"  # the runner-up has the pick's version (numeric rule)
_AGREES = "_agrees"  # the user's simulated row(s) are exactly its platform row(s)
_FALLS_BACK = "_falls_back"  # the runner-up is the platform's only row, or neither exists
_ORPHAN = "_orphan"  # no runner-up, though the platform holds a row
_SIZE = "_size"  # the size of the user's spend gap
_OBSERVED = "_observed"  # how many platform rows the user has
_PICK_ROW = "_pick_row"  # the pick's values
_NONE_READ = -1  # a file's cut when no row of it is read (every line is above it)


@dataclass(frozen=True)
class _Model:
    """``checks.diagnose._scan.Model`` over lines: per file, the first line not read (None: every line), and the rule."""

    cuts: tuple[int | None, ...]
    rule: tuple


@dataclass(frozen=True)
class _Change:
    """A hypothesis and what it does to the current table: its score (None: not taken) and the model it gives."""

    kind: str
    file: int | None
    model: _Model
    note: dict
    score: tuple[int, int] | None
    lost: int


@dataclass(frozen=True)
class _Columns:
    """The stacked feed's and the platform's bookkeeping columns (``checks.engines.spark_reconcile`` names them)."""

    file: str
    line: str
    position: str


def search(
    feed: Any, platform: Any, sources: Any, users: SparkUsers, reconciliation: Reconciliation, names: tuple[str, ...],
    shape: Shape, words: Words, *, file_column: str, line_column: str, position_column: str, left_undecided: bool = False,
) -> tuple[RootCause, ...] | None:
    """The causes the greedy search names, when its rounds end with every user agreeing; ``None`` otherwise (see the
    module). ``users``: the listed keys, traced (``SparkUsers``); ``sources``: per platform row, the file
    (``PLATFORM_FILE``) of its first equal feed row. ``left_undecided``: any user the simulations leave over makes
    the search undecided here (their rows may be a quarantined file's, which the driver's search reads)."""
    if not reconciliation.discrepant_users:
        return None
    search = _Search(feed, platform, sources, users, shape, words, names, _Columns(file_column, line_column, position_column))
    try:
        chosen = search.run(reconciliation.discrepant_users)
        if chosen is None:
            return None
        return search.causes(chosen, reconciliation, left_undecided=left_undecided)
    finally:
        search.close()


class _Search:
    """The greedy search's state: the model taken so far, its table (cached) and which change made each user agree."""

    def __init__(
        self, feed: Any, platform: Any, sources: Any, users: SparkUsers, shape: Shape, words: Words,
        names: tuple[str, ...], columns: _Columns,
    ) -> None:
        from pyspark.sql import functions as F

        self.feed, self.sources, self.users, self.shape, self.words = feed, sources, users, shape, words
        self.names, self.columns = names, columns
        key = shape.key
        first = F.min_by(F.struct(*compared(shape)), F.col(columns.position))
        self.loaded = platform
        self.platform = platform.groupBy(key).agg(first.alias("_p"), F.count("*").alias("_count")).cache()
        self.sizes = users.users.where(F.col(CODE) != CLASSES.index(MATCH)).select(key, F.abs(F.col(GAP)).alias(_SIZE))
        self._cached: list[Any] = [self.platform]
        self._orders: list[tuple[int, ...]] | None = None
        self.last: Any = None  # the table of the last change taken

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()

    def _keep(self, frame: Any) -> Any:
        frame = frame.cache()
        self._cached.append(frame)
        return frame

    # -- the greedy loop ---------------------------------------------------------------------------

    def run(self, disagreeing: int) -> list[tuple[_Change, int, Any]] | None:
        """The changes taken, each with how many users agree after it and the keys it made agree (its cause's
        members); ``None`` where the search is not decided here (``disagreeing``: the reconciliation's count, which
        the first table must give). The last table is ``self.last``."""
        from pyspark.sql import functions as F

        key = self.shape.key
        if self.feed.groupBy(self.columns.file, key).count().where(F.col("count") > 1).limit(1).count():
            return None
        model = first_model = _Model((None,) * len(self.names), ("numeric",))
        table = first = self._table(model)
        if table.where(F.col(_TIE)).limit(1).count():
            return None
        agreeing = self._user_count() - table.where(~F.col(_AGREES)).count()
        if agreeing != self._user_count() - disagreeing:
            return None
        chosen: list[tuple[_Change, int, Any]] = []
        while agreeing < self._user_count():
            if model.rule == ("none",):
                return None  # the default engine simulates files whole after no dedup: not here
            best = self._best(self._file_changes(model, table))
            if best is None and model.rule == ("numeric",):
                if not self._integer_version():
                    return None  # batch_id as text, tried first, reads another version's text: the driver's
                best = self._best(self._rule_changes(model, table))
            if best is None:
                break  # the users left over: the residual causes
            if best.lost:
                return None  # a cause would hold users that agreed (the listing does not hold them)
            after = self._table(best.model)
            gained = self._keep(_gained(table, after, key))
            table, model = after, best.model
            agreeing = self._user_count() - table.where(~F.col(_AGREES)).count()
            chosen.append((best, agreeing, gained))
        if len(chosen) > 1:
            whole = self._whole_story(first_model, first, chosen, table)
            if whole is not None:
                chosen, table = whole
        self.last = table
        return chosen

    def _whole_story(
        self, first_model: _Model, first: Any, chosen: list[tuple[_Change, int, Any]], last: Any
    ) -> tuple[list[tuple[_Change, int, Any]], Any] | None:
        """``Engine._whole_story``: each change taken tried alone from the first table, ``sole_change`` deciding; that
        change alone (with how many users agree after it and the keys it made agree) and its table, or None. No change
        taken breaks a user, so the users agreeing at the end include those agreeing at the start."""
        from pyspark.sql import functions as F

        key = self.shape.key
        left_at_end = last.where(~F.col(_AGREES)).select(key)
        trials, alone = [], []
        for change, _, _ in chosen:
            model = change_alone(first_model, change.file, change.model)
            table = self._table(model)
            disagreeing = table.where(~F.col(_AGREES)).select(key)
            # A user absent from a table agrees: those the change alone leaves disagreeing, and the end does not.
            covers = not disagreeing.join(left_at_end, on=key, how="left_anti").limit(1).count()
            trials.append((covers, self._user_count() - disagreeing.count()))
            alone.append((replace(change, model=model), table))
        index = sole_change(trials)
        for at, (_, table) in enumerate(alone):
            if at != index:
                table.unpersist()
        if index is None:
            return None
        change, table = alone[index]
        return [(change, trials[index][1], self._keep(_gained(first, table, key)))], table

    def _user_count(self) -> int:
        return self.users.facts.user_count

    def _best(self, changes: list[_Change]) -> _Change | None:
        """The first of the best scores, as ``Engine._best`` takes it."""
        best = None
        for change in changes:
            if change.score is not None and (best is None or change.score > best.score):
                best = change
        return best

    # -- simulated tables ---------------------------------------------------------------------------

    def _read(self, model: _Model) -> Any:
        """The feed's rows a model reads."""
        from pyspark.sql import functions as F

        read = self.feed
        for file, cut in enumerate(model.cuts):
            if cut is not None:
                read = read.where((F.col(self.columns.file) != file) | (F.col(self.columns.line) < cut))
        return read

    def _table(self, model: _Model) -> Any:
        """Per user of the feed or the platform, cached: whether the model's table agrees with the platform, and
        (with a dedup rule) its pick's file and line and what leaving its pick's rows out would do."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        key, version, values = self.shape.key, self.shape.version, compared(self.shape)
        read = self._read(model)
        columns = self.columns
        if model.rule == ("none",):
            # Each user's rows read and its platform rows, as sorted lists: equal lists, the same rows (any order).
            rows = F.sort_array(F.collect_list(F.struct(*_row_columns(self.shape))))
            read = read.groupBy(key).agg(rows.alias("_read"))
            users = read.join(self.loaded.groupBy(key).agg(rows.alias("_rows")), on=key, how="full_outer").select(
                key, F.coalesce(F.col("_read") == F.col("_rows"), F.lit(False)).alias(_AGREES),
                F.lit(None).cast("int").alias(_PICK), F.lit(False).alias(_FALLS_BACK), F.lit(False).alias(_ORPHAN),
            )
        else:
            ranked = read.select(key, columns.file, columns.line, *values).withColumn(
                "_rank", F.row_number().over(Window.partitionBy(key).orderBy(*self._priority(model.rule)))
            ).where(F.col("_rank") <= 2)
            pairs = ranked.groupBy(key).agg(
                *[
                    F.max(F.when(F.col("_rank") == rank, F.struct(columns.file, columns.line, *values))).alias(name)
                    for rank, name in ((1, "_w"), (2, "_r"))
                ]
            )
            joined = pairs.join(self.platform, on=key, how="full_outer").withColumn(
                "_count", F.coalesce(F.col("_count"), F.lit(0))
            )
            users = joined.select(
                key,
                F.col("_w." + columns.file).alias(_PICK),
                F.col("_w." + columns.line).alias(_PICK_LINE),
                _equal("_w", values).alias(_AGREES),
                (_equal("_r", values) | (F.col("_r").isNull() & (F.col("_count") == 0))).alias(_FALLS_BACK),
                (F.col("_r").isNull() & (F.col("_count") > 0)).alias(_ORPHAN),
                F.col("_count").alias(_OBSERVED), F.col("_w").alias(_PICK_ROW),
                F.coalesce(F.col("_w." + version) == F.col("_r." + version), F.lit(False)).alias(_TIE),
            )
        users = users.join(self.sizes, on=key, how="left").withColumn(_SIZE, F.coalesce(F.col(_SIZE), F.lit(0)))
        return self._keep(users)

    def _priority(self, rule: tuple) -> list[Any]:
        """A rule's order of a user's rows, best first: ``Scan`` keeps the highest key, a later file on a tie."""
        from pyspark.sql import functions as F

        file, version = F.col(self.columns.file), F.col(self.shape.version)
        if rule[0] == "numeric":
            return [version.desc(), file.desc()]
        if rule[0] == "string":  # an integer's decimal text (the only version tried as text here)
            return [version.cast("string").desc(), file.desc()]
        rank = F.element_at(F.array(*[F.lit(at) for at in _ranks(rule[1])]), file + 1)
        return [rank.desc()]

    # -- the changes tried ----------------------------------------------------------------------------

    def _file_changes(self, model: _Model, table: Any) -> list[_Change]:
        """``Engine._file_hypotheses`` scored: per file holding a disagreeing user's pick, left out, then cut."""
        from pyspark.sql import functions as F

        effects = _effects(table, F.col(_PICK))
        worth = sorted(file for file, effect in effects.items() if file >= 0 and effect["disagreeing"] and model.cuts[file] != _NONE_READ)
        cuts = self._truncation_points(model, table, worth)
        cut_effects = _effects(table, _cut_group(cuts)) if cuts else {}
        changes = []
        for file in worth:
            left_out = replace(model, cuts=_with_cut(model.cuts, file, _NONE_READ))
            changes.append(_scored(FILE_NOT_INGESTED, file, left_out, {}, effects[file]))
            if file in cuts:
                kept, total, line = cuts[file]
                cut = replace(model, cuts=_with_cut(model.cuts, file, line))
                changes.append(_scored(FILE_PARTIALLY_INGESTED, file, cut, {"kept": kept, "total": total}, cut_effects.get(file, {})))
        return changes

    def _truncation_points(self, model: _Model, table: Any, files: list[int]) -> dict[int, tuple[int, int, int]]:
        """``Engine._truncation_point`` per file, in one window job: over a file's rows read, in order, the cut that
        best splits the rows the platform shows (its only row of the user) from those it lacks (a disagreeing pick
        there), the largest prefix among the best; none at the file's start or end. Per file: rows kept, rows read,
        the first line not read."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        if not files:
            return {}
        key, columns = self.shape.key, self.columns
        values = compared(self.shape)
        rows = (
            self._read(model).where(F.col(columns.file).isin(files))
            .select(key, columns.file, columns.line, F.struct(*values).alias("_f"))
            .join(self.platform, on=key, how="left")
            .join(table.select(key, _PICK), on=key, how="left")
        )
        shown = _equal("_f", values).cast("long")
        lacking = (F.coalesce(F.col(_PICK) == F.col(columns.file), F.lit(False)) & (shown == 0)).cast("long")
        rows = rows.select(columns.file, columns.line, shown.alias("_shown"), lacking.alias("_lacking"))
        ordered = Window.partitionBy(columns.file).orderBy(columns.line)
        before = ordered.rowsBetween(Window.unboundedPreceding, -1)
        scored = rows.select(
            columns.file, columns.line,
            (F.row_number().over(ordered) - 1).alias("_index"),
            (
                F.coalesce(F.sum("_shown").over(before), F.lit(0))
                + F.sum("_lacking").over(Window.partitionBy(columns.file))
                - F.coalesce(F.sum("_lacking").over(before), F.lit(0))
            ).alias("_score"),
            "_shown", "_lacking",
        )
        found = scored.groupBy(columns.file).agg(
            F.max(F.struct("_score", "_index", columns.line)).alias("_best"),
            F.count("*").alias("_rows"), F.sum("_shown").alias("_shown"), F.sum("_lacking").alias("_lacking"),
        ).collect()
        cuts = {}
        for row in found:
            best, total = row["_best"], int(row["_rows"])
            # Reading every row scores the rows shown: a tie with it keeps every row (the largest prefix), no cut.
            if not row["_lacking"] or row["_shown"] >= best["_score"] or best["_index"] == 0:
                continue
            cuts[int(row[columns.file])] = (int(best["_index"]), total, int(best[columns.line]))
        return cuts

    def _rule_changes(self, model: _Model, table: Any) -> list[_Change]:
        """``Engine._rule_hypotheses`` scored: each rule's table simulated whole and compared with the current one."""
        from pyspark.sql import functions as F

        if self._orders is None:
            self._orders = self._candidate_orders()
        changes = []
        for kind, rule, note in rule_changes(self.names, self._orders):
            candidate = replace(model, rule=rule)
            after = self._table(candidate)
            key = self.shape.key
            now = after.select(key, F.col(_AGREES).alias("_now"))
            both = table.select(key, _AGREES, _SIZE).join(now, on=key, how="full_outer")
            # A user absent from a table has no row read and none on the platform: it agrees.
            before, then = F.coalesce(F.col(_AGREES), F.lit(True)), F.coalesce(F.col("_now"), F.lit(True))
            size = F.coalesce(F.col(_SIZE), F.lit(0))
            row = both.agg(
                F.sum((~before & then).cast("long")).alias("gained"), F.sum((before & ~then).cast("long")).alias("lost"),
                F.sum(F.when(~before & then, size)).alias("gained_dollars"), F.sum(F.when(before & ~then, size)).alias("lost_dollars"),
            ).first()
            effect = {name: int(row[name] or 0) for name in ("gained", "lost", "gained_dollars", "lost_dollars")}
            changes.append(_scored(kind, None, candidate, note, effect | {"orphaned": 0}))
            after.unpersist()
        return changes

    def _integer_version(self) -> bool:
        """The version's text is its integer's digits (``Engine._text_keys`` renders others through its codec)."""
        codec = self.words.encoding.codecs[self.shape.version]
        return codec.column.logical_type == "integer"

    def _candidate_orders(self) -> list[tuple[int, ...]]:
        """``Engine._inferred_orders``: per file, of the users other files hold too, how many the platform shows (one
        row, first equal in that file) and how many it holds."""
        from pyspark.sql import functions as F

        key, file = self.shape.key, self.columns.file
        shared = self.feed.groupBy(key).count().where(F.col("count") > 1).select(key)
        appearances = dict(self.feed.join(shared, on=key, how="left_semi").groupBy(file).count().collect())
        single = self.platform.where(F.col("_count") == 1).select(key)
        shown = (
            self.sources.where(F.col(PLATFORM_FILE).isNotNull()).join(single, on=key, how="left_semi")
            .join(shared, on=key, how="left_semi").groupBy(PLATFORM_FILE).count().collect()
        )
        wins = dict(shown)
        files = range(len(self.names))
        return candidate_orders(
            np.array([wins.get(at, 0) for at in files], dtype="int64"), np.array([appearances.get(at, 0) for at in files], dtype="int64")
        )

    # -- the causes ------------------------------------------------------------------------------------

    def causes(
        self, chosen: list[tuple[_Change, int, Any]], reconciliation: Reconciliation, *, left_undecided: bool = False
    ) -> tuple[RootCause, ...] | None:
        """``Engine._simulated_cause`` per change taken, then the residual causes of the users left over, ordered as
        ``Engine.attribute`` orders them; ``None`` when some user left over could be a value changed in transit, or
        with ``left_undecided`` when any user is left over."""
        _, total, _ = self.users.discrepant()
        cuts = {index: members for index, (change, _, members) in enumerate(chosen) if change.kind == FILE_PARTIALLY_INGESTED}
        residual = self._residual_causes(reconciliation, total, cuts, left_undecided=left_undecided)
        if residual is None:
            return None
        residual, yielded = residual
        found = []
        for change, agreeing, members in (taken for index, taken in enumerate(chosen) if index not in yielded):
            name = None if change.file is None else self.names[change.file]

            def evidence(
                count: int, gap: int, without_row: int, examples: Any,
                change: _Change = change, name: str | None = name, agreeing: int = agreeing,
            ) -> str:
                return simulation_sentence(
                    change.kind, change.note, name, count, gap, agreeing, reconciliation.user_count, examples,
                    without_row, self.words,
                )

            details = dict(change.note)
            if change.file is not None:
                details |= self._file_facts(change.file)
            found.append(self._cause(change.kind, members, name, evidence, details, reconciliation, total))
        found = [cause for cause in found if cause is not None] + residual
        found.sort(key=lambda cause: (-cause.absolute_gap, -cause.users, cause.kind))
        return tuple(found)

    def _cause(
        self, kind: str, members: Any, name: str | None, evidence: Any, details: dict, reconciliation: Reconciliation, total: int,
    ) -> RootCause | None:
        """``Engine.cause`` over the keys ``members`` (a Spark frame; None without any): their gap, its share, the
        largest gaps as examples; ``evidence(count, gap, without_row, examples)`` words it."""
        from pyspark.sql import functions as F

        rows = self.users.users.join(members, on=self.shape.key, how="left_semi")
        row = rows.agg(
            F.count("*").alias("users"), F.sum(GAP).alias("gap"), F.sum(F.abs(F.col(GAP))).alias("size"),
            F.sum(F.when(F.col("p_count") == 0, 1).otherwise(0)).alias("without_row"),
        ).first()
        count = int(row["users"])
        if not count:
            return None
        gap, size = int(row["gap"] or 0), int(row["size"] or 0)
        examples = self.users.largest_gaps(EXAMPLES_PER_CAUSE, among=members)
        share = size / total if total else count / reconciliation.discrepant_users
        return RootCause(
            kind=kind, file=name, users=count, revenue_gap=gap, share_of_gap=float(share),
            evidence=evidence(count, gap, int(row["without_row"] or 0), examples), examples=examples, absolute_gap=size,
            details=details,
        )

    def _residual_causes(
        self, reconciliation: Reconciliation, total: int, cuts: dict[int, Any], *, left_undecided: bool = False
    ) -> tuple[list[RootCause], set[int]] | None:
        """``Engine._residual_causes`` where no user left over has one platform row and a simulated one (a value that
        changed in transit, whose mechanism ``checks.diagnose._drift`` finds in the rows): dropped, unexpected and
        duplicated users, each named after the one file they come from, if one, and which of the chosen files cut
        short (``cuts``: their users' keys by place among the chosen changes) the filter that dropped the missing
        users explains instead, their users told as missing; ``None`` otherwise."""
        from pyspark.sql import functions as F

        key, table = self.shape.key, self.last
        yielded: set[int] = set()
        if not table.where(~F.col(_AGREES)).limit(1).count():
            return [], yielded  # every user agrees (a table without dedup has no picks to ask about)
        if left_undecided:
            return None
        left, picked, observed = ~F.col(_AGREES), F.col(_PICK).isNotNull(), F.col(_OBSERVED)
        if table.where(left & picked & (observed == 1)).limit(1).count():
            return None
        kinds = (
            (MISSING_USERS, left & (observed == 0) & picked),
            (UNEXPECTED_USERS, left & ~picked & (observed > 0)),
            (DUPLICATE_ROWS, left & (observed > 1)),
        )
        platform = self.sources.select(key, *_row_columns(self.shape), F.col(PLATFORM_FILE).alias("_source"))
        causes = []
        for kind, chosen in kinds:
            members = self._keep(table.where(chosen).select(key, _PICK, _OBSERVED, _PICK_ROW))
            if not members.limit(1).count():
                continue
            if kind == MISSING_USERS:
                name = self._single_file(members.select(F.col(_PICK).alias("_source")))
                dropped = self._dropped(table.where(picked), members)
                yielded = {index for index, cut in cuts.items() if self._filter_explains_cut(dropped, cut)}
                members = union([members.select(key), *(cuts[index].select(key) for index in sorted(yielded))])

                def evidence(count: int, gap: int, _: int, examples: Any, dropped: Dropped | None = dropped) -> str:
                    return missing_sentence(count, gap, examples, self.words, dropped)

                details = {"dropped": dropped} if dropped is not None else {}
                causes.append(self._cause(kind, members, name, evidence, details, reconciliation, total))
                continue
            rows = platform.join(members, on=key, how="inner")
            appended = None  # duplicated users: the file whose row each holds beside another, when their extra rows are of several
            if kind == UNEXPECTED_USERS:
                no_file = rows.where(F.col("_source").isNull()).count()
                name = self._single_file(rows)

                def evidence(count: int, gap: int, _: int, examples: Any, no_file: int = no_file) -> str:
                    return unexpected_sentence(count, no_file, gap, examples, self.words)
            else:
                # The platform's rows that are not the user's simulated row (all of them without one).
                same = F.lit(True)
                for column in _row_columns(self.shape):
                    same = same & (F.col(column) == F.col(f"{_PICK_ROW}.{column}"))
                name = self._single_file(rows.where(~F.coalesce(same, F.lit(False))))
                appended = None if name is not None else self._file_held_by_all(rows, key)
                name = name or appended
                extra = int(members.agg(F.sum(F.col(_OBSERVED) - 1)).first()[0] or 0)

                def evidence(
                    count: int, gap: int, _: int, examples: Any, extra: int = extra, appended: str | None = appended
                ) -> str:
                    return duplicate_sentence(count, extra, gap, examples, self.words, appended=appended)
            details = {"appended": appended} if appended else {}
            causes.append(self._cause(kind, members, name, evidence, details, reconciliation, total))
        return [cause for cause in causes if cause is not None], yielded

    def _filter_explains_cut(self, dropped: Dropped | None, members: Any) -> bool:
        """``Engine._filter_explains_cut`` in one job: the users a file cut short explains (``members``' keys) against
        the filter, their values those of their expected rows."""
        from pyspark.sql import functions as F

        def facts(column: str) -> tuple[bool, set[str]]:
            rows = self.users.users.join(members.select(self.shape.key), on=self.shape.key, how="left_semi")
            found = rows.agg(
                F.count_if(F.col("p_count") > 0).alias("with_row"), F.min(f"e_{column}").alias("low"),
                F.max(f"e_{column}").alias("high"),
            ).first()
            if found["low"] is None:  # no user: nothing the filter took
                return True, set()
            values = self.words.encoding.written(column, [found["low"], found["high"]])
            return not found["with_row"], {str(value) for value in values}

        return explains_cut(dropped, facts)

    def _dropped(self, picked: Any, missing: Any) -> Dropped | None:
        """``Engine._dropped`` in Spark SQL: what the ``missing`` users share and no other user with a pick (``picked``)
        does, a value of a compared column, else a place in key order (text order for a text key)."""
        from pyspark.sql import functions as F

        count = missing.count()
        if count < MIN_DROPPED:
            return None
        encoding, key = self.words.encoding, self.shape.key
        values = filterable(compared(self.shape), self.shape.version)
        shared = missing.agg(
            *[F.count_distinct(F.col(f"{_PICK_ROW}.{column}")).alias(f"_n{at}") for at, column in enumerate(values)],
            *[F.min(F.col(f"{_PICK_ROW}.{column}")).alias(f"_v{at}") for at, column in enumerate(values)],
        ).first()
        for at, column in enumerate(values):
            value = shared[f"_v{at}"]
            if shared[f"_n{at}"] == 1 and picked.where(F.col(f"{_PICK_ROW}.{column}") == value).count() == count:
                return Dropped(column, str(encoding.written(column, [value])[0]))
        codec = encoding.codecs[key]
        kept = picked.join(missing.select(key), on=key, how="left_anti").select(key)
        lost = missing.select(key)
        if codec.dictionary is not None:  # codes in Spark: the keys' order is their text's
            texts = dictionary_frame(codec.dictionary)
            kept, lost = ((side.join(texts, side[key] == texts["_code"]).select(F.col("_text").alias(key))) for side in (kept, lost))
        cut = cut_in_key_order(*(tuple(side.agg(F.min(key), F.max(key)).first()) for side in (lost, kept)))
        if cut is None:
            return None
        side, at = cut
        return Dropped(None, at if codec.dictionary is not None else self.words.key(at), side)

    def _file_held_by_all(self, rows: Any, key: str) -> str | None:
        """``Engine._file_held_by_all`` in one job: the one file exactly one row of which each key of ``rows`` (its
        platform rows, ``_source``; two or more per key) holds beside exactly one other, every row of theirs a feed row;
        None otherwise."""
        from pyspark.sql import functions as F

        found = rows.agg(
            F.count_distinct(key).alias("keys"), F.count("*").alias("rows"), F.count("_source").alias("known"),
        ).first()
        if not found["rows"] or found["known"] != found["rows"] or found["rows"] != 2 * found["keys"]:
            return None
        per_key = rows.groupBy("_source", key).count()
        holders = per_key.groupBy("_source").agg(
            F.count_if(F.col("count") == 1).alias("once"), F.max("count").alias("most"),
        ).where((F.col("once") == found["keys"]) & (F.col("most") == 1))
        files = [row["_source"] for row in holders.collect()]
        return self.names[int(files[0])] if len(files) == 1 else None

    def _single_file(self, rows: Any) -> str | None:
        """The one file rows come from (``_source``), or None: several, none, or a row from no file."""
        from pyspark.sql import functions as F

        found = rows.agg(
            F.count_distinct("_source").alias("files"), F.max("_source").alias("file"),
            F.count("*").alias("rows"), F.count("_source").alias("known"),
        ).first()
        if not found["rows"] or found["known"] != found["rows"] or found["files"] != 1:
            return None
        return self.names[int(found["file"])]

    def _file_facts(self, file: int) -> dict[str, Any]:
        """``Engine._file_facts`` in one job: the file's rows, batch range, and how many of its users later files update."""
        from pyspark.sql import functions as F

        key, version, column = self.shape.key, self.shape.version, self.columns.file
        later = self.feed.where(F.col(column) > file).select(key).distinct().withColumn("_later", F.lit(1))
        row = (
            self.feed.where(F.col(column) == file).select(key, version).join(later, on=key, how="left")
            .agg(F.count("*").alias("rows"), F.min(version).alias("first"), F.max(version).alias("last"), F.count("_later").alias("again"))
            .first()
        )
        return {
            "rows": int(row["rows"]), "first_batch": int(row["first"]), "last_batch": int(row["last"]),
            "users_in_later_files": int(row["again"]),
        }


def _row_columns(shape: Shape) -> tuple[str, ...]:
    """The columns a row is told apart by when no dedup keeps one per user (``row_keys`` hashes them): all but the key."""
    return tuple(column for column in shape.names if column != shape.key)


def _ranks(order: tuple[int, ...]) -> list[int]:
    """Per file, its place in a load order (the last loaded wins)."""
    ranks = [0] * len(order)
    for at, file in enumerate(order):
        ranks[file] = at
    return ranks


def _with_cut(cuts: tuple[int | None, ...], file: int, cut: int) -> tuple[int | None, ...]:
    return cuts[:file] + (cut,) + cuts[file + 1 :]


def _equal(row: str, values: tuple[str, ...]) -> Any:
    """The struct ``row`` is the platform's only row of its key (false where either is missing)."""
    from pyspark.sql import functions as F

    same = (F.col("_count") == 1) & F.col(row).isNotNull()
    for column in values:
        same = same & (F.col(f"{row}.{column}") == F.col(f"_p.{column}"))
    return F.coalesce(same, F.lit(False))


def _cut_group(cuts: dict[int, tuple[int, int, int]]) -> Any:
    """Per user, the file whose cut stops reading its pick (null: none does)."""
    from pyspark.sql import functions as F

    group = None
    for file, (_, _, line) in cuts.items():
        hit = (F.col(_PICK) == file) & (F.col(_PICK_LINE) >= line)
        group = F.when(hit, F.lit(file)) if group is None else group.when(hit, F.lit(file))
    return group


def _effects(table: Any, group: Any) -> dict[int, dict[str, int]]:
    """Per group of users (``group``: a file's place, null for none, reported as -1), what falling back to their
    runner-ups does: disagreeing users, gained, lost, their dollars, and users left without a row the platform holds."""
    from pyspark.sql import functions as F

    disagree, back = ~F.col(_AGREES), F.col(_FALLS_BACK)
    gained, lost = disagree & back, ~disagree & ~back
    rows = table.groupBy(F.coalesce(group, F.lit(-1)).alias("_group")).agg(
        F.sum(disagree.cast("long")).alias("disagreeing"),
        F.sum(gained.cast("long")).alias("gained"),
        F.sum(lost.cast("long")).alias("lost"),
        F.sum(F.when(gained, F.col(_SIZE))).alias("gained_dollars"),
        F.sum(F.when(lost, F.col(_SIZE))).alias("lost_dollars"),
        F.sum(F.col(_ORPHAN).cast("long")).alias("orphaned"),
    ).collect()
    return {int(row["_group"]): {name: int(row[name] or 0) for name in row.asDict() if name != "_group"} for row in rows}


def _scored(kind: str, file: int | None, model: _Model, note: dict, effect: dict[str, int]) -> _Change:
    gained, lost = effect.get("gained", 0), effect.get("lost", 0)
    score = hypothesis_score(
        gained, lost, lambda: effect["gained_dollars"] - effect["lost_dollars"], lambda: effect["orphaned"],
    )
    return _Change(kind, file, model, note, score, lost)


def _gained(before: Any, after: Any, key: str) -> Any:
    """The keys that disagree under ``before`` and agree under ``after`` (absent from a table: no rows, agrees)."""
    from pyspark.sql import functions as F

    now = after.select(key, F.col(_AGREES).alias("_now"))
    both = before.select(key, _AGREES).join(now, on=key, how="full_outer")
    then = F.coalesce(F.col("_now"), F.lit(True))
    return both.where(~F.coalesce(F.col(_AGREES), F.lit(True)) & then).select(key)
