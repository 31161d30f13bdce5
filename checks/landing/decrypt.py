"""Decrypting drops with GnuPG (the real ``gpg`` through python-gnupg), all or nothing, and checking who signed them.

The keyring is a folder given by path or by ``CHECKS_GNUPGHOME``/``GNUPGHOME``; the passphrase comes
from ``CHECKS_GPG_PASSPHRASE`` or a passphrase file, never from the command line (one trailing newline,
as mounted secrets often have, is dropped). Plaintext is returned only when gpg reports success: a
wrong key, a tampered or truncated file, a missing passphrase or, when trusted signers are
configured, a missing or foreign signature raises ``DecryptionError`` and no byte of the output is kept.

Each run works on its own copy of the keyring with its own gpg-agent, told to cache nothing, and stops
that agent at the end: a passphrase given to one run is never remembered for the next.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from checks.errors import SourceError

ENCRYPTED_SUFFIXES = (".gpg", ".pgp")
GNUPGHOME_VARIABLES = ("CHECKS_GNUPGHOME", "GNUPGHOME")
PASSPHRASE_VARIABLE = "CHECKS_GPG_PASSPHRASE"
PASSPHRASE_FILE_VARIABLE = "CHECKS_GPG_PASSPHRASE_FILE"
TRUSTED_SIGNERS_VARIABLE = "CHECKS_GPG_TRUSTED_SIGNERS"

# The agent of the run's own keyring copy: no passphrase outlives the decrypt that needed it.
_AGENT_CONF = "default-cache-ttl 0\nmax-cache-ttl 0\n"
# Not copied from the keyring: live agent sockets, lock files and the agent's own settings.
_NOT_COPIED = shutil.ignore_patterns("S.*", "*.lock", ".#*", "gpg-agent.conf")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")


class DecryptionError(SourceError):
    """A drop could not be decrypted, or was not signed by a trusted sender; it is quarantined, never half-loaded."""


@dataclass(frozen=True)
class Keyring:
    """Where gpg finds the secret key, how it gets the passphrase (None: the key has none), whom to trust.

    ``trusted_signers`` are key fingerprints; when there are any, every drop must be signed by one of
    them unless ``allow_unsigned`` (then a drop signed by anyone else is still refused).
    """

    home: Path | None
    passphrase: str | None = None
    trusted_signers: frozenset[str] = field(default_factory=frozenset)
    allow_unsigned: bool = False

    def __repr__(self) -> str:
        # Never print a passphrase, even in a debugger or a log of this object.
        return (
            f"Keyring(home={self.home!r}, passphrase={'set' if self.passphrase else 'not set'}, "
            f"trusted_signers={sorted(self.trusted_signers)!r}, allow_unsigned={self.allow_unsigned})"
        )

    @property
    def checks_signatures(self) -> bool:
        return bool(self.trusted_signers)


@dataclass(frozen=True)
class Decrypted:
    """The plaintext of one drop and the fingerprint of the key that signed it (None: unsigned)."""

    plaintext: bytes
    signer: str | None


def is_encrypted(name: str) -> bool:
    return name.lower().endswith(ENCRYPTED_SUFFIXES)


def plaintext_name(name: str) -> str:
    """``delta3.csv.gpg`` -> ``delta3.csv``; other names unchanged."""
    return name[: -len(".gpg")] if is_encrypted(name) else name


def strip_newline(text: str) -> str:
    """``text`` without one trailing newline (``\\n`` or ``\\r\\n``): the way secrets are mounted, not part of them."""
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


def fingerprints(values: Iterable[str]) -> frozenset[str]:
    """Fingerprints as gpg prints them (40 or 64 hex digits; spaces and case ignored), or ``DecryptionError``."""
    result = set()
    for value in values:
        for part in value.split(","):
            fingerprint = "".join(part.split()).upper()
            if not fingerprint:
                continue
            if not _FINGERPRINT.match(fingerprint):
                raise DecryptionError(f"not a key fingerprint (40 or 64 hex digits): {part.strip()!r}")
            result.add(fingerprint)
    return frozenset(result)


def keyring(
    gnupghome: str | Path | None = None,
    passphrase_file: str | Path | None = None,
    *,
    trusted_signers: Iterable[str] = (),
    allow_unsigned: bool = False,
) -> Keyring:
    """The keyring from the arguments, else from the environment; bad paths are a ``DecryptionError``."""
    home = gnupghome or next((os.environ[name] for name in GNUPGHOME_VARIABLES if os.environ.get(name)), None)
    if home is not None and not Path(home).is_dir():
        raise DecryptionError("GnuPG home folder not found", file=home)
    passphrase = strip_newline(os.environ.get(PASSPHRASE_VARIABLE) or "") or None
    passphrase_file = passphrase_file or os.environ.get(PASSPHRASE_FILE_VARIABLE) or None
    if passphrase is None and passphrase_file is not None:
        try:
            passphrase = strip_newline(Path(passphrase_file).read_text(encoding="utf-8")) or None
        except OSError as error:
            raise DecryptionError(f"cannot read passphrase file: {error.strerror}", file=passphrase_file) from error
    signers = list(trusted_signers) or [os.environ.get(TRUSTED_SIGNERS_VARIABLE, "")]
    return Keyring(
        home=Path(home) if home is not None else None,
        passphrase=passphrase,
        trusted_signers=fingerprints(signers),
        allow_unsigned=allow_unsigned,
    )


class GpgSession:
    """One run's gpg: a private copy of the keyring and an agent that caches nothing, stopped on ``close``."""

    def __init__(self, keys: Keyring) -> None:
        import gnupg  # lazy: only encrypted drops need it

        self.keys = keys
        binary = shutil.which("gpg")
        if binary is None:
            raise DecryptionError("the gpg program is not installed (Debian: apt-get install gnupg)")
        _sweep_killed_sessions()
        # Short path under the system temp folder: gpg-agent's socket path must stay under the Unix limit.
        # The process id in the name lets a later run clean up after a run that was killed.
        self.home = Path(tempfile.mkdtemp(prefix=f"{_SESSION_PREFIX}{os.getpid()}-"))
        try:
            if keys.home is not None:
                shutil.copytree(keys.home, self.home, ignore=_NOT_COPIED, dirs_exist_ok=True)
            os.chmod(self.home, 0o700)
            (self.home / "gpg-agent.conf").write_text(_AGENT_CONF)
        except OSError:
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        # loopback: gpg asks us, not a pinentry window, so a missing passphrase fails at once instead of hanging.
        self._gpg = gnupg.GPG(gpgbinary=binary, gnupghome=str(self.home), options=["--pinentry-mode", "loopback"])

    def __enter__(self) -> GpgSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the agent this session started and remove its copy of the keyring."""
        _end_session(self.home)

    def decrypt(self, data: bytes, *, name: str = "") -> Decrypted:
        """The plaintext of ``data`` and its signer, or ``DecryptionError`` with one line saying why."""
        keys = self.keys
        if keys.passphrase is not None and not self._gpg.is_valid_passphrase(keys.passphrase):
            raise DecryptionError("the passphrase holds a line break or NUL inside it; gpg cannot take it", file=name or None)
        # gpg reads the ciphertext from a file named on its command line, not from a pipe: when it stops
        # early (no passphrase), a pipe would break under python-gnupg's feeder and hide gpg's reason.
        with tempfile.NamedTemporaryFile(dir=self.home, suffix=".gpg") as ciphertext:
            ciphertext.write(data)
            ciphertext.flush()
            try:
                result = self._gpg.decrypt_file(_Empty(), passphrase=keys.passphrase, extra_args=[ciphertext.name])
            except BrokenPipeError as error:
                raise DecryptionError("gpg stopped before reading its input", file=name or None) from error
        if not result.ok:
            raise DecryptionError(_reason(result.status, result.stderr or "", keys), file=name or None)
        signer = _signer(result)
        if keys.checks_signatures:
            _check_signer(result, signer, keys, name)
        return Decrypted(bytes(result.data), signer)


_SESSION_PREFIX = "checks-gpg-"
_SESSION_NAME = re.compile(rf"^{_SESSION_PREFIX}(\d+)-")


def _end_session(home: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def _sweep_killed_sessions() -> None:
    """Stop the agent and remove the keyring copy of every session whose process is gone (a killed run)."""
    for home in Path(tempfile.gettempdir()).glob(f"{_SESSION_PREFIX}*"):
        match = _SESSION_NAME.match(home.name)
        if match is None or not home.is_dir():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            _end_session(home)
        except PermissionError:
            continue  # another user's live process


class _Empty:
    """An empty stdin for gpg (the ciphertext is a file argument); python-gnupg wants a readable object."""

    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


def decrypt(data: bytes, keys: Keyring, *, name: str = "") -> bytes:
    """The plaintext of ``data`` in a session of its own, or ``DecryptionError`` with one line saying why."""
    with GpgSession(keys) as session:
        return session.decrypt(data, name=name).plaintext


def _signer(result: object) -> str | None:
    """The primary fingerprint of the key behind a good signature, None when there is none."""
    if not getattr(result, "valid", False):
        return None
    fingerprint = getattr(result, "pubkey_fingerprint", None) or getattr(result, "fingerprint", None)
    return str(fingerprint).upper() if fingerprint else None


def _check_signer(result: object, signer: str | None, keys: Keyring, name: str) -> None:
    """Refuse a drop signed by anyone but a trusted signer, and an unsigned one unless ``allow_unsigned``."""
    signing_key = str(getattr(result, "fingerprint", "") or "").upper()
    if signer is not None and (signer in keys.trusted_signers or signing_key in keys.trusted_signers):
        return
    where = name or None
    if signer is not None:
        raise DecryptionError(f"signed by {signer}, not a trusted signer of this feed", file=where, check="signature")
    stderr = str(getattr(result, "stderr", "") or "")
    if "BADSIG" in stderr:
        raise DecryptionError("bad signature: the signed content was changed", file=where, check="signature")
    if "ERRSIG" in stderr or "NO_PUBKEY" in stderr:
        raise DecryptionError(
            "signature cannot be verified: the signer's public key is not in the keyring", file=where, check="signature"
        )
    if "NEWSIG" in stderr or "EXPKEYSIG" in stderr or "REVKEYSIG" in stderr:
        raise DecryptionError("signature is not valid (expired or revoked key)", file=where, check="signature")
    if keys.allow_unsigned:
        return
    raise DecryptionError(UNSIGNED_REASON, file=where, check="signature")


UNSIGNED_REASON = "not signed; this feed requires a signature by a trusted signer"
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
