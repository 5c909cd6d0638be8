"""Notebook 03's page: one section per plot kind, its explanation once, the files' figures as a gallery.

:func:`gallery_sections` turns a :class:`~xai_helpers.plots.files.BatchPlotReport` into sections, one per plot
name (``spectrogram``, ``mask``, ``global_influence``, ...) in display order: a Markdown heading and caption
(:func:`~xai_helpers.plots.files.plot_caption`, once), then HTML with the first file's figure at full size (its
PNG) and every other file's as a thumbnail (``thumb_width_px`` wide) in a grid, each named by
its attribution file. Images are embedded as ``data:`` URIs, so the page needs no other file and no script.
Thumbnails are the written PNG files scaled down (Pillow, matplotlib's own dependency), not re-rendered.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .files import BatchPlotReport, FilePlots, PlotKey, plot_caption

THUMB_WIDTH_PX = 360
"""Width of the thumbnails' pixels (the full figures are the PNG files, 100 dpi)."""
THUMB_COLOURS = 128
"""Palette size of the thumbnails (a smoothed-down figure has many colours; a palette keeps the PNG small)."""
THUMB_MIN_PX = 230
"""Narrowest thumbnail column of the grid, CSS pixels."""


@dataclass
class GallerySection:
    """One plot of the files: ``markdown`` (heading and caption) then ``html`` (the figures)."""

    name: PlotKey
    markdown: str
    html: str
    n_files: int


def data_uri(png: bytes) -> str:
    """``png`` bytes as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnail_png(png_path: str | Path, width_px: int = THUMB_WIDTH_PX) -> bytes:
    """The PNG file ``png_path`` scaled down to ``width_px`` wide (aspect kept; never enlarged) and reduced to a
    palette of :data:`THUMB_COLOURS`, as PNG bytes."""
    with Image.open(png_path) as image:
        small = image.convert("RGB")
        small.thumbnail((width_px, width_px * image.height // max(image.width, 1) + 1), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        small.quantize(THUMB_COLOURS).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def section_title(name: str) -> str:
    """Heading of plot ``name``: ``"global_influence"`` -> ``"Global influence"``."""
    return name.replace("_", " ").capitalize()


def _label(item: FilePlots) -> str:
    return html.escape(item.h5_path.name)


def _figure_html(src: str, label: str, alt: str, full: bool) -> str:
    style = "max-width:100%;height:auto" if full else "width:100%;height:auto;border:1px solid #ddd"
    return (
        f'<figure style="margin:0 0 8px 0"><img src="{src}" alt="{html.escape(alt)}" style="{style}">'
        f'<figcaption style="font-size:{"small" if full else "x-small"};word-break:break-all">'
        f"{label}</figcaption></figure>"
    )


def _section_html(name: PlotKey, items: list[FilePlots], thumb_width_px: int) -> str:
    first, rest = items[0], items[1:]
    parts = [
        _figure_html(
            data_uri(Path(first.png_paths[name]).read_bytes()),
            _label(first) + " (full size)",
            f"{name} of {first.h5_path.name}",
            full=True,
        )
    ]
    if rest:
        thumbs = "".join(
            _figure_html(
                data_uri(thumbnail_png(item.png_paths[name], thumb_width_px)),
                _label(item),
                f"{name} of {item.h5_path.name}",
                full=False,
            )
            for item in rest
        )
        parts.append(
            f'<p style="font-size:small">The other {len(rest)} file(s), small '
            f"(full size: the PNG files named after each attribution file):</p>"
            f'<div style="display:grid;grid-template-columns:repeat(auto-fill,minmax({THUMB_MIN_PX}px,1fr));'
            f'gap:8px">{thumbs}</div>'
        )
    return "".join(parts)


def gallery_sections(
    report: BatchPlotReport,
    low_freq_hz: float | None = 1000.0,
    thumb_width_px: int = THUMB_WIDTH_PX,
    heading_level: int = 3,
) -> list[GallerySection]:
    """One :class:`GallerySection` per plot name of ``report.plotted``, in the order the first files drew them;
    each holds the files that have that plot (a layout without it leaves it out). Empty when nothing was plotted."""
    names: dict[PlotKey, list[FilePlots]] = {}
    for item in report.plotted:
        for name in item.figures:
            names.setdefault(name, []).append(item)
    hashes = "#" * heading_level
    return [
        GallerySection(
            name,
            f"{hashes} {section_title(name)}\n\n{plot_caption(name, report.aggregation, low_freq_hz)}",
            _section_html(name, items, thumb_width_px),
            len(items),
        )
        for name, items in names.items()
    ]
