"""Tests for xai_helpers.plots (maps, influence, style) and xai_helpers.analysis.influence on synthetic tensors with
known answers."""

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
        np.testing.assert_allclose(np.diag(ti), [a[:, t, :, t].sum() for t in range(T)], rtol=1e-6)


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
    np.testing.assert_allclose(influence.aggregate(a, "abs_sum", axis=(0, 1)), [[0, 0], [0, 0.6]], atol=1e-7)


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
        lambda: influence.aggregate(random_causal(), "mean"),
        lambda: influence.global_influence(random_causal(), "max"),
        lambda: influence.time_influence(random_causal(), "abs"),
        lambda: influence.frequency_influence(random_causal(), "sum"),
        lambda: influence.time_correlation(random_causal(), "l2"),
        lambda: influence_plots.plot_global_map(np.zeros((F, T)), FREQS, TIMES, "mean"),
        lambda: influence_plots.plot_time_map(np.zeros((T, T)), TIMES, "mean"),
        lambda: influence_plots.plot_frequency_map(np.zeros((F, F)), FREQS, "mean"),
        lambda: influence_plots.plot_correlation_map(np.zeros((T, T)), TIMES, "mean"),
    ],
)
def test_bad_aggregation_raises(fn):
    with pytest.raises(ValueError, match="aggregation"):
        fn()


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: influence.global_influence(a),
        lambda a: influence.time_influence(a, "abs_sum"),
        lambda a: influence.frequency_influence(a, "abs_sum"),
        lambda a: influence.time_correlation(a),
    ],
)
@pytest.mark.parametrize("shape", [(F, T, F), (F, T, F, T, 1), (F * T, F * T)])
def test_wrong_ndim_raises_with_expected_shape(fn, shape):
    with pytest.raises(ValueError, match=r"\[f_out, t_out, f_in, t_in\]"):
        fn(np.zeros(shape, np.float32))


def test_map_shape_and_axis_length_mismatch_raise():
    with pytest.raises(ValueError, match="freqs_hz"):
        influence_plots.plot_global_map(np.zeros((F, T)), FREQS[:-1], TIMES)
    with pytest.raises(ValueError, match="times_s"):
        influence_plots.plot_global_map(np.zeros((F, T)), FREQS, TIMES[:-1])
    with pytest.raises(ValueError, match=r"\[f_in, t_in\]"):
        influence_plots.plot_global_map(np.zeros(F), FREQS, TIMES)
    with pytest.raises(ValueError, match=r"\[t_out, t_in\]"):
        influence_plots.plot_time_map(np.zeros((T - 1, T)), TIMES)
    with pytest.raises(ValueError, match=r"\[f_out, f_in\]"):
        influence_plots.plot_frequency_map(np.zeros((F, F - 1)), FREQS[:-1])
    with pytest.raises(ValueError, match=r"\[t_in, t_in\]"):
        influence_plots.plot_correlation_map(np.zeros((T, T - 1)), TIMES[:-1])
    with pytest.raises(ValueError, match="times_s"):
        influence_plots.plot_correlation_map(np.zeros((T, T)), TIMES[:-1])
    with pytest.raises(ValueError, match="max_output_hz"):
        influence_plots.plot_frequency_map(np.zeros((F, F)), FREQS + 10, "abs_sum", 5.0)


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


def map_image(fig):
    (m,) = mappables(fig)
    return np.asarray(np.ma.filled(np.ma.asarray(m.get_array(), dtype=np.float64), np.nan)), m


def hand_time_map(aggregation):
    """``[t_out, t_in]``: 1, 2, ... row by row, zero above the diagonal (causal); every other row negated when
    signed."""
    ti = np.tril(np.arange(1.0, T * T + 1).reshape(T, T))
    if aggregation == "signed_sum":
        ti[::2] *= -1
    return ti


