"""Every logical type to its computing form and back, exactly; invalid literals flagged, never coerced."""
from __future__ import annotations

import json
import pickle
from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import pytest

from checks import encoding
from checks.contract import Column
from checks.encoding import NULL, Codec, Dictionary
from checks.wording import Words, default_words


def codec(logical_type: str, *, required: bool = True, decimal=None) -> Codec:
    column = Column(name="c", logical_type=logical_type, required=required, decimal=decimal)
    return Codec(column, Dictionary() if logical_type == "string" else None)


@pytest.mark.parametrize(
    ("logical_type", "decimal", "cells", "stored"),
    [
        ("integer", None, ["0", "-7", "+12", "9223372036854775807"], [0, -7, 12, 2**63 - 1]),
        ("number", (14, 2), ["0.00", "12.5", "-0.25", "1234567.89"], [0, 1250, -25, 123456789]),
        ("number", (5, 0), ["12", "007"], [12, 7]),
        ("date", None, ["1970-01-02", "2026-03-01"], [1, 20513]),
        ("timestamp", None, ["1970-01-01T00:00:01Z", "1970-01-01T01:00:00+01:00", "1970-01-01 00:00"], [1_000_000, 0, 0]),
        ("boolean", None, ["true", "FALSE"], [1, 0]),
    ],
)
def test_literals_parse_exactly(logical_type, decimal, cells, stored):
    values, valid = codec(logical_type, decimal=decimal).parse(pd.Series(cells))
    assert valid.all()
    assert values.tolist() == stored


@pytest.mark.parametrize(
    ("logical_type", "decimal", "cell"),
    [
        ("integer", None, "12.0"), ("integer", None, "1e3"), ("integer", None, ""), ("integer", None, "99999999999999999999"),
        ("number", (5, 2), "1.234"), ("number", (5, 2), "1234.5"), ("number", (5, 2), "abc"), ("number", (5, 2), "1e3"),
        ("date", None, "2026-02-30"), ("date", None, "2026-1-1"), ("timestamp", None, "yesterday"),
        ("timestamp", None, "2026-13-01T00:00:00Z"), ("boolean", None, "yes"), ("string", None, ""),
    ],
)
def test_a_cell_that_is_no_literal_of_its_type_is_flagged_and_null(logical_type, decimal, cell):
    values, valid = codec(logical_type, decimal=decimal).parse(pd.Series([cell]))
    assert not valid[0] and values[0] == NULL


@pytest.mark.parametrize("logical_type", ["integer", "date", "timestamp", "string", "boolean"])
def test_an_empty_cell_of_an_optional_column_is_null_and_valid(logical_type):
    values, valid = codec(logical_type, required=False).parse(pd.Series(["", ""]))
    assert valid.all() and (values == NULL).all()


@pytest.mark.parametrize(
    ("logical_type", "decimal", "cells"),
    [
        ("integer", None, ["5", "-3", ""]),
        ("number", (14, 2), ["5.00", "-0.25", "1234.50", ""]),
        ("number", None, ["27.136", "-0.25", "5.11", "1e+16", ""]),  # a floating number as Python writes it, never np.float64(...)
        ("date", None, ["2026-01-31", ""]),
        ("timestamp", None, ["2026-01-31T23:59:59Z", ""]),
        ("string", None, ["AC-1", "", "AC-2", "AC-1"]),
        ("boolean", None, ["true", "false", ""]),
    ],
)
def test_render_gives_back_the_canonical_text(logical_type, decimal, cells):
    column_codec = codec(logical_type, required=False, decimal=decimal)
    values, _ = column_codec.parse(pd.Series(cells))
    assert column_codec.render(values).tolist() == cells


@pytest.mark.parametrize("scale", [1, 2, 4, 18])
def test_decimals_render_as_decimal_formats_them(scale):
    counts = [0, 1, -1, 5, -5, 99, -99, 100, 1050, -1050, 10**scale, -(10**scale) + 1, 2**63 - 1, -(2**63) + 1, 123456789012]
    column_codec = codec("number", decimal=(38, scale))
    assert column_codec.render(np.array(counts, dtype=np.int64)).tolist() == [
        format(Decimal(count).scaleb(-scale), "f") for count in counts
    ]


