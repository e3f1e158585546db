"""The report as a document: CJK line breaking, page numbers, cover, contents, PDF title, no
untranslated codes in the Chinese report, and the whole-span rate of the conclusions."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_report import reported  # noqa: F401 - the fixture

from ecorest.report.data import ReportData
from ecorest.report.document import code, finalise, span_rate
from ecorest.report.render import CLOSING, NO_BREAK_AFTER, wrap

#: codes of the marts that must never reach the Chinese report as they are
UNTRANSLATED = ("warm_temperate_moist", "warm_temperate_dry", "cold_temperate_dry",
                "cold_temperate_moist", "bilinear", "nearest", "parameter_set", "ipcc_default",
                "degradation", "importance", "landcover_degradation", "carbon_density",
                "ndvi_trend", "olofsson_adjusted", "stock", "change", "ring", "watershed",
                "subwatershed", "admin", "landcover", "factor_erosion", "ahp", "entropy",
                "explicit", "UTC", "t C/ha", "t CO2e", "registered projects", "登记项目")


def width_of(s: str) -> float:
    """A stand-in for the PDF's string width: CJK 2 units, anything else 1."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def test_cjk_lines_break_between_characters_never_before_closing_punctuation() -> None:
    text = ("识别出需修复（优先修复、修复、提升）区域 6,102 公顷，占评估面积的 2.7%，其中优先修复区"
            " 1,224 公顷。碳储量由 2010 年的 123,069,545 吨碳变为 2023 年的 122,788,938 吨碳"
            "（-280,607 吨碳）；按全时段计，年均碳排放 79,146 吨 CO₂ 当量。")
    rng = random.Random(1)
    for width in [rng.randint(8, 60) for _ in range(200)]:
        lines = wrap(text, width, width_of)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        for i, line in enumerate(lines):
            assert line and line[0] not in CLOSING, (width, line)
            assert line[-1] not in NO_BREAK_AFTER, (width, line)
            if i + 1 < len(lines):  # a line is cut early only where the next piece won't fit
                assert width_of(line) <= width
        # a number stays with its unit when a line is wide enough for both
        if width >= 12:
            assert all(not re.search(r"\d$", ln) or i + 1 == len(lines)
                       or not lines[i + 1].startswith("公顷") for i, ln in enumerate(lines))
    # an indented first line is narrower
    lines = wrap(text, 30, width_of, first=26)
    assert width_of(lines[0]) <= 26 and all(width_of(ln) <= 30 for ln in lines[1:])
    # English still breaks at spaces only
    assert wrap("the carbon stock went from", 12, width_of) == ["the carbon", "stock went",
                                                                "from"]


def test_whole_span_rate_is_total_change_over_total_years() -> None:
    """Three periods of 1, 2 and 7 years: the whole-span sink is the sum of the changes over
    10 years, not the sum of the three annual rates."""
    changes = [{"epoch_t1": a, "epoch_t2": b, "years": y, "pool": "agb", "change_t": ch,
                "sink_co2e_t_per_yr": ch / y * 44 / 12}
               for a, b, y, ch in [("2000", "2001", 1, -100.0), ("2001", "2003", 2, 40.0),
                                   ("2003", "2010", 7, -70.0)]]
    d = ReportData(region={}, run={}, changes=changes)
    span = span_rate(d)
    assert (span["first"], span["last"], span["years"]) == ("2000", "2010", 10)
    assert span["sink_co2e_t_per_yr"] == pytest.approx(-130 / 10 * 44 / 12)
    assert span["sink_co2e_t_per_yr"] != pytest.approx(sum(c["sink_co2e_t_per_yr"]
                                                           for c in changes))


