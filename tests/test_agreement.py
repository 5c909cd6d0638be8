"""Agreement of maps with exact Shapley values, and the controls."""

from __future__ import annotations

import numpy as np
import pytest

from xai_helpers.experiments.agreement import CONTROLS, METRICS, control_map, energy_map, shapley_agreement, tile_sums
from xai_helpers.experiments.shapley import Tiles

SHAPE = (4, 6)


@pytest.fixture
def tiles() -> Tiles:
    labels = np.repeat(np.arange(6)[None], 4, axis=0)  # one tile per frame
    return Tiles(np.stack([labels == k for k in range(6)]), tuple(f"frame {k}" for k in range(6)))


PHI = np.array([3.0, -1.0, 0.5, 2.0, -0.25, 1.5])


def spread(values: np.ndarray, tiles: Tiles) -> np.ndarray:
    """A map [F, T] whose tile sums are ``values``, unevenly spread over each tile's bins."""
    uneven = np.linspace(1.0, 2.0, SHAPE[0])[:, None] * np.ones(SHAPE)
    share = uneven / np.einsum("kft,ft->k", tiles.masks, uneven)[:, None, None]
    return np.einsum("k,kft->ft", values, tiles.masks * share)


def test_tile_sums_of_a_map_and_of_tile_values(tiles):
    np.testing.assert_allclose(tile_sums(spread(PHI, tiles), tiles), PHI)
    np.testing.assert_allclose(tile_sums(PHI, tiles), PHI)
    with pytest.raises(ValueError, match="attribution must be"):
        tile_sums(np.ones((4, 5)), tiles)


def test_the_exact_values_agree_perfectly_and_a_rescaled_map_too(tiles):
    for scale in (1.0, 7.0):
        scores = shapley_agreement(spread(scale * PHI, tiles), PHI, tiles)
        assert set(scores) == set(METRICS)
        assert scores["shapley_spearman"] == pytest.approx(1.0) and scores["shapley_pearson"] == pytest.approx(1.0)
        assert scores["shapley_sign_agreement"] == 1.0 and scores["shapley_top3"] == 1.0
        assert scores["shapley_l1"] == pytest.approx(0.0, abs=1e-12)


def test_flipped_control_negates_the_correlations_and_comes_out_worst(tiles):
    rng = np.random.default_rng(0)
    method = spread(PHI + rng.normal(scale=0.8, size=6), tiles)
    original = shapley_agreement(method, PHI, tiles)
    flipped = shapley_agreement(control_map("flipped", np.zeros(SHAPE), 0, reference=method), PHI, tiles)
    assert flipped["shapley_spearman"] == pytest.approx(-original["shapley_spearman"])
    assert flipped["shapley_pearson"] == pytest.approx(-original["shapley_pearson"])
    assert flipped["shapley_sign_agreement"] == pytest.approx(1 - original["shapley_sign_agreement"])
    assert flipped["shapley_l1"] > original["shapley_l1"]
    assert shapley_agreement(-spread(PHI, tiles), PHI, tiles)["shapley_l1"] == pytest.approx(2.0)


def test_top3_follows_the_direction_of_the_total_change(tiles):
    # The output fell (sum phi < 0): the top tiles are the most negative ones.
    phi = -PHI
    sums = np.array([-3.0, 0.0, 0.0, -2.0, 0.0, 5.0])  # tiles 0 and 3 right, tile 5 wrong (5 pushes up)
    assert shapley_agreement(sums, phi, tiles)["shapley_top3"] == pytest.approx(2 / 3)


def test_sign_agreement_weights_tiles_by_their_shapley_mass(tiles):
    sums = np.sign(PHI)
    sums[4] *= -1  # the smallest tile's sign wrong: 0.25 of 8.25
    assert shapley_agreement(sums, PHI, tiles)["shapley_sign_agreement"] == pytest.approx(1 - 0.25 / 8.25)


def test_controls():
    features = np.arange(12.0).reshape(3, 4)[:, ::-1]
    np.testing.assert_array_equal(energy_map(features), features + 1)
    first, again = control_map("random", features, 3), control_map("random", features, 3)
    np.testing.assert_array_equal(first, again)
    assert (first < 0).any() and (first > 0).any()
    assert not np.array_equal(first, control_map("random", features, 4))
    with pytest.raises(ValueError, match="control: unknown 'loud'"):
        control_map("loud", features, 0)
    with pytest.raises(ValueError, match="'flipped' needs the reference"):
        control_map("flipped", features, 0)
    assert CONTROLS == ("random", "energy", "flipped")


def test_bad_phi_is_refused(tiles):
    with pytest.raises(ValueError, match="phi must hold one value per tile"):
        shapley_agreement(PHI, PHI[:5], tiles)
    with pytest.raises(ValueError, match="phi is all zero"):
        shapley_agreement(PHI, np.zeros(6), tiles)
