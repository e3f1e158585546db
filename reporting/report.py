"""`ecorest report`: the assessment report of one run, from its marts."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from . import data, document, render

log = logging.getLogger(__name__)
FORMATS = ("html", "pdf", "md")
LANGS = ("zh", "en")


def make_report(conn: psycopg.Connection, region: str, out_dir: Path, *,
                run_id: int | None = None, langs: tuple[str, ...] = LANGS,
                formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the report of ``run_id`` (default: the region's latest succeeded run) in every
    language and format; returns the files written."""
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown report format {f!r}: use {', '.join(FORMATS)}")
    for lang in langs:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}: use zh or en")
    d = data.load(conn, region, run_id)
    log.info("report of %s, run %d: data read", region, d.run["run_id"])
    written = []
    for lang in langs:
        blocks = document.build(d, lang)
        stem = f"report_{region}_run{d.run['run_id']}_{lang}"
        written += render.write(blocks, Path(out_dir), stem, lang, list(formats))
        log.info("report %s written (%s)", stem, ", ".join(formats))
    return written
