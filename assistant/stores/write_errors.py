"""What a failed write means for the person who asked for it: the disk is full, or the folder (or
the database) cannot be written at all. Files, SQLite and PostgreSQL each say so in their own way;
`kind_of` reads all of them, following an error's causes."""

from __future__ import annotations

import errno

DISK_FULL = "disk_full"
READ_ONLY = "read_only"

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded", "could not extend file")
_READ_ONLY_WORDS = (
    "readonly database",
    "read-only file system",
    "read-only database",
    "unable to open database file",
    "read-only transaction",
    "permission denied",
)
_PG_CODES = {"53100": DISK_FULL, "53400": DISK_FULL, "25006": READ_ONLY, "42501": READ_ONLY}


def kind_of(err: BaseException | None) -> str | None:
    """DISK_FULL, READ_ONLY, or None for any other failure."""
    seen = 0
    while err is not None and seen < 10:
        seen += 1
        if isinstance(err, OSError) and err.errno in _FULL_ERRNOS:
            return DISK_FULL
        if isinstance(err, OSError) and err.errno in _READ_ONLY_ERRNOS:
            return READ_ONLY
        code = getattr(err, "sqlstate", None) or getattr(getattr(err, "orig", None), "sqlstate", None)
        if code in _PG_CODES:
            return _PG_CODES[code]
        text = str(err).lower()
        if any(w in text for w in _FULL_WORDS):
            return DISK_FULL
        if any(w in text for w in _READ_ONLY_WORDS):
            return READ_ONLY
        err = getattr(err, "orig", None) or err.__cause__ or err.__context__
    return None


def plain_reason(err: BaseException) -> str | None:
    """A sentence for a person when the failure is a full or read-only disk, else None."""
    kind = kind_of(err)
    if kind == DISK_FULL:
        return "The server's disk is full."
    if kind == READ_ONLY:
        return "The server's data or guidance folder cannot be written (it is read-only)."
    return None


def short_reason(err: BaseException) -> str:
    """What went wrong in a few words, for /healthz: never the error's own text (it may name paths)."""
    return {DISK_FULL: "the disk is full", READ_ONLY: "it is read-only"}.get(kind_of(err) or "", type(err).__name__)
