"""Listing and fetching from a folder and from S3 (moto's server over HTTP, configured by AWS_* variables)."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.errors import SourceError
from checks.landing.source import FolderSource, ObjectVanishedError, S3Source, md5_etag, source


def test_empty_bucket_lists_nothing(bucket) -> None:
    assert source(bucket.url).list_objects() == []


def test_listing_follows_every_page(bucket) -> None:
    keys = [f"delta{number}.csv" for number in range(7)]
    for key in keys:
        bucket.put(key, key.encode())
    bucket.client.put_object(Bucket=bucket.name, Key="elsewhere/delta99.csv", Body=b"x")

    listed = S3Source.from_url(bucket.url, page_size=2).list_objects()

    assert sorted(info.key for info in listed) == sorted(keys)
    assert all(info.etag == md5_etag(info.key.encode()) and info.size == len(info.key) for info in listed)


def test_prefix_is_a_folder_not_a_string_prefix(bucket) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key="drops-old/delta0.csv", Body=b"x")
    bucket.put("delta1.csv", b"y")

    listed = source(f"s3://{bucket.name}/drops").list_objects()

    assert [info.key for info in listed] == ["delta1.csv"]


def test_fetch_returns_the_listed_bytes(bucket) -> None:
    bucket.put("delta0.csv", b"payload")
    store = source(bucket.url)
    (info,) = store.list_objects()

    fetched = store.fetch(info)

    assert fetched.data == b"payload" and fetched.etag == info.etag


@pytest.mark.parametrize(
    ("change", "reason"),
    [("delete", "deleted between listing and fetch"), ("replace", "replaced between listing and fetch")],
)
def test_object_changed_between_list_and_get(bucket, change: str, reason: str) -> None:
    bucket.put("delta0.csv", b"first")
    store = source(bucket.url)
    (info,) = store.list_objects()
    if change == "delete":
        bucket.delete("delta0.csv")
    else:
        bucket.put("delta0.csv", b"second version")

    with pytest.raises(ObjectVanishedError, match=reason):
        store.fetch(info)


def test_missing_bucket_is_a_source_error(aws_env) -> None:
    with pytest.raises(SourceError, match="NoSuchBucket"):
        source("s3://no-such-bucket-here/drops").list_objects()


def test_credentials_never_appear_in_errors(aws_env) -> None:
    with pytest.raises(SourceError) as caught:
        source("s3://no-such-bucket-here/drops").list_objects()
    assert aws_env["AWS_SECRET_ACCESS_KEY"] not in str(caught.value)
    assert aws_env["AWS_ACCESS_KEY_ID"] not in str(caught.value)


def test_folder_source_lists_relative_keys_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "delta0.csv").write_bytes(b"a")
    (tmp_path / "sub" / "delta1.csv").write_bytes(b"bb")
    (tmp_path / ".ledger.sqlite").write_bytes(b"ignored")

    listed = FolderSource(tmp_path).list_objects()

    assert [(info.key, info.size) for info in listed] == [("delta0.csv", 1), ("sub/delta1.csv", 2)]


def test_folder_object_deleted_between_list_and_get(tmp_path: Path) -> None:
    (tmp_path / "delta0.csv").write_bytes(b"a")
    store = FolderSource(tmp_path)
    (info,) = store.list_objects()
    (tmp_path / "delta0.csv").unlink()

    with pytest.raises(ObjectVanishedError, match="deleted between listing and fetch"):
        store.fetch(info)


@pytest.mark.parametrize(
    ("url", "message"),
    [("s3://", "needs a bucket"), ("gs://bucket/x", "unsupported source scheme"), ("/no/such/folder", "not found")],
)
def test_bad_source_urls(url: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        source(url).list_objects()


def test_a_folder_source_lists_links_without_following_them(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"root:x:0:0\n")
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "delta0.csv").write_bytes(b"payload")
    (drops / "delta5.csv").symlink_to(outside / "passwd")
    (drops / "other-customer").symlink_to(outside, target_is_directory=True)
    store = FolderSource(drops)

    listed = {info.key: info for info in store.list_objects()}

    assert sorted(listed) == ["delta0.csv", "delta5.csv", "other-customer"]
    assert [key for key, info in listed.items() if info.symlink] == ["delta5.csv", "other-customer"]
    assert listed["delta5.csv"].size == 0 and listed["delta5.csv"].etag != md5_etag(b"root:x:0:0\n")
    with pytest.raises(SourceError, match="links are never followed"):
        store.fetch(listed["delta5.csv"])


def test_a_file_replaced_by_a_link_after_listing_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"payload")
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "delta0.csv").write_bytes(b"payload")
    store = FolderSource(drops)
    (info,) = store.list_objects()
    (drops / "delta0.csv").unlink()
    (drops / "delta0.csv").symlink_to(tmp_path / "secret")

    with pytest.raises(SourceError, match="cannot read"):
        store.fetch(info)