def hand_frequency_map(aggregation):
    """``[f_out, f_in]``: 1 on the diagonal, 0.5 (-0.5 when signed) beside it, 0 elsewhere."""
    side = 0.5 if aggregation == "abs_sum" else -0.5
    return np.eye(F) + side * (np.eye(F, k=1) + np.eye(F, k=-1))


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_plot_time_map_shows_the_map_over_time_edges_with_the_causal_diagonal(aggregation, close_figs):
    ti = hand_time_map(aggregation)
    fig = influence_plots.plot_time_map(ti, TIMES, aggregation)
    close_figs.append(fig)
    check_figure(fig, signed=aggregation == "signed_sum", aggregation=aggregation)
    shown, m = map_image(fig)
    np.testing.assert_array_equal(shown, ti)
    peak = T * T  # the largest |value|: the last row's diagonal entry
    assert m.get_clim() == ((-peak, peak) if aggregation == "signed_sum" else (0.0, peak))
    ax = fig.axes[0]
    assert "input" in ax.get_xlabel().lower() and "output" in ax.get_ylabel().lower()
    # pixels: half a 10 ms hop either side of the first and last frame centres (0.005 s, 0.065 s), on both axes
    np.testing.assert_allclose(m.get_extent(), [0.0, 0.07, 0.0, 0.07], atol=1e-12)
    (line,) = ax.lines  # the causal diagonal t_in = t_out, corner to corner
    np.testing.assert_allclose(line.get_xydata(), [[0.0, 0.0], [0.07, 0.07]], atol=1e-12)


def test_plot_time_map_row_normalisation(close_figs):
    ti = hand_time_map("abs_sum")
    fig = influence_plots.plot_time_map(ti, TIMES, "abs_sum", normalisation="rows")
    close_figs.append(fig)
    shown, _ = map_image(fig)
    # row 0 = [1, 0, ...]; row 1 = [8, 9, 0, ...] (8 + 9 = 17)
    np.testing.assert_allclose(shown[0], np.eye(T)[0])
    np.testing.assert_allclose(shown[1, :3], [8 / 17, 9 / 17, 0.0])
    np.testing.assert_allclose(shown.sum(axis=1), 1.0)
    assert "each output frame sums to 1" in fig.axes[1].get_ylabel()


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
@pytest.mark.parametrize("max_hz", [None, 200.0])
def test_plot_frequency_map_keeps_the_output_rows_up_to_the_limit(aggregation, max_hz, close_figs):
    fi = hand_frequency_map(aggregation)
    fig = influence_plots.plot_frequency_map(fi, FREQS, aggregation, max_output_hz=max_hz)
    close_figs.append(fig)
    check_figure(fig, signed=aggregation == "signed_sum", aggregation=aggregation)
    shown, _ = map_image(fig)
    n_rows = F if max_hz is None else 5  # outputs 0, 50, 100, 150, 200 Hz
    np.testing.assert_array_equal(shown, fi[:n_rows])
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((-25.0, 425.0))
    assert ax.get_ylim() == pytest.approx((-25.0, 425.0 if max_hz is None else 225.0))
    if max_hz is not None:
        assert "output frequencies <= 200 Hz" in ax.get_title()
    (line,) = ax.lines  # f_in = f_out over the rows drawn
    x, y = line.get_data()
    np.testing.assert_allclose(x, y)


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_plot_correlation_map_shows_undefined_entries_grey(aggregation, close_figs):
    c = np.eye(T)
    c[0, 1] = c[1, 0] = -0.5
    c[3, :] = c[:, 3] = np.nan  # a constant frame
    fig = influence_plots.plot_correlation_map(c, TIMES, aggregation)
    close_figs.append(fig)
    check_figure(fig, signed=True, aggregation=aggregation)
    shown, m = map_image(fig)
    np.testing.assert_array_equal(shown, c)  # NaN where NaN
    assert m.get_clim() == (-1.0, 1.0)
    assert m.get_cmap().get_bad() == pytest.approx((0.8, 0.8, 0.8, 1.0))
    assert "grey = undefined" in fig.axes[0].get_title()


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
        values,
        regions,
        FREQS,
        TIMES,
        background=np.random.rand(F, T),
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


