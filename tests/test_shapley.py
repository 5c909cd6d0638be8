"""Exact Shapley values of tiles: analytic games, the real NSNet2 (efficiency, prefix sharing), bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.experiments.shapley import (
    REST,
    Tiles,
    burst_effect,
    coalition_values,
    complete_tiles,
    exact_shapley,
    grid_tiles,
    shapley_from_values,
    with_event,
)
from xai_helpers.models.nsnet2 import stft_config

CONFIG = stft_config(16000)


class Additive(nn.Module):
    """out = c * x bin by bin: each tile's Shapley value is its own effect, sum over the tile of w c (x - b)."""

    def __init__(self, scale: np.ndarray) -> None:
        super().__init__()
        self.scale = torch.as_tensor(scale)

    def forward(self, log_power: torch.Tensor) -> torch.Tensor:
        return self.scale[:, : log_power.shape[2]] * log_power


class Product(nn.Module):
    """out[0, last frame] = (sum of x over tile A) * (sum of x over tile B), 0 elsewhere."""

    def __init__(self, tile_a: np.ndarray, tile_b: np.ndarray) -> None:
        super().__init__()
        self.tiles = torch.as_tensor(np.stack([tile_a, tile_b]), dtype=torch.float64)

    def forward(self, log_power: torch.Tensor) -> torch.Tensor:
        sums = torch.einsum("bft,kft->bk", log_power, self.tiles[:, :, : log_power.shape[2]])
        out = torch.zeros_like(log_power)
        out[:, 0, -1] = sums[:, 0] * sums[:, 1]
        return out


def test_grid_tiles_cover_the_plane_and_events_are_cut_out():
    freqs, times = CONFIG.frequencies_hz(), CONFIG.frame_times_s(20)
    tiles = grid_tiles(freqs, times, [0, 1000, 8001], [0, 0.1, 0.3])
    assert tiles.count == 4 and tiles.names[0] == "0-1000Hz@0-0.1s"
    assert (tiles.masks.sum(axis=0) == 1).all()
    event = np.zeros((161, 20), dtype=bool)
    event[10:20, 5:15] = True
    carved = with_event(tiles, event, "burst")
    assert carved.names[-1] == "burst" and (carved.masks.sum(axis=0) == 1).all() and (carved.masks[-1] == event).all()


def test_additive_model_gives_each_tile_its_own_effect():
    rng = np.random.default_rng(1)
    shape = (6, 10)
    features, baselines = rng.normal(size=shape), rng.normal(size=(2, *shape))
    scale, weights = rng.normal(size=shape), rng.normal(size=shape)
    weights[:, 8:] = 0  # frames 8.. are not explained: a tile there is a null player
    masks = np.zeros((5, *shape), dtype=bool)
    for index, frames in enumerate([slice(8, 10), slice(6, 8), slice(4, 6), slice(2, 4)]):  # later tiles first
        masks[index, :, frames] = True
    masks[4, :, :2] = True
    result = exact_shapley(Additive(scale), features, baselines, masks, weights)
    effect = (weights * scale)[None] * (features[None] - baselines)
    expected = np.einsum("kft,ft->k", masks.astype(float), effect.mean(axis=0))
    np.testing.assert_allclose(result.values, expected, atol=1e-6)
    assert result.values[0] == 0.0
    assert result.values.sum() == pytest.approx(result.output_input - result.output_baseline, abs=1e-6)


def test_two_tile_product_model_has_the_known_values():
    rng = np.random.default_rng(2)
    shape = (4, 5)
    tile_a, tile_b = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    tile_a[:2, :3], tile_b[2:, 1:] = True, True
    features, baseline = rng.normal(size=shape), rng.normal(size=shape)
    weights = np.zeros(shape)
    weights[0, -1] = 1.0
    result = exact_shapley(Product(tile_a, tile_b), features, baseline[None], np.stack([tile_a, tile_b]), weights)
    a_x, a_b, b_x, b_b = features[tile_a].sum(), baseline[tile_a].sum(), features[tile_b].sum(), baseline[tile_b].sum()
    assert result.tiles.names[-1] == REST  # the bins in neither tile: a null player here
    np.testing.assert_allclose(
        result.values, [(a_x - a_b) * (b_x + b_b) / 2, (b_x - b_b) * (a_x + a_b) / 2, 0.0], atol=1e-6
    )


