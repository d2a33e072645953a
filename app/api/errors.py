"""Error answers as the OpenAPI document says they are sent.

Every 4xx/5xx the API raises itself has `{"detail": "<reason>"}`, except 422, which keeps FastAPI's
validation shape (a list of {loc, msg, type}) whether the framework or a route found the problem.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from pydantic import BaseModel


class ErrorOut(BaseModel):
    detail: str  # why, in words


ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorOut, "description": description}
    for code, description in (
        (401, "No token, or an unknown or disabled one."),
        (403, "The token may not do this (admins only)."),
        (404, "No such thing (or not yours to see)."),
        (409, "It conflicts with the current state (already running, not served to you, ...)."),
        (413, "The request body is too large."),
        (429, "Too many requests from this token; the Retry-After header says when to try again."),
        (503, "A service it needs (the task queue, the database) is unreachable; try again."),
    )
}


def unprocessable(message: str, *loc: str | int) -> HTTPException:
    """A 422 found by a route, in the same shape as the ones FastAPI's validation sends."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         [{"loc": list(loc) or ["body"], "msg": message, "type": "value_error"}])  # fmt: skip
