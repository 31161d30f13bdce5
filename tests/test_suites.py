"""Tests for checks.suites: the user-summary suite through one Checkpoint, and the GX 1.x traps it guards."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from checks.errors import BadInputError, SuiteError
from checks.feed import read_table
from checks.sample import COLUMNS
from checks.contract import default_contract
from checks.contract_suite import suite_path
from checks.suites.figures import fast_path_applies
from checks.suites.suite import load_suite_json, prepare_table

SUITE_PATH = suite_path(default_contract())

PROJECT_GX = Path(__file__).resolve().parent.parent / "gx"
# The incident's figures (issue 2); the tests also derive them from the files.
PLATFORM_TOTAL = 29_162_044
FINANCE_TOTAL = 33_904_525


def _gx_dir(tmp_path: Path) -> Path:
    """A fresh GX project made of the committed config, as a fresh clone has it."""
    gx_dir = tmp_path / "gx"
    gx_dir.mkdir()
    shutil.copy(PROJECT_GX / "great_expectations.yml", gx_dir)
    return gx_dir


def _small_feed() -> tuple[pd.DataFrame, pd.Series]:
    table = pd.DataFrame(
        {"user_id": [1, 2, 3], "total_spend": [10, 20, 30], "count_saved_items": [1, 2, 3],
         "loyalty_credits": [0, 5, 9], "batch_id": [7, 8, 9]},
        dtype="int64",
    )
    latest = table.set_index("user_id")["batch_id"]
    return table, latest


def _write_suite(tmp_path: Path, change) -> Path:
    declared = json.loads(SUITE_PATH.read_text())
    change(declared["expectations"])
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(declared))
    return path


@pytest.mark.parametrize(
    ("rename", "message"),
    [
        ({"total_spend": "Total_spend"}, "case-sensitive"),
        ({"batch_id": "batch"}, "missing column.*batch_id"),
    ],
)
def test_prepare_table_refuses_other_column_names(rename, message):
    table, latest = _small_feed()
    with pytest.raises(BadInputError, match=message):
        prepare_table("platform", table.rename(columns=rename), latest)


def test_prepare_table_drops_lineage_and_joins_latest_batch():
    table, latest = _small_feed()
    with_lineage = table.assign(source_file="delta0.csv", source_row=range(2, 5))
    latest = latest.copy()
    latest[2] = 99
    prepared = prepare_table("deduplicated", with_lineage, latest)
    assert list(prepared.columns) == [*COLUMNS, "feed_latest_batch_id"]
    assert prepared["feed_latest_batch_id"].tolist() == [7, 99, 9]
    assert "source_file" in with_lineage.columns  # input not mutated


def test_suite_json_declares_every_check_once():
    declared = load_suite_json(SUITE_PATH)
    checks = [expectation["meta"]["check"] for expectation in declared["expectations"]]
    assert len(checks) == len(set(checks))
    assert {"column_set", "row_count", "user_id_unique", "revenue_total", "batch_currency"} <= set(checks)


def test_suite_json_refuses_unexpected_rows_expectation(tmp_path):
    path = _write_suite(
        tmp_path, lambda expectations: expectations.append({"type": "unexpected_rows_expectation", "kwargs": {}})
    )
    with pytest.raises(SuiteError, match="does not run on pandas"):
        load_suite_json(path)


@pytest.mark.slow
def test_gx_matches_column_names_case_insensitively_which_is_why_we_refuse_them():
    """The trap itself: GX validates ``Total_spend`` as ``total_spend`` without a word."""
    from checks.suites.gx import import_gx

    gx = import_gx()
    context = gx.get_context(mode="ephemeral")
    frame = pd.DataFrame({"user_id": [1, 2], "Total_spend": [3, 4]})
    batch = context.data_sources.add_pandas("p").add_dataframe_asset("t").add_batch_definition_whole_dataframe("t")
    result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(
        gx.expectations.ExpectColumnSumToBeBetween(column="total_spend", min_value=7, max_value=7)
    )
    assert result.success  # summed the wrong column
    with pytest.raises(BadInputError, match="case-sensitive"):
        prepare_table("t", _small_feed()[0].rename(columns={"total_spend": "Total_spend"}), _small_feed()[1])


@pytest.mark.slow
def test_custom_expectation_dropped_on_load_fails_loudly(tmp_path):
    table, latest = _small_feed()
    path = _write_suite(
        tmp_path,
        lambda expectations: expectations.append(
            {"type": "expect_custom_thing_never_imported", "kwargs": {"column": "user_id"}, "meta": {"check": "custom"}}
        ),
    )
    from checks.suites import run_suites

    with pytest.raises(SuiteError, match=r"dropped: custom \(expect_custom_thing_never_imported\)"):
        run_suites({"t": table}, latest_batch=latest, finance_total=60, expected_users=3,
                   gx_dir=_gx_dir(tmp_path), suite_path=path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("column", "message"),
    [("spend", "could not be evaluated"), ("Total_spend", "could not be evaluated.*case-sensitive")],
)
def test_expectation_on_a_column_the_table_lacks_fails_loudly(tmp_path, column, message):
    """GX raises for ``spend`` but would sum ``total_spend`` for ``Total_spend``: both are refused."""
    table, latest = _small_feed()
    path = _write_suite(
        tmp_path,
        lambda expectations: expectations.append(
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": column}, "meta": {"check": "typo"}}
        ),
    )
    from checks.suites import run_suites

    with pytest.raises(SuiteError, match=message):
        run_suites({"t": table}, latest_batch=latest, finance_total=60, expected_users=3,
                   gx_dir=_gx_dir(tmp_path), suite_path=path)


@pytest.mark.slow
def test_expectation_with_a_bound_of_the_wrong_type_is_a_suite_error(tmp_path):
    table, latest = _small_feed()
    path = _write_suite(
        tmp_path,
        lambda expectations: expectations.append(
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "total_spend", "min_value": "abc"},
             "meta": {"check": "typo"}}
        ),
    )
    from checks.suites import run_suites

    with pytest.raises(SuiteError, match=r"invalid expectation: .*ExpectColumnValuesToBeBetween \(field min_value\)"):
        run_suites({"t": table}, latest_batch=latest, finance_total=60, expected_users=3,
                   gx_dir=_gx_dir(tmp_path), suite_path=path)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"raised_exception": True, "exception_message": "KeyError: spend\nTraceback", "exception_traceback": ""},
         "KeyError: spend"),
        ({"column_values.nonnull.unexpected_count": {"raised_exception": True, "exception_message": "boom"}}, "boom"),
        ({"raised_exception": False, "exception_message": None}, None),
        (None, None),
    ],
)
def test_exception_info_in_either_shape_gx_1x_stores_it(info, message):
    """GX 1.x keeps one record or one per metric; a raised one fails the run (see checks.suites.results.table_result)."""
    from checks.suites.results import _raised_exception

    assert _raised_exception(info) == message


@pytest.mark.slow
def test_small_tables_pass_and_fail_as_planted(tmp_path, capsys):
    from checks.suites import run_suites

    table, latest = _small_feed()
    stale = table.assign(batch_id=[7, 3, 9], total_spend=[10, 20, -1])  # user 2 stale, user 3 negative
    run = run_suites({"good": table, "stale": stale}, latest_batch=latest, finance_total=None,
                     expected_users=3, gx_dir=_gx_dir(tmp_path), build_docs=False)
    assert run.skipped == ("revenue_total",)
    good, bad = run.results
    assert (good.table, good.success) == ("good", True)
    assert "revenue_total" not in {outcome.check for outcome in good.outcomes}
    failed = {outcome.check: outcome for outcome in bad.failed()}
    assert set(failed) == {"batch_currency", "total_spend_non_negative"}
    assert failed["batch_currency"].unexpected_examples == ({"user_id": 2, "batch_id": 3, "feed_latest_batch_id": 8},)
    assert run.docs_index is None
    json.dumps(run.to_dict())  # JSON-ready
    assert "Calculating Metrics" not in capsys.readouterr().err  # GX's tqdm bars are off
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"


@pytest.mark.slow
def test_history_is_pruned_to_the_last_runs(tmp_path):
    from checks.suites import run_suites

    table, latest = _small_feed()
    gx_dir = _gx_dir(tmp_path)
    runs = [
        run_suites({"t": table}, latest_batch=latest, finance_total=60, expected_users=3, gx_dir=gx_dir, keep_runs=2)
        for _ in range(3)
    ]
    stored = sorted((gx_dir / "uncommitted" / "validations" / "user_summary" / "checks").iterdir())
    pages = sorted((runs[-1].docs_index.parent / "validations" / "user_summary" / "checks").iterdir())
    assert [path.name for path in stored] == [path.name for path in pages]
    assert len(stored) == 2
    index = runs[-1].docs_index.read_text()
    assert stored[0].name in index and stored[1].name in index
    from datetime import datetime

    oldest = datetime.fromisoformat(runs[0].run_time).strftime("%Y%m%dT%H%M%S.%fZ")
    assert oldest not in index and oldest not in {path.name for path in stored}


@pytest.fixture(scope="module")
def real_case_run(johnnys_jeans, tmp_path_factory):
    """The real incident through run_suites: deduplicated feed, platform table, customer export."""
    from checks.dedup import latest_batches
    from checks.pipeline import check_feed_folder
    from checks.suites import run_suites

    feed = check_feed_folder(johnnys_jeans)
    tables = {
        "deduplicated": feed.deduplicated,
        "platform": read_table(johnnys_jeans / "AIQ-user-summary.csv"),
        "customer": read_table(johnnys_jeans / "Johnny-user-summary.csv"),
    }
    latest = latest_batches(feed.deltas)
    run = run_suites(tables, latest_batch=latest, finance_total=FINANCE_TOTAL, expected_users=latest.size,
                     gx_dir=_gx_dir(tmp_path_factory.mktemp("real")))
    return run, tables, latest


@pytest.mark.slow
def test_real_case_platform_fails_revenue_and_batch_currency(real_case_run):
    run, tables, latest = real_case_run
    platform = {result.table: result for result in run.results}["platform"]
    failed = {outcome.check: outcome for outcome in platform.failed()}
    assert set(failed) == {"revenue_total", "batch_currency"}
    assert failed["revenue_total"].observed == int(tables["platform"]["total_spend"].sum()) == PLATFORM_TOTAL
    assert failed["revenue_total"].expected == int(tables["customer"]["total_spend"].sum()) == FINANCE_TOTAL
    stale = tables["platform"]["batch_id"].ne(tables["platform"]["user_id"].map(latest))
    assert failed["batch_currency"].unexpected_count == int(stale.sum()) > 0
    example = failed["batch_currency"].unexpected_examples[0]
    assert example["batch_id"] < example["feed_latest_batch_id"] == latest[example["user_id"]]


@pytest.mark.slow
def test_real_case_deduplicated_and_customer_pass(real_case_run):
    run, _, _ = real_case_run
    verdicts = {result.table: result.success for result in run.results}
    assert verdicts == {"deduplicated": True, "platform": False, "customer": True}
    assert run.docs_index is not None and run.docs_index.is_file()


@pytest.mark.slow
def test_renderer_error_swallowed_by_gx_fails_the_docs_build(tmp_path, monkeypatch):
    from great_expectations.expectations import registry
    from great_expectations.render import LegacyDiagnosticRendererType

    from checks.suites import run_suites
    from checks.suites.gx import import_gx

    import_gx()
    renderers = registry._registered_renderers["expect_batch_id_to_be_latest_in_feed"]
    key = LegacyDiagnosticRendererType.UNEXPECTED_TABLE
    owner, _ = renderers[key]

    def broken(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setitem(renderers, key, (owner, broken))
    table, latest = _small_feed()
    stale = table.assign(batch_id=[7, 3, 9])
    with pytest.raises(SuiteError, match="Data Docs failed.*renderer exploded"):
        run_suites({"stale": stale}, latest_batch=latest, finance_total=60, expected_users=3, gx_dir=_gx_dir(tmp_path))


def test_importing_the_suites_module_does_not_import_gx():
    import subprocess
    import sys

    code = "import sys, checks.suites, checks.data_docs; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=False).returncode == 0


def test_a_model_class_copies_the_fields_it_inherits_field_by_field_while_gx_is_imported():
    import pydantic.v1 as pydantic_v1

    from checks.suites.gx import _inherited_fields_copied_once

    class Base(pydantic_v1.BaseModel):
        items: list = ["a default object"]
        pair: tuple[int, str] | None = None

    with _inherited_fields_copied_once():
        class Child(Base):
            @pydantic_v1.validator("items")
            def keep(cls, value):
                return value

    own, inherited = Base.__fields__, Child.__fields__
    assert inherited["items"] is not own["items"] and inherited["items"].default is own["items"].default  # not deep
    # What a class or a forward reference changes in place is the copy's own.
    assert "keep" in inherited["items"].class_validators and "keep" not in own["items"].class_validators
    assert inherited["items"].field_info is not own["items"].field_info
    assert all(copied is not base for copied, base in zip(inherited["pair"].sub_fields, own["pair"].sub_fields))
    assert Child(items=["x"]).items == ["x"] and Base().items == ["a default object"]


# Every Pydantic v1 model class GX defines, each field as Pydantic shows it, with its validators and sub-fields: printed
# by a process that imported GX as ``import_gx`` does (its inherited fields copied field by field) or plainly.
_MODEL_FIELDS = """
import json, re, sys
import pydantic.v1 as pydantic_v1

