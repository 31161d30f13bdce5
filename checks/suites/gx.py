"""The one module that imports Great Expectations (lazily): the context, the custom expectation, the suite, the Checkpoint.

Traps of GX 1.x guarded here: expectations silently dropped when a suite loads, sums and counts Data
Docs would print rounded (≈2.014667295e+10), renderers that fail with a log line, GX's own
progress bars and usage statistics, a walk of every caller's source for each decimal it stores, and a deep
copy of every inherited field of its hundreds of Pydantic models while it is imported.
"""
from __future__ import annotations

import copy
import logging
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from checks.errors import SuiteError
from checks.suites.figures import AGGREGATE_KWARGS
from checks.suites.suite import TableNames, check_name


DEFAULT_GX_CONFIG = Path(__file__).resolve().parents[2] / "gx" / "great_expectations.yml"
DATASOURCE = "tables"


def preload() -> None:
    """Import Great Expectations and define the custom expectation ahead of use (the runner does it in a thread)."""
    import_gx()


def import_gx() -> Any:
    # Before the import: GX reads these at import time.
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    with _inherited_fields_copied_once():
        import great_expectations as gx
        import great_expectations.core.run_identifier  # noqa: F401  (gx.core.run_identifier below)

    _register_custom_expectations()
    _cheap_caller_frames()
    return gx


@contextmanager
def _inherited_fields_copied_once() -> Iterator[None]:
    """Meanwhile, a Pydantic v1 model class copies the fields it inherits field by field (``_field_copy``) rather than
    with ``copy.deepcopy``.

    Each class GX defines on its Pydantic v1 models (expectations, data sources, assets: hundreds) deep-copies every
    field of its bases, walking their types, validators and defaults: a quarter of GX's import, 0.4 of 1.6 CPU-s in
    the run's helper process. A class then changes only the copies' own attributes, their ``field_info`` and their
    ``class_validators`` (``set_config``, ``populate_validators``), and resolving a forward reference changes the copies'
    sub-fields: those are copied; the types, validators and defaults they refer to are the bases' (Pydantic never
    changes them). Where Pydantic v1 is not there, nothing changes.
    """
    try:
        import pydantic.v1.main as models
        from pydantic.v1.fields import ModelField
    except ImportError:
        yield
        return
    deep_copy = models.smart_deepcopy

    def copy_of(value: Any) -> Any:
        if type(value) is dict and value and all(type(field) is ModelField for field in value.values()):
            memo: dict[int, Any] = {}
            return {name: _field_copy(field, memo) for name, field in value.items()}
        return deep_copy(value)

    models.smart_deepcopy = copy_of
    try:
        yield
    finally:
        models.smart_deepcopy = deep_copy


def _field_copy(field: Any, memo: dict[int, Any]) -> Any:
    """A Pydantic v1 ``ModelField`` copied with what a subclass or a forward reference may change in place; a field met
    twice (a discriminated union's sub-field, also in its mapping) copied once, as ``copy.deepcopy`` would."""
    if id(field) in memo:
        return memo[id(field)]
    copied = memo[id(field)] = copy.copy(field)
    copied.field_info = copy.copy(field.field_info)
    if field.class_validators is not None:
        copied.class_validators = dict(field.class_validators)
    if field.sub_fields is not None:
        copied.sub_fields = [_field_copy(sub_field, memo) for sub_field in field.sub_fields]
    if field.sub_fields_mapping is not None:
        copied.sub_fields_mapping = {key: _field_copy(sub_field, memo) for key, sub_field in field.sub_fields_mapping.items()}
    if field.key_field is not None:
        copied.key_field = _field_copy(field.key_field, memo)
    return copied


def _cheap_caller_frames() -> None:
    """GX turns each ``Decimal`` of a result it stores into a float through ``convert_decimal_to_float``, which first
    calls ``inspect.stack()`` only to ask whether its rule-based profiler is a caller (by each frame's file name and
    function). ``inspect.stack`` looks up every frame's module and source: 0.3 CPU-s a decimal in the helper (the second
    sample's three took 1.0 CPU-s at 10 M accounts). The same question is answered here from the frames' code objects."""
    import great_expectations.util as gx_util

    gx_util.stack = _caller_frames


class _Frame:
    """What GX reads of an ``inspect.FrameInfo``: its file name and function."""

    __slots__ = ("filename", "function")

    def __init__(self, filename: str, function: str) -> None:
        self.filename, self.function = filename, function