@pytest.mark.parametrize(
    ("logical_type", "values", "from_tables"),
    [
        # Whole seconds across midnight and the epoch, 1925 to 2014.
        ("timestamp", np.random.default_rng(1).integers(-2 * 10**8, 2 * 10**8, 10_000) * 7 * 1_000_000, True),
        ("timestamp", [-1_000_000, 0, 1_000_000, 86_399_000_000, 86_400_000_000, -86_401_000_000, NULL], True),
        ("date", np.random.default_rng(2).integers(-30_000, 30_000, 1_000), True),
        ("date", [-719_162, -719_000, NULL], True),  # 0001-01-01
        ("date", [2_932_896, 2_932_000], True),  # 9999-12-31
        # Beyond the tables' span or years: Polars formats them.
        ("date", [0, 70_000], False),
        ("date", [-719_163], False),
        ("timestamp", [0, 2**62 - 2**62 % 1_000_000], False),
    ],
)
def test_dates_and_timestamps_render_as_polars_formats_them(logical_type, values, from_tables):
    values = np.asarray(values, dtype=np.int64)
    null = values == NULL
    stored = pl.Series(np.where(null, 0, values), dtype=pl.Int64)
    if logical_type == "date":
        polars = stored.cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d")
    else:
        polars = stored.cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = ["" if missing else text for text, missing in zip(polars.to_list(), null)]
    column_codec = codec(logical_type, required=False)
    assert column_codec.render(values).tolist() == expected
    assert list(column_codec.render_column(values)) == expected
    tabled = encoding._calendar_texts(values[~null], with_clock=logical_type == "timestamp")
    assert (tabled is not None) == from_tables


def test_a_timestamp_s_fraction_of_a_second_is_written_and_read_back_exactly():
    values = np.concatenate([
        np.random.default_rng(3).integers(-10**15, 10**15, 1_000),  # microseconds, 1938 to 2001
        [1_767_225_600_000_000, -1, NULL],  # a whole second among them stays one
    ]).astype(np.int64)
    column_codec = codec("timestamp", required=False)
    written = column_codec.render(values)
    assert list(column_codec.render_column(values)) == written.tolist()
    assert written[-3:].tolist() == ["2026-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z", ""]
    read, valid = column_codec.parse(pd.Series(written))
    assert valid.all() and read.tolist() == values.tolist()


@pytest.mark.parametrize("empty", ["", None])
@pytest.mark.parametrize("codes", [[2, 0, 1, 2], [2, NULL, 0, NULL], [NULL], [], [0, 1, 2], [1, 2], [0, 2], [1, 1]])
def test_decoding_gives_each_code_its_text_and_a_missing_one_the_empty_text(codes, empty):
    dictionary = Dictionary()
    dictionary.encode_series(pl.Series(["a", "b", "c"], dtype=pl.String))
    decoded = dictionary.decode_arrow(np.array(codes, dtype=np.int64), empty=empty).to_pylist()
    assert decoded == [empty if code == NULL else "abc"[code] for code in codes]


def _first_seen_codes(frames: list[list[str | None]]) -> list[list[int]]:
    """The codes a plain dict gives, in first-seen order across frames: what every dictionary must agree with."""
    codes: dict[str, int] = {}
    return [[NULL if text is None else codes.setdefault(text, len(codes)) for text in frame] for frame in frames]


# Frames one run encodes in turn: new texts in later frames, a text first seen late, nulls, empty frames.
FRAMES = [
    [["b", "a", "b"], ["a", "c", None], ["d", None, "b", "d", "e"]],
    [[None, None], ["x"], [], ["x", "y", None, "y"]],
    [[], ["only", "later"]],
    [["AC-1", "AC-2"], ["AC-3", "AC-1"], ["AC-2", "AC-4", "AC-3"]],
]


@pytest.mark.parametrize("frames", FRAMES)
@pytest.mark.parametrize("as_series", [True, False])
def test_the_kept_lookup_numbers_texts_in_first_seen_order_across_frames(frames, as_series):
    dictionary = Dictionary()
    encoded = [
        dictionary.encode_series(pl.Series(frame, dtype=pl.String)).fill_null(NULL).to_list() if as_series
        else dictionary.encode(np.array(frame, dtype=object)).tolist()
        for frame in frames
    ]
    assert encoded == _first_seen_codes(frames)
    for frame, codes in zip(frames, encoded):
        assert dictionary.decode(np.array(codes, dtype=np.int64)).tolist() == [text or "" for text in frame]


