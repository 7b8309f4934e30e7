"""The files Gradio's upload route writes for the console (`/admin/gradio_api/upload`): kept in the
data folder (`console-uploads/`, Gradio's GRADIO_TEMP_DIR for this app), removed as soon as the
console has taken the file or refused it, and any left behind (an upload no change followed) are
swept away after KEEP_SECONDS, at start and then every SWEEP_SECONDS."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = "console-uploads"
KEEP_SECONDS = 600.0
SWEEP_SECONDS = 300.0


def upload_folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


def discard(path: str | Path, folder: Path) -> None:
    """Remove an uploaded file and the folder Gradio made for it (only ever inside `folder`)."""
    path = Path(path)
    try:
        root = folder.resolve()
        resolved = path.resolve()
        if not resolved.is_relative_to(root) or resolved == root:
            path.unlink(missing_ok=True)  # not one of ours: at least the file goes, as before
            return
        resolved.unlink(missing_ok=True)
        parent = resolved.parent
        while parent != root and parent.is_relative_to(root):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent
    except OSError as err:
        log.warning("Could not remove an uploaded file (%s)", err)


def sweep(folder: Path, keep_seconds: float = KEEP_SECONDS, now: float | None = None) -> int:
    """Remove what has been in the folder longer than `keep_seconds`; how many entries went."""
    if not folder.is_dir():
        return 0
    cutoff = (now or time.time()) - keep_seconds
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue
    return removed


def sweep_every(folder: Path, seconds: float = SWEEP_SECONDS) -> None:
    """Sweep now, then every `seconds`, on a daemon thread."""

    def loop() -> None:
        while True:
            try:
                sweep(folder)
            except Exception as err:  # never stop the console for this
                log.warning("Could not sweep %s (%s)", folder, err)
            time.sleep(seconds)

    threading.Thread(target=loop, name="console-uploads-sweep", daemon=True).start()
