"""Pandera's PySpark backend as the schema authority on the Spark engine: which checks a delta fails.

``checks.engines.spark`` finds the failing cells with Spark SQL (Pandera's PySpark backend reports
one verdict per check, not the rows). The same delta then goes through the PySpark models below,
the counterparts of ``checks.validate``'s text and value models, and the two must name the same
failed (column, check) pairs: ``confirm`` raises ``EngineDisagreementError`` otherwise, so a gap in
either never passes a delta silently.

pyspark 4.3 cannot import its pandas API (``pyspark.pandas``) beside pandas 3, and pandera's PySpark
backend imports it only to name its classes in type unions; ``_import_pandera_pyspark`` lends it a
stand-in module for that one import when the real one fails.
"""

import importlib
import sys
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import pandas as pd

from checks.errors import ChecksError
from checks.encoding import Encoding, default_encoding
from checks.rules import FIELD_UNIQUENESS, REQUIRED, TextRule, literal_check, text_rules, value_rules

# The value rules (``ValueRule.kind``) the models below check: a contract with another is not read by Spark's SQL.
CHECKED = frozenset({"minimum", "above", "maximum", "below", "valid_values", "unique"})
_BOUNDS = {"minimum": "ge", "above": "gt", "maximum": "le", "below": "lt"}
_VALID_VALUES = "invalidValues"  # ``checks.rules``' name of an allowed-values rule on a non-text column


class EngineDisagreementError(ChecksError):
    """Pandera's PySpark backend and the Spark SQL checks disagree about a delta: neither verdict can be trusted."""


def pandera_failures(text: Any, typed: Any, encoding: Encoding | None = None) -> frozenset[tuple[str, str]]:
    """The (column, check) pairs Pandera's PySpark models of the contract (``encoding``'s; default: the first
    customer's) find failing, named as ``checks.validate`` names them.

    ``text`` holds the delta's cells as strings (an empty cell is null), ``typed`` the same cells in computing form
    as bigint (null where empty or the text pass failed); both may carry more columns (the row number). The Spark
    engine reads deltas itself for contracts of integers, decimals, booleans, dates and timestamps
    (``checks.engines.spark._reads_itself``).
    """
    from pandera.config import ValidationDepth, config_context

    from pyspark.sql import functions as F

    encoding = encoding or default_encoding()
    models = _models(encoding)
    cells = [*encoding.contract.names]
    # An empty cell is null on Spark and "" on pandas: read as "" in a filled integer column, it fails the pattern as
    # on pandas (is_integer); another column's stays null, which fails a filled column's model as not nullable
    # (required) and passes an optional one's.
    as_read = text.select(*[
        F.coalesce(F.col(cell), F.lit("")).alias(cell) if _empty_is_no_literal(encoding, cell) else F.col(cell)
        for cell in cells
    ])
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        found = [
            *_errors(models.text.validate(as_read), encoding), *_errors(models.values.validate(typed.select(*cells)), encoding),
        ]
        for column, model in models.unique.items():
            # Pandera's uniqueness groups nulls together; the checks count only the values present.
            found += _errors(model.validate(typed.select(column).filter(typed[column].isNotNull())), encoding, unique=column)
        for rule, model in models.text_rules.items():
            # A missing value is one of the texts a missingValues rule names ("" among them).
            cells = F.coalesce(F.col(rule.column), F.lit("")) if rule.kind == "missing_values" else F.col(rule.column)
            found += [(rule.column, rule.check) for _ in _errors(model.validate(text.select(cells.alias(rule.column))), encoding)]
    return frozenset(found)


def confirm(file_name: str, text: Any, typed: Any, failures: pd.DataFrame, encoding: Encoding | None = None) -> None:
    """Raise unless Pandera fails exactly the (column, check) pairs of ``failures`` (the SQL's cell failures)."""
    by_sql = frozenset(zip(failures["column"], failures["check"]))
    by_pandera = pandera_failures(text, typed, encoding)
    if by_sql != by_pandera:
        raise EngineDisagreementError(
            "Pandera's PySpark backend and the Spark SQL checks disagree: "
            f"only Pandera fails {_describe(by_pandera - by_sql)}; only the SQL fails {_describe(by_sql - by_pandera)}",
            file=file_name,
        )


