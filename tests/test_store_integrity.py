"""Issue 15's store faults: out-of-range outputs, stale reuse, changed sources and versions, damaged chunks,
renamed files, unclear messages, and the size warning. Each asserts the exception type and that the message
names the file or parameter; re-runs assert status "recomputed" and the logged reason."""

from __future__ import annotations

import json
import logging
import re
import shutil

import h5py
import numpy as np
import pytest
import soundfile as sf

from xai_helpers.attribution.explain import ExplainConfig, explain_file, output_path
from xai_helpers.io.audio import load_audio
from xai_helpers.store import writer as writer_module
from xai_helpers.store.reader import AttributionFile, AttributionFileError, check_complete
from xai_helpers.store.writer import full_size_estimate, warn_if_large

SEGMENT = {"segment_start_s": 0.5, "segment_duration_s": 0.04}
FAST = {"method": "saliency", **SEGMENT}


@pytest.fixture()
def wav(sample_paths, tmp_path):
    """A private copy of a bundled sample (some cases change its content)."""
    copy = tmp_path / "input" / sample_paths[1].name
    copy.parent.mkdir()
    shutil.copy(sample_paths[1], copy)
    return copy


# ----------------------------------------------------------------------------- case 1: outputs outside the segment


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"outputs": "bin", "output_bin": (20000.0, 5.0)}, ["output_bin", "0..8000 Hz", "0..0.04 s"]),
        ({"outputs": "bin", "output_bin": (1000.0, 5.0)}, ["output_bin", "0..0.04 s"]),
        ({"outputs": "bin", "output_bin": (9000.0, 0.01)}, ["output_bin", "0..8000 Hz"]),
        ({"outputs": "regions", "output_regions": ["0-1000Hz@1-2s"]}, ["output_regions", "0..0.04 s"]),
        ({"outputs": "regions", "output_regions": ["9000-12000Hz@0-0.04s"]}, ["output_regions", "0..8000 Hz"]),
    ],
)
def test_outputs_outside_the_segment_are_refused(tmp_path, wav, kwargs, names):
    with pytest.raises(ValueError) as error:
        explain_file(wav, tmp_path / "out", ExplainConfig(**{**FAST, **kwargs}), progress=False)
    for name in names + [wav.name]:
        assert name in str(error.value)
    assert not list((tmp_path / "out").glob("*.h5"))


def test_output_bin_inside_is_the_nearest_bin(tmp_path, wav):
    config = ExplainConfig(**FAST, outputs="bin", output_bin=(8000.0, 0.04))
    with AttributionFile(explain_file(wav, tmp_path, config, progress=False).path) as stored:
        assert stored.output_bin == (160, 3)


# ----------------------------------------------------------------------------- case 2: result-changing settings


@pytest.mark.parametrize(
    "first, second, field",
    [
        (
            {"outputs": "bin", "output_bin": (1000.0, 0.01)},
            {"outputs": "bin", "output_bin": (3000.0, 0.02)},
            "output_bin",
        ),
        (
            {"outputs": "regions", "output_regions": ["0-1000Hz@0-0.02s"]},
            {"outputs": "regions", "output_regions": ["0-2000Hz@0-0.02s"]},
            "output_regions",
        ),
        (
            {"features": "regions", "feature_band_hz": 1000.0},
            {"features": "regions", "feature_band_hz": 2000.0},
            "feature_band_hz",
        ),
        ({}, {"dtype": "float16"}, "dtype"),
        (
            {"method": "fgsm", "outputs": "bin", "output_bin": (1000.0, 0.01)},
            {"method": "fgsm", "outputs": "bin", "output_bin": (1000.0, 0.01), "fgsm_eps": (0.5,)},
            "fgsm_eps",
        ),
    ],
)
def test_rerun_with_another_setting_recomputes_and_says_which(tmp_path, wav, caplog, first, second, field):
    a, b = ExplainConfig(**{**FAST, **first}), ExplainConfig(**{**FAST, **second})
    assert output_path(wav, tmp_path, a) == output_path(wav, tmp_path, b)  # same readable name
    explain_file(wav, tmp_path, a, progress=False)
    with caplog.at_level(logging.WARNING):
        result = explain_file(wav, tmp_path, b, progress=False)
    assert result.status == "recomputed" and result.reason.startswith(f"{field} differs")
    assert f"{field} differs" in caplog.text
    with AttributionFile(result.path) as stored:
        assert json.loads(stored.attrs["request"])[field] == b.request()[field]
    assert explain_file(wav, tmp_path, b, progress=False).status == "skipped"


def test_result_neutral_setting_reuses(tmp_path, wav):
    explain_file(wav, tmp_path, ExplainConfig(**FAST, frames_per_chunk=8), progress=False)
    assert explain_file(wav, tmp_path, ExplainConfig(**FAST, frames_per_chunk=2), progress=False).status == "skipped"


# ----------------------------------------------------------------------------- case 3: source, model, versions


def _set_attr(path, name, value):
    with h5py.File(path, "a") as file:
        file.attrs[name] = value


