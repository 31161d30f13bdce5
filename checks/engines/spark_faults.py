"""The fault search's simulations as Spark jobs: the cases it decides without the driver holding any delta.

``checks.diagnose._engine.Engine.attribute`` tries, greedily, a file left out or cut short, then another
dedup order, and sorts what is left into residual causes. Here one window job over the stacked feed gives
every user's pick (its latest row) and runner-up (the latest row of another file, a later file on a tie, as
``Scan.runner_up`` takes it), compared with the platform's first row; one grouping by the pick's file then
says, per file, how many users leaving it out would make agree (gained) or break (lost). Only those counts,
a file's facts and the capped examples come to the driver.

Decided here (the greedy search gives exactly this answer, see ``never_loaded``): one file never loaded
explains every user that does not match. Its gained users are then every disagreeing user, it breaks none,
so no other file's hypothesis can gain anyone (a user's pick is in one file) and after it every user agrees:
one round, no residual cause. Anything else returns ``None`` and the caller runs the driver's search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from checks.diagnose.results import EXAMPLES_PER_CAUSE, FILE_NOT_INGESTED, RootCause
from checks.diagnose.sentences import simulation_sentence
from checks.model import SOURCE_FILE, SOURCE_ROW, Shape
from checks.reconcile import MATCH, PLATFORM_ROW, PLATFORM_ROWS, SPEND_GAP, Reconciliation, compared, largest
from checks.wording import Words

_PICK = "_pick"  # the file of a user's pick (its latest row)
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


def never_loaded(
    feed: Any, platform: Any, reconciliation: Reconciliation, lineage: pd.DataFrame, names: tuple[str, ...],
    shape: Shape, words: Words, *, file_column: str, position_column: str,
) -> RootCause | None:
    """The cause "one file never loaded" when it alone explains every user that does not match, computed in Spark;
    ``None`` (the driver's search decides) when a delta holds a user twice, the feed's latest versions tie,
    or no single file's absence reproduces every disagreeing user without breaking one that agrees."""
    listed = reconciliation.users
    disagreeing = listed[listed["class"] != MATCH].reset_index(drop=True)
    if disagreeing.empty:
        return None
    effects = file_effects(feed, platform, shape, file_column=file_column, position_column=position_column)
    if effects is None:
        return None
    found = [effect for effect in effects if effect.disagreeing == len(disagreeing)]
    if sum(effect.disagreeing for effect in effects) != len(disagreeing) or len(found) != 1:
        return None  # some disagreeing user has no pick (the platform's alone), or picks in several files
    effect = found[0]
    if effect.gained != len(disagreeing) or effect.lost:
        return None
    return _cause(effect.file, disagreeing, reconciliation, lineage, names, _file_facts(feed, effect.file, shape, file_column), words)


def file_effects(feed: Any, platform: Any, shape: Shape, *, file_column: str, position_column: str) -> list[FileEffect] | None:
    """Per file (in the feed's order) the effect of leaving it out; ``None`` when a delta holds a user twice or a
    user's two latest rows share a version (the driver's search handles those)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key, version, values = shape.key, shape.version, compared(shape)
    if feed.groupBy(file_column, key).count().where(F.col("count") > 1).limit(1).count():
        return None
    ranked = feed.select(key, file_column, *values).withColumn(
        "_rank", F.row_number().over(Window.partitionBy(key).orderBy(F.col(version).desc(), F.col(file_column).desc()))
    ).where(F.col("_rank") <= 2)
    pairs = ranked.groupBy(key).agg(
        *[F.max(F.when(F.col("_rank") == rank, F.struct(file_column, *values))).alias(name) for rank, name in ((1, "_w"), (2, "_r"))]
    )
    first = F.min_by(F.struct(*values), F.col(position_column))
    loaded = platform.groupBy(key).agg(first.alias("_p"), F.count("*").alias("_count"))
    users = pairs.join(loaded, on=key, how="full_outer").withColumn("_count", F.coalesce(F.col("_count"), F.lit(0)))

    def equal(row: str) -> Any:
        same = (F.col("_count") == 1) & F.col(row).isNotNull()
        for column in values:
            same = same & (F.col(f"{row}.{column}") == F.col(f"_p.{column}"))
        return F.coalesce(same, F.lit(False))

    users = users.select(
        F.col("_w." + file_column).alias(_PICK),
        equal("_w").alias(_AGREES),
        (equal("_r") | (F.col("_r").isNull() & (F.col("_count") == 0))).alias(_FALLS_BACK),
        F.coalesce(F.col("_w." + version) == F.col("_r." + version), F.lit(False)).alias("_tie"),
    )
    disagree, back = ~F.col(_AGREES), F.col(_FALLS_BACK)
    rows = users.groupBy(_PICK).agg(
        F.sum(disagree.cast("long")).alias("disagreeing"),
        F.sum((disagree & back).cast("long")).alias("gained"),
        F.sum((~disagree & ~back).cast("long")).alias("lost"),
        F.max(F.col("_tie").cast("int")).alias("tie"),
    ).collect()
    if any(row["tie"] for row in rows):
        return None
    effects = [FileEffect(-1 if row[_PICK] is None else int(row[_PICK]), int(row["disagreeing"]), int(row["gained"]), int(row["lost"])) for row in rows]
    return sorted(effects, key=lambda effect: effect.file)


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
    file: int, disagreeing: pd.DataFrame, reconciliation: Reconciliation, lineage: pd.DataFrame, names: tuple[str, ...],
    facts: dict[str, Any], words: Words,
) -> RootCause:
    """``Engine.cause`` for the file left out: every disagreeing user, the whole gap, the largest gaps as examples."""
    gap = disagreeing[SPEND_GAP].to_numpy(dtype="int64")
    sizes = np.abs(gap)
    examples = _examples(disagreeing.iloc[largest(sizes, EXAMPLES_PER_CAUSE)].reset_index(drop=True), lineage)
    without_row = int((disagreeing[PLATFORM_ROWS].to_numpy() == 0).sum())
    name = names[file]
    evidence = simulation_sentence(
        FILE_NOT_INGESTED, {}, name, len(disagreeing), int(gap.sum()), reconciliation.user_count, reconciliation.user_count,
        examples, without_row, words,
    )
    return RootCause(
        kind=FILE_NOT_INGESTED, file=name, users=len(disagreeing), revenue_gap=int(gap.sum()),
        share_of_gap=1.0, evidence=evidence, examples=examples, absolute_gap=int(sizes.sum()), details=facts,
    )


def _examples(frame: pd.DataFrame, lineage: pd.DataFrame) -> pd.DataFrame:
    """The examples' rows with where their platform row came from: its first equal feed row, as the lineage traced it."""
    traced = lineage.set_index(PLATFORM_ROW)
    files, lines = [], []
    for row in frame[PLATFORM_ROW]:
        found = None if pd.isna(row) else traced.loc[int(row)]
        held = found is not None and isinstance(found[SOURCE_FILE], str)
        files.append(found[SOURCE_FILE] if held else None)
        lines.append(int(found[SOURCE_ROW]) if held else None)
    frame["platform_file"] = files
    frame["platform_source_row"] = lines
    return frame
