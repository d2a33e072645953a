"""Pydantic models at the edges of the service (REST bodies, task payloads)."""
