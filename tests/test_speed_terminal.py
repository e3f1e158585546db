"""Result tables on an 80-column terminal: every line fits, numbers are right-aligned and whole
(never cut or wrapped), text wraps between words, rows left out are counted ("+N more"); and
the run's progress line (models done / total, the models under way) stays within the width."""

from __future__ import annotations

import io
import re

from rich.console import Console

from ecorest.cli._common import more_caption, result_table
from ecorest.progress import StepBar


def render(table, width: int = 80) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(table)
    return buf.getvalue().splitlines()


def zone_rows(n: int, scale: int) -> list[tuple[str, ...]]:
    return [(f"subwatershed {i} of the upper Willamette basin",
             *(f"{(i + 1) * scale * k:,}" for k in range(1, 7))) for i in range(n)]


def grade_table(rows, shown: int):
    table = result_table("a region: restoration priority by zone (run 1; 1,331 patches)",
                         ["zone", "assessed", "1", "2", "3", "4", "5"],
                         numeric=["assessed", "1", "2", "3", "4", "5"],
                         caption=more_caption(shown, len(rows), "zones", "bi.zone_scores"))
    for r in rows[:shown]:
        table.add_row(*r)
    return table


def test_a_table_fits_80_columns_with_whole_right_aligned_numbers() -> None:
    rows = zone_rows(20, 123456)           # up to 14,814,720 ha: a province's zones
    lines = render(grade_table(rows, 12))
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    for r in rows[:12]:
        for number in r[1:]:
            assert number in text                # whole, on one line, never "3,610,…"
    assert "…" not in text and "rounded" not in text
    # numbers right-aligned: every row's first line ends at the same column, with a number
    first = [line.rstrip() for line in lines if line.startswith(" subwatershed")]
    assert len(first) == 12
    assert len({len(line) for line in first}) == 1
    assert all(line.endswith(r[-1]) for line, r in zip(first, rows, strict=False))
    # the zone names wrap between words: every word of a name is whole on some line
    assert all(re.search(rf"\b{w}\b", text) for w in ("subwatershed", "Willamette", "basin"))
    assert "+8 more zones (bi.zone_scores)" in text


def test_numbers_too_wide_for_80_columns_are_shown_in_millions_alike() -> None:
    rows = zone_rows(3, 12345678)          # nine-digit numbers in six columns: 120 columns
    lines = render(grade_table(rows, 3))
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    # every numeric column in millions, one decimal, and the caption says so
    assert "assessed (M)" in text and "5 (M)" in text
    assert "12.3" in text and "222.2" in text      # 12,345,678 and 3 x 6 x 12,345,678
    assert "rounded to fit the terminal: (M) millions" in text
    assert lines == render(grade_table(rows, 3), 80)  # the same every time
    wide = "\n".join(render(grade_table(rows, 3), 200))
    assert "rounded" not in wide and "222,222,204" in wide


def test_more_caption_counts_what_is_left_out() -> None:
    assert more_caption(12, 12, "zones", "x") is None
    assert more_caption(12, 13, "zones", "x") == "+1 more zone (x)"
    assert more_caption(10, 1010, "zones", "x") == "+1,000 more zones (x)"


def test_the_progress_line_is_silent_off_a_terminal() -> None:
    # not a terminal (pytest captures stderr): nothing is drawn, the calls are harmless
    with StepBar("run 1") as bar:
        bar.reset(3, "run 1 models")
        bar.begin("int_factor_tiles")
        bar.end("int_factor_tiles")
    assert bar._progress is None
