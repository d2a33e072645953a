"""Database: SQLAlchemy 2.x models and sessions. Postgres in production, SQLite by default."""
