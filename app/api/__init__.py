"""The REST API and the static frontend, one FastAPI application."""
