"""Real servers for tests: `assistant serve`, `chroma run` and `redis-server` on free 127.0.0.1 ports, stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT

CHROMA = Path(sys.executable).parent / "chroma"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server and everything it started (its own process group), by its PID."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def start_chroma(path: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    port = port or free_port()
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_port(port)
    return proc, port


def start_redis(port: int | None = None) -> tuple[subprocess.Popen, int]:
    """A throw-away Redis (Debian's redis-server): nothing saved, stopped by its PID."""
    port = port or free_port()
    proc = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_port(port)
    return proc, port


def assistant_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"})
    env.update({f"ASSISTANT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args], capture_output=True, env=env, cwd=ROOT, timeout=timeout
    )


class App:
    """`assistant serve` in its own process group; `read_only` serves with the data folder mounted
    read-only (a private mount namespace: root ignores file modes, a read-only mount it cannot)."""

    def __init__(self, env: dict[str, str], workers: int = 1, read_only: Path | None = None, log: Path | None = None):
        self.port = free_port()
        env = {**env, "ASSISTANT_HOST": "127.0.0.1", "ASSISTANT_PORT": str(self.port)}
        command = [sys.executable, "-m", "assistant.cli", "serve", "--workers", str(workers)]
        if read_only is not None:
            mount = f'mount --bind {read_only} {read_only} && mount -o remount,bind,ro {read_only} && exec "$@"'
            command = ["unshare", "-m", "sh", "-c", mount, "sh", *command]
        self.log_path = log
        out = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def wait_ready(self, seconds: float = 90) -> App:
        """Until it answers at all (its health may still be 503: that is what some tests check)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log()}")
            try:
                self.http.get("/healthz")
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("the server did not start")

    def ask(self, question: str, **extra) -> httpx.Response:
        return self.http.post("/api/ask", json={"question": question, **extra})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self) -> None:
        self.http.close()
        stop(self.proc)


def can_mount_read_only(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp / "ro-probe"
    probe.mkdir(parents=True, exist_ok=True)  # a clean clone has no .pytest_cache yet
    script = f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe} && ! touch {probe}/x"
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True).returncode == 0