def shown(field):
    return [repr(field), repr(field.field_info), field.alias, sorted(field.class_validators or {}),
            [len(field.validators or ()), len(field.pre_validators or ()), len(field.post_validators or ())],
            [shown(sub_field) for sub_field in field.sub_fields or ()],
            None if field.key_field is None else shown(field.key_field)]

def models(base):
    for model in base.__subclasses__():
        yield model
        yield from models(model)

if sys.argv[1] == "import_gx":
    from checks.suites.gx import import_gx
    import_gx()
else:
    import great_expectations  # noqa: F401
shown_models = {f"{model.__module__}.{model.__qualname__}": {name: shown(field) for name, field in model.__fields__.items()}
                for model in models(pydantic_v1.BaseModel) if model.__module__.startswith("great_expectations")}
print(re.sub(r" at 0x[0-9a-f]+", "", json.dumps(shown_models)))  # a default object's address: this process's own
"""


def test_gx_models_imported_with_inherited_fields_copied_once_are_the_models_of_a_plain_import(tmp_path):
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    script = tmp_path / "model_fields.py"  # a file: PySpark, which GX imports, ends a process whose main is ``-c``
    script.write_text(_MODEL_FIELDS)
    shown = {
        way: json.loads(subprocess.run([sys.executable, "-W", "ignore", str(script), way], cwd=PROJECT_ROOT, check=True,
                                       capture_output=True, text=True).stdout)
        for way in ("import_gx", "plain")
    }
    assert len(shown["plain"]) > 200
    assert shown["import_gx"] == shown["plain"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "suite file not found"),
        ("{not json", "cannot read the expectation suite"),
        ('{"name": "s"}', "a name and a list of expectations"),
        ('{"name": "s", "expectations": [{"kwargs": {}}]}', "expectation 1 has no type"),
    ],
)
def test_broken_suite_file_is_a_suite_error(tmp_path, text, message):
    path = tmp_path / "suite.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SuiteError, match=message):
        load_suite_json(path)


@pytest.mark.slow
def test_a_fresh_gx_dir_starts_from_the_committed_project_config(tmp_path):
    from checks.suites import run_suites

    table, latest = _small_feed()
    run = run_suites({"t": table}, latest_batch=latest, finance_total=None, expected_users=3, gx_dir=tmp_path / "gx")
    assert run.docs_index == tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert run.docs_index.is_file()
    assert not (tmp_path / "gx" / "great_expectations.yml").exists()  # nothing written outside uncommitted/


def _planted_table(seed: int, users: int = 500) -> tuple[pd.DataFrame, pd.Series]:
    """A shuffled table with more than a page of examples for each fault: stale batches, repeated and
    unknown users, negatives, and (nullable Int64) missing values; plus each user's latest batch_id."""
    import numpy as np

    rng = np.random.default_rng(seed)
    latest = pd.Series(rng.integers(10, 90, size=users), index=pd.Index(range(1, users + 1), name="user_id"))
    table = pd.DataFrame(
        {"user_id": rng.permutation(users) + 1, "total_spend": rng.integers(0, 1_000, size=users),
         "count_saved_items": rng.integers(0, 9, size=users), "loyalty_credits": rng.integers(0, 9, size=users)},
        dtype="int64",
    )
    table["batch_id"] = table["user_id"].map(latest).to_numpy()
    faults = rng.choice(users, size=(5, 30), replace=False)
    table.loc[faults[0], "batch_id"] -= 1
    table.loc[faults[1], "user_id"] = table.loc[faults[1] - 1, "user_id"].to_numpy()
    table.loc[faults[2], "user_id"] += users  # not in the feed
    table.loc[faults[3], "loyalty_credits"] = -1
    table = table.astype("Int64")
    table.loc[faults[4], ["total_spend", "batch_id"]] = pd.NA
    return table, latest


