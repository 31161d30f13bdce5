"""Feed contracts: a customer's feed declared once, as an Open Data Contract Standard (ODCS v3) YAML file.

The file is checked against ODCS's own JSON Schema (shipped with ``open-data-contract-standard``),
read into its Pydantic model, and then held to what ``checks`` needs of a feed: one table, one key,
one version column, at most one amount column, types and rules it knows how to check. Everything
else in the package asks the ``Contract`` for the feed's columns, roles, rules and file naming.

What ODCS has no words for is said in ``customProperties`` named ``checks.*`` (README, "Feed
contracts"); an unknown ``checks.*`` name is an error, so that a typo never switches a check off.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from checks.errors import BadInputError
from checks.model import PER_USER_COLUMNS, Shape, written_name_clashes

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
DEFAULT_CONTRACT_PATH = CONTRACTS_DIR / "user-summary.yaml"
DEFAULT_FILES = r"delta(?P<order>\d+)\.csv"

LOGICAL_TYPES: tuple[str, ...] = ("integer", "number", "string", "date", "timestamp", "boolean")
VERSION_TYPES: tuple[str, ...] = ("integer", "date", "timestamp")
AMOUNT_TYPES: tuple[str, ...] = ("integer", "number")
KEY_TYPES: tuple[str, ...] = ("integer", "string")
ROLES: tuple[str, ...] = ("version", "amount")

# The logicalTypeOptions each type may carry; any other is refused rather than ignored.
_TYPE_OPTIONS: dict[str, frozenset[str]] = {
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "string": frozenset({"pattern", "minLength", "maxLength"}),
    "date": frozenset(),
    "timestamp": frozenset(),
    "boolean": frozenset(),
}
_SCHEMA_PROPERTIES = frozenset({"checks.files"})
_COLUMN_PROPERTIES = frozenset({"checks.role", "checks.neverDecreases", "checks.currency"})
# The currency an amount is said in when its contract names none: the first customer's.
DEFAULT_CURRENCY = "$"

METRICS: tuple[str, ...] = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")
OPERATORS: tuple[str, ...] = (
    "mustBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan", "mustBeLessOrEqualTo", "mustBeBetween",
)
_UNSUPPORTED_OPERATORS = ("mustNotBe", "mustNotBeBetween")
_OPERATOR_WORDS = {
    "mustBe": "=", "mustBeGreaterThan": ">", "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<", "mustBeLessOrEqualTo": "<=", "mustBeBetween": "between",
}
_DECIMAL = re.compile(r"^\s*decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    """One property of the feed's table, as ``checks`` reads and checks it."""

    name: str
    logical_type: str
    required: bool = True
    unique: bool = False
    primary_key: bool = False
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None
    exclusive_minimum: bool = False  # the bound itself is out (ODCS exclusiveMinimum)
    exclusive_maximum: bool = False
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    decimal: tuple[int, int] | None = None  # (precision, scale) of a ``number`` with physicalType decimal(p,s)
    role: str | None = None
    never_decreases: bool = False
    business_name: str | None = None  # the word people use for it ("user" for user_id)
    currency: str | None = None  # how an amount's values are said: "€" (checks.currency; the amount only)

    @property
    def exact(self) -> bool:
        """Whether values compare and sum exactly (integers and decimals; never floats)."""
        return self.logical_type == "integer" or self.decimal is not None

    def describe(self) -> str:
        """The column's declaration in one line (``checks contract lint``)."""
        kind = f"decimal({self.decimal[0]},{self.decimal[1]})" if self.decimal else self.logical_type
        parts = [kind, "required" if self.required else "nullable"]
        if self.primary_key:
            parts.append("key")
        elif self.unique:
            parts.append("unique")
        if self.role:
            parts.append(self.role)
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum}")
        if self.pattern is not None:
            parts.append(f"matches {self.pattern}")
        if self.min_length is not None:
            parts.append(f"length >= {self.min_length}")
        if self.max_length is not None:
            parts.append(f"length <= {self.max_length}")
        if self.never_decreases:
            parts.append("never decreases")
        if self.currency is not None:
            parts.append(f"in {self.currency}")
        return ", ".join(parts)