@pytest.mark.parametrize(
    "change, reason",
    [
        ("source", "source_sha256 differs"),
        ("model_sha256", "model_sha256 differs"),
        ("torch", "torch version differs"),
        ("nsnet2-xai", "nsnet2-xai version differs"),
        ("store_version", "store_version 1 differs"),
        ("request", "no request record"),
    ],
)
def test_stale_provenance_recomputes_with_the_reason(tmp_path, wav, caplog, change, reason):
    config = ExplainConfig(**FAST)
    path = explain_file(wav, tmp_path / "out", config, progress=False).path
    if change == "source":
        wave = load_audio(wav)
        sf.write(wav, wave * 0.5, 16000, subtype="FLOAT")
    elif change in ("torch", "nsnet2-xai"):
        with h5py.File(path, "a") as file:
            versions = json.loads(file.attrs["versions"])
            versions[change] = "0.0.1"
            file.attrs["versions"] = json.dumps(versions)
    elif change == "model_sha256":
        _set_attr(path, "model_sha256", "0" * 64)
    elif change == "store_version":
        _set_attr(path, "store_version", 1)
    else:
        with h5py.File(path, "a") as file:
            del file.attrs["request"]
    with caplog.at_level(logging.WARNING):
        result = explain_file(wav, tmp_path / "out", config, progress=False)
    assert result.status == "recomputed" and reason in result.reason
    assert reason in caplog.text and path.name in caplog.text


def test_patch_release_of_torch_still_reuses(tmp_path, wav):
    config = ExplainConfig(**FAST)
    path = explain_file(wav, tmp_path, config, progress=False).path
    with h5py.File(path, "a") as file:
        versions = json.loads(file.attrs["versions"])
        major, minor = versions["torch"].split(".")[:2]
        versions["torch"] = f"{major}.{minor}.99"
        file.attrs["versions"] = json.dumps(versions)
    assert explain_file(wav, tmp_path, config, progress=False).status == "skipped"


# ----------------------------------------------------------------------------- case 4: damaged chunks, renamed files


def _flip_chunk_bytes(path, dataset):
    """Overwrite 8 bytes in the middle of ``dataset``'s first chunk (as a failing disk would)."""
    with h5py.File(path, "r") as file:
        info = file[dataset].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    middle = info.byte_offset + info.size // 2
    data[middle : middle + 8] = bytes(255 - b for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "store, dataset, read",
    [
        ("full", "attributions", lambda stored: stored.read_attributions()),
        ("full", "input_features", lambda stored: stored.input_features),
        ("full", "deltas", lambda stored: stored.deltas),
        ("maps", "maps/global_abs", lambda stored: stored.maps),
    ],
)
def test_corrupted_chunk_raises_naming_the_file_and_is_recomputed(tmp_path, wav, caplog, store, dataset, read):
    config = ExplainConfig(method="deeplift", store=store, **SEGMENT)
    path = explain_file(wav, tmp_path, config, progress=False).path
    with h5py.File(path, "r") as file:
        assert file[dataset].fletcher32
        before = file[dataset][()]
    _flip_chunk_bytes(path, dataset)
    with AttributionFile(path) as stored, pytest.raises(AttributionFileError, match=re.escape(str(path))) as error:
        read(stored)
    assert dataset in str(error.value)
    with pytest.raises(AttributionFileError, match=re.escape(path.name)):
        check_complete(path, verify=True)
    with caplog.at_level(logging.WARNING):
        result = explain_file(wav, tmp_path, config, progress=False)
    assert result.status == "recomputed" and "damaged" in result.reason and path.name in caplog.text
    with AttributionFile(path) as stored:
        np.testing.assert_array_equal(stored.file[dataset][()], before)
    check_complete(path, verify=True)


def test_every_dataset_has_a_checksum(tmp_path, wav):
    config = ExplainConfig(method="deeplift", store="full", dtype="float16", **SEGMENT)
    path = explain_file(wav, tmp_path, config, progress=False).path
    names = []
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, item: names.append((name, item.fletcher32)) if isinstance(item, h5py.Dataset) else None
        )
    assert len(names) > 10 and all(checked for _, checked in names), [n for n, c in names if not c]


def test_renamed_h5_is_noticed_by_check_source_and_the_readers(tmp_path, sample_paths, caplog):
    import matplotlib

    matplotlib.use("Agg")
    from xai_helpers.analysis.inventory import NothingDoneError
    from xai_helpers.experiments.perturbation import PerturbationSettings, perturb_file
    from xai_helpers.plots.files import plot_batch

    inputs = tmp_path / "input"
    inputs.mkdir()
    first, second = (shutil.copy(path, inputs / path.name) for path in sample_paths[:2])
    out = tmp_path / "attributions"
    config = ExplainConfig(**FAST)
    written = explain_file(second, out, config, progress=False).path
    renamed = output_path(first, out, config)
    written.rename(renamed)  # harvard_02's attributions under harvard_01's name
    with AttributionFile(renamed) as stored:
        stored.check_source(second)  # its own input passes
        with pytest.raises(AttributionFileError) as error:
            stored.check_source(first)
    assert renamed.name in str(error.value) and first.name in str(error.value) and second.name in str(error.value)
    with pytest.raises(NothingDoneError) as left_out:  # its only file left out: nothing to plot is an error
        plot_batch(first, out, method="saliency", figures_dir=tmp_path / "figures")
    assert renamed.name in str(left_out.value) and second.name in str(left_out.value)
    result = perturb_file(first, out, tmp_path / "perturbation", PerturbationSettings(method="saliency", n_random=1))
    assert result.status == "failed" and second.name in result.message and renamed.name in result.message


