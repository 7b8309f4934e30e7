"""Zip-based documents (.docx) checked before any parser opens them: a small file that unpacks to
gigabytes (a "zip bomb") is refused, with a plain message, before it can use the memory.

Two checks. First the zip's own table of contents (its central directory): how many files, how
large they say they are once unpacked, in all and compared with their packed size. Then, because
that table can lie, every file is actually unpacked, a block at a time and thrown away, counting
what comes out, and the count stops at the same limit. Python's `zipfile` also stops a file at the
size the table gives it (a file that unpacks to more fails its checksum), so what a parser reads
afterwards is bounded by what was checked here.
"""

from __future__ import annotations

import io
import zipfile

MAX_RATIO = 200  # unpacked / packed, per file; text XML packs about 5-20 to 1, a bomb 1000 to 1
RATIO_FROM_BYTES = 1_000_000  # files smaller than this unpacked may pack as well as they like
MAX_FILES = 10_000
BLOCK = 1 << 20


class UnsafeArchive(Exception):
    """The archive would unpack to more than the limits allow; the message says how much."""


def check_archive(raw: bytes, max_unpacked: int) -> None:
    """Refuse (UnsafeArchive) a zip that unpacks to more than `max_unpacked` bytes in all, holds
    more than MAX_FILES files, or packs one large file more than MAX_RATIO to 1. A zip that cannot
    be read at all is left to the parser, which says so in its own words."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES:
            raise UnsafeArchive(f"it holds {len(members):,} files; a document may hold at most {MAX_FILES:,}")
        declared = sum(m.file_size for m in members)
        if declared > max_unpacked:
            raise UnsafeArchive(_too_large(declared, max_unpacked))
        for m in members:
            if m.file_size >= RATIO_FROM_BYTES and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                raise UnsafeArchive(
                    f"one of its parts ({m.filename[:60]}) unpacks to {m.file_size / 1e6:,.0f} MB from "
                    f"{m.compress_size / 1e3:,.0f} KB, as only a file built to exhaust the server does"
                )
        unpacked = 0
        for m in members:
            try:
                with archive.open(m) as part:
                    while block := part.read(BLOCK):
                        unpacked += len(block)
                        if unpacked > max_unpacked:
                            raise UnsafeArchive(_too_large(unpacked, max_unpacked, at_least=True))
            except UnsafeArchive:
                raise
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError):
                return  # broken or encrypted: the parser refuses it with its own reason
            except Exception:  # a decompressor's own error on a damaged part: the same
                return


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    return f"it unpacks to {more}{size / 1e6:,.0f} MB; the limit is {limit / 1e6:,.0f} MB (ASSISTANT_MAX_UNPACKED_MB)"