def test_codes_are_translated_and_long_tables_go_to_the_appendix() -> None:
    from ecorest.report.document import Block

    assert code("warm_temperate_moist", True) == "暖温带湿润区"
    assert code("bilinear", True) == "双线性插值"
    assert code("carbon_density, landcover_degradation", True) == "碳密度、土地覆盖退化"
    assert code("factor_erosion", True) == "因子图层 erosion"
    blocks = [Block("h2", "1 x"), Block("table", "短表", headers=["a"], rows=[["1"]] * 3),
              Block("table", "长表", headers=["a"], rows=[["1"]] * 40),
              Block("img", "图", png=b"", name="m")]
    out = finalise(blocks, "zh")
    assert [b.kind for b in out] == ["h2", "table", "note", "img", "h2", "table"]
    assert out[1].text == "表 1  短表" and out[3].text == "图 1  图"
    assert out[-1].text == "表 A.1  长表" and "附录表 A.1" in out[2].text


def test_pdf_is_a_document_with_numbered_pages_and_no_raw_codes(reported) -> None:  # noqa: F811
    conn, run_id, files, _ = reported
    for lang in ("zh", "en"):
        pdf = next(f for f in files if f.name == f"report_tiny_run{run_id}_{lang}.pdf")
        reader = PdfReader(pdf)
        n = len(reader.pages)
        title = ("生态修复区域识别与固碳增汇效益评估报告" if lang == "zh"
                 else "Ecological restoration areas and carbon sink enhancement")
        assert reader.metadata.title.startswith(title)
        pages = [p.extract_text() for p in reader.pages]
        for i, text in enumerate(pages, 1):  # every page has its number and the page count
            wanted = (rf"第\s*{i}\s*页\s*/\s*共\s*{n}\s*页" if lang == "zh"
                      else rf"Page\s+{i}\s+of\s+{n}")
            assert re.search(wanted, text), (lang, i, text[-80:])
        # cover: title, the standard by name, the preparing unit and the date
        assert title in pages[0].replace("\n", "") if lang == "zh" else True
        assert "生态修复区域识别与固碳增汇效益评估一体化技术指南" in pages[0].replace("\n", "")
        assert ("编制单位" if lang == "zh" else "Prepared by") in pages[0]
        # contents on page 2, with every section and its page
        contents = pages[1]
        assert ("目" if lang == "zh" else "Contents") in contents
        for section in (("1 概述", "7 结论", "8 建议") if lang == "zh"
                        else ("1 Overview", "7 Conclusions", "8 Recommendations")):
            assert section in contents
        # no heading is left alone at the bottom of a page
        md = pdf.with_suffix(".md").read_text()
        headings = {ln.lstrip("#").strip() for ln in md.splitlines() if ln.startswith("##")}
        for i, text in enumerate(pages[2:], 3):
            body = [ln.strip() for ln in text.splitlines() if ln.strip()][:-1]  # less footer
            assert not body or body[-1] not in headings, (lang, i, body[-1])
        if lang == "zh":
            for page in pages:
                for line in page.splitlines():
                    assert not line.strip() or line.strip()[0] not in CLOSING, line
            text = "\n".join(pages)
            html = pdf.with_suffix(".html").read_text()
            md = pdf.with_suffix(".md").read_text()
            body = re.sub(r"<[^>]+>", " ", html)
            body = re.sub(r'src="data:[^"]+"', "", body)
            for doc in (text, body, md):
                for raw in UNTRANSLATED:
                    pattern = (re.escape(raw) if not re.match(r"^\w+$", raw)
                               else rf"(?<![\w.]){re.escape(raw)}(?![\w.])")
                    assert not re.search(pattern, doc), (raw, re.search(
                        rf".{{0,40}}{pattern}.{{0,40}}", doc).group(0))
            assert "建议" in text and "规则" in text
            assert "年均碳排放" in text


def test_md_and_html_carry_the_cover_and_contents(reported) -> None:  # noqa: F811
    _, run_id, files, _ = reported
    md = next(f for f in files if f.name == f"report_tiny_run{run_id}_zh.md").read_text()
    assert md.startswith("# 生态修复区域识别与固碳增汇效益评估报告")
    assert "目  录" in md and "- 8 建议" in md
    assert "数据来源" in md  # every figure states its source
    html = Path(str(next(f for f in files if f.name.endswith("_zh.html")))).read_text()
    assert '<nav>' in html and 'class="cover"' in html


