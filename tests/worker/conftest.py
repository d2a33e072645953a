from tests.helpers.rounds import loop_db  # noqa: F401  (a fixture: rounds in-process on SQLite)
from tests.helpers.tiny_clip import tiny_clip  # noqa: F401  (a fixture: a CLIP judge's weights directory)
