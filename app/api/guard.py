"""Checks made before a request's body is read: its size, and who sends it.

A body above DPOLOOP_MAX_BODY_BYTES gets 413, whether it says its length or streams it; a request
with a body on a route that needs a token gets 401 when the token is missing or unknown, without its
body being read. The labeler found is handed to the route (no second lookup).
"""

from __future__ import annotations

import json

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.services.labelers import authenticate

OPEN_PATHS = ("/api/v1/health",)  # everything else under /api/v1 needs a token
BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyTooLarge(Exception):
    pass


async def answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app, self.max_body = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await answer(send, 413, f"the request body is larger than {self.max_body} bytes")
        path = scope["path"]
        if path.startswith("/api/v1/") and not path.startswith(OPEN_PATHS):
            token = bearer_token(scope)
            try:
                labeler = await run_in_threadpool(authenticate, token) if token else None
            except (OperationalError, InterfaceError):  # outside the app's handlers: answer as they would
                return await answer(send, 503, "the database is unreachable; retry shortly", [(b"retry-after", b"2")])
            if labeler is None:
                reason = "unknown or disabled token" if token else "missing bearer token"
                return await answer(send, 401, reason, [(b"www-authenticate", b"Bearer")])
            scope.setdefault("state", {})["labeler"] = labeler
        await self._with_counted_body(scope, receive, send)

    async def _with_counted_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        received, started = 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await answer(send, 413, f"the request body is larger than {self.max_body} bytes")
