"""The FastAPI application: /api/v1 routes, /media images, and the frontend at /."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.routes import admin, checkpoints, generations, health, labeling
from app.settings import REPO_ROOT, get_settings

FRONTEND_DIR = REPO_ROOT / "frontend"


def create_app() -> FastAPI:
    settings = get_settings()
    settings.ensure_dirs()
    api = FastAPI(
        title="dpoloop",
        version="0.1.0",
        description="Label pairs of generations, train Diffusion-DPO on the votes, serve the result.",
    )
    for router in (labeling.router, generations.router, checkpoints.router, admin.router, health.router):
        api.include_router(router, prefix="/api/v1")
    api.mount("/media", StaticFiles(directory=settings.media_dir), name="media")
    api.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="frontend")
    return api
