from tests.api.conftest import admin, alice, bob, client  # noqa: F401  (the API fixtures, for drills over REST)
from tests.helpers.rounds import loop_db  # noqa: F401  (a fixture: rounds in-process on SQLite)
