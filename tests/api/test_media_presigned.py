"""Images straight from the object store: with DPOLOOP_MEDIA_LINKS=presigned the labeling API hands out the
store's own pre-signed URLs (on the real S3 server of the tests), and the pages' CSP lets browsers load
images from that origin and nowhere else new."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from core.settings import Settings, get_settings
from core.storage import MEDIA, storage
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler


def test_labelers_get_presigned_links_that_the_store_answers(pg_settings, bucket, s3_endpoint, monkeypatch):
    from app.api.main import create_app

    make_comparisons(1)
    local = get_settings().media_dir
    apply_settings(monkeypatch, storage_url=f"s3://{bucket}/install", media_links="presigned")
    store = storage(get_settings())
    for image in local.iterdir():  # the pair's images, in the store as a worker would have put them
        store.write_bytes(f"{MEDIA}/{image.name}", image.read_bytes())
    _, token = make_labeler("alice")

    with TestClient(create_app()) as client:
        served = client.get("/api/v1/comparisons/next", headers={"Authorization": f"Bearer {token}"})
    assert served.status_code == 200, served.text
    for side in ("left", "right"):
        url = served.json()[side]["url"]
        assert url.startswith(f"{s3_endpoint}/{bucket}/install/media/"), url
        image = httpx.get(url)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert httpx.get(url.split("?")[0]).status_code == 403  # the bucket itself is not public
    policy = served.headers["content-security-policy"]
    assert f"img-src 'self' data: {s3_endpoint};" in policy and "default-src 'self';" in policy


def test_storage_settings_are_checked(tmp_path):
    with pytest.raises(ValidationError, match="s3://bucket"):
        Settings(data_dir=tmp_path, storage_url="https://example.com/bucket")
    with pytest.raises(ValidationError, match="s3://bucket"):
        Settings(data_dir=tmp_path, storage_url="s3:///no-bucket")
    with pytest.raises(ValidationError, match="needs DPOLOOP_STORAGE_URL"):
        Settings(data_dir=tmp_path, media_links="presigned")
    assert Settings(data_dir=tmp_path, storage_url="s3://b/p/").storage_url == "s3://b/p"
