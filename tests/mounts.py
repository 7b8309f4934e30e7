"""`assistant serve` on a real small disk (a tmpfs that can be filled up) or with folders mounted
read-only, in a private mount namespace (`unshare -m`: nothing outside the server's process sees
the mounts). The test reaches the server's view of its folders through /proc/<pid>/root."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.servers import App, free_port


def can_mount(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp / "tmpfs-probe"
    probe.mkdir(parents=True, exist_ok=True)
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {probe} && mount --bind {probe} {probe} && mount -o remount,bind,ro {probe}"
    )
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True).returncode == 0


class MountedApp(App):
    """The server with `disk` a tmpfs of `size_mb` holding a copy of `source` (optional), and each
    folder of `read_only` mounted read-only."""

    def __init__(
        self,
        env: dict[str, str],
        disk: Path | None = None,
        size_mb: float = 0,
        source: Path | None = None,
        read_only: tuple[Path, ...] = (),
        log: Path | None = None,
    ):
        self.port = free_port()
        env = {**env, "ASSISTANT_HOST": "127.0.0.1", "ASSISTANT_PORT": str(self.port)}
        steps = []
        if disk is not None:
            steps.append(f"mount -t tmpfs -o size={int(size_mb * 1024)}k tmpfs {disk}")
            if source is not None:
                steps.append(f"cp -a {source}/. {disk}/")
        for folder in read_only:
            steps += [f"mount --bind {folder} {folder}", f"mount -o remount,bind,ro {folder}"]
        script = " && ".join([*steps, 'exec "$@"'])
        command = ["unshare", "-m", "sh", "-c", script, "sh", sys.executable, "-m", "assistant.cli", "serve"]
        self.log_path = log
        out = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.base, timeout=60)

    def seen(self, path: Path) -> Path:
        """A path as the server sees it (inside its mounts)."""
        return Path(f"/proc/{self.proc.pid}/root{path}")


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """Fill the disk holding `folder` until at most `leave_bytes` are free; the filler file."""
    filler = folder / "filler.bin"
    block = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        while True:
            free = shutil.disk_usage(folder).free
            if free <= leave_bytes:
                break
            try:
                f.write(block[: max(4096, min(len(block), free - leave_bytes))])
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                break
    return filler
