"""The original project's maps and options on known-answer tensors: |Σa| and its parts beside Σ|a|, log colour
scales, row normalisation, the low-frequency variant over input columns, band sums, time in the file, the
spectrogram underlay, and notebook 03's gallery."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from test_batch_plots import FREQS, TIMES, F, T, causal_tensor, h5_name, images, write_bins  # noqa: E402
from xai_helpers.analysis import bands as band_analysis  # noqa: E402
from xai_helpers.analysis import influence  # noqa: E402
from xai_helpers.attribution.maps import MapAccumulator  # noqa: E402
from xai_helpers.dsp.mel import hz_to_mel  # noqa: E402
from xai_helpers.plots import influence as influence_plots  # noqa: E402
from xai_helpers.plots import style  # noqa: E402
from xai_helpers.plots.bands import plot_band_attribution  # noqa: E402
from xai_helpers.plots.explorer import panels as plot_panels  # noqa: E402
from xai_helpers.plots.files import MapOptions, plot_batch, plot_file  # noqa: E402
from xai_helpers.plots.gallery import gallery_sections  # noqa: E402
from xai_helpers.plots.perturbation import plot_selection  # noqa: E402
from xai_helpers.reports.visualisation import show_bands  # noqa: E402
from xai_helpers.store.reader import AttributionFile  # noqa: E402


def maps_of(a: np.ndarray):
    accumulator = MapAccumulator(a.shape)
    accumulator.update(slice(0, a.shape[1]), a.astype(np.float32))
    return accumulator.result()


def cancelling_tensor() -> np.ndarray:
    """Input bin (1, 2): +1 to one output bin and -1 to another (Σa = 0, Σ|a| = 2); input bin (3, 4): +0.5 twice
    (Σa = Σ|a| = 1); input bin (5, 1): -0.5 once (Σa = -0.5)."""
    a = np.zeros((F, T, F, T), np.float32)
    a[0, 3, 1, 2], a[4, 5, 1, 2] = 1.0, -1.0
    a[2, 4, 3, 4] = a[6, 5, 3, 4] = 0.5
    a[7, 5, 5, 1] = -0.5
    return a


# ------------------------------------------------------------------ global maps


def test_net_abs_cancels_where_abs_sum_does_not():
    maps = maps_of(cancelling_tensor())
    total = influence.global_map(maps, "abs_sum")
    net = influence.global_map(maps, "net_abs")
    expected_total, expected_net = np.zeros((F, T)), np.zeros((F, T))
    expected_total[1, 2], expected_total[3, 4], expected_total[5, 1] = 1.0, 0.5, 0.25  # Σ|a| = 2, 1, 0.5 over peak 2
    expected_net[3, 4], expected_net[5, 1] = 1.0, 0.5  # |Σa| = 0, 1, 0.5 over peak 1
    np.testing.assert_allclose(total, expected_total, atol=1e-7)
    np.testing.assert_allclose(net, expected_net, atol=1e-7)


def test_positive_and_negative_parts_of_the_signed_sum_share_its_peak():
    signed = maps_of(cancelling_tensor())["global_signed"]
    parts = influence.net_global_maps(signed)
    assert parts["net_positive"][3, 4] == pytest.approx(1.0) and parts["net_negative"][3, 4] == 0.0
    assert parts["net_negative"][5, 1] == pytest.approx(0.5) and parts["net_positive"][5, 1] == 0.0
    assert parts["net_positive"][1, 2] == parts["net_negative"][1, 2] == 0.0  # cancelled
    np.testing.assert_allclose(parts["net_positive"] + parts["net_negative"], parts["net_abs"])
    np.testing.assert_allclose(parts["net_positive"] - parts["net_negative"], signed / np.abs(signed).max())
    assert all(np.all(v >= 0) for v in parts.values())
    np.testing.assert_array_equal(influence.net_global_maps(np.zeros((2, 3)))["net_abs"], 0.0)


def test_global_maps_of_an_influence_hold_every_variant():
    result = influence.influence(cancelling_tensor(), "signed_sum")
    assert set(result.global_maps) == set(influence.GLOBAL_MAPS)
    np.testing.assert_allclose(result.global_maps["signed_sum"], result.global_influence)
    with pytest.raises(ValueError, match="global map.*'sum'"):
        influence.global_map(maps_of(cancelling_tensor()), "sum")


def test_global_panels_log_scale_colour_bars_and_underlay():
    maps = {
        name: influence.global_map(maps_of(cancelling_tensor()), name)
        for name in ("abs_sum", "net_abs", "net_positive", "net_negative")
    }
    underlay = np.random.default_rng(0).normal(size=(F, T))
    fig = influence_plots.plot_global_maps(maps, FREQS, TIMES, log_floor=0.01, underlay=underlay)
    panels = plot_panels(fig)
    bars = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]
    assert len(panels) == 4 and len(bars) == 4
    for ax, name in zip(panels, maps):
        (image,) = [im for im in ax.get_images() if im.get_gid() == f"global_{name}"]
        assert isinstance(image.norm, LogNorm) and (image.norm.vmin, image.norm.vmax) == (0.01, 1.0)
        np.testing.assert_array_equal(np.ma.filled(image.get_array(), np.nan), maps[name])
        assert [im.get_gid() for im in ax.get_images()][0] == "underlay"  # grey spectrogram drawn first
        assert ax.get_title().startswith(name)
        alpha = np.asarray(image.get_alpha())
        assert (
            alpha.shape == (F, T) and alpha[maps[name] < 0.01].max(initial=0.0) == 0.0
        )  # below the floor: see-through
    for bar in bars:
        assert bar.get_yscale() == "log"
        assert "log, floor 0.01" in bar.get_ylabel() and "unitless" in bar.get_ylabel()
    assert "|Σa| / max |Σa|" in bars[1].get_ylabel() and "Σ|a| / max Σ|a|" in bars[0].get_ylabel()

    linear = influence_plots.plot_global_maps(
        {"signed_sum": maps["abs_sum"], "net_abs": maps["net_abs"]}, FREQS, TIMES, log_floor=None
    )
    (signed_image,), (net_image,) = [ax.get_images() for ax in plot_panels(linear)]
    assert signed_image.get_clim() == (-1.0, 1.0) and net_image.get_clim() == (0.0, 1.0)
    assert not any(isinstance(im.norm, LogNorm) for im in (signed_image, net_image))
    with pytest.raises(ValueError, match="global map"):
        influence_plots.plot_global_maps({"total": maps["abs_sum"]}, FREQS, TIMES)
    with pytest.raises(ValueError, match="log_floor"):
        influence_plots.plot_global_maps(maps, FREQS, TIMES, log_floor=2.0)


# ------------------------------------------------------------------ rows


def test_row_normalisation_rows_sum_to_one_and_zero_rows_stay_zero():
    values = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [2.0, -2.0, 4.0]])
    rows = influence.normalise_rows(values)
    np.testing.assert_allclose(rows[0], [0.25, 0.75, 0.0])
    np.testing.assert_array_equal(rows[1], 0.0)
    np.testing.assert_allclose(rows[2], [0.25, -0.25, 0.5])  # signed: |values| sum to 1
    np.testing.assert_array_equal(influence.normalise_map(values, "none"), values)
    with pytest.raises(ValueError, match="normalisation"):
        influence.normalise_map(values, "max")


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_row_normalised_time_and_frequency_figures(aggregation):
    a = causal_tensor(11)
    time_map, freq_map = influence.time_influence(a, aggregation), influence.frequency_influence(a, aggregation)
    log_floor = 0.01 if aggregation == "abs_sum" else None
    fig = influence_plots.plot_time_map(time_map, TIMES, aggregation, normalisation="rows", log_floor=log_floor)
    (shown,) = images(fig)
    np.testing.assert_allclose(np.abs(shown).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(shown, time_map / np.abs(time_map).sum(axis=1, keepdims=True))
    label = fig.axes[1].get_ylabel()
    assert ("each output frame sums to 1" if aggregation == "abs_sum" else "|values| sum to 1") in label
    assert isinstance(fig.axes[0].get_images()[0].norm, LogNorm) == (aggregation == "abs_sum")
    fig = influence_plots.plot_frequency_map(freq_map, FREQS, aggregation, normalisation="rows")
    np.testing.assert_allclose(np.abs(images(fig)[0]).sum(axis=1), 1.0, rtol=1e-12)
    raw = influence_plots.plot_frequency_map(freq_map, FREQS, aggregation, normalisation="none")
    np.testing.assert_array_equal(images(raw)[0], freq_map)
    assert "raw sums" in raw.axes[1].get_ylabel() and "mask units" in raw.axes[1].get_ylabel()
    if aggregation == "signed_sum":
        with pytest.raises(ValueError, match="log colour scale"):
            influence_plots.plot_time_map(time_map, TIMES, aggregation, log_floor=0.01)


# ------------------------------------------------------------------ low frequencies


def test_original_low_frequency_variant_keeps_exactly_the_input_columns_up_to_the_limit():
    a = causal_tensor(12)
    freq_map = influence.frequency_influence(a, "abs_sum")
    low, f_low = influence.low_inputs(freq_map, FREQS, 100.0)  # 0, 50 and 100 Hz: the limit itself is kept
    np.testing.assert_array_equal(f_low, [0.0, 50.0, 100.0])
    np.testing.assert_array_equal(low, freq_map[:, :3])
    np.testing.assert_array_equal(influence.low_inputs(freq_map, FREQS, 99.9)[1], [0.0, 50.0])
    fig = influence_plots.plot_low_frequency_map(freq_map, FREQS, 100.0, "abs_sum")
    (shown,) = images(fig)
    assert shown.shape == (F, 3)  # every output row
    np.testing.assert_allclose(
        shown, freq_map[:, :3] / freq_map[:, :3].sum(axis=1, keepdims=True)
    )  # rows over the kept inputs
    assert fig.axes[0].get_xlim() == pytest.approx((-25.0, 125.0)) and fig.axes[0].get_ylim() == pytest.approx(
        (-25.0, 425.0)
    )
    assert "inputs <= 100 Hz" in fig.axes[1].get_ylabel()
    with pytest.raises(ValueError, match="no input frequency <= low_freq_hz=-1"):
        influence.low_inputs(freq_map, FREQS, -1.0)


# ------------------------------------------------------------------ bands


def test_band_edges_linear_and_mel():
    np.testing.assert_allclose(band_analysis.band_edges_hz("linear", 4, 8000.0), [0, 2000, 4000, 6000, 8000])
    mel = band_analysis.band_edges_hz("mel", 8, 8000.0)
    assert mel[0] == 0.0 and mel[-1] == 8000.0 and np.all(np.diff(mel) > 0)
    np.testing.assert_allclose(np.diff(hz_to_mel(mel)), hz_to_mel(8000.0) / 8)  # equal in mel
    assert np.diff(mel)[0] < np.diff(mel)[-1]  # narrow low bands
    assert hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    with pytest.raises(ValueError, match="band scale"):
        band_analysis.band_edges_hz("bark", 8, 8000.0)
    with pytest.raises(ValueError, match="n_bands"):
        band_analysis.band_edges_hz("mel", 0, 8000.0)


@pytest.mark.parametrize("scale", ["linear", "mel"])
def test_band_sums_add_up_to_the_total(scale):
    g = np.random.default_rng(13).uniform(size=(F, T))
    edges = band_analysis.band_edges_hz(scale, 3, FREQS[-1])
    sums = band_analysis.band_sums(g, FREQS, edges)
    assert sums.shape == (3,) and sums.sum() == pytest.approx(g.sum())
    index = band_analysis.band_index(FREQS, edges)
    for b in range(3):
        assert sums[b] == pytest.approx(g[index == b].sum())


def test_band_sums_known_answer_and_edges():
    g = np.zeros((F, T))
    g[:, 0] = np.arange(F)  # bin k (50 k Hz) carries k
    sums = band_analysis.band_sums(g, FREQS, [0.0, 200.0, 400.0])  # 0-150 Hz | 200-400 Hz (400 included)
    np.testing.assert_array_equal(sums, [0 + 1 + 2 + 3, 4 + 5 + 6 + 7 + 8])
    with pytest.raises(ValueError, match="outside the bands"):
        band_analysis.band_sums(g, FREQS, [0.0, 100.0, 300.0])


def test_band_attribution_over_files_and_its_figure(tmp_path):
    a, b = causal_tensor(14), causal_tensor(15) * 2.0
    paths = [write_bins(tmp_path / h5_name(stem), tensor) for stem, tensor in (("a", a), ("b", b))]
    edges = band_analysis.band_edges_hz("linear", 2, 400.0)
    raw = band_analysis.band_attribution(paths, "linear", 2, "abs_sum", share=False)
    expected = np.stack(
        [band_analysis.band_sums(np.abs(x.astype(np.float64)).sum(axis=(0, 1)), FREQS, edges) for x in (a, b)]
    )
    np.testing.assert_allclose(raw.values, expected, rtol=1e-5)
    np.testing.assert_allclose(raw.mean, expected.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(raw.std, expected.std(axis=0), rtol=1e-5)
    swapped = band_analysis.band_attribution(paths, "linear", 2, "abs_sum", share=False, maps={paths[0]: maps_of(b)})
    np.testing.assert_allclose(swapped.values, expected[[1, 1]], rtol=1e-5)  # maps at hand are read, not the file
    shares = band_analysis.band_attribution(paths, "mel", 3, "abs_sum", share=True)
    np.testing.assert_allclose(shares.values.sum(axis=1), 1.0)
    assert list(shares.table().index) == [p.name for p in paths] + ["mean", "std"]
    fig = plot_band_attribution(shares)
    heights = [patch.get_height() for patch in fig.axes[0].patches]
    np.testing.assert_allclose(heights, shares.mean)
    assert "sum to 1" in fig.axes[0].get_ylabel() and "mel" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="no attribution file"):
        band_analysis.band_attribution([], "linear", 2)


# ------------------------------------------------------------------ time in the file


def test_file_times_offset_by_the_segment_start(tmp_path):
    np.testing.assert_allclose(style.file_times(TIMES, 0.5), TIMES + 0.5)
    with pytest.raises(ValueError, match="segment_start_s"):
        style.file_times(TIMES, -1.0)
    path = write_bins(tmp_path / h5_name("x"), causal_tensor(16), segment_first_frame=50)
    with AttributionFile(path) as stored:
        assert stored.start_s == pytest.approx(0.5)
    figures = plot_file(path, 100.0, "abs_sum")
    half = 0.005  # half a 10 ms hop
    for name in ("spectrogram", "mask", "time_influence", "time_correlation"):
        ax = figures[name].axes[0]
        assert ax.get_xlim() == pytest.approx((0.5 + TIMES[0] - half, 0.5 + TIMES[-1] + half)), name
        assert "in the file (s)" in ax.get_xlabel(), name
    assert figures["time_influence"].axes[0].get_ylim() == pytest.approx(
        (0.5 + TIMES[0] - half, 0.5 + TIMES[-1] + half)
    )
    global_axes = figures["global_influence"].axes[0]
    assert global_axes.get_xlim() == pytest.approx((0.5 + TIMES[0] - half, 0.5 + TIMES[-1] + half))
    _, t_out = influence.influence(causal_tensor(16)).representative_bin()
    assert f"{0.5 + TIMES[t_out]:.3f} s looks at" in figures["output_bin_map"].get_suptitle()


def test_selection_maps_in_file_time_with_underlay():
    selection = np.zeros((F, T), bool)
    selection[2, 3] = True
    times = TIMES + 1.0
    features = np.random.default_rng(17).normal(size=(F, T))
    fig = plot_selection({"top": selection, "flop": ~selection}, FREQS, times, 6.0, underlay=features)
    ax = fig.axes[0]
    assert [im.get_gid() for im in ax.get_images()] == ["underlay", "selection"]
    alpha = np.asarray(ax.get_images()[1].get_alpha())
    assert alpha[2, 3] > 0 and alpha.sum() == alpha[2, 3]  # only the selected bin is coloured
    assert ax.get_xlabel() == "Time in the file (s)" and ax.get_xlim()[0] == pytest.approx(times[0] - 0.005)
    plain = plot_selection({"top": selection}, FREQS, times, 6.0)
    assert [im.get_gid() for im in plain.axes[0].get_images()] == ["selection"]


# ------------------------------------------------------------------ options and gallery


def test_map_options_reach_the_figures_and_are_checked(tmp_path):
    path = write_bins(tmp_path / h5_name("x"), causal_tensor(18))
    raw = plot_file(
        path,
        100.0,
        "abs_sum",
        options=MapOptions(global_maps=("abs_sum",), log_floor=None, normalisation="none", underlay=False),
    )
    assert "raw sums" in raw["time_influence"].axes[1].get_ylabel()
    assert len(raw["global_influence"].axes) == 2  # one panel and its colour bar
    original = plot_file(path, 100.0, "abs_sum")
    assert "each output frame sums to 1" in original["time_influence"].axes[1].get_ylabel()
    assert len(plot_panels(original["global_influence"])) == 4
    with pytest.raises(ValueError, match="normalisation"):
        MapOptions(normalisation="max")
    with pytest.raises(ValueError, match="global map"):
        MapOptions(global_maps=("abs",))


def test_gallery_has_each_caption_once_and_one_image_per_file(tmp_path):
    audio, store = tmp_path / "audio", tmp_path / "attributions"
    audio.mkdir()
    for stem, seed in (("a", 19), ("b", 20), ("c", 21)):
        (audio / f"{stem}.wav").write_bytes(b"")
        write_bins(store / h5_name(stem), causal_tensor(seed))
    report = plot_batch(audio, store, "saliency", 100.0, "abs_sum", tmp_path / "figures")
    assert report.h5_paths() == list(report.maps()) == [store / h5_name(stem) for stem in "abc"]
    bands = show_bands(report, "linear", 2, True, tmp_path / "figures")
    np.testing.assert_array_equal(bands.values, band_analysis.band_attribution(report.h5_paths(), "linear", 2).values)
    assert (tmp_path / "figures" / "bands_saliency_abs_sum_linear.png").is_file()
    sections = gallery_sections(report, 100.0)
    assert [s.name for s in sections] == list(report.plotted[0].figures)
    for section in sections:
        assert section.markdown.startswith("### ") and section.n_files == 3
        assert section.html.count("<img ") == 3 and section.html.count("data:image/png;base64,") == 3
        assert "http" not in section.html and "<script" not in section.html
        for name in ("a", "b", "c"):
            assert h5_name(name) in section.html
    assert gallery_sections(type(report)(report.method, report.aggregation, report.figures_dir)) == []