# ----------------------------------------------------------------------------- case 6: unclear messages


def test_latent_with_the_default_method_and_baseline(tmp_path, wav):
    with pytest.raises(ValueError, match="deeplift_rule='captum'"):
        ExplainConfig(features="latent", **SEGMENT)
    config = ExplainConfig(
        features="latent", deeplift_rule="captum", outputs="bin", output_bin=(1000.0, 0.02), **SEGMENT
    )
    assert config.method == "deepliftshap" and config.baseline == "zero" and config.n_baselines == 1
    with AttributionFile(explain_file(wav, tmp_path, config, progress=False).path) as stored:
        values = stored.read_attributions(name="latent/gru1")
    assert values.shape == (1, 1, 400, 4) and np.abs(values).max() > 0
    with pytest.raises(ValueError, match=r"n_baselines=2 needs one of \('shuffled', 'noise_frames'\)") as error:
        explain_file(wav, tmp_path, ExplainConfig(**{**config.__dict__, "n_baselines": 2}), progress=False)
    assert wav.name in str(error.value)


def test_resampled_input_is_noted_and_its_rate_stored(tmp_path, wav, caplog):
    from scipy.signal import resample_poly

    other = tmp_path / "input" / "at_22050.wav"
    sf.write(other, resample_poly(load_audio(wav), 441, 320), 22050, subtype="FLOAT")
    with caplog.at_level(logging.WARNING):
        path = explain_file(other, tmp_path / "out", ExplainConfig(**FAST), progress=False).path
    assert "22050 Hz, resampled to the model's 16000 Hz" in caplog.text and other.name in caplog.text
    with AttributionFile(path) as stored:
        assert stored.attrs["source_sample_rate"] == 22050


# ----------------------------------------------------------------------------- case 7: size estimate


def test_full_size_estimate_and_warning(tmp_path, wav, caplog, monkeypatch):
    raw, disk = full_size_estimate((161, 223, 161, 223))  # a whole 2.23 s file as float32
    assert raw == 4 * 161**2 * 223**2 and disk == raw // 2
    assert full_size_estimate((161, 20, 161, 20), itemsize=2)[0] == 2 * 161**2 * 20**2
    with caplog.at_level(logging.WARNING):
        assert warn_if_large(tmp_path / "x.h5", (161, 223, 161, 223))
        assert not warn_if_large(tmp_path / "y.h5", (161, 20, 161, 20))
    assert "x.h5" in caplog.text and "5.16 GB raw, about 2.58 GB on disk" in caplog.text and "y.h5" not in caplog.text
    caplog.clear()
    monkeypatch.setattr(writer_module, "LARGE_WRITE_WARNING_BYTES", 1e5)
    with caplog.at_level(logging.WARNING):
        explain_file(wav, tmp_path, ExplainConfig(**FAST), progress=False)
    assert "GB raw, about" in caplog.text and "store='maps'" in caplog.text


def test_explorer_leaves_a_corrupted_file_out(tmp_path, wav, caplog):
    from xai_helpers.plots.explorer import find_explorable

    path = explain_file(wav, tmp_path, ExplainConfig(method="deeplift", store="maps", **SEGMENT), progress=False).path
    assert [item.path for item in find_explorable(tmp_path)] == [path]
    _flip_chunk_bytes(path, "maps/output_totals")
    with caplog.at_level(logging.WARNING):
        assert find_explorable(tmp_path) == []
    assert path.name in caplog.text and "maps/output_totals" in caplog.text


def test_missing_source_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.wav"):
        explain_file(tmp_path / "nothing.wav", tmp_path, ExplainConfig(**FAST), progress=False)


def test_writer_checksums_small_empty_and_scalar_datasets(tmp_path):
    from xai_helpers.store.writer import AttributionWriter

    path = tmp_path / "x.h5"
    with AttributionWriter(path, {"method": "test"}, n_target_axes=1) as writer:
        for name in ("input_features", "mask", "freqs_hz", "times_s"):
            writer.put(name, np.ones((3, 2)))
        writer.put("baselines", np.ones((1, 3, 2)))
        writer.put("nothing", np.zeros((0, 4)))
        writer.put("one_number", np.float32(3.0))
        writer.put_map("global_abs", np.ones((3, 2)))
        writer.commit()
    check_complete(path, verify=True)
    with h5py.File(path, "r") as file:
        assert file["mask"].fletcher32 and file["mask"].chunks == (3, 2) and file["nothing"].fletcher32
        assert file["maps/global_abs"].fletcher32 and file["maps/global_abs"].compression == "gzip"
        assert file["one_number"][()] == 3.0
