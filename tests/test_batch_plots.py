"""Tests for xai_helpers.plots.files on small synthetic attribution files (and one real one)."""

from __future__ import annotations

import json
import re
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from xai_helpers.analysis import influence  # noqa: E402
from xai_helpers.plots import influence as influence_plots  # noqa: E402
from xai_helpers.plots.explorer import panels  # noqa: E402
from xai_helpers.analysis.influence import frame_correlation, reduce_file  # noqa: E402
from xai_helpers.plots.files import (  # noqa: E402
    PlotKey,
    figure_basename,
    plot_batch,
    plot_caption,
    plot_file,
)
from xai_helpers.store.reader import AttributionFile, AttributionFileError
from xai_helpers.store.writer import AttributionWriter, DatasetSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
F, T = 9, 6
FREQS = np.arange(F) * 50.0  # 0..400 Hz
TIMES = 0.01 * (1 + np.arange(T))  # frame centres from the segment start, hop 10 ms
BIN_PLOTS = {
    "spectrogram",
    "mask",
    "global_influence",
    "time_influence",
    "frequency_influence",
    "low_frequency_influence",
    "low_output_frequency_influence",
    "time_correlation",
    "output_bin_map",
}


def causal_tensor(seed: int = 0) -> np.ndarray:
    """Random ``[F, T, F, T]`` attributions, zero where t_in > t_out."""
    a = np.random.default_rng(seed).standard_normal((F, T, F, T)).astype(np.float32)
    a[np.broadcast_to(np.arange(T)[None, None, None, :] > np.arange(T)[None, :, None, None], a.shape)] = 0.0
    return a


def h5_name(stem: str, method: str = "saliency", outputs: str = "all_bins", features: str = "bins") -> str:
    return f"{stem}__{method}_mask_{outputs}_{features}_zero1_0s+0.06s.h5"


def write_h5(
    path: Path,
    datasets: dict,
    method: str = "saliency",
    outputs: str = "all_bins",
    features: str = "bins",
    n_target_axes: int = 2,
    extra: dict | None = None,
    bin_indices=None,
    regions=(),
    attrs: dict | None = None,
) -> Path:
    """A complete attribution file with the store's layout; ``datasets``: name -> (array, dims); ``attrs``: further
    file attributes."""
    rng = np.random.default_rng(1)
    file_attrs = {
        "method": method,
        "target": "mask",
        "outputs": outputs,
        "features": features,
        "baseline": "zero",
        "output_bin_indices": json.dumps(bin_indices),
        "output_regions": json.dumps([list(r) for r in regions]),
        **(attrs or {}),
    }
    with AttributionWriter(path, file_attrs, n_target_axes) as writer:
        writer.put("input_features", rng.normal(size=(F, T)), ("f", "t"))
        writer.put("baselines", np.zeros((1, F, T)), ("k", "f", "t"))
        writer.put("mask", rng.uniform(size=(F, T)), ("f", "t"))
        writer.put("freqs_hz", FREQS, ("f",))
        writer.put("times_s", TIMES, ("t",))
        for name, (values, dims) in (extra or {}).items():
            writer.put(name, values, dims)
        for name, (values, dims) in datasets.items():
            writer.create(name, DatasetSpec(values.shape, dims, True))
            writer.write(name, (slice(None),) * n_target_axes, values)
        writer.commit()
    return path


def write_bins(
    path: Path, a: np.ndarray | None = None, method: str = "saliency", segment_first_frame: int | None = None
) -> Path:
    """An all-bins file of ``a`` (default :func:`causal_tensor`); with ``segment_first_frame`` its segment starts that
    many 10 ms hops (160 samples at 16 kHz) into its audio file, else the file records no segment start."""
    a = causal_tensor() if a is None else a
    attrs = (
        None
        if segment_first_frame is None
        else {"segment_first_frame": segment_first_frame, "stft_hop_length": 160, "sample_rate": 16000}
    )
    return write_h5(path, {"attributions": (a, ("f_out", "t_out", "f_in", "t_in"))}, method=method, attrs=attrs)


def fraction_of(fig: Figure, panel: int, t_s: float, f_hz: float) -> tuple[float, float]:
    """Where ``(t_s, f_hz)`` of plotting axes ``panel`` (colour bars not counted) lies in the saved image of ``fig``:
    fractions of its width from the left and of its height from the top."""
    ax = panels(fig)[panel]
    x, y = fig.transFigure.inverted().transform(ax.transData.transform((t_s, f_hz)))
    return float(x), 1.0 - float(y)


