"""`ecorest report`: the assessment report of one run, from its marts."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from ecorest.errors import ResultError
from ecorest.vocab import REPORT_FORMATS, REPORT_LANGS

from . import benefit, data, document, render

log = logging.getLogger(__name__)


def _choices(given: str | tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """``given`` (one code or several) checked against ``allowed``."""
    given = (given,) if isinstance(given, str) else tuple(given)
    for code in given:
        if code not in allowed:
            raise ResultError(f"unknown report {what} {code!r}: use {', '.join(allowed)}")
    return given


def make_report(conn: psycopg.Connection, region: str, out_dir: Path, *,
                run_id: int | None = None, langs: tuple[str, ...] = REPORT_LANGS,
                formats: tuple[str, ...] = REPORT_FORMATS) -> list[Path]:
    """Write the report of ``run_id`` (default: the region's latest succeeded run) in every
    language and format; returns the files written. The run is checked before any file is
    made."""
    formats = _choices(formats, REPORT_FORMATS, "format")
    langs = _choices(langs, REPORT_LANGS, "language")
    d = data.load(conn, data.read_run(conn, region, run_id))
    matched = benefit.load(conn, d.run["run_id"])
    log.info("report of %s, run %d: data read", region, d.run["run_id"])
    written = []
    for lang in langs:
        blocks = document.finalise(
            with_matched_benefit(document.build(d, lang), matched, lang), lang)
        stem = f"report_{region}_run{d.run['run_id']}_{lang}"
        written += render.write(blocks, Path(out_dir), stem, lang, list(formats))
        log.info("report %s written (%s)", stem, ", ".join(formats))
    return written


def with_matched_benefit(blocks: list[document.Block], matched: dict,
                         lang: str) -> list[document.Block]:
    """The report with the section on the benefit against matched controls at the end of the
    carbon section (before the uncertainty section's heading)."""
    zh = lang == "zh"
    extra = benefit.blocks(matched, lambda cn, en: cn if zh else en, zh)
    heading = document.tr(lang)("s_unc")
    at = next((i for i, b in enumerate(blocks) if b.kind == "h2" and b.text == heading),
              len(blocks))
    if extra:  # a numbered subsection of the carbon section
        start = max((i for i, b in enumerate(blocks[:at]) if b.kind == "h2"), default=0)
        number = blocks[start].text.split(" ")[0] if blocks[start:at] else ""
        k = sum(1 for b in blocks[start:at] if b.kind == "h3") + 1
        extra = [document.Block("h3", f"{number}.{k} " + ("对照匹配的增汇效益" if zh else
                                                        "Benefit against matched controls")),
                 *extra]
    return blocks[:at] + extra + blocks[at:]
