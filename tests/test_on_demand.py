"""Single output bins on demand: the row-vector sweep (engine/single.py) against the engine's weighted
sweep, and BinMaps (one forward pass per file) against the stored 4-D tensor of the same run."""

from __future__ import annotations

import re

import numpy as np
import pytest

from xai_helpers.attribution.engine import weighted_output_attributions
from xai_helpers.attribution.engine.single import BinSweeper
from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.attribution.on_demand import BinMaps
from xai_helpers.models.cache import cached_model
from xai_helpers.store.reader import AttributionFile

BINS = [(0, 0), (40, 11), (160, 5), (100, 11)]


@pytest.fixture(scope="module")
def clip():
    """Speech-like log-power features [161, 12] and two baselines [2, 161, 12] (random, fixed seed)."""
    rng = np.random.default_rng(3)
    features = (rng.normal(-3.0, 1.5, (161, 12))).astype(np.float32)
    baselines = (rng.normal(-5.0, 1.0, (2, 161, 12))).astype(np.float32)
    return features, baselines


@pytest.mark.parametrize(
    "method,rule,k,target",
    [
        ("deeplift", "complete", 1, "mask"),
        ("deepliftshap", "complete", 2, "mask"),
        ("deepliftshap", "captum", 2, "mask"),
        ("deeplift", "complete", 1, "logit"),
        ("saliency", "complete", 0, "mask"),
        ("inputxgradient", "complete", 0, "mask"),
    ],
)
def test_sweeper_equals_the_engines_weighted_sweep(clip, method, rule, k, target):
    features, baselines = clip
    model = cached_model(16000, "cpu")
    b = baselines[:k] if k else None
    sweeper = BinSweeper(model, features, b, method, target, rule)
    weights = np.zeros((len(BINS),) + features.shape, np.float32)
    for m, (f, t) in enumerate(BINS):
        weights[m, f, t] = 1.0
    expected, _ = weighted_output_attributions(model, features, b, method, weights, target, rule)
    together = sweeper.bin_maps(BINS)
    for m, (f, t) in enumerate(BINS):
        scale = np.abs(expected[m]).max()
        assert scale > 0
        np.testing.assert_allclose(sweeper.bin_map(f, t), expected[m], rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(together[m], expected[m], rtol=0, atol=1e-5 * scale)
        assert np.all(together[m][:, t + 1 :] == 0)
    with pytest.raises(IndexError, match=r"output bin \(161, 0\) outside"):
        sweeper.bin_map(161, 0)
    with pytest.raises(ValueError, match="at least one"):
        sweeper.bin_maps([])


def test_bin_maps_of_a_maps_file_equal_the_full_files_slices(tmp_path, sample_paths):
    config = dict(
        segment_start_s=0.5, segment_duration_s=0.12, method="deepliftshap", baseline="shuffled", n_baselines=2
    )
    full = explain_file(sample_paths[1], tmp_path, ExplainConfig(store="full", **config), progress=False).path
    maps_only = explain_file(sample_paths[1], tmp_path, ExplainConfig(store="maps", **config), progress=False).path
    recomputed, stored = BinMaps(maps_only), BinMaps(full)
    assert not recomputed.has_full and stored.has_full
    with AttributionFile(full) as a:
        for f, t in BINS:
            expected = a.read_attributions((f, t))
            np.testing.assert_array_equal(stored.bin_map(f, t), expected)
            np.testing.assert_allclose(recomputed.bin_map(f, t), expected, rtol=0, atol=1e-5 * np.abs(expected).max())
        several = recomputed.bin_maps(BINS)
        assert several.shape == (len(BINS),) + a.input_features.shape
        for m, pair in enumerate(BINS):
            np.testing.assert_allclose(
                several[m], a.read_attributions(pair), rtol=0, atol=1e-5 * np.abs(several[m]).max()
            )
    with pytest.raises(IndexError, match=re.escape(maps_only.name)):
        recomputed.bin_map(0, 12)
