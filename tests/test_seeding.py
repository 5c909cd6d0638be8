"""Same seed, same attributions: every method, with numpy's global generator disturbed in between."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from xai_helpers.attribution.captum_backend import attribute_targets
from xai_helpers.attribution.methods import MethodOptions
from xai_helpers.attribution.registry import METHODS
from xai_helpers.attribution.seeding import seeded
from xai_helpers.attribution.targets import ExplainedOutputs, bin_index
from xai_helpers.models.nsnet2 import load_nsnet2

N_FRAMES = 4


@pytest.fixture(scope="module")
def problem():
    model = load_nsnet2(16000)
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(model.n_bins, N_FRAMES, generator=generator) - 4.0
    baselines = torch.stack([torch.full_like(features, -12.0), features - 2.0])
    groups = torch.arange(model.n_bins)[:, None].div(41, rounding_mode="floor").expand(-1, N_FRAMES) * N_FRAMES
    groups = groups + torch.arange(N_FRAMES)[None]
    return ExplainedOutputs(model, "mask"), features, baselines, groups.contiguous()


def _run(problem, method: str, seed: int) -> np.ndarray:
    module, features, baselines, groups = problem
    spec = METHODS[method]
    mask = groups if spec.groups_only or method == "occlusion" else None
    k = 2 if method in ("deepliftshap", "gradientshap") else 1
    targets = [bin_index(20, N_FRAMES - 1, N_FRAMES), bin_index(100, 1, N_FRAMES)]
    options = MethodOptions(n_samples=6, seed=seed)
    return attribute_targets(
        module, features, baselines[:k], method, targets, feature_mask=mask, options=options
    ).values


@pytest.mark.parametrize("method", list(METHODS))
def test_same_seed_gives_identical_attributions(problem, method):
    runs = []
    for caller_seed in (1, 2):  # the caller's generators are in different states before each run
        np.random.seed(caller_seed)
        random.seed(caller_seed)
        torch.manual_seed(caller_seed)
        runs.append(_run(problem, method, seed=3))
    first, second = runs
    assert np.array_equal(first, second), f"{method}: two runs with seed 3 differ"


@pytest.mark.parametrize("method", ["gradientshap", "kernelshap", "lime"])
def test_another_seed_changes_random_methods(problem, method):
    assert not np.array_equal(_run(problem, method, seed=3), _run(problem, method, seed=4))


def test_seeded_restores_the_callers_generators():
    np.random.seed(7)
    random.seed(7)
    expected_numpy, expected_python = np.random.uniform(size=3), random.random()
    np.random.seed(7)
    random.seed(7)
    with seeded(99):
        np.random.uniform(size=1000)
        random.random()
    assert np.array_equal(np.random.uniform(size=3), expected_numpy)
    assert random.random() == expected_python


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_seeded_refuses_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        with seeded(seed):
            pass
