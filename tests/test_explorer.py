"""Tests for xai_helpers.plots.explorer: the pure figure function and the widget logic (no kernel needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from test_batch_plots import FREQS, TIMES, causal_tensor, fraction_of, h5_name, write_bins, write_h5  # noqa: E402

from xai_helpers.analysis.influence import file_maps  # noqa: E402
from xai_helpers.plots import explorer as ex  # noqa: E402
from xai_helpers.store.reader import AttributionFile  # noqa: E402
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
    write_h5(
        folder / h5_name("y", outputs="bin"),
        {"attributions": (one, ("f_out", "t_out", "f_in", "t_in"))},
        outputs="bin",
        bin_indices=[0, 0],
    )
    return folder, tensors


def test_nearest_bin():
    assert ex.nearest_bin(FREQS, TIMES, 130.0, 0.034) == (3, 2)  # 150 Hz, 0.03 s
    assert ex.nearest_bin(FREQS, TIMES, -10.0, 9.0) == (0, len(TIMES) - 1)


def test_output_bin_figure_shows_that_bins_map(store):
    folder, tensors = store
    fig = ex.output_bin_figure(folder / h5_name("b"), 207.0, 0.048)  # nearest: 200 Hz, 0.05 s
    np.testing.assert_array_equal(map_image(fig), tensors["b"][4, 4])
    assert "200 Hz, 0.050 s" in fig.get_suptitle()
    assert [ax.get_xlabel() for ax in ex.panels(fig)] == [
        "Time in the file (s)",
        "Input time t_in in the file (s)",
        "Time in the file (s)",
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
    first = explorer.view.value
    assert '<img class="xai-explorer-image"' in first and "data:image/png;base64," in first
    assert f"document.querySelector('.{explorer._events_class} input')" in first

    explorer.t_slider.value = 0.06  # traitlets calls the observer synchronously
    assert explorer.current == (folder / h5_name("a"), 2, 5)
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["a"][2, 5])
    assert explorer.view.value != first
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


def test_explore_shows_the_widget_live_and_a_png_for_reports_only(store, monkeypatch):
    import base64

    import IPython.display

    from xai_helpers.reports.html import WIDGET_VIEW

    folder, tensors = store
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    explorer = ex.explore(folder, "saliency", 0.0, 0.02)
    assert shown == [], "no separate static figure: it would show twice in a live session"
    assert isinstance(explorer, ex.Explorer) and explorer.current[1:] == (0, 1)
    bundle = explorer._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["a"][0, 1])


def test_exported_report_shows_the_png_instead_of_the_widget(store):
    import nbformat

    from xai_helpers.reports.html import WIDGET_VIEW, offline_notebook

    folder, _ = store
    explorer = ex.explore(folder, "saliency", 0.0, 0.02)
    data = {k: v for k, v in explorer._repr_mimebundle_().items()}
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "explore(...)", outputs=[nbformat.v4.new_output("execute_result", data=data, execution_count=1)]
            )
        ]
    )
    (output,) = offline_notebook(nb).cells[0].outputs
    assert WIDGET_VIEW not in output["data"] and output["data"]["image/png"] == data["image/png"]


def test_clicked_bin_maps_a_point_to_the_pixel_that_contains_it():
    # FREQS: 0..400 Hz in 50 Hz steps (pixels 25 Hz either side); TIMES: 0.01..0.08 s in 10 ms steps.
    assert ex.clicked_bin(FREQS, TIMES, 0.034, 130.0) == (3, 2)  # 125..175 Hz, 0.025..0.035 s
    assert ex.clicked_bin(FREQS, TIMES, 0.0051, -24.0) == (0, 0)  # just inside the first pixel
    assert ex.clicked_bin(FREQS, TIMES, TIMES[-1] + 0.0049, 424.0) == (len(FREQS) - 1, len(TIMES) - 1)
    assert ex.clicked_bin(FREQS, TIMES, 0.004, 100.0) is None  # before the first pixel's edge
    assert ex.clicked_bin(FREQS, TIMES, 0.03, 426.0) is None  # above the top pixel


def test_a_click_on_the_mask_picks_that_bin_and_hover_shows_its_values(store):
    folder, tensors = store
    explorer = ex.Explorer(folder, method="saliency", f_hz=100.0, t_s=0.03)
    fig = explorer.figure
    assert ex.figure_point(fig, 0.001, 0.001) is None  # the figure's corner: no panel
    x, y = fraction_of(fig, 2, TIMES[4], FREQS[7])  # the mask panel, bin (7, 4)
    index, t_s, f_hz = ex.figure_point(fig, x, y)
    assert index == 2 and t_s == pytest.approx(TIMES[4], abs=1e-3) and f_hz == pytest.approx(FREQS[7], abs=1.0)

    explorer.handle_pointer("move", x, y)
    a = tensors["a"][2, 2]
    assert explorer.hover.value == ex.hover_text(
        a,
        *[
            np.asarray(v)
            for v in (
                explorer._bin_maps(folder / h5_name("a")).input_features,
                explorer._bin_maps(folder / h5_name("a")).mask,
            )
        ],
        FREQS,
        TIMES,
        TIMES[4],
        FREQS[7],
        "attribution (mask units)",
    )
    assert f"{a[7, 4]:+.3e}" in explorer.hover.value and "350 Hz, 0.050 s" in explorer.hover.value

    explorer.events.value = f"click {x:.5f} {y:.5f} 1"  # what the image's onclick handler writes
    assert explorer.current == (folder / h5_name("a"), 7, 4)
    assert (explorer.f_slider.value, explorer.t_slider.value) == (FREQS[7], pytest.approx(TIMES[4]))
    np.testing.assert_array_equal(map_image(explorer.figure), tensors["a"][7, 4])
    explorer.handle_pointer("click", 0.001, 0.001)  # outside every panel: nothing changes
    assert explorer.current[1:] == (7, 4)


def test_hover_text_states_attribution_level_and_mask():
    amap, features, mask = np.zeros((9, 8)), np.full((9, 8), -3.0), np.full((9, 8), 0.25)
    amap[4, 3], features[4, 3], mask[4, 3] = -2.5e-3, -1.5, 0.875
    text = ex.hover_text(amap, features, mask, FREQS, TIMES, 0.041, 210.0)
    assert text == ("input bin 200 Hz, 0.040 s: attribution -2.500e-03; input -1.50 log10 power (-15.0 dB); mask 0.875")
    assert ex.hover_text(amap, features, mask, FREQS, TIMES, 1.0, 210.0) == ""


def test_fixed_scale_is_a_percentile_of_the_nonzero_magnitudes():
    maps = np.zeros((2, 10, 10))
    maps[0, 0, :] = np.arange(1, 11)  # |a| = 1..10 and -(1..10): 20 nonzero values, the zeros left out
    maps[1, 0, :] = -np.arange(1, 11)
    assert ex.fixed_scale(maps, 100) == 10.0
    assert ex.fixed_scale(maps, 50) == pytest.approx(5.5)
    assert ex.fixed_scale(np.zeros((3, 3))) == 1.0
    with pytest.raises(ValueError, match="percentile must be in"):
        ex.fixed_scale(maps, 0)
    totals = np.array([[1.0, 9.0], [5.0, 3.0]])
    assert ex.reference_bins(totals, 3) == [(0, 1), (1, 0), (1, 1)]
    ties = np.array([[2.0, 1.0], [2.0, 2.0]])
    assert ex.reference_bins(ties, 3) == [(0, 0), (1, 0), (1, 1)]  # equal totals in index order, first = argmax's


def test_fixed_scale_is_shared_by_every_bin_and_stated_on_the_colour_bar(store):
    folder, tensors = store
    explorer = ex.Explorer(folder, method="saliency", f_hz=100.0, t_s=0.03)
    own = [a for ax in explorer.figure.axes for a in ax.get_children() if a.get_gid() == MAP_GID][0]
    assert own.norm.vmax == pytest.approx(np.abs(tensors["a"][2, 2]).max())
    assert "this bin's own" in own.colorbar.ax.get_ylabel()

    explorer.fixed.value = True
    with AttributionFile(folder / h5_name("a")) as stored:
        totals = file_maps(stored)["output_totals"]
    bins = ex.reference_bins(totals, ex.SCALE_REFERENCE_BINS)
    expected = ex.fixed_scale(np.stack([tensors["a"][b] for b in bins]), ex.SCALE_PERCENTILE)
    assert explorer.scale == pytest.approx(expected)
    for t_s in (0.03, 0.06):
        explorer.t_slider.value = t_s
        image = [a for ax in explorer.figure.axes for a in ax.get_children() if a.get_gid() == MAP_GID][0]
        assert (image.norm.vmin, image.norm.vmax) == (pytest.approx(-expected), pytest.approx(expected))
        assert f"fixed scale ±{expected:.3g}" in image.colorbar.ax.get_ylabel()


def test_sliders_clicks_and_hover_are_in_seconds_in_the_file(tmp_path):
    """A segment starting 0.5 s into its file: every time the explorer shows or takes is file time."""
    a = causal_tensor(3)
    path = write_bins(tmp_path / h5_name("a"), a, segment_first_frame=50)
    explorer = ex.Explorer(tmp_path, method="saliency", f_hz=100.0, t_s=0.53)  # 0.03 s into the segment
    assert explorer.current == (path, 2, 2)
    assert (explorer.t_slider.min, explorer.t_slider.max) == (
        pytest.approx(0.5 + TIMES[0]),
        pytest.approx(0.5 + TIMES[-1]),
    )
    assert "0.530 s" in explorer.status.value and "0.530 s" in explorer.figure.get_suptitle()
    mask_axes = ex.panels(explorer.figure)[2]
    assert mask_axes.get_xlim() == pytest.approx((0.5 + TIMES[0] - 0.005, 0.5 + TIMES[-1] + 0.005))

    x, y = fraction_of(explorer.figure, 2, 0.5 + TIMES[4], FREQS[7])
    explorer.handle_pointer("move", x, y)
    assert "350 Hz, 0.550 s" in explorer.hover.value
    explorer.handle_pointer("click", x, y)
    assert explorer.current == (path, 7, 4)
    assert explorer.t_slider.value == pytest.approx(0.5 + TIMES[4])
    np.testing.assert_array_equal(map_image(explorer.figure), a[7, 4])
    explorer.t_slider.value = 0.56
    assert explorer.current == (path, 7, 5)
    np.testing.assert_array_equal(map_image(ex.output_bin_figure(path, 350.0, 0.56)), a[7, 5])


def test_no_explorable_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="all_bins"):
        ex.Explorer(tmp_path)
