"""Landing-zone sources: a local folder or ``s3://bucket/prefix``, listed completely and fetched by key.

S3 settings (endpoint, region, credentials) come only from boto3's own environment variables and
config files (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ...), never from arguments,
so they never appear on a command line or in a log.
"""
from __future__ import annotations

import hashlib
import os
import stat as stat_module
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
    # A folder source's symbolic link: listed so that it is recorded and refused, never followed.
    symlink: bool = False

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
    """Files under a local folder, keys relative to it with ``/`` separators; hidden files are ignored.

    Symbolic links are never followed (a link could reach ``/etc/passwd`` or another customer's
    drop): a link is listed with ``symlink=True`` so that the ingest refuses and records it, and a
    fetch opens files with ``O_NOFOLLOW`` inside the resolved root only.
    """

    root: Path

    @property
    def url(self) -> str:
        # Absolute, so that the ledger knows one folder by one name whatever the working directory.
        return str(self.root.resolve())

    def list_objects(self) -> list[ObjectInfo]:
        if not self.root.is_dir():
            raise SourceError("source folder not found", file=self.root)
        objects = []
        # os.walk with followlinks=False: a link to a folder is seen as an entry, never entered.
        for folder, folders, files in os.walk(self.root, followlinks=False):
            folders[:] = sorted(name for name in folders if not name.startswith("."))
            base = Path(folder)
            links = [name for name in folders if (base / name).is_symlink()]
            folders[:] = [name for name in folders if name not in links]
            for name in sorted([*files, *links]):
                if name.startswith("."):
                    continue
                info = self._info(base / name)
                if info is not None:
                    objects.append(info)
        return sorted(objects, key=lambda info: info.key)

    def _info(self, path: Path) -> ObjectInfo | None:
        key = path.relative_to(self.root).as_posix()
        try:
            status = path.lstat()
            if stat_module.S_ISLNK(status.st_mode):
                target = os.readlink(path)
                return ObjectInfo(
                    key=key, size=0, etag="symlink-" + md5_etag(target.encode("utf-8", "surrogateescape")),
                    last_modified=datetime.fromtimestamp(status.st_mtime, tz=UTC), symlink=True,
                )
            if not stat_module.S_ISREG(status.st_mode):
                return None  # sockets, pipes, devices: not drops
            data = self._read(key)
        except FileNotFoundError:
            return None  # removed while listing: it is simply not there
        return ObjectInfo(
            key=key, size=len(data), etag=md5_etag(data), last_modified=datetime.fromtimestamp(status.st_mtime, tz=UTC)
        )

    def _read(self, key: str) -> bytes:
        """The bytes of the regular file at ``key``, refusing a link anywhere on the way."""
        root = self.root.resolve()
        path = root / key
        if path.parent.resolve() != path.parent or not path.parent.is_relative_to(root):
            raise SourceError("a folder on the way is a symbolic link; links are never followed", file=key)
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as handle:
            return handle.read()

    def fetch(self, info: ObjectInfo) -> FetchedObject:
        if info.symlink:
            raise SourceError("a symbolic link; links are never followed", file=info.key)
        try:
            data = self._read(info.key)
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
