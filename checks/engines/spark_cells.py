"""A file's cells in Spark SQL, column by column as ``checks.encoding.Codec`` reads and writes them: the cells that are
no literal of their column's type (the text pass), each literal in computing form, the cells Spark leaves to the
pandas path, and a value in computing form written back as the files wrote it.

Spark parses here only what it reads exactly as ``Codec.parse`` does: integers, exact decimals, booleans, dates, and
timestamps in the usual forms (``checks.encoding.USUAL_TIMESTAMPS``) or with minutes only, a fraction of a second or
an offset (``_ISO_TIMESTAMP``). Another literal of a column's type (a leap second, hour 24), or one Spark parses to no
value or to a year before 1 (99999999999999999999 in an integer column, 2026-02-30, 0000-01-01), is *undecided*: its
file goes to the pandas path, which has the last word. A text is kept as text here (``checks.engines.spark_dictionary``
codes it), undecided where Spark replaced bytes that are no UTF-8; its rules (a pattern, allowed or missing values,
lengths) are checked on the cell as pandas checks them (``rule_failures``). Floating columns are not read here.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checks.contract import Column
from checks.encoding import NULL, USUAL_TIMESTAMPS, Codec, Encoding
from checks.engines.spark_deltas import ROW, union
from checks.engines.spark_dictionary import decoded, strings
from checks.engines.spark_patterns import contains
from checks.rules import IS_INTEGER, REQUIRED, TextRule, literal_check, text_rules

# The check a cell Spark leaves to the pandas path is listed under: never a failure, it sends the file there.
UNDECIDED = "_undecided"
# The timestamp literals beyond the usual forms that Spark reads as pandas does (``format="ISO8601"``, to UTC): minutes
# without seconds, a fraction of a second, an offset. Hours, minutes and seconds in range, and offsets below Spark's
# bound of 18 hours; any other literal (a leap second, hour 24) is undecided. Checked against pandas on 20,000 seeded
# literals (tests/test_spark_typed.py).
_ISO_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-](0[0-9]|1[0-7]):?[0-5][0-9])?$"
)
_ISO_JAVA = "yyyy-MM-dd'T'HH:mm[:ss[.SSSSSS]][XXX]"
# 0001-01-01, in days and in microseconds since 1970: Spark reads a year 0 that pandas refuses.
_FIRST_DAY, _FIRST_MICROSECOND = -719_162, -62_135_596_800_000_000
# What Spark's CSV reader puts for bytes that are no UTF-8 (pandas refuses such a file): the text is undecided.
_REPLACEMENT = "\ufffd"
_ORDER = "__order"  # ``as_written``'s sort key, dropped once sorted
# The text rules ``rule_failures`` checks on a cell (``literal`` and ``required`` are ``literal_failures``').
RULE_KINDS = frozenset({"pattern", "min_length", "max_length", "valid_values", "missing_values", "null_values"})


def in_sql(encoding: Encoding) -> bool:
    """Whether Spark SQL parses and writes every column of the contract itself: each an integer, exact decimal,
    boolean, date or timestamp (not text, whose codes are the driver's dictionary's, nor a floating number)."""
    return all(_in_sql(column) for column in encoding.contract.columns)


def reads(encoding: Encoding) -> bool:
    """Whether Spark reads every column of the contract itself: ``in_sql``'s, or text (coded by the dictionaries)."""
    return all(_in_sql(column) or column.logical_type == "string" for column in encoding.contract.columns)


def _in_sql(column: Column) -> bool:
    kind = column.logical_type
    return kind in ("integer", "boolean", "date", "timestamp") or (kind == "number" and column.decimal is not None)


def read(text: Any, encoding: Encoding, columns: Sequence[str]) -> Any:
    """``text`` (``ROW`` and the cells as strings, null where empty) with each cell read once: beside each column,
    whether the cell is a literal of its type (``_literal(name)``) and its computing form (``_value_of(name)``: bigint,
    null where empty, no literal or undecided). Cached, it serves every pass below (text, undecided, values, the rows
    kept), which otherwise each matched and parsed every cell again."""
    from pyspark.sql import functions as F

    literals = text.select("*", *[_is_literal(encoding.codecs[name], F.col(name)).alias(_literal(name)) for name in columns])
    return literals.select("*", *[
        _value(encoding.codecs[name], F.col(name), F.col(_literal(name))).alias(_value_of(name)) for name in columns
    ])


def _is_literal(codec: Codec, cell: Any) -> Any:
    """Whether a cell is a literal of its column's type: any text is a string."""
    literal = codec.literal
    return cell.isNotNull() if literal is None else cell.rlike(literal)


def texts(cells: Any, columns: Sequence[str]) -> Any:
    """``ROW`` and the cells as strings, of ``read``'s frame."""
    return cells.select(ROW, *columns)


def _literal(name: str) -> str:
    return f"__literal_{name}"


def _value_of(name: str) -> str:
    return f"__value_{name}"


