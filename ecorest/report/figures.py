"""Maps and charts of the report (matplotlib, PNG bytes). Chinese labels need a CJK font:
fonts-wqy-microhei (installed by the setup step) or a file named by ECOREST_CJK_FONT."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from ecorest.errors import LoadError  # noqa: E402

CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
GRADE_COLOURS = ["#b2182b", "#ef8a62", "#fddbc7", "#67a9cf", "#e0e0e0"]


def cjk_font() -> Path:
    """The CJK font file used in figures and the PDF."""
    for f in (os.environ.get("ECOREST_CJK_FONT"), *CJK_FONTS):
        if f and Path(f).is_file():
            return Path(f)
    raise LoadError("no CJK font found for the Chinese report: install fonts-wqy-microhei "
                    "(`./dev setup` does) or set ECOREST_CJK_FONT to a .ttf/.ttc file")


def _use_font() -> None:
    path = cjk_font()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.family"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


def _png(fig, title: str = "") -> bytes:
    """The figure as PNG; its title goes into the PNG's metadata, not onto the figure (the
    report's numbered caption names it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight",
                metadata={"Title": title} if title else None)
    plt.close(fig)
    return buf.getvalue()


def _decorate_map(ax, grid, outlines, t) -> None:
    """Scale bar, north arrow (grid north) and zone outlines (rows with ``zone_set`` and
    ``wkb``, the outline in grid coordinates) on a map in grid metres."""
    import shapely

    for outline in outlines:
        region = outline["zone_set"] == "region"
        geom = shapely.from_wkb(bytes(outline["wkb"]))
        for poly in getattr(geom, "geoms", [geom]):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="black" if region else "#555555", lw=1.0 if region else 0.6)
    left, right, bottom, top = data_extent(grid, outlines)
    width = right - left
    nice = [1, 2, 5]
    target = width / 4
    mag = 10 ** int(np.floor(np.log10(target)))
    length = max(m * mag for m in nice if m * mag <= target)
    x0, y0 = left + width * 0.05, bottom + (top - bottom) * 0.05
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=3)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (top - bottom) * 0.015, label, ha="center", va="bottom",
            fontsize=8)
    ax.annotate(t("north"), xy=(0.95, 0.95), xytext=(0.95, 0.83), xycoords="axes fraction",
                ha="center", va="center", fontsize=9,
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")


def data_extent(grid, outlines) -> tuple[float, float, float, float]:
    """The extent of the grid's cells with data and of the region outline, with a 3 % margin
    (the mosaic of whole tiles can be much larger than the region)."""
    import shapely

    left, right, bottom, top = grid.extent
    ok = np.isfinite(grid.values)
    boxes = []
    if ok.any():
        rows, cols = np.where(ok.any(axis=1))[0], np.where(ok.any(axis=0))[0]
        px = grid.pixel_m
        boxes.append((grid.left + cols[0] * px, grid.left + (cols[-1] + 1) * px,
                      grid.top - (rows[-1] + 1) * px, grid.top - rows[0] * px))
    for o in outlines:
        if o["zone_set"] == "region":
            x0, y0, x1, y1 = shapely.from_wkb(bytes(o["wkb"])).bounds
            boxes.append((x0, x1, y0, y1))
    if not boxes:
        return left, right, bottom, top
    l0, r0 = min(b[0] for b in boxes), max(b[1] for b in boxes)
    b0, t0 = min(b[2] for b in boxes), max(b[3] for b in boxes)
    m = 0.03 * max(r0 - l0, t0 - b0)
    return l0 - m, r0 + m, b0 - m, t0 + m


def _thin(grid):
    """At most ~1600 px on the long side (every n-th pixel), for the figure only."""
    step = max(1, int(np.ceil(max(grid.values.shape) / 1600)))
    return grid.values[::step, ::step]


def grade_map(grid, outlines, t, grade_names: dict[int, str]) -> bytes:
    _use_font()
    fig, ax = plt.subplots(figsize=(7, 7))
    cmap = ListedColormap(GRADE_COLOURS)
    norm = BoundaryNorm([0.5, 1.5, 2.5, 3.5, 4.5, 5.5], cmap.N)
    ax.imshow(np.ma.masked_invalid(_thin(grid)), cmap=cmap, norm=norm, extent=grid.extent,
              interpolation="nearest")
    _decorate_map(ax, grid, outlines, t)
    ax.legend(handles=[Patch(color=GRADE_COLOURS[g - 1], label=f"{g} {grade_names[g]}")
                       for g in range(1, 6)], loc="lower right", fontsize=8,
              title=t("grade"), title_fontsize=9, framealpha=0.9)
    return _png(fig, t("map_grades"))


def change_map(grid, outlines, t, title: str) -> bytes:
    _use_font()
    fig, ax = plt.subplots(figsize=(7, 7))
    v = _thin(grid)
    lim = np.nanpercentile(np.abs(v), 99) if np.isfinite(v).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(v), cmap="RdYlGn", vmin=-max(lim, 1e-9),
                   vmax=max(lim, 1e-9), extent=grid.extent, interpolation="nearest")
    _decorate_map(ax, grid, outlines, t)
    cb = fig.colorbar(im, ax=ax, shrink=0.7)
    cb.set_label(t("t_c_per_ha"))
    return _png(fig, title)


def stock_chart(stocks: list[dict], t) -> bytes:
    """Stacked bars: carbon stock per epoch, by pool (million t C); ``stocks`` are rows with
    ``epoch_label``, ``pool`` and ``carbon_t``."""
    _use_font()
    epochs = sorted({s["epoch_label"] for s in stocks})
    pools = sorted({s["pool"] for s in stocks})
    val = {(s["epoch_label"], s["pool"]): s["carbon_t"] for s in stocks}
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    bottom = np.zeros(len(epochs))
    for pool in pools:
        h = np.array([val.get((e, pool), 0.0) / 1e6 for e in epochs])
        ax.bar(epochs, h, bottom=bottom, label=t("pool_" + pool))
        bottom += h
    many = len(epochs) > 6
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{total:,.2f}", ha="center", va="bottom", fontsize=6 if many else 8,
                rotation=90 if many else 0)
    ax.set_ylim(0, bottom.max() * (1.18 if many else 1.08) if len(bottom) else 1)
    ax.set_ylabel(t("mt_c"))
    if many:
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", fontsize=8)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16 if many else -0.08),
              ncol=len(pools), frameon=False)
    return _png(fig, t("chart_stocks"))


def bar_chart(labels: list[str], values: list[float], title: str, ylabel: str,
              colours: list[str] | None = None) -> bytes:
    _use_font()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.bar(labels, values, color=colours)
    for x, v in enumerate(values):
        ax.text(x, v, f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.2f}", ha="center", va="bottom",
                fontsize=8)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right", fontsize=8)
    return _png(fig, title)


def cumulative_chart(series: dict[str, list[tuple[int, float]]], ylabel: str,
                     title: str) -> bytes:
    """One line per key: the running sum of its (year, value) pairs."""
    _use_font()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for name, points in sorted(series.items()):
        points = sorted(points)
        ax.plot([p[0] for p in points], np.cumsum([p[1] for p in points]), marker="o",
                markersize=3, label=name)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return _png(fig, title)
