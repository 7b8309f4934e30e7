"""Message and prompt templates: files under prompts/, filled in strictly.

A template names its variables as $name. Filling one with a variable missing is an error, so
a typo in a template shows up in the tests, not in front of a user. `defaults` are the values
every template may use (the deployer's name, scope and contacts: see `deployer.py`).
"""

from __future__ import annotations

from pathlib import Path
from string import Template


class Prompts:
    def __init__(self, folder: Path, defaults: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.defaults = dict(defaults or {})
        self._cache: dict[str, Template] = {}

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.md"))

    def render(self, name: str, **values: object) -> str:
        if name not in self._cache:
            path = self.folder / f"{name}.md"
            self._cache[name] = Template(path.read_text(encoding="utf-8").strip())
        return self._cache[name].substitute(self.defaults | values)  # KeyError on a missing variable
