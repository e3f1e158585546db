"""Write the report blocks as HTML (self-contained), Markdown (+ PNG figures) or PDF."""

from __future__ import annotations

import base64
import html
import io
import re
import struct
from pathlib import Path

from ecorest.errors import ResultError
from ecorest.vocab import REPORT_FORMATS

from .document import Block
from .figures import cjk_font

CSS = """
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei",
       "PingFang SC", sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.5; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0 1.4em; font-size: .86em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { font-size: .9em; color: #333; font-weight: bold; }
.note { font-size: .85em; color: #555; font-weight: normal; }
header.cover { text-align: center; margin: 3em 0; }
header.cover dl { display: inline-grid; grid-template-columns: auto auto; text-align: left; }
header.cover dd { margin: 0 0 .3em .5em; }
nav li.h3 { margin-left: 1.5em; list-style: circle; }
"""


def to_html(blocks: list[Block], lang: str) -> str:
    cover = next((b for b in blocks if b.kind == "cover"), blocks[0])
    out = [f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
           '<meta charset="utf-8"><title>' + html.escape(cover.text) + "</title>"
           f"<style>{CSS}</style></head><body>"]
    for b in blocks:
        if b.kind == "cover":
            out.append(f'<header class="cover"><h1>{html.escape(b.text)}</h1>'
                       f'<p class="region">{html.escape(b.name)}</p><dl>'
                       + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
                                 for k, v in b.rows) + "</dl></header>")
        elif b.kind == "toc":
            heads = [x for x in blocks if x.kind in ("h2", "h3")]
            out.append(f'<nav><h2 class="toc">{html.escape(b.text)}</h2><ul>'
                       + "".join(f'<li class="{x.kind}"><a href="#s{i}">{html.escape(x.text)}'
                                 "</a></li>" for i, x in enumerate(heads)) + "</ul></nav>")
        elif b.kind in ("h1", "h2", "h3"):
            anchor = ""
            if b.kind != "h1":
                n = sum(1 for x in blocks[:blocks.index(b)] if x.kind in ("h2", "h3"))
                anchor = f' id="s{n}"'
            out.append(f"<{b.kind}{anchor}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "note":
            out.append(f'<p class="note">{html.escape(b.text)}</p>')
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                           + "</tr>" for r in b.rows)
            out.append(f"<table><caption>{html.escape(b.text)}</caption><thead><tr>{head}"
                       f"</tr></thead><tbody>{rows}</tbody></table>")
            if b.note:
                out.append(f'<p class="note">{html.escape(b.note)}</p>')
        elif b.kind == "img":
            data = base64.b64encode(b.png).decode()
            note = f'<br><span class="note">{html.escape(b.note)}</span>' if b.note else ""
            out.append(f'<figure><img alt="{html.escape(b.text or b.name)}" '
                       f'src="data:image/png;base64,{data}">'
                       f"<figcaption>{html.escape(b.text)}{note}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def to_markdown(blocks: list[Block], figure_dir: Path, prefix: str) -> str:
    figure_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for b in blocks:
        if b.kind == "cover":
            out.append(f"# {b.text}\n\n**{b.name}**\n")
            out += [f"{k}{v}  " for k, v in b.rows]
            out.append("")
        elif b.kind == "toc":
            out.append(f"**{b.text}**\n")
            out += [("  " if x.kind == "h3" else "") + f"- {x.text}"
                    for x in blocks if x.kind in ("h2", "h3")]
            out.append("")
        elif b.kind == "h1":
            out.append(f"# {b.text}\n")
        elif b.kind == "h2":
            out.append(f"## {b.text}\n")
        elif b.kind == "h3":
            out.append(f"### {b.text}\n")
        elif b.kind == "p":
            out.append(b.text + "\n")
        elif b.kind == "note":
            out.append(f"*{b.text}*\n")
        elif b.kind == "table":
            def cell(c) -> str:
                return str(c).replace("|", "\\|")
            out.append(f"**{b.text}**\n")
            out.append("| " + " | ".join(cell(h) for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
            if b.note:
                out.append(f"*{b.note}*\n")
        elif b.kind == "img":
            name = f"{prefix}_{b.name}.png"
            (figure_dir / name).write_bytes(b.png)
            out.append(f"![{b.text or b.name}]({figure_dir.name}/{name})\n")
            if b.text:
                out.append(f"**{b.text}**\n")
            if b.note:
                out.append(f"*{b.note}*\n")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# PDF: CJK-aware line breaking, cover, table of contents, page numbers, kept-together blocks

#: never at the start of a line (closing punctuation, in full and half width)
NO_BREAK_BEFORE = set("，。、；：？！）》」』】〕〉”’…—％%·,.;:!?)]}›»/")
#: never at the end of a line (opening punctuation)
NO_BREAK_AFTER = set("（《「『【〔〈“‘([{‹«")
#: what a line of the PDF may not start with (the test of the report checks this)
CLOSING = "，。、；：）》」』】！？"


def is_cjk(ch: str) -> bool:
    """A CJK ideograph, CJK punctuation or a full-width form."""
    o = ord(ch)
    return (0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF
            or 0x3000 <= o <= 0x303F)


def break_allowed(text: str, i: int) -> bool:
    """Whether a line may break before ``text[i]`` (0 < i < len(text)): between any two CJK
    characters, at a space between two non-CJK words, and after CJK before a Latin word; never
    before closing nor after opening punctuation, and never between a number and its CJK
    unit (so "6,102 公顷" stays together)."""
    a, b = text[i - 1], text[i]
    if b in NO_BREAK_BEFORE or a in NO_BREAK_AFTER or b == " ":
        return False
    if a == " ":
        j = i - 2
        while j >= 0 and text[j] == " ":
            j -= 1
        before = text[j] if j >= 0 else ""
        return not (before and is_cjk(before)) and not is_cjk(b)
    if is_cjk(a) and is_cjk(b):
        return True
    return is_cjk(a) and not is_cjk(b)


def wrap(text: str, width: float, measure, first: float | None = None) -> list[str]:
    """``text`` split into lines no wider than ``width`` (``measure(s)`` gives a string's
    width), at the break opportunities of :func:`break_allowed`; a piece that alone is wider
    than a line is cut between characters, never before closing punctuation. ``first`` is the
    width of the first line (an indented first line) when given."""
    lines: list[str] = []
    full = width

    def room() -> float:
        return first if first is not None and not lines else full

    for para in str(text).split("\n"):
        pieces, start = [], 0
        for i in range(1, len(para)):
            if break_allowed(para, i):
                pieces.append(para[start:i])
                start = i
        pieces.append(para[start:])
        line = ""
        for piece in pieces:
            if measure((line + piece).rstrip()) <= room():
                line += piece
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = piece.lstrip()
            while measure(line.rstrip()) > room() and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and measure(line[:cut]) > room():
                    cut -= 1
                while cut > 1 and (line[cut] in NO_BREAK_BEFORE
                                   or line[cut - 1] in NO_BREAK_AFTER):
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


NUMBER = re.compile(r"^[−+\-–]?[\d,.]+( ?%)?$|^[−+\-]?[\d,.]+ (…|–) [−+\-]?[\d,.]+$")


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height (pixels) of a PNG."""
    return struct.unpack(">II", png[16:24])


class ReportPDF:
    """fpdf2 with the report's page furniture: a running header, "page n of N" in the footer
    of every page, faux-bold headings, and blocks kept together across page breaks."""

    def __init__(self, lang: str, title: str, region: str):
        from fpdf import FPDF

        outer = self
        self.zh = lang == "zh"

        class _PDF(FPDF):
            def header(self):
                if self.page_no() > 1:
                    self.set_font("cjk", size=8)
                    self.set_text_color(110)
                    self.set_xy(self.l_margin, 10)
                    self.cell(self.epw, 5, f"{outer.title} — {outer.region}", align="L")
                    self.set_draw_color(170)
                    self.set_line_width(0.2)
                    self.line(self.l_margin, 15.5, self.w - self.r_margin, 15.5)
                    self.set_text_color(0)
                    self.set_y(self.t_margin)

            def footer(self):
                self.set_y(-13)
                self.set_font("cjk", size=8.5)
                self.set_text_color(90)
                n = self.page_no()
                self.cell(0, 5, f"第 {n} 页 / 共 {{nb}} 页" if outer.zh
                          else f"Page {n} of {{nb}}", align="C")
                self.set_text_color(0)

        self.title, self.region = title, region
        pdf = self.pdf = _PDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(20, 20, 20)
        pdf.set_auto_page_break(auto=True, margin=18)
        font = str(cjk_font())
        pdf.add_font("cjk", fname=font)
        pdf.alias_nb_pages()
        pdf.set_title(f"{title} — {region}")
        pdf.set_subject(title)
        pdf.set_author("ecorest")
        pdf.set_creator("ecorest (fpdf2)")
        pdf.set_lang("zh-CN" if self.zh else "en")
        pdf.set_font("cjk", size=10)

    # -- helpers ---------------------------------------------------------------------------
    @property
    def width(self) -> float:
        return self.pdf.epw

    def room(self) -> float:
        return self.pdf.page_break_trigger - self.pdf.get_y()

    def lines(self, text: str, size: float, width: float | None = None,
              first_indent: float = 0.0) -> list[str]:
        self.pdf.set_font("cjk", size=size)
        w = (width or self.width) - 0.3
        return wrap(text, w, self.pdf.get_string_width,
                    first=w - first_indent if first_indent else None)

    def text(self, text: str, size: float, lh: float, *, bold: bool = False,
             align: str = "L", indent: float = 0.0, colour: int = 0,
             first_indent: float = 0.0) -> None:
        from fpdf.enums import TextMode

        pdf = self.pdf
        pdf.set_text_color(colour)
        for k, line in enumerate(self.lines(text, size, self.width - indent, first_indent)):
            if self.room() < lh:
                pdf.add_page()
                pdf.set_font("cjk", size=size)
                pdf.set_text_color(colour)
            pdf.set_x(pdf.l_margin + indent + (first_indent if k == 0 else 0))
            if bold:  # faux bold: filled and stroked glyphs, inside a saved graphics state
                with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.18):
                    pdf.cell(self.width - indent, lh, line, align=align, new_x="LMARGIN",
                             new_y="NEXT")
            else:
                pdf.cell(self.width - indent, lh, line, align=align, new_x="LMARGIN",
                         new_y="NEXT")
        pdf.set_text_color(0)

    def need(self, height: float) -> None:
        """A new page unless ``height`` mm fit on this one."""
        if self.room() < height:
            self.pdf.add_page()

    # -- tables ----------------------------------------------------------------------------
    def column_widths(self, headers, rows, size: float) -> list[float]:
        """Widths (mm) that fit the text width: each column as wide as its longest value
        (numbers never wrap; headers may), the widest text columns shrunk first."""
        pdf, pad = self.pdf, 2.2
        pdf.set_font("cjk", size=size)
        cols = list(zip(*rows, strict=True)) if rows else [[""]] * len(headers)
        want, minimal = [], []
        for h, col in zip(headers, cols, strict=True):
            natural = max(pdf.get_string_width(str(v)) for v in col) + pad
            head = pdf.get_string_width(str(h)) + pad
            numeric = all(NUMBER.match(str(v)) or not str(v) for v in col)
            longest_word = max((pdf.get_string_width(w) for v in (h, *col)
                                for w in re.split(r"[ ,，、/]", str(v)) if not any(
                                    is_cjk(ch) for ch in w)), default=0) + pad
            if numeric:  # numbers never wrap; a header wraps between words only
                word = min(max((pdf.get_string_width(w) for w in re.split(r"[ /]", str(h))
                                if not any(is_cjk(ch) for ch in w)), default=0) + pad, 24)
                want.append(max(natural, min(head, 18), word))
                minimal.append(max(natural, min(head, 12), word))
            else:
                want.append(max(natural, min(head, 30)))
                minimal.append(min(max(12, min(longest_word, 30)), want[-1]))
        full = [max(w, pdf.get_string_width(str(h)) + pad) for w, h in zip(want, headers,
                                                                             strict=True)]
        if sum(full) <= self.width:  # headers on one line when that fits
            want = full
        if sum(want) <= self.width:
            return want if sum(want) < 0.6 * self.width else \
                [w * self.width / sum(want) for w in want]
        widths = list(want)
        for _ in range(200):
            over = sum(widths) - self.width
            free = [i for i, w in enumerate(widths) if w > minimal[i] + 0.01]
            if over <= 0.01 or not free:
                break
            top = max(widths[i] for i in free)
            tops = [i for i in free if widths[i] >= top - 0.01]
            rest = [widths[i] for i in free if widths[i] < top - 0.01]
            floor = max(rest) if rest else 0
            step = min(over / len(tops), top - floor) if top - floor > 0.01 else over / len(tops)
            for i in tops:
                widths[i] = max(minimal[i], widths[i] - step)
        return [w * self.width / sum(widths) for w in widths] if sum(widths) > self.width \
            else widths

    def table(self, block) -> None:
        from fpdf.enums import TextMode

        pdf, size, lh = self.pdf, 8.5, 4.0
        headers = [str(h) for h in block.headers]
        rows = [[str(c) for c in r] for r in block.rows]
        widths = self.column_widths(headers, rows, size)

        def cells(values):
            pdf.set_font("cjk", size=size)
            return [wrap(v, w - 1.8, pdf.get_string_width) for v, w in zip(values, widths,
                                                                             strict=True)]

        numeric = [all(NUMBER.match(v) or v in ("", "—") for v in col)
                   for col in (zip(*rows, strict=True) if rows else [[]] * len(headers))]
        head = cells(headers)
        head_h = max(len(c) for c in head) * lh + 1.6
        body = [cells(r) for r in rows]
        heights = [max(len(c) for c in cs) * lh + 1.2 for cs in body]
        caption = self.lines(block.text, 9.5)
        cap_h = len(caption) * 5 + 1
        note_h = len(self.lines(block.note, 8)) * 3.8 + 1 if block.note else 0
        whole = cap_h + head_h + sum(heights) + note_h
        first = cap_h + head_h + sum(heights[:5])
        # a table that does not fit goes to the next page whole, unless it is long (> 8 rows)
        # and at least its first five rows fit here (its header repeats on the next page)
        if self.room() < whole and (len(rows) <= 8 or self.room() < first):
            pdf.add_page()
        x0 = pdf.l_margin + max(0.0, (self.width - sum(widths)) / 2)
        self.text(block.text, 9.5, 5, bold=True, align="C")
        pdf.ln(1)

        def draw(cs, h, fill, header=False):
            x, y = x0, pdf.get_y()
            pdf.set_font("cjk", size=size)
            pdf.set_draw_color(140)
            pdf.set_line_width(0.15)
            if fill:
                pdf.set_fill_color(*fill)
                pdf.rect(x0, y, sum(widths), h, style="F")
            for lines_, w, j in zip(cs, widths, range(len(widths)), strict=True):
                value = " ".join(lines_)
                align = "C" if header else ("R" if numeric[j] and j and value else "L")
                for k, line in enumerate(lines_):
                    pdf.set_xy(x + 0.9, y + 0.6 + k * lh)
                    if header:
                        with pdf.local_context(text_mode=TextMode.FILL_STROKE,
                                               line_width=0.12):
                            pdf.cell(w - 1.8, lh, line, align=align)
                    else:
                        pdf.cell(w - 1.8, lh, line, align=align)
                x += w
            pdf.line(x0, y, x0 + sum(widths), y)
            pdf.line(x0, y + h, x0 + sum(widths), y + h)
            pdf.set_xy(pdf.l_margin, y + h)

        draw(head, head_h, (232, 236, 240), header=True)
        for i, (cs, h) in enumerate(zip(body, heights, strict=True)):
            if self.room() < h:
                pdf.add_page()
                draw(head, head_h, (232, 236, 240), header=True)
            draw(cs, h, (247, 247, 247) if i % 2 else None)
        if block.note:
            pdf.ln(0.8)
            self.text(block.note, 8, 3.8, colour=70)
        pdf.ln(3)

    # -- figures ---------------------------------------------------------------------------
    def image(self, block) -> None:
        pdf = self.pdf
        wpx, hpx = png_size(block.png)
        w = min(self.width, 150 if hpx > 0.8 * wpx else 160)
        h = w * hpx / wpx
        if h > 150:
            w, h = w * 150 / h, 150
        cap = (len(self.lines(block.text, 9.5)) * 5 if block.text else 0) \
            + (len(self.lines(block.note, 8)) * 3.8 if block.note else 0) + 3
        if self.room() < h + cap:
            if self.room() >= 0.7 * h + cap and self.room() - cap > 60:
                h2 = self.room() - cap
                w, h = w * h2 / h, h2
            else:
                pdf.add_page()
        pdf.image(io.BytesIO(block.png), x=pdf.l_margin + (self.width - w) / 2, w=w, h=h)
        pdf.ln(1)
        if block.text:
            self.text(block.text, 9.5, 5, bold=True, align="C")
        if block.note:
            self.text(block.note, 8, 3.8, colour=70)
        pdf.ln(3)

    # -- front matter ----------------------------------------------------------------------
    def cover(self, block) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.set_y(62)
        self.text(block.text, 22, 11, bold=True, align="C")
        pdf.ln(6)
        self.text(self.region, 16, 8, align="C")
        pdf.ln(30)
        indent = 22
        for label, value in block.rows:  # the value's lines hang after the label
            pdf.set_font("cjk", size=11.5)
            lw = pdf.get_string_width(label) + 1
            pdf.set_x(pdf.l_margin + indent)
            pdf.cell(lw, 7.5, label)
            for line in self.lines(value, 11.5, self.width - 2 * indent - lw):
                pdf.set_x(pdf.l_margin + indent + lw)
                pdf.cell(self.width - 2 * indent - lw, 7.5, line, new_x="LMARGIN",
                         new_y="NEXT")
            pdf.ln(1.5)

    def toc(self, heading: str) -> None:
        pdf = self.pdf

        def render(pdf_, outline) -> None:
            self.text(heading, 15, 9, bold=True, align="C")
            pdf_.ln(4)
            for s in outline:
                indent = 8 * s.level
                size = 11 if s.level == 0 else 10
                pdf_.set_font("cjk", size=size)
                name = s.name
                num = str(s.page_number)
                x0 = pdf_.l_margin + indent
                avail = self.width - indent - pdf_.get_string_width(num) - 4
                while pdf_.get_string_width(name) > avail and len(name) > 4:
                    name = name[:-2] + "…"
                dots = "·" * max(0, int((avail - pdf_.get_string_width(name))
                                        / max(pdf_.get_string_width("·"), 0.1)) - 1)
                pdf_.set_x(x0)
                pdf_.cell(self.width - indent - pdf_.get_string_width(num) - 2, 7,
                          f"{name} {dots}", align="L", link=pdf_.add_link(page=s.page_number))
                pdf_.cell(pdf_.get_string_width(num) + 2, 7, num, align="R",
                          new_x="LMARGIN", new_y="NEXT")

        pdf.add_page()
        # reserves this page for the contents (and more when needed) and starts a new one
        pdf.insert_toc_placeholder(render, pages=1, allow_extra_pages=True)

    # -- blocks ----------------------------------------------------------------------------
    def heading(self, block, level: int, after: list) -> None:
        """A heading kept on one page with the start of what follows (the next heading and
        the first lines, rows or the figure after it)."""
        pdf = self.pdf
        size, lh = (14, 8) if level == 0 else (11.5, 6.5)
        first = 0.0
        following = None
        for nxt in after:
            if nxt.kind in ("h2", "h3"):
                first += 12
                continue
            following = nxt
            break
        if following is not None:
            if following.kind in ("p", "note"):  # (a short paragraph moves whole)
                n = len(self.lines(following.text, 10))
                first += (n if n <= 4 else 3) * 5.6
            elif following.kind == "table":
                first += 30
            elif following.kind == "img":
                wpx, hpx = png_size(following.png)
                first += min(150, min(self.width, 150) * hpx / wpx) * 0.7 + 10
        before = 4 if level == 0 else 2
        # the space above, the heading, the space below and the start of what follows, with a
        # line to spare (the estimate ignores a first-line indent)
        if self.room() < before + lh + 2.5 + first + 5.6:
            pdf.add_page()
        else:
            pdf.ln(before)
        pdf.start_section(block.text, level=level)
        self.text(block.text, size, lh, bold=True)
        if level == 0:
            pdf.set_draw_color(60)
            pdf.set_line_width(0.35)
            pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.w - pdf.r_margin, pdf.get_y() + 0.5)
        pdf.ln(2.5)


def to_pdf(blocks: list[Block], path: Path, lang: str = "zh") -> None:
    cover = next((b for b in blocks if b.kind == "cover"), None)
    title = cover.text if cover else blocks[0].text
    region = cover.name if cover else ""
    doc = ReportPDF(lang, title, region)
    pdf = doc.pdf
    if cover is None:
        pdf.add_page()
    for i, b in enumerate(blocks):
        if b.kind == "cover":
            doc.cover(b)
        elif b.kind == "toc":
            doc.toc(b.text)
        elif b.kind == "pagebreak":
            pdf.add_page()
        elif b.kind == "h1":
            doc.text(b.text, 16, 8, bold=True)
            pdf.ln(3)
        elif b.kind in ("h2", "h3"):
            doc.heading(b, 0 if b.kind == "h2" else 1, blocks[i + 1:i + 4])
        elif b.kind == "p":  # Chinese paragraphs open with a two-character indent
            pdf.set_font("cjk", size=10)
            indent = 2 * pdf.get_string_width("中") if lang == "zh" else 0.0
            n = len(doc.lines(b.text, 10, first_indent=indent))
            if n <= 4:  # a short paragraph is never split over two pages
                doc.need(n * 5.6)
            doc.text(b.text, 10, 5.6, first_indent=indent)
            pdf.ln(2)
        elif b.kind == "note":
            doc.text(b.text, 8.5, 4.2, colour=60)
            pdf.ln(1.5)
        elif b.kind == "table":
            doc.table(b)
        elif b.kind == "img":
            doc.image(b)
    pdf.output(str(path))


def write(blocks: list[Block], out_dir: Path, stem: str, lang: str,
          formats: list[str]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "html":
            path.write_text(to_html(blocks, lang), encoding="utf-8")
        elif fmt == "md":
            path.write_text(to_markdown(blocks, out_dir / "figures", stem), encoding="utf-8")
        elif fmt == "pdf":
            to_pdf(blocks, path, lang)
        else:
            raise ResultError(f"unknown report format {fmt!r}: use {', '.join(REPORT_FORMATS)}")
        written.append(path)
    return written
