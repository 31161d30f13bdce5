"""Feed contracts: reading ODCS YAML, refusing what ``checks`` cannot honour, drafting and generating suites."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from checks.cli import main
from checks.contract import CONTRACTS_DIR, DEFAULT_CONTRACT_PATH, default_contract, load_contract, parse_contract
from checks.contract_infer import infer_contract
from checks.contract_suite import EXPECTATIONS_DIR, generate_suite, suite_path, suite_text
from checks.errors import BadInputError
from tests.conftest import PROJECT_ROOT, write_csv

FIRST_CUSTOMER = DEFAULT_CONTRACT_PATH.read_text(encoding="utf-8")


def edited(change) -> str:
    """The first customer's contract with ``change(document)`` applied, as YAML text."""
    document = yaml.safe_load(FIRST_CUSTOMER)
    change(document)
    return yaml.safe_dump(document, sort_keys=False)


def table(document):
    return document["schema"][0]


def prop(document, name):
    return next(item for item in table(document)["properties"] if item["name"] == name)


@pytest.mark.parametrize("contract_file", sorted(CONTRACTS_DIR.glob("*.yaml")), ids=lambda path: path.name)
def test_a_shipped_contract_read_without_validation_is_the_validated_one(contract_file):
    assert load_contract(contract_file, validate=False) == load_contract(contract_file)


def test_the_first_customers_contract_declares_its_feed():
    contract = default_contract()
    assert contract.names == ("user_id", "total_spend", "count_saved_items", "loyalty_credits", "batch_id")
    assert (contract.key.name, contract.version_column.name, contract.amount.name) == ("user_id", "batch_id", "total_spend")
    assert contract.column("total_spend").never_decreases
    assert contract.column("user_id").minimum == 0 and contract.column("user_id").exclusive_minimum and contract.column("batch_id").minimum == 0
    assert contract.shape.values == ("total_spend", "count_saved_items", "loyalty_credits")


