"""The fault search's simulations as Spark jobs: the cases it decides without the driver holding any delta.

``checks.diagnose._engine.Engine.attribute`` tries, greedily, a file left out or cut short, then another
dedup order, and sorts what is left into residual causes. Here one window job over the stacked feed gives
every user's pick (its latest row) and runner-up (the latest row of another file, a later file on a tie, as
``Scan.runner_up`` takes it), compared with the platform's first row; one grouping by the pick's file then
says, per file, how many users leaving it out would make agree (gained) or break (lost). Only those counts,
a file's facts and the capped examples come to the driver.

Decided here (the greedy search gives exactly these answers): one change to one file explains every user
that does not match. A file never loaded: leaving it out makes every disagreeing user agree and breaks none,
so no other file's hypothesis can gain anyone (a user's pick is in one file) and after it every user agrees:
one round, no residual cause. Else a file cut short, where the rows of the file the platform shows all come
before those it lacks (the cut the search would pick is then plain), and reading only up to the cut makes
every disagreeing user agree and breaks none: leaving the whole file out breaks the users it kept (a
matching user's gap is 0, so it scores lower in users alone), and the cut wins. Anything else (another
dedup order, no dedup, residual causes, several causes, interleaved rows) returns ``None`` and the caller
runs the driver's search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checks.diagnose.results import EXAMPLES_PER_CAUSE, FILE_NOT_INGESTED, FILE_PARTIALLY_INGESTED, RootCause
from checks.diagnose.sentences import simulation_sentence
from checks.model import Shape
from checks.reconcile import Reconciliation, compared
from checks.wording import Words

if TYPE_CHECKING:
    from checks.engines.spark_users import SparkUsers

_PICK = "_pick"  # the file of a user's pick (its latest row)
_PICK_LINE = "_pick_line"  # and its line in that file
_TIE = "_tie"  # the runner-up has the pick's version
_AGREES = "_agrees"  # the pick is the platform's only row
_FALLS_BACK = "_falls_back"  # the runner-up is the platform's only row, or neither exists


@dataclass(frozen=True)
class FileEffect:
    """Leaving one file out of the first table: the users whose pick it holds that do not match, and how many of
    them its runner-up rows make agree (gained) or break (lost)."""

    file: int
    disagreeing: int
    gained: int
    lost: int


def search(
    feed: Any, platform: Any, users: SparkUsers, reconciliation: Reconciliation, names: tuple[str, ...],
    shape: Shape, words: Words, *, file_column: str, line_column: str, position_column: str,
) -> RootCause | None:
    """The one cause that explains every user that does not match, when Spark decides it: a file never loaded, else
    a file cut short. ``None`` (the driver's search decides) when a delta holds a user twice, the feed's latest
    versions tie, some disagreeing user has no pick or they pick in several files, or neither change reproduces
    every disagreeing user without breaking one that agrees. ``users`` are the listed keys, traced (``SparkUsers``)."""
    from pyspark.sql import functions as F

    disagreeing = reconciliation.discrepant_users
    if not disagreeing:
        return None
    columns = _Columns(file_column, line_column, position_column)
    picks = _picks(feed, platform, shape, columns)
    if picks is None:
        return None
    picks = picks.cache()
    try:
        effects = _effects(picks)
        found = [effect for effect in effects if effect.disagreeing == disagreeing]
        if sum(effect.disagreeing for effect in effects) != disagreeing or len(found) != 1 or found[0].file < 0:
            return None
        file = found[0].file
        note: dict[str, Any] = {}
        kind = FILE_NOT_INGESTED
        if not _explains(found[0], disagreeing):
            # Leaving the file out breaks users that agree: the greedy search then prefers a cut of it that does not.
            cut = _cut(feed, platform, picks, file, shape, columns)
            if cut is None:
                return None
            first_line, note = cut
            # The users the cut changes: those whose pick is in the rows it stops reading.
            changed = _effects(picks.where((F.col(_PICK) == file) & (F.col(_PICK_LINE) >= first_line)))
            if len(changed) != 1 or not _explains(changed[0], disagreeing):
                return None
            kind = FILE_PARTIALLY_INGESTED
    finally:
        picks.unpersist()
    facts = note | _file_facts(feed, file, shape, file_column)
    return _cause(kind, file, note, users, reconciliation, names, facts, words)


@dataclass(frozen=True)
class _Columns:
    """The stacked feed's and the platform's bookkeeping columns (``checks.engines.spark_reconcile`` names them)."""

    file: str
    line: str
    position: str


def _explains(effect: FileEffect, disagreeing: int) -> bool:
    """The change makes every disagreeing user agree and breaks none: the greedy search's only round."""
    return effect.disagreeing == effect.gained == disagreeing and not effect.lost


def _picks(feed: Any, platform: Any, shape: Shape, columns: _Columns) -> Any | None:
    """Per user: its pick's file and line, whether the pick is the platform's only row (``_AGREES``), whether its
    runner-up is (or neither it nor a platform row exists: ``_FALLS_BACK``); ``None`` when a delta holds a user
    twice or a user's two latest rows share a version (the driver's search handles those)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key, version, values = shape.key, shape.version, compared(shape)
    if feed.groupBy(columns.file, key).count().where(F.col("count") > 1).limit(1).count():
        return None
    ranked = feed.select(key, columns.file, columns.line, *values).withColumn(
        "_rank", F.row_number().over(Window.partitionBy(key).orderBy(F.col(version).desc(), F.col(columns.file).desc()))
    ).where(F.col("_rank") <= 2)
    pairs = ranked.groupBy(key).agg(
        *[
            F.max(F.when(F.col("_rank") == rank, F.struct(columns.file, columns.line, *values))).alias(name)
            for rank, name in ((1, "_w"), (2, "_r"))
        ]
    )
    users = pairs.join(_platform_rows(platform, shape, columns), on=key, how="full_outer").withColumn(
        "_count", F.coalesce(F.col("_count"), F.lit(0))
    )
    users = users.select(
        key,
        F.col("_w." + columns.file).alias(_PICK),
        F.col("_w." + columns.line).alias(_PICK_LINE),
        _equal("_w", values).alias(_AGREES),
        (_equal("_r", values) | (F.col("_r").isNull() & (F.col("_count") == 0))).alias(_FALLS_BACK),
        F.coalesce(F.col("_w." + version) == F.col("_r." + version), F.lit(False)).alias(_TIE),
    )
    if users.where(F.col(_TIE)).limit(1).count():
        return None
    return users


def _platform_rows(platform: Any, shape: Shape, columns: _Columns) -> Any:
    """Per key, its first platform row's values (``_p``) and how many rows it has (``_count``)."""
    from pyspark.sql import functions as F

    first = F.min_by(F.struct(*compared(shape)), F.col(columns.position))
    return platform.groupBy(shape.key).agg(first.alias("_p"), F.count("*").alias("_count"))


def _equal(row: str, values: tuple[str, ...]) -> Any:
    """The struct ``row`` is the platform's only row of its key (false where either is missing)."""
    from pyspark.sql import functions as F

    same = (F.col("_count") == 1) & F.col(row).isNotNull()
    for column in values:
        same = same & (F.col(f"{row}.{column}") == F.col(f"_p.{column}"))
    return F.coalesce(same, F.lit(False))


def _effects(picks: Any) -> list[FileEffect]:
    """Per pick file (-1: users without one), in the feed's order, the effect of leaving it out."""
    from pyspark.sql import functions as F

    disagree, back = ~F.col(_AGREES), F.col(_FALLS_BACK)
    rows = picks.groupBy(_PICK).agg(
        F.sum(disagree.cast("long")).alias("disagreeing"),
        F.sum((disagree & back).cast("long")).alias("gained"),
        F.sum((~disagree & ~back).cast("long")).alias("lost"),
    ).collect()
    effects = [FileEffect(-1 if row[_PICK] is None else int(row[_PICK]), int(row["disagreeing"]), int(row["gained"]), int(row["lost"])) for row in rows]
    return sorted(effects, key=lambda effect: effect.file)


def _cut(feed: Any, platform: Any, picks: Any, file: int, shape: Shape, columns: _Columns) -> tuple[int, dict[str, int]] | None:
    """``Engine._truncation_point`` where its answer is plain: every row of the file the platform shows comes before
    every row it lacks (a pick there that it does not show). The cut is then the first lacking row (the largest of
    the best prefixes); ``None`` when shown and lacking rows interleave (the driver's search weighs them)."""
    from pyspark.sql import functions as F

    key, line = shape.key, columns.line
    rows = (
        feed.where(F.col(columns.file) == file).select(key, line, F.struct(*compared(shape)).alias("_f"))
        .join(_platform_rows(platform, shape, columns), on=key, how="left")
        .join(picks.select(key, _PICK), on=key, how="left")
        .withColumn("_shown", _equal("_f", compared(shape)))
    )
    lacking = (F.col(_PICK) == file) & ~F.col("_shown")
    found = rows.agg(
        F.max(F.when(F.col("_shown"), F.col(line))).alias("shown"),
        F.min(F.when(lacking, F.col(line))).alias("lacking"),
        F.count("*").alias("rows"),
    ).first()
    if found["lacking"] is None or (found["shown"] is not None and found["shown"] > found["lacking"]):
        return None
    kept = rows.where(F.col(line) < found["lacking"]).count()
    if kept == 0:
        return None
    return int(found["lacking"]), {"kept": int(kept), "total": int(found["rows"])}


def _file_facts(feed: Any, file: int, shape: Shape, file_column: str) -> dict[str, Any]:
    """``Engine._file_facts`` in one job: the file's rows, batch range, and how many of its users later files update."""
    from pyspark.sql import functions as F

    key, version = shape.key, shape.version
    later = feed.where(F.col(file_column) > file).select(key).distinct().withColumn("_later", F.lit(1))
    row = (
        feed.where(F.col(file_column) == file).select(key, version).join(later, on=key, how="left")
        .agg(F.count("*").alias("rows"), F.min(version).alias("first"), F.max(version).alias("last"), F.count("_later").alias("again"))
        .first()
    )
    return {"rows": int(row["rows"]), "first_batch": int(row["first"]), "last_batch": int(row["last"]), "users_in_later_files": int(row["again"])}


def _cause(
    kind: str, file: int, note: dict[str, Any], users: SparkUsers, reconciliation: Reconciliation,
    names: tuple[str, ...], facts: dict[str, Any], words: Words,
) -> RootCause:
    """``Engine.cause`` for the file left out or cut: every disagreeing user, the whole gap, the largest gaps as
    examples (only they collected)."""
    gap, size, without_row = users.discrepant()
    examples = users.largest_gaps(EXAMPLES_PER_CAUSE)
    count = reconciliation.discrepant_users
    name = names[file]
    # After the change every user agrees: ``agree`` is all of them.
    evidence = simulation_sentence(
        kind, note, name, count, gap, reconciliation.user_count, reconciliation.user_count, examples, without_row, words,
    )
    return RootCause(
        kind=kind, file=name, users=count, revenue_gap=gap,
        share_of_gap=1.0, evidence=evidence, examples=examples, absolute_gap=size, details=facts,
    )