def images(fig: Figure) -> list[np.ndarray]:
    """The data of every image (imshow or pcolormesh) in ``fig``, axes by axes, colour bars left out."""
    found = []
    for ax in panels(fig):
        for artist in ax.get_children():
            if isinstance(artist, (AxesImage, QuadMesh)):
                found.append(np.ma.filled(np.ma.asarray(artist.get_array(), dtype=np.float64), np.nan))
    return found


@pytest.fixture
def corpus(tmp_path):
    """Four audio files: a (good .h5), b (no .h5), c (truncated .h5), d (.h5 marked incomplete)."""
    audio, store = tmp_path / "audio", tmp_path / "attributions"
    audio.mkdir()
    for stem in "abcd":
        (audio / f"{stem}.wav").write_bytes(b"")  # never read: only the names matter
    write_bins(store / h5_name("a"))
    truncated = write_bins(store / h5_name("c"))
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    incomplete = write_bins(store / h5_name("d"))
    with h5py.File(incomplete, "r+") as file:
        file.attrs["complete"] = False
    return audio, store


def test_plot_batch_writes_pngs_skips_and_reports_damaged(corpus, tmp_path, caplog):
    audio, store = corpus
    figures_dir = tmp_path / "figures"
    with caplog.at_level(logging.WARNING, logger="xai_helpers.plots.files"):
        report = plot_batch(audio, store, "saliency", 150.0, "abs_sum", figures_dir)

    assert [item.source.name for item in report.plotted] == ["a.wav"]
    base = figure_basename(store / h5_name("a"), "abs_sum")
    assert base == h5_name("a")[:-3] + "_abs_sum"
    assert sorted(p.name for p in figures_dir.iterdir()) == sorted(f"{base}_{name}.png" for name in BIN_PLOTS)
    assert all(
        p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in figures_dir.iterdir()
    )  # PNG whatever the suffix handling
    assert set(report.plotted[0].figures) == BIN_PLOTS
    with AttributionFile(store / h5_name("a")) as stored:  # the figures returned draw the file's own data
        np.testing.assert_array_equal(images(report.plotted[0].figures["mask"])[0], stored.mask)
        np.testing.assert_array_equal(images(report.plotted[0].figures["spectrogram"])[0], stored.input_features)
    assert report.plotted[0].png_paths["mask"] == figures_dir / f"{base}_mask.png"

    assert report.skipped == [audio / "b.wav"]
    damaged = dict(report.damaged)
    assert set(damaged) == {store / h5_name("c"), store / h5_name("d")}
    assert h5_name("c") in damaged[store / h5_name("c")]
    assert "incomplete" in damaged[store / h5_name("d")]
    assert sum(h5_name(s) in record.getMessage() for record in caplog.records for s in "cd") == 2
    summary = report.summary()
    assert "b.wav" in summary and h5_name("c") in summary and h5_name("d") in summary
    assert [row["status"] for row in report.rows()] == ["plotted", "damaged", "damaged", "skipped"]


def test_plot_batch_missing_folder_or_bad_aggregation(corpus, tmp_path):
    audio, store = corpus
    with pytest.raises(FileNotFoundError, match="nowhere"):
        plot_batch(audio, tmp_path / "nowhere", "saliency", 150.0, "abs_sum", tmp_path / "figures")
    with pytest.raises(ValueError, match="aggregation"):
        plot_batch(audio, store, "saliency", 150.0, "mean", tmp_path / "figures")


def test_low_frequency_variants_keep_inputs_or_outputs_up_to_the_limit(tmp_path):
    a = causal_tensor(3)
    figures = plot_file(
        write_bins(tmp_path / h5_name("x"), a),
        low_freq_hz=120.0,
        aggregation="signed_sum",
        options=influence_plots.RAW_MAPS,
    )
    (low_out,) = images(figures["low_output_frequency_influence"])
    (low_in,) = images(figures["low_frequency_influence"])
    (full,) = images(figures["frequency_influence"])
    expected = influence.frequency_influence(a, "signed_sum")
    assert low_out.shape == (3, F)  # outputs 0, 50, 100 Hz
    np.testing.assert_allclose(low_out, expected[:3], rtol=1e-6)
    assert low_in.shape == (F, 3)  # the original's: inputs 0, 50, 100 Hz, every output
    np.testing.assert_allclose(low_in, expected[:, :3], rtol=1e-6)
    np.testing.assert_allclose(full, expected, rtol=1e-6)
    assert figures["low_output_frequency_influence"].axes[0].get_ylim()[1] == pytest.approx(125.0)
    assert figures["low_frequency_influence"].axes[0].get_xlim()[1] == pytest.approx(125.0)
    assert "120 Hz" in figures["low_output_frequency_influence"].axes[0].get_title()
    assert "120 Hz" in figures["low_frequency_influence"].axes[0].get_title()