def literal_failures(cells: Any, encoding: Encoding, columns: Sequence[str]) -> Any:
    """The text pass: every cell of ``read``'s frame that is no literal of its column's type, or empty where the column
    must be filled, as (row, column, check, value) named as ``checks.validate`` names them."""
    from pyspark.sql import functions as F

    failures = []
    for name in columns:
        column, cell = encoding.codecs[name].column, F.col(name)
        # Spark reads an empty or missing cell as null; pandas reads it as "".
        empty = cell.isNull() if column.required else F.lit(False)
        empty_check = IS_INTEGER if column.logical_type == "integer" else REQUIRED
        check = F.when(cell.isNull(), F.lit(empty_check)).otherwise(F.lit(literal_check(column)))
        failures.append(_listed(cells, empty | (cell.isNotNull() & ~F.col(_literal(name))), name, check))
    return union(failures)


def rule_failures(cells: Any, encoding: Encoding, columns: Sequence[str]) -> list[Any]:
    """The rest of the text pass: every cell of ``read``'s frame that breaks a pattern, a length, a set of allowed or
    missing values, or a ``nullValues`` rule, as ``checks.schemas`` checks the text (an empty cell passes all but the
    last two), a frame per rule. A pattern is Python's ``re``, run in the executors."""
    from pyspark.sql import functions as F

    failures = []
    for rule in text_rules(encoding):
        if rule.kind not in RULE_KINDS or rule.column not in columns:
            continue
        failures.append(_listed(cells, _breaks(rule, F.col(rule.column)), rule.column, F.lit(rule.check)))
    return failures


def _listed(cells: Any, where: Any, name: str, check: Any) -> Any:
    """The cells of column ``name`` in the rows of ``read``'s frame where ``where`` holds, as (row, column, ``check``,
    value): the value as the file wrote it, an empty cell as an empty text."""
    from pyspark.sql import functions as F

    return cells.filter(where).select(
        ROW, F.lit(name).alias("column"), check.alias("check"), F.coalesce(F.col(name), F.lit("")).alias("value")
    )


def _breaks(rule: TextRule, cell: Any) -> Any:
    """Whether a cell (null where empty) breaks a text rule, as ``checks.schemas._text_check`` says of its text."""
    from pyspark.sql import functions as F

    kind, argument = rule.kind, rule.argument
    if kind == "null_values":
        return cell.isNull()
    if kind == "missing_values":  # "" among them: an empty cell breaks it
        return F.coalesce(cell, F.lit("")).isin(*argument)
    if kind == "min_length":
        return cell.isNotNull() & (F.char_length(cell) < argument)
    if kind == "max_length":
        return cell.isNotNull() & (F.char_length(cell) > argument)
    if kind == "valid_values":
        return cell.isNotNull() & ~cell.isin(*argument)
    return cell.isNotNull() & ~contains(argument)(cell)


def values_as_written(failures: Any, text: Any, encoding: Encoding) -> Any:
    """Value failures (row, column, check, value in computing form) with the value of a column other than an integer
    as the file wrote it (``10.50``, not ``1050``), as ``checks.validate`` shows it: each failing row's cells of such
    columns looked up in ``text``."""
    from pyspark.sql import functions as F

    written = [column.name for column in encoding.contract.columns if column.logical_type != "integer"]
    if not written:
        return failures
    cells = text.select(
        F.col(ROW).alias("_line"), F.create_map(*[part for name in written for part in (F.lit(name), F.col(name))]).alias("_cells")
    )
    return failures.join(cells, failures[ROW] == cells["_line"], "left").select(
        ROW, "column", "check", F.coalesce(F.col("_cells")[F.col("column")], F.col("value")).alias("value")
    )


def parsed(cells: Any, columns: Sequence[str]) -> Any:
    """``ROW`` and each cell of ``read``'s frame in computing form (bigint), null where it is empty, no literal or
    undecided: what the value rules and Pandera's value models check."""
    from pyspark.sql import functions as F

    return cells.select(F.col(ROW), *[F.col(_value_of(name)).alias(name) for name in columns])


def undecided(cells: Any, columns: Sequence[str]) -> Any:
    """The literals of their column's type that Spark does not parse as pandas does, in ``read``'s frame, as (row,
    column, ``UNDECIDED``, value)."""
    from pyspark.sql import functions as F

    return union([
        _listed(cells, F.col(_literal(name)) & F.col(_value_of(name)).isNull(), name, F.lit(UNDECIDED)) for name in columns
    ])


def quoted(cells: Any, columns: Sequence[str]) -> Any:
    """Every cell of ``read``'s frame that holds a quote, as (row, column, ``UNDECIDED``, value): read without quoting,
    its file is the pandas path's."""
    from pyspark.sql import functions as F

    return union([_listed(cells, F.col(name).contains('"'), name, F.lit(UNDECIDED)) for name in columns])


def stored(values: Any, encoding: Encoding, columns: Sequence[str]) -> Any:
    """The rows of ``parsed`` (every cell valid) as the engines hold them: an empty cell as ``NULL``; a text as it is,
    for ``checks.engines.spark_dictionary.coded``."""
    from pyspark.sql import functions as F

    return values.select(F.col(ROW), *[
        F.col(name) if encoding.held_as_itself(name) or encoding.codecs[name].dictionary is not None
        else F.coalesce(F.col(name), F.lit(NULL)).alias(name)
        for name in columns
    ])


