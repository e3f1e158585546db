"""Write the report blocks as HTML (self-contained), Markdown (+ PNG figures) or PDF."""

from __future__ import annotations

import base64
import html
import io
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
figcaption { font-size: .9em; color: #555; }
"""


def to_html(blocks: list[Block], lang: str) -> str:
    out = [f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
           '<meta charset="utf-8"><title>' + html.escape(blocks[0].text) + "</title>"
           f"<style>{CSS}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2"):
            out.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                           + "</tr>" for r in b.rows)
            out.append(f"<table><caption>{html.escape(b.text)}</caption><thead><tr>{head}"
                       f"</tr></thead><tbody>{rows}</tbody></table>")
        elif b.kind == "img":
            data = base64.b64encode(b.png).decode()
            out.append(f'<figure><img alt="{html.escape(b.text or b.name)}" '
                       f'src="data:image/png;base64,{data}">'
                       f"<figcaption>{html.escape(b.text)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def to_markdown(blocks: list[Block], figure_dir: Path, prefix: str) -> str:
    figure_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}\n")
        elif b.kind == "h2":
            out.append(f"## {b.text}\n")
        elif b.kind == "p":
            out.append(b.text + "\n")
        elif b.kind == "table":
            def cell(c) -> str:
                return str(c).replace("|", "\\|")
            out.append(f"**{b.text}**\n")
            out.append("| " + " | ".join(cell(h) for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
        elif b.kind == "img":
            name = f"{prefix}_{b.name}.png"
            (figure_dir / name).write_bytes(b.png)
            out.append(f"![{b.text or b.name}]({figure_dir.name}/{name})\n")
    return "\n".join(out)


def to_pdf(blocks: list[Block], path: Path) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    font = str(cjk_font())
    pdf.add_font("cjk", fname=font)
    pdf.add_font("cjk", style="B", fname=font)
    pdf.set_font("cjk", size=10)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for b in blocks:
        if b.kind == "h1":
            pdf.set_font("cjk", size=16)
            pdf.multi_cell(width, 8, b.text, align="L")
            pdf.ln(3)
        elif b.kind == "h2":
            pdf.ln(2)
            pdf.set_font("cjk", size=13)
            pdf.multi_cell(width, 7, b.text, align="L")
            pdf.ln(1)
        elif b.kind == "p":
            pdf.set_font("cjk", size=9.5)
            pdf.multi_cell(width, 5, b.text, align="L")
            pdf.ln(1.5)
        elif b.kind == "table":
            pdf.set_font("cjk", size=9.5)
            pdf.multi_cell(width, 5, b.text, align="L")
            size = 7 if len(b.headers) <= 8 else 6
            pdf.set_font("cjk", size=size)
            # column widths follow the longest text of each column (within bounds)
            lengths = [max(len(str(v)) for v in col) for col in zip(b.headers, *b.rows,
                                                                   strict=True)]
            widths = tuple(min(max(n, 4), 40) for n in lengths)
            with pdf.table(width=width, col_widths=widths, line_height=size * 0.55,
                           text_align="LEFT",
                           headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235)),
                           first_row_as_headings=True) as table:
                table.row([str(h) for h in b.headers])
                for r in b.rows:
                    table.row([str(c) for c in r])
            pdf.ln(2)
        elif b.kind == "img":
            pdf.image(io.BytesIO(b.png), w=min(width, 160))
            if b.text:
                pdf.set_font("cjk", size=8.5)
                pdf.multi_cell(width, 4.5, b.text, align="L")
            pdf.ln(2)
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
            to_pdf(blocks, path)
        else:
            raise ResultError(f"unknown report format {fmt!r}: use {', '.join(REPORT_FORMATS)}")
        written.append(path)
    return written
