"""Decrypting drops with GnuPG (the real ``gpg`` through python-gnupg), in memory, all or nothing.

The keyring is a folder given by path or by ``CHECKS_GNUPGHOME``/``GNUPGHOME``; the passphrase comes
from ``CHECKS_GPG_PASSPHRASE`` or a passphrase file, never from the command line. Plaintext is returned
only when gpg reports success: a wrong key, a tampered or truncated file or a missing passphrase
raises ``DecryptionError`` and no byte of the partial output is kept.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from checks.errors import SourceError

ENCRYPTED_SUFFIXES = (".gpg", ".pgp")
GNUPGHOME_VARIABLES = ("CHECKS_GNUPGHOME", "GNUPGHOME")
PASSPHRASE_VARIABLE = "CHECKS_GPG_PASSPHRASE"
PASSPHRASE_FILE_VARIABLE = "CHECKS_GPG_PASSPHRASE_FILE"


class DecryptionError(SourceError):
    """A drop could not be decrypted; it is quarantined, never half-loaded."""


@dataclass(frozen=True)
class Keyring:
    """Where gpg finds the secret key and how it gets the passphrase (None: the key has none)."""

    home: Path | None
    passphrase: str | None = None

    def __repr__(self) -> str:
        # Never print a passphrase, even in a debugger or a log of this object.
        return f"Keyring(home={self.home!r}, passphrase={'set' if self.passphrase else 'not set'})"


def is_encrypted(name: str) -> bool:
    return name.lower().endswith(ENCRYPTED_SUFFIXES)


def plaintext_name(name: str) -> str:
    """``delta3.csv.gpg`` -> ``delta3.csv``; other names unchanged."""
    return name[: -len(".gpg")] if is_encrypted(name) else name


def keyring(gnupghome: str | Path | None = None, passphrase_file: str | Path | None = None) -> Keyring:
    """The keyring from the arguments, else from the environment; bad paths are a ``DecryptionError``."""
    home = gnupghome or next((os.environ[name] for name in GNUPGHOME_VARIABLES if os.environ.get(name)), None)
    if home is not None and not Path(home).is_dir():
        raise DecryptionError("GnuPG home folder not found", file=home)
    passphrase = os.environ.get(PASSPHRASE_VARIABLE) or None
    passphrase_file = passphrase_file or os.environ.get(PASSPHRASE_FILE_VARIABLE) or None
    if passphrase is None and passphrase_file is not None:
        try:
            passphrase = Path(passphrase_file).read_text(encoding="utf-8").rstrip("\r\n") or None
        except OSError as error:
            raise DecryptionError(f"cannot read passphrase file: {error.strerror}", file=passphrase_file) from error
    return Keyring(home=Path(home) if home is not None else None, passphrase=passphrase)


def decrypt(data: bytes, keys: Keyring, *, name: str = "") -> bytes:
    """The plaintext of ``data``, or ``DecryptionError`` with one line saying why."""
    import gnupg  # lazy: only encrypted drops need it

    binary = shutil.which("gpg")
    if binary is None:
        raise DecryptionError("the gpg program is not installed (Debian: apt-get install gnupg)", file=name or None)
    # loopback: gpg asks us, not a pinentry window, so a missing passphrase fails at once instead of hanging.
    gpg = gnupg.GPG(
        gpgbinary=binary,
        gnupghome=str(keys.home) if keys.home else None,
        options=["--pinentry-mode", "loopback"],
    )
    result = gpg.decrypt(data, passphrase=keys.passphrase)
    if not result.ok:
        raise DecryptionError(_reason(result.status, result.stderr or "", keys), file=name or None)
    return bytes(result.data)


_GPG_ERR_BAD_PASSPHRASE = 11
_PKDECRYPT_FAILED = re.compile(r"ERROR pkdecrypt_failed (\d+)")


def _reason(status: str | None, stderr: str, keys: Keyring) -> str:
    """gpg's status lines turned into the one reason a person needs."""
    if status == "need passphrase" or ("NEED_PASSPHRASE" in stderr and keys.passphrase is None):
        return f"the secret key needs a passphrase (set {PASSPHRASE_VARIABLE} or a passphrase file)"
    failed = _PKDECRYPT_FAILED.search(stderr)
    # The low 16 bits of a libgpg-error code are the error number.
    if "BAD_PASSPHRASE" in stderr or (failed and int(failed.group(1)) & 0xFFFF == _GPG_ERR_BAD_PASSPHRASE):
        return "wrong passphrase for the secret key"
    if failed:
        return "the secret key could not decrypt this file"
    if "NO_SECKEY" in stderr:
        return "no secret key for this file in the keyring (encrypted to another key)"
    if "NODATA" in stderr and "BEGIN_DECRYPTION" not in stderr:
        return "not an OpenPGP message"
    if "BEGIN_DECRYPTION" in stderr:
        return "ciphertext is truncated or tampered (gpg: decryption failed)"
    return f"gpg failed: {status or 'unknown error'}"
