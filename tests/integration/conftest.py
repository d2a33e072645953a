import pytest

from tests.helpers.stack import Service, dpoloop, stack_env, wait_until


@pytest.fixture
def live_stack(pg_settings, embedded_model, tmp_path):
    """API + Celery worker + beat on Postgres and Redis, as separate processes, with a small pool."""
    import httpx

    port, env = stack_env(pg_settings, embedded_model, pool_target=6, pool_batch=3, pool_interval_s=1,
                          default_steps=12)  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    services = [
        Service("api", dpoloop("api"), env, logs),
        Service("worker", dpoloop("worker", "--name", "test-worker@%h"), env, logs),
        Service("beat", dpoloop("beat"), env, logs),
    ]
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=services[0])
    yield {"base_url": base, "services": services, **pg_settings}
    for service in services:
        service.stop()
