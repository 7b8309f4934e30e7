"""Word files and PDFs are read in a child process with a memory and a time budget: a file built to
exhaust the server (a zip bomb, a PDF whose streams unpack to gigabytes, a page that takes minutes)
costs that child, which is stopped, never the server answering people.

The child is a fresh Python (`python -m assistant.corpus.sandbox`, about 0.2 s to start and import
the parsers), limited by `resource.setrlimit` (RLIMIT_AS: its address space; RLIMIT_CPU: a backstop)
and killed by the parent when the time is up. The document goes in on its standard input and the
text comes back as JSON on its standard output: no temporary file is ever written. Markdown, text
and HTML are read in the server's own process: they are size-limited and nothing in them unpacks.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus.documents import UnreadableDocument

log = logging.getLogger(__name__)

ISOLATED = (".docx", ".pdf")  # the kinds that unpack, or whose parser can be made to work hard
NEAR_LIMIT = 32 * 2**20  # a failure this close to the memory limit is taken for running out of it
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the folder holding `assistant/`


@dataclass(frozen=True)
class ParseBudget:
    """What reading one document may use (ASSISTANT_MAX_UNPACKED_MB, ASSISTANT_PARSE_MEMORY_MB,
    ASSISTANT_PARSE_SECONDS)."""

    max_unpacked: int = 100_000_000
    memory_bytes: int = 1024 * 1024 * 1024
    seconds: float = 60.0
    isolate: bool = True  # False: in this process (only for callers that trust their files)

    @classmethod
    def from_settings(cls, settings) -> ParseBudget:
        return cls(
            max_unpacked=int(settings.max_unpacked_mb * 1_000_000),
            memory_bytes=int(settings.parse_memory_mb * 1024 * 1024),
            seconds=float(settings.parse_seconds),
        )


class ChildFailed(UnreadableDocument):
    """The child could not read the document within its budget; the message says which limit."""


def parse_in_child(suffix: str, raw: bytes, budget: ParseBudget) -> tuple[str, dict]:
    """(Markdown text, metadata) read by a child process; ChildFailed or UnreadableDocument otherwise."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    command = [
        sys.executable,
        "-m",
        "assistant.corpus.sandbox",
        suffix,
        str(budget.memory_bytes),
        str(budget.max_unpacked),
        str(budget.seconds),
    ]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=PACKAGE_ROOT
    )
    try:
        out, _ = proc.communicate(raw, timeout=budget.seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ChildFailed(f"it took more than {budget.seconds:g} seconds to read (ASSISTANT_PARSE_SECONDS)") from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    try:
        result = json.loads(out) if out else {}
    except ValueError:
        result = {}
    if "text" in result:
        return result["text"], result.get("meta") or {}
    if "refused" in result:
        raise UnreadableDocument(result["refused"])
    if result.get("memory") or proc.returncode != 0 and not result:
        log.warning("Reading a %s stopped (exit %s) within %d MB", suffix, proc.returncode, budget.memory_bytes >> 20)
        raise ChildFailed(
            f"reading it needed more than the {budget.memory_bytes / 2**20:,.0f} MB of memory allowed "
            "(ASSISTANT_PARSE_MEMORY_MB)"
        )
    raise ChildFailed(f"it could not be read ({result.get('failed', 'the reader stopped')})")


def main(argv: list[str]) -> int:
    """The child: limits first, then the parser, the document from stdin, JSON to stdout."""
    import resource

    suffix, memory, max_unpacked, seconds = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    logging.disable(logging.CRITICAL)  # a damaged PDF can warn millions of times
    import warnings

    warnings.simplefilter("ignore")
    from assistant.corpus.documents import parse_here

    raw = sys.stdin.buffer.read()
    try:
        text, meta = parse_here(suffix, raw, max_unpacked)
        result = {"text": text, "meta": {k: str(v) for k, v in meta.items() if v is not None}}
    except UnreadableDocument as err:
        result = {"refused": str(err)}
    except MemoryError:
        result = {"memory": True}
    except Exception as err:  # a parser's own failure on a broken file: its kind, shortly
        # A C library (lxml) out of memory raises its own error ("unknown error"): it was the
        # memory if the process's address space came within a few MB of its limit.
        result = (
            {"memory": True}
            if _peak_bytes() > memory - NEAR_LIMIT
            else {"failed": f"{type(err).__name__}: {err}"[:300]}
        )
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


def _peak_bytes() -> int:
    """This process's largest address space so far (VmPeak), 0 where /proc does not say."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
