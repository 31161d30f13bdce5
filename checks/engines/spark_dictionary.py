"""A run's string dictionaries held in Spark: the texts of the files Spark reads are numbered, coded and written back
there, and the driver keeps each dictionary's size and the few texts it was asked to say.

The codes are the default engine's (``checks.encoding.Dictionary``: first seen, file after file, in the order every
engine reads them), so that every order by a string key is too. A file Spark reads adds the texts the run has not
seen, numbered in the order they first appear in it (``learn``: the file's distinct texts with their first line,
less the known ones, sorted, each numbered by its place: one Spark job per column and a small one counting each
sorted partition's texts); its cells are then coded by a join (``coded``). The dictionary itself is a cached Spark
frame of code and text (``SparkDictionary.frame``) that writes the outputs' text (``decoded``) and answers the
suites' sets and patterns (``SparkDictionary.picked``). The driver asks it only for the texts it says (an example's
key, a failure's wording: ``decode``, a Spark job for the codes it has not seen), and codes on the driver only the
files the pandas path reads there (a quoted cell), through Spark too.

``SparkDictionary.adopt`` gives a run's encoding such dictionaries the first time the engine reads with it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from checks.encoding import NULL, Dictionary, Encoding
from checks.engines.spark_deltas import POSITION, positioned
from checks.engines.spark_patterns import contains
from checks.engines.spark_session import session

CODE, TEXT = "_code", "_text"
_FIRST = "_first"  # a text's first place in what is being coded
_SAID_AT_MOST = 10_000  # codes a decode asks Spark for by name; beyond, the driver takes every text (``texts``)


class SparkDictionary(Dictionary):
    """A dictionary whose texts are in Spark (``frame``: code ``_code``, text ``_text``, cached). The driver holds the
    size and a cache of the texts it decoded; ``texts`` and ``passing``, which need every text, collect them."""

    def __init__(self, frame: Any = None, size: int = 0) -> None:
        super().__init__()
        self._frame, self._held = frame, size
        self._said: dict[int, str] = {}  # texts decoded on the driver, by code

    @classmethod
    def of(cls, dictionary: Dictionary) -> SparkDictionary:
        """A Spark dictionary holding ``dictionary``'s texts under their codes (handed over once, as one Arrow table);
        a Spark dictionary as it is."""
        import pyarrow as pa

        if isinstance(dictionary, SparkDictionary):
            return dictionary
        spark = cls()
        if dictionary.size:
            texts = dictionary.texts()
            spark._extend(session().createDataFrame(pa.table({
                CODE: np.arange(dictionary.size, dtype="int64"), TEXT: texts.cast(pa.string()),
            })).cache(), dictionary.size)
        return spark

    @staticmethod
    def adopt(encoding: Encoding) -> None:
        """Give each string column of the run's ``encoding`` a Spark dictionary (holding the texts it has so far), once:
        every frame of the run then shares it, as it shared the driver's."""
        for name, codec in list(encoding.codecs.items()):
            if codec.dictionary is not None and not isinstance(codec.dictionary, SparkDictionary):  # once
                encoding.codecs[name] = replace(codec, dictionary=SparkDictionary.of(codec.dictionary))  # type: ignore[index]

    @property
    def size(self) -> int:
        return self._held

    def frame(self) -> Any:
        """Every text with its code, a cached Spark frame (an empty one before any text)."""
        if self._frame is None:
            self._frame = session().createDataFrame([], f"{CODE} bigint, {TEXT} string")
        return self._frame

    def learn(self, texts: Any, column: str, first: str) -> None:
        """Number the texts of ``texts`` (a Spark frame: the text ``column``, null where empty, and ``first``, a place
        giving the order texts are met in) this dictionary lacks, in the order they first appear."""
        from pyspark.sql import functions as F

        firsts = texts.where(F.col(column).isNotNull()).groupBy(F.col(column).alias(TEXT)).agg(F.min(first).alias(_FIRST))
        new = firsts.join(self.frame().select(TEXT), on=TEXT, how="left_anti").orderBy(_FIRST)
        with positioned(new, [TEXT, _FIRST]) as placed:
            # Checkpointed, not cached: a part's plan would hold the whole dictionary's before it, which holds the
            # parts' before that, and so on, a plan that doubled with every file (a 20,000-account run's fault search
            # ran the driver's JVM out of heap planning it).
            added = placed.select((F.col(POSITION) + F.lit(self._held)).alias(CODE), TEXT).localCheckpoint()
        count = added.count()
        if count:
            self._extend(added, count)
        else:
            added.unpersist()

    def _extend(self, added: Any, count: int) -> None:
        """Add a part of ``count`` texts, held in the executors (cached or checkpointed) and without a plan of its
        own beyond its data: the frame's plan is the union of the parts."""
        self._frame = added if self._frame is None else self._frame.unionByName(added)
        self._held += count
        self._passing = {}

    # --- what the driver asks: a file the pandas path reads, the texts it says -------------------------------------

    def encode(self, texts: np.ndarray) -> np.ndarray:
        """The code of each of ``texts`` (objects, None for no text; ``NULL`` there), the new ones added in Spark."""
        import pyarrow as pa

        cells = pa.array(texts, type=pa.string(), from_pandas=True)
        places = session().createDataFrame(pa.table({TEXT: cells, _FIRST: np.arange(len(cells), dtype="int64")}))
        self.learn(places, TEXT, _FIRST)
        coded = places.join(self.frame(), on=TEXT, how="left").select(_FIRST, CODE).toArrow()
        codes = np.full(len(cells), NULL, dtype="int64")
        found = coded.column(CODE).to_numpy(zero_copy_only=False)
        held = ~pd.isna(found)
        codes[coded.column(_FIRST).to_numpy()[held]] = found[held].astype("int64")
        return codes

    def encode_series(self, texts: Any) -> Any:
        import polars as pl

        codes = self.encode(texts.to_numpy())
        encoded = pl.Series(texts.name, codes, dtype=pl.Int64)
        return encoded.set(texts.is_null(), None) if texts.null_count() else encoded

    def decode_arrow(self, codes: np.ndarray, *, empty: str | None = "") -> Any:
        """The texts of ``codes`` as one Arrow array, ``NULL`` as ``empty``: the codes not said before asked of Spark."""
        import pyarrow as pa
        from pyspark.sql import functions as F

        codes = np.asarray(codes, dtype="int64")
        unseen = [int(code) for code in np.unique(codes) if code != NULL and int(code) not in self._said]
        if len(unseen) > _SAID_AT_MOST:  # a whole table decoded on the driver (a fallback): every text, once
            return Dictionary.decode_arrow(self, codes, empty=empty)
        if unseen:
            found = self.frame().where(F.col(CODE).isin(unseen)).toArrow()
            self._said.update(zip(found.column(CODE).to_pylist(), found.column(TEXT).to_pylist()))
        return pa.array([empty if code == NULL else self._said.get(int(code), empty) for code in codes], type=pa.large_string())

    def texts(self) -> Any:
        """Every text in code order, collected (only where a whole table is decoded on the driver: a fallback)."""
        import pyarrow as pa
        from pyspark.sql import functions as F

        if self._texts is None or len(self._texts) != self._held:
            self._texts = self.frame().orderBy(F.col(CODE)).select(TEXT).toArrow().column(0).combine_chunks().cast(pa.large_string())
        return self._texts

    def picked(self, test: str, argument: Any, *, failing: bool) -> Any:
        """The codes whose text is ``"in"`` a set or ``"contains"`` a match of a pattern (with ``failing``: those whose
        text is not, or does not), as GX tests a text column: a Spark frame of ``_code``, tested in Spark (a pattern
        by pandas' ``str.contains`` in the executors, as ``Dictionary.passing`` tests it)."""
        from pyspark.sql import functions as F

        texts = self.frame()
        if test == "in":  # only a text equals a text (pandas' isin): a number in the set matches none
            found = F.col(TEXT).isin(*[value for value in argument if isinstance(value, str)])
        else:
            found = contains(argument)(F.col(TEXT))
        return texts.where(~found if failing else found).select(CODE)

    def copy(self) -> SparkDictionary:
        """A dictionary that starts with this one's texts and grows on its own."""
        copy = SparkDictionary(self._frame, self._held)
        copy._said = dict(self._said)
        return copy

    def release_lookup(self) -> None:
        pass  # no hash table on the driver

    def expect(self, count: int) -> None:
        pass

    @property
    def expecting(self) -> bool:
        return False

    def __reduce__(self) -> tuple[Any, ...]:  # a Spark frame cannot leave its session: another process gets the texts
        return _dictionary_of, (self.texts(),)


