import pytest

from tests.helpers.stack import Service, dpoloop, free_port, service_env, wait_until


@pytest.fixture
def live_stack(pg_settings, embedded_model, tmp_path):
    """API + Celery worker + beat on Postgres and Redis, as separate processes, with a small pool."""
    import httpx

    from app.db.session import session_scope
    from app.repo.prompts import seed_shipped_prompts

    with session_scope() as session:
        seed_shipped_prompts(session)
    port = free_port()
    env = service_env(
        database_url=pg_settings["database_url"], broker_url=pg_settings["broker_url"],
        data_dir=pg_settings["data_dir"], base_model=embedded_model, port=port, pool_target=6, pool_batch=3,
        pool_interval_s=1, default_steps=12,
    )  # fmt: skip
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
