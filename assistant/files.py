"""Files written whole or not at all, and known by their content: shared by the corpus, the console
and the stores."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read a megabyte at a time (model files are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of it: written beside it under a hidden
    name (no reader lists it; an ingest removes any left by a crash), then renamed over it. When
    it cannot be written (a full disk), the hidden file is removed and the old one is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_file(
    folder: Path, name: str, sha256: str, size: int | None, error: type[Exception] | Callable = ValueError
) -> None:
    """`folder/name` has this size and SHA-256, or `error(message)` is raised, naming it (by `name`,
    which may hold a subfolder) and what is wrong."""
    path, where = Path(folder) / name, f"'{name}' in {folder}"
    if not path.is_file():
        raise error(f"Model file {where} is missing.")
    try:
        actual_size = path.stat().st_size
        if size is not None and actual_size != size:
            raise error(
                f"Model file {where} has the wrong size ({actual_size:,} bytes, expected {size:,}): truncated or replaced."
            )
        actual = sha256_file(path)
    except OSError as err:
        raise error(f"Model file {where} cannot be read ({err.strerror or err}).") from err
    if actual != sha256:
        raise error(
            f"Model file {where} does not match the expected SHA-256 (got {actual[:12]}..., expected "
            f"{sha256[:12]}...): it was altered or is another version."
        )


def checked_bytes(path: Path, sha256: str | None, error: type[Exception] | Callable = ValueError) -> bytes:
    """The file's bytes, if they have the expected hash: the bytes checked are the bytes used."""
    where = f"'{path.name}' in {path.parent}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"Model file {where} is missing.") from None
    except OSError as err:
        raise error(f"Model file {where} cannot be read ({err.strerror or err}).") from err
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise error(f"Model file {where} does not match the expected SHA-256: it was altered.")
    return data
