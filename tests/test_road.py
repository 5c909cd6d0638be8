"""ROAD noisy linear imputation: exact on a linear ramp inside the plane, seeded noise, errors."""

from __future__ import annotations

import numpy as np
import pytest

from xai_helpers.experiments.road import road_impute


def ramp() -> np.ndarray:
    f, t = np.meshgrid(np.arange(20.0), np.arange(15.0), indexing="ij")
    return 0.3 * f - 0.2 * t + 1.0


def interior_removal() -> np.ndarray:
    removed = np.zeros((20, 15), dtype=bool)
    removed[4:12, 3:9] = True  # a block
    removed[15, 12] = removed[17, 2] = True  # isolated bins
    return removed


def test_linear_ramp_is_imputed_exactly_inside_the_plane():
    features, removed = ramp(), interior_removal()
    corrupted = np.where(removed, -12.0, features)
    np.testing.assert_allclose(road_impute(corrupted, removed, noise_std=0.0), features, atol=1e-10)


def test_imputed_values_are_weighted_means_of_their_neighbours_at_the_edges_too():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 5))
    removed = np.zeros((6, 5), dtype=bool)
    removed[0, 0] = removed[0, 1] = removed[5, 4] = True
    out = road_impute(features, removed, noise_std=0.0)
    np.testing.assert_array_equal(out[~removed], features[~removed])
    # corner (0, 0): neighbours (1, 0) and (0, 1) at 1/6, (1, 1) at 1/12
    assert out[0, 0] == pytest.approx((out[1, 0] / 6 + out[0, 1] / 6 + out[1, 1] / 12) / (5 / 12))


def test_noise_is_seeded_and_has_the_asked_spread():
    features, removed = ramp(), interior_removal()
    clean = road_impute(features, removed, noise_std=0.0)
    first = road_impute(features, removed, noise_std=0.5, seed=7)
    np.testing.assert_array_equal(first, road_impute(features, removed, noise_std=0.5, seed=7))
    assert not np.array_equal(first, road_impute(features, removed, noise_std=0.5, seed=8))
    np.testing.assert_array_equal(first[~removed], features[~removed])
    assert np.std(first[removed] - clean[removed]) == pytest.approx(0.5, rel=0.2)


def test_bad_arguments():
    features = ramp()
    with pytest.raises(ValueError, match="removed must be a boolean mask"):
        road_impute(features, np.zeros((20, 14), dtype=bool))
    with pytest.raises(ValueError, match="removed must be a boolean mask"):
        road_impute(features, np.zeros((20, 15)))
    with pytest.raises(ValueError, match="every bin"):
        road_impute(features, np.ones((20, 15), dtype=bool))
    with pytest.raises(ValueError, match="noise_std"):
        road_impute(features, interior_removal(), noise_std=-1.0)
