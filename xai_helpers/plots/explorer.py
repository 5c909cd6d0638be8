"""Interactive explorer of per-bin attribution maps (JupyterLab), with a static figure for reports.

Dropdowns pick the method and the attribution file (among the complete ``.h5`` files with
attributions over all output bins found in a folder, full or maps-only); two sliders, or a click on
any of the three panels (the mask, the map or the spectrogram), pick the output bin by its frequency
(Hz) and time (s in the file, :func:`~xai_helpers.plots.style.file_times`, nearest bin). The figure shows that bin's
signed attribution map ``[f_in, t_in]`` between the input spectrogram and the gain mask, the bin marked on all three.
Moving the pointer over a panel shows the attribution, the input level and the mask there. A check
box switches between each bin's own colour scale and one fixed scale for every bin of the file
(:func:`fixed_scale`, stated on the colour bar).

Nothing beyond ipywidgets is needed in the browser: the figure is an ``<img>`` in an
:class:`ipywidgets.HTML` whose inline ``onclick`` / ``onmousemove`` handlers write the pointer's
position (fractions of the image) into a hidden :class:`ipywidgets.Text`, which the kernel observes
(:meth:`Explorer.handle_pointer`). The pure parts are :func:`output_bin_figure`,
:func:`figure_point`, :func:`clicked_bin`, :func:`hover_text` and :func:`fixed_scale`. Single bins of
maps-only files are recomputed by :class:`~xai_helpers.attribution.on_demand.BinMaps`, kept per file.

Widgets are inert in an exported HTML report: the explorer's display data carries, beside the widget,
a PNG of its current figure, which JupyterLab does not show (it renders the widget) and
:mod:`xai_helpers.reports.html` uses instead of the widget; so a live session shows no duplicate figure.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..analysis.influence import file_maps
from ..attribution.on_demand import BinMaps
from ..store.reader import AttributionFile, AttributionFileError, check_complete
from .maps import MAP_GID, attribution_map_figure
from .style import edges, file_times

logger = logging.getLogger(__name__)

__all__ = [
    "ExplorableFile",
    "Explorer",
    "clicked_bin",
    "explore",
    "figure_point",
    "find_explorable",
    "fixed_scale",
    "hover_text",
    "nearest_bin",
    "output_bin_figure",
    "reference_bins",
]

SCALE_PERCENTILE = 99.0
"""Percentile of ``|attribution|`` that sets the fixed colour scale."""
SCALE_REFERENCE_BINS = 16
"""The fixed scale is taken over the maps of this many output bins (those with the largest total ``|a|``)."""


@dataclass(frozen=True)
class ExplorableFile:
    """A complete attribution file with a map ``[f_in, t_in]`` for every output bin."""

    path: Path
    method: str
    label: str
    """The file name without ``.h5`` (source stem and configuration)."""


def find_explorable(attributions_dir: str | os.PathLike, model: str | None = None) -> list[ExplorableFile]:
    """The explorable ``.h5`` files of ``attributions_dir`` (of ``model`` only, unless ``None``), sorted by name.

    Incomplete or damaged files (any chunk failing its checksum) are left out with a warning; files of other layouts
    (one bin, regions, grouped or latent features) and of other models are left out silently.
    """
    found = []
    for path in sorted(Path(attributions_dir).glob("*.h5")):
        try:
            check_complete(path, verify=True)  # every chunk: a damaged one would fail the explorer later
            with AttributionFile(path) as stored:
                if stored.layout != "all_bins" or model not in (None, stored.model):
                    continue
                method = stored.method
        except AttributionFileError as error:
            logger.warning("%s; not offered in the explorer", error)
            continue
        except OSError as error:
            logger.warning("%s: unreadable (%s); not offered in the explorer", path, error)
            continue
        found.append(ExplorableFile(path, method, path.stem))
    return found


def reference_bins(output_totals: np.ndarray, n: int = SCALE_REFERENCE_BINS) -> list[tuple[int, int]]:
    """``(f_out, t_out)`` of the ``n`` output bins with the largest total ``|attribution|``
    (``output_totals`` ``[F_out, T_out]``), largest first; equal totals in index order, so the first is
    :meth:`~xai_helpers.analysis.influence.Influence.representative_bin`'s (``argmax``)."""
    totals = np.asarray(output_totals)
    flat = totals.ravel()
    # a stable ascending sort of the reversed values, reversed: descending, ties (and NaNs, first as in argmax) by index
    order = (flat.size - 1 - np.argsort(flat[::-1], kind="stable"))[::-1][: max(int(n), 1)]
    return [tuple(int(i) for i in np.unravel_index(flat, totals.shape)) for flat in order]


