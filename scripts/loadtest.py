"""Load test: many clients at once, and one greedy client, against a real server on 127.0.0.1.

Run with `make loadtest` (or `python scripts/loadtest.py --workers 2`). It indexes the corpus into a
temporary folder, starts `assistant serve` on a free 127.0.0.1 port (its own process, stopped by
its PID at the end), and runs two bounded phases:

1. throughput: 32 connections, each asking one question after another, for a fixed number of
   questions, on behalf of 1,024 people (a person's address is in X-Forwarded-For, so the
   per-client rate limit applies to people, as behind a reverse proxy); prints answers/s, errors,
   p50 and p95, and the server's CPU time per answer;
2. fairness: one greedy client keeps 64 questions in flight while another asks at a normal pace;
   prints the other client's p50/p95 and what the greedy one got (answers, 429s, 503s).

Each simulated person has their own address, given in X-Forwarded-For as a reverse proxy would
(the server is started with ASSISTANT_CLIENT_IP_HEADER set). Not a test: the numbers depend on the
machine and on what else runs on it. `--root DIR` measures another checkout (e.g. before a change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from questions import QUESTIONS  # noqa: E402  (scripts/ is on the path when run as a script)

MAX_SECONDS = 120  # every phase stops by then, whatever happens
PEOPLE = 1024  # the throughput phase's questions come from this many addresses (each within its rate limit)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, python: Path, data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_HOST": "127.0.0.1",
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_WORKERS": str(workers),
        "ASSISTANT_CLIENT_IP_HEADER": "X-Forwarded-For",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.Popen(
        [str(python), "-m", "assistant.cli", "serve"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its workers are stopped with it
    )


def server_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every process of the server's group, from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


async def wait_ready(base: str, deadline: float) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        while time.time() < deadline:
            try:
                r = await client.post(f"{base}/api/ask", json={"question": QUESTIONS[0]}, timeout=5)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("The server did not answer within the time allowed.")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def throughput(base: str, clients: int, total: int, network: int = 1) -> dict:
    import httpx

    latencies: list[float] = []
    codes: dict[int, int] = {}
    remaining = [total]
    stop_at = time.perf_counter() + MAX_SECONDS

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = n
        while remaining[0] > 0 and time.perf_counter() < stop_at:
            remaining[0] -= 1
            # 32 connections on behalf of many people: each question comes from one of PEOPLE addresses
            person = (n * 97 + i * 31) % PEOPLE
            headers = {"X-Forwarded-For": f"10.{network}.{person // 250}.{person % 250 + 1}"}
            started = time.perf_counter()
            code = await ask_once(http, base, QUESTIONS[i % len(QUESTIONS)], headers)
            latencies.append((time.perf_counter() - started) * 1000)
            codes[code] = codes.get(code, 0) + 1
            i += 1

    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(n, http) for n in range(clients)))
        wall = time.perf_counter() - started
    ok = codes.get(200, 0)
    return {
        "clients": clients,
        "requests": sum(codes.values()),
        "answers_per_s": round(ok / wall, 1),
        "errors": sum(v for k, v in codes.items() if k != 200),
        "codes": codes,
        "p50_ms": round(pct(latencies, 0.5), 1),
        "p95_ms": round(pct(latencies, 0.95), 1),
    }


async def ask_once(http, base: str, question: str, headers: dict) -> int:
    """One question to /api/ask: its HTTP status, or 0 when the connection failed."""
    import httpx

    try:
        return (await http.post(f"{base}/api/ask", json={"question": question}, headers=headers)).status_code
    except httpx.HTTPError:
        return 0


async def fairness(base: str, in_flight: int, seconds: float, other_requests: int) -> dict:
    import httpx

    stop = asyncio.Event()
    greedy_codes: dict[int, int] = {}
    other: list[float] = []
    other_codes: dict[int, int] = {}

    async def greedy_worker(http: httpx.AsyncClient, n: int) -> None:
        headers = {"X-Forwarded-For": "10.9.9.9"}
        i = n
        while not stop.is_set():
            code = await ask_once(http, base, QUESTIONS[i % len(QUESTIONS)], headers)
            greedy_codes[code] = greedy_codes.get(code, 0) + 1
            i += 1

    async def polite(http: httpx.AsyncClient) -> None:
        await asyncio.sleep(1.0)  # let the greedy client fill its 64 slots first
        headers = {"X-Forwarded-For": "10.2.2.2"}
        for i in range(other_requests):
            started = time.perf_counter()
            code = await ask_once(http, base, QUESTIONS[i % len(QUESTIONS)], headers)
            other.append((time.perf_counter() - started) * 1000)
            other_codes[code] = other_codes.get(code, 0) + 1
            await asyncio.sleep(0.25)  # a person (or a page) asking now and then
        stop.set()

    limits = httpx.Limits(max_connections=in_flight + 8, max_keepalive_connections=in_flight + 8)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        workers = [asyncio.create_task(greedy_worker(http, n)) for n in range(in_flight)]
        timed_out = False
        try:
            await asyncio.wait_for(polite(http), timeout=min(MAX_SECONDS, seconds + 60))
        except TimeoutError:
            timed_out = True  # the polite client could not finish its questions in time: say so
        finally:
            stop.set()
            await asyncio.wait(workers, timeout=30)
    return {
        "greedy_in_flight": in_flight,
        "greedy_codes": greedy_codes,
        "other_codes": other_codes,
        "other_p50_ms": round(pct(other, 0.5), 1),
        "other_p95_ms": round(pct(other, 0.95), 1),
        "other_asked": len(other),
        "other_timed_out": timed_out,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(ROOT), help="the checkout to serve")
    parser.add_argument("--python", default=None, help="its Python (default: ROOT/.venv/bin/python)")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=1500, help="questions in the throughput phase")
    parser.add_argument("--greedy", type=int, default=64, help="the greedy client's questions in flight")
    parser.add_argument("--other", type=int, default=60, help="the other client's questions in the fairness phase")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    python = Path(args.python) if args.python else root / ".venv" / "bin" / "python"

    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
        subprocess.run(
            [str(python), "-m", "assistant.cli", "ingest"], cwd=root, env=env, check=True, capture_output=True
        )
        port = free_port()
        proc = start_server(root, python, data, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_ready(base, time.time() + 90))
            asyncio.run(throughput(base, args.clients, 64, network=3))  # warm every worker
            result = {"root": str(root), "workers": args.workers, "load_average": os.getloadavg()[0]}
            cpu_before, client_before = server_cpu_seconds(proc.pid), time.process_time()
            result["throughput"] = asyncio.run(throughput(base, args.clients, args.requests))
            answers = result["throughput"]["codes"].get(200, 0) or 1
            result["throughput"]["server_cpu_ms_per_answer"] = round(
                (server_cpu_seconds(proc.pid) - cpu_before) * 1000 / answers, 1
            )
            result["throughput"]["client_cpu_ms_per_answer"] = round(
                (time.process_time() - client_before) * 1000 / answers, 1
            )
            result["fairness"] = asyncio.run(fairness(base, args.greedy, 10, args.other))
        finally:
            stop_server(proc)
    t, f = result["throughput"], result["fairness"]
    print(
        f"throughput: {t['clients']} clients, {t['requests']} questions: {t['answers_per_s']} answers/s, "
        f"{t['errors']} errors, p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms  {t['codes']}; "
        f"server CPU {t['server_cpu_ms_per_answer']} ms/answer (this client {t['client_cpu_ms_per_answer']}); "
        f"load average before: {result['load_average']:.2f}"
    )
    print(
        f"fairness: a greedy client with {f['greedy_in_flight']} in flight got {f['greedy_codes']}; "
        f"another client's p50 {f['other_p50_ms']} ms, p95 {f['other_p95_ms']} ms  {f['other_codes']}"
        + (f" (only {f['other_asked']} asked before the time ran out)" if f["other_timed_out"] else "")
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