def _caller_frames() -> list[_Frame]:
    """``inspect.stack()``'s frames, outermost last, with only their file names and functions."""
    frames, frame = [], sys._getframe(1)
    while frame is not None:
        frames.append(_Frame(frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    return frames


_CUSTOM_EXPECTATIONS: dict[str, type] = {}


def _register_custom_expectations() -> None:
    """Define (once) the suite's custom expectation, and the renderers that print whole sums in full.

    GX registers the expectation by its snake-case type on definition. The suite must only be loaded
    after this: GX drops an unknown expectation type with a log line.
    """
    if _CUSTOM_EXPECTATIONS:
        return
    from great_expectations.expectations import ExpectColumnPairValuesToBeEqual
    from great_expectations.render import LegacyDiagnosticRendererType, RenderedTableContent
    from great_expectations.render.renderer.renderer import renderer

    class ExpectBatchIdToBeLatestInFeed(ExpectColumnPairValuesToBeEqual):
        """Batch currency: each row's batch_id equals that user's largest batch_id across the feed."""

        @classmethod
        @renderer(renderer_type=LegacyDiagnosticRendererType.UNEXPECTED_TABLE)
        def _diagnostic_unexpected_table_renderer(cls, configuration=None, result=None, runtime_configuration=None):
            # The stock table prints each (batch_id, latest) pair run together; show the rows instead.
            details = (result.result or {}) if result is not None else {}
            rows = details.get("partial_unexpected_index_list") or []
            if not rows:
                return None
            kwargs = result.expectation_config.kwargs
            key = next(column for column in rows[0] if column not in (kwargs["column_A"], kwargs["column_B"]))
            columns = [key, kwargs["column_A"], kwargs["column_B"]]
            return [
                RenderedTableContent(
                    content_block_type="table",
                    header_row=[key, f"{kwargs['column_A']} in table", f"latest {kwargs['column_A']} in feed"],
                    table=[[row.get(column) for column in columns] for row in rows],
                    styling={"body": {"classes": ["table-bordered", "table-sm", "mt-3"]}},
                )
            ]

    _CUSTOM_EXPECTATIONS["expect_batch_id_to_be_latest_in_feed"] = ExpectBatchIdToBeLatestInFeed
    _register_exact_observed_values()


def _register_exact_observed_values() -> None:
    """Data Docs show a row count's or a column sum's observed value with every digit.

    GX prints every observed number with num_to_str(precision=10): a sum of 11 digits or more reads
    "≈2.014667295e+10". It has no setting for that, only a renderer per expectation type, so the
    observed-value renderer of the stock expectations whose observed value is a whole number is
    replaced by one that prints the integer as is (anything else still goes to GX's own).
    """
    from great_expectations.expectations.registry import get_renderer_impl, register_renderer
    from great_expectations.render import LegacyDiagnosticRendererType

    registry_log = logging.getLogger("great_expectations.expectations.registry")
    registry_log.addFilter(_drop_record)  # its warning "Overwriting declaration of ... renderer" is the point here
    try:
        for kind in AGGREGATE_KWARGS:
            stock = get_renderer_impl(kind, LegacyDiagnosticRendererType.OBSERVED_VALUE)
            register_renderer(kind, stock.expectation, _exact_observed_value(stock.renderer))
    finally:
        registry_log.removeFilter(_drop_record)


def _drop_record(record: logging.LogRecord) -> bool:
    return False


def _exact_observed_value(stock: Any) -> Any:
    """An observed-value renderer: a whole number in all its digits, anything else as ``stock`` renders it."""
    from great_expectations.render import LegacyDiagnosticRendererType
    from great_expectations.render.renderer.renderer import renderer

    @renderer(renderer_type=LegacyDiagnosticRendererType.OBSERVED_VALUE)
    def render(configuration: Any = None, result: Any = None, runtime_configuration: Any = None) -> str:
        observed = (result.result or {}).get("observed_value") if result is not None else None
        if isinstance(observed, float) and observed.is_integer():
            observed = int(observed)  # a sum GX took over a float column
        if isinstance(observed, int) and not isinstance(observed, bool):
            return f"{observed:,}"  # every digit, grouped for people
        return stock(result=result)

    return render


def open_context(gx: Any, gx_dir: Path) -> Any:
    """The committed project config with its store folders resolved against ``gx_dir``.

    Data sources, suite and checkpoint live in memory so the committed files never change.
    """
    from great_expectations.data_context.types.base import DataContextConfig
    from ruamel.yaml import YAML, YAMLError  # GX's own YAML library

    config_path = gx_dir / "great_expectations.yml"
    if not config_path.exists():
        # A fresh --gx-dir starts from the project's committed configuration.
        config_path = DEFAULT_GX_CONFIG
    try:
        config = YAML(typ="safe", pure=True).load(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SuiteError("Great Expectations project config not found", file=config_path) from error
    except (OSError, YAMLError) as error:
        raise SuiteError(f"cannot read the Great Expectations config: {error}", file=config_path) from error
    config["analytics_enabled"] = False
    config["progress_bars"] = {"globally": False, "metric_calculations": False}
    backends = [store["store_backend"] for store in config.get("stores", {}).values()]
    backends += [site["store_backend"] for site in config.get("data_docs_sites", {}).values()]
    for backend in backends:
        if "base_directory" in backend:
            backend["base_directory"] = str(gx_dir / backend["base_directory"])
    return gx.get_context(mode="ephemeral", project_config=DataContextConfig(**config))


def build_suite(gx: Any, name: str, expectations: list[dict]) -> Any:
    """The GX suite from the declared expectations; SuiteError if GX dropped or changed any."""
    try:
        suite = gx.ExpectationSuite(name=name, expectations=[dict(expectation) for expectation in expectations])
    except Exception as error:  # pydantic's ValidationError and GX's own errors for a malformed expectation
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        detail = lines[0] + (f" (field {lines[1]})" if len(lines) > 1 else "")  # pydantic: the field is line 2
        raise SuiteError(f"suite {name!r} has an invalid expectation: {detail}") from error
    declared = Counter((expectation["type"], check_name(expectation)) for expectation in expectations)
    loaded = Counter(
        (expectation.expectation_type, check_name({"type": expectation.expectation_type, "meta": expectation.meta}))
        for expectation in suite.expectations
    )
    if loaded != declared:
        lost = sorted(f"{check} ({kind})" for kind, check in (declared - loaded).elements())
        extra = sorted(f"{check} ({kind})" for kind, check in (loaded - declared).elements())
        detail = "; ".join(
            part for part in (f"dropped: {', '.join(lost)}" if lost else "", f"added: {', '.join(extra)}" if extra else "") if part
        )
        raise SuiteError(
            f"suite {name!r} loaded {len(suite.expectations)} of {len(expectations)} declared expectations "
            f"({detail}); an unknown or invalid expectation (e.g. a custom class not imported) was dropped by GX"
        )
    return suite


def build_checkpoint(
    gx: Any,
    context: Any,
    suite: Any,
    frames: Mapping[str, pd.DataFrame],
    tables_dir: Path,
    names: TableNames,
) -> Any:
    """One validation definition per table in one Checkpoint.

    A Checkpoint run passes the same batch parameters to every validation definition, so each
    table is handed to GX as a Parquet file of its own rather than as an in-memory dataframe.
    """
    shutil.rmtree(tables_dir, ignore_errors=True)
    tables_dir.mkdir(parents=True)
    suite = context.suites.add(suite)
    datasource = context.data_sources.add_pandas_filesystem(DATASOURCE, base_directory=tables_dir)
    definitions = []
    for name, frame in frames.items():
        file_name = f"{name}.parquet"
        frame.to_parquet(tables_dir / file_name, index=False)
        asset = datasource.add_parquet_asset(name)
        batch_definition = asset.add_batch_definition_path(name, path=file_name)
        definitions.append(
            context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
        )
    # No UpdateDataDocsAction: it rebuilds the site (and re-reads every stored result for the
    # index) once per validation result; run_suites builds it once for the whole run instead.
    return context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=definitions, actions=[], result_format=names.result_format)
    )


class _ErrorRecords(logging.Handler):
    """Collects the messages of ERROR records logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def render_data_docs(context: Any, site: str, suite_name: str, result_ids: list) -> None:
    """Render only the given results' pages, the suite's page and the index; SuiteError if any part failed."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    # GX logs a renderer's exception and leaves that part of the page out; treat it as a failure.
    errors = _ErrorRecords()
    gx_logger = logging.getLogger("great_expectations")
    gx_logger.addHandler(errors)
    try:
        context.build_data_docs(
            site_names=[site], resource_identifiers=[*result_ids, ExpectationSuiteIdentifier(name=suite_name)]
        )
    except Exception as error:  # a broken renderer must not pass for a built site
        raise SuiteError(f"building Data Docs failed: {error}") from error
    finally:
        gx_logger.removeHandler(errors)
    if errors.messages:
        detail = next((line for line in errors.messages[0].splitlines() if "Error" in line), errors.messages[0])
        raise SuiteError(f"building Data Docs failed: {detail.strip()[:300]}")