def fixed_scale(maps: np.ndarray, percentile: float = SCALE_PERCENTILE) -> float:
    """The ``percentile`` (0..100) of ``|attribution|`` over the nonzero entries of ``maps`` (any shape,
    e.g. ``[M, f_in, t_in]``): the half-range of a colour scale shared by every bin. 1.0 if all are zero."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {percentile}")
    magnitudes = np.abs(np.asarray(maps, dtype=np.float64))
    magnitudes = magnitudes[np.isfinite(magnitudes) & (magnitudes > 0)]
    return float(np.percentile(magnitudes, percentile)) if magnitudes.size else 1.0


def scale_note(scale: float | None, percentile: float = SCALE_PERCENTILE, n: int = SCALE_REFERENCE_BINS) -> str:
    """The colour bar's second line: which scale the map uses."""
    if scale is None:
        return "scale: this bin's own ±max |a|"
    return f"fixed scale ±{scale:.3g}: {percentile:g}th pct of |a|\nover the {n} bins of largest total |a|"


def nearest_bin(freqs_hz: np.ndarray, times_s: np.ndarray, f_hz: float, t_s: float) -> tuple[int, int]:
    """Indices ``(f, t)`` of the bin whose centre frequency (Hz) and time (s) are nearest ``(f_hz, t_s)``."""
    return int(np.argmin(np.abs(np.asarray(freqs_hz) - f_hz))), int(np.argmin(np.abs(np.asarray(times_s) - t_s)))


def clicked_bin(freqs_hz: np.ndarray, times_s: np.ndarray, t_s: float, f_hz: float) -> tuple[int, int] | None:
    """Indices ``(f, t)`` of the bin whose pixel contains the point ``(t_s, f_hz)`` (s, Hz) of a map
    ``[F, T]`` drawn with pixel edges half a step either side of the centres, or ``None`` outside it."""
    f_edges, t_edges = edges(np.asarray(freqs_hz)), edges(np.asarray(times_s))
    if not (f_edges[0] <= f_hz <= f_edges[-1] and t_edges[0] <= t_s <= t_edges[-1]):
        return None
    f = int(np.clip(np.searchsorted(f_edges, f_hz, side="right") - 1, 0, len(f_edges) - 2))
    t = int(np.clip(np.searchsorted(t_edges, t_s, side="right") - 1, 0, len(t_edges) - 2))
    return f, t


def panels(fig: Figure) -> list:
    """The figure's plotting axes (colour bars left out), in drawing order."""
    return [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is None]


def figure_point(fig: Figure, x_fraction: float, y_fraction_from_top: float) -> tuple[int, float, float] | None:
    """The point of ``fig`` at ``(x_fraction, y_fraction_from_top)`` of its full image (as saved,
    without tight cropping) as ``(panel index, x, y)`` in that panel's data coordinates (here ``t``
    in s, ``f`` in Hz), or ``None`` outside every panel (:func:`panels`). The figure must have been
    drawn (its layout is fixed when it is drawn or saved)."""
    display = fig.transFigure.transform((x_fraction, 1.0 - y_fraction_from_top))
    for index, ax in enumerate(panels(fig)):
        if ax.get_window_extent().contains(*display):
            x, y = ax.transData.inverted().transform(display)
            return index, float(x), float(y)
    return None


