"""Charts of the bulletin (简报图表): matplotlib figures as inline SVG, with the project's own CJK font.

The font is Noto Sans CJK SC from the PyPI package `noto-cjk[sans]` (the OpenType collection
`NotoSansCJK-Regular.ttc`), registered with matplotlib explicitly (`font_manager.addfont`), so no
system font is needed. Text in the SVG is converted to paths (`svg.fonttype = path`): a chart needs
no font to display. The page text uses a subset of the same face, embedded as a base64 @font-face
(`font_face_css`).

Output is deterministic: no date in the SVG metadata, and ids salted per chart (so two inline
charts never share an id), so the same data gives the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FONT_FAMILY = "Noto Sans CJK SC"
# A4 portrait with 15 mm margins leaves 180 mm of width
WIDTH_IN = 180 / 25.4
COLOURS = ["#b22222", "#1f5fa8", "#2e8b57", "#d2821e", "#6a4c93", "#5f6b73", "#c2185b", "#00838f", "#8d6e63"]
MET, NOT_MET, NEUTRAL, SMALL = "#2e8b57", "#c62828", "#1f5fa8", "#9e9e9e"


@lru_cache(maxsize=1)
def cjk_font() -> tuple[Path, int]:
    """The font file of Noto Sans CJK SC shipped by `noto-cjk[sans]` and the index of the SC face in it."""
    from fontTools.ttLib import TTCollection
    from noto_cjk import otc_path

    path = Path(otc_path("sans"))
    collection = TTCollection(str(path), lazy=True)
    for index, face in enumerate(collection.fonts):
        if face["name"].getDebugName(1) == FONT_FAMILY:
            return path, index
    raise RuntimeError(f"{path} has no face {FONT_FAMILY!r}")


@lru_cache(maxsize=1)
def _register_font() -> None:
    path, _ = cjk_font()
    font_manager.fontManager.addfont(str(path))  # registers every face of the collection
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    if FONT_FAMILY not in names:
        raise RuntimeError(f"matplotlib did not register {FONT_FAMILY} from {path}")


def _style() -> dict:
    _register_font()
    return {
        "font.family": [FONT_FAMILY],
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#e0e0e0",
        "grid.linewidth": 0.6,
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "figure.dpi": 100,
    }


def font_face_css(text: str) -> str:
    """A @font-face rule with the Noto Sans CJK SC glyphs of `text`, as a base64 WOFF (TrueType outlines),
    so the page needs no network and no system font."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path, index = cjk_font()
    font = TTFont(str(path), fontNumber=index, recalcTimestamp=False, lazy=False)
    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # keep the licence-relevant names
    subsetter = subset.Subsetter(options)
    chars = {c for c in text if ord(c) >= 32} | {chr(c) for c in range(32, 127)}
    subsetter.populate(unicodes=sorted(ord(c) for c in chars))
    subsetter.subset(font)
    _cff_to_truetype(font)
    buffer = io.BytesIO()
    font.flavor = "woff"
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return ("@font-face { font-family: 'Bulletin CJK'; font-style: normal; font-weight: 400; "
            f"src: url(data:font/woff;base64,{data}) format('woff'); }}")


def _cff_to_truetype(font) -> None:
    """Convert the subset's cubic CFF outlines to quadratic TrueType ones (in place).

    Chromium's PDF backend (Skia) embeds a TrueType font as an embedded CID TrueType subset, but a CFF
    font only as Type 3 glyph procedures (unhinted, poorly rendered by some viewers and printers).
    """
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    font["loca"], font["glyf"] = newTable("loca"), glyf
    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs", "maxStackElements",
                 "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    font.sfntVersion = "\x00\x01\x00\x00"


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an inline <svg> element (no XML prolog), deterministic, ids unique to `name`."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"shumei-{name}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    start = svg.index("<svg")
    return svg[start:].replace("<svg ", f'<svg role="img" aria-label="{name}" data-chart="{name}" ', 1)


