"""The guard in a real server (`assistant serve` on 127.0.0.1), driven over raw sockets: slow and
unfinished bodies, an oversized chunked body, and forwarded addresses nobody configured."""

from __future__ import annotations

import socket
import statistics
import time

import httpx
import pytest

from tests.servers import App, assistant_env

QUESTION = "Does it cost anything to qualify onto the Dynamic Framework?"
HELD = 100  # unfinished bodies held open at once (the audit's attack used 64)
BODY_SECONDS = 4  # ASSISTANT_BODY_TIMEOUT_S for this server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guard-served")
    env = assistant_env(tmp / "data", embedder="hashing", rate_limit="", body_timeout_s=BODY_SECONDS)
    app = App(env, log=tmp / "app.log").wait_ready()
    try:
        yield app
    finally:
        app.stop()


def connect(app: App) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    return s


def read_until_closed(s: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What the server sent, and whether it closed the connection within `seconds`."""
    s.settimeout(0.2)
    out, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return out, True
        if not chunk:
            return out, True
        out += chunk
    return out, False


def timed_ask(app: App) -> tuple[int, float]:
    start = time.perf_counter()
    r = app.ask(QUESTION)
    return r.status_code, time.perf_counter() - start


def test_unfinished_bodies_hold_no_answering_slot_and_get_a_408(served):
    for _ in range(5):
        timed_ask(served)  # warm
    before = [timed_ask(served) for _ in range(10)]
    assert all(code == 200 for code, _ in before)
    held = []
    try:
        for _ in range(HELD):  # headers promise 200 bytes; 14 arrive, the rest never does
            s = connect(served)
            s.sendall(
                b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 200\r\n\r\n{"question": "'
            )
            held.append(s)
        slow_headers = []
        for _ in range(20):  # and some that never finish their headers (uvicorn has no time limit for these)
            s = connect(served)
            s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow_headers.append(s)
        time.sleep(0.3)  # every held request has reached the server
        during = [timed_ask(served) for _ in range(10)]  # another client, at a normal pace, meanwhile
        codes = [code for code, _ in during]
        assert codes == [200] * 10, f"another client was refused while bodies were held: {codes}"
        p50_before = statistics.median(t for _, t in before)
        p50_during = statistics.median(t for _, t in during)
        print(
            f"\nanswer p50 before {p50_before * 1000:.0f} ms, while {HELD} bodies were held {p50_during * 1000:.0f} ms"
        )
        assert max(t for _, t in during) < 1.0

        # The unfinished bodies are cut off when their time is up: a 408 that says so, and closed.
        start = time.monotonic()
        timed_out = 0
        for s in held:
            out, closed = read_until_closed(s, BODY_SECONDS + 5 - (time.monotonic() - start))
            assert closed, "the server kept waiting for a body that never came"
            head, _, body = out.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 408"):
                assert b'"code":"request_timeout"' in body and b"did not arrive in time" in body
                timed_out += 1
        print(f"{timed_out} of {HELD} unfinished bodies got a 408 within {time.monotonic() - start:.1f} s")
        assert timed_out == HELD
        assert served.ask(QUESTION).status_code == 200
    finally:
        for s in held + locals().get("slow_headers", []):
            s.close()


def test_a_chunked_body_over_the_limit_gets_a_413_with_the_plain_message(served):
    body = b'{"question": "' + b"x" * 1_000_000 + b'"}'
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536)
    )
    for path in ("/api/ask", "/api/ask/stream", "/api/feedback"):
        s = connect(served)
        try:
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            try:
                s.sendall(chunks + b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading once it had seen too much
            out, closed = read_until_closed(s, 10)
        finally:
            s.close()
        head, _, rest = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), (path, head[:40])
        assert b'{"error":{"code":"too_large","message":"The request is too large: at most 256 KB."}}' in rest
        assert closed, f"{path}: the connection was left open after the 413"


def test_forwarded_addresses_are_not_believed_unless_configured(tmp_path):
    """ASSISTANT_CLIENT_IP_HEADER unset: two 'clients' on 127.0.0.1 that name different addresses in
    X-Forwarded-For are one client, with one rate limit."""
    env = assistant_env(tmp_path / "data", embedder="hashing", rate_limit="2/minute")
    app = App(env, log=tmp_path / "app.log").wait_ready()
    try:
        codes = []
        for i in range(4):
            forwarded = {"X-Forwarded-For": f"10.0.0.{i % 2 + 1}"}
            r = httpx.post(f"{app.base}/api/ask", json={"question": QUESTION}, headers=forwarded, timeout=30)
            codes.append(r.status_code)
        assert codes == [200, 200, 429, 429], codes
    finally:
        app.stop()
