"""Guessing the console's password, against a real server (`assistant serve`, two worker processes
sharing the records database: SQLite, or PostgreSQL): a burst of concurrent wrong passwords gets
no more checks than the limit allows, the refusals are in the audit log, and the editor, from
another address, still logs in at once. Addresses are told apart as behind a reverse proxy
(`ASSISTANT_CLIENT_IP_HEADER`; the test's 127.0.0.1 is a trusted proxy)."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.servers import App, assistant_env, run_cli

PASSWORD = "the console passphrase for the login tests"
ADMIN = ("admin", PASSWORD)
ATTEMPTS = 5  # ASSISTANT_ADMIN_LOGIN_ATTEMPTS's default
BURST = 60


def start(tmp_path, db_url=None, workers=2, **settings) -> App:
    values = {
        "embedder": "hashing",
        "rate_limit": "",
        "admin_password": PASSWORD,
        "client_ip_header": "X-Forwarded-For",
        **settings,
    }
    if db_url and db_url.startswith("postgresql"):
        values["database_url"] = db_url
    env = assistant_env(tmp_path / "data", **values)
    assert run_cli(env, "ingest").returncode == 0
    return App(env, workers=workers, log=tmp_path / "app.log").wait_ready()


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def burst(count: int, send) -> list[httpx.Response]:
    """`count` requests sent at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(count)

    def one(i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            return send(client, i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def login_form(app: App, client: httpx.Client, password: str, address: str) -> httpx.Response:
    page = client.get(app.base + "/admin/login", headers=from_address(address))
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        app.base + "/admin/login",
        data={"password": password, "csrf": token},
        headers=from_address(address),
        follow_redirects=False,
    )


def audit(app: App, address: str) -> list[dict]:
    return app.http.get("/api/admin/audit", auth=ADMIN, headers=from_address(address)).json()["entries"]


def test_concurrent_wrong_passwords_are_not_all_checked_and_the_editor_still_gets_in(tmp_path, db_url):
    app = start(tmp_path, db_url)
    try:
        # 60 wrong passwords at once over HTTP Basic from one address, and 60 through the login form
        # from another: each address has its 5 checked; every other is refused unchecked.
        api = burst(
            BURST,
            lambda c, i: c.get(
                app.base + "/api/admin/documents", auth=("admin", f"guess {i}"), headers=from_address("203.0.113.1")
            ),
        )
        form = burst(BURST, lambda c, i: login_form(app, c, f"guess {i}", "203.0.113.2"))
        for responses in (api, form):
            statuses = sorted(r.status_code for r in responses)
            assert set(statuses) <= {401, 429}, statuses
            assert statuses.count(401) <= ATTEMPTS, statuses  # checked (and wrong)
            assert statuses.count(429) >= BURST - ATTEMPTS, statuses  # refused without a check
            assert all(int(r.headers["retry-after"]) > 0 for r in responses if r.status_code == 429)
        assert "Too many failed logins from here" in next(r.text for r in form if r.status_code == 429)

        # The right password from the guessing address waits too (that address's back-off)...
        assert app.http.get("/api/admin/documents", auth=ADMIN, headers=from_address("203.0.113.1")).status_code == 429
        # ...but from the editor's address it is checked at once: by the form and by HTTP Basic.
        with httpx.Client(timeout=30) as editor:
            assert login_form(app, editor, PASSWORD, "198.51.100.7").status_code == 303
        ok = app.http.get("/api/admin/documents", auth=ADMIN, headers=from_address("198.51.100.7"))
        assert ok.status_code == 200, ok.text

        entries = audit(app, "198.51.100.7")
        for who in ("api 203.0.113.1", "console 203.0.113.2"):
            mine = [e["action"] for e in entries if e["who"] == who]
            assert 1 <= mine.count("login_failed") <= ATTEMPTS, (who, mine)
            assert "login_throttled" in mine, (who, mine)  # refusals are audited (once a minute, per process)
        assert any(e["who"] == "console 198.51.100.7" and e["action"] == "login" for e in entries)
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_guessing_from_many_addresses_slows_every_address_but_locks_nobody_out(tmp_path):
    """Ten times the allowed failures from all addresses together: every address now waits after
    one wrong try; an address with no failure still has its first try checked, so the editor logs in."""
    attempts = 2
    app = start(tmp_path, workers=1, admin_login_attempts=attempts)
    try:
        for n in range(attempts * 10):  # ten addresses, two wrong tries each
            address = f"203.0.113.{10 + n // attempts}"
            wrong = app.http.get("/api/admin/documents", auth=("admin", "guess"), headers=from_address(address))
            assert wrong.status_code == 401, (n, wrong.text)
        # A new address: its first wrong try is checked; the second is refused (not two any more).
        fresh = from_address("203.0.113.99")
        assert app.http.get("/api/admin/documents", auth=("admin", "x"), headers=fresh).status_code == 401
        refused = app.http.get("/api/admin/documents", auth=("admin", "y"), headers=fresh)
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 10
        # The editor, from an address of their own, is not locked out.
        with httpx.Client(timeout=30) as editor:
            assert login_form(app, editor, PASSWORD, "198.51.100.7").status_code == 303
        assert app.http.get("/api/admin/documents", auth=ADMIN, headers=from_address("198.51.100.8")).status_code == 200
    finally:
        app.stop()