@dataclass(frozen=True)
class QualityRule:
    """One ODCS library metric with its threshold, on a column or (``rowCount``) on the table."""

    metric: str
    column: str | None
    operator: str
    threshold: tuple[int | float, ...]
    unit: str = "rows"
    valid_values: tuple[Any, ...] | None = None
    pattern: str | None = None
    missing_values: tuple[Any, ...] = ()

    @property
    def none_allowed(self) -> bool:
        """Whether the rule allows no offending value at all (``mustBe: 0``, ``mustBeLessThan: 1``...).

        Such a rule on a column is checked cell by cell on every delta, each offending cell listed
        with its file and line and the delta quarantined; any other threshold speaks of the table as
        a whole, so it becomes an expectation on the deduplicated table.
        """
        if self.metric == "rowCount" or self.operator in ("mustBeGreaterThan", "mustBeGreaterOrEqualTo"):
            return False
        high, strict = self.threshold[-1], self.operator == "mustBeLessThan"
        if self.unit == "rows":  # counts are whole: "< 1" allows none, as does "<= 0.5"
            return high <= 1 if strict else high < 1
        return high <= 0

    @property
    def per_delta(self) -> bool:
        return self.column is not None and self.none_allowed

    def describe(self) -> str:
        """The rule in one line (``checks contract lint``)."""
        subject = f"{self.metric} of {self.column}" if self.column else self.metric
        if self.valid_values is not None:
            subject += f" (valid: {', '.join(map(str, self.valid_values))})"
        elif self.pattern is not None:
            subject += f" (valid: matches {self.pattern})"
        if self.missing_values:
            subject += f" (missing: {', '.join(map(repr, self.missing_values))})"
        limit = " and ".join(map(str, self.threshold))
        unit = " %" if self.unit == "percent" else ""
        where = "every delta" if self.per_delta else "the deduplicated table"
        return f"{subject} {_OPERATOR_WORDS[self.operator]} {limit}{unit} (on {where})"


@dataclass(frozen=True)
class FileOrder:
    """Where a delta file stands in its feed: ``order`` is the text the contract's ``order`` group matched."""

    order: str

    @property
    def numeric(self) -> bool:
        return self.order.isdigit()


@dataclass(frozen=True)
class Contract:
    """A feed's declaration: its table's columns in file order, their roles and rules, its file naming."""

    id: str
    name: str
    version: str
    table: str
    columns: tuple[Column, ...]
    files: re.Pattern[str]
    quality: tuple[QualityRule, ...] = ()
    path: Path | None = field(default=None, compare=False)
    frequency: timedelta | None = None  # slaProperties' frequency: the longest expected time between deliveries

    @property
    def names(self) -> tuple[str, ...]:
        """The columns' names in the order the contract lists them (a delta's header order)."""
        return tuple(column.name for column in self.columns)

    @property
    def key(self) -> Column:
        return next(column for column in self.columns if column.primary_key)

    @property
    def version_column(self) -> Column:
        return next(column for column in self.columns if column.role == "version")

    @property
    def amount(self) -> Column | None:
        return next((column for column in self.columns if column.role == "amount"), None)

    @property
    def shape(self) -> Shape:
        """The columns by role, as every stage reads them."""
        amount = self.amount
        return Shape(self.names, self.key.name, self.version_column.name, amount.name if amount else None)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def file_order(self, file_name: str) -> FileOrder | None:
        """The order of a delta file by its name (matched whole, in any letter case), or None if it is no delta."""
        match = self.files.fullmatch(file_name)
        return FileOrder(match.group("order")) if match else None

    def describe(self) -> list[str]:
        """What the contract declares, a line each (``checks contract lint``)."""
        amount = self.amount
        lines = [
            f"contract: {self.id} {self.version} ({self.name})",
            f"table: {self.table}",
            f"files: {self.files.pattern} (ordered by the group 'order': as a number when all digits, else as text)",
            f"key: {self.key.name} ({self.key.logical_type})",
            f"version: {self.version_column.name} ({self.version_column.logical_type}; the largest per key wins)",
            f"amount: {amount.name} ({amount.logical_type})" if amount else "amount: none declared",
            "columns:",
        ]
        width = max(len(column.name) for column in self.columns)
        lines += [f"  {column.name:<{width}}  {column.describe()}" for column in self.columns]
        lines.append("rules:" if self.quality else "rules: none beyond the columns' own")
        lines += [f"  {rule.describe()}" for rule in self.quality]
        return lines


