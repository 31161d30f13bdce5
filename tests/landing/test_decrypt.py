"""Decryption with the real gpg: the happy path and each way a drop cannot be opened."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.landing.decrypt import (
    DecryptionError,
    GpgSession,
    Keyring,
    decrypt,
    fingerprints,
    keyring,
    plaintext_name,
    strip_newline,
)
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


@pytest.mark.parametrize(
    ("text", "stripped"),
    [("secret\n", "secret"), ("secret\r\n", "secret"), ("secret\n\n", "secret\n"), ("secret", "secret"), ("", "")],
)
def test_strip_newline_drops_one_trailing_newline(text: str, stripped: str) -> None:
    assert strip_newline(text) == stripped


def test_passphrase_with_a_trailing_newline_from_the_environment(gpg_keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECKS_GPG_PASSPHRASE", PASSPHRASE + "\n")  # as a mounted secret often ends

    assert decrypt(gpg_keys.encrypt(PLAINTEXT), keyring(gpg_keys.home)) == PLAINTEXT


def test_passphrase_with_a_line_break_inside_is_one_clear_reason(gpg_keys) -> None:
    with pytest.raises(DecryptionError, match="line break"):
        decrypt(gpg_keys.encrypt(PLAINTEXT), Keyring(gpg_keys.home, "correct\nhorse"))


@pytest.fixture
def caching_home(gpg_keys) -> Path:
    """A copy of the recipient's keyring with gpg's default agent settings: it caches passphrases."""
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="gpg-cache-"))
    shutil.copytree(gpg_keys.home, home, ignore=shutil.ignore_patterns("S.*", "gpg-agent.conf"), dirs_exist_ok=True)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _ended(text: str, *, seconds: float = 10.0) -> bool:
    """No process names ``text`` within ``seconds``: gpgconf asks the agent to stop, and it ends a moment later (under
    load, after gpgconf has returned)."""
    import time

    deadline = time.monotonic() + seconds
    while _processes_naming(text):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_no_passphrase_is_remembered_from_one_run_to_the_next(gpg_keys, caching_home: Path) -> None:
    ciphertext = gpg_keys.encrypt(PLAINTEXT)
    with GpgSession(Keyring(caching_home, PASSPHRASE)) as session:
        assert session.decrypt(ciphertext).plaintext == PLAINTEXT
        session_home = session.home
        assert _processes_naming(str(session_home)), "the session's own agent serves the decrypt"

    assert not session_home.exists() and _ended(str(session_home))
    with pytest.raises(DecryptionError, match="needs a passphrase"):
        decrypt(ciphertext, Keyring(caching_home, None))
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        decrypt(ciphertext, Keyring(caching_home, "not the passphrase"))


def test_large_ciphertext_without_passphrase_is_a_decrypt_failure(gpg_keys) -> None:
    import os

    plaintext = os.urandom(100_000).hex().encode()  # does not compress below 64 KiB
    ciphertext = gpg_keys.encrypt(plaintext)
    assert len(ciphertext) > 64 * 1024

    with pytest.raises(DecryptionError, match="needs a passphrase"):
        decrypt(ciphertext, Keyring(gpg_keys.home, None), name="delta1.csv.gpg")


@pytest.mark.parametrize(
    ("signed_by", "allow_unsigned", "reason"),
    [
        ("recipient", False, "not a trusted signer of this feed"),
        (None, False, "not signed; this feed requires a signature"),
        ("recipient", True, "not a trusted signer of this feed"),
    ],
    ids=["wrong-signer", "unsigned", "wrong-signer-even-when-unsigned-allowed"],
)
def test_drops_not_signed_by_a_trusted_signer_are_refused(gpg_keys, signed_by, allow_unsigned: bool, reason: str) -> None:
    keys = Keyring(gpg_keys.home, PASSPHRASE, frozenset({gpg_keys.other_fingerprint}), allow_unsigned)

    with pytest.raises(DecryptionError, match=reason) as caught:
        decrypt(gpg_keys.encrypt(PLAINTEXT, signed_by=signed_by), keys)
    assert caught.value.check == "signature"


@pytest.mark.parametrize(("signed_by", "signer"), [("sender", "other"), (None, None)])
def test_trusted_or_allowed_drops_decrypt_and_name_their_signer(gpg_keys, signed_by, signer) -> None:
    keys = Keyring(gpg_keys.home, PASSPHRASE, frozenset({gpg_keys.other_fingerprint}), allow_unsigned=True)

    with GpgSession(keys) as session:
        decrypted = session.decrypt(gpg_keys.encrypt(PLAINTEXT, signed_by=signed_by))

    assert decrypted.plaintext == PLAINTEXT
    assert decrypted.signer == (gpg_keys.other_fingerprint if signer else None)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["ABCD " * 10], {"ABCD" * 10}),
        (["abcd" * 10 + ", " + "1234" * 10], {"ABCD" * 10, "1234" * 10}),
        ([""], set()),
    ],
)
def test_fingerprints_as_gpg_prints_them(values, expected) -> None:
    assert fingerprints(values) == expected


def test_a_fingerprint_must_be_one(gpg_keys) -> None:
    with pytest.raises(DecryptionError, match="not a key fingerprint"):
        keyring(gpg_keys.home, trusted_signers=["ABCDEF"])


def test_a_killed_runs_keyring_copy_and_agent_are_cleaned_up_by_the_next(gpg_keys) -> None:
    import subprocess
    import sys
    import tempfile

    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from checks.landing.decrypt import GpgSession, Keyring\n"
        "session = GpgSession(Keyring(Path(sys.argv[1]), sys.argv[2]))\n"
        "session.decrypt(Path(sys.argv[3]).read_bytes())\n"
        "print(session.home, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".gpg") as ciphertext:
        ciphertext.write(gpg_keys.encrypt(PLAINTEXT))
        ciphertext.flush()
        killed = subprocess.run(
            [sys.executable, "-c", script, str(gpg_keys.home), PASSPHRASE, ciphertext.name],
            capture_output=True, text=True, timeout=120,
        )
    left_behind = Path(killed.stdout.strip())
    assert killed.returncode == -9 and left_behind.is_dir() and _processes_naming(str(left_behind))

    decrypt(gpg_keys.encrypt(PLAINTEXT), Keyring(gpg_keys.home, PASSPHRASE))

    assert not left_behind.exists() and _ended(str(left_behind))
