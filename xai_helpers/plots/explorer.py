"""Interactive explorer of per-bin attribution maps (JupyterLab), with a static fallback for reports.

Dropdowns pick the method and the attribution file (among the complete ``.h5`` files with
attributions ``[f_out, t_out, f_in, t_in]`` over all output bins found in a folder); two sliders
pick the output bin by its frequency (Hz) and time (s from the segment start, nearest bin). The
figure shows that bin's signed attribution map ``[f_in, t_in]`` between the input spectrogram and
the gain mask, the bin marked on all three.

The widget logic rests on a pure function, :func:`output_bin_figure` ``(file, f_hz, t_s) ->
Figure``; the widget shows its PNG in an :class:`ipywidgets.Image`, so it works (and is testable)
without a live kernel. Widgets are inert in an exported HTML report, so :func:`explore` also
displays a static figure of a default bin.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..analysis.influence import file_maps
from ..attribution.on_demand import bin_map
from ..store.reader import AttributionFile, AttributionFileError, check_complete
from .maps import attribution_map_figure

logger = logging.getLogger(__name__)

__all__ = ["ExplorableFile", "Explorer", "explore", "find_explorable", "nearest_bin", "output_bin_figure"]


@dataclass(frozen=True)
class ExplorableFile:
    """A complete attribution file with a map ``[f_in, t_in]`` for every output bin."""

    path: Path
    method: str
    label: str
    """The file name without ``.h5`` (source stem and configuration)."""


def find_explorable(attributions_dir: str | os.PathLike) -> list[ExplorableFile]:
    """The explorable ``.h5`` files of ``attributions_dir``, sorted by name.

    Incomplete or damaged files (any chunk failing its checksum) are left out with a warning; files of other layouts (one bin,
    regions, grouped or latent features) are left out silently.
    """
    found = []
    for path in sorted(Path(attributions_dir).glob("*.h5")):
        try:
            check_complete(path, verify=True)  # every chunk: a damaged one would fail the explorer later
            with AttributionFile(path) as stored:
                if stored.layout != "all_bins":
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


def representative_bin(stored: AttributionFile) -> tuple[int, int]:
    """``(f_out, t_out)`` of the output bin with the largest total ``|attribution|`` of an all-bins file."""
    totals = file_maps(stored)["output_totals"]
    f_out, t_out = np.unravel_index(int(np.argmax(totals)), totals.shape)
    return int(f_out), int(t_out)


def nearest_bin(freqs_hz: np.ndarray, times_s: np.ndarray, f_hz: float, t_s: float) -> tuple[int, int]:
    """Indices ``(f, t)`` of the bin whose centre frequency (Hz) and time (s) are nearest ``(f_hz, t_s)``."""
    return int(np.argmin(np.abs(np.asarray(freqs_hz) - f_hz))), int(np.argmin(np.abs(np.asarray(times_s) - t_s)))


def output_bin_figure(h5_path: str | os.PathLike, f_hz: float, t_s: float) -> Figure:
    """:func:`attribution_map_figure` of the output bin nearest ``(f_hz, t_s)`` (Hz, s from the
    segment start) of the attribution file ``h5_path`` (reads that bin's map only, or recomputes it
    with the engine when the file holds only maps: :func:`~xai_helpers.attribution.on_demand.bin_map`)."""
    with AttributionFile(h5_path) as stored:
        freqs, times = stored.freqs_hz, stored.times_s
        f_out, t_out = nearest_bin(freqs, times, f_hz, t_s)
        amap = bin_map(stored, f_out, t_out)
        features, mask, target, method = stored.input_features, stored.mask, stored.target, stored.method
    label = f"attribution ({target} units)"
    fig = attribution_map_figure(amap, features, mask, freqs, times, output_bin=(f_out, t_out), value_label=label)
    fig.suptitle(
        f"{Path(h5_path).stem}\n{method}: what the gain at {freqs[f_out]:g} Hz, "
        f"{times[t_out]:.3f} s looks at in the input"
    )
    return fig


def _png(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class Explorer:
    """The widgets and their logic; :attr:`widget` is what to display.

    Attributes: ``method`` and ``file`` (Dropdowns), ``f_slider`` (Hz) and ``t_slider`` (s),
    ``image`` (the PNG of :attr:`figure`), ``status`` (a label), ``current`` = ``(path, f_out,
    t_out)`` shown.
    """

    def __init__(
        self,
        attributions_dir: str | os.PathLike,
        method: str | None = None,
        f_hz: float | None = None,
        t_s: float | None = None,
        dpi: int = 80,
    ) -> None:
        import ipywidgets as widgets

        self.files = find_explorable(attributions_dir)
        if not self.files:
            raise FileNotFoundError(
                f"{attributions_dir}: no complete attribution file with a map for every output bin "
                "(run notebook 02 with outputs='all_bins', features='bins')"
            )
        methods = sorted({item.method for item in self.files})
        self.dpi = dpi
        self.figure: Figure | None = None
        self.current: tuple[Path, int, int] | None = None
        self._holding = False
        self.method = widgets.Dropdown(options=methods, value=method if method in methods else methods[0], description="method")
        self.file = widgets.Dropdown(description="file", layout=widgets.Layout(width="60%"))
        self.f_slider = widgets.FloatSlider(description="f_out (Hz)", continuous_update=False, readout_format=".0f",
                                            layout=widgets.Layout(width="45%"))
        self.t_slider = widgets.FloatSlider(description="t_out (s)", continuous_update=False, readout_format=".3f",
                                            layout=widgets.Layout(width="45%"))
        self.status = widgets.Label()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%"))
        self.widget = widgets.VBox(
            [widgets.HBox([self.method, self.file]), widgets.HBox([self.f_slider, self.t_slider]), self.status, self.image]
        )
        self.method.observe(self._on_method, names="value")
        self.file.observe(self._on_file, names="value")
        self.f_slider.observe(self._on_bin, names="value")
        self.t_slider.observe(self._on_bin, names="value")
        self._holding = True
        self._fill_files()
        self._set_axes(self.file.value)
        if f_hz is None or t_s is None:
            with AttributionFile(self.file.value) as stored:
                f_out, t_out = representative_bin(stored)
            f_hz, t_s = self._freqs[f_out], self._times[t_out]
        self.f_slider.value, self.t_slider.value = float(f_hz), float(t_s)
        self._holding = False
        self.update()

    def _fill_files(self) -> None:
        options = [(item.label, item.path) for item in self.files if item.method == self.method.value]
        self.file.options = options
        self.file.value = options[0][1]

    def _set_axes(self, path: Path) -> None:
        with AttributionFile(path) as stored:
            self._freqs, self._times = stored.freqs_hz, stored.times_s
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

    def update(self) -> None:
        """Redraw the figure for the selected file and the bin nearest the sliders' values."""
        path = self.file.value
        f_out, t_out = nearest_bin(self._freqs, self._times, self.f_slider.value, self.t_slider.value)
        if self.current == (path, f_out, t_out):
            return
        try:
            self.figure = output_bin_figure(path, self.f_slider.value, self.t_slider.value)
        except AttributionFileError as error:
            self.status.value = str(error)
            return
        self.image.value = _png(self.figure, self.dpi)
        self.current = (path, f_out, t_out)
        self.status.value = f"{path.name}: output bin {self._freqs[f_out]:g} Hz, {self._times[t_out]:.3f} s"


def explore(
    attributions_dir: str | os.PathLike,
    method: str | None = None,
    f_hz: float | None = None,
    t_s: float | None = None,
    show_static: bool = True,
):
    """Build the explorer over ``attributions_dir`` and return its widget (display it as a cell's value).

    With ``show_static`` it first displays a static figure of the default bin (``f_hz``, ``t_s``, or
    the first file's bin with the largest total ``|attribution|``): what an HTML export shows, where
    widgets are inert.
    """
    explorer = Explorer(attributions_dir, method, f_hz, t_s)
    if show_static:
        from IPython.display import display

        print("Static view of the default output bin (the interactive explorer below needs a live kernel):")
        display(explorer.figure)
    return explorer.widget
