"""The book's table of contents (_toc.yml): its pages in reading order.

    toc_pages(root)      # [Page(name="intro", source=book/intro.md, ...), Page(name="fig4", ...), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drnlib.errors import ParameterError
from drnlib.files import read_yaml

BOOK_DIR = "book"
PAGE_SUFFIXES = (".ipynb", ".md")


@dataclass(frozen=True)
class Page:
    name: str  # file stem, e.g. "fig4"; also the name of its params and results files
    source: Path  # book/fig4.ipynb or book/intro.md
    toc_entry: str  # "book/fig4"

    @property
    def is_notebook(self) -> bool:
        return self.source.suffix == ".ipynb"


# The table of contents.


def _toc_files(node) -> list[str]:
    """Every `file:` entry of a _toc.yml structure, in reading order (root first)."""
    if isinstance(node, dict):
        found = [node["root"]] if "root" in node else []
        if "file" in node:
            found.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                found += _toc_files(child)
        return found
    return []


def toc_pages(root: Path) -> list[Page]:
    """The pages of _toc.yml that exist as .ipynb or .md files, in order (each once)."""
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise ParameterError(f"no _toc.yml in {root}: run from the repository (or pass --root)")
    toc = read_yaml(toc_path, "table of contents")
    pages, names = [], {}
    for entry in dict.fromkeys(_toc_files(toc)):
        candidates = [root / f"{entry}{suffix}" for suffix in PAGE_SUFFIXES if (root / f"{entry}{suffix}").is_file()]
        if not candidates:
            raise ParameterError(f"_toc.yml names {entry!r}, but neither {entry}.ipynb nor {entry}.md exists")
        if len(candidates) > 1:
            raise ParameterError(f"_toc.yml entry {entry!r} is ambiguous: both .ipynb and .md exist")
        page = Page(name=Path(entry).name, source=candidates[0], toc_entry=entry)
        if page.name in names:
            raise ParameterError(f"two pages are called {page.name!r}: {names[page.name]} and {entry}")
        names[page.name] = entry
        pages.append(page)
    return pages


__all__ = ["BOOK_DIR", "PAGE_SUFFIXES", "Page", "toc_pages"]
