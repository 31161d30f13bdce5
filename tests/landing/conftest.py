"""Real parts for landing-zone tests: the moto S3 server on loopback (``tests/conftest.py``) and one throwaway GnuPG key per session.

Faults the tests plant (one test each, see the test modules): an empty bucket, a non-CSV object, a
zero-byte object, a duplicated upload, an object deleted between list and get, a file encrypted to
another key, a truncated ciphertext, a missing passphrase, a delta whose batch range overlaps the
previous one, a kill between fetch and ledger write, two ingests at once, a re-upload with new content.
For the chain of custody: a staged byte changed, a staged file replaced, stray
files in the stage, a symbolic link in the source, a delta number past SQLite's integers, a name
holding a newline, a staged object deleted from the source, drops signed by the wrong key or not at
all, a damaged, read-only or shared ledger and an unwritable stage.
For watching the feed over time (``real_feed``, ``sixth_delta``): the five real deltas landed a week
apart plus a valid sixth update cut to a third of the usual size (a ``volume_anomaly``), the same
sixth at the usual size (passes), and the newest drop landed long ago (a ``late_delta``); ``webhook``
is a local HTTP server on loopback that can answer errors first.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CASE = Path(__file__).resolve().parents[2] / ".." / "shared" / "cases" / "johnnys-jeans"
HEADER = "user_id,total_spend,count_saved_items,loyalty_credits,batch_id\r\n"
PASSPHRASE = "correct horse battery staple"

_bucket_numbers = itertools.count()


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Point boto3 at the moto server through the standard variables only, with dummy credentials."""
    values = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing-key-id",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Keep the developer's own ~/.aws out of the tests.
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@dataclass
class Bucket:
    """A fresh bucket on the moto server; ``url`` is the source URL of its ``drops/`` prefix."""

    name: str
    client: object
    prefix: str = "drops/"

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=self.prefix + key, Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=self.prefix + key)


@pytest.fixture
def bucket(aws_env: dict[str, str]) -> Bucket:
    import boto3

    client = boto3.session.Session().client("s3")
    name = f"landing-{next(_bucket_numbers)}-{os.getpid()}"
    client.create_bucket(Bucket=name)
    return Bucket(name=name, client=client)


@dataclass(frozen=True)
class GpgKeys:
    """A throwaway keyring: ``home`` holds the recipient's secret key (protected by ``PASSPHRASE``)."""

    home: Path
    fingerprint: str
    other_home: Path
    other_fingerprint: str

    def encrypt(self, plaintext: bytes, *, to_other: bool = False, signed_by: str | None = None) -> bytes:
        """Encrypted to the recipient (or the other key); ``signed_by`` "sender" (the other key) or "recipient"."""
        import gnupg

        signer_home = {"sender": self.other_home, "recipient": self.home}.get(signed_by or "", self.home)
        gpg = gnupg.GPG(gnupghome=str(signer_home), options=["--pinentry-mode", "loopback"])
        fingerprint = self.other_fingerprint if to_other else self.fingerprint
        signing = {}
        if signed_by == "sender":
            signing = {"sign": self.other_fingerprint}
        elif signed_by == "recipient":
            signing = {"sign": self.fingerprint, "passphrase": PASSPHRASE}
        result = gpg.encrypt(plaintext, fingerprint, always_trust=True, armor=False, **signing)
        assert result.ok, result.status
        return bytes(result.data)


def _new_key(home: Path, passphrase: str | None) -> str:
    import gnupg

    home.mkdir(mode=0o700)
    gpg = gnupg.GPG(gnupghome=str(home), options=["--pinentry-mode", "loopback"])
    settings = gpg.gen_key_input(
        key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH", subkey_curve="cv25519",
        name_email="landing-test@example.invalid", expire_date=0,
        **({"passphrase": passphrase} if passphrase else {"no_protection": True}),
    )
    key = gpg.gen_key(settings)
    assert key.fingerprint, key.stderr
    # From now on the agent must not remember a passphrase, or the missing-passphrase tests would
    # pass by luck; key generation itself needs the cache, so the setting comes after it.
    (home / "gpg-agent.conf").write_text("default-cache-ttl 0\nmax-cache-ttl 0\n")
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)
    return str(key.fingerprint)


