"""A local folder, watched recursively: its regular files, each once until its size or time changes.

No parser: the crawler walks the folder, and every file is probed by content (not by name) when it
is analysed, so a folder may hold anything. Hidden files and folders (a leading dot) are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def walk(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Regular files under ``root`` in a stable order, with their stat; unreadable folders are passed over."""
    for directory, folders, files in os.walk(root, onerror=lambda _error: None):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(directory) / name
            try:
                status = path.stat()
            except OSError:
                continue
            if path.is_file():
                yield path, status
