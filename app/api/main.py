"""The FastAPI application: /api/v1 routes, /media images, and the frontend at /."""

from __future__ import annotations

import gc
import json
import logging
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError

from app.api.docs import add_docs
from app.api.errors import ERROR_RESPONSES
from app.api.guard import RequestGuard
from app.api.headers import SecurityHeaders, strict_csp
from app.api.media import media_origins
from app.api.media import router as media_router
from app.api.metrics import RequestMetrics
from app.api.metrics import router as metrics_router
from app.api.routes import (
    alerts,
    arena,
    blend,
    campaigns,
    checkpoints,
    comparisons,
    deployments,
    evaluations,
    export,
    generations,
    grid,
    guidelines,
    health,
    imports,
    labelers,
    me,
    overview,
    pairing,
    prompt_filter,
    prompts,
    reports,
    reward,
    rounds,
)
from core.db.session import POOL_SIZE
from core.paths import FRONTEND_DIR
from core.services.campaigns import UnknownCampaign
from core.settings import get_settings
from core.storage import StoreUnavailable

log = logging.getLogger(__name__)


async def validation_error(_: Request, exc: RequestValidationError) -> Response:
    """422 with the reasons, ASCII-escaped: the offending input may not even be encodable as UTF-8."""
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json")


async def database_unreachable(_: Request, exc: Exception) -> Response:
    """503, not 500: the database restarting or away is a passing outage, and every write is safe to retry."""
    log.warning("database unreachable: %s", exc)
    body = json.dumps({"detail": "the database is unreachable; retry shortly"})
    return Response(body, status_code=status.HTTP_503_SERVICE_UNAVAILABLE, media_type="application/json",
                    headers={"Retry-After": "2"})  # fmt: skip


async def unknown_campaign(_: Request, exc: Exception) -> Response:
    """404 wherever a request names a campaign no one made (routes that read one from a body field answer
    422 there themselves)."""
    return Response(json.dumps({"detail": str(exc)}), status_code=status.HTTP_404_NOT_FOUND,
                    media_type="application/json")  # fmt: skip


async def store_unreachable(_: Request, exc: Exception) -> Response:
    """503 as for the database: the object store away is a passing outage, and nothing was changed."""
    log.warning("object store unreachable: %s", exc)
    body = json.dumps({"detail": "the object store is unreachable; retry shortly"})
    return Response(body, status_code=status.HTTP_503_SERVICE_UNAVAILABLE, media_type="application/json",
                    headers={"Retry-After": "2"})  # fmt: skip


@asynccontextmanager
async def lifespan(_: FastAPI):
    # The process holds ~200k long-lived objects after start-up; left to the collector, each full
    # collection walks them all (~100 ms) and lands on whichever request triggered it. Frozen, they
    # are never walked again (bench/admin_api.py: p99 115 → ~30 ms on the list endpoints).
    gc.collect()
    gc.freeze()
    # Sync routes run in anyio's thread pool (40 threads by default); as many as the database pool has
    # connections, so no request opens a connection of its own (core/db/session.py: POOL_SIZE).
    to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
    yield


def create_app() -> FastAPI:
    settings = get_settings()
    settings.ensure_dirs()
    api = FastAPI(
        lifespan=lifespan,
        title="dpoloop",
        version="0.1.0",
        description="Label pairs of generations, train Diffusion-DPO on the votes, serve the result.",
        docs_url=None,  # add_docs serves it, from a pinned package
        redoc_url=None,
    )
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(OperationalError, database_unreachable)  # connection lost, server restarting
    api.add_exception_handler(InterfaceError, database_unreachable)
    api.add_exception_handler(StoreUnavailable, store_unreachable)
    api.add_exception_handler(UnknownCampaign, unknown_campaign)
    api.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    api.add_middleware(
        SecurityHeaders, policies=add_docs(api), default=strict_csp(media_origins(settings))
    )  # outermost but one: the guard's own 401 and 413 answers get them too
    api.add_middleware(RequestMetrics)  # outermost: times everything the process answers
    resources = (comparisons, me, guidelines, generations, checkpoints, evaluations, arena, grid, deployments,
                 labelers, prompts, rounds, overview, pairing, export, imports, reports, prompt_filter, alerts,
                 reward, campaigns, blend, health)  # fmt: skip
    for resource in resources:  # one routes module each
        api.include_router(resource.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    api.include_router(media_router)  # signed, expiring image links
    api.include_router(metrics_router)  # Prometheus, for an admin's token
    api.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="frontend")
    return api
