"""The errors ecorest explains to a person: one line each, no traceback.

Every error a command can meet in ordinary use derives from :class:`EcorestError`; the command
line prints its message and exits 1. Anything else is a bug and shows its traceback only with
``--debug``.
"""

from __future__ import annotations


class EcorestError(RuntimeError):
    """An error explained for a person (never carries a password)."""


class ClusterError(EcorestError):
    """The embedded cluster could not be set up, started or reached."""


class DatabaseError(EcorestError):
    """A database problem: the server cannot be reached, or a statement failed."""


class SchemaOutOfDate(DatabaseError):
    """The database schema is not the one this code expects."""


class LoadError(EcorestError):
    """A load failed validation or writing; nothing was stored.

    Carries the validation issues (each names the file, the row/feature/tile and the rule).
    """

    def __init__(self, issues):
        if isinstance(issues, str):
            self.issues = []
            text = issues
        else:
            self.issues = list(issues) if isinstance(issues, list | tuple) else [issues]
            text = "\n".join(str(i) for i in self.issues[:20])
            if len(self.issues) > 20:
                text += f"\n... and {len(self.issues) - 20} more"
        super().__init__(text)


class RunError(EcorestError):
    """An assessment run failed; the previous results are untouched."""


class ResultError(EcorestError):
    """A report or export was asked of a run that does not exist, failed or is another
    region's."""
