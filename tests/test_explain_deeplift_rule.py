"""``ExplainConfig.deeplift_rule`` wired through explain_file: the complete rule adds up on every output
layout (checked against the model's own outputs), the Captum rule still equals Captum, the rule is
stored and named in the file, both rules share a folder, bad settings are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_helpers.attribution.explain import ExplainConfig, attribution_paths, explain_file
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.store.reader import AttributionFile

SEGMENT = {"segment_start_s": 0.6, "segment_duration_s": 0.05}
REGIONS = ["0-1000Hz@0.01-0.04s", "1000-2000Hz@0-0.05s"]
LAYOUTS = {
    "all_bins": {},
    "bin": {"outputs": "bin", "output_bin": (1000.0, 0.03)},
    "regions": {"outputs": "regions", "output_regions": REGIONS},
    "groups": {"features": "regions", "feature_band_hz": 2000.0, "feature_span_s": 0.02},
}


@pytest.fixture(scope="module")
def wav(sample_paths):
    return sample_paths[2]


@pytest.fixture(scope="module")
def model():
    return load_nsnet2(16000)


def _stored(path):
    with AttributionFile(path) as stored:
        return stored.read_attributions(), stored.deltas, stored.input_features, stored.baselines, stored


def _change(model, features: np.ndarray, baselines: np.ndarray) -> np.ndarray:
    """``mask(input) - mean_k mask(baseline_k)`` ``[F, T]`` from the model itself."""
    wrapper = MaskFromLogPower(model, "mask")
    with torch.no_grad():
        out_x = wrapper(torch.as_tensor(features)[None])[0].double().numpy()
        out_b = wrapper(torch.as_tensor(baselines))[:].double().numpy().mean(axis=0)
    return out_x - out_b


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize(
    "method, baseline",
    [("deeplift", {"baseline": "zero"}), ("deepliftshap", {"baseline": "shuffled", "n_baselines": 2})],
)
def test_complete_rule_adds_up_on_every_layout(tmp_path, wav, model, layout, method, baseline):
    config = ExplainConfig(method=method, **baseline, **LAYOUTS[layout], **SEGMENT)
    result = explain_file(wav, tmp_path, config, progress=False)
    attributions, deltas, features, baselines, stored = _stored(result.path)
    assert stored.deeplift_rule == "complete" and stored.attrs["backend"] == "engine"
    change = _change(model, features, baselines)
    with AttributionFile(result.path) as file:
        if layout in ("all_bins", "groups"):
            explained = change
        elif layout == "bin":
            f_out, t_out = file.output_bin
            explained = change[f_out, t_out][None, None]
        else:
            freqs, times = file.freqs_hz, file.times_s
            explained = np.array(
                [
                    change[((freqs >= r[0]) & (freqs < r[1]))[:, None] & ((times >= r[2]) & (times < r[3]))[None]].sum()
                    for r in file.output_regions
                ]
            )
    summed = attributions.sum(axis=-1 if layout == "groups" else (-2, -1), dtype=np.float64)
    print(
        f"{method} {layout}: max |sum - change| = {np.abs(summed - explained).max():.1e}, "
        f"max |stored delta| = {np.abs(deltas).max():.1e}"
    )
    assert deltas.shape == explained.shape
    assert np.abs(deltas).max() <= 1e-4
    assert np.abs(summed - explained).max() <= 1e-4
    assert np.abs(explained).max() > 1e-2  # the check above is not trivially met


def test_bin_and_regions_are_the_all_bins_maps(tmp_path, wav):
    """The weighted-output path explains one bin as the all-bins map of that bin, a region as the sum of its bins'
    maps."""
    every = explain_file(wav, tmp_path, ExplainConfig(method="deeplift", **SEGMENT), progress=False)
    full = _stored(every.path)[0]
    one = explain_file(wav, tmp_path, ExplainConfig(method="deeplift", **LAYOUTS["bin"], **SEGMENT), progress=False)
    regions = explain_file(
        wav, tmp_path, ExplainConfig(method="deeplift", **LAYOUTS["regions"], **SEGMENT), progress=False
    )
    with AttributionFile(one.path) as stored:
        f_out, t_out = stored.output_bin
        np.testing.assert_allclose(stored.read_attributions()[0, 0], full[f_out, t_out], atol=1e-6)
    with AttributionFile(regions.path) as stored:
        freqs, times, values = stored.freqs_hz, stored.times_s, stored.read_attributions()
        for r, region in enumerate(stored.output_regions):
            inside = ((freqs >= region[0]) & (freqs < region[1]))[:, None] & (
                (times >= region[2]) & (times < region[3])
            )[None]
            np.testing.assert_allclose(values[r], full[inside].sum(axis=0), atol=1e-5)


@pytest.mark.parametrize("layout", ["bin", "regions"])
def test_captum_rule_on_the_engine_equals_captum(tmp_path, wav, layout):
    """deeplift_rule="captum": the engine's weighted outputs equal Captum's DeepLiftShap (the reference)."""
    settings = {
        "method": "deepliftshap",
        "baseline": "shuffled",
        "n_baselines": 2,
        "deeplift_rule": "captum",
        **LAYOUTS[layout],
        **SEGMENT,
    }
    engine = explain_file(wav, tmp_path / "engine", ExplainConfig(backend="engine", **settings), progress=False)
    captum = explain_file(wav, tmp_path / "captum", ExplainConfig(backend="captum", **settings), progress=False)
    (ours, our_deltas, *_, a), (reference, reference_deltas, *_, b) = _stored(engine.path), _stored(captum.path)
    assert (a.attrs["backend"], b.attrs["backend"]) == (
        "engine",
        "captum",
    ) and a.deeplift_rule == b.deeplift_rule == "captum"
    assert np.abs(ours - reference).max() <= 1e-5 * np.abs(reference).max()
    np.testing.assert_allclose(our_deltas, reference_deltas, atol=1e-5)
    assert np.abs(reference_deltas).max() > 1e-3  # Captum's rule does not add up on NSNet2


def test_both_rules_share_a_folder(tmp_path, wav):
    paths = {}
    for rule in ("complete", "captum"):
        result = explain_file(
            wav,
            tmp_path,
            ExplainConfig(method="deeplift", deeplift_rule=rule, **LAYOUTS["bin"], **SEGMENT),
            progress=False,
        )
        assert result.status == "computed" and f"_deeplift_{rule}_" in result.path.name
        paths[rule] = result.path
    assert attribution_paths(wav, tmp_path, "deeplift") == sorted(paths.values())
    again = explain_file(
        wav,
        tmp_path,
        ExplainConfig(method="deeplift", deeplift_rule="captum", **LAYOUTS["bin"], **SEGMENT),
        progress=False,
    )
    assert again.status == "skipped" and again.path == paths["captum"] and again.summary()["deeplift_rule"] == "captum"
    assert attribution_paths(wav, tmp_path, "deepliftshap") == []
    deltas = {rule: _stored(path)[1] for rule, path in paths.items()}
    assert np.abs(deltas["complete"]).max() <= 1e-4 < np.abs(deltas["captum"]).max()
    saliency = explain_file(
        wav, tmp_path, ExplainConfig(method="saliency", **LAYOUTS["bin"], **SEGMENT), progress=False
    )
    assert "complete" not in saliency.path.name and _stored(saliency.path)[4].deeplift_rule is None


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"deeplift_rule": "exact"}, "deeplift_rule: unknown 'exact'; choose one of complete, captum"),
        ({"backend": "captum"}, "backend='captum' only implements deeplift_rule='captum'"),
        (
            {"features": "latent", "outputs": "bin", "output_bin": (1000.0, 0.03)},
            "features='latent'.*deeplift_rule='captum'",
        ),
    ],
)
def test_bad_rule_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        ExplainConfig(method="deeplift", **settings)
