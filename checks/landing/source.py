"""Landing-zone sources: a local folder or ``s3://bucket/prefix``, listed completely and fetched by key.

S3 settings (endpoint, region, credentials) come only from boto3's own environment variables and
config files (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ...), never from arguments,
so they never appear on a command line or in a log.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from checks.errors import SourceError

S3_SCHEME = "s3://"


class ObjectVanishedError(SourceError):
    """An object listed a moment ago is gone or has changed when fetched; the next run retries it."""


@dataclass(frozen=True)
class ObjectInfo:
    """One object as listed: its key relative to the source, size, ETag and time of upload."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    version_id: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class FetchedObject:
    """The bytes of one object, with the version and ETag the store reported when it served them."""

    info: ObjectInfo
    data: bytes
    etag: str
    version_id: str | None


class Source(Protocol):
    url: str

    def list_objects(self) -> list[ObjectInfo]: ...

    def fetch(self, info: ObjectInfo) -> FetchedObject: ...


def source(url: str | Path, *, page_size: int | None = None) -> Source:
    """The source at ``url``: ``s3://bucket/prefix`` or a local folder (the default)."""
    text = str(url)
    if text.startswith(S3_SCHEME):
        return S3Source.from_url(text, page_size=page_size)
    if "://" in text:
        raise SourceError(f"unsupported source scheme (use a folder or {S3_SCHEME}bucket/prefix)", file=text)
    return FolderSource(Path(text))


def md5_etag(data: bytes) -> str:
    """The ETag S3 gives an object uploaded in one part: the MD5 of its bytes, in hex."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class FolderSource:
    """Files under a local folder, keys relative to it with ``/`` separators; hidden files are ignored."""

    root: Path

    @property
    def url(self) -> str:
        # Absolute, so that the ledger knows one folder by one name whatever the working directory.
        return str(self.root.resolve())

    def list_objects(self) -> list[ObjectInfo]:
        if not self.root.is_dir():
            raise SourceError("source folder not found", file=self.root)
        objects = []
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            try:
                data = path.read_bytes()
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed while listing: it is simply not there
            objects.append(
                ObjectInfo(
                    key=relative.as_posix(),
                    size=len(data),
                    etag=md5_etag(data),
                    last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                )
            )
        return objects

    def fetch(self, info: ObjectInfo) -> FetchedObject:
        path = self.root / info.key
        try:
            data = path.read_bytes()
        except FileNotFoundError as error:
            raise ObjectVanishedError("deleted between listing and fetch", file=info.key) from error
        except OSError as error:
            raise SourceError(f"cannot read: {error.strerror}", file=info.key) from error
        return FetchedObject(info=info, data=data, etag=md5_etag(data), version_id=None)


@dataclass(frozen=True)
class S3Source:
    """Objects under ``s3://bucket/prefix``; the client is built from the standard AWS settings alone."""

    bucket: str
    prefix: str
    page_size: int | None = None
    # One client per source: building one costs more than a small fetch.
    _clients: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_url(cls, url: str, *, page_size: int | None = None) -> S3Source:
        bucket, _, prefix = url[len(S3_SCHEME):].partition("/")
        if not bucket:
            raise SourceError("S3 source needs a bucket: s3://bucket/prefix", file=url)
        # A prefix names a folder: s3://b/drops must not match s3://b/drops-old/.
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        return cls(bucket=bucket, prefix=prefix, page_size=page_size)

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"

    def list_objects(self) -> list[ObjectInfo]:
        return list(self._iter_objects())

    def _iter_objects(self) -> Iterator[ObjectInfo]:
        botocore_exceptions = _botocore_exceptions()
        paginator = self._client().get_paginator("list_objects_v2")
        config = {"PageSize": self.page_size} if self.page_size else {}
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix, PaginationConfig=config):
                for entry in page.get("Contents", []):
                    key = entry["Key"][len(self.prefix):]
                    if not key or key.endswith("/"):
                        continue  # folder markers are not drops
                    yield ObjectInfo(
                        key=key,
                        size=int(entry["Size"]),
                        etag=entry["ETag"].strip('"'),
                        last_modified=entry["LastModified"].astimezone(UTC),
                    )
        except botocore_exceptions.BotoCoreError as error:
            raise SourceError(f"cannot list: {_describe(error)}", file=self.url) from error
        except botocore_exceptions.ClientError as error:
            raise SourceError(f"cannot list: {_describe(error)}", file=self.url) from error

    def _client(self):  # noqa: ANN202 - boto3's client type is generated at run time
        if "s3" not in self._clients:
            # Lazy: boto3 is heavy and only S3 sources need it. No arguments: endpoint, region and
            # credentials come from AWS_* variables and ~/.aws config only.
            import boto3

            self._clients["s3"] = boto3.session.Session().client("s3")
        return self._clients["s3"]

    def fetch(self, info: ObjectInfo) -> FetchedObject:
        botocore_exceptions = _botocore_exceptions()
        try:
            # IfMatch: an object replaced since it was listed is refused, not silently fetched.
            response = self._client().get_object(Bucket=self.bucket, Key=self.prefix + info.key, IfMatch=f'"{info.etag}"')
            data = response["Body"].read()
        except botocore_exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectVanishedError("deleted between listing and fetch", file=info.key) from error
            if code in ("PreconditionFailed", "412"):
                raise ObjectVanishedError("replaced between listing and fetch", file=info.key) from error
            raise SourceError(f"cannot fetch: {_describe(error)}", file=info.key) from error
        except botocore_exceptions.BotoCoreError as error:
            raise SourceError(f"cannot fetch: {_describe(error)}", file=info.key) from error
        return FetchedObject(
            info=info,
            data=data,
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=response.get("VersionId"),
        )


def _botocore_exceptions():  # noqa: ANN202
    import botocore.exceptions

    return botocore.exceptions


def _describe(error: Exception) -> str:
    """One line for an S3 error; botocore messages name the operation and code, never credentials."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        details = response["Error"]
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".strip().rstrip(":")
    return str(error).splitlines()[0] if str(error) else type(error).__name__