def fake_data(**kw) -> ReportData:
    import datetime

    region = {"name": "r", "title": "示例区", "boundary_area_ha": 100.0, "srid": 990001,
              "crs_name": "CGCS2000 / Albers", "pixel_size_m": 30.0, "width_px": 10,
              "height_px": 10, "ipcc_climate_zone": "warm_temperate_moist",
              "ipcc_soil_type": "HAC"}
    when = datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.UTC)
    run = {"run_id": 7, "code_version": "t", "started_at": when, "finished_at": when,
           "ipcc_edition": "2006", "options": {}}
    return ReportData(region=region, run=run, **kw)


def test_uncertainty_only_where_it_exists_and_the_rest_explained() -> None:
    from ecorest.report.document import build

    unc = [{"quantity": "stock", "epoch_t1": "2000", "epoch_t2": None, "pool": "agb",
            "total_t": 1000.0, "mapped_total_t": 1000.0, "area_basis": "mapped",
            "u_approach1_pct": 12.0, "mc_p2_5_t": 880.0, "mc_p97_5_t": 1120.0,
            "unquantified": []},
           {"quantity": "stock", "epoch_t1": "2000", "epoch_t2": None, "pool": "bgb",
            "total_t": 500.0, "mapped_total_t": 500.0, "area_basis": "mapped",
            "u_approach1_pct": None, "mc_p2_5_t": None, "mc_p97_5_t": None,
            "unquantified": ["pools v1 class 1 bgb", "pools v1 class 2 bgb"]},
           {"quantity": "stock", "epoch_t1": "2000", "epoch_t2": None, "pool": "soc",
            "total_t": 300.0, "mapped_total_t": 300.0, "area_basis": "mapped",
            "u_approach1_pct": 0.0, "mc_p2_5_t": 300.0, "mc_p97_5_t": 300.0,
            "unquantified": []}]
    blocks = build(fake_data(uncertainty=unc), "zh")
    tables = [b for b in blocks if b.kind == "table" and "不确定性" in b.text]
    assert len(tables) == 1 and [r[2] for r in tables[0].rows] == ["地上生物量"]
    assert "吨碳" in tables[0].headers[-1] and "MC" not in " ".join(tables[0].headers)
    text = " ".join(b.text for b in blocks if b.kind == "p")
    assert "共 2 项储量或变化量的输入参数未给出不确定性" in text
    assert "pools v1 中 2 个地类的地下生物量密度" in text
    assert "暖温带湿润区" in text and "warm_temperate_moist" not in text
    # no NDVI and no factors: the methods do not mention the NDVI trend
    assert "Mann" not in text and "NDVI" not in text
    recs = " ".join(b.text for b in blocks if b.kind == "p" and "规则" in b.text)
    assert "存在未量化不确定性的参数" in recs


def test_conclusion_and_recommendation_use_the_whole_span_rate() -> None:
    from ecorest.report.document import conclusions, recommendations

    stocks = [{"epoch_label": e, "pool": "agb", "carbon_t": c, "area_ha": 10.0}
              for e, c in (("2000", 1000.0), ("2001", 900.0), ("2010", 870.0))]
    changes = [{"epoch_t1": "2000", "epoch_t2": "2001", "years": 1, "pool": "agb",
                "change_t": -100.0, "sink_co2e_t_per_yr": -100 * 44 / 12},
               {"epoch_t1": "2001", "epoch_t2": "2010", "years": 9, "pool": "agb",
                "change_t": -30.0, "sink_co2e_t_per_yr": -30 / 9 * 44 / 12}]
    d = fake_data(stocks=stocks, changes=changes)
    rate = 130 / 10 * 44 / 12  # 47.7, not 366.7 + 12.2
    text = " ".join(conclusions(d, True))
    assert f"年均碳排放 {rate:,.0f} 吨 CO₂ 当量" in text and "2000–2010，10 年" in text
    rec = " ".join(recommendations(d, True))
    assert f"年均净排放 {rate:,.0f} 吨 CO₂ 当量" in rec and "全时段年均碳汇 < 0" in rec


