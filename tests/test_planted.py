"""Planted mechanisms: each model's output provably depends on one input bin; complete methods and exact Shapley
values find it (at least 99 % of |attribution| on the planted band and lag)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_helpers.attribution.captum_backend import attribute_targets
from xai_helpers.attribution.targets import ExplainedOutputs
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.experiments.planted import MECHANISMS, planted_bins, planted_model, planted_share
from xai_helpers.experiments.shapley import Tiles, exact_shapley
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import stft_config

BAND, LAG, T_OUT = 12, 3, 9  # 600 Hz, 30 ms


@pytest.fixture(scope="module")
def features(noisy_speech) -> np.ndarray:
    return log_power(stft(noisy_speech[8000 : 8000 + 12 * 160], stft_config(16000))).astype(np.float32)[:, :12]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_output_depends_on_the_planted_bin_alone(mechanism, features):
    model = planted_model(mechanism, BAND, LAG)
    rng = np.random.default_rng(0)
    base = model.predict(features, "mask")
    others = features + rng.normal(scale=3.0, size=features.shape).astype(np.float32)
    others[BAND] = features[BAND]  # every bin changed except the planted band
    assert np.array_equal(model.predict(others, "mask"), base)  # exactly: the gates are shut, not nearly
    moved = features.copy()
    moved[BAND, T_OUT - LAG] += 2.0
    change = np.abs(model.predict(moved, "mask") - base)
    assert change[:, T_OUT].min() > 1e-3  # every output bin of frame T_OUT moves
    assert change[:, :T_OUT].max() == 0 and np.array_equal(np.flatnonzero(change.max(axis=0)), [T_OUT])


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_methods_and_exact_shapley_find_the_planted_bin(mechanism, features):
    model = planted_model(mechanism, BAND, LAG)
    baseline = np.full((1, *features.shape), -12.0, dtype=np.float32)
    module = ExplainedOutputs(model, "mask")
    n_frames = features.shape[1]
    targets = [f * n_frames + T_OUT for f in (0, 80, 160)]
    for method in ("deeplift", "integratedgradients", "saliency", "inputxgradient"):
        values = attribute_targets(module, torch.as_tensor(features), torch.as_tensor(baseline), method, targets).values
        for bin_map in values:
            assert planted_share(bin_map, model, T_OUT) >= 0.99, method
    weights = np.zeros(features.shape)
    weights[:, T_OUT] = 1.0
    planted = planted_bins(model, n_frames, T_OUT)
    near = np.zeros_like(planted)
    near[BAND - 2 : BAND + 3, T_OUT - LAG - 1 : T_OUT - LAG + 2] = True
    tiles = Tiles(np.stack([planted, near & ~planted]), ("planted", "around it"))
    result = exact_shapley(MaskFromLogPower(model), features, baseline, tiles, weights)
    change = result.output_input - result.output_baseline
    assert abs(change) > 1e-2 and result.values[0] == pytest.approx(change, rel=1e-6)
    assert np.abs(result.values[1:]).max() <= 1e-9 * abs(change)  # every other tile is a null player


def test_planted_bins_and_bad_arguments():
    model = planted_model("gru", BAND, LAG)
    assert planted_bins(model, 12, LAG - 1).sum() == 0 and planted_bins(model, 12, LAG)[BAND, 0]
    with pytest.raises(ValueError, match="mechanism: unknown 'rnn'; choose one of gru, lstm, gate"):
        planted_model("rnn", BAND, LAG)
    with pytest.raises(ValueError, match="band must lie in 0..160"):
        planted_model("lstm", 161, LAG)