def _dictionary_of(texts: Any) -> Dictionary:
    dictionary = Dictionary()
    dictionary.append(texts)
    return dictionary


def frame(dictionary: Dictionary) -> Any:
    """``dictionary``'s texts with their codes as a Spark frame: a Spark dictionary's own; a driver's (an encoding the
    engine never read with) handed over whole."""
    return SparkDictionary.of(dictionary).frame()


def learn(rows: Any, encoding: Encoding, columns: Sequence[str], *, row: str) -> None:
    """Give each string column's dictionary the texts of ``rows`` (a file's cells as text, null where empty, ``row``
    its line) that it lacks, in the order they first appear: as ``Dictionary.encode`` of the whole column would (the
    encoding adopted, ``checks.engines.spark._Form``)."""
    for name in strings(encoding, columns):
        encoding.codecs[name].dictionary.learn(rows, name, row)


def coded(rows: Any, encoding: Encoding, columns: Sequence[str]) -> Any:
    """``rows`` with each string column's text as its code (bigint, ``NULL`` where empty): every text ``learn``t."""
    from pyspark.sql import functions as F

    named = {name: encoding.codecs[name].dictionary for name in strings(encoding, columns)}
    return _swapped(rows, named, TEXT, CODE, F.lit(NULL))


def decoded(rows: Any, dictionaries: Mapping[str, Dictionary]) -> Any:
    """``rows`` with each of ``dictionaries``' columns (codes of that dictionary) as its text, ``NULL`` or a missing
    code as an empty text (``Codec.render``)."""
    from pyspark.sql import functions as F

    return _swapped(rows, dictionaries, CODE, TEXT, F.lit(""))


def _swapped(rows: Any, dictionaries: Mapping[str, Dictionary], given: str, wanted: str, missing: Any) -> Any:
    """``rows`` with each of ``dictionaries``' columns, read as the dictionary's ``given`` side (code or text), replaced
    by its ``wanted`` side (``missing`` where the dictionary has none), by a join with the dictionary's frame; the
    columns in their order."""
    from pyspark.sql import functions as F

    order = rows.columns
    for name, dictionary in dictionaries.items():
        sides = frame(dictionary).select(F.col(given).alias(name), F.col(wanted))
        rows = rows.join(sides, on=name, how="left").withColumn(name, F.coalesce(F.col(wanted), missing)).drop(wanted)
    return rows.select(*order)


def strings(encoding: Encoding, columns: Sequence[str]) -> list[str]:
    """Of ``columns``, the contract's string columns."""
    return [name for name in columns if encoding.codecs[name].dictionary is not None]
