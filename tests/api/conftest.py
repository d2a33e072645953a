import pytest
from fastapi.testclient import TestClient

from tests.helpers.data import make_labeler


@pytest.fixture
def client(pg_settings):
    from app.api.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def admin(pg_settings):
    _, token = make_labeler("root", admin=True)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(pg_settings):
    labeler_id, token = make_labeler("alice")
    return {"Authorization": f"Bearer {token}", "id": str(labeler_id)}


@pytest.fixture
def bob(pg_settings):
    labeler_id, token = make_labeler("bob")
    return {"Authorization": f"Bearer {token}", "id": str(labeler_id)}


def auth(headers: dict) -> dict:
    return {"Authorization": headers["Authorization"]}