def _month_axis(ax, months: Sequence[date]) -> None:
    ticks = [i for i, m in enumerate(months) if m.month in (1, 7)] or [0]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{months[i]:%Y-%m}" for i in ticks])


@dataclass
class TargetPanel:
    """One indicator: its series at each target area, and the targets at their deadlines."""

    title: str
    unit_label: str
    series: dict[str, list[tuple[date, float | None, bool]]]  # area name -> (period end, value, provisional)
    targets: list[tuple[date, float, bool | None, str]] = field(default_factory=list)  # deadline, target, met, area


# a panel with more target areas than this draws them as thin grey lines under one legend entry (a
# city's twenty towns would otherwise give twenty colours and a legend over the plot); each target's
# area and figure are in the table under the chart
MAX_NAMED_AREAS = 6


def target_progress(panels: Sequence[TargetPanel], name: str = "targets") -> str:
    """Small multiples: each target indicator over time, its targets as markers at their deadlines."""
    with matplotlib.rc_context(_style()):
        return to_svg(target_figure(panels), name)


def target_figure(panels: Sequence[TargetPanel]) -> Figure:
    """The figure of target_progress (its legend and lines can be inspected before it becomes SVG), in
    the bulletin's style and font whoever calls it."""
    with matplotlib.rc_context(_style()):
        return _target_figure(panels)


def _target_figure(panels: Sequence[TargetPanel]) -> Figure:
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH_IN, 1.75 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        crowded = len(panel.series) > MAX_NAMED_AREAS
        for i, (area, points) in enumerate(panel.series.items()):
            colour = SMALL if crowded else COLOURS[(i + 1) % len(COLOURS)]
            xs = [p[0] for p in points if p[1] is not None]
            ys = [p[1] for p in points if p[1] is not None]
            ax.plot(xs, ys, color=colour, linewidth=0.6 if crowded else 1.2,
                    label=area if 1 < len(panel.series) <= MAX_NAMED_AREAS else None)
            prov = [(p[0], p[1]) for p in points if p[2] and p[1] is not None]
            if prov:
                ax.plot(*zip(*prov, strict=True), linestyle="none", marker="o", markersize=2 if crowded else 3.5,
                        markerfacecolor="white", color=colour)
        if crowded:
            ax.plot([], [], color=SMALL, linewidth=0.6, label=f"{len(panel.series)} 个地区 areas（见下表 see table）")
        for deadline, target, met, _area in panel.targets:
            colour = NEUTRAL if met is None else (MET if met else NOT_MET)
            ax.axvline(deadline, color=colour, linestyle=":", linewidth=0.8)
            ax.plot([deadline], [target], marker="o" if met is None else ("D" if met else "X"), color=colour,
                    markersize=5,
                    linestyle="none")
        ax.set_title(panel.title, loc="left")
        ax.set_ylabel(panel.unit_label)
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.tick_params(axis="x", labelsize=7)
        if len(panel.series) > 1:
            ax.legend(fontsize=6.5, frameon=False, loc="lower right")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def monthly_bars(months: Sequence[date], values: Sequence[float | None], provisional: Sequence[bool],
                 label: Callable[[float], str], ylabel: str, name: str) -> str:
    """Monthly bars with value labels; a provisional month is hatched."""
    with matplotlib.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.4))
        xs = range(len(months))
        heights = [v or 0 for v in values]
        bars = ax.bar(xs, heights, color=[COLOURS[1]] * len(months), width=0.75)
        for bar, prov in zip(bars, provisional, strict=True):
            if prov:
                bar.set_facecolor("white")
                bar.set_edgecolor(COLOURS[1])
                bar.set_hatch("////")
        for x, v in zip(xs, values, strict=True):
            if v is not None:
                ax.text(x, v, label(v), ha="center", va="bottom", fontsize=5.5, rotation=90)
        _month_axis(ax, months)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, max(heights + [1]) * 1.18)
        fig.tight_layout()
        return to_svg(fig, name)


