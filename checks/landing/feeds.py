"""The platform's feeds file (TOML): every customer feed the gate watches, with its source, contract, stage, ledger and webhooks.

```toml
notify = ["https://hooks.slack.com/services/..."]  # told about every feed (besides each feed's own)
notify_on = "refuse"                                # or "always"
[anomalies]                                         # checks.landing.anomalies.Thresholds, for every feed
tolerance = 0.25

[[feed]]
name = "johnnys-jeans"                  # letters, digits, . _ -: also the feed's folder under --out
source = "s3://customer-drops/johnnys-jeans"
contract = "contracts/user-summary.yaml"  # default: the first customer's
stage = "landing/johnnys-jeans/stage"
ledger = "landing/johnnys-jeans/ledger.sqlite"
gx_dir = "gx/johnnys-jeans"             # default: the command's --gx-dir
cadence = "auto"                        # or 35d, 4w, off
notify = ["https://example.invalid/hook"]
```

Relative paths are read from the feeds file's folder. Anything unknown or missing is bad input naming the feed and the key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from checks.errors import BadInputError, ChecksError
from checks.landing.anomalies import Thresholds
from checks.landing.notify import NOTIFY_ON, ON_REFUSE, check_url

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOP_KEYS = frozenset({"feed", "notify", "notify_on", "anomalies"})
_FEED_KEYS = frozenset(
    {"name", "source", "contract", "stage", "ledger", "gx_dir", "cadence", "batch_gap", "finance_total", "notify", "notify_on"}
)
_REQUIRED = ("name", "source", "stage", "ledger")


@dataclass(frozen=True)
class FeedSpec:
    """One feed as the feeds file declares it (paths already resolved against the file's folder)."""

    name: str
    source: str
    ledger: Path
    stage: Path | None = None  # the audit needs none
    contract: Path | None = None
    gx_dir: Path | None = None  # the feed's own Great Expectations project (default: the command's --gx-dir)
    cadence: str = "auto"
    batch_gap: int | None = None
    finance_total: str | None = None
    notify: tuple[str, ...] = ()
    notify_on: str = ON_REFUSE
    thresholds: Thresholds = field(default_factory=Thresholds)


def thresholds_of(values: dict[str, Any], base: Thresholds = Thresholds(), where: str = "anomalies") -> Thresholds:
    """``base`` with ``values`` (``{"tolerance": 0.3}``) replacing its fields; an unknown name or a bad number is bad input."""
    known = {item.name: item.type for item in fields(Thresholds)}
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise BadInputError(f"{where}: unknown threshold {name!r} (known: {', '.join(known)})")
        whole = known[name] == "int"
        try:
            number: float | int = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            number = -1.0
        if number < 0 or (whole and not float(number).is_integer()):
            raise BadInputError(f"{where}: {name} must be a {'whole ' if whole else ''}number of at least 0, not {value!r}")
        number = int(number) if whole else number
        changes[name] = number
    return replace(base, **changes)


def _option_values(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise BadInputError(f"--anomaly takes NAME=VALUE (e.g. tolerance=0.3), not {pair!r}")
        values[name.strip()] = value.strip()
    return values


def parse_threshold_options(pairs: list[str]) -> Thresholds:
    """``--anomaly NAME=VALUE`` options as ``Thresholds``."""
    return thresholds_of(_option_values(pairs), where="--anomaly")


def with_command_line(specs: list[FeedSpec], notify: tuple[str, ...], anomaly: list[str]) -> list[FeedSpec]:
    """The feeds with the command line's webhooks added and its ``--anomaly`` thresholds over the file's."""
    values = _option_values(anomaly)
    return [
        replace(spec, notify=spec.notify + notify, thresholds=thresholds_of(values, spec.thresholds, where="--anomaly"))
        for spec in specs
    ]


def read_feeds(path: str | Path) -> list[FeedSpec]:
    """Every feed of the feeds file at ``path``, in the file's order."""
    import tomllib

    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError("feeds file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(f"cannot read the feeds file: {error}", file=path) from None
    except tomllib.TOMLDecodeError as error:
        raise BadInputError(f"not valid TOML: {error}", file=path) from None

    def bad(message: str) -> BadInputError:
        return BadInputError(message, file=path)

    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
    try:
        thresholds = thresholds_of(dict(document.get("anomalies", {})))
    except BadInputError as error:
        raise bad(error.message) from None
    common_notify = _urls(document.get("notify", []), "notify", bad)
    common_on = _notify_on(document.get("notify_on", ON_REFUSE), "notify_on", bad)
    entries = document.get("feed", [])
    if not isinstance(entries, list) or not entries:
        raise bad("no feed: list each one as a [[feed]] table")
    specs: list[FeedSpec] = []
    for index, entry in enumerate(entries):
        where = f"feed[{entry.get('name', index) if isinstance(entry, dict) else index}]"
        specs.append(_feed(entry, where, path.parent, common_notify, common_on, thresholds, bad))
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise bad(f"feed name(s) given twice: {', '.join(repeated)}")
    return specs


def select_feeds(specs: list[FeedSpec], names: list[str]) -> list[FeedSpec]:
    """The feeds named (all when ``names`` is empty); a name the file does not hold is a usage error."""
    from checks.errors import UsageError

    unknown = sorted(set(names) - {spec.name for spec in specs})
    if unknown:
        raise UsageError(f"--feed: no feed named {', '.join(unknown)} in the feeds file")
    return [spec for spec in specs if not names or spec.name in names]


def _feed(
    entry: Any, where: str, folder: Path, common_notify: tuple[str, ...], common_on: str, thresholds: Thresholds, bad: Any
) -> FeedSpec:
    if not isinstance(entry, dict):
        raise bad(f"{where}: a feed is a table of keys")
    unknown = sorted(set(entry) - _FEED_KEYS)
    if unknown:
        raise bad(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_FEED_KEYS))})")
    missing = [key for key in _REQUIRED if not entry.get(key)]
    if missing:
        raise bad(f"{where}: missing {', '.join(missing)}")
    text = {
        key: entry[key]
        for key in ("name", "source", "stage", "ledger", "contract", "gx_dir", "cadence", "finance_total") if key in entry
    }
    for key, value in text.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise bad(f"{where}: {key} must be text")
    if not _NAME.match(str(entry["name"])):
        raise bad(f"{where}: name may hold letters, digits, '.', '_' and '-' only (it names the feed's folder)")
    source = str(entry["source"])
    batch_gap = entry.get("batch_gap")
    if batch_gap is not None and (not isinstance(batch_gap, int) or isinstance(batch_gap, bool) or batch_gap < 0):
        raise bad(f"{where}: batch_gap must be a whole number of at least 0")
    return FeedSpec(
        name=str(entry["name"]),
        source=source if "://" in source else str(folder / source),
        stage=folder / str(entry["stage"]),
        ledger=folder / str(entry["ledger"]),
        contract=folder / str(entry["contract"]) if entry.get("contract") else None,
        gx_dir=folder / str(entry["gx_dir"]) if entry.get("gx_dir") else None,
        cadence=str(entry.get("cadence", "auto")),
        batch_gap=batch_gap,
        finance_total=str(entry["finance_total"]) if entry.get("finance_total") is not None else None,
        notify=common_notify + _urls(entry.get("notify", []), f"{where}.notify", bad),
        notify_on=_notify_on(entry.get("notify_on", common_on), f"{where}.notify_on", bad),
        thresholds=thresholds,
    )


def _urls(value: Any, where: str, bad: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise bad(f"{where}: a list of webhook URLs")
    for url in value:
        try:
            check_url(url)
        except ChecksError as error:  # said with the feeds file's name
            raise bad(f"{where}: {error.message}") from None
    return tuple(value)


def _notify_on(value: Any, where: str, bad: Any) -> str:
    if value not in NOTIFY_ON:
        raise bad(f"{where}: one of {', '.join(NOTIFY_ON)}")
    return str(value)
