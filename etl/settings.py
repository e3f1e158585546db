"""Where ecorest keeps its state and which database it talks to.

Resolution order for the database: ``--dsn`` on the command line, then ``ECOREST_DATABASE_URL``,
then the embedded cluster under the data folder (``ECOREST_HOME``, default ``./.ecorest``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: root of the source tree (holds alembic.ini, db/, sql/, dbt_project/)
PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_DATABASE_URL = "ECOREST_DATABASE_URL"
ENV_HOME = "ECOREST_HOME"
APPLICATION_NAME = "ecorest"


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one ecorest invocation."""

    home: Path
    database_url: str | None = None

    @classmethod
    def from_env(cls, dsn: str | None = None, home: str | os.PathLike | None = None) -> Settings:
        home_path = Path(home or os.environ.get(ENV_HOME) or ".ecorest").expanduser().resolve()
        url = dsn or os.environ.get(ENV_DATABASE_URL) or None
        return cls(home=home_path, database_url=url)

    @property
    def uses_embedded_cluster(self) -> bool:
        return self.database_url is None


def project_path(*parts: str) -> Path:
    """A path inside the source tree (``sql/``, ``db/``, ``dbt_project/`` ...)."""
    return PROJECT_ROOT.joinpath(*parts)