@pytest.mark.parametrize("texts_per_table", [1 << 20, 64], ids=["one table", "many tables"])
def test_random_frames_get_the_codes_a_plain_dict_gives(monkeypatch, texts_per_table):
    monkeypatch.setattr(encoding, "_TEXTS_PER_TABLE", texts_per_table)
    generator = np.random.default_rng(15)
    pool = np.array([f"AC-{number}" for number in range(5_000)], dtype=object)
    frames = [[None if draw < 0.05 else pool[index] for draw, index in
               zip(generator.random(size), generator.integers(0, len(pool) // 4 * (step + 1), size))]
              for step, size in enumerate([3_000, 1_000, 1_000, 2_000])]
    dictionary = Dictionary()
    assert [dictionary.encode(np.array(frame, dtype=object)).tolist() for frame in frames] == _first_seen_codes(frames)


@pytest.mark.parametrize("expected", [0, 2, 10_000])
def test_a_dictionary_told_how_many_texts_to_expect_sizes_its_table_so_and_numbers_them_alike(expected):
    frames = FRAMES[0]
    dictionary = Dictionary()
    assert dictionary.expecting
    dictionary.expect(expected)
    encoded = [dictionary.encode_series(pl.Series(frame, dtype=pl.String)).fill_null(NULL).to_list() for frame in frames]
    assert encoded == _first_seen_codes(frames)
    assert dictionary._index.places >= expected  # built for them, not grown to them
    assert not dictionary.expecting
    dictionary.expect(10 * expected + 100)  # the table is built: said too late, it changes nothing
    assert dictionary.encode_series(pl.Series(["f", "e"], dtype=pl.String)).to_list() == [5, 4]


def test_texts_whose_first_hashes_collide_are_told_apart_exactly(monkeypatch):
    """Every text given the same first hash: the check per code sees it, and the exact lookup takes over."""
    frames = FRAMES[0] + FRAMES[3]
    dictionary = Dictionary()
    first = dictionary.encode(np.array(frames[0], dtype=object))
    monkeypatch.setattr(Dictionary, "_key", staticmethod(lambda texts: np.zeros(len(texts), dtype=np.uint64)))
    later = [dictionary.encode(np.array(frame, dtype=object)).tolist() for frame in frames[1:]]
    assert [first.tolist(), *later] == _first_seen_codes(frames)


@pytest.mark.parametrize(
    ("known", "block"),
    [([], ["x", "z", "y"]), (["a"], ["x", "z", "y"]), (["a"], ["z"])],
    ids=["two new texts of a block", "a new text and a known one", "a block of one new text"],
)
def test_a_block_of_new_texts_whose_first_hash_is_shared_is_told_apart_exactly(monkeypatch, known, block):
    """A block whose cells look all new is compared with nothing but itself, unless a first hash is shared: "z" is given
    the first hash of "x" (in the same block) or of "a" (already known)."""
    dictionary = Dictionary()
    first = [dictionary.encode(np.array(known, dtype=object)).tolist()] if known else []
    real_key = Dictionary._key

    def shared_key(texts):
        twin = "x" if not known else "a"
        return real_key(texts.replace("z", twin))  # "z" hashed as its twin

    monkeypatch.setattr(Dictionary, "_key", staticmethod(shared_key))
    later = dictionary.encode(np.array(block, dtype=object)).tolist()
    assert [*first, later] == _first_seen_codes([known, block] if known else [block])
    assert dictionary.decode(np.array(later)).tolist() == block


def _released(dictionary: Dictionary) -> Dictionary:
    dictionary.release_lookup()
    return dictionary


@pytest.mark.parametrize(
    "later",
    [lambda dictionary: pickle.loads(pickle.dumps(dictionary)), _released],
    ids=["carried to another process", "its lookup released"],
)
def test_a_dictionary_without_its_lookup_goes_on_numbering_where_it_stopped(later):
    dictionary = Dictionary()
    dictionary.encode(np.array(["b", "a"], dtype=object))
    dictionary = later(dictionary)
    assert dictionary.encode(np.array(["a"], dtype=object)).tolist() == [1]  # known texts only: nothing to keep
    assert dictionary.encode(np.array(["c", "a", "b"], dtype=object)).tolist() == [2, 1, 0]
    assert dictionary.decode(np.array([0, 1, 2])).tolist() == ["b", "a", "c"]


def test_texts_appended_in_order_take_the_next_codes_and_later_files_are_coded_after_them():
    import pyarrow as pa

    dictionary = Dictionary()
    dictionary.encode(np.array(["b", "a"], dtype=object))  # its hash table built
    dictionary.append(pa.array(["d", "c"]))  # told apart elsewhere (Spark): no table kept
    assert dictionary.size == 4
    assert dictionary.encode(np.array(["c", "e", "a", "d", "e"], dtype=object)).tolist() == [3, 4, 1, 2, 4]
    assert dictionary.decode(np.array([0, 1, 2, 3, 4])).tolist() == ["b", "a", "d", "c", "e"]


def test_decimal_bounds_and_sums_stay_exact():
    amount = codec("number", decimal=(18, 2))
    values, _ = amount.parse(pd.Series(["0.10", "0.20", "9999999999999999.99"]))
    assert Decimal(int(values.sum())).scaleb(-2) == Decimal("10000000000000000.29")
    assert amount.stored(Decimal("1.5")) == 150


def test_words_of_the_first_customer_read_as_before():
    words = default_words()
    assert (words.key_word, words.keys, words.amount_word, words.version) == ("user", "users", "spend", "batch_id")
    assert words.money(229544) == "$229,544" and words.money(-5) == "-$5"


def test_words_of_another_shape_decode_keys_and_money():
    from checks.contract import load_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    encoding = Encoding.of(load_contract(CONTRACT_PATH))
    keys, _ = encoding.codecs["account_id"].parse(pd.Series(["AC-000001", "AC-000002"]))
    words = Words.of(encoding)
    assert (words.key_word, words.keys, words.amount_word) == ("account", "accounts", "lifetime value")
    assert words.key(keys[1]) == "AC-000002"
    assert words.money(123456) == "$1,234.56" and words.money(-5) == "-$0.05"
    assert words.plain_amount(123456) == "1234.56"


@pytest.mark.parametrize("shape", ["first customer", "accounts"])
def test_plain_amounts_of_a_column_are_plain_amount_of_each_value(shape):
    from checks.contract import load_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    words = default_words() if shape == "first customer" else Words.of(Encoding.of(load_contract(CONTRACT_PATH)))
    stored = np.array([0, 5, -5, 100, -100, 123456, -123456, 10**15 + 7, -(10**15) - 7], dtype="int64")
    assert list(words.plain_amounts(stored)) == [words.plain_amount(value) for value in stored]


# Two accounts' orders left empty (an optional integer column, of a contract that is not all-integer).
OPTIONAL_ORDERS_FEED = {
    "accounts_2026-01-01.csv": [
        "AC-000001,basic,,3,10.50,2026-01-01T02:00:00Z",
        "AC-000002,plus,,,20.00,2026-01-01T02:00:00Z",
        "AC-000003,pro,AC-000001,5,30.00,2026-01-01T02:00:00Z",
    ],
    "accounts_2026-01-02.csv": ["AC-000003,pro,AC-000001,,31.00,2026-01-02T02:00:00Z"],
}


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_an_empty_cell_of_an_optional_integer_column_is_missing_in_the_suites_and_outputs(tmp_path, monkeypatch, engine):
    """``checks run`` on a feed whose optional integer column has empty cells: they pass its bound, and are written empty."""
    import yaml

    from checks.cli import main
    from checks.contract import load_contract
    from checks.contract_suite import generate_suite
    from checks.sample_accounts import CONTRACT_PATH

    document = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
    orders = next(item for item in document["schema"][0]["properties"] if item["name"] == "orders")
    orders["required"] = False
    contract_path = tmp_path / "contract.yaml"
    contract_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps(generate_suite(load_contract(contract_path))), encoding="utf-8")
    monkeypatch.setattr("checks.suites.run.contract_suite_path", lambda contract: suite)
    header = "account_id,plan,referrer,orders,lifetime_value,exported_at\n"
    (tmp_path / "feed").mkdir()
    for name, rows in OPTIONAL_ORDERS_FEED.items():
        (tmp_path / "feed" / name).write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    latest = [*OPTIONAL_ORDERS_FEED["accounts_2026-01-01.csv"][:2], *OPTIONAL_ORDERS_FEED["accounts_2026-01-02.csv"]]
    for table in ("platform.csv", "customer.csv"):
        (tmp_path / table).write_text(header + "\n".join(latest) + "\n", encoding="utf-8")
    code = main(["run", "--feed", str(tmp_path / "feed"), "--platform", str(tmp_path / "platform.csv"),
                 "--customer", str(tmp_path / "customer.csv"), "--contract", str(contract_path), "--finance-total", "61.50",
                 "--out", str(tmp_path / "out"), "--gx-dir", str(tmp_path / "gx"), "--no-docs", "--engine", engine, "--json"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    failed = [(table["table"], outcome["check"]) for table in summary["suites"]["tables"] for outcome in table["outcomes"]
              if not outcome["success"]]
    assert (code, failed) == (0, [])
    written = pd.read_csv(tmp_path / "out" / "deduplicated.csv", dtype=str, keep_default_na=False).set_index("account_id")
    assert written["orders"].to_dict() == {"AC-000001": "3", "AC-000002": "", "AC-000003": ""}


def test_a_snapshot_codes_known_texts_as_the_run_does_and_adds_none_to_the_run_s_dictionaries():
    from checks.contract import parse_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    encoding = Encoding.of(parse_contract(CONTRACT_PATH.read_text()))
    key = encoding.contract.shape.key
    dictionary = encoding.codecs[key].dictionary
    known = dictionary.encode(np.array(["AC-1", "AC-2"], dtype=object))
    codes = encoding.snapshot().codecs[key].dictionary.encode(np.array(["AC-2", "AC-9", "AC-1"], dtype=object))
    assert codes.tolist() == [known[1], 2, known[0]]  # known texts their run's codes, a new one the next code
    assert len(dictionary.texts()) == 2  # the run's dictionary holds what it held
    assert pd.Series(dictionary.decode(known)).tolist() == ["AC-1", "AC-2"]
