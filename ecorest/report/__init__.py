"""`ecorest report`: the assessment report of one run, from its marts."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from ecorest.errors import ResultError
from ecorest.vocab import REPORT_FORMATS, REPORT_LANGS

from . import benefit, data, document, render, services

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
    served = services.load(conn, d.run["run_id"])
    log.info("report of %s, run %d: data read", region, d.run["run_id"])
    written = []
    for lang in langs:
        blocks = with_services(document.build(d, lang), served, d.outlines, lang)
        blocks = document.finalise(with_matched_benefit(blocks, matched, lang), lang)
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
    return _subsection(blocks, extra, document.tr(lang)("s_unc"),
                       "对照匹配的增汇效益" if zh else "Benefit against matched controls")


def with_services(blocks: list[document.Block], served: dict, outlines: list,
                  lang: str) -> list[document.Block]:
    """The report with the section on ecosystem services and sensitivity at the end of the
    identification section (before the carbon section's heading)."""
    zh = lang == "zh"
    extra = services.blocks(served, lambda cn, en: cn if zh else en, zh, outlines)
    return _subsection(blocks, extra, document.tr(lang)("s_carbon"),
                       "生态系统服务与生态敏感性" if zh else
                       "Ecosystem services and ecological sensitivity")


def _subsection(blocks: list[document.Block], extra: list[document.Block], before: str,
                title: str) -> list[document.Block]:
    """``extra`` as the last numbered subsection of the section that ends at the heading
    ``before`` (at the end when there is none)."""
    at = next((i for i, b in enumerate(blocks) if b.kind == "h2" and b.text == before),
              len(blocks))
    if extra:
        start = max((i for i, b in enumerate(blocks[:at]) if b.kind == "h2"), default=0)
        number = blocks[start].text.split(" ")[0] if blocks[start:at] else ""
        k = sum(1 for b in blocks[start:at] if b.kind == "h3") + 1
        extra = [document.Block("h3", f"{number}.{k} {title}"), *extra]
    return blocks[:at] + extra + blocks[at:]
