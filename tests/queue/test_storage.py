"""The storage layer on both backends: a local directory and a real S3-compatible server (moto's
standalone server, started by scripts/services.sh): files whole or not at all, folders readable only once
their manifest is there, a worker's cache capped in size, and a store that is down named as such."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from core.storage import MANIFEST, NotPublished, Storage, StoreUnavailable, check_key


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Storage:
    if request.param == "local":
        return Storage(str(tmp_path / "data"), tmp_path / "cache", 10**9)
    return Storage(f"s3://{request.getfixturevalue('bucket')}/install-1", tmp_path / "cache", 10**9)


def test_files_by_key_on_both_backends(store):
    store.write_bytes("media/ab.png", b"png bytes")
    assert store.read_bytes("media/ab.png") == b"png bytes" and store.exists("media/ab.png")
    assert store.local_file("media/ab.png").read_bytes() == b"png bytes"
    store.write_bytes("media/ab.png", b"again")  # replaced whole
    assert store.read_bytes("media/ab.png") == b"again"
    store.delete("media/ab.png")
    store.delete("media/ab.png")  # gone already: fine
    assert not store.exists("media/ab.png")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("media/ab.png")
    for bad in ("", "/etc/passwd", "media/../../x", "a//b", "a\\b", "imports/.", "a/./b", "media/"):
        with pytest.raises(ValueError):
            check_key(bad)


def fill_round(folder: Path) -> None:
    (folder / "unet").mkdir(parents=True)
    (folder / "pytorch_lora_weights.safetensors").write_bytes(b"w" * 1000)
    (folder / "unet" / "config.json").write_text("{}")


def test_a_folder_is_readable_only_once_its_manifest_is_published(store, tmp_path):
    if not store.local:  # files uploaded without their manifest (an upload cut off) are never read
        store.fs.pipe_file(store.path("checkpoints/round-3/unet/config.json"), b"{}")
        with pytest.raises(NotPublished):
            store.local_dir("checkpoints/round-3")
        with pytest.raises(NotPublished):
            store.folder_files("checkpoints/round-3")
    store.put_dir("checkpoints/round-3", fill_round)
    files = {"pytorch_lora_weights.safetensors": 1000, "unet/config.json": 2}
    assert store.folder_files("checkpoints/round-3") == set(files) | ({MANIFEST} if store.local else set())
    if not store.local:  # the machine that published it keeps it in its cache, whole
        assert (tmp_path / "cache" / "checkpoints/round-3" / MANIFEST).is_file()
        shutil.rmtree(tmp_path / "cache")
    local = store.local_dir("checkpoints/round-3")
    assert (local / "pytorch_lora_weights.safetensors").read_bytes() == b"w" * 1000
    assert (local / "unet" / "config.json").read_text() == "{}"
    assert json.loads((local / MANIFEST).read_text())["files"] == files
    with pytest.raises(FileExistsError):  # a published folder is never overwritten
        store.put_dir("checkpoints/round-3", fill_round)
    store.delete_dir("checkpoints/round-3")
    with pytest.raises(NotPublished):
        store.manifest("checkpoints/round-3")
    with pytest.raises(NotPublished):
        store.folder_files("checkpoints/round-3")


def test_a_folder_that_fails_while_written_leaves_nothing(store):
    def crash(folder: Path) -> None:
        fill_round(folder)
        raise RuntimeError("out of disk")

    with pytest.raises(RuntimeError):
        store.put_dir("checkpoints/round-4", crash)
    with pytest.raises(NotPublished):
        store.folder_files("checkpoints/round-4")
    if store.local:
        assert list(Path(store.path("checkpoints")).iterdir()) == []  # no temporary folder left behind


def test_presigned_links_are_the_stores_own(bucket, s3_endpoint, tmp_path):
    import httpx

    store = Storage(f"s3://{bucket}/install-1", tmp_path / "cache", 10**6)
    store.write_bytes("media/ab.png", b"png bytes")
    link = store.presigned_url("media/ab.png", 60)
    assert link.startswith(s3_endpoint) and httpx.get(link).content == b"png bytes"
    assert Storage(str(tmp_path / "data"), tmp_path / "c2", 10).presigned_url("media/ab.png", 60) is None


def test_the_cache_keeps_the_most_recently_used_under_its_cap(bucket, tmp_path):
    store = Storage(f"s3://{bucket}/x", tmp_path / "cache", cache_bytes=2500)
    for name in "abc":
        store.write_bytes(f"latents/{name}.npy", name.encode() * 1000)
    for i, name in enumerate("ab"):
        path = store.local_file(f"latents/{name}.npy")
        os.utime(path, (time.time() - 100 + i, time.time() - 100 + i))  # a read long ago, then b
    store.local_file("latents/a.npy")  # a is used again: b is now the oldest
    store.local_file("latents/c.npy")  # 3000 bytes > 2500: the least recently used goes
    cached = {p.name for p in (tmp_path / "cache" / "latents").iterdir()}
    assert cached == {"a.npy", "c.npy"}
    assert store.local_file("latents/b.npy").read_bytes() == b"b" * 1000  # fetched again when needed


def test_a_store_that_is_down_is_named(tmp_path, monkeypatch):
    from tests.helpers.stack import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = Storage("s3://nowhere/x", tmp_path / "cache", 10**6)
    with pytest.raises(StoreUnavailable, match="object store s3://nowhere/x"):
        store.write_bytes("media/a.png", b"x")
    with pytest.raises(StoreUnavailable):
        store.read_bytes("media/a.png")


def test_migrate_creates_the_bucket_once(bucket, tmp_path):
    store = Storage(f"s3://{bucket}-new/install", tmp_path / "cache", 10**6)
    assert store.ensure_bucket() is True and store.ensure_bucket() is False
    store.write_bytes("media/a.png", b"x")
    assert store.read_bytes("media/a.png") == b"x"
    assert Storage(str(tmp_path / "data"), tmp_path / "c", 10).ensure_bucket() is False


def test_prefetch_brings_many_files_at_once_and_skips_the_missing(bucket, tmp_path):
    store = Storage(f"s3://{bucket}/install-1", tmp_path / "cache", 10**6)
    keys = [f"latents/{i:02d}.npy" for i in range(5)]
    for i, key in enumerate(keys):
        store.write_bytes(key, bytes([i]) * 100)
    assert store.prefetch([*keys, "latents/missing.npy", keys[0]], chunk=2) == 5
    assert store.prefetch(keys) == 0  # cached already
    for i, key in enumerate(keys):
        store.fs.rm_file(store.path(key))  # gone from the store: the cache answers
        assert store.local_file(key).read_bytes() == bytes([i]) * 100
    assert not list((tmp_path / "cache").rglob("*.part"))
    assert Storage(str(tmp_path / "data"), tmp_path / "c", 10).prefetch(keys) == 0
