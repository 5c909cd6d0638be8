"""Tests for xai_helpers.plots.explorer: the pure figure function and the widget logic (no kernel needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from test_batch_plots import FREQS, TIMES, causal_tensor, h5_name, write_bins, write_h5  # noqa: E402

from xai_helpers.plots import explorer as ex  # noqa: E402
from xai_helpers.plots.maps import MAP_GID  # noqa: E402


def map_image(fig: Figure) -> np.ndarray:
    (found,) = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == MAP_GID]
    return np.asarray(found.get_array())


@pytest.fixture
def store(tmp_path):
    """Two saliency files, one deeplift file, a damaged one and a single-bin file (not explorable)."""
    folder = tmp_path / "attributions"
    tensors = {"a": causal_tensor(0), "b": causal_tensor(1), "c": causal_tensor(2)}
    write_bins(folder / h5_name("a"), tensors["a"])
    write_bins(folder / h5_name("b"), tensors["b"])
    write_bins(folder / h5_name("c", method="deeplift"), tensors["c"], method="deeplift")
    broken = write_bins(folder / h5_name("z"))
    broken.write_bytes(broken.read_bytes()[:1000])
    one = np.ones((1, 1) + tensors["a"].shape[2:], np.float32)
    write_h5(folder / h5_name("y", outputs="bin"), {"attributions": (one, ("f_out", "t_out", "f_in", "t_in"))},
             outputs="bin", bin_indices=[0, 0])
    return folder, tensors


def test_nearest_bin():
    assert ex.nearest_bin(FREQS, TIMES, 130.0, 0.034) == (3, 2)  # 150 Hz, 0.03 s
    assert ex.nearest_bin(FREQS, TIMES, -10.0, 9.0) == (0, len(TIMES) - 1)


def test_output_bin_figure_shows_that_bins_map(store):
    folder, tensors = store
    fig = ex.output_bin_figure(folder / h5_name("b"), 207.0, 0.048)  # nearest: 200 Hz, 0.05 s
    np.testing.assert_array_equal(map_image(fig), tensors["b"][4, 4])
    assert "200 Hz, 0.050 s" in fig.get_suptitle()
    assert [ax.get_xlabel() for ax in fig.axes if getattr(ax, "_colorbar", None) is None] == [
        "Time in the file (s)", "Input time t_in in the file (s)", "Time in the file (s)"
    ]
    other = ex.output_bin_figure(folder / h5_name("b"), 0.0, 0.01)
    np.testing.assert_array_equal(map_image(other), tensors["b"][0, 0])


def test_find_explorable_leaves_out_damaged_and_other_layouts(store, caplog):
    folder, _ = store
    found = ex.find_explorable(folder)
    assert [item.path.name for item in found] == [h5_name("a"), h5_name("b"), h5_name("c", method="deeplift")]
    assert [item.method for item in found] == ["saliency", "saliency", "deeplift"]
    assert any(h5_name("z") in record.getMessage() for record in caplog.records)


def test_widget_builds_and_a_slider_change_updates_the_view(store):
    folder, tensors = store
    explorer = ex.Explorer(folder, method="saliency", f_hz=100.0, t_s=0.03)
    assert isinstance(explorer.widget, widgets.VBox)
    assert list(explorer.method.options) == ["deeplift", "saliency"]
    assert [label for label, _ in explorer.file.options] == [h5_name("a")[:-3], h5_name("b")[:-3]]
    assert (explorer.f_slider.min, explorer.f_slider.max, explorer.f_slider.step) == (0.0, 400.0, 50.0)
    assert explorer.current == (folder / h5_name("a"), 2, 2)
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["a"][2, 2])
    first = explorer.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"

    explorer.t_slider.value = 0.06  # traitlets calls the observer synchronously
    assert explorer.current == (folder / h5_name("a"), 2, 5)
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["a"][2, 5])
    assert explorer.image.value != first
    assert "0.060 s" in explorer.status.value

    explorer.file.value = folder / h5_name("b")
    assert explorer.current == (folder / h5_name("b"), 2, 5)
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["b"][2, 5])

    explorer.method.value = "deeplift"
    assert [path for _, path in explorer.file.options] == [folder / h5_name("c", method="deeplift")]
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["c"][2, 5])


def test_default_bin_is_the_largest_total(tmp_path):
    a = causal_tensor(7) * 0.01
    a[5, 3] = 1.0
    write_bins(tmp_path / h5_name("a"), a)
    explorer = ex.Explorer(tmp_path)
    assert explorer.current[1:] == (5, 3)
    assert (explorer.f_slider.value, explorer.t_slider.value) == (250.0, pytest.approx(0.04))


def test_explore_returns_the_widget_and_displays_a_static_figure(store, monkeypatch):
    import IPython.display

    folder, tensors = store
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    widget = ex.explore(folder, "saliency", 0.0, 0.02)
    assert isinstance(widget, widgets.VBox)
    assert len(shown) == 1 and isinstance(shown[0], Figure)
    np.testing.assert_array_equal(map_image(shown[0]), tensors["a"][0, 1])


def test_no_explorable_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="all_bins"):
        ex.Explorer(tmp_path)


def test_uses_only_public_plots_functions():
    from pathlib import Path

    assert "plots._" not in Path(ex.__file__).read_text()
