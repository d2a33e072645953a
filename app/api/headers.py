"""Security headers on every answer: the labeling UI loads only its own files, no site may frame it,
browsers take content types as sent, and no page leaks its address (a login link holds a token).
A page with a policy of its own (the docs) is named by its exact path: a prefix would also cover
`/docs/..%2fadmin/index.html`, which the static files resolve to the admin console."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def strict_csp(image_origins: tuple[str, ...] = ()) -> str:
    """This origin only; images also from `image_origins` (an object store handing out pre-signed URLs)."""
    images = " ".join(("'self'", "data:", *image_origins))
    return (f"default-src 'self'; img-src {images}; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


STRICT_CSP = strict_csp()


class SecurityHeaders:
    def __init__(self, app: ASGIApp, policies: dict[str, str] | None = None, default: str = STRICT_CSP):
        self.app, self.policies, self.default = app, policies or {}, default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = self.policies.get(scope["path"], self.default)
        extra = [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]  # fmt: skip

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