def monthly_lines(months: Sequence[date], series: dict[str, Sequence[float | None]],
                  provisional: Sequence[bool], ylabel: str, name: str, height: float = 2.4) -> str:
    """One line per series over the months; a provisional month has a hollow marker."""
    with matplotlib.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
        xs = list(range(len(months)))
        for i, (label, values) in enumerate(series.items()):
            colour = COLOURS[i % len(COLOURS)]
            pts = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), color=colour, linewidth=1.3, marker="o", markersize=2.2,
                        label=label)
            prov = [(x, v) for x, v, p in zip(xs, values, provisional, strict=True) if p and v is not None]
            if prov:
                ax.plot(*zip(*prov, strict=True), linestyle="none", marker="o", markersize=4,
                        markerfacecolor="white", color=colour)
        _month_axis(ax, months)
        ax.set_ylabel(ylabel)
        if ax.get_legend_handles_labels()[0]:  # no legend over a chart whose series have no value yet
            ax.legend(fontsize=7, frameon=False, ncol=len(series), loc="lower center", bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout()
        return to_svg(fig, name)


@dataclass
class RankedBar:
    label: str
    value: float | None
    text: str  # the value as printed (catalogue decimals)
    small_count: bool


def ranking_panels(panels: dict[str, Sequence[RankedBar]], name: str) -> str:
    """Side-by-side horizontal bars, one panel per rate, best at the top; small counts grey and hatched."""
    with matplotlib.rc_context(_style()):
        count = max(len(bars) for bars in panels.values())
        fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH_IN, 0.5 + 0.19 * count), squeeze=False)
        for ax, (title, bars) in zip(axes.flat, panels.items(), strict=True):
            ys = list(range(len(bars)))[::-1]
            values = [b.value or 0 for b in bars]
            drawn = ax.barh(ys, values, color=COLOURS[1], height=0.7)
            for rect, bar in zip(drawn, bars, strict=True):
                if bar.small_count:
                    rect.set_facecolor("white")
                    rect.set_edgecolor(SMALL)
                    rect.set_hatch("////")
            for y, bar in zip(ys, bars, strict=True):
                ax.text((bar.value or 0) + 1, y, bar.text + ("*" if bar.small_count else ""),
                        va="center", fontsize=6)
            ax.set_yticks(ys)
            ax.set_yticklabels([b.label for b in bars], fontsize=6.5)
            ax.set_xlim(0, 118)
            ax.set_xticks([0, 25, 50, 75, 100])
            ax.set_title(title, loc="left")
            ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return to_svg(fig, name)


def stacked_monthly_bars(months: Sequence[date], stacks: dict[str, Sequence[float]], ylabel: str,
                         name: str) -> str:
    """Monthly stacked bars (e.g. warnings by rule), a legend below."""
    with matplotlib.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.9))
        xs = range(len(months))
        bottom = [0.0] * len(months)
        for i, (label, values) in enumerate(stacks.items()):
            ax.bar(xs, values, bottom=bottom, color=COLOURS[i % len(COLOURS)], width=0.75, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        _month_axis(ax, months)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6.5, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
        fig.tight_layout()
        return to_svg(fig, name)


def horizontal_bars(labels: Sequence[str], values: Sequence[float], texts: Sequence[str], xlabel: str,
                    name: str, colour: str = COLOURS[1]) -> str:
    """Plain horizontal bars, labelled with their printed values, first label at the top."""
    with matplotlib.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.6 + 0.2 * max(len(labels), 1)))
        ys = list(range(len(labels)))[::-1]
        ax.barh(ys, values, color=colour, height=0.7)
        top = max(list(values) + [1])
        for y, v, t in zip(ys, values, texts, strict=True):
            ax.text(v + top * 0.01, y, t, va="center", fontsize=6.5)
        ax.set_yticks(ys)
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xlim(0, top * 1.12)
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        fig.tight_layout()
        return to_svg(fig, name)