def test_shapley_from_values_of_a_symmetric_game():
    # v(S) = |S|^2 over 3 players: each gets v(all) / 3 by symmetry.
    values = np.array([bin(s).count("1") ** 2 for s in range(8)], dtype=float)
    np.testing.assert_allclose(shapley_from_values(values), [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="2\\^k"):
        shapley_from_values(np.ones(6))


@pytest.fixture(scope="module")
def nsnet_problem(noisy_speech):
    from xai_helpers.dsp.stft import log_power, stft

    features = log_power(stft(noisy_speech[8000 : 8000 + 16 * 160], CONFIG)).astype(np.float32)[:, :16]
    freqs, times = CONFIG.frequencies_hz(), CONFIG.frame_times_s(16)
    tiles = grid_tiles(freqs, times, [0, 1000, 3000, 8001], [0, 0.06, 0.2])  # 6 tiles, the second span from frame 5
    weights = np.zeros(features.shape)
    weights[15:40, 8:13] = 1.0  # 470-1250 Hz, frames 8-12 (later frames are cut: causality)
    baselines = np.stack([np.full(features.shape, -12.0), features[:, ::-1] - 1.0]).astype(np.float32)
    return features, baselines, tiles, weights


@pytest.mark.parametrize("target", ["mask", "logit", "output"])
def test_efficiency_and_prefix_sharing_on_nsnet2(nsnet_problem, target):
    features, baselines, tiles, weights = nsnet_problem
    model = MaskFromLogPower(load_nsnet2(16000), target)
    result = exact_shapley(model, features, baselines, tiles, weights)
    change = result.output_input - result.output_baseline
    assert abs(change) > 1.0
    assert result.efficiency_error <= 1e-5 * abs(change)
    if target != "mask":
        return  # the paths below do not depend on the target ("output" runs every coalition in full)

    class Plain(nn.Module):  # the same model, hidden from the prefix-sharing path: every coalition in full
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, log_power: torch.Tensor) -> torch.Tensor:
            return self.inner(log_power)

    complete = complete_tiles(tiles, features.shape)
    shared = coalition_values(model, features, baselines, complete, weights, batch_size=7)
    plain = coalition_values(Plain(), features, baselines, complete, weights)
    np.testing.assert_allclose(shared, plain, atol=1e-5 * abs(change))
    np.testing.assert_allclose(shapley_from_values(shared), result.values, atol=1e-5 * abs(change))
    # Tiles given in another order: the same values, permuted.
    order = np.array([5, 2, 0, 4, 1, 3])
    permuted = exact_shapley(
        model, features, baselines, Tiles(tiles.masks[order], tuple(np.array(tiles.names)[order])), weights
    )
    np.testing.assert_allclose(permuted.values, result.values[order], atol=1e-5 * abs(change))


def test_burst_effect_is_the_change_of_the_explained_output():
    shape = (3, 4)
    scale, weights = np.full(shape, 2.0), np.ones(shape)
    with_burst, without = np.ones(shape), np.zeros(shape)
    assert burst_effect(Additive(scale), with_burst, without, weights) == pytest.approx(24.0)
    with pytest.raises(ValueError, match="without_burst"):
        burst_effect(Additive(scale), with_burst, np.zeros((3, 5)), weights)


def test_bad_arguments_name_the_parameter():
    shape = (3, 7)
    features, baselines, weights = np.zeros(shape), np.zeros((1, *shape)), np.ones(shape)
    single_bins = np.eye(21, dtype=bool).reshape(21, *shape)
    with pytest.raises(ValueError, match="tiles: 21 tiles .* at most 20"):
        exact_shapley(Additive(np.ones(shape)), features, baselines, single_bins, weights)
    with pytest.raises(ValueError, match="tiles: masks .* must match"):
        exact_shapley(Additive(np.ones(shape)), features, baselines, single_bins[:2, :, :6], weights)
    with pytest.raises(ValueError, match="disjoint"):
        exact_shapley(Additive(np.ones(shape)), features, baselines, np.ones((2, *shape), dtype=bool), weights)
    with pytest.raises(ValueError, match="tiles: masks must be boolean"):
        exact_shapley(Additive(np.ones(shape)), features, baselines, np.ones((2, *shape)), weights)
    with pytest.raises(ValueError, match="baselines must be"):
        exact_shapley(Additive(np.ones(shape)), features, np.zeros(shape), single_bins[:2], weights)
    with pytest.raises(ValueError, match="weights"):
        exact_shapley(Additive(np.ones(shape)), features, baselines, single_bins[:2], np.ones((3, 6)))
    with pytest.raises(ValueError, match="f_edges_hz"):
        grid_tiles(CONFIG.frequencies_hz(), CONFIG.frame_times_s(5), [0, 4000], [0, 1])
