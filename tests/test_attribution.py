"""Attribution methods by name: closed-form answers on an analytic model, Captum equality and
completeness on the real model, causality, regions and latent features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import DeepLift
from torch import nn

from xai_helpers.attribution.registry import METHODS, method_spec
from xai_helpers.attribution.methods import MethodOptions
from xai_helpers.attribution.captum_backend import attribute_targets
from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.store.reader import AttributionFile
from xai_helpers.attribution.targets import ExplainedOutputs, bin_index

F, T = 5, 4


class LinearMask(nn.Module):
    """A causal linear 'mask': out[:, t] = W x[:, t] + V x[:, t-1] + c (frames [B, T, F])."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.W = nn.Parameter(torch.randn(F, F, generator=generator), requires_grad=False)
        self.V = nn.Parameter(torch.randn(F, F, generator=generator), requires_grad=False)

    def logit(self, frames: torch.Tensor) -> torch.Tensor:
        previous = torch.nn.functional.pad(frames, (0, 0, 1, 0))[:, :-1]
        return frames @ self.W.T + previous @ self.V.T + 0.5

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.logit(frames)


@pytest.fixture(scope="module")
def analytic():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(F, T, generator=generator, dtype=torch.float32)
    baselines = torch.randn(3, F, T, generator=generator, dtype=torch.float32)
    return ExplainedOutputs(LinearMask(), "mask"), x, baselines


def _expected(model: LinearMask, difference: torch.Tensor, f_out: int, t_out: int) -> torch.Tensor:
    """Closed form: d out[f_out, t_out] / d x = W[f_out] at t_out and V[f_out] at t_out - 1, times ``difference``."""
    weights = torch.zeros(F, T)
    weights[:, t_out] = model.W[f_out]
    if t_out > 0:
        weights[:, t_out - 1] = model.V[f_out]
    return weights * difference


@pytest.mark.parametrize(
    "method",
    ["deeplift", "deepliftshap", "integratedgradients", "gradientshap", "inputxgradient", "saliency", "occlusion"],
)
def test_analytic_model(analytic, method):
    module, x, baselines = analytic
    linear = module.explained.model
    # GradientShap samples baselines at random: with one baseline its expectation is exact.
    references = baselines if method == "deepliftshap" else baselines[:1]
    targets = [(2, 3), (4, 0), (0, 1)]
    result = attribute_targets(
        module, x, references, method, [bin_index(f, t, T) for f, t in targets], options=MethodOptions(n_samples=50)
    )
    for values, (f_out, t_out) in zip(result.values, targets):
        if method == "saliency":
            expected = _expected(linear, torch.ones(F, T), f_out, t_out).abs()
        elif method == "inputxgradient":
            expected = _expected(linear, x, f_out, t_out)
        else:  # (x - mean baseline) x weights: exact for a linear model, in expectation for GradientShap
            expected = _expected(linear, x - references.mean(dim=0), f_out, t_out)
        np.testing.assert_allclose(values, expected.numpy(), atol=1e-4)
    if result.deltas is not None:
        np.testing.assert_allclose(result.deltas, 0.0, atol=1e-4)


def test_unknown_and_groups_only_methods(analytic):
    module, x, baselines = analytic
    with pytest.raises(ValueError, match="unknown 'shap'"):
        attribute_targets(module, x, baselines, "shap", [0])
    with pytest.raises(ValueError, match="features='regions'"):
        attribute_targets(module, x, baselines, "kernelshap", [0])
    with pytest.raises(ValueError, match="one baseline"):
        attribute_targets(module, x, baselines, "deeplift", [0])
    assert len(METHODS) == 10


