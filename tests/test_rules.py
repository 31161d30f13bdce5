"""The checks' names and failure wording: declared once, in ``checks.rules``, and read alike by every engine."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import checks
from checks.model import failure_rows
from checks.rules import (
    BATCH_MONOTONIC,
    FEED_RULES,
    FIELD_UNIQUENESS,
    IS_INTEGER,
    NOT_EMPTY,
    PAIR_UNIQUE,
    SPEND_NEVER_DECREASES,
    UNIQUE_LATEST_BATCH,
    VALUE_CHECKS,
    describe_ties,
)

PACKAGE = Path(checks.__file__).parent
RULES = PACKAGE / "rules.py"
# Words of each failure that only a copy of its wording would hold.
WORDING = ["(largest batch_id in ", " already in ", " at batch_id ", "have two rows with their largest batch_id"]
CHECK_NAMES = [IS_INTEGER, NOT_EMPTY, FIELD_UNIQUENESS, *VALUE_CHECKS.values(), *FEED_RULES, UNIQUE_LATEST_BATCH]


def _literals(path: Path) -> list[str]:
    """The string literals of a module, docstrings aside (an f-string gives its constant parts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_words_searched_for_are_the_rules_own():
    assert all(any(words in rule.wording for rule in FEED_RULES.values()) for words in WORDING[:3])
    assert WORDING[3] in describe_ties(2, 8, 5, [("delta1.csv", 3)])


@pytest.mark.parametrize("module", sorted(path for path in PACKAGE.rglob("*.py") if path != RULES), ids=str)
def test_no_module_but_rules_declares_a_check_name_or_a_failure_s_wording(module: Path):
    literals = _literals(module)
    assert [name for name in CHECK_NAMES if name in literals] == []
    assert [words for words in WORDING if any(words in literal for literal in literals)] == []


@pytest.mark.parametrize(
    ("check", "fields", "value"),
    [
        (BATCH_MONOTONIC, (3, 5, "delta1.csv"), "3 <= 5 (largest batch_id in delta1.csv)"),
        (PAIR_UNIQUE, (7, 2, "delta0.csv", 4), "user_id 7, batch_id 2 already in delta0.csv row 4"),
        (SPEND_NEVER_DECREASES, (10, 12, 3, "delta2.csv"), "10 < 12 at batch_id 3 (delta2.csv)"),
        # NumPy's integers (what the engines' arrays hold) read as Python's.
        (BATCH_MONOTONIC, (np.int32(3), np.int64(5), "delta1.csv"), "3 <= 5 (largest batch_id in delta1.csv)"),
    ],
)
def test_a_feed_rule_words_each_failure(check, fields, value):
    rule = FEED_RULES[check]
    assert rule.values(*([field] for field in fields)) == [value]
    failures = failure_rows(["delta9.csv"], [2], column=rule.column, check=rule.check, values=[value])
    assert failures.to_dict("records") == [
        {"file": "delta9.csv", "row": 2, "column": rule.column, "check": check, "value": value}
    ]


def test_a_tie_names_both_rows():
    assert describe_ties(2, 8, 5, [("delta1.csv", 3), ("delta2.csv", 7)]) == (
        "2 user(s) have two rows with their largest batch_id, so the latest row is ambiguous; "
        "e.g. user 8 has batch_id 5 in delta1.csv row 3 and delta2.csv row 7"
    )


def test_rules_import_nothing_of_the_package():
    """Every module may use the rules, the lowest stages included, only while the rules stand on nothing."""
    tree = ast.parse(RULES.read_text(encoding="utf-8"))
    modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    modules += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert [module for module in modules if module.split(".")[0] == "checks"] == []