def test_no_low_frequency_variant_when_disabled(tmp_path):
    figures = plot_file(write_bins(tmp_path / h5_name("x")), low_freq_hz=None)
    assert set(figures) == BIN_PLOTS - {"low_frequency_influence", "low_output_frequency_influence"}


def test_representative_output_bin_is_the_largest_total(tmp_path):
    a = causal_tensor(4) * 0.01
    a[6, 4, :, :5] = 1.0  # output bin 300 Hz, 0.05 s: by far the largest total |attribution|
    figures = plot_file(write_bins(tmp_path / h5_name("x"), a))
    fig = figures["output_bin_map"]
    assert "300 Hz, 0.050 s" in fig.get_suptitle() and "largest total |attribution|" in fig.get_suptitle()
    np.testing.assert_array_equal(images(fig)[1], a[6, 4])


@pytest.mark.parametrize("aggregation", ["abs_sum", "signed_sum"])
def test_chunked_aggregation_equals_plots_on_the_whole_tensor(tmp_path, aggregation):
    a = causal_tensor(5)
    path = write_bins(tmp_path / h5_name("x"), a)
    with AttributionFile(path) as stored:
        agg = reduce_file(stored, aggregation, chunk_bytes=1)  # one output frame per chunk
    values = np.abs(a.astype(np.float64)) if aggregation == "abs_sum" else a.astype(np.float64)
    total = values.sum(axis=(0, 1))

    # Chunks are reduced in float32 (summed in float64 across chunks): 1e-6 of each map's peak.
    def close(actual, expected):
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6 * np.abs(expected).max())

    close(agg.global_influence, total / np.abs(total).max())
    close(agg.time_influence, values.sum(axis=(0, 2)))
    close(agg.frequency_influence, values.sum(axis=(1, 3)))
    np.testing.assert_allclose(agg.correlation, frame_correlation(values.sum(axis=2)), rtol=0, atol=1e-6)
    close(agg.output_totals, np.abs(a).sum(axis=(2, 3)))

    whole = plot_file(path, 120.0, aggregation)
    chunked = plot_file(path, 120.0, aggregation, max_in_memory_bytes=0, chunk_bytes=1)
    assert list(chunked) == list(whole)
    for name in whole:
        ours, theirs = images(chunked[name]), images(whole[name])
        assert len(ours) == len(theirs), name
        for x, y in zip(ours, theirs):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-9, equal_nan=True, err_msg=name)
        assert chunked[name].axes[0].get_title() == whole[name].axes[0].get_title(), name


def test_aggregation_is_written_on_the_figures(tmp_path):
    figures = plot_file(write_bins(tmp_path / h5_name("x")), aggregation="signed_sum")
    for name in ("global_influence", "time_influence", "frequency_influence", "time_correlation"):
        fig = figures[name]
        assert "signed_sum" in fig.axes[0].get_title(), name
        assert fig.axes[1].get_ylabel(), name  # labelled colour bar
    assert figures["time_influence"].axes[0].get_xlabel() == "Input time t_in in the file (s)"


def test_damaged_chunk_is_reported_as_attribution_file_error(tmp_path):
    path = write_bins(tmp_path / h5_name("x"))
    with h5py.File(path, "r") as file:
        offset = file["attributions"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 64] = b"\x00" * 64  # corrupt the gzip stream of the first chunk
    path.write_bytes(bytes(data))
    with pytest.raises(AttributionFileError, match=re.escape(h5_name("x"))):
        plot_file(path)


def test_single_bin_layout(tmp_path):
    amap = np.random.default_rng(2).normal(size=(1, 1, F, T)).astype(np.float32)
    path = write_h5(
        tmp_path / h5_name("x", outputs="bin"),
        {"attributions": (amap, ("f_out", "t_out", "f_in", "t_in"))},
        outputs="bin",
        bin_indices=[2, 3],
    )
    figures = plot_file(path)
    assert set(figures) == {"spectrogram", "mask", "output_bin_map"}
    assert "100 Hz, 0.040 s" in figures["output_bin_map"].get_suptitle()
    np.testing.assert_array_equal(images(figures["output_bin_map"])[1], amap[0, 0])


