"""Tests for xai_helpers.plots (maps, influence, style) and xai_helpers.analysis.influence on synthetic tensors with known answers."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from xai_helpers.analysis import influence  # noqa: E402
from xai_helpers.plots import influence as influence_plots  # noqa: E402
from xai_helpers.plots import maps, style  # noqa: E402

F, T = 9, 7
FREQS = np.arange(F) * 50.0  # 0..400 Hz, step 50 Hz like the 16 kHz model
TIMES = 0.005 + np.arange(T) * 0.01  # frame centres, hop 10 ms


def random_causal(seed=0, f=F, t=T):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((f, t, f, t)).astype(np.float32)
    t_out = np.arange(t)[None, :, None, None]
    t_in = np.arange(t)[None, None, None, :]
    a[np.broadcast_to(t_in > t_out, a.shape)] = 0.0
    return a


@pytest.fixture
def close_figs():
    figs = []
    yield figs
    for fig in figs:
        plt.close(fig)


# --------------------------------------------------------------- aggregations


def test_global_influence_single_hot_bin():
    a = np.zeros((F, T, F, T), np.float32)
    a[3, 5, 2, 4] = -0.25  # one output bin looks at one input bin
    a[6, 6, 2, 4] = -0.5  # another output bin, same input bin
    for agg in ("abs_sum", "signed_sum"):
        g = influence.global_influence(a, agg)
        assert g.shape == (F, T)
        expected = np.zeros((F, T))
        expected[2, 4] = 1.0 if agg == "abs_sum" else -1.0
        np.testing.assert_array_equal(g, expected)
        assert np.max(np.abs(g)) == 1.0


def test_global_influence_all_zero_stays_zero():
    g = influence.global_influence(np.zeros((2, 3, 2, 3)), "abs_sum")
    np.testing.assert_array_equal(g, 0.0)


def test_time_influence_diagonal():
    rng = np.random.default_rng(1)
    a = np.zeros((F, T, F, T), np.float32)
    for t in range(T):
        a[:, t, :, t] = rng.uniform(0.1, 1.0, (F, F))
    for agg in ("abs_sum", "signed_sum"):
        ti = influence.time_influence(a, agg)
        assert ti.shape == (T, T)
        np.testing.assert_array_equal(ti, np.diag(np.diag(ti)))
        assert np.all(np.diag(ti) > 0)
        np.testing.assert_allclose(
            np.diag(ti), [a[:, t, :, t].sum() for t in range(T)], rtol=1e-6
        )


def test_time_influence_causal_upper_triangle_zero():
    ti = influence.time_influence(random_causal(), "abs_sum")
    assert np.all(ti[np.triu_indices(T, k=1)] == 0)  # t_in > t_out
    assert np.all(ti[np.tril_indices(T)] > 0)


def test_frequency_influence_band_diagonal_and_max_output_hz():
    a = np.zeros((F, T, F, T), np.float32)
    for fo in range(F):
        for fi in range(max(0, fo - 1), min(F, fo + 2)):
            a[fo, :, fi, :] = 1.0 if fi == fo else 0.5
    fi_map = influence.frequency_influence(a, "abs_sum")
    assert fi_map.shape == (F, F)
    expected = np.zeros((F, F))
    for fo in range(F):
        for fi in range(F):
            if fi == fo:
                expected[fo, fi] = T * T
            elif abs(fi - fo) == 1:
                expected[fo, fi] = 0.5 * T * T
    np.testing.assert_allclose(fi_map, expected)

    low = influence.frequency_influence(a, "abs_sum", FREQS, max_output_hz=150.0)
    keep = FREQS <= 150.0
    assert low.shape == (int(keep.sum()), F) == (4, F)
    np.testing.assert_allclose(low, expected[keep])
    # threshold exactly on a bin keeps that bin; between bins it does not
    assert influence.frequency_influence(a, "abs_sum", FREQS, 149.0).shape[0] == 3


def test_frequency_influence_max_output_hz_needs_freqs():
    with pytest.raises(ValueError, match="freqs_hz"):
        influence.frequency_influence(np.zeros((2, 2, 2, 2)), "abs_sum", None, 100.0)
    with pytest.raises(ValueError):
        influence.frequency_influence(np.zeros((3, 2, 3, 2)), "abs_sum", FREQS[:3] + 10, 5)


def test_signed_vs_abs_aggregation_with_cancelling_signs():
    a = np.zeros((2, 2, 2, 2), np.float32)
    a[0, 1, 1, 1] = 0.3  # same input bin, same output frame, other f_out
    a[1, 1, 1, 1] = -0.3
    assert influence.aggregate(a, "signed_sum") == 0.0
    assert influence.aggregate(a, "abs_sum") == pytest.approx(0.6)
    np.testing.assert_array_equal(influence.time_influence(a, "signed_sum"), 0.0)
    assert influence.time_influence(a, "abs_sum")[1, 1] == pytest.approx(0.6)
    assert influence.global_influence(a, "signed_sum")[1, 1] == 0.0
    assert influence.global_influence(a, "abs_sum")[1, 1] == 1.0
    # axis handling
    np.testing.assert_allclose(
        influence.aggregate(a, "abs_sum", axis=(0, 1)), [[0, 0], [0, 0.6]], atol=1e-7
    )


def test_time_correlation_proportional_and_anti_proportional():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((F, T, F))  # per output bin, per f_in
    a = np.zeros((F, T, F, 4))
    a[..., 0] = base
    a[..., 1] = 2.5 * base  # proportional
    a[..., 2] = -0.5 * base  # anti-proportional
    a[..., 3] = rng.standard_normal((F, T, F))  # unrelated
    c = influence.time_correlation(a)
    assert c.shape == (4, 4)
    assert c[0, 1] == pytest.approx(1.0)
    assert c[0, 2] == pytest.approx(-1.0)
    assert c[1, 2] == pytest.approx(-1.0)
    assert abs(c[0, 3]) < 0.5
    np.testing.assert_allclose(c, c.T)
    np.testing.assert_array_equal(np.diag(c), 1.0)


def test_time_correlation_constant_frames_are_nan_without_warnings():
    a = random_causal(3)
    a[..., 2] = 0.0  # all-zero frame
    a[..., 4] = 0.7  # constant (non-zero) frame
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = influence.time_correlation(a)
    for k in (2, 4):
        assert np.all(np.isnan(c[k])) and np.all(np.isnan(c[:, k]))
    ok = [0, 1, 3, 5, 6]
    assert np.all(np.isfinite(c[np.ix_(ok, ok)]))
    assert np.all(np.abs(c[np.ix_(ok, ok)]) <= 1.0)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: influence.aggregate(a, "mean"),
        lambda a: influence.global_influence(a, "max"),
        lambda a: influence.time_influence(a, "abs"),
        lambda a: influence.frequency_influence(a, "sum"),
        lambda a: influence.time_correlation(a, "l2"),
        lambda a: influence_plots.plot_global_influence(a, FREQS, TIMES, "mean"),
        lambda a: influence_plots.plot_time_influence(a, TIMES, "mean"),
        lambda a: influence_plots.plot_frequency_influence(a, FREQS, "mean"),
    ],
)
def test_bad_aggregation_raises(fn):
    with pytest.raises(ValueError, match="aggregation"):
        fn(random_causal())


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: influence.global_influence(a),
        lambda a: influence.time_influence(a, "abs_sum"),
        lambda a: influence.frequency_influence(a, "abs_sum"),
        lambda a: influence.time_correlation(a),
        lambda a: influence_plots.plot_global_influence(a, FREQS, TIMES),
        lambda a: influence_plots.plot_time_influence(a, TIMES),
        lambda a: influence_plots.plot_frequency_influence(a, FREQS, "abs_sum"),
        lambda a: influence_plots.plot_time_correlation(a, TIMES),
        lambda a: maps.plot_output_bin_map(
            a, 0, 0, np.zeros((F, T)), FREQS, TIMES
        ),
    ],
)
@pytest.mark.parametrize("shape", [(F, T, F), (F, T, F, T, 1), (F * T, F * T)])
def test_wrong_ndim_raises_with_expected_shape(fn, shape):
    with pytest.raises(ValueError, match=r"\[f_out, t_out, f_in, t_in\]"):
        fn(np.zeros(shape, np.float32))


def test_axis_length_mismatch_raises():
    a = random_causal()
    with pytest.raises(ValueError, match="freqs_hz"):
        influence_plots.plot_global_influence(a, FREQS[:-1], TIMES)
    with pytest.raises(ValueError, match="times_s"):
        influence_plots.plot_time_influence(a, TIMES[:-1])


# ------------------------------------------------------------- figure checks


def is_colorbar_axes(ax):
    return ax.get_label() == "<colorbar>"


def mappables(fig):
    """Colour-mapped data artists (not colour bars' own, not backgrounds)."""
    out = []
    for ax in fig.axes:
        if is_colorbar_axes(ax):
            continue
        for m in list(ax.images) + list(ax.collections):
            if m.get_array() is not None and m.get_gid() != "background":
                out.append(m)
    return out


def all_text(fig):
    return " ".join(t.get_text() for t in fig.findobj(Text))


def check_figure(fig, *, signed, aggregation=None, unit_axes_ok=False):
    assert isinstance(fig, Figure)
    assert fig.get_layout_engine() is not None  # constrained layout
    ms = mappables(fig)
    assert ms, "no colour-mapped artist in figure"
    for m in ms:
        cb = m.colorbar
        assert cb is not None, "data mappable without colour bar"
        label = cb.ax.get_ylabel() or cb.ax.get_xlabel()
        assert label.strip(), "colour bar without label"
        vmin, vmax = m.get_clim()
        if signed:
            assert m.get_cmap().name.startswith("RdBu_r")
            assert vmin == -vmax and vmax > 0
        else:
            assert not m.get_cmap().name.startswith("RdBu")
    for ax in fig.axes:
        if is_colorbar_axes(ax) or not (ax.images or ax.collections):
            continue
        assert ax.get_title() or fig.get_suptitle()
        xl, yl = ax.get_xlabel(), ax.get_ylabel()
        if xl:  # shared-x panels only label the bottom one
            assert "(s)" in xl or "(Hz)" in xl, xl
        if not unit_axes_ok:
            assert "(s)" in yl or "(Hz)" in yl, yl
    assert any("(s)" in ax.get_xlabel() or "(Hz)" in ax.get_xlabel() for ax in fig.axes)
    if aggregation is not None:
        assert aggregation in all_text(fig)


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_plot_global_influence(aggregation, close_figs):
    fig = influence_plots.plot_global_influence(random_causal(), FREQS, TIMES, aggregation)
    close_figs.append(fig)
    check_figure(fig, signed=aggregation == "signed_sum", aggregation=aggregation)
    (im,) = fig.axes[0].images
    # extents: half a step either side of the centres
    np.testing.assert_allclose(
        im.get_extent(), [0.0, TIMES[-1] + 0.005, -25.0, FREQS[-1] + 25.0], atol=1e-12
    )


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_plot_time_influence(aggregation, close_figs):
    fig = influence_plots.plot_time_influence(random_causal(), TIMES, aggregation)
    close_figs.append(fig)
    check_figure(fig, signed=aggregation == "signed_sum", aggregation=aggregation)
    ax = fig.axes[0]
    assert "input" in ax.get_xlabel().lower() and "output" in ax.get_ylabel().lower()
    (line,) = ax.lines  # causal diagonal
    x, y = line.get_data()
    np.testing.assert_allclose(x, y)


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
@pytest.mark.parametrize("max_hz", [None, 200.0])
def test_plot_frequency_influence(aggregation, max_hz, close_figs):
    fig = influence_plots.plot_frequency_influence(
        random_causal(), FREQS, aggregation, max_output_hz=max_hz
    )
    close_figs.append(fig)
    check_figure(fig, signed=aggregation == "signed_sum", aggregation=aggregation)
    (im,) = fig.axes[0].images
    n_rows = F if max_hz is None else int((FREQS <= max_hz).sum())
    assert im.get_array().shape == (n_rows, F)
    if max_hz is not None:
        assert fig.axes[0].get_ylim()[1] == pytest.approx(max_hz + 25.0)


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_plot_time_correlation(aggregation, close_figs):
    fig = influence_plots.plot_time_correlation(random_causal(), TIMES, aggregation)
    close_figs.append(fig)
    check_figure(fig, signed=True, aggregation=aggregation)
    assert mappables(fig)[0].get_clim() == (-1.0, 1.0)


def test_plot_output_bin_map(close_figs):
    a = random_causal()
    fig = maps.plot_output_bin_map(a, 4, 5, np.random.rand(F, T), FREQS, TIMES)
    close_figs.append(fig)
    ms = mappables(fig)
    assert len(ms) == 2
    spec, attr = ms  # order: left spectrogram, right attribution map
    assert attr.get_cmap().name.startswith("RdBu_r")
    vmin, vmax = attr.get_clim()
    assert vmin == -vmax > -np.inf and vmax == pytest.approx(np.abs(a[4, 5]).max())
    np.testing.assert_array_equal(attr.get_array(), a[4, 5])
    for m in ms:
        assert m.colorbar.ax.get_ylabel()
    assert "aggregation" in all_text(fig)
    assert "200 Hz" in all_text(fig) and "0.055 s" in all_text(fig)
    for ax in fig.axes[:2]:
        assert "(s)" in ax.get_xlabel() and "(Hz)" in ax.get_ylabel()
    with pytest.raises(ValueError):
        maps.plot_output_bin_map(a, F, 0, np.zeros((F, T)), FREQS, TIMES)


def test_plot_region_attributions(close_figs):
    regions = [(0, 150, 0.0, 0.03), (200, 400, 0.03, 0.07), (100, 300, 0.01, 0.05)]
    values = np.array([0.2, -0.5, 0.05])
    fig = maps.plot_region_attributions(values, regions, FREQS, TIMES)
    close_figs.append(fig)
    check_figure(fig, signed=True)
    (pc,) = mappables(fig)
    assert pc.get_clim() == (-0.5, 0.5)
    assert len(pc.get_paths()) == 3
    text = all_text(fig)
    assert "+0.2" in text and "-0.5" in text
    fig2 = maps.plot_region_attributions(
        values, regions, FREQS, TIMES, background=np.random.rand(F, T),
        region_labels=["a", "b", "c"],
    )
    close_figs.append(fig2)
    check_figure(fig2, signed=True)
    with pytest.raises(ValueError):
        maps.plot_region_attributions(values[:2], regions, FREQS, TIMES)


def test_plot_layer_attributions(close_figs):
    rng = np.random.default_rng(4)
    layers = {"gru1": rng.standard_normal((16, T)), "fc": 3 * rng.standard_normal((8, T))}
    fig = maps.plot_layer_attributions(layers, TIMES)
    close_figs.append(fig)
    check_figure(fig, signed=True, unit_axes_ok=True)
    assert len(mappables(fig)) == 2
    text = all_text(fig)
    assert "gru1" in text and "fc" in text
    with pytest.raises(ValueError):
        maps.plot_layer_attributions({"x": np.zeros((3, T + 1))}, TIMES)


def test_plot_mask_and_spectrogram(close_figs):
    fig = maps.plot_mask(np.random.rand(F, T), FREQS, TIMES)
    close_figs.append(fig)
    check_figure(fig, signed=False)
    assert mappables(fig)[0].get_clim() == (0.0, 1.0)

    fig = maps.plot_spectrogram(np.random.rand(F, T), FREQS, TIMES, vmin=-1, vmax=2)
    close_figs.append(fig)
    check_figure(fig, signed=False)
    assert mappables(fig)[0].get_clim() == (-1.0, 2.0)

    fig, axes = plt.subplots(1, 2)
    close_figs.append(fig)
    assert maps.plot_spectrogram(np.random.rand(F, T), FREQS, TIMES, ax=axes[1]) is fig
    assert axes[1].images and not axes[0].images


def test_non_uniform_axis_uses_mesh_with_edges(close_figs):
    freqs = np.array([0.0, 50.0, 150.0, 350.0])
    fig = maps.plot_spectrogram(np.random.rand(4, T), freqs, TIMES)
    close_figs.append(fig)
    assert not fig.axes[0].images
    assert fig.axes[0].get_ylim() == pytest.approx((-25.0, 450.0))


def test_module_does_not_select_backend():
    import pathlib
    import re

    src = "".join(pathlib.Path(module.__file__).read_text() for module in (maps, influence_plots, style))
    assert not re.search(r"^\s*(matplotlib|mpl)\.use\(", src, re.M)
    assert not re.search(r"^\s*plt\.(show|switch_backend)\(", src, re.M)


# ------------------------------------------------- map-level public functions


def map_image(fig):
    (m,) = mappables(fig)
    return np.asarray(m.get_array(), dtype=np.float64), m


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_plot_global_map_shows_exactly_the_map(aggregation, close_figs):
    g = np.linspace(-1.0, 1.0, F * T).reshape(F, T) * 0.5
    if aggregation == "abs_sum":
        g = np.abs(g)
    fig = influence_plots.plot_global_map(g, FREQS, TIMES, aggregation)
    close_figs.append(fig)
    check_figure(fig, signed=aggregation == "signed_sum", aggregation=aggregation)
    shown, m = map_image(fig)
    np.testing.assert_array_equal(shown, g)
    # fixed range of a normalised map: [-1, 1] signed, [0, 1] sequential
    assert m.get_clim() == ((-1.0, 1.0) if aggregation == "signed_sum" else (0.0, 1.0))
    # the 4-D entry point draws the same figure from the reduced map
    a = random_causal(8)
    whole = influence_plots.plot_global_influence(a, FREQS, TIMES, aggregation)
    direct = influence_plots.plot_global_map(influence.global_influence(a, aggregation), FREQS, TIMES, aggregation)
    close_figs.extend([whole, direct])
    np.testing.assert_array_equal(map_image(whole)[0], map_image(direct)[0])
    assert whole.axes[0].get_title() == direct.axes[0].get_title()
    assert whole.axes[1].get_ylabel() == direct.axes[1].get_ylabel()
    with pytest.raises(ValueError, match=r"\[f_in, t_in\]"):
        influence_plots.plot_global_map(np.zeros(F), FREQS, TIMES, aggregation)
    with pytest.raises(ValueError, match="times_s"):
        influence_plots.plot_global_map(g, FREQS, TIMES[:-1], aggregation)
    with pytest.raises(ValueError, match="aggregation"):
        influence_plots.plot_global_map(g, FREQS, TIMES, "mean")


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_time_and_frequency_maps_equal_their_4d_wrappers(aggregation, close_figs):
    a = random_causal(9)
    pairs = [
        (influence_plots.plot_time_influence(a, TIMES, aggregation),
         influence_plots.plot_time_map(influence.time_influence(a, aggregation), TIMES, aggregation)),
        (influence_plots.plot_frequency_influence(a, FREQS, aggregation),
         influence_plots.plot_frequency_map(influence.frequency_influence(a, aggregation), FREQS, aggregation)),
        (influence_plots.plot_frequency_influence(a, FREQS, aggregation, max_output_hz=150.0),
         influence_plots.plot_frequency_map(influence.frequency_influence(a, aggregation), FREQS, aggregation, 150.0)),
        (influence_plots.plot_time_correlation(a, TIMES, aggregation),
         influence_plots.plot_correlation_map(influence.time_correlation(a, aggregation), TIMES, aggregation)),
    ]
    for k, (whole, direct) in enumerate(pairs):
        close_figs.extend([whole, direct])
        correlation = k == len(pairs) - 1  # always signed
        check_figure(direct, signed=aggregation == "signed_sum" or correlation, aggregation=aggregation)
        (x, mx), (y, my) = map_image(whole), map_image(direct)
        np.testing.assert_array_equal(x, y)
        assert mx.get_clim() == my.get_clim()
        assert whole.axes[0].get_title() == direct.axes[0].get_title()
        assert whole.axes[0].get_ylim() == direct.axes[0].get_ylim()
    low = map_image(pairs[2][1])[0]
    np.testing.assert_array_equal(low, influence.frequency_influence(a, aggregation)[:4])
    with pytest.raises(ValueError, match="max_output_hz"):
        influence_plots.plot_frequency_map(np.zeros((F, F)), FREQS + 10, aggregation, 5.0)
    with pytest.raises(ValueError, match=r"\[t_out, t_in\]"):
        influence_plots.plot_time_map(np.zeros((T - 1, T)), TIMES, aggregation)
    with pytest.raises(ValueError, match=r"\[f_out, f_in\]"):
        influence_plots.plot_frequency_map(np.zeros((F, F - 1)), FREQS[:-1], aggregation)


def test_frame_correlation_of_aggregated_vectors_is_time_correlation():
    a = random_causal(10)
    for aggregation in ("abs_sum", "signed_sum"):
        np.testing.assert_array_equal(
            influence.frame_correlation(influence.aggregate(a, aggregation, axis=2)),
            influence.time_correlation(a, aggregation),
        )


def test_plot_bin_map_shows_the_map_with_a_symmetric_range(close_figs):
    a = random_causal(11)
    feats = np.random.default_rng(0).random((F, T))
    fig = maps.plot_bin_map(a[4, 5], 4, 5, feats, FREQS, TIMES, title="known")
    close_figs.append(fig)
    spec, attr = mappables(fig)
    np.testing.assert_array_equal(attr.get_array(), a[4, 5])
    np.testing.assert_array_equal(spec.get_array(), feats)
    vmin, vmax = attr.get_clim()
    assert vmin == -vmax and vmax == pytest.approx(np.abs(a[4, 5]).max())
    assert fig.get_suptitle() == "known"
    whole = maps.plot_output_bin_map(a, 4, 5, feats, FREQS, TIMES, title="known")
    close_figs.append(whole)
    assert [ax.get_title() for ax in whole.axes] == [ax.get_title() for ax in fig.axes]
    for ax, other in zip(whole.axes[:2], fig.axes[:2]):
        for line, other_line in zip(ax.lines, other.lines):
            np.testing.assert_array_equal(line.get_xydata(), other_line.get_xydata())
    with pytest.raises(ValueError, match="outside"):
        maps.plot_bin_map(a[0, 0], 0, T, feats, FREQS, TIMES)
    with pytest.raises(ValueError, match="input_features"):
        maps.plot_bin_map(a[0, 0], 0, 0, feats[:, :-1], FREQS, TIMES)


def test_panel_functions_draw_into_a_given_axes(close_figs):
    fig, axes = plt.subplots(1, 3)
    close_figs.append(fig)
    amap = np.random.default_rng(1).standard_normal((F, T))
    assert maps.plot_mask(np.random.rand(F, T), FREQS, TIMES, ax=axes[0]) is fig
    assert maps.plot_attribution_map(amap, FREQS, TIMES, ax=axes[2], gid="the map") is fig
    assert axes[0].images and not axes[1].images and axes[2].images
    assert axes[0].images[0].get_clim() == (0.0, 1.0)
    (im,) = axes[2].images
    assert im.get_gid() == "the map" and im.get_cmap().name.startswith("RdBu_r")
    np.testing.assert_array_equal(im.get_array(), amap)
    maps.mark_output_bin(axes[2], FREQS[3], TIMES[2], label="bin")
    assert axes[2].get_legend_handles_labels()[1] == ["bin"]
    own = maps.plot_attribution_map(amap, FREQS, TIMES)
    close_figs.append(own)
    check_figure(own, signed=True)


def test_check_aggregation_and_aggregation_line():
    assert influence.check_aggregation("signed_sum") == "signed_sum"
    with pytest.raises(ValueError, match="aggregation"):
        influence.check_aggregation("mean")
    line = style.aggregation_line("abs_sum", "all output bins")
    assert line.startswith("aggregation: abs_sum over all output bins") and "cannot cancel" in line


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_time_correlation_default_title_fits_its_figure(aggregation, close_figs):
    fig = influence_plots.plot_time_correlation(random_causal(), TIMES, aggregation)
    close_figs.append(fig)
    fig.canvas.draw()
    box = fig.axes[0].title.get_window_extent()
    width = fig.bbox.width
    assert 0 <= box.x0 and box.x1 <= width, (box, width)
    assert aggregation in fig.axes[0].get_title()
