"""Schemathesis over the API's own OpenAPI document, as a labeler and as an admin: no 5xx, and every
answer (status, content type, body) matches what the document says. Bounded examples keep it quick."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.data import make_comparisons, make_labeler

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8


@pytest.mark.slow
def test_every_operation_answers_as_documented(pg_settings, monkeypatch):
    from app.api.main import create_app
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, generation_wait_s=1)  # no worker here: ?wait=true would wait in vain

    make_comparisons(3)  # something to serve and to vote on
    logins = {"labeler": make_labeler("fuzz-labeler"), "admin": make_labeler("fuzz-admin", admin=True)}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    failures, operations = {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case):
            for role in ("labeler", "admin"):  # a refusal is an answer too: it must be documented
                labeler_id, token = logins[role]
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
                keep_signed_in(labeler_id, token)  # the fuzzer rotates and disables tokens too

        try:
            answers_as_documented()
        except Exception as exc:  # collect every operation's failure, not just the first
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 15
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def keep_signed_in(labeler_id: int, token: str) -> None:
    from core.db.models import Labeler
    from core.db.session import session_scope
    from core.repo.labelers import hash_token

    with session_scope() as session:
        labeler = session.get(Labeler, labeler_id)
        labeler.token_hash, labeler.active = hash_token(token), True
