"""A progress bar on stderr for commands over many items, shown only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Yields ``advance(label)``; silent when disabled or when stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[label]}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("scanning", total=total, label="")
        yield lambda label: progress.update(task, advance=1, label=label[-60:])


@contextmanager
def spinner(description: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Like :func:`progress_bar` for work of unknown size: a spinner, a count and the last item."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _label: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description} {task.completed} done"), TimeElapsedColumn(),
               TextColumn("{task.fields[label]}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=None, label="")
        yield lambda label: progress.update(task, advance=1, label=label[-60:])
