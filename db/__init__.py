"""Alembic environment and revisions of the loaded-data schemas (shipped as ``ecorest.db``)."""
