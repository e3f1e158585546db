"""ecorest: ecological-restoration area identification and carbon sink-enhancement assessment
on PostGIS.

Packages: ``ecorest.cli`` (command line), ``ecorest.store`` (connections, embedded cluster,
schema gate, table definitions), ``ecorest.etl`` (loaders), ``ecorest.run`` (assessment runs
through dbt), ``ecorest.report`` (report and exports). Shared: ``ecorest.errors``,
``ecorest.vocab``, ``ecorest.wkb``, ``ecorest.assets``, ``ecorest.settings``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecorest")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
