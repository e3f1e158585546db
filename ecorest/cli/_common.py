"""What every command shares: the consoles, logging, the connection options, option parsers.

Every command accepts ``--dsn``, ``--home``, ``-v``/``-q`` and ``--debug`` both before and after
its name (``ecorest --home X db status`` and ``ecorest db status --home X``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable

import click
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from ecorest.settings import ENV_DATABASE_URL, ENV_HOME, Settings

log = logging.getLogger("ecorest")
console = Console(stderr=True)
out = Console()


#: text columns of result tables keep at least this width (a word longer than that is cut
#: over two lines, never with an ellipsis)
TEXT_MIN_WIDTH = 15


class ResultTable:
    """A result table that fits the terminal, 80 columns too: no vertical rules, numeric
    columns right-aligned and never cut or wrapped, text columns (names, factors) wrapped
    between words, each as wide as its longest word up to TEXT_MIN_WIDTH; the title and the
    caption wrap likewise. When the numbers alone are too wide for the terminal, the numeric
    columns (those reaching 1,000) are shown in thousands (k) or millions (M), all of them, and
    the caption says so. Rows left out are counted in the caption (``more_caption``)."""

    def __init__(self, title: str, columns: Iterable[str], numeric: Iterable[str] = (),
                 caption: str | None = None) -> None:
        self.title, self.columns, self.caption = title, list(columns), caption
        self.numeric = set(numeric)
        self.rows: list[list[str]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append([str(c) for c in cells])

    def table(self, abbreviate: frozenset[int] = frozenset()) -> Table:
        units = {}
        for i in abbreviate:
            top = max((abs(_number(r[i]) or 0) for r in self.rows), default=0)
            units[i] = (1e6, "M") if top >= 1e6 else (1e3, "k")
        notes = [self.caption] if self.caption else []
        if units:
            used = {u for _, u in units.values()}
            notes.append("rounded to fit the terminal: " + ", ".join(
                f"({u}) {'millions' if u == 'M' else 'thousands'}" for u in sorted(used)))
        table = Table(title=self.title, title_justify="left",
                      caption="\n".join(notes) or None, caption_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0, 0, 1))
        for i, name in enumerate(self.columns):
            cells = [r[i] for r in self.rows]
            if name in self.numeric:
                table.add_column(name + (units[i][1] and f" ({units[i][1]})" if i in units
                                         else ""), justify="right", no_wrap=True)
            else:
                words = [len(w) for c in cells for w in c.split()] + [len(name)]
                table.add_column(name, overflow="fold", min_width=min(TEXT_MIN_WIDTH,
                                                                      max(words)))
        for r in self.rows:
            table.add_row(*(_scaled(c, *units[i]) if i in units else c
                            for i, c in enumerate(r)))
        return table

    def _need(self, table: Table) -> int:
        """Columns needed: whole numeric columns, text columns at their minimum, 2 between."""
        widths = []
        for column in table.columns:
            cells = [str(c) for c in column.cells] + [str(column.header)]
            widths.append(max(len(c) for c in cells) if column.no_wrap
                          else column.min_width or 1)
        return sum(widths) + 2 * (len(widths) - 1)

    def __rich_console__(self, console, options):
        table = self.table()
        if self._need(table) > options.max_width:
            # every numeric column with values of 1,000 or more, in k or M alike
            big = frozenset(i for i, n in enumerate(self.columns) if n in self.numeric
                            and max((abs(_number(r[i]) or 0) for r in self.rows),
                                    default=0) >= 1e3)
            table = self.table(big)
        yield table


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _scaled(text: str, factor: float, unit: str) -> str:
    x = _number(text)
    return text if x is None else f"{x / factor:,.1f}"


def result_table(title: str, columns: Iterable[str], numeric: Iterable[str] = (),
                 caption: str | None = None) -> ResultTable:
    """A :class:`ResultTable` (add rows with ``add_row``, print it with ``out.print``)."""
    return ResultTable(title, columns, numeric, caption)


def more_caption(shown: int, total: int, what: str, where: str) -> str | None:
    """"+N more <what> (<where>)" when rows were left out of a table, else None."""
    n = total - shown
    if n <= 0:
        return None
    return f"+{n:,} more {what if n > 1 else what.removesuffix('s')} ({where})"



def say(text: str) -> None:
    """Print a line to standard output verbatim (file and region names are never markup)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class State:
    """The options given so far (group, then command); the command's win."""

    def __init__(self) -> None:
        self.dsn: str | None = None
        self.home: str | None = None
        self.verbosity = 0
        self.debug = False

    def settings(self) -> Settings:
        return Settings.from_env(dsn=self.dsn, home=self.home)