def test_modules_leave_the_backend_alone_and_never_show():
    """Imported and drawing under a backend the session chose (svg), with ``matplotlib.use``, ``plt.show`` and
    ``plt.switch_backend`` made to fail: the plotting modules neither pick a backend nor pop up a window."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import matplotlib, matplotlib.pyplot as plt, numpy as np

        def refuse(*args, **kwargs):
            raise AssertionError("a plotting module touched the backend or showed a figure")

        matplotlib.use = plt.show = plt.switch_backend = refuse
        from xai_helpers.plots import influence, maps, style
        f, t = np.arange(4) * 50.0, 0.005 + np.arange(3) * 0.01
        maps.plot_bin_map(np.ones((4, 3)), 1, 1, np.zeros((4, 3)), f, t)
        influence.plot_global_map(np.ones((4, 3)), f, t)
        influence.plot_time_map(np.tril(np.ones((3, 3))), t)
        print(matplotlib.get_backend())
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MPLBACKEND": "svg"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"


# ------------------------------------------------- map-level public functions


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
    # extents: half a step either side of the centres
    np.testing.assert_allclose(m.get_extent(), [0.0, TIMES[-1] + 0.005, -25.0, FREQS[-1] + 25.0], atol=1e-12)


def test_time_correlation_of_a_hand_made_tensor():
    """``[f_out=1, t_out=3, f_in=2, t_in=3]``; each input frame's vector over the output bins, summed over f_in:
    signed ``[1, 2, 3]``, ``[3, 2, 1]``, ``[1, 0, 2]``; of magnitudes ``[3, 2, 3]``, ``[3, 2, 1]``, ``[1, 0, 2]``."""
    parts = {  # t_in -> the two f_in values per t_out
        0: [(2.0, -1.0), (1.0, 1.0), (3.0, 0.0)],
        1: [(3.0, 0.0), (2.0, 0.0), (1.0, 0.0)],
        2: [(1.0, 0.0), (0.0, 0.0), (1.0, 1.0)],
    }
    a = np.zeros((1, 3, 2, 3))
    for t_in, rows in parts.items():
        for t_out, pair in enumerate(rows):
            a[0, t_out, :, t_in] = pair
    # Pearson r of the centred vectors, by hand: signed (-1, 0, 1), (1, 0, -1), (0, -1, 1);
    # magnitudes (1, -2, 1) / 3, (1, 0, -1), (0, -1, 1).
    signed = [[1.0, -1.0, 0.5], [-1.0, 1.0, -0.5], [0.5, -0.5, 1.0]]
    magnitudes = [[1.0, 0.0, np.sqrt(3) / 2], [0.0, 1.0, -0.5], [np.sqrt(3) / 2, -0.5, 1.0]]
    np.testing.assert_allclose(influence.time_correlation(a, "signed_sum"), signed, atol=1e-12)
    np.testing.assert_allclose(influence.time_correlation(a, "abs_sum"), magnitudes, atol=1e-12)
    np.testing.assert_allclose(influence.influence(a, "signed_sum").time_correlation(), signed, atol=1e-6)


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
    for ax in fig.axes[:2]:
        assert "(s)" in ax.get_xlabel() and "(Hz)" in ax.get_ylabel()
        # the output bin (200 Hz, 0.055 s) circled on both panels
        assert any(np.array_equal(line.get_xydata(), [[TIMES[5], FREQS[4]]]) for line in ax.lines)
    assert "f_out = 200 Hz, t_out = 0.055 s" in fig.axes[1].get_title()
    assert "no aggregation" in fig.axes[1].get_title()
    for m in (spec, attr):
        assert m.colorbar.ax.get_ylabel()
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
def test_correlation_map_default_title_fits_its_figure(aggregation, close_figs):
    fig = influence_plots.plot_correlation_map(
        influence.time_correlation(random_causal(), aggregation), TIMES, aggregation
    )
    close_figs.append(fig)
    fig.canvas.draw()
    box = fig.axes[0].title.get_window_extent()
    width = fig.bbox.width
    assert 0 <= box.x0 and box.x1 <= width, (box, width)
    assert aggregation in fig.axes[0].get_title()
