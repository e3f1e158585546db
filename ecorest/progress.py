"""Progress bars for long work (rich), silent when disabled or not on a terminal."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
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


class StepBar:
    """One progress line for work made of named steps (dbt's models and tests in a run): steps
    done / total, the time elapsed and the steps under way, shortened to fit the terminal.
    ``reset(total, label)`` starts a new series on the same line (the run's checks, then its
    build); ``begin(name)`` / ``end(name)`` as steps start and finish, from any thread. Silent
    when disabled or not on a terminal; the line is removed when the block ends."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self._label = label
        self._enabled = enabled and sys.stderr.isatty()
        self._lock = threading.Lock()
        self._running: list[str] = []
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> StepBar:
        if self._enabled:
            console = Console(stderr=True)
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=16),
                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[now]}"),
                console=console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(escape(self._label), total=None, now="")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _show(self) -> None:
        # label, bar, "123/456", "0:01:23" and spaces take about 45 columns of the width
        room = max(10, self._progress.console.width - len(self._label) - 45)
        now = ", ".join(self._running)
        if len(now) > room:
            now = now[:room - 1] + "…"
        self._progress.update(self._task, now=escape(now))

    def reset(self, total: int, label: str | None = None) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._label = label or self._label
            self._running.clear()
            self._progress.reset(self._task, total=total, description=escape(self._label))
            self._show()

    def begin(self, name: str) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._running.append(name)
            self._show()

    def end(self, name: str) -> None:
        if self._progress is None:
            return
        with self._lock:
            if name in self._running:
                self._running.remove(name)
            self._progress.advance(self._task)
            self._show()
