"""Numbered, idempotent SQL files applied after every migration (shipped as ``ecorest.sql``)."""