def test_region_group_and_latent_layouts(tmp_path):
    rng = np.random.default_rng(6)
    regions = [(0.0, 200.0, 0.0, 0.03), (200.0, 450.0, 0.03, 0.07)]
    maps = rng.normal(size=(2, F, T)).astype(np.float32)
    path = write_h5(
        tmp_path / h5_name("r", outputs="regions"),
        {"attributions": (maps, ("region", "f_in", "t_in"))},
        outputs="regions",
        n_target_axes=1,
        regions=regions,
        extra={"output_regions": (np.asarray(regions), ("region", "bounds"))},
    )
    figures = plot_file(path)
    assert set(figures) == {"spectrogram", "mask", "region_0_map", "region_1_map"}
    assert [(key.kind, key.output) for key in figures] == [
        ("spectrogram", None),
        ("mask", None),
        ("map", "region_0"),
        ("map", "region_1"),
    ]
    np.testing.assert_array_equal(images(figures["region_1_map"])[1], maps[1])

    groups = np.array([[0.0, 200.0, 0.0, 0.035], [200.0, 450.0, 0.0, 0.035], [0.0, 450.0, 0.035, 0.07]])
    values = rng.normal(size=(F, T, 3)).astype(np.float32)
    path = write_h5(
        tmp_path / h5_name("g", features="regions"),
        {"attributions": (values, ("f_out", "t_out", "group"))},
        features="regions",
        extra={"feature_groups": (groups, ("group", "bounds"))},
    )
    figures = plot_file(path, aggregation="abs_sum")
    assert set(figures) == {"spectrogram", "mask", "group_influence", "output_bin_groups"}
    assert [(key.kind, key.output) for key in figures][2:] == [("group_influence", None), ("groups", "output_bin")]
    shown = figures["group_influence"].axes[0].collections[0].get_array()
    np.testing.assert_allclose(shown, np.abs(values).sum(axis=(0, 1)), rtol=1e-6)

    latent = {
        f"latent/{n}": (rng.normal(size=(F, T, 4, T)).astype(np.float32), ("f_out", "t_out", "unit", "t_in"))
        for n in ("fc_in", "gru1")
    }
    path = write_h5(tmp_path / h5_name("l", features="latent"), latent, features="latent")
    figures = plot_file(path, aggregation="signed_sum")
    assert set(figures) == {"spectrogram", "mask", "latent_influence", "output_bin_latent"}
    assert [(key.kind, key.output) for key in figures][2:] == [("latent_influence", None), ("latent", "output_bin")]
    np.testing.assert_allclose(
        images(figures["latent_influence"])[1], latent["latent/gru1"][0].sum(axis=(0, 1)), rtol=1e-5
    )


def test_captions_name_the_aggregation_and_limit():
    assert "signed_sum" in plot_caption("global_influence", "signed_sum")
    assert "500 Hz" in plot_caption("low_frequency_influence", low_freq_hz=500.0)
    assert "upper triangle" in plot_caption("time_influence")
    # one caption per kind, whichever output the plot is drawn for
    assert plot_caption(PlotKey("map", "region_3")).startswith("**Output-region map.**")
    assert plot_caption(PlotKey("output_bin_map")).startswith("**Output-bin map.**")
    assert plot_caption(PlotKey("groups", "region_3")) == plot_caption(PlotKey("groups", "output_bin"))
    assert "`abs_sum`" in plot_caption(PlotKey("latent_influence"))
    assert plot_caption("no_such_plot") == "**no_such_plot**"


def test_plot_keys_are_their_names_built_from_typed_parts():
    import copy
    import pickle

    key = PlotKey("groups", "region_3")
    assert key == "region_3_groups" and hash(key) == hash("region_3_groups") and {key: 1}["region_3_groups"] == 1
    assert (key.kind, key.output) == ("groups", "region_3") and repr(key) == "PlotKey('groups', 'region_3')"
    assert (PlotKey("mask").kind, PlotKey("mask").output) == ("mask", None)
    for back in (pickle.loads(pickle.dumps(key)), copy.deepcopy(key)):
        assert type(back) is PlotKey and back == key and (back.kind, back.output) == ("groups", "region_3")
    with pytest.raises(AttributeError, match="immutable"):
        key.kind = "map"


def test_real_file_from_explain_file(tmp_path):
    """End to end on the bundled sample: explain a 0.05 s segment with saliency, then plot it."""
    from xai_helpers.attribution.explain import ExplainConfig, explain_file

    wav = REPO / "data" / "samples" / "harvard_01.wav"
    result = explain_file(
        wav,
        tmp_path / "attr",
        ExplainConfig(method="saliency", segment_start_s=0.5, segment_duration_s=0.05),
        progress=False,
    )
    report = plot_batch(wav, tmp_path / "attr", "saliency", 1000.0, "abs_sum", tmp_path / "figures")
    assert [item.h5_path for item in report.plotted] == [result.path]
    figures = report.plotted[0].figures
    assert set(figures) == BIN_PLOTS
    (low,) = images(figures["low_output_frequency_influence"])
    assert low.shape == (21, 161)  # 0..1000 Hz in 50 Hz steps
    (low,) = images(figures["low_frequency_influence"])
    assert low.shape == (161, 21)
    (time_map,) = images(figures["time_influence"])
    assert np.all(np.triu(time_map, k=1) == 0) and np.any(np.tril(time_map) > 0)  # causal