@pytest.mark.parametrize(
    ("name", "order"),
    [("delta0.csv", "0"), ("Delta10.CSV", "10"), ("delta_3.csv", "3"), ("notes.txt", None), ("user-summary-delta1.csv", "1"),
     ("delta1.csv.bak", None)],
)
def test_file_names_are_matched_whole_in_any_case(name, order):
    found = default_contract().file_order(name)
    assert (found.order if found else None) == order


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("apiVersion"), r"not valid ODCS: the document: 'apiVersion' is a required property"),
        (lambda d: prop(d, "user_id").update(primarykey=True), r"properties\[user_id\].*'primarykey' was unexpected"),
        (lambda d: prop(d, "total_spend").update(logicalType="money"), r"properties\[total_spend\]\.logicalType: 'money'"),
        (lambda d: prop(d, "loyalty_credits").update(logicalType="time", logicalTypeOptions={}), r"'time' is not one a CSV feed holds"),
        (lambda d: prop(d, "user_id").pop("primaryKey"), r"exactly one column must be the primaryKey \(found 0\)"),
        (lambda d: prop(d, "loyalty_credits").update(primaryKey=True), r"primaryKey \(found 2\)"),
        (lambda d: prop(d, "batch_id").pop("customProperties"), r"checks.role: version \(found 0\)"),
        (lambda d: prop(d, "loyalty_credits").update(customProperties=[{"property": "checks.role", "value": "version"}]),
         r"checks.role: version \(found 2\)"),
        (lambda d: prop(d, "loyalty_credits").update(customProperties=[{"property": "checks.role", "value": "amount"}]),
         r"at most one column may have checks.role: amount"),
        (lambda d: prop(d, "loyalty_credits").update(customProperties=[{"property": "checks.rol", "value": "amount"}]),
         r"properties\[loyalty_credits\]\.customProperties: unknown property 'checks.rol'"),
        (lambda d: prop(d, "loyalty_credits").update(customProperties=[{"property": "checks.role", "value": "money"}]),
         r"checks.role must be one of version, amount"),
        (lambda d: prop(d, "total_spend")["customProperties"].__setitem__(1, {"property": "checks.neverDecreases", "value": "yes"}),
         r"checks.neverDecreases must be true or false"),
        (lambda d: prop(d, "loyalty_credits").update(required=False, customProperties=[{"property": "checks.neverDecreases", "value": True}]),
         r"properties\[loyalty_credits\]: checks.neverDecreases needs a required column"),
        (lambda d: table(d)["customProperties"].__setitem__(0, {"property": "checks.file", "value": "x"}),
         r"schema\[user_summary\]\.customProperties: unknown property 'checks.file'"),
        (lambda d: table(d)["customProperties"].__setitem__(0, {"property": "checks.files", "value": r"delta(\d+)\.csv"}),
         r"needs one named group 'order'"),
        (lambda d: table(d)["customProperties"].__setitem__(0, {"property": "checks.files", "value": "delta(?P<order>"}),
         r"not a valid regular expression"),
        (lambda d: prop(d, "user_id").update(logicalTypeOptions={"minimum": 1, "multipleOf": 2}),
         r"logicalTypeOptions: multipleOf not supported for integer"),
        (lambda d: prop(d, "user_id").update(logicalTypeOptions={"minimum": 1.5}), r"whole number"),
        (lambda d: prop(d, "user_id").update(logicalTypeOptions={"minimum": 1, "exclusiveMinimum": 0}), r"give minimum or exclusiveMinimum, not both"),
        (lambda d: prop(d, "user_id").update(logicalType="number"), r"a key must be an integer or a string"),
        (lambda d: prop(d, "total_spend").update(logicalType="number"), r"an amount must be exact"),
        (lambda d: prop(d, "total_spend").update(required=False), r"the amount column must be required"),
        (lambda d: prop(d, "batch_id").update(logicalType="string", logicalTypeOptions={}), r"a version column must be integer or date or timestamp"),
        (lambda d: prop(d, "batch_id").update(required=False), r"the version column must be required"),
        (lambda d: prop(d, "total_spend").update(physicalType="decimal(12,2)"), r"decimal\(12,2\) is for a number"),
        (lambda d: prop(d, "count_saved_items").update(logicalType="number", physicalType="decimal(2,4)"),
         r"precision must be 1 to 18 and scale at most the precision"),
        (lambda d: d["schema"].append({"name": "other", "properties": [{"name": "a", "logicalType": "string"}]}),
         r"exactly one table \(found 2\)"),
        (lambda d: prop(d, "count_saved_items").update(name="user_id"), r"column\(s\) declared twice: user_id"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"metric": "nullValues"}]), r"quality\[0\]: not one of the forms .*exactly one operator"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"metric": "nullValues", "mustBe": 0, "mustBeLessThan": 2}]),
         r"quality\[0\]: not one of the forms .*exactly one operator"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"metric": "nullValues", "mustNotBe": 3}]),
         r"operator mustNotBe is not supported"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"type": "sql", "query": "select 1", "mustBe": 0}]),
         r"quality type 'sql' is not supported"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"metric": "rowCount", "mustBe": 3}]),
         r"rowCount is supported on the table \(schema\) only"),
        (lambda d: table(d).update(quality=[{"metric": "nullValues", "mustBe": 0}]), r"nullValues is supported on a column"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"metric": "invalidValues", "mustBe": 0}]),
         r"invalidValues needs arguments.validValues or arguments.pattern"),
        (lambda d: prop(d, "count_saved_items").update(quality=[{"metric": "nullValues", "mustBeLessThan": 5}]),
         r"threshold above zero .* unit: percent"),
        (lambda d: prop(d, "count_saved_items").update(customProperties=[{"property": "checks.currency", "value": "€"}]),
         r"properties\[count_saved_items\]\.customProperties: checks.currency belongs to the amount column"),
        (lambda d: prop(d, "total_spend")["customProperties"].append({"property": "checks.currency", "value": "euros!"}),
         r"checks.currency belongs to the amount column and is a symbol or code of up to 5 characters"),
    ],
)
def test_a_contract_that_breaks_a_rule_is_refused_naming_the_property(change, message):
    with pytest.raises(BadInputError, match=message):
        parse_contract(edited(change), Path("feed.yaml"))


@pytest.mark.parametrize(
    ("text", "message"),
    [("schema: [unclosed", r"not valid YAML at line 1"), ("- just\n- a list\n", r"not an ODCS data contract"),
     ("", r"not an ODCS data contract"), ("apiVersion: v3.1.0\nkind: DataContract\n", r"the document: '\w+' is a required property")],
)
def test_text_that_is_no_contract_is_bad_input(text, message):
    with pytest.raises(BadInputError, match=message):
        parse_contract(text, Path("feed.yaml"))