def setup_logging(verbosity: int) -> None:
    """ecorest's own messages at INFO (-q: warnings only; -v: debug); other libraries'
    (matplotlib, fontTools, pyogrio, dbt ...) only their warnings unless -v (-vv: debug)."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    others = (logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1
              else logging.DEBUG)
    logging.basicConfig(
        level=others, format="%(message)s", datefmt="%H:%M:%S",
        handlers=[RichHandler(console=console, show_path=verbosity > 0)], force=True,
    )
    logging.getLogger("ecorest").setLevel(level)
    for noisy in ("alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _state() -> State:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def _remember(name: str):
    def callback(ctx: click.Context, param: click.Parameter, value):  # noqa: ARG001
        state = _state()
        if name == "verbose" and value:
            state.verbosity = value
        elif name == "quiet" and value:
            state.verbosity = -1
        elif name == "debug" and value:
            state.debug = True
        elif name in ("dsn", "home") and value is not None:
            setattr(state, name, value)
        return value
    return callback


def connection_options(fn: Callable) -> Callable:
    """--dsn, --home, -v, -q and --debug, on the group and on every command."""
    options = [
        click.option("--dsn", metavar="URL", expose_value=False, callback=_remember("dsn"),
                     is_eager=True,
                     help="PostgreSQL+PostGIS server to use instead of the embedded cluster, "
                          f"e.g. postgresql://user:pass@host:5432/db [env: {ENV_DATABASE_URL}]."),
        click.option("--home", metavar="DIR", expose_value=False, callback=_remember("home"),
                     is_eager=True, type=click.Path(file_okay=False),
                     help=f"Data folder of the embedded cluster [env: {ENV_HOME}; default: "
                          "$XDG_DATA_HOME/ecorest, i.e. ~/.local/share/ecorest]."),
        click.option("-v", "--verbose", count=True, expose_value=False, is_eager=True,
                     callback=_remember("verbose"), help="More log output (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False, is_eager=True,
                     callback=_remember("quiet"), help="Only warnings and errors."),
        click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                     callback=_remember("debug"),
                     help="Show the full traceback of an unexpected error."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def command(group: click.Group | None, name: str | None = None, **kwargs) -> Callable:
    """A command of ``group`` (a stand-alone command for ``None``) with the shared options; the
    function receives the resolved :class:`Settings` as its first argument."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kw):
            state = _state()
            setup_logging(state.verbosity)
            return fn(state.settings(), *args, **kw)
        make = group.command if group is not None else click.command
        return make(name, context_settings=CONTEXT, **kwargs)(connection_options(run))
    return decorate


def csv_choice(allowed: Iterable[str], what: str) -> Callable:
    """A click callback: a comma-separated option whose items must be in ``allowed``."""
    allowed = tuple(allowed)

    def callback(ctx: click.Context, param: click.Parameter, value: str):  # noqa: ARG001
        items = tuple(x.strip() for x in value.split(",") if x.strip())
        if not items:
            raise click.BadParameter(f"give at least one {what}: {', '.join(allowed)}")
        bad = [x for x in items if x not in allowed]
        if bad:
            raise click.BadParameter(f"unknown {what} {', '.join(map(repr, bad))}; use "
                                     f"{', '.join(allowed)}")
        return items
    return callback


def pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """KEY=VALUE items of a repeatable option."""
    result = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {v!r}", param_hint=option)
        result[key.strip()] = val.strip()
    return result


def input_file() -> click.Path:
    """An input file that must exist and be readable (checked before anything runs)."""
    return click.Path(exists=True, dir_okay=False, readable=True)