def _whole_tables_only(monkeypatch) -> None:
    """Send every table through GX whole, on pandas and on Spark: the reference the fast path is held to."""
    from checks.suites import evidence, spark

    for module in (evidence, spark):
        monkeypatch.setattr(module, "fast_path_applies", lambda *args: False)


def _fast_and_whole(tmp_path: Path, monkeypatch, tables: dict, **options) -> tuple[dict, dict]:
    """``run_suites`` by the fast path, then with every table through GX whole: each one's results and stored results."""
    from checks.suites import run_suites

    runs, stored = {}, {}
    for path in ("fast", "whole"):
        if path == "whole":
            _whole_tables_only(monkeypatch)
        (tmp_path / path).mkdir()
        gx_dir = _gx_dir(tmp_path / path)
        runs[path] = run_suites(tables, gx_dir=gx_dir, build_docs=False, **options).to_dict()["tables"]
        stored[path] = {
            file.name: [(result["success"], result["result"]) for result in json.loads(file.read_text())["results"]]
            for file in (gx_dir / "uncommitted" / "validations").rglob("*.json")
        }
    return runs, stored


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 4])
def test_fast_path_reports_what_gx_reports_on_the_whole_table(tmp_path, monkeypatch, seed):
    """Differential: GX over an evidence frame completed with Polars figures == GX over every row."""
    table, latest = _planted_table(seed)
    plain = table.dropna().astype("int64")
    tables = {"planted": table, "plain": plain, "empty": plain.iloc[:0]}
    runs, stored = _fast_and_whole(tmp_path, monkeypatch, tables, latest_batch=latest,
                                   finance_total=int(plain["total_spend"].sum()) + 1, expected_users=latest.size)
    assert runs["fast"] == runs["whole"]
    assert stored["fast"] == stored["whole"]
    planted = {outcome["check"]: outcome for outcome in runs["fast"][0]["outcomes"]}
    failing = {check for check, outcome in planted.items() if not outcome["success"]}
    assert {"batch_currency", "user_id_unique", "user_in_feed", "loyalty_credits_non_negative",
            "total_spend_not_null", "revenue_total"} <= failing
    assert planted["batch_currency"]["unexpected_count"] > len(planted["batch_currency"]["unexpected_examples"])


