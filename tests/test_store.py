"""The HDF5 store: layout, float16 scaling, atomic writes, resume after a crash, damaged files."""

from __future__ import annotations

import re

import h5py
import hdf5plugin
import numpy as np
import pytest

from xai_helpers.attribution import explain as explain_module
from xai_helpers.attribution.baselines import make_baselines
from xai_helpers.attribution.explain import ExplainConfig, explain_file, output_path
from xai_helpers.store.reader import AttributionFile, AttributionFileError, check_complete
from xai_helpers.store.writer import AttributionWriter, DatasetSpec

SEGMENT = {"segment_start_s": 0.5, "segment_duration_s": 0.04}


def test_layout_and_attributes(tmp_path, wav):
    config = ExplainConfig(method="deepliftshap", baseline="shuffled", n_baselines=3, seed=7, **SEGMENT)
    result = explain_file(wav, tmp_path, config, progress=False)
    assert result.status == "computed" and result.path == output_path(wav, tmp_path, config)
    with AttributionFile(result.path) as stored:
        assert stored.file["attributions"].shape == (161, 4, 161, 4)
        assert stored.dims() == ("f_out", "t_out", "f_in", "t_in")
        assert stored["input_features"].shape == (161, 4) and stored["baselines"].shape == (3, 161, 4)
        assert stored["deltas"].shape == (161, 4) and stored["mask"].shape == (161, 4)
        chunks = stored.file["attributions"].chunks
        assert (
            chunks[1:] == (1, 161, 4)
            and stored.file["attributions"].id.get_create_plist().get_filter(0)[0] == hdf5plugin.BLOSC2_ID
        )
        attrs = stored.attrs
        for key in (
            "method",
            "target",
            "baseline",
            "n_baselines",
            "seed",
            "model_sha256",
            "model_file",
            "sample_rate",
            "stft_hop_length",
            "stft_n_fft",
            "segment_start_s",
            "segment_first_frame",
            "versions",
            "source_sha256",
        ):
            assert key in attrs, key
        assert attrs["seed"] == 7 and attrs["n_baselines"] == 3 and attrs["complete"]
        assert attrs["segment_first_frame"] == 50
    # the stored baselines are the ones the seed makes
    expected = make_baselines("shuffled", stored_features(result.path), n_baselines=3, seed=7)
    with AttributionFile(result.path) as stored:
        np.testing.assert_array_equal(stored["baselines"], expected)


def stored_features(path):
    with AttributionFile(path) as stored:
        return stored["input_features"]


def test_float16_keeps_three_digits_per_map(tmp_path, wav):
    full = explain_file(wav, tmp_path / "a", ExplainConfig(method="saliency", **SEGMENT), progress=False)
    half = explain_file(
        wav, tmp_path / "b", ExplainConfig(method="saliency", dtype="float16", **SEGMENT), progress=False
    )
    with AttributionFile(full.path) as a, AttributionFile(half.path) as b:
        reference, approximate = a.read_attributions(), b.read_attributions()
        assert b.file["attributions"].dtype == np.float16
    peaks = np.abs(reference).max(axis=(2, 3), keepdims=True)
    assert np.all(np.abs(approximate - reference) <= 1e-3 * peaks + 1e-12)
    assert half.path.stat().st_size < full.path.stat().st_size


def test_rerun_skips_complete_file(tmp_path, wav):
    config = ExplainConfig(method="saliency", **SEGMENT)
    first = explain_file(wav, tmp_path, config, progress=False)
    stamp = first.path.stat().st_mtime_ns
    again = explain_file(wav, tmp_path, config, progress=False)
    assert again.status == "skipped" and again.path.stat().st_mtime_ns == stamp and again.shape == first.shape


