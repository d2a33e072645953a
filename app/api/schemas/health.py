"""Liveness, and the database, broker and workers for admins."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class LivenessOut(BaseModel):
    status: Literal["ok"]


class WorkerHealthOut(BaseModel):
    name: str
    queues: str
    checkpoint_id: int | None
    seconds_since_seen: float
    alive: bool


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    broker: str
    workers: list[WorkerHealthOut]