def _value(codec: Codec, cell: Any, literal: Any) -> Any:
    """A cell in computing form: null where it is empty, no literal of its type (``literal`` false), or undecided."""
    from pyspark.sql import functions as F

    column = codec.column
    kind = column.logical_type
    if kind == "string":
        value = F.when(~cell.contains(_REPLACEMENT), cell)
    elif kind == "integer":
        value = cell.try_cast("bigint")
    elif kind == "number":  # counts of 10**-scale: 10.5 at scale 2 is 1050; beyond int64, null
        scale = column.decimal[1]
        value = F.try_multiply(cell.try_cast(f"decimal(38, {scale})"), F.lit(10**scale)).try_cast("bigint")
    elif kind == "boolean":
        value = F.when(F.lower(cell) == "true", F.lit(1)).otherwise(F.lit(0)).cast("bigint")
    elif kind == "date":
        days = F.unix_date(F.try_to_date(cell, "yyyy-MM-dd")).cast("bigint")
        value = F.when(days >= _FIRST_DAY, days)
    else:  # a timestamp in one of the usual forms, else in any other ``_ISO_TIMESTAMP`` takes, as UTC
        moment = None
        for form in USUAL_TIMESTAMPS:
            parsed_form = F.unix_micros(F.try_to_timestamp(cell, F.lit(form.java)))
            moment = (F.when if moment is None else moment.when)(cell.rlike(form.pattern), parsed_form)
        # A space for the T and a colon in the offset (+0200 as +02:00): one Java pattern then reads every form.
        spelled = F.regexp_replace(F.regexp_replace(cell, " ", "T"), r"([+-][0-9]{2})([0-9]{2})$", "$1:$2")
        moment = moment.when(cell.rlike(_ISO_TIMESTAMP), F.unix_micros(F.try_to_timestamp(spelled, F.lit(_ISO_JAVA))))
        value = F.when(moment >= _FIRST_MICROSECOND, moment)
    return F.when(literal, value)


def as_written(rows: Any, encoding: Encoding, *, csv: bool = False, order: str | None = None) -> Any:
    """``rows`` with the contract's columns as the files wrote them, as ``Encoding.decode`` gives them (a contract
    ``reads``): a column held as itself as it is, any other as text, an empty cell as an empty text; for a ``csv``, a
    text that could run as a spreadsheet formula after ``'`` (``checks.writers``). With ``order``, sorted by that
    column's computing form (a string key's codes: the order the driver's tables have)."""
    from pyspark.sql import functions as F

    from checks.engines.spark_files import safe_text

    columns = rows.columns
    texts = strings(encoding, [name for name in columns if name in encoding.codecs])
    if order is not None:
        rows = rows.withColumn(_ORDER, F.col(order))
    rows = decoded(rows, {name: encoding.codecs[name].dictionary for name in texts})
    if order is not None:
        rows = rows.orderBy(_ORDER)
    return rows.select(*[
        F.col(name) if name not in encoding.codecs or encoding.held_as_itself(name)
        else (safe_text(F.col(name)) if csv else F.col(name)).alias(name) if name in texts
        else written(encoding.codecs[name], name).alias(name)
        for name in columns
    ])


def written(codec: Codec, field: str) -> Any | None:
    """A non-string value in computing form (column ``field``) as ``Codec.render`` writes it, in Spark SQL (the
    session's zone is UTC), ``NULL`` as an empty text; None for text (``as_written`` decodes it) or a floating column
    (Python's shortest ``repr`` of a float has no Spark SQL twin)."""
    from pyspark.sql import functions as F

    if not _in_sql(codec.column):
        return None
    return F.when(F.col(field) == NULL, F.lit("")).otherwise(_written_value(codec, field))


def _written_value(codec: Codec, field: str) -> Any:
    """``written`` of a filled value (a column ``_in_sql``)."""
    from pyspark.sql import functions as F

    value, column = F.col(field), codec.column
    kind = column.logical_type
    if kind == "integer" or (kind == "number" and column.decimal is not None and not column.decimal[1]):
        return value.cast("string")
    if kind == "number" and column.decimal is not None:  # counts of 10**-scale: 1050 at scale 2 is 10.50
        scale = column.decimal[1]
        return F.concat(
            F.when(value < 0, F.lit("-")).otherwise(F.lit("")), F.expr(f"cast(abs(`{field}`) div {10**scale} as string)"),
            F.lit("."), F.lpad((F.abs(value) % 10**scale).cast("string"), scale, "0"),
        )
    if kind == "boolean":
        return F.when(value == 1, F.lit("true")).otherwise(F.lit("false"))
    if kind == "date":
        return F.date_format(F.date_from_unix_date(value.cast("int")), "yyyy-MM-dd")
    # A timestamp: whole seconds as NumPy's datetime_as_string(unit="s") wrote them, with the zone; a fraction kept.
    moment = F.timestamp_micros(value)
    return F.when(value % 1_000_000 == 0, F.date_format(moment, "yyyy-MM-dd'T'HH:mm:ss'Z'")).otherwise(
        F.date_format(moment, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
    )