def test_first_to_last_transition_matrix_and_zone_coverage_warning() -> None:
    """The transition matrix of the first and last epochs (rows, columns and totals summed by
    hand), and a zone mostly outside the region flagged with its share inside."""
    from ecorest.report.document import COVERAGE_WARN_PCT, build

    span = [{"epoch_t1": "2000", "epoch_t2": "2020", "class_t1": a, "class_t2": z,
             "area_ha": ha, "name_en_t1": n1, "name_zh_t1": c1, "name_en_t2": n2,
             "name_zh_t2": c2}
            for a, z, ha, n1, c1, n2, c2 in (
                (1, 1, 70.0, "forest", "森林", "forest", "森林"),
                (1, 2, 30.0, "forest", "森林", "grassland", "草地"),
                (2, 1, 5.0, "grassland", "草地", "forest", "森林"),
                (2, 2, 45.0, "grassland", "草地", "grassland", "草地"))]
    zone = {"zone_set": "admin", "zone_code": "610603", "zone_name": "安塞区",
            "assessed_ha": 1016.0, "priority_restoration_ha": 100.0, "restoration_ha": 100.0,
            "improvement_ha": 47.0, "protection_ha": 369.0, "general_ha": 400.0,
            "restoration_need_pct": 24.3, "mean_composite": 0.4, "top_factors": None}
    zones = [{**zone, "zone_code": "610602", "zone_name": "宝塔区", "coverage_pct": 0.452},
             {**zone, "coverage_pct": 99.0}]
    for lang in ("zh", "en"):
        blocks = build(fake_data(span_transitions=span, zones=zones), lang)
        matrix = next(b for b in blocks if b.kind == "table" and "2000–2020" in b.text)
        assert matrix.rows[0][1:] == ["70", "30", "100"]
        assert matrix.rows[1][1:] == ["5", "45", "50"]
        assert matrix.rows[2][1:] == ["75", "75", "150"]
        table = next(b for b in blocks if b.kind == "table" and b.headers and
                     b.headers[1] in ("区内占比 %", "inside %"))
        assert [r[1] for r in table.rows] == ["0.5", "99.0"]
        assert table.rows[0][0].endswith(" *") and not table.rows[1][0].endswith("*")
        note = table.note
        assert ("宝塔区（0.5 %）" in note) if lang == "zh" else ("宝塔区 (0.5 %)" in note)
        assert "安塞区" not in note and f"{COVERAGE_WARN_PCT:g} %" in note


def test_north_arrow_and_scale_bar_are_true_on_a_conic_grid() -> None:
    """On CGCS2000 / Albers (central meridian 105°E, parallels 25° and 47°N) the meridians
    converge on the cone's apex above the central meridian: at 95°E true north lies clockwise
    of grid north by the convergence n x (lon0 - lon), n = (sin 25° + sin 47°) / 2 on the
    sphere; the scale bar's ground length is the geodesic length of its grid length."""
    import math

    from pyproj import Geod, Transformer

    from ecorest.report.figures import ground_per_grid, true_north

    crs = ("+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 "
           "+units=m +no_defs")
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(95.0, 37.0)
    n = (math.sin(math.radians(25)) + math.sin(math.radians(47))) / 2
    assert true_north(crs, x, y) == pytest.approx(n * (105 - 95), abs=0.05)  # about +5.8°
    assert true_north(crs, *Transformer.from_crs("EPSG:4326", crs, always_xy=True)
                      .transform(105.0, 37.0)) == pytest.approx(0, abs=1e-6)
    ratio = ground_per_grid(crs, x, y, 50_000)
    to_geo = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    (a, b), (c, d) = to_geo.transform(x, y), to_geo.transform(x + 50_000, y)
    assert ratio == pytest.approx(Geod(ellps="WGS84").inv(a, b, c, d)[2] / 50_000)
    assert ratio != pytest.approx(1.0, abs=1e-4)  # the grid's scale is not the ground's there