def load_contract(path: str | Path, *, validate: bool = True) -> Contract:
    """Read and check a contract file; anything wrong with it is bad input naming the file and the property.

    ``validate=False`` skips ODCS's JSON Schema and Pydantic model (0.3 to 0.8 s of imports): only for the
    contracts shipped in ``contracts/``, which the tests hold to both.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError("contract file not found", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(f"cannot read contract: {error}", file=path) from error
    return parse_contract(text, path, validate=validate)


@functools.cache
def default_contract() -> Contract:
    """The first customer's contract, shipped in ``contracts/``: the default of every command."""
    return load_contract(DEFAULT_CONTRACT_PATH, validate=False)


def contract_or_default(path: str | Path | None) -> Contract:
    return default_contract() if path is None else load_contract(path)


def shape_or_default(shape: Shape | None) -> Shape:
    """``shape``, or the first customer's when none is given (library calls that predate contracts)."""
    return default_contract().shape if shape is None else shape


def parse_contract(text: str, path: Path | None = None, *, validate: bool = True) -> Contract:
    """A ``Contract`` from ODCS YAML text; ``path`` names it in errors."""
    import yaml

    def bad(message: str) -> BadInputError:
        return BadInputError(message, file=path or "contract")

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise bad(f"not valid YAML{where}: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(document, dict):
        raise bad("not an ODCS data contract (expected a YAML mapping with apiVersion, kind, schema)")
    if not validate:
        return _contract_of(_Plain(document), document, bad, path)
    _check_odcs(document, bad)

    from open_data_contract_standard.model import OpenDataContractStandard
    from pydantic import ValidationError

    try:
        model = OpenDataContractStandard(**document)
    except ValidationError as error:  # the JSON Schema passed, so this is rare: say the first problem
        first = error.errors()[0]
        raise bad(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return _contract_of(model, document, bad, path)


class _Plain:
    """A YAML mapping read as the ODCS model reads (attributes, None when absent), for a shipped contract."""

    def __init__(self, data: dict) -> None:
        self._data = data

    _MAPPINGS = frozenset({"logicalTypeOptions", "arguments"})  # plain dicts in the model too

    def __getattr__(self, name: str) -> Any:
        value = self._data.get("schema" if name == "schema_" else name)
        return value if name in self._MAPPINGS else _plain_node(value)


def _plain_node(value: Any) -> Any:
    if isinstance(value, dict):
        return _Plain(value)
    if isinstance(value, list):
        return [_plain_node(item) for item in value]
    return value


def _check_odcs(document: dict, bad: Any) -> None:
    """Hold the document to ODCS's JSON Schema; the first error names where it is, by property name."""
    errors = sorted(_odcs_validator().iter_errors(_plain(document)), key=lambda error: list(map(str, error.absolute_path)))
    if errors:
        error = errors[0]
        message = error.message
        if error.validator in ("oneOf", "anyOf"):  # jsonschema prints every alternative: say what they ask
            message = "not one of the forms ODCS allows here"
            if "quality" in error.absolute_path:
                message += f" (a library rule takes a metric and exactly one operator of: {', '.join(OPERATORS)})"
        raise bad(f"not valid ODCS: {_locate(document, error.absolute_path)}: {message}")


@functools.cache
def _odcs_validator() -> Any:
    """ODCS's JSON Schema, as the ``open-data-contract-standard`` package ships it."""
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("open_data_contract_standard").joinpath("schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft201909Validator(schema)


def _plain(value: Any) -> Any:
    """YAML dates and timestamps as ISO text, which is what the JSON Schema describes."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _locate(document: Any, path: Sequence[Any]) -> str:
    """``schema[orders].properties[amount].logicalType`` for a JSON path into the document."""
    parts: list[str] = []
    node = document
    for step in path:
        if isinstance(step, int) and isinstance(node, list):
            item = node[step] if step < len(node) else None
            label = item.get("name") if isinstance(item, dict) and item.get("name") else step
            parts[-1] += f"[{label}]"
            node = item
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "the document"


def _contract_of(model: Any, document: dict, bad: Any, path: Path | None) -> Contract:
    tables = model.schema_ or []
    if len(tables) != 1:
        raise bad(f"schema: a feed contract describes exactly one table (found {len(tables)})")
    table = tables[0]
    where = f"schema[{table.name}]"
    if not table.name:
        raise bad("schema[0]: the table needs a name")
    custom = _custom_properties(table.customProperties, _SCHEMA_PROPERTIES, where, bad)
    files = _file_pattern(custom.get("checks.files", DEFAULT_FILES), where, bad)
    columns = tuple(_column_of(prop, f"{where}.properties[{prop.name}]", bad) for prop in table.properties or [])
    if not columns:
        raise bad(f"{where}.properties: the table declares no columns")
    names = [column.name for column in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise bad(f"{where}.properties: column(s) declared twice: {', '.join(repeated)}")
    _check_roles(columns, where, bad)
    # Two columns of one output under one name: one would be lost (or read as the other). Files name their columns
    # as the contract does, so the feed's header is what changes.
    clashes = written_name_clashes(names, next(column.name for column in columns if column.primary_key))
    if clashes:
        name, written = next(iter(clashes.items()))
        raise bad(
            f"{where}.properties[{name}]: the outputs would write this column as {written!r}, a name they give a column "
            f"of their own ({', '.join(PER_USER_COLUMNS)}): the contract and its files must name it otherwise"
        )
    quality = [*_rules_of(table.quality, None, where, bad)]
    for prop in table.properties or []:
        quality += _rules_of(prop.quality, prop.name, f"{where}.properties[{prop.name}]", bad)
    return Contract(
        id=model.id or table.name,
        name=model.name or table.name,
        version=model.version or "",
        table=table.name,
        columns=columns,
        files=files,
        quality=tuple(quality),
        path=path,
        frequency=_frequency_of(model.slaProperties, bad),
    )


# slaProperties units for a frequency, in days (ODCS writes d, day, days and the like).
_FREQUENCY_UNITS = {
    "h": 1 / 24, "hr": 1 / 24, "hour": 1 / 24, "hours": 1 / 24, "d": 1, "day": 1, "days": 1,
    "w": 7, "wk": 7, "week": 7, "weeks": 7, "month": 30, "months": 30, "y": 365, "yr": 365, "year": 365, "years": 365,
}


def _frequency_of(items: Any, bad: Any) -> timedelta | None:
    """The contract's ``slaProperties`` ``frequency`` (a delivery every ``value`` ``unit``), or None when not given."""
    for item in items or []:
        if item.property != "frequency":
            continue
        unit = str(item.unit or "d").lower()
        value = item.value
        if unit not in _FREQUENCY_UNITS or isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise bad(f"slaProperties: frequency needs a positive number value and a unit of {', '.join(sorted(_FREQUENCY_UNITS))}")
        return timedelta(days=value * _FREQUENCY_UNITS[unit])
    return None


def _custom_properties(items: Any, known: frozenset[str], where: str, bad: Any) -> dict[str, Any]:
    """The ``checks.*`` custom properties of an element; other vendors' properties are theirs to read."""
    found: dict[str, Any] = {}
    for item in items or []:
        name = item.property or ""
        if not name.startswith("checks."):
            continue
        if name not in known:
            raise bad(f"{where}.customProperties: unknown property {name!r} (known here: {', '.join(sorted(known))})")
        if name in found:
            raise bad(f"{where}.customProperties: {name} given twice")
        found[name] = item.value
    return found


def _file_pattern(value: Any, where: str, bad: Any) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise bad(f"{where}.customProperties: checks.files must be a regular expression")
    try:
        pattern = re.compile(value, re.IGNORECASE)
    except re.error as error:
        raise bad(f"{where}.customProperties: checks.files is not a valid regular expression: {error}") from None
    if "order" not in pattern.groupindex:
        raise bad(f"{where}.customProperties: checks.files needs one named group 'order', e.g. {DEFAULT_FILES}")
    return pattern


def _column_of(prop: Any, where: str, bad: Any) -> Column:
    if not prop.name:
        raise bad(f"{where}: a property needs a name")
    kind = prop.logicalType
    if kind not in LOGICAL_TYPES:
        raise bad(f"{where}.logicalType: {kind!r} is not one a CSV feed holds (use one of: {', '.join(LOGICAL_TYPES)})")
    custom = _custom_properties(prop.customProperties, _COLUMN_PROPERTIES, where, bad)
    role = custom.get("checks.role")
    if role is not None and role not in ROLES:
        raise bad(f"{where}.customProperties: checks.role must be one of {', '.join(ROLES)} (found {role!r})")
    never_decreases = custom.get("checks.neverDecreases", False)
    if not isinstance(never_decreases, bool):
        raise bad(f"{where}.customProperties: checks.neverDecreases must be true or false")
    currency = custom.get("checks.currency")
    if currency is not None and (role != "amount" or not isinstance(currency, str) or not 0 < len(currency.strip()) <= 5):
        raise bad(f"{where}.customProperties: checks.currency belongs to the amount column and is a symbol or code of up to 5 characters (€, EUR)")
    options = dict(prop.logicalTypeOptions or {})
    unknown = sorted(set(options) - _TYPE_OPTIONS[kind])
    if unknown:
        allowed = ", ".join(sorted(_TYPE_OPTIONS[kind])) or "none"
        raise bad(f"{where}.logicalTypeOptions: {', '.join(unknown)} not supported for {kind} (supported: {allowed})")
    decimal = _decimal_of(prop.physicalType, kind, where, bad)
    if never_decreases and kind not in ("integer", "number", "date", "timestamp"):
        raise bad(f"{where}: checks.neverDecreases needs an ordered type (integer, number, date, timestamp)")
    for inclusive, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if inclusive in options and exclusive in options:
            raise bad(f"{where}.logicalTypeOptions: give {inclusive} or {exclusive}, not both")
    bounds = [
        _bound(options.get(name, options.get(exclusive)), kind, decimal, f"{where}.logicalTypeOptions.{name}", bad)
        for name, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum"))
    ]
    pattern = options.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as error:
            raise bad(f"{where}.logicalTypeOptions.pattern: not a valid regular expression: {error}") from None
    primary_key = bool(prop.primaryKey)
    return Column(
        name=prop.name,
        logical_type=kind,
        required=primary_key or bool(prop.required),
        unique=primary_key or bool(prop.unique),
        primary_key=primary_key,
        minimum=bounds[0],
        maximum=bounds[1],
        exclusive_minimum="exclusiveMinimum" in options,
        exclusive_maximum="exclusiveMaximum" in options,
        pattern=pattern,
        min_length=options.get("minLength"),
        max_length=options.get("maxLength"),
        decimal=decimal,
        role=role,
        never_decreases=never_decreases,
        business_name=prop.businessName or None,
        currency=currency.strip() if currency is not None else None,
    )


def _decimal_of(physical: str | None, kind: str, where: str, bad: Any) -> tuple[int, int] | None:
    if physical is None:
        return None
    match = _DECIMAL.match(physical)
    if match is None:
        return None  # another physical type (varchar, bigint...) says nothing more than the logical one
    if kind != "number":
        raise bad(f"{where}.physicalType: {physical} is for a number, not a {kind}")
    precision, scale = int(match.group(1)), int(match.group(2))
    if not 0 < precision <= 18 or scale > precision:
        # Held exactly as an int64 count of 10**-scale units (checks.encoding): 18 digits always fit.
        raise bad(f"{where}.physicalType: {physical}: precision must be 1 to 18 and scale at most the precision")
    return precision, scale


def _bound(value: Any, kind: str, decimal: tuple[int, int] | None, where: str, bad: Any) -> int | Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad(f"{where}: must be a number")
    if kind == "integer":
        if isinstance(value, float) and not value.is_integer() or isinstance(value, str):
            raise bad(f"{where}: must be a whole number for an integer column")
        return int(value)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise bad(f"{where}: must be a number") from None


def _check_roles(columns: Sequence[Column], where: str, bad: Any) -> None:
    keys = [column for column in columns if column.primary_key]
    if len(keys) != 1:
        raise bad(f"{where}.properties: exactly one column must be the primaryKey (found {len(keys)})")
    if keys[0].logical_type not in KEY_TYPES:
        raise bad(f"{where}.properties[{keys[0].name}]: a key must be an integer or a string")
    for role, allowed, most in (("version", VERSION_TYPES, 1), ("amount", AMOUNT_TYPES, 1)):
        holders = [column for column in columns if column.role == role]
        if role == "version" and len(holders) != 1:
            raise bad(f"{where}.properties: exactly one column must have checks.role: version (found {len(holders)})")
        if len(holders) > most:
            raise bad(f"{where}.properties: at most one column may have checks.role: {role} (found {len(holders)})")
        for column in holders:
            if column.logical_type not in allowed:
                raise bad(f"{where}.properties[{column.name}]: a {role} column must be {' or '.join(allowed)}")
            if column.primary_key:
                raise bad(f"{where}.properties[{column.name}]: the key cannot also be the {role}")
            if not column.required:
                raise bad(f"{where}.properties[{column.name}]: the {role} column must be required")
            if role == "amount" and column.logical_type == "number" and column.decimal is None:
                raise bad(f"{where}.properties[{column.name}]: an amount must be exact: integer, or number with physicalType decimal(p,s)")
    for column in columns:
        if column.never_decreases and not column.required:
            # An empty cell is neither above nor below the key's last value: the rule holds for a column always given.
            raise bad(f"{where}.properties[{column.name}]: checks.neverDecreases needs a required column (required: true)")


def _rules_of(items: Any, column: str | None, where: str, bad: Any) -> list[QualityRule]:
    rules = []
    for index, item in enumerate(items or []):
        place = f"{where}.quality[{index}]"
        kind = item.type or "library"
        if kind == "text":
            continue  # words for people, nothing to execute
        if kind != "library":
            raise bad(f"{place}: quality type {kind!r} is not supported (library metrics only)")
        metric = item.metric or item.rule
        if metric not in METRICS:
            raise bad(f"{place}: metric {metric!r} is not supported (supported: {', '.join(METRICS)})")
        if (metric == "rowCount") != (column is None):
            level = "on the table (schema)" if metric == "rowCount" else "on a column (property)"
            raise bad(f"{place}: {metric} is supported {level} only")
        for name in _UNSUPPORTED_OPERATORS:
            if getattr(item, name) is not None:
                raise bad(f"{place}: operator {name} is not supported (supported: {', '.join(OPERATORS)})")
        given = [name for name in OPERATORS if getattr(item, name) is not None]
        if len(given) != 1:
            raise bad(f"{place}: give exactly one operator of {', '.join(OPERATORS)} (found {len(given)})")
        operator = given[0]
        value = getattr(item, operator)
        threshold = tuple(value) if operator == "mustBeBetween" else (value,)
        if not all(isinstance(limit, (int, float)) and not isinstance(limit, bool) for limit in threshold):
            raise bad(f"{place}: {operator} must be a number")
        unit = item.unit or "rows"
        if unit not in ("rows", "percent"):
            raise bad(f"{place}: unit must be rows or percent (found {unit!r})")
        arguments: Mapping[str, Any] = item.arguments or {}
        valid_values = arguments.get("validValues")
        pattern = arguments.get("pattern")
        if metric == "invalidValues" and (valid_values is None) == (pattern is None):
            raise bad(f"{place}: invalidValues needs arguments.validValues or arguments.pattern (one of them)")
        missing = arguments.get("missingValues", [])
        if not isinstance(missing, list):
            raise bad(f"{place}: arguments.missingValues must be a list")
        rule = QualityRule(
            metric=metric, column=column, operator=operator, threshold=threshold, unit=unit,
            valid_values=tuple(valid_values) if valid_values is not None else None,
            pattern=pattern, missing_values=tuple(value for value in missing if value is not None),
        )
        if column is not None and not rule.per_delta and not _as_share(rule):
            raise bad(
                f"{place}: a {metric} threshold above zero is checked on the deduplicated table as a share of its "
                "rows: give unit: percent with mustBeLessThan or mustBeLessOrEqualTo, or allow none (mustBe: 0) "
                "to check every delta cell by cell"
            )
        rules.append(rule)
    return rules


def _as_share(rule: QualityRule) -> bool:
    """Whether a column rule reads as "at most p percent of the rows" (GX's ``mostly``)."""
    return rule.unit == "percent" and rule.operator in ("mustBeLessThan", "mustBeLessOrEqualTo") and 0 < rule.threshold[0] <= 100