@pytest.fixture(scope="session")
def gpg_keys() -> Iterator[GpgKeys]:
    if shutil.which("gpg") is None:
        pytest.fail("the gpg program is required (Debian: apt-get install gnupg)")
    # Short path: gpg-agent's socket path must stay under the Unix limit.
    root = Path(tempfile.mkdtemp(prefix="gpg-"))
    home, other_home = root / "recipient", root / "other"
    fingerprint = _new_key(home, PASSPHRASE)
    other_fingerprint = _new_key(other_home, None)
    # The recipient's keyring knows the other public key, so we can encrypt to a key it cannot open.
    exported = subprocess.run(
        ["gpg", "--homedir", str(other_home), "--export", other_fingerprint], check=True, capture_output=True
    ).stdout
    subprocess.run(["gpg", "--homedir", str(home), "--import"], input=exported, check=True, capture_output=True)
    # ... and the other (the sender, when drops are signed) can encrypt to the recipient.
    exported = subprocess.run(
        ["gpg", "--homedir", str(home), "--export", fingerprint], check=True, capture_output=True
    ).stdout
    subprocess.run(["gpg", "--homedir", str(other_home), "--import"], input=exported, check=True, capture_output=True)
    try:
        yield GpgKeys(home, fingerprint, other_home, other_fingerprint)
    finally:
        for folder in (home, other_home):
            subprocess.run(["gpgconf", "--homedir", str(folder), "--kill", "gpg-agent"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def gpg_env(gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch) -> GpgKeys:
    """The keyring and passphrase set the way production sets them: environment variables."""
    monkeypatch.setenv("CHECKS_GNUPGHOME", str(gpg_keys.home))
    monkeypatch.setenv("CHECKS_GPG_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("CHECKS_GPG_PASSPHRASE_FILE", raising=False)
    return gpg_keys


def delta_csv(rows: list[tuple[int, int, int, int, int]]) -> bytes:
    """A delta file as the customer writes it (CRLF), from (user, spend, saved, credits, batch) rows."""
    return (HEADER + "".join(",".join(map(str, row)) + "\r\n" for row in rows)).encode()


def small_feed(deltas: int = 3, users: int = 4) -> list[bytes]:
    """A valid, gap-free feed: delta k holds batches k*users+1 .. (k+1)*users, spend rising with the batch."""
    feed = []
    for number in range(deltas):
        rows = [(user, 100 * (number * users + user), user, user, number * users + user) for user in range(1, users + 1)]
        feed.append(delta_csv(rows))
    return feed


def case_dir() -> Path:
    """The shared incident files; missing files fail in CI and skip elsewhere."""
    if not (CASE / "delta0.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"shared case files missing: {CASE}")
        pytest.skip("shared case files not present")
    return CASE


WEEK = 7 * 24 * 3600
REAL_DELTAS = ("delta0.csv", "delta1.csv", "delta2.csv", "delta3.csv", "delta4.csv")


def sixth_delta(case: Path, rows: int | None = None) -> bytes:
    """A valid update after the real delta4: delta4's users again, each adding what delta4 added, batches continuing.

    ``rows`` keeps the users of delta4's lowest batches only (a delta cut short); None keeps all of them.
    """
    import pandas as pd

    feed = [pd.read_csv(case / name) for name in REAL_DELTAS]
    last = feed[-1].sort_values("batch_id", kind="stable")
    before = pd.concat(feed[:-1]).sort_values("batch_id").groupby("user_id").last()
    added = last["total_spend"].to_numpy() - before["total_spend"].reindex(last["user_id"]).fillna(0).to_numpy(dtype="int64")
    sixth = last.assign(
        total_spend=last["total_spend"] + added,
        batch_id=last["batch_id"] + int(last["batch_id"].max() - last["batch_id"].min() + 1),
    )
    sixth = sixth if rows is None else sixth.head(rows)
    return sixth.to_csv(index=False, lineterminator="\r\n").encode()


def real_feed(folder: Path, sixth: bytes | None, *, newest_age_days: float = 1.0) -> Path:
    """The five real deltas (and ``sixth`` as delta5.csv) in ``folder``, landed a week apart, the newest ``newest_age_days`` ago."""
    import time

    folder.mkdir(parents=True, exist_ok=True)
    files = [(name, (CASE / name).read_bytes()) for name in REAL_DELTAS]
    if sixth is not None:
        files.append(("delta5.csv", sixth))
    newest = time.time() - newest_age_days * 24 * 3600
    for index, (name, data) in enumerate(files):
        path = folder / name
        path.write_bytes(data)
        landed = newest - (len(files) - 1 - index) * WEEK
        os.utime(path, (landed, landed))
    return folder


@dataclass
class Webhook:
    """A webhook on loopback: ``url`` takes POSTs, answering ``statuses`` in turn (then 200) after ``delay`` seconds;
    ``received`` holds the JSON bodies it accepted."""

    url: str
    received: list
    statuses: list
    paths: list
    delay: float = 0.0


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hook = Webhook(url="", received=[], statuses=[], paths=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.paths.append(self.path)
            time.sleep(hook.delay)
            status = hook.statuses.pop(0) if hook.statuses else 200
            if status == 200:
                hook.received.append(json.loads(body))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass  # quiet: the tests read ``received``

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000?token=s3cr3t-t0ken"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