def _accounts_tables(folder: Path) -> tuple[dict[str, pd.DataFrame], pd.Series, object, object]:
    """The second shape's tables in computing form, as ``checks run`` hands them to the suites, with faults
    planted in the platform's: a file never loaded (stale versions, the sample's own), keys repeated and
    unknown, a negative amount and order count, an empty plan and amount (the amount's sum then short), plans no delta
    may hold and keys that break the key's pattern, as Python's ``re`` and Arrow's RE2 would tell them apart (digits
    of another script, a final line break)."""
    import numpy as np

    from checks.config import load_case
    from checks.contract import contract_or_default
    from checks.encoding import NULL, Encoding
    from checks.engines import get_engine
    from checks.feed import discover_deltas
    from checks.sample_accounts import generate_accounts_case, write_accounts_case

    write_accounts_case(generate_accounts_case(400, 5, seed=5), folder)
    case = load_case(folder / "case.toml")
    encoding = Encoding.of(contract_or_default(case.contract))
    engine = get_engine("polars")
    platform = engine.read_table(case.platform, encoding=encoding)
    customer = engine.read_table(case.customer, encoding=encoding)
    validations = [engine.read_and_validate(delta, encoding=encoding) for delta in discover_deltas(case.feed, encoding.contract)]
    deduplicated = engine.check_validations(validations, encoding=encoding).deduplicated
    faults = np.random.default_rng(5).choice(np.arange(1, len(platform)), size=(8, 25), replace=False)
    platform = platform.reset_index(drop=True).copy()  # the engine may hand back read-only arrays (zero-copy from Polars)
    # Columns held as int32 (every value fit) are widened: the planted codes and empty cells may not fit.
    platform = platform.astype({name: "int64" for name in platform.columns if platform[name].dtype == "int32"})
    platform.loc[faults[0], "account_id"] = platform.loc[faults[0] - 1, "account_id"].to_numpy()
    platform.loc[faults[1], "account_id"] = encoding.codecs["account_id"].dictionary.encode(
        np.array([f"AC-9{number:08d}" for number in range(25)], dtype=object))
    platform.loc[faults[2], "lifetime_value"] = -1
    platform.loc[faults[3], "orders"] = -1
    platform.loc[faults[4], "plan"] = NULL
    platform.loc[faults[5], "lifetime_value"] = NULL
    platform.loc[faults[6], "plan"] = encoding.codecs["plan"].dictionary.encode(np.array(["PRO", "gold"] * 12 + ["basic"], dtype=object))
    keys = ["ac-00000001", "AC-\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "AC-12345678\n", "AC-12"] * 6 + ["AC-7654321"]
    platform.loc[faults[7], "account_id"] = encoding.codecs["account_id"].dictionary.encode(np.array(keys, dtype=object))
    tables = {"deduplicated": deduplicated[list(encoding.contract.names)], "platform": platform, "customer": customer}
    return tables, deduplicated.set_index("account_id")["exported_at"], encoding, case.finance_total


@pytest.mark.slow
def test_fast_path_of_another_shape_reports_what_gx_reports_on_the_whole_table(tmp_path, monkeypatch):
    """Differential on a string key, a timestamp version and an exact decimal amount: GX over evidence
    frames typed from the computing form, completed with its figures == GX over every typed row."""
    tables, latest, encoding, finance_total = _accounts_tables(tmp_path / "case")
    runs, stored = _fast_and_whole(tmp_path, monkeypatch, tables, latest_batch=latest, finance_total=finance_total,
                                   expected_users=latest.size, encoding=encoding)
    assert runs["fast"] == runs["whole"]
    assert stored["fast"] == stored["whole"]
    outcomes = {table["table"]: {outcome["check"]: outcome for outcome in table["outcomes"]} for table in runs["fast"]}
    failing = {check for check, outcome in outcomes["platform"].items() if not outcome["success"]}
    assert failing == {"batch_currency", "account_id_unique", "user_in_feed", "lifetime_value_non_negative",
                       "orders_non_negative", "plan_not_null", "lifetime_value_not_null", "revenue_total",
                       "plan_invalidValues", "account_id_pattern"}
    # The rules each delta's cells keep hold of the platform's values too: 24 plans, 12 keys (the other script's digits
    # and the final line break match ^AC-\d{6,}$ as Python's re reads it, and as GX does).
    assert (outcomes["platform"]["plan_invalidValues"]["unexpected_count"], outcomes["platform"]["account_id_pattern"]["unexpected_count"]) == (24, 12)
    assert fast_path_applies(True, json.loads(suite_path(encoding.contract).read_text())["expectations"], encoding)
    stale = outcomes["platform"]["batch_currency"]
    assert stale["unexpected_count"] > len(stale["unexpected_examples"])
    assert all(outcome["success"] for outcome in outcomes["deduplicated"].values())


@pytest.mark.slow
def test_sets_a_value_must_stay_out_of_take_the_fast_path_as_gx_reports_them(tmp_path, monkeypatch):
    """A contract's missing values (and any set a value must stay out of) on text and integers, with and without
    ``mostly``: the fast path's figures are GX's over every row."""

    tables, latest, encoding, finance_total = _accounts_tables(tmp_path / "case")
    suite = json.loads(suite_path(encoding.contract).read_text())
    suite["expectations"] += [
        {"type": "expect_column_values_to_not_be_in_set", "kwargs": {"column": "plan", "value_set": ["PRO", "n/a", None]},
         "meta": {"check": "plan_missingValues"}},
        {"type": "expect_column_values_to_not_be_in_set", "kwargs": {"column": "orders", "value_set": [-1, None], "mostly": 0.9},
         "meta": {"check": "orders_missingValues"}},
    ]
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    assert fast_path_applies(True, suite["expectations"], encoding)  # the figures are the fast path's, not GX's
    runs, stored = _fast_and_whole(tmp_path, monkeypatch, tables, latest_batch=latest, finance_total=finance_total,
                                   expected_users=latest.size, encoding=encoding, suite_path=tmp_path / "suite.json")
    assert runs["fast"] == runs["whole"]
    assert stored["fast"] == stored["whole"]
    platform = {outcome["check"]: outcome for outcome in runs["fast"][1]["outcomes"]}
    assert (platform["plan_missingValues"]["success"], platform["plan_missingValues"]["unexpected_count"]) == (False, 12)
    assert (platform["orders_missingValues"]["success"], platform["orders_missingValues"]["unexpected_count"]) == (True, 25)


@pytest.fixture(scope="module")
def spark_session():
    """One local Spark session for this module's Spark tests, stopped at its end."""
    from checks.engines import get_engine

    spark = get_engine("spark").session()
    yield spark
    spark.stop()


def _in_spark(spark, frame: pd.DataFrame, parts: int = 3):
    """``frame`` as a Spark DataFrame of ``parts`` partitions in table order, as a table read from a file."""
    from functools import reduce

    import numpy as np
    import pyarrow as pa

    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    pieces = [spark.createDataFrame(pa.Table.from_pandas(frame.iloc[low:high], preserve_index=False))
              for low, high in zip(bounds[:-1], bounds[1:])]
    return reduce(lambda first, second: first.union(second), pieces)


def _as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as the pandas path holds what a Spark table holds: int64, nullable Int64 where a value is missing."""
    return frame.astype({column: "Int64" if frame[column].isna().any() else "int64" for column in frame.columns})


def _spark_evidence_cases() -> tuple[dict[str, pd.DataFrame], pd.Series]:
    table, latest = _planted_table(3, users=300)
    plain = table.dropna().astype("int64")
    tables = {"planted": table, "plain": plain, "empty": plain.iloc[:0], "narrowed": _narrowed(plain)}
    return tables, latest


@pytest.mark.slow
@pytest.mark.parametrize("path", ["fast", "whole"])
@pytest.mark.parametrize("latest_in", ["pandas", "spark"])
def test_spark_tables_give_the_evidence_pandas_tables_give(monkeypatch, spark_session, path, latest_in):
    """Differential: tables held as Spark DataFrames (figures in Spark SQL; collected whole where the figures do
    not apply) hand GX the same evidence frames and figures as the same tables in pandas (figures in Polars)."""
    from checks.suites.run import gather_evidence

    tables, latest = _spark_evidence_cases()
    if path == "whole":
        _whole_tables_only(monkeypatch)
        tables = {name: tables[name] for name in ("planted", "empty")}
    feed_latest = latest.rename("batch_id").rename_axis("user_id").reset_index()
    options = dict(finance_total=int(tables["empty"]["total_spend"].sum()) + 1, expected_users=latest.size,
                   build_docs=False)
    reference = gather_evidence({name: _as_read(frame) for name, frame in tables.items()}, latest_batch=latest, **options)
    mine = gather_evidence(
        {name: _in_spark(spark_session, frame) for name, frame in tables.items()},
        latest_batch=latest if latest_in == "pandas" else _in_spark(spark_session, feed_latest), **options,
    )
    assert mine.frames.keys() == reference.frames.keys()
    for name, frame in mine.frames.items():
        pd.testing.assert_frame_equal(frame, reference.frames[name], obj=name)
    assert mine.figures == reference.figures
    assert (path == "fast") == all(figures is not None and figures.counts for figures in mine.figures.values())


@pytest.mark.slow
def test_spark_tables_through_the_suite(tmp_path, spark_session):
    """Spark DataFrames through ``run_suites``: the planted faults fail, counted over the whole table, with
    the first examples in table order."""
    from checks import suites

    tables, latest = _spark_evidence_cases()
    run = suites.run_suites(
        {name: _in_spark(spark_session, frame) for name, frame in tables.items()}, latest_batch=latest,
        finance_total=int(tables["plain"]["total_spend"].sum()) + 1, expected_users=latest.size, gx_dir=_gx_dir(tmp_path),
    )
    by_table = {result["table"]: result for result in run.to_dict()["tables"]}
    planted = {outcome["check"]: outcome for outcome in by_table["planted"]["outcomes"]}
    failing = {check for check, outcome in planted.items() if not outcome["success"]}
    assert {"batch_currency", "user_id_unique", "user_in_feed", "loyalty_credits_non_negative",
            "total_spend_not_null", "revenue_total"} <= failing
    assert planted["batch_currency"]["unexpected_count"] > len(planted["batch_currency"]["unexpected_examples"])
    assert planted["user_id_integer"]["observed"] == "int64"
    assert {**by_table["narrowed"], "table": "plain"} == by_table["plain"]  # int32 columns read as the file's int64
    assert run.docs_index.is_file()


def test_a_user_repeated_in_the_feed_s_latest_versions_is_refused_on_spark(spark_session):
    from checks.suites.run import gather_evidence

    table, latest = _small_feed()
    repeated = pd.DataFrame({"user_id": [1, 1, 2, 3], "batch_id": [7, 7, 8, 9]})
    with pytest.raises(SuiteError, match="name a user_id more than once"):
        gather_evidence({"t": _in_spark(spark_session, table)}, latest_batch=_in_spark(spark_session, repeated),
                        finance_total=60, expected_users=3, build_docs=False)


def _narrowed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the engines hold it under the frame contract: int64 columns within 2**30 as int32."""
    fits = [column for column in frame.columns if frame[column].dtype == "int64" and frame[column].abs().max() < 2**30]
    return frame.astype(dict.fromkeys(fits, "int32"))


@pytest.mark.slow
def test_int32_tables_report_what_int64_tables_report(tmp_path):
    """Engines narrow int64 columns to int32 when every value fits: same results, same stored results,
    the declared int64 type observed, and a spend total beyond int32 summed without overflow."""
    from checks.suites import run_suites

    table, latest = _planted_table(5)
    plain = table.dropna().astype("int64")
    plain["total_spend"] = plain["total_spend"] + 2**30 - 1_000  # still fits int32; the sum does not
    tables = {"plain": plain, "deduplicated": plain.sort_values("user_id").drop_duplicates("user_id")}
    finance_total = int(plain["total_spend"].sum())
    narrowed_latest = latest.astype("int32").set_axis(latest.index.astype("int32"))
    runs, stored = {}, {}
    for width, given, feed_latest in (
        ("int64", tables, latest),
        ("int32", {name: _narrowed(frame) for name, frame in tables.items()}, narrowed_latest),
    ):
        (tmp_path / width).mkdir()
        gx_dir = _gx_dir(tmp_path / width)
        run = run_suites(given, latest_batch=feed_latest, finance_total=finance_total, expected_users=latest.size,
                         gx_dir=gx_dir)
        runs[width] = run.to_dict()["tables"]
        stored[width] = {
            file.name: [(result["success"], result["result"]) for result in json.loads(file.read_text())["results"]]
            for file in (gx_dir / "uncommitted" / "validations").rglob("*.json")
        }
    assert set(_narrowed(plain).dtypes.astype(str)) == {"int32"}
    assert runs["int32"] == runs["int64"]
    assert stored["int32"] == stored["int64"]
    outcomes = {outcome["check"]: outcome for outcome in runs["int32"][0]["outcomes"]}
    assert outcomes["revenue_total"]["observed"] == finance_total > 2**31
    assert outcomes["total_spend_integer"]["success"] and outcomes["total_spend_integer"]["observed"] == "int64"


@pytest.mark.slow
def test_a_float_column_still_fails_the_integer_type(tmp_path):
    from checks.suites import run_suites

    table, latest = _small_feed()
    run = run_suites({"t": _narrowed(table).astype({"total_spend": "float64"})}, latest_batch=latest, finance_total=60,
                     expected_users=3, gx_dir=_gx_dir(tmp_path), build_docs=False)
    failed = {outcome.check: outcome for outcome in run.results[0].failed()}
    assert set(failed) == {"total_spend_integer"}
    assert failed["total_spend_integer"].observed == "float64"


def _user_ids(kind: str, users: int) -> list[int]:
    ids = {
        "consecutive": list(range(3, 3 + users)),
        "gaps": list(range(1, 3 * users, 3)),
        "sparse": [10**12 + user for user in range(users)],
    }
    return ids[kind]


@pytest.mark.parametrize("feed_ids", ["consecutive", "gaps", "sparse"])
@pytest.mark.parametrize("table_order", ["as the feed", "shuffled", "repeats and strangers"])
@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_latest_batch_lookup_matches_a_map(feed_ids, table_order, dtype):
    """Each row's latest batch in the feed, by every lookup path (slice, gather, scatter array, join
    fallback), for int64 and narrowed int32 columns: what pandas' map gives."""
    import numpy as np
    import polars as pl

    from checks.suites.evidence import join_latest, latest_by_user
    from checks.suites.suite import TableNames

    names = TableNames.of(default_contract())

    rng = np.random.default_rng(7)
    ids = _user_ids(feed_ids, 50)
    latest = pd.Series(rng.integers(0, 99, size=len(ids)), index=pd.Index(ids, name="user_id"), dtype="int64")
    user_id = pd.Series(ids, dtype="int64")
    if table_order != "as the feed":
        user_id = pd.Series(rng.permutation(user_id.to_numpy()))
    if table_order == "repeats and strangers":
        user_id.iloc[:5] = user_id.iloc[5:10].to_numpy()
        user_id.iloc[10:13] = [0, max(ids) + 1, max(ids) + 10**6]
    if dtype == "int32" and feed_ids != "sparse":
        latest = latest.astype("int32").set_axis(latest.index.astype("int32"))
        user_id = user_id.astype("int32")
    table = pl.DataFrame({"user_id": user_id.to_numpy()})
    joined = join_latest(table, user_id, latest_by_user(latest), names)
    if feed_ids == "sparse":
        assert joined is None  # too sparse to address directly: the caller joins
        return
    expected = user_id.map(latest).astype("Int64")
    assert joined[names.latest].to_pandas().astype("Int64").tolist() == expected.tolist()
    repeated = joined.select(pl.col("__repeated_user_id").cast(pl.Boolean)).to_series()
    assert repeated.to_list() == user_id.duplicated(keep=False).tolist()


@pytest.mark.parametrize("feed", ["dense", "sparse"])
def test_evidence_of_an_int32_table_is_that_of_its_int64_table(feed):
    """The evidence rows and full-table figures (direct lookup or join, a sum beyond int32) do not
    depend on the engine having narrowed the table's columns."""
    from checks.encoding import default_encoding
    from checks.suites.evidence import latest_by_user, table_evidence
    from checks.suites.suite import TableNames, expectations_to_run

    names = TableNames.of(default_contract())
    table, latest = _planted_table(4)
    plain = table.dropna().astype("int64")
    plain["total_spend"] += 2**29
    if feed == "sparse":  # one far-away user: too sparse to address, the table is joined (an int32 key to int64 ids)
        latest = pd.concat([latest, pd.Series([5], index=pd.Index([10**12], name="user_id"))])
    parameters = {"expected_users": latest.size, "finance_total": 1}
    expectations, _ = expectations_to_run(load_suite_json(SUITE_PATH), parameters)
    by_user = latest_by_user(latest)
    assert (by_user is None) == (feed == "sparse")
    wide = table_evidence("t", plain, latest, by_user, expectations, parameters, names, default_encoding())
    narrow = table_evidence("t", _narrowed(plain), latest, by_user, expectations, parameters, names, default_encoding())
    pd.testing.assert_frame_equal(narrow[0], wide[0])
    assert narrow[1] == wide[1]
    assert wide[1].observed["revenue_total"] == int(plain["total_spend"].sum()) > 2**31


@pytest.mark.parametrize(
    "user_ids",
    [[3, 1, 2], [3, 1, 3], [5, 5, 5, 0], [0, 7, 2, 7, 2, 9]],
    ids=["distinct", "one repeat", "three of one", "two repeats"],
)
def test_join_latest_flags_exactly_the_repeated_user_ids(user_ids: list[int]) -> None:
    import polars as pl

    from checks.suites.evidence import join_latest, latest_by_user
    from checks.suites.suite import TableNames

    names = TableNames.of(default_contract())
    ids = pd.Series(user_ids, dtype="int64")
    latest = latest_by_user(pd.Series(range(10), index=pd.RangeIndex(10), dtype="int64"))
    joined = join_latest(pl.DataFrame({names.key: ids.to_numpy()}), ids, latest, names)
    # A constant column when nothing repeats; pandas' duplicated(keep=False) is the reference either way.
    assert joined[f"__repeated_{names.key}"].to_list() == ids.duplicated(keep=False).tolist()


def test_gx_asks_its_decimal_question_of_the_same_callers_inspect_gives():
    """``checks.suites.gx`` answers GX's "is the rule-based profiler calling?" from code objects: the same files and
    functions ``inspect.stack()`` lists, and GX's decimals still come out as floats."""
    import inspect
    from decimal import Decimal

    from checks.suites import gx as gx_module

    gx_module.import_gx()
    import great_expectations.util as gx_util

    def get_metrics():  # the function name GX looks for
        return gx_module._caller_frames(), inspect.stack()

    cheap, stock = get_metrics()
    assert [(frame.filename, frame.function) for frame in cheap] == [(frame.filename, frame.function) for frame in stock]
    assert gx_util.stack is gx_module._caller_frames
    assert gx_util.convert_to_json_serializable({"sum": Decimal("37498073759.79")}) == {"sum": 37498073759.79}
