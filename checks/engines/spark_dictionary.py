"""A run's string dictionaries in Spark: the texts of a file read there coded in Spark, as the driver's would code them.

The driver's ``checks.encoding.Dictionary`` stays the one that numbers texts (first seen, file after file, as every
engine reads them), so that the codes, and every order by a string key, are the default engine's. Spark holds a copy
of each dictionary (``frame``: code ``_code``, text ``_text``, cached), grown as the driver's grows. A file Spark reads
hands over only the texts the run has not seen, in the order they first appear in it (``learn``: one Spark job per
column); its cells are then coded by a join with the copy (``coded``), never brought to the driver.
"""
from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.encoding import NULL, Dictionary, Encoding
from checks.engines.spark_session import session

CODE, TEXT = "_code", "_text"
_FIRST_ROW = "_first_row"


@dataclass
class _Copy:
    """A dictionary's texts in Spark: ``frame`` holds codes ``0`` to ``size - 1``, in the session it was made in."""

    session: Any
    frame: Any
    size: int
    parts: list[Any]


_COPIES: weakref.WeakKeyDictionary[Dictionary, _Copy] = weakref.WeakKeyDictionary()


def frame(dictionary: Dictionary) -> Any:
    """Every text of ``dictionary`` with its code, as a cached Spark frame: what the driver added since the last call
    is handed over then (one Arrow table), the rest stays in Spark."""
    import numpy as np
    import pyarrow as pa

    spark = session()
    copy = _COPIES.get(dictionary)
    if copy is None or copy.session is not spark:
        copy = _COPIES[dictionary] = _Copy(spark, None, 0, [])
    if copy.frame is None or copy.size < dictionary.size:
        added = dictionary.texts().slice(copy.size)
        codes = np.arange(copy.size, dictionary.size, dtype="int64")
        part = spark.createDataFrame(pa.table({CODE: codes, TEXT: added.cast(pa.string())})).cache()
        copy.parts.append(part)
        copy.frame = part if copy.frame is None else copy.frame.unionByName(part)
        copy.size = dictionary.size
    return copy.frame


def learn(rows: Any, encoding: Encoding, columns: Sequence[str], *, row: str) -> None:
    """Give each string column's dictionary the texts of ``rows`` (a file's cells as text, null where empty, ``row``
    its line) that it lacks, in the order they first appear: as ``Dictionary.encode`` of the whole column would."""
    from pyspark.sql import functions as F

    for name in strings(encoding, columns):
        dictionary = encoding.codecs[name].dictionary
        firsts = rows.where(F.col(name).isNotNull()).groupBy(name).agg(F.min(row).alias(_FIRST_ROW))
        known = frame(dictionary).select(F.col(TEXT).alias(name))
        new = firsts.join(known, on=name, how="left_anti").orderBy(_FIRST_ROW).select(name).toArrow()
        dictionary.append(new.column(0).combine_chunks())


def coded(rows: Any, encoding: Encoding, columns: Sequence[str]) -> Any:
    """``rows`` with each string column's text as its code (bigint, ``NULL`` where empty): every text ``learn``t."""
    from pyspark.sql import functions as F

    order = rows.columns
    for name in strings(encoding, columns):
        texts = frame(encoding.codecs[name].dictionary).select(F.col(TEXT).alias(name), F.col(CODE))
        rows = rows.join(texts, on=name, how="left").withColumn(name, F.coalesce(F.col(CODE), F.lit(NULL))).drop(CODE)
    return rows.select(*order)


def decoded(rows: Any, dictionaries: Mapping[str, Dictionary]) -> Any:
    """``rows`` with each of ``dictionaries``' columns (codes of that dictionary) as its text, ``NULL`` or a missing
    code as an empty text (``Codec.render``)."""
    from pyspark.sql import functions as F

    order = rows.columns
    for name, dictionary in dictionaries.items():
        texts = frame(dictionary).select(F.col(CODE).alias(name), F.col(TEXT))
        rows = rows.join(texts, on=name, how="left").withColumn(name, F.coalesce(F.col(TEXT), F.lit(""))).drop(TEXT)
    return rows.select(*order)


def strings(encoding: Encoding, columns: Sequence[str]) -> list[str]:
    """Of ``columns``, the contract's string columns."""
    return [name for name in columns if encoding.codecs[name].dictionary is not None]