def test_crash_leaves_no_complete_looking_file_and_rerun_recomputes(tmp_path, wav, monkeypatch, caplog):
    config = ExplainConfig(method="saliency", frames_per_chunk=1, **SEGMENT)
    real = explain_module.compute_blocks

    def crash_after_first(*args, **kwargs):
        for number, item in enumerate(real(*args, **kwargs)):
            if number == 1:
                raise KeyboardInterrupt("simulated interruption")
            yield item

    monkeypatch.setattr(explain_module, "compute_blocks", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        explain_file(wav, tmp_path, config, progress=False)
    destination = output_path(wav, tmp_path, config)
    assert not destination.exists() and not list(tmp_path.glob(".*partial"))
    # A partial file left by a killed process (no cleanup ran) is discarded and redone.
    partial = destination.with_name(f".{destination.name}.partial")
    partial.write_bytes(b"half written")
    monkeypatch.setattr(explain_module, "compute_blocks", real)
    result = explain_file(wav, tmp_path, config, progress=False)
    assert result.status == "recomputed" and not partial.exists()
    check_complete(result.path)
    assert "interrupted run" in caplog.text


@pytest.mark.parametrize("damage", ["truncate", "incomplete"])
def test_damaged_file_named_in_error_and_recomputed(tmp_path, wav, damage, caplog):
    config = ExplainConfig(method="saliency", **SEGMENT)
    path = explain_file(wav, tmp_path, config, progress=False).path
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:2000])
    else:
        with h5py.File(path, "a") as file:
            file.attrs["complete"] = False
    with pytest.raises(AttributionFileError, match=re.escape(path.name)):
        AttributionFile(path)
    result = explain_file(wav, tmp_path, config, progress=False)
    assert result.status == "recomputed" and path.name in caplog.text
    check_complete(path)


def test_writer_removes_temporary_on_error(tmp_path):
    path = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with AttributionWriter(path, {"method": "test"}, n_target_axes=1) as writer:
            writer.create("attributions", DatasetSpec((3, 4), ("region", "group"), True))
            writer.write("attributions", (slice(0, 1),), np.ones((1, 4)))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "kernelshap"}, "features='regions'"),
        ({"method": "nope"}, "unknown 'nope'"),
        ({"outputs": "bin"}, "output_bin"),
        ({"features": "pixels"}, "features"),
        ({"backend": "engine", "method": "occlusion"}, "backend='engine'"),
        ({"baseline": "zero", "n_baselines": 4}, "single reference"),
    ],
)
def test_bad_configuration(tmp_path, wav, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain_file(wav, tmp_path, ExplainConfig(**{**SEGMENT, **kwargs}), progress=False)


def test_segment_outside_file_and_missing_reference(tmp_path, wav):
    with pytest.raises(ValueError, match=wav.name):
        explain_file(wav, tmp_path, ExplainConfig(segment_start_s=30.0, segment_duration_s=0.1), progress=False)
    with pytest.raises(ValueError, match="noise record"):
        explain_file(wav, tmp_path, ExplainConfig(baseline="noise", **SEGMENT), progress=False)


def test_float16_latent_file_keeps_scales_apart_and_plots(tmp_path, wav):
    import matplotlib

    matplotlib.use("Agg")
    from xai_helpers.plots.files import plot_file

    config = ExplainConfig(
        method="saliency", features="latent", outputs="bin", output_bin=(1000.0, 0.02), dtype="float16", **SEGMENT
    )
    path = explain_file(wav, tmp_path, config, progress=False).path
    with AttributionFile(path) as stored:
        assert sorted(stored.file["latent"]) == ["fc_in", "gru1", "gru2"]
        assert "scale/latent/gru1" in stored
        layers = {layer: stored.read_attributions((0, 0), name=f"latent/{layer}") for layer in stored.latent_layers}
    figures = plot_file(path)
    assert list(figures) == ["spectrogram", "mask", "output_bin_latent"]
    panels = [ax for ax in figures["output_bin_latent"].axes if ax.images]  # colour bars hold no image
    assert [ax.get_title() for ax in panels] == [
        f"{layer} ({values.shape[0]} units)" for layer, values in layers.items()
    ]
    peaks = []
    for ax, values in zip(panels, layers.values()):
        (image,) = ax.images
        np.testing.assert_array_equal(image.get_array(), values)  # each layer's float16 values, scaled back
        vmin, vmax = image.get_clim()
        assert vmin == -vmax == -np.abs(values).max() < 0  # each panel on its own symmetric scale
        peaks.append(vmax)
    assert len(set(peaks)) == len(peaks)


def test_logit_target_stores_the_logit(tmp_path, wav):
    config = ExplainConfig(method="saliency", target="logit", **SEGMENT)
    with AttributionFile(explain_file(wav, tmp_path, config, progress=False).path) as stored:
        logit, mask = stored["explained_output"], stored["mask"]
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), mask, atol=1e-6)
    assert logit.min() < 0
