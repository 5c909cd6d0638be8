"""Feature definitions (notebook 06): region scores of additive methods are bin sums, KernelSHAP over every
coalition is the exact Shapley value, a hand-wired unit's profile is its band, grids and metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_helpers.attribution.captum_backend import attribute_targets
from xai_helpers.attribution.targets import ExplainedOutputs
from xai_helpers.attribution.unit_profiles import group_by_band, layer_activations, unit_profiles
from xai_helpers.experiments.feature_definitions import (
    Settings,
    bin_scores,
    make_grid,
    make_outputs,
    noisy_segment,
)
from xai_helpers.experiments.feature_metrics import concentration, kernel_shap_all_coalitions
from xai_helpers.experiments.shapley import coalition_values, exact_shapley, shapley_from_values
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2, stft_config
from xai_helpers.plots.explorer import panels as plot_panels

CONFIG = stft_config(16000)
GRID = {"name": "1kHz x 50ms", "band_hz": 1000, "span_s": 0.05, "max_hz": 2000}


@pytest.fixture(scope="module")
def model():
    return load_nsnet2(16000)


@pytest.fixture(scope="module")
def segment(clean_speech):
    return noisy_segment("speech", clean_speech, CONFIG, 10.0, 0, 0.8, 0.1, "mean")


def test_grid_players_rest_and_limits():
    freqs = CONFIG.frequencies_hz()
    grid = make_grid(GRID, freqs, 10, CONFIG.hop_s)
    assert grid.tiles.count == 5 and grid.tiles.names[-1] == "rest" and list(grid.bands) == [0, 0, 1, 1, -1]
    assert (grid.tiles.masks.sum(axis=0) == 1).all() and grid.tiles.masks[-1][freqs >= 2000].all()
    mel = make_grid({"name": "mel", "mel_bands": 4, "span_s": 0.05}, freqs, 10, CONFIG.hop_s)
    assert mel.tiles.count == 8 and (mel.bands >= 0).all()
    band_tiles, summing = mel.band_tiles()
    assert band_tiles.count == 4 and (band_tiles.masks.sum(axis=0) == 1).all() and (summing.sum(axis=0) == 1).all()
    with pytest.raises(ValueError, match="at most 12"):
        make_grid({"name": "fine", "band_hz": 250, "span_s": 0.05, "max_hz": 2000}, freqs, 10, CONFIG.hop_s)
    with pytest.raises(ValueError, match="band_hz"):
        make_grid({"name": "bad", "span_s": 0.05}, freqs, 10, CONFIG.hop_s)


def test_outputs_regions_and_bins(segment):
    outputs = make_outputs(["0-1000Hz@0.05-0.1s"], [[510.0, 0.09]], segment.freqs_hz, segment.times_s)
    assert outputs[0].weights.sum() == 100 and outputs[0].weights[:, :5].sum() == 0  # 0-950 Hz: 20 bins x 5 frames
    assert outputs[1].weights.sum() == 1 and outputs[1].weights[10, 9] == 1 and outputs[1].name == "bin 500Hz@0.09s"
    with pytest.raises(ValueError, match="outside the segment"):
        make_outputs([], [[500.0, 0.5]], segment.freqs_hz, segment.times_s)


def test_region_scores_of_additive_methods_are_bin_sums(model, segment):
    """IG's tile scores equal Captum's grouped IG (feature mask); complete DeepLIFT's tile scores add up to the
    same total as the exact Shapley values of the tiles (v(all) - v(none))."""
    grid = make_grid(GRID, segment.freqs_hz, segment.features.shape[1], CONFIG.hop_s)
    outputs = make_outputs(["0-1000Hz@0.05-0.1s"], [[500.0, 0.09]], segment.freqs_hz, segment.times_s)
    settings = Settings(bin_methods=("deeplift", "integratedgradients"), n_samples=8)
    scores = {(s.method, s.grid, s.output): s for s in bin_scores(model, segment, outputs, [grid], settings)}
    weights = torch.as_tensor(np.stack([o.weights for o in outputs]), dtype=torch.float32)
    grouped = attribute_targets(
        ExplainedOutputs(model, "mask", weights),
        torch.as_tensor(segment.features),
        torch.as_tensor(segment.baselines),
        "integratedgradients",
        [0, 1],
        feature_mask=torch.as_tensor(grid.labels),
        options=settings.options(),
    ).values
    for m, output in enumerate(outputs):
        ig = scores[("integratedgradients", grid.name, output.name)]
        np.testing.assert_allclose(ig.values, grouped[m], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(
            ig.values,
            [scores[("integratedgradients", "bins", output.name)].map[t].sum() for t in grid.tiles.masks],
            rtol=1e-9,
        )
        phi = exact_shapley(
            MaskFromLogPower(model), segment.features, segment.baselines, grid.tiles, output.weights
        ).values
        deeplift = scores[("deeplift", grid.name, output.name)].values
        assert abs(deeplift.sum() - phi.sum()) < 1e-3 * max(1.0, abs(phi.sum()))


def test_kernel_shap_over_every_coalition_is_the_exact_shapley_value(model, segment):
    rng = np.random.default_rng(3)
    for k in (2, 3, 5):
        values = rng.normal(size=2**k)  # any game, interactions included
        np.testing.assert_allclose(kernel_shap_all_coalitions(values), shapley_from_values(values), atol=1e-10)
    grid = make_grid(GRID, segment.freqs_hz, segment.features.shape[1], CONFIG.hop_s)  # 5 players on real NSNet2
    weights = make_outputs(["0-1000Hz@0.05-0.1s"], [], segment.freqs_hz, segment.times_s)[0].weights
    values = coalition_values(MaskFromLogPower(model), segment.features, segment.baselines, grid.tiles, weights)
    np.testing.assert_allclose(kernel_shap_all_coalitions(values), shapley_from_values(values), atol=1e-9)
    with pytest.raises(ValueError, match="2\\^k"):
        kernel_shap_all_coalitions(np.zeros(6))


def test_the_profile_of_a_unit_wired_to_one_band_is_that_band():
    """Unit 0 sees only bins 8..15 (a band), unit 1 only bins 0..3; the profiles are zero elsewhere and
    the units fall in the bands that hold those bins."""
    n_bins, n_frames = 32, 6
    freqs = np.arange(n_bins) * 100.0
    weights = torch.zeros(2, n_bins)
    weights[0, 8:16], weights[1, 0:4] = 1.0, -0.5

    def activations(log_power: torch.Tensor) -> torch.Tensor:
        return torch.relu(torch.einsum("uf,bft->but", weights, log_power) + 10.0)

    features = np.random.default_rng(0).uniform(-2, 2, size=(n_bins, n_frames)).astype(np.float32)
    profiles = unit_profiles(
        activations, features, np.full((1, n_bins, n_frames), -5.0, dtype=np.float32), batch_size=5
    )
    assert profiles.shape == (2, n_bins)
    assert np.flatnonzero(profiles[0]).tolist() == list(range(8, 16))
    np.testing.assert_allclose(profiles[0, 8:16], features[8:16].sum(axis=1) + 5.0 * n_frames, rtol=1e-5)
    assert np.flatnonzero(profiles[1]).tolist() == list(range(4))
    assert group_by_band(profiles, freqs, [0, 500, 800, 1600, 3200]).tolist() == [2, 0]


def test_layer_activations_of_nsnet2(model, segment):
    x = torch.as_tensor(segment.features)[None]
    fc_in = layer_activations(model, "fc_in")(x)
    np.testing.assert_allclose(
        fc_in.detach().numpy(), torch.relu(model.fc_in(x.transpose(1, 2))).transpose(1, 2).detach().numpy(), atol=1e-6
    )
    gru1 = layer_activations(model, "gru1")(x)
    assert gru1.shape == (1, model.hidden, x.shape[2])


def test_concentration():
    assert concentration(np.array([0.0] * 9 + [-3.0])) == 1.0
    assert concentration(np.ones(20)) == pytest.approx(0.1)
    assert np.isnan(concentration(np.zeros(4)))


def test_rows_agreement_stability_and_between_methods():
    """Hand-made scores: a method equal to the Shapley values (scaled per seed) agrees fully and is stable;
    one that reverses them has Spearman -1 and differs between seeds once normalised."""
    from xai_helpers.experiments.feature_definitions import Score, Study
    from xai_helpers.experiments.feature_metrics import study_rows

    grid = make_grid(GRID, CONFIG.frequencies_hz(), 10, CONFIG.hop_s)
    phi = np.arange(1.0, 6.0)
    scores = []
    for file in ("a", "b"):
        for seed in (0, 1):
            common = dict(definition="regions", grid=grid.name, file=file, seed=seed, output="out", seconds=0.1)
            scores += [
                Score(method="shapley", values=phi, **common),
                Score(method="kernelshap", values=phi * (1 + seed), **common),
                Score(method="lime", values=phi[::-1] - seed * phi, **common),
            ]
    rows = study_rows(Study(scores, [grid], {}, {}, None, [], 0.0, "none"))
    mean = rows.groupby(["method", "metric"])["value"].mean()
    assert mean[("kernelshap", "shapley_spearman")] == pytest.approx(1.0)
    assert mean[("kernelshap", "shapley_sign_agreement")] == pytest.approx(1.0)
    assert mean[("kernelshap", "spread_seeds")] == pytest.approx(0.0, abs=1e-12)
    assert mean[("lime", "spread_seeds")] > 0.01
    assert rows[(rows["method"] == "lime") & (rows["seed"] == 0)]["value"][rows["metric"] == "shapley_spearman"].iloc[
        0
    ] == pytest.approx(-1.0)
    assert mean[("shapley", "spearman_with:regions/kernelshap")] == pytest.approx(1.0)
    assert ("shapley", "shapley_spearman") not in mean.index
    assert set(rows.columns) == {"definition", "grid", "method", "metric", "value", "file", "output", "seed"}


def test_segment_start_and_the_definitions_figure_in_seconds_in_the_file(segment):
    """The segment cut at 0.8 s starts there in the file; the figure's time axis counts from the file start."""
    import matplotlib

    matplotlib.use("Agg")
    from xai_helpers.experiments.feature_definitions import Output, Score, Study
    from xai_helpers.plots.feature_definitions import plot_definitions

    assert segment.start_s == pytest.approx(0.8) and segment.times_s[0] == 0.0
    n_bins, n_frames = segment.features.shape
    bin_map = np.zeros((n_bins, n_frames))
    bin_map[3, 2] = 1.0
    score = Score("bins", "bins", "saliency", segment.file, segment.seed, "out", bin_map.ravel(), 0.0, bin_map)
    weights = np.zeros((n_bins, n_frames))
    weights[:20, 5:] = 1.0
    study = Study([score], [], {}, {}, segment, [Output("out", weights)], 0.0, "none")
    fig = plot_definitions(study, "out", "bins")
    hop = CONFIG.hop_s
    panels = plot_panels(fig)
    assert len(panels) == 2  # the map and the spectrogram beneath it, on one time axis
    for ax in panels:
        assert ax.get_xlim() == pytest.approx((0.8 - hop / 2, 0.8 + (n_frames - 0.5) * hop))
    assert panels[-1].get_xlabel() == "Time in the file (s)"