def hover_text(
    amap: np.ndarray,
    features: np.ndarray,
    mask: np.ndarray,
    freqs_hz: np.ndarray,
    times_s: np.ndarray,
    t_s: float,
    f_hz: float,
    value_label: str = "attribution",
) -> str:
    """One line for the pointer at ``(t_s, f_hz)`` (s, Hz) over maps ``[F, T]``: the input bin, its
    attribution ``amap``, its input level ``features`` (log10 power, and dB) and the mask; ``""``
    outside the maps."""
    found = clicked_bin(freqs_hz, times_s, t_s, f_hz)
    if found is None:
        return ""
    f, t = found
    level = float(features[f, t])
    return (
        f"input bin {float(freqs_hz[f]):g} Hz, {float(times_s[t]):.3f} s: {value_label} {float(amap[f, t]):+.3e}; "
        f"input {level:.2f} log10 power ({10 * level:.1f} dB); mask {float(mask[f, t]):.3f}"
    )


def file_axes(maps: BinMaps) -> tuple[np.ndarray, np.ndarray]:
    """``(freqs_hz [F] in Hz, times [T] in s in the file)`` of ``maps``' file: the axes the explorer shows
    and takes (sliders, clicks, hover), its stored segment times offset by the segment's start (read from the
    file: call it once per file, not per redraw)."""
    with AttributionFile(maps.path) as stored:
        return maps.freqs_hz, file_times(maps.times_s, stored.start_s)


def _draw(
    maps: BinMaps, freqs: np.ndarray, times: np.ndarray, f_out: int, t_out: int, amap: np.ndarray, scale: float | None
) -> Figure:
    """:func:`attribution_map_figure` of ``amap`` for output bin ``(f_out, t_out)`` of ``maps``' file, on its
    :func:`file_axes` ``freqs`` ``[F]`` (Hz) and ``times`` ``[T]`` (s in the file)."""
    label = f"attribution ({maps.target} units)"
    fig = attribution_map_figure(
        amap, maps.input_features, maps.mask, freqs, times, output_bin=(f_out, t_out), value_label=label
    )
    (image,) = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == MAP_GID]
    if scale is not None:
        image.set_norm(Normalize(vmin=-scale, vmax=scale))
    image.colorbar.set_label(f"{label}\n{scale_note(scale)}")
    fig.suptitle(
        f"{maps.path.stem}\n{maps.method}: what the gain at {freqs[f_out]:g} Hz, "
        f"{times[t_out]:.3f} s looks at in the input"
    )
    return fig


def output_bin_figure(h5_path: str | os.PathLike, f_hz: float, t_s: float, scale: float | None = None) -> Figure:
    """:func:`attribution_map_figure` of the output bin nearest ``(f_hz, t_s)`` (Hz, s in the file)
    of the attribution file ``h5_path`` (the stored slice, or recomputed with the
    engine when the file holds only maps), on a symmetric colour scale ``±scale`` or, if ``None``,
    the bin's own ``±max |a|``."""
    maps = BinMaps(h5_path)
    freqs, times = file_axes(maps)
    f_out, t_out = nearest_bin(freqs, times, f_hz, t_s)
    return _draw(maps, freqs, times, f_out, t_out, maps.bin_map(f_out, t_out), scale)


