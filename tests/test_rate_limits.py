"""Rate limits with several worker processes (`serve --workers 2`): counted in each process without a
shared store, counted once for all with one (a real, throw-away Redis), and answering goes on when
that store goes away."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assistant.web.rate_limits import RateLimits
from tests.servers import REDIS, App, assistant_env, free_port, start_redis, stop

QUESTION = "Does it cost anything to qualify onto the Dynamic Framework?"
LIMIT = 3  # questions a minute per client, for these servers
REQUESTS = 40  # from one client, each on its own connection, 8 at a time


def ask_on_new_connections(app: App, count: int = REQUESTS) -> list[int]:
    """One client (127.0.0.1) asking `count` times, each on a new connection (so both workers take some)."""

    def ask(_):
        r = httpx.post(f"{app.base}/api/ask", json={"question": QUESTION}, headers={"Connection": "close"}, timeout=30)
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(ask, range(count)))


def workers_app(tmp: Path, **settings) -> App:
    env = assistant_env(tmp / "data", embedder="hashing", rate_limit=f"{LIMIT}/minute", **settings)
    return App(env, workers=2, log=tmp / "app.log").wait_ready()


def test_without_a_shared_store_each_of_two_workers_counts_on_its_own(tmp_path):
    """Both workers answer, each with its own count: one client gets more than the limit, at most
    twice it (the per-process limit the README states)."""
    app = workers_app(tmp_path)
    try:
        codes = ask_on_new_connections(app)
        accepted = codes.count(200)
        assert set(codes) <= {200, 429}
        print(f"\nwithout a shared store: {accepted} of {len(codes)} accepted (limit {LIMIT} per process, 2 processes)")
        assert LIMIT < accepted <= 2 * LIMIT
    finally:
        app.stop()


@pytest.fixture
def redis():
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (apt-get install -y redis-server); `make test` installs it")
    proc, port = start_redis()
    try:
        yield proc, port
    finally:
        stop(proc)


def test_a_shared_store_holds_a_clients_rate_across_workers_and_answering_survives_its_loss(tmp_path, redis):
    proc, port = redis
    app = workers_app(tmp_path, rate_limit_storage=f"redis://127.0.0.1:{port}")
    try:
        codes = ask_on_new_connections(app)
        print(
            f"\nwith the shared store: {codes.count(200)} of {len(codes)} accepted (limit {LIMIT} for both processes)"
        )
        assert codes.count(200) == LIMIT and codes.count(429) == len(codes) - LIMIT

        stop(proc)  # the store goes away mid-run: questions are answered (uncounted), never an error
        after = ask_on_new_connections(app, 20)
        assert after == [200] * 20, after
        log = app.log()
        assert "Traceback" not in log
        warnings = log.count("The shared rate-limit store")
        assert 1 <= warnings <= 2, log  # once per worker that noticed, not once per request
    finally:
        app.stop()


def test_an_unreachable_store_lets_questions_through_with_one_warning(caplog):
    limits = RateLimits("1/minute", f"redis://:secret@127.0.0.1:{free_port()}")  # nothing listens there
    with caplog.at_level("WARNING", logger="assistant.web.rate_limits"):
        waits = asyncio.run(asyncio.wait_for(_acquire_many(limits, 5), 10))
    assert waits == [None] * 5  # answered, not refused
    assert len(caplog.records) == 1 and "cannot be reached" in caplog.records[0].getMessage()
    assert "secret" not in caplog.text


async def _acquire_many(limits, count):
    return [await limits.acquire("203.0.113.5") for _ in range(count)]


def test_a_storage_that_is_not_one_is_refused_plainly():
    with pytest.raises(ValueError, match="ASSISTANT_RATE_LIMIT_STORAGE is not a storage"):
        RateLimits("1/minute", "nosuchstore://127.0.0.1")
