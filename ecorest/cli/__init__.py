"""The ``ecorest`` command line: small command modules that parse, validate at the edge and
call the library.

Every command works against the embedded PostGIS cluster under the data folder (``--home``,
``ECOREST_HOME`` or ``~/.local/share/ecorest``) unless ``--dsn`` or ``ECOREST_DATABASE_URL``
names another server. No traceback reaches a user: usage errors print one line and exit 2,
failures print one line (a failed validation one line per problem) and exit 1, Ctrl-C exits 130;
``--debug`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import logging
import sys

import click
import psycopg
import sqlalchemy.exc
from rich.text import Text

from ecorest.errors import EcorestError

from ._common import CONTEXT, connection_options, console
from .db import db
from .demo import demo
from .load import load
from .params import params
from .region import region
from .results import export, qgis, report
from .run import run_cmd

log = logging.getLogger("ecorest")


def _error(message: str) -> None:
    """Print an error verbatim: the text is never read as rich markup, so the ``[rule …]``
    tags of validation messages stay visible and a ``[/]`` in a file name is just text."""
    lines = message.strip().splitlines() or ["(no message)"]
    console.print(Text.assemble(("error:", "bold red"), " ", lines[0]), highlight=False,
                  soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(f"  {line}"), highlight=False, soft_wrap=True)


INTERRUPTED = ("cancelled by the user: what was being written was rolled back, a run under way "
               "is marked failed and its work on the server stopped")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class EcorestCommand(click.Group):
    """The root group: runs a command and turns every error into a message and an exit code
    (2 usage, 1 failure, 130 interrupted) instead of a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,  # noqa: ARG002
             **extra):
        args = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in args
        try:
            code = super().main(args=args, prog_name=prog_name or "ecorest",
                                complete_var=complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(0)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "ecorest"
            _error(f"{where}: {exc.format_message()} (see `{where} --help`)")
            sys.exit(2)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
                _error(INTERRUPTED)
                sys.exit(130)
            _error("aborted")
            sys.exit(1)
        except KeyboardInterrupt:
            _error(INTERRUPTED)
            sys.exit(130)
        except click.ClickException as exc:
            _error(exc.format_message())
            sys.exit(exc.exit_code)
        except EcorestError as exc:
            _debug(debug)
            _error(str(exc))
            sys.exit(1)
        except (psycopg.Error, sqlalchemy.exc.DBAPIError) as exc:
            _debug(debug)
            _error(f"database: {_one_line(getattr(exc, 'orig', None) or exc)}")
            sys.exit(1)
        except OSError as exc:
            _debug(debug)
            _error(f"{exc.strerror or _one_line(exc)}"
                   f"{f': {exc.filename}' if exc.filename else ''}")
            sys.exit(1)
        except Exception as exc:  # a bug: one line, the traceback with --debug
            _debug(debug)
            _error(f"unexpected {type(exc).__name__}: {_one_line(exc)} (run again with --debug "
                   "for the traceback, and please report it)")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _debug(debug: bool) -> None:
    if debug:
        console.print_exception()


@click.group(name="ecorest", cls=EcorestCommand, context_settings=CONTEXT)
@connection_options
@click.version_option(package_name="ecorest")
def cli() -> None:
    """ecorest: ecological-restoration area identification and carbon sink-enhancement
    assessment on PostGIS.

    \b
    Typical session:
      ecorest db migrate               create (first time) and upgrade the database
      ecorest region create NAME --boundary FILE
      ecorest load raster NAME --layer landcover --epoch 2020 FILE
      ecorest run NAME                 all models, one recorded run
      ecorest report NAME              the assessment report (zh, en)
      ecorest qgis NAME                a QGIS project over the results
      ecorest db status                data folder, versions, schema revision, roles
    """


for sub in (db, region, load, params, run_cmd, report, export, qgis, demo):
    cli.add_command(sub)


def main(argv: list[str] | None = None) -> None:
    """The ``ecorest`` console script."""
    cli.main(args=argv, prog_name="ecorest")


if __name__ == "__main__":
    main()