@pytest.mark.parametrize("method", sorted(METHODS))
def test_registry_says_which_methods_give_a_delta(analytic, method):
    """Each spec's ``gives_delta`` is what the method returns; groups-only methods run on groups."""
    module, x, baselines = analytic
    spec = method_spec(method)
    groups = torch.as_tensor(np.arange(F * T).reshape(F, T) // 4) if spec.groups_only else None
    references = baselines[:1] if method == "deeplift" else baselines
    result = attribute_targets(
        module, x, references, method, [0, 7], feature_mask=groups, options=MethodOptions(n_samples=8)
    )
    assert (result.deltas is not None) == spec.gives_delta
    assert result.values.shape == ((2, F * T // 4) if spec.groups_only else (2, F, T))


@pytest.fixture(scope="module")
def model():
    return load_nsnet2(16000)


@pytest.fixture(scope="module")
def noisy_file(tmp_path_factory, sample_paths):
    from xai_helpers.io.noisy_corpus import make_noisy_corpus

    folder = tmp_path_factory.mktemp("noisy")
    return make_noisy_corpus(sample_paths[:1], folder, "pink_snr", snr_db=5.0, seed=0)[0].noisy_path


def _read(path):
    with AttributionFile(path) as stored:
        return {name: stored[name] for name in ("input_features", "baselines", "mask")} | {
            "attributions": stored.read_attributions(),
            "deltas": stored["deltas"] if "deltas" in stored else None,
        }


SEGMENT = {"segment_start_s": 0.6, "segment_duration_s": 0.05}


@pytest.mark.parametrize("backend", ["captum", "engine"])
def test_deeplift_equals_captum_and_is_causal(tmp_path, noisy_file, model, backend):
    config = ExplainConfig(method="deeplift", baseline="zero", backend=backend, deeplift_rule="captum", **SEGMENT)
    stored = _read(explain_file(noisy_file, tmp_path, config, progress=False).path)
    attributions = stored["attributions"]
    n_frames = stored["input_features"].shape[1]
    assert attributions.shape == (161, n_frames, 161, n_frames)
    # Captum's own DeepLift on the whole segment, every output bin.
    x = torch.as_tensor(stored["input_features"])[None].expand(161, -1, -1).contiguous()
    b = torch.as_tensor(stored["baselines"]).expand(161, -1, -1)
    wrapper = MaskFromLogPower(model, "mask")
    reference = np.stack(
        [
            DeepLift(wrapper).attribute(x, baselines=b, target=[(f, t) for f in range(161)]).detach().numpy()
            for t in range(n_frames)
        ],
        axis=1,
    )
    scale = np.abs(reference).max()
    difference = np.abs(attributions - reference).max() / scale
    print(f"{backend}: max |this - Captum| / max |attribution| = {difference:.2e}")
    assert difference < 1e-5
    # Causality: nothing after the explained frame contributes, exactly.
    for t in range(n_frames):
        assert np.all(attributions[:, t, :, t + 1 :] == 0)
        assert np.abs(attributions[:, t, :, : t + 1]).max() > 0


def test_completeness_bookkeeping_and_integrated_gradients(tmp_path, noisy_file, model):
    """Stored deltas are sum(attributions) - (out(x) - out(b)) (Captum's rule: large); IG converges to completeness."""
    config = ExplainConfig(method="deeplift", baseline="mean", deeplift_rule="captum", **SEGMENT)
    stored = _read(explain_file(noisy_file, tmp_path, config, progress=False).path)
    wrapper = MaskFromLogPower(model, "mask")
    with torch.no_grad():
        out_x = wrapper(torch.as_tensor(stored["input_features"])[None])[0].numpy()
        out_b = wrapper(torch.as_tensor(stored["baselines"]))[0].numpy()
    change = out_x - out_b
    deltas = stored["attributions"].sum(axis=(2, 3)) - change
    np.testing.assert_allclose(stored["deltas"], deltas, atol=2e-5)
    relative = np.abs(deltas).max() / np.abs(change).max()
    print(f"DeepLift (mean baseline) on NSNet2: max |delta| / max |change| = {relative:.3f} (GRUs get plain gradients)")

    ig = ExplainConfig(
        method="integratedgradients",
        baseline="mean",
        outputs="bin",
        output_bin=(1000.0, 0.04),
        n_samples=300,
        **SEGMENT,
    )
    result = explain_file(noisy_file, tmp_path, ig, progress=False)
    stored = _read(result.path)
    with AttributionFile(result.path) as file:
        f_out, t_out = file.output_bin
    assert f_out == 20  # 1000 Hz in 50 Hz bins
    total = stored["attributions"].sum()
    assert abs(total - change[f_out, t_out]) <= 1e-3 * max(abs(change[f_out, t_out]), 1e-3)


def test_region_target_is_sum_of_bins_and_groups_sum_bins(tmp_path, noisy_file, model):
    """For gradient methods, explaining a region = summing its bins' attributions; groups = summing input bins."""
    region = "500-1500Hz@0.01-0.04s"
    per_bin = ExplainConfig(method="inputxgradient", backend="captum", **SEGMENT)
    regions = ExplainConfig(method="inputxgradient", outputs="regions", output_regions=[region], **SEGMENT)
    groups = ExplainConfig(
        method="inputxgradient", features="regions", feature_band_hz=2000, feature_span_s=0.02, **SEGMENT
    )
    bins = _read(explain_file(noisy_file, tmp_path, per_bin, progress=False).path)["attributions"]
    summed = _read(explain_file(noisy_file, tmp_path, regions, progress=False).path)["attributions"][0]
    result = explain_file(noisy_file, tmp_path, groups, progress=False)
    with AttributionFile(result.path) as stored:
        labels, grouped, freqs, times = (
            stored["feature_mask"],
            stored.read_attributions(),
            stored["freqs_hz"],
            stored["times_s"],
        )
    inside = ((freqs >= 500) & (freqs < 1500))[:, None] & ((times >= 0.01) & (times < 0.04))[None, :]
    np.testing.assert_allclose(summed, bins[inside].sum(axis=0), atol=1e-5)
    expected = np.stack([bins[..., labels == g].sum(axis=-1) for g in range(labels.max() + 1)], axis=-1)
    np.testing.assert_allclose(grouped, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["deeplift", "saliency"])
def test_latent_features(tmp_path, noisy_file, method):
    config = ExplainConfig(
        method=method, features="latent", outputs="bin", output_bin=(1000.0, 0.03), deeplift_rule="captum", **SEGMENT
    )
    result = explain_file(noisy_file, tmp_path, config, progress=False)
    with AttributionFile(result.path) as stored:
        for layer in ("fc_in", "gru1", "gru2"):
            values = stored.read_attributions(name=f"latent/{layer}")
            assert values.shape == (1, 1, 400, 5)
            assert stored.dims(f"latent/{layer}") == ("f_out", "t_out", "unit", "t_in")
            t_out = stored.output_bin[1]
            assert np.all(values[..., t_out + 1 :] == 0) and np.abs(values).max() > 0


def test_noise_and_clean_baselines_use_the_record(tmp_path, noisy_file):
    for baseline in ("noise", "clean"):
        config = ExplainConfig(method="saliency", baseline=baseline, outputs="bin", output_bin=(500.0, 0.02), **SEGMENT)
        stored = _read(explain_file(noisy_file, tmp_path, config, progress=False).path)
        assert stored["baselines"].shape == (1, 161, 5)
        assert not np.allclose(stored["baselines"][0], stored["input_features"])


def test_fgsm_sensitivity(tmp_path, noisy_file):
    config = ExplainConfig(
        method="fgsm", outputs="regions", output_regions=["0-2000Hz@0-0.05s"], fgsm_eps=(0.01, 0.1), **SEGMENT
    )
    result = explain_file(noisy_file, tmp_path, config, progress=False)
    with AttributionFile(result.path) as stored:
        sensitivity = stored["sensitivity"]
        direction = stored.read_attributions()
    assert sensitivity.shape == (1, 2)
    # A step against the gradient lowers the explained output, more for a larger step.
    assert sensitivity[0, 0] < 0 and sensitivity[0, 1] < sensitivity[0, 0]
    assert set(np.unique(np.round(direction, 4))) <= {-1.0, 0.0, 1.0}