def _png(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# Inline handler of the figure's <img>: the pointer's position as fractions of the image, sent through
# the hidden text box of class {events}; moves at most every 80 ms.
_POINTER_JS = (
    "(function(e,k){{var i=e.currentTarget,r=i.getBoundingClientRect(),n=Date.now();"
    "if(k==='move'){{if(n-(i._xaiLast||0)<80)return;i._xaiLast=n;}}"
    "var b=document.querySelector('.{events} input');if(!b)return;"
    "b.value=k+' '+((e.clientX-r.left)/r.width).toFixed(5)+' '+((e.clientY-r.top)/r.height).toFixed(5)+' '+n;"
    "b.dispatchEvent(new Event('input',{{bubbles:true}}));}})(event,'{kind}')"
)


class Explorer:
    """The widgets and their logic; display the Explorer itself (or :attr:`widget`).

    Attributes: ``method`` and ``file`` (Dropdowns), ``f_slider`` (Hz) and ``t_slider`` (s),
    ``fixed`` (Checkbox: one colour scale for every bin of the file), ``view`` (HTML: the figure's
    PNG), ``status`` and ``hover`` (Labels), ``events`` (the hidden Text the figure writes pointer
    events into), ``figure`` (the current Figure), ``current`` = ``(path, f_out, t_out)`` shown,
    ``scale`` (the fixed scale in use, or ``None``).
    """

    def __init__(
        self,
        attributions_dir: str | os.PathLike,
        method: str | None = None,
        f_hz: float | None = None,
        t_s: float | None = None,
        dpi: int = 80,
        fixed_scale: bool = False,
        model: str | None = None,
    ) -> None:
        import ipywidgets as widgets

        self.files = find_explorable(attributions_dir, model)
        if not self.files:
            raise FileNotFoundError(
                f"{attributions_dir}: no complete attribution file with a map for every output bin "
                "(run notebook 02 with outputs='all_bins', features='bins')"
            )
        methods = sorted({item.method for item in self.files})
        self.dpi = dpi
        self.figure: Figure | None = None
        self.current: tuple[Path, int, int] | None = None
        self.scale: float | None = None
        self._png = b""
        self._maps: dict[Path, BinMaps] = {}
        self._scales: dict[Path, float] = {}
        self._amap: np.ndarray | None = None
        self._holding = False
        self._events_class = f"xai-explorer-events-{uuid.uuid4().hex[:12]}"
        self.method = widgets.Dropdown(
            options=methods, value=method if method in methods else methods[0], description="method"
        )
        self.file = widgets.Dropdown(description="file", layout=widgets.Layout(width="60%"))
        self.f_slider = widgets.FloatSlider(
            description="f_out (Hz)", continuous_update=False, readout_format=".0f", layout=widgets.Layout(width="45%")
        )
        self.t_slider = widgets.FloatSlider(
            description="t_out in file (s)",
            continuous_update=False,
            readout_format=".3f",
            layout=widgets.Layout(width="45%"),
        )
        self.fixed = widgets.Checkbox(
            value=bool(fixed_scale), description="same colour scale for every bin", indent=False
        )
        self.status = widgets.Label()
        self.hover = widgets.Label(value="click a panel to pick a bin; hover over it for values")
        self.events = widgets.Text(layout=widgets.Layout(display="none"))
        self.events.add_class(self._events_class)
        self.view = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.method, self.file]),
                widgets.HBox([self.f_slider, self.t_slider]),
                widgets.HBox([self.fixed, self.status]),
                self.hover,
                self.view,
                self.events,
            ]
        )
        self.method.observe(self._on_method, names="value")
        self.file.observe(self._on_file, names="value")
        for control in (self.f_slider, self.t_slider, self.fixed):
            control.observe(self._on_bin, names="value")
        self.events.observe(self._on_event, names="value")
        self._holding = True
        self._fill_files()
        self._set_axes(self.file.value)
        if f_hz is None or t_s is None:
            with AttributionFile(self.file.value) as stored:
                f_out, t_out = reference_bins(file_maps(stored)["output_totals"], 1)[0]
            f_hz, t_s = self._freqs[f_out], self._times[t_out]
        self.f_slider.value, self.t_slider.value = float(f_hz), float(t_s)
        self._holding = False
        self.update()

    def _bin_maps(self, path: Path) -> BinMaps:
        if path not in self._maps:
            self._maps[path] = BinMaps(path)
        return self._maps[path]

    def file_scale(self, path: Path) -> float:
        """The fixed colour scale of ``path`` (:func:`fixed_scale` over its :func:`reference_bins`), computed once."""
        if path not in self._scales:
            with AttributionFile(path) as stored:
                bins = reference_bins(file_maps(stored)["output_totals"])
            self._scales[path] = fixed_scale(self._bin_maps(path).bin_maps(bins))
        return self._scales[path]

    def _fill_files(self) -> None:
        options = [(item.label, item.path) for item in self.files if item.method == self.method.value]
        self.file.options = options
        self.file.value = options[0][1]

    def _set_axes(self, path: Path) -> None:
        self._freqs, self._times = file_axes(self._bin_maps(path))
        for slider, axis in ((self.f_slider, self._freqs), (self.t_slider, self._times)):
            step = float(np.min(np.diff(axis))) if axis.size > 1 else 1.0
            low, high = float(axis[0]), float(axis[-1])
            if low > slider.max:  # keep min <= max at every step
                slider.max, slider.min = high, low
            else:
                slider.min, slider.max = low, high
            slider.step = step

    def _on_method(self, change) -> None:
        self._holding = True
        self._fill_files()
        self._holding = False
        self._on_file(None)

    def _on_file(self, change) -> None:
        if self._holding or self.file.value is None:
            return
        self._holding = True
        self._set_axes(self.file.value)
        self._holding = False
        self.update()

    def _on_bin(self, change) -> None:
        if not self._holding:
            self.update()

    def _on_event(self, change) -> None:
        parts = str(change["new"]).split()
        try:
            kind, x, y = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            return  # not a pointer event
        self.handle_pointer(kind, x, y)

    def handle_pointer(self, kind: str, x_fraction: float, y_fraction_from_top: float) -> None:
        """A pointer event at ``(x_fraction, y_fraction_from_top)`` of the figure's image: ``"click"``
        on a panel picks the output bin under it (the sliders follow), ``"move"`` shows the values
        under it in :attr:`hover` (:func:`hover_text`)."""
        if self.figure is None or self._amap is None:
            return
        point = figure_point(self.figure, x_fraction, y_fraction_from_top)
        found = None if point is None else clicked_bin(self._freqs, self._times, point[1], point[2])
        if kind == "click" and found is not None:
            self._holding = True
            self.f_slider.value, self.t_slider.value = float(self._freqs[found[0]]), float(self._times[found[1]])
            self._holding = False
            self.update()
        elif kind == "move":
            maps = self._bin_maps(self.current[0])
            self.hover.value = (
                ""
                if point is None
                else hover_text(
                    self._amap,
                    maps.input_features,
                    maps.mask,
                    self._freqs,
                    self._times,
                    point[1],
                    point[2],
                    f"attribution ({maps.target} units)",
                )
            )

    def update(self) -> None:
        """Redraw the figure for the selected file and the bin nearest the sliders' values."""
        path = self.file.value
        f_out, t_out = nearest_bin(self._freqs, self._times, self.f_slider.value, self.t_slider.value)
        try:
            scale = self.file_scale(path) if self.fixed.value else None
            if self.current == (path, f_out, t_out) and scale == self.scale:
                return
            maps = self._bin_maps(path)
            amap = maps.bin_map(f_out, t_out)
        except AttributionFileError as error:
            self.status.value = str(error)
            return
        self.figure, self._amap, self.scale = (
            _draw(maps, self._freqs, self._times, f_out, t_out, amap, scale),
            amap,
            scale,
        )
        self._png = _png(self.figure, self.dpi)  # draws the figure: its layout is now fixed for figure_point
        encoded = base64.b64encode(self._png).decode("ascii")
        handlers = " ".join(
            f'on{event}="{_POINTER_JS.format(events=self._events_class, kind=kind)}"'
            for event, kind in (("click", "click"), ("mousemove", "move"))
        )
        self.view.value = (
            f'<img class="xai-explorer-image" style="max-width:100%;cursor:crosshair" '
            f'alt="attribution map of the output bin" src="data:image/png;base64,{encoded}" {handlers}>'
        )
        self.current = (path, f_out, t_out)
        self.status.value = f"{path.name}: output bin {self._freqs[f_out]:g} Hz, {self._times[t_out]:.3f} s"

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The widget, and the current figure as a PNG for where widgets cannot be shown (HTML reports)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self._png).decode("ascii")
        bundle["text/plain"] = f"Explorer at {self.status.value}"
        return bundle


def explore(
    attributions_dir: str | os.PathLike,
    method: str | None = None,
    f_hz: float | None = None,
    t_s: float | None = None,
    fixed_scale: bool = False,
    model: str | None = None,
) -> Explorer:
    """Build the explorer over ``attributions_dir`` and return it (display it as a cell's value).

    It starts at ``(f_hz, t_s)`` (Hz, s in the file), or at the first file's bin with the largest total
    ``|attribution|``; ``fixed_scale`` starts with one colour scale for every bin; ``model`` keeps that model's files
    only. A live kernel shows the widget only; an exported HTML report shows the PNG of that first view (see the
    module docstring).
    """
    return Explorer(attributions_dir, method, f_hz, t_s, fixed_scale=fixed_scale, model=model)
