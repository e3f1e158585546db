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


def true_north(crs, x: float, y: float) -> float:
    """Angle (degrees, clockwise) of true north from grid north at grid point (x, y): the
    meridian convergence of the grid CRS there (0 on the central meridian)."""
    from pyproj import Transformer

    to_geo = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_grid = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    x2, y2 = to_grid.transform(lon, min(lat + 0.01, 89.99))
    return float(np.degrees(np.arctan2(x2 - x, y2 - y)))


def ground_per_grid(crs, x: float, y: float, length: float) -> float:
    """Ground (geodesic) metres per grid metre along a horizontal line of ``length`` grid
    metres starting at (x, y)."""
    from pyproj import Geod, Transformer

    to_geo = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon1, lat1 = to_geo.transform(x, y)
    lon2, lat2 = to_geo.transform(x + length, y)
    geod = Geod(ellps="WGS84")
    return float(geod.inv(lon1, lat1, lon2, lat2)[2]) / length


def _decorate_map(ax, grid, outlines, t, crs=None) -> None:
    """Scale bar, north arrow and zone outlines (rows with ``zone_set`` and ``wkb``, the
    outline in grid coordinates) on a map in grid metres. With the grid's ``crs`` the arrow
    points to true north at the map's centre (the meridian convergence of the grid CRS) and
    the scale bar measures ground (geodesic) distance; without it, grid north and grid
    metres."""
    import shapely

    for outline in outlines:
        region = outline["zone_set"] == "region"
        geom = shapely.from_wkb(bytes(outline["wkb"]))
        for poly in getattr(geom, "geoms", [geom]):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="black" if region else "#555555", lw=1.0 if region else 0.6)
    left, right, bottom, top = data_extent(grid, outlines)
    width = right - left
    height = top - bottom
    x0, y0 = left + width * 0.05, bottom + height * 0.05
    ratio = ground_per_grid(crs, x0, y0, width / 4) if crs is not None else 1.0
    nice = [1, 2, 5]
    target = width / 4 * ratio  # ground metres
    mag = 10 ** int(np.floor(np.log10(target)))
    length = max(m * mag for m in nice if m * mag <= target)
    ax.plot([x0, x0 + length / ratio], [y0, y0], color="black", lw=3)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / ratio / 2, y0 + height * 0.015, label, ha="center", va="bottom",
            fontsize=8)
    angle = true_north(crs, (left + right) / 2, (bottom + top) / 2) if crs is not None else 0.0
    size = 0.08 * min(width, height)
    bx, by = right - width * 0.06, top - height * 0.06 - size
    tip = (bx + size * np.sin(np.radians(angle)), by + size * np.cos(np.radians(angle)))
    ax.annotate("", xy=tip, xytext=(bx, by), xycoords="data",
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})
    ax.text(bx - size * 0.35 * np.sin(np.radians(angle)),
            by - size * 0.35 * np.cos(np.radians(angle)), t("north"), ha="center",
            va="center", fontsize=9)
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


def grade_map(grid, outlines, t, grade_names: dict[int, str], crs=None) -> bytes:
    _use_font()
    fig, ax = plt.subplots(figsize=(7, 7))
    cmap = ListedColormap(GRADE_COLOURS)
    norm = BoundaryNorm([0.5, 1.5, 2.5, 3.5, 4.5, 5.5], cmap.N)
    ax.imshow(np.ma.masked_invalid(_thin(grid)), cmap=cmap, norm=norm, extent=grid.extent,
              interpolation="nearest")
    _decorate_map(ax, grid, outlines, t, crs)
    ax.legend(handles=[Patch(color=GRADE_COLOURS[g - 1], label=f"{g} {grade_names[g]}")
                       for g in range(1, 6)], loc="lower right", fontsize=8,
              title=t("grade"), title_fontsize=9, framealpha=0.9)
    return _png(fig, t("map_grades"))


def change_map(grid, outlines, t, title: str, crs=None) -> bytes:
    _use_font()
    fig, ax = plt.subplots(figsize=(7, 7))
    v = _thin(grid)
    lim = np.nanpercentile(np.abs(v), 99) if np.isfinite(v).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(v), cmap="RdYlGn", vmin=-max(lim, 1e-9),
                   vmax=max(lim, 1e-9), extent=grid.extent, interpolation="nearest")
    _decorate_map(ax, grid, outlines, t, crs)
    cb = fig.colorbar(im, ax=ax, shrink=0.7)
    cb.set_label(t("t_c_per_ha"))
    return _png(fig, title)


#: colours of land-cover classes without one in their legend
CLASS_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                 "#666666", "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6", "#ffff99", "#b15928"]


def landcover_map(grid, outlines, t, classes: dict[int, tuple[str, str | None]], title: str,
                  crs=None) -> bytes:
    """A land-cover map: every class present in its legend colour (or one of CLASS_COLOURS),
    named in the legend box; ``classes`` maps a code to (name, colour or None)."""
    _use_font()
    fig, ax = plt.subplots(figsize=(7, 7))
    v = _thin(grid)
    codes = sorted(int(c) for c in np.unique(v[np.isfinite(v)]))
    colours = [classes.get(c, (str(c), None))[1] or CLASS_COLOURS[i % len(CLASS_COLOURS)]
               for i, c in enumerate(codes)]
    index = np.full(v.shape, np.nan)
    for i, c in enumerate(codes):
        index[v == c] = i
    if codes:
        cmap = ListedColormap(colours)
        norm = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, cmap.N)
        ax.imshow(np.ma.masked_invalid(index), cmap=cmap, norm=norm, extent=grid.extent,
                  interpolation="nearest")
    _decorate_map(ax, grid, outlines, t, crs)
    ax.legend(handles=[Patch(color=col, label=f"{c} {classes.get(c, (str(c), None))[0]}")
                       for c, col in zip(codes, colours, strict=True)], loc="lower right",
              fontsize=7, framealpha=0.9)
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
