"""Liveness, and the database, broker and workers for admins."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from core.services.workers import WorkerSeen


class LivenessOut(BaseModel):
    status: Literal["ok"]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    broker: str
    workers: list[WorkerSeen]
