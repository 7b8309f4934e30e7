"""The files a console change touches, as they were, kept until the change is indexed: put back if
the ingest fails, or if the server stops before it finishes (found at the next start, see
`Corpus.recover`). Each job's backup is a folder in the data folder (`console-backups/job-<id>`)
with a small JSON file naming each file, its copy, and the index version the change started from.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

INDEX_FILE = "backup.json"


class Backup:
    def __init__(self, folder: Path, saved: list[tuple[Path, Path | None]], index_version: str) -> None:
        self.folder = folder
        self.saved = saved
        self.index_version = index_version

    @classmethod
    def make(cls, folder: Path, paths: list[Path], index_version: str) -> Backup:
        """Copy the files now (raises OSError, leaving nothing, when it cannot)."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved: list[tuple[Path, Path | None]] = []
            for i, path in enumerate(paths):
                if path.exists():
                    copy = folder / str(i)
                    shutil.copy2(path, copy)
                    saved.append((path, copy))
                else:
                    saved.append((path, None))
            listing = {"index_version": index_version, "files": [[str(p), str(c) if c else None] for p, c in saved]}
            (folder / INDEX_FILE).write_text(json.dumps(listing), encoding="utf-8")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(folder, saved, index_version)

    @classmethod
    def read(cls, folder: Path) -> Backup | None:
        """A backup left by a server that stopped; None when it was never completed."""
        try:
            listing = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
            saved = [(Path(p), Path(c) if c else None) for p, c in listing["files"]]
            return cls(folder, saved, listing.get("index_version", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def restore(self) -> bool:
        """Put every file back as it was; False if any could not be."""
        ok = True
        for path, copy in self.saved:
            tmp = path.parent / f".{path.name}.restore.tmp"
            try:
                if copy is None:
                    path.unlink(missing_ok=True)
                else:
                    shutil.copy2(copy, tmp)
                    tmp.replace(path)
            except OSError as err:
                ok = False
                tmp.unlink(missing_ok=True)
                log.error("Could not put %s back (%s)", path, err)
        return ok

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
