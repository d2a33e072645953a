from tests.helpers.rounds import loop_db  # noqa: F401  (a fixture: rounds in-process on SQLite)
