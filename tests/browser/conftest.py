from tests.integration.conftest import live_stack  # noqa: F401 - the same running stack