def _describe(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{column} {check}" for column, check in sorted(pairs)) or "nothing"


def _errors(validated: Any, encoding: Encoding, *, unique: str | None = None) -> list[tuple[str, str]]:
    """Each failed check of a validated frame as (column, check) in ``checks.validate``'s names (``unique``: the
    column a uniqueness model checks)."""
    found = []
    for by_type in validated.pandera.errors.values():
        for reason, entries in by_type.items():
            for entry in entries:
                if reason == "CHECK_ERROR":  # the check raised: it said nothing about the data
                    raise EngineDisagreementError(
                        f"Pandera's PySpark backend could not run {entry.get('check')} on column "
                        f"{entry.get('column')!r}: {entry.get('error')}"
                    )
                found.append(_our_name(entry.get("column"), str(entry.get("check")), unique, encoding))
    return found


def _empty_is_no_literal(encoding: Encoding, column: str) -> bool:
    """Whether an empty cell of ``column`` fails as no literal of its type: a filled integer column's, as it always has
    (``checks.rules.text_rules``); any other filled column's fails as required."""
    described = encoding.contract.column(column)
    return described.required and described.logical_type == "integer"


def _our_name(column: str | None, check: str, unique: str | None, encoding: Encoding) -> tuple[str | None, str]:
    if check.startswith("str_matches("):
        return column, literal_check(encoding.contract.column(column))
    if check == "not_nullable":
        return column, REQUIRED
    if check.startswith("isin("):
        return column, _VALID_VALUES
    if check == "unique":
        return unique, FIELD_UNIQUENESS
    return column, check  # greater_than(0) etc. share Pandera's names; anything else is a disagreement


class _Models(types.SimpleNamespace):
    text: Any
    values: Any
    unique: dict[str, Any]  # a model per column whose values appear once per delta
    text_rules: dict[TextRule, Any]  # a model per rule on a cell's text beyond its type (a pattern, allowed values...)


@lru_cache(maxsize=16)
def _models(encoding: Encoding) -> _Models:
    """The contract's PySpark models, defined on first use: importing pandera's PySpark backend starts nothing, but costs."""
    pa = _import_pandera_pyspark()
    from pyspark.sql import types as T

    def model(name: str, doc: str, fields: dict[str, tuple[Any, Any]], config: type | None = None) -> type:
        """A DataFrameModel with these (type, field) columns: the models are the contract's, built from its rules."""
        namespace: dict[str, Any] = {"__doc__": doc, "__annotations__": {column: kind for column, (kind, _) in fields.items()}}
        namespace |= {column: field for column, (_, field) in fields.items()}
        if config is not None:
            namespace["Config"] = config
        return type(name, (pa.DataFrameModel,), namespace)

    columns = encoding.contract.names
    checks: dict[str, dict[str, Any]] = {column: {} for column in columns}
    unique: dict[str, None] = {}
    for rule in value_rules(encoding):
        if rule.kind in _BOUNDS:
            checks[rule.column][_BOUNDS[rule.kind]] = rule.argument
        elif rule.kind == "valid_values":
            checks[rule.column]["isin"] = list(rule.argument)
        elif rule.kind == "unique":
            unique.setdefault(rule.column)
    # a filled integer column's nulls are read as "" (pandera_failures); another filled column's must not be null
    literals = {column: encoding.codecs[column].literal for column in columns}
    nullable = {column: _empty_is_no_literal(encoding, column) or not encoding.contract.column(column).required for column in columns}
    DeltaText = model("DeltaText", "A delta as read: every filled cell a literal of its column's type.", {
        column: (T.StringType(), pa.Field(**_literal(literals[column]), nullable=nullable[column])) for column in columns
    })
    # A text is a value as it is: Spark codes it only once the delta is checked.
    kinds = {column: T.StringType() if literals[column] is None else T.LongType() for column in columns}
    DeltaValues = model("DeltaValues", "A delta's values; null where the text pass failed.",
                        {column: (kinds[column], pa.Field(**checks[column], nullable=True)) for column in columns})
    once = {
        column: model(f"DeltaUnique_{place}", f"The values of {column} present in a delta, each once.",
                      {column: (kinds[column], pa.Field())}, type("Config", (), {"unique": [column]}))
        for place, column in enumerate(unique)
    }
    rules = {
        rule: model(f"DeltaTextRule_{place}", f"The cells of {rule.column} as {rule.check} wants them.",
                    {rule.column: (T.StringType(), _text_rule_field(pa, rule))})
        for place, rule in enumerate(rule for rule in text_rules(encoding) if rule.kind in _TEXT_RULES)
    }
    return _Models(text=DeltaText, values=DeltaValues, unique=once, text_rules=rules)


# A text rule as a field's check: each breaks the cells ``checks.engines.spark_cells.rule_failures`` finds.
_TEXT_RULES = {
    "pattern": lambda rule: {"str_contains": rule.argument},
    "min_length": lambda rule: {"str_length": {"min_value": rule.argument}},
    "max_length": lambda rule: {"str_length": {"max_value": rule.argument}},
    "valid_values": lambda rule: {"isin": list(rule.argument)},
    "missing_values": lambda rule: {"notin": list(rule.argument)},
    "null_values": lambda rule: {"nullable": False},
}


def _text_rule_field(pa: Any, rule: TextRule) -> Any:
    return pa.Field(**{"nullable": True, **_TEXT_RULES[rule.kind](rule)})


def _literal(pattern: str | None) -> dict[str, Any]:
    """A text column's cells are literals whatever they hold: no pattern to match."""
    return {} if pattern is None else {"str_matches": pattern}


@contextmanager
def _pyspark_pandas_stand_in() -> Iterator[None]:
    """A stand-in ``pyspark.pandas`` while pandera imports and registers its PySpark backend, if the real one fails."""
    try:
        import pyspark.pandas  # noqa: F401
    except ImportError:
        pass
    else:
        yield
        return
    stand_in = types.ModuleType("pyspark.pandas")
    for name in ("DataFrame", "Series", "Index"):
        setattr(stand_in, name, type(name, (), {}))
    sys.modules["pyspark.pandas"] = stand_in
    try:
        typing = sys.modules.get("pandera.typing.pyspark")
        if typing is not None and not hasattr(typing, "DataFrame"):
            importlib.reload(typing)  # imported with pandera when pyspark.pandas failed: define its classes now
        yield
    finally:
        del sys.modules["pyspark.pandas"]


def _import_pandera_pyspark() -> Any:
    with _pyspark_pandas_stand_in():
        import pandera.pyspark as pa
    _route_spark_frames_to_the_pyspark_backend()
    return pa


def _route_spark_frames_to_the_pyspark_backend() -> None:
    """Register a Spark frame's check backends as pandera's own dispatch does, without its pandas-like detour.

    Before that dispatch pandera asks whether the frame's class is pandas-like, which for any
    ``pyspark.*`` class imports ``pyspark.pandas``; the ImportError it raises with pandas 3 would
    turn every check into a CHECK_ERROR.
    """
    from pandera.backends import register_checks

    original = register_checks.register_default_check_backends
    if getattr(original, "_checks_routes_spark", False):
        return

    def register_default_check_backends(check_obj_cls: type) -> None:
        if getattr(check_obj_cls, "__module__", "").startswith("pyspark.sql"):
            from pandera.backends.pyspark.register import register_pyspark_backends
            from pandera.config import CONFIG

            register_pyspark_backends(use_narwhals_backend=CONFIG.use_narwhals_backend)
            return
        original(check_obj_cls)

    register_default_check_backends._checks_routes_spark = True
    register_checks.register_default_check_backends = register_default_check_backends
