"""Decryption with the real gpg: the happy path and each way a drop cannot be opened."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.landing.decrypt import DecryptionError, Keyring, decrypt, keyring, plaintext_name
from tests.landing.conftest import PASSPHRASE, delta_csv

PLAINTEXT = delta_csv([(1, 10, 1, 1, 1), (2, 20, 2, 2, 2)])


def test_decrypts_with_keyring_and_passphrase_from_environment(gpg_env) -> None:
    assert decrypt(gpg_env.encrypt(PLAINTEXT), keyring()) == PLAINTEXT


def test_passphrase_from_file(gpg_keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHECKS_GPG_PASSPHRASE", raising=False)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")

    keys = keyring(gpg_keys.home, passphrase_file)

    assert decrypt(gpg_keys.encrypt(PLAINTEXT), keys) == PLAINTEXT
    assert PASSPHRASE not in repr(keys)


def _truncated(keys) -> bytes:
    ciphertext = keys.encrypt(PLAINTEXT * 50)
    return ciphertext[: len(ciphertext) // 2]


def _tampered(keys) -> bytes:
    ciphertext = bytearray(keys.encrypt(PLAINTEXT * 50))
    ciphertext[-10] ^= 0xFF
    return bytes(ciphertext)


@pytest.mark.parametrize(
    ("make_ciphertext", "passphrase", "reason"),
    [
        (lambda keys: keys.encrypt(PLAINTEXT, to_other=True), PASSPHRASE, "no secret key"),
        (lambda keys: keys.encrypt(PLAINTEXT), None, "needs a passphrase"),
        (lambda keys: keys.encrypt(PLAINTEXT), "wrong passphrase", "wrong passphrase"),
        (_truncated, PASSPHRASE, "truncated or tampered"),
        (_tampered, PASSPHRASE, "truncated or tampered"),
        (lambda keys: PLAINTEXT, PASSPHRASE, "not an OpenPGP message"),
    ],
    ids=["wrong-key", "passphrase-missing", "passphrase-wrong", "truncated", "tampered", "not-encrypted"],
)
def test_undecryptable_drops_raise_one_clear_reason(gpg_keys, make_ciphertext, passphrase, reason: str) -> None:
    with pytest.raises(DecryptionError, match=reason) as caught:
        decrypt(make_ciphertext(gpg_keys), Keyring(gpg_keys.home, passphrase), name="delta1.csv.gpg")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("delta1.csv.gpg: ")


def test_missing_keyring_folder(tmp_path: Path) -> None:
    with pytest.raises(DecryptionError, match="GnuPG home folder not found"):
        keyring(tmp_path / "absent")


@pytest.mark.parametrize(
    ("name", "plain"),
    [("delta3.csv.gpg", "delta3.csv"), ("delta3.csv.PGP", "delta3.csv"), ("delta3.csv", "delta3.csv")],
)
def test_plaintext_name(name: str, plain: str) -> None:
    assert plaintext_name(name) == plain
