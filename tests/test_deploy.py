"""The files a deployer copies onto a server (deploy/): the nginx site run in a real nginx in front of
a real `assistant serve`, with HTTPS (a certificate made for the test), and the systemd unit checked
by `systemd-analyze verify`. What a deployer would find wrong first: the chat unreachable, uploads
refused by nginx's 1 MB default, every client sharing one rate limit (or forging its address), the
console's cookie sent over plain HTTP, the streamed answer held back."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.servers import App, assistant_env, free_port, wait_port
from tests.test_console import PASSWORD, SCRIPT

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """`assistant serve` on 127.0.0.1 behind the deploy/ nginx site, as it would run on a server."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install -y nginx); `make test` installs it")
    tmp = tmp_path_factory.mktemp("deploy")
    corpus = tmp / "corpus"  # the console's upload goes here, never into the repository's corpus
    shutil.copytree(ROOT / "corpus", corpus)
    app = App(
        assistant_env(
            tmp / "data",
            corpus_dir=corpus,
            embedder="hashing",
            client_ip_header="X-Forwarded-For",
            admin_password=PASSWORD,
            rate_limit="5/second;120/minute",
        ),  # fmt: skip
        log=tmp / "app.log",
    ).wait_ready()
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    http_port, https_port = free_port(), free_port()
    site = (DEPLOY / "nginx-site.conf").read_text()
    for old, new in (
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("server 127.0.0.1:7860;", f"server 127.0.0.1:{app.port};"),
        ("/etc/letsencrypt/live/assistant.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/assistant.example.org/privkey.pem", str(key)),
    ):
        assert old in site, old  # the test follows the file a deployer copies: it must still say this
        site = site.replace(old, new)
    (tmp / "site.conf").write_text(site)
    user = "user root;" if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0" else ""
    (tmp / "nginx.conf").write_text(
        f"""{user}
daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
    )
    checked = subprocess.run([NGINX, "-t", "-c", str(tmp / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf")], stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_port(https_port)
        yield {"https": f"https://127.0.0.1:{https_port}", "http": f"http://127.0.0.1:{http_port}", "app": app}
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        app.stop()


def client(proxied, source: str = "127.0.0.1") -> httpx.Client:
    """A client at its own address (any 127.x address is this machine), trusting the test's certificate."""
    transport = httpx.HTTPTransport(local_address=source, verify=False)
    return httpx.Client(base_url=proxied["https"], transport=transport, timeout=30)


def test_the_chat_and_its_api_through_nginx_over_https(proxied):
    with client(proxied) as c:
        page = c.get("/")
        assert page.status_code == 200 and "<clinks-chat" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]  # the app's headers pass through
        answer = c.post("/api/ask", json={"question": "What is IASME Gold?"}).json()
        assert "IASME Gold" in answer["answer"] and answer["citations"]
        with c.stream("POST", "/api/ask/stream", json={"question": "What is IASME Gold?"}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = [line for line in stream.iter_lines() if line.startswith("event:")]
        assert events[0] == "event: text" and events[-1] == "event: answer"
    plain = httpx.get(proxied["http"] + "/", follow_redirects=False)
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")


def test_each_client_has_its_own_limit_and_cannot_forge_its_address(proxied):
    with client(proxied, "127.0.0.2") as greedy, client(proxied, "127.0.0.3") as polite:

        def ask(n: int) -> httpx.Response:
            forged = {"X-Forwarded-For": f"10.9.8.{n}"}  # each claiming to be someone else
            return greedy.post("/api/ask", json={"question": "What is a PDU?"}, headers=forged)

        with ThreadPoolExecutor(15) as pool:  # 15 at once: within nginx's burst, so all reach the assistant
            responses = list(pool.map(ask, range(15)))
        refused = [r for r in responses if r.status_code == 429]
        assert all(r.json()["error"]["code"] == "rate_limited" for r in refused)  # the assistant's own limit
        # 5 a second for the one real address: the forged ones did not buy it more questions.
        assert len(refused) >= 8, [r.status_code for r in responses]
        assert polite.post("/api/ask", json={"question": "What is a PDU?"}).status_code == 200


def test_console_uploads_pass_and_its_cookie_is_secure(proxied):
    with client(proxied) as c:
        big = ("# Volunteer handbook\n\n" + "Volunteers sign in at reception before each visit. " * 40_000).encode()
        assert 1_500_000 < len(big) < 10_000_000  # above nginx's 1 MB default, within the assistant's 10 MB
        response = c.post(
            "/api/admin/documents", auth=("admin", PASSWORD), headers=SCRIPT, files={"file": ("handbook.md", big)}
        )
        assert response.status_code == 202, response.text[:300]
        job = response.json()["job"]["id"]
        deadline = time.time() + 120
        while c.get(f"/api/admin/jobs/{job}", auth=("admin", PASSWORD)).json()["job"]["state"] == "running":
            assert time.time() < deadline
            time.sleep(0.3)

        page = c.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        login = c.post("/admin/login", data={"password": PASSWORD, "csrf": token}, follow_redirects=False)
        assert login.status_code in (302, 303), login.text[:300]
        cookie = login.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_is_valid_for_this_checkout(tmp_path):
    unit = (DEPLOY / "clinks-assistant.service").read_text()
    assert "/opt/clinks-assistant/.venv/bin/assistant serve" in unit
    rendered = unit.replace("/opt/clinks-assistant", str(ROOT)).replace(
        "EnvironmentFile=/etc/clinks-assistant.env", f"EnvironmentFile={DEPLOY / 'clinks-assistant.env'}"
    )
    (tmp_path / "clinks-assistant.service").write_text(rendered)
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "clinks-assistant.service")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "clinks-assistant.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert env["ASSISTANT_CLIENT_IP_HEADER"] == "X-Forwarded-For" and env["ASSISTANT_HOST"] == "127.0.0.1"
