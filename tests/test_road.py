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


def test_road_removal_in_deletion_curves_imputes_seeded_and_differs_from_baseline():
    """Deletion with ``removal="road"`` runs the model on the ROAD-imputed input (recomputed here), is
    reproducible for a seed, changes with the seed, and differs from baseline replacement."""
    from xai_helpers.experiments.curves import deletion_insertion_curves
    from xai_helpers.experiments.ranking import count_for_fraction, rank_order
    from xai_helpers.models.base import predict_mask
    from xai_helpers.models.nsnet2 import load_nsnet2

    model = load_nsnet2(16000)
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(161, 12)) - 3.0).astype(np.float32)
    b = np.full_like(x, -12.0)
    scores = rng.normal(size=x.shape)
    fractions = (0.0, 0.2, 1.0)

    def curves(removal, seed):
        return deletion_insertion_curves(model, x, b, scores, fractions, orders=("top",), seed=seed, removal=removal)

    road, again, other, baseline = curves("road", 0), curves("road", 0), curves("road", 1), curves("baseline", 0)
    np.testing.assert_array_equal(road["deletion"], again["deletion"])
    middle = road["fraction"] == 0.2
    assert float(road.loc[middle, "deletion"].iloc[0]) != float(other.loc[middle, "deletion"].iloc[0])
    assert abs(float(road.loc[middle, "deletion"].iloc[0]) - float(baseline.loc[middle, "deletion"].iloc[0])) > 1e-3
    # the value at 0.2: the top-ranked bins imputed by road_impute with the curve's seed for (run 0, fraction 1)
    removed = np.zeros(x.size, dtype=bool)
    removed[rank_order(scores, "top", None)[: count_for_fraction(0.2, x.size)]] = True
    seed = int(np.random.SeedSequence([0, 0, 1]).generate_state(1)[0])
    imputed = road_impute(x, removed.reshape(x.shape), seed=seed).astype(np.float32)
    expected = np.mean(np.abs(predict_mask(imputed, model) - predict_mask(x, model)))
    assert float(road.loc[middle, "deletion"].iloc[0]) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="removal"):
        curves("zero", 0)
