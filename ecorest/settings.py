"""Where ecorest keeps its state and which database it talks to.

Resolution order for the database: ``--dsn`` on the command line, then ``ECOREST_DATABASE_URL``,
then the embedded cluster under the data folder. The data folder is ``--home``, else
``ECOREST_HOME``, else one per-user folder (``$XDG_DATA_HOME/ecorest``, by default
``~/.local/share/ecorest``), so a command run from any working directory finds the same
database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATABASE_URL = "ECOREST_DATABASE_URL"
ENV_HOME = "ECOREST_HOME"
APPLICATION_NAME = "ecorest"


def default_home() -> Path:
    """The per-user data folder: ``$XDG_DATA_HOME/ecorest`` or ``~/.local/share/ecorest``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ecorest"


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one ecorest invocation."""

    home: Path
    database_url: str | None = None
    home_source: str = "default"

    @classmethod
    def from_env(cls, dsn: str | None = None, home: str | os.PathLike | None = None) -> Settings:
        if home:
            chosen, source = Path(home), "--home"
        elif os.environ.get(ENV_HOME):
            chosen, source = Path(os.environ[ENV_HOME]), ENV_HOME
        else:
            chosen, source = default_home(), "per-user default"
        url = dsn or os.environ.get(ENV_DATABASE_URL) or None
        return cls(home=chosen.expanduser().resolve(), database_url=url, home_source=source)

    @property
    def uses_embedded_cluster(self) -> bool:
        return self.database_url is None
