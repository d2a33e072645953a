"""Queries and writes shared by the API and the workers, one module per table group."""