@pytest.mark.parametrize(
    ("rule", "per_delta", "words"),
    [
        ({"metric": "nullValues", "mustBe": 0}, True, "nullValues of count_saved_items = 0 (on every delta)"),
        ({"metric": "nullValues", "mustBeLessThan": 1}, True, "< 1 (on every delta)"),
        ({"metric": "duplicateValues", "mustBeLessOrEqualTo": 0}, True, "<= 0 (on every delta)"),
        ({"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}, False, "< 5 % (on the deduplicated table)"),
        ({"metric": "invalidValues", "arguments": {"validValues": [1, 2]}, "mustBe": 0}, True, "(valid: 1, 2) = 0"),
        ({"metric": "missingValues", "arguments": {"missingValues": ["", "n/a"]}, "mustBe": 0}, True, "(missing: '', 'n/a')"),
    ],
)
def test_column_rules_none_allowed_run_on_every_delta_shares_on_the_table(rule, per_delta, words):
    contract = parse_contract(edited(lambda d: prop(d, "count_saved_items").update(quality=[rule])))
    (parsed,) = contract.quality
    assert parsed.per_delta is per_delta
    assert words in parsed.describe()


def test_row_count_is_an_expectation_on_the_table():
    contract = parse_contract(edited(lambda d: table(d).update(quality=[{"metric": "rowCount", "mustBeGreaterThan": 100}])))
    suite = generate_suite(contract)
    (rule,) = [e for e in suite["expectations"] if e["meta"]["check"] == "rowCount"]
    assert rule["type"] == "expect_table_row_count_to_be_between"
    assert rule["kwargs"] == {"min_value": 100, "strict_min": True}


def test_a_share_rule_becomes_gx_mostly():
    contract = parse_contract(edited(lambda d: prop(d, "count_saved_items").update(
        quality=[{"metric": "invalidValues", "arguments": {"validValues": [1, 2]}, "mustBeLessOrEqualTo": 2, "unit": "percent"}]
    )))
    (rule,) = [e for e in generate_suite(contract)["expectations"] if e["meta"]["check"] == "count_saved_items_invalidValues"]
    assert rule["type"] == "expect_column_values_to_be_in_set"
    assert rule["kwargs"] == {"column": "count_saved_items", "mostly": 0.98, "value_set": [1, 2]}


@pytest.mark.parametrize(
    ("rule", "kind"),
    [
        ({"metric": "invalidValues", "arguments": {"validValues": [1, 2]}, "mustBe": 0}, "expect_column_values_to_be_in_set"),
        ({"metric": "nullValues", "mustBe": 0}, "expect_column_values_to_not_be_null"),
        ({"metric": "duplicateValues", "mustBe": 0}, "expect_column_values_to_be_unique"),
        ({"metric": "invalidValues", "arguments": {"pattern": "^[0-9]+$"}, "mustBe": 0}, None),  # a number's text: the deltas'
        ({"metric": "missingValues", "arguments": {"missingValues": ["n/a"]}, "mustBe": 0}, None),
    ],
)
def test_a_rule_every_delta_keeps_is_an_expectation_on_the_tables_where_it_reads_the_same(rule, kind):
    without = generate_suite(parse_contract(edited(lambda d: None)))["expectations"]
    suite = generate_suite(parse_contract(edited(lambda d: prop(d, "count_saved_items").update(quality=[rule]))))
    added = [e for e in suite["expectations"] if e not in without]
    assert [e["type"] for e in added] == ([kind] if kind else [])
    assert all(e["kwargs"]["column"] == "count_saved_items" and "mostly" not in e["kwargs"] for e in added)  # none allowed


def test_a_text_column_s_pattern_and_valid_values_are_expectations_on_the_tables():
    from checks.sample_accounts import CONTRACT_PATH

    suite = {e["meta"]["check"]: e for e in generate_suite(load_contract(CONTRACT_PATH))["expectations"]}
    assert suite["account_id_pattern"]["type"] == "expect_column_values_to_match_regex"
    assert suite["account_id_pattern"]["kwargs"] == {"column": "account_id", "regex": r"^AC-\d{6,}$"}
    assert suite["plan_invalidValues"]["kwargs"] == {"column": "plan", "value_set": ["basic", "plus", "pro", "enterprise"]}


def test_other_vendors_custom_properties_are_theirs():
    text = edited(lambda d: prop(d, "user_id").update(customProperties=[{"property": "owner", "value": "crm"}]))
    assert parse_contract(text).key.name == "user_id"


@pytest.mark.parametrize("contract_file", sorted(CONTRACTS_DIR.glob("*.yaml")), ids=lambda path: path.name)
def test_every_committed_suite_is_what_its_contract_generates(contract_file):
    contract = load_contract(contract_file)
    committed = suite_path(contract, EXPECTATIONS_DIR)
    assert committed.is_file(), f"run: checks contract suite {contract_file}"
    assert committed.read_text(encoding="utf-8") == suite_text(contract), f"run: checks contract suite {contract_file}"


def test_the_suite_speaks_of_the_contracts_columns():
    renamed = FIRST_CUSTOMER.replace("batch_id", "export_version").replace("total_spend", "revenue")
    suite = generate_suite(parse_contract(renamed))
    text = json.dumps(suite)
    assert "batch_id" not in text.replace("expect_batch_id_to_be_latest_in_feed", "")
    assert "total_spend" not in text
    currency = next(e for e in suite["expectations"] if e["meta"]["check"] == "batch_currency")
    assert currency["kwargs"]["column_A"] == "export_version"
    assert currency["kwargs"]["column_B"] == "feed_latest_export_version"


def test_lint_prints_what_the_contract_declares(capsys):
    assert main(["contract", "lint", str(DEFAULT_CONTRACT_PATH)]) == 0
    out = capsys.readouterr().out
    assert "key: user_id (integer)" in out
    assert "version: batch_id (integer" in out
    assert "amount: total_spend (integer)" in out
    assert re.search(r"total_spend +integer, required, amount, >= 0, never decreases", out)


def test_lint_refuses_a_broken_contract_in_one_line(tmp_path, capsys):
    broken = tmp_path / "feed.yaml"
    broken.write_text(edited(lambda d: prop(d, "batch_id").update(customProperties=[{"property": "checks.roles", "value": "version"}])))
    assert main(["contract", "lint", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "feed.yaml" in err and "checks.roles" in err


def test_suite_check_says_when_the_committed_file_is_stale(tmp_path, capsys):
    assert main(["contract", "suite", str(DEFAULT_CONTRACT_PATH), "--out", str(tmp_path)]) == 0
    assert main(["contract", "suite", str(DEFAULT_CONTRACT_PATH), "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "user_summary.json").write_text("{}")
    assert main(["contract", "suite", str(DEFAULT_CONTRACT_PATH), "--out", str(tmp_path), "--check"]) == 1


def test_a_suite_goes_by_default_where_checks_run_reads_it_whatever_the_working_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a relative default wrote expectations/ here, where no run looked
    assert main(["contract", "suite", str(DEFAULT_CONTRACT_PATH), "--check"]) == 0
    assert capsys.readouterr().out.strip() == f"{EXPECTATIONS_DIR / 'user_summary.json'}: up to date"
    assert not (tmp_path / "expectations").exists()


def test_a_run_without_its_suite_says_how_to_generate_it(tmp_path, capsys):
    contract = DEFAULT_CONTRACT_PATH.read_text()
    assert "- name: user_summary\n" in contract
    (tmp_path / "contract.yaml").write_text(contract.replace("- name: user_summary\n", "- name: new_feed\n"))
    code = main(["run", "--contract", str(tmp_path / "contract.yaml"), "--feed", str(PROJECT_ROOT / "data" / "feed"), "--out", str(tmp_path / "out"),
                 "--gx-dir", str(tmp_path / "gx")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1
    assert "new_feed.json" in error and "checks contract suite CONTRACT" in error


# A feed of another shape: a string key, a timestamp version, a decimal amount, a fixed set of values,
# a nullable column, files named by date.
OTHER_SHAPE = {
    "orders-2026-01-01.csv": (
        "account,exported_at,balance,tier,referrer\n"
        "A-001,2026-01-01T08:00:00Z,10.50,gold,\n"
        "A-002,2026-01-01T08:00:00Z,0.00,silver,B-9\n"
        "A-003,2026-01-01T08:00:01Z,1234.05,gold,\n"
    ),
    "orders-2026-01-02.csv": (
        "account,exported_at,balance,tier,referrer\n"
        "A-001,2026-01-02T08:00:00Z,12.75,gold,C-1\n"
        "A-004,2026-01-02T08:00:00Z,3.10,bronze,\n"
    ),
}


def test_infer_drafts_a_contract_that_lints_and_marks_what_to_confirm(tmp_path):
    for name, text in OTHER_SHAPE.items():
        write_csv(tmp_path / name, text)
    draft = infer_contract(tmp_path, r"orders-(?P<order>\d{4}-\d{2}-\d{2})\.csv")
    contract = parse_contract(draft)
    assert contract.key.name == "account" and contract.key.logical_type == "string"
    assert contract.version_column.name == "exported_at" and contract.version_column.logical_type == "timestamp"
    assert contract.amount.name == "balance" and contract.amount.decimal == (6, 2)
    assert not contract.column("referrer").required
    (tiers,) = [rule for rule in contract.quality if rule.column == "tier"]
    assert tiers.valid_values == ("bronze", "gold", "silver") and tiers.per_delta
    for role_line in ("primaryKey: true  # CONFIRM", "value: version}  # CONFIRM", "value: amount}  # CONFIRM"):
        assert role_line in draft
    assert contract.file_order("orders-2026-01-02.csv").order == "2026-01-02"


@pytest.mark.parametrize(("currency", "said"), [(None, ["$1,234.50", "-$12.00"]), ("€", ["€1,234.50", "-€12.00"]), ("EUR", ["EUR 1,234.50", "-EUR 12.00"])])
def test_an_amount_is_said_in_the_contract_s_currency(currency, said):
    from checks.encoding import Encoding
    from checks.wording import Words

    def declared(d):
        prop(d, "total_spend").update(physicalType="decimal(12,2)", logicalType="number")
        if currency is not None:
            prop(d, "total_spend")["customProperties"].append({"property": "checks.currency", "value": currency})

    contract = parse_contract(edited(declared))
    words = Words.of(Encoding.of(contract))
    assert [words.money(123450), words.money(-1200)] == said
    assert words.money_word == ("dollars" if currency is None else "amounts")
    assert contract.amount.describe().endswith(f", in {currency}" if currency else ", never decreases")


@pytest.mark.parametrize(("currency", "reason"), [(None, "cents read as dollars"), ("€", "hundredths read as whole units")])
def test_a_scaled_amount_is_explained_in_the_contract_s_currency(currency, reason):
    from checks.diagnose.results import SCALED, Mechanism
    from checks.diagnose.sentences import mechanism_words
    from checks.encoding import Encoding
    from checks.wording import Words

    extra = [] if currency is None else [{"property": "checks.currency", "value": currency}]
    contract = parse_contract(edited(lambda d: prop(d, "total_spend")["customProperties"].extend(extra)))
    what, why, _ = mechanism_words(Mechanism(SCALED, ("total_spend",), 100), Words.of(Encoding.of(contract)))
    assert what == "the spend was multiplied by 100" and why.startswith(reason)


def test_infer_offers_the_currency_an_amount_s_name_holds(tmp_path):
    for name, text in OTHER_SHAPE.items():
        write_csv(tmp_path / name, text.replace(",balance,", ",balance €,"))
    draft = infer_contract(tmp_path, r"orders-(?P<order>\d{4}-\d{2}-\d{2})\.csv")
    assert "checks.currency" in draft and "# CONFIRM: the amount's currency" in draft
    assert parse_contract(draft).amount.currency == "€"


def test_infer_marks_a_column_an_output_would_write_under_its_own_name(tmp_path):
    # ``tier`` renamed ``class``: the customer's value would be ``customer_class``, which the lint refuses.
    for name, text in OTHER_SHAPE.items():
        write_csv(tmp_path / name, text.replace(",tier,", ",class,"))
    draft = infer_contract(tmp_path, r"orders-(?P<order>\d{4}-\d{2}-\d{2})\.csv")
    assert "- name: class  # CONFIRM: rename it, in the files too: the outputs write it as customer_class" in draft
    assert "- name: account\n" in draft  # the others as before
    with pytest.raises(BadInputError, match=r"properties\[class\]"):
        parse_contract(draft)


def test_infer_reads_digits_with_a_leading_zero_as_text(tmp_path):
    # Inferred as an integer, key 00086 was read as 86 and written back so in every output: another key.
    for name, text in OTHER_SHAPE.items():
        write_csv(tmp_path / name, text.replace("A-00", "00").replace(",0.00,", ",00.00,"))
    draft = infer_contract(tmp_path, r"orders-(?P<order>\d{4}-\d{2}-\d{2})\.csv")
    contract = parse_contract(draft)
    assert contract.key.name == "account" and contract.key.logical_type == "string"
    assert "logicalType: string  # CONFIRM: text, not a number: cells such as 001 keep their leading zeros" in draft
    assert contract.column("balance").logical_type == "string"  # 00.00 too
    write_csv(tmp_path / "orders-2026-01-01.csv", OTHER_SHAPE["orders-2026-01-01.csv"].replace("A-00", "").replace(",0.00,", ",0,"))
    write_csv(tmp_path / "orders-2026-01-02.csv", OTHER_SHAPE["orders-2026-01-02.csv"].replace("A-00", ""))
    assert parse_contract(infer_contract(tmp_path, r"orders-(?P<order>\d{4}-\d{2}-\d{2})\.csv")).key.logical_type == "integer"


def test_infer_of_a_folder_without_deltas_is_bad_input(tmp_path, capsys):
    assert main(["contract", "infer", "--feed", str(tmp_path)]) == 2
    assert "no delta files" in capsys.readouterr().err


@pytest.mark.parametrize(("column", "hours", "said"), [
    ("opened", -24, "opened was moved back by 1 day"),
    ("opened", 48, "opened was moved forward by 2 days"),
    ("exported_at", -5, "exported_at was moved back by 5 hours"),
])
def test_a_time_shift_is_told_in_days_for_a_date_and_in_hours_for_a_timestamp(column, hours, said):
    from checks.diagnose.results import TIMEZONE_SHIFT, Mechanism
    from checks.diagnose.sentences import mechanism_words
    from checks.encoding import Encoding
    from checks.wording import Words

    contract = load_contract(CONTRACTS_DIR / "typed-accounts.yaml")
    what, _, _ = mechanism_words(Mechanism(TIMEZONE_SHIFT, (column,), hours), Words.of(Encoding.of(contract)))
    assert what == said


@pytest.mark.parametrize(("names", "guessed", "also"), [
    (["subs-001.csv", "subs-002.csv", "subs-003.csv"], r"subs\-(?P<order>\d+)\.csv", ["subs-010.csv", "subs-123.csv"]),
    (["orders-2026-01-01.csv", "orders-2026-01-02.csv"], r"orders\-(?P<order>\d{4}-\d{2}-\d{2})\.csv", ["orders-2027-12-31.csv"]),
    (["v2_export_7.csv"], r"v2_export_(?P<order>\d+)\.csv", ["v2_export_8.csv"]),  # one file: its last digits
    (["a1.csv", "b2.csv"], None, []),  # no shared text around the digits
    (["part-1-of-3.csv", "part-2-of-4.csv"], None, []),  # two runs of digits differ: which orders them is unknown
    (["notes.csv"], None, []),
])
def test_infer_guesses_the_pattern_the_file_names_share(names, guessed, also):
    from checks.contract_infer import guess_files

    assert guess_files(names) == guessed
    if guessed is not None:
        pattern = re.compile(guessed)
        assert all(pattern.fullmatch(name) for name in [*names, *also])


def test_infer_without_files_drafts_a_contract_named_by_the_files_it_found(tmp_path):
    for number, text in enumerate(OTHER_SHAPE.values(), start=1):
        write_csv(tmp_path / f"subs-{number:03d}.csv", text)
    draft = infer_contract(tmp_path)
    assert "# CONFIRM: the pattern the files' names share" in draft
    contract = parse_contract(draft)
    assert [contract.file_order(f"subs-{number:03d}.csv").order for number in (1, 2, 10)] == ["001", "002", "010"]
