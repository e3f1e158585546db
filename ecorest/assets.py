"""The database assets shipped inside the package: Alembic revisions (``db/``), the idempotent
SQL files (``sql/``), the dbt project (``dbt_project/``) and the built-in legends.

In the source tree they live in the top-level folders ``db/``, ``sql/`` and ``dbt_project/``;
the build maps them into the wheel as the packages ``ecorest.db``, ``ecorest.sql`` and
``ecorest.dbt_project`` (``[tool.setuptools] package-dir`` in pyproject.toml). They are found
here with :mod:`importlib.resources`, the same way from a checkout and from an installed wheel.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: asset name -> the package that holds it
PACKAGES = {
    "db": "ecorest.db",
    "sql": "ecorest.sql",
    "dbt_project": "ecorest.dbt_project",
    "legends": "ecorest.etl.builtin_legends",
}


def path(name: str, *parts: str) -> Path:
    """A file or folder of asset ``name`` (``db``, ``sql``, ``dbt_project`` or ``legends``)
    on the file system; alembic and dbt read them as ordinary files."""
    root = files(PACKAGES[name])
    if not isinstance(root, Path):  # a zipped install: not supported by alembic or dbt
        raise RuntimeError(f"ecorest must be installed unzipped; {PACKAGES[name]} is {root!r}")
    return root.joinpath(*parts)


def sql_files() -> list[Path]:
    """The numbered idempotent SQL files, in the order they are applied."""
    return sorted(path("sql").glob("[0-9][0-9][0-9]_*.sql"))
