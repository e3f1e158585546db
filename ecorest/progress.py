"""Progress bars for long work (rich), silent when disabled or not on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _Bar:
    def __init__(self, progress: Progress | None, task) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)


_active: list[Progress] = []


@contextmanager
def progress_bar(description: str, total: float, unit: str = "",
                 enabled: bool = True) -> Iterator[_Bar]:
    """A progress bar on stderr; ``bar.advance(n)`` as work is done.

    Bars opened while another is showing join its display (one line each).
    """
    if not enabled or not sys.stderr.isatty():
        yield _Bar(None, None)
        return
    if _active:
        progress = _active[-1]
        task = progress.add_task(description, total=total)
        try:
            yield _Bar(progress, task)
        finally:
            progress.remove_task(task)
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
               MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        _active.append(progress)
        try:
            task = progress.add_task(description, total=total)
            yield _Bar(progress, task)
        finally:
            _active.pop()
