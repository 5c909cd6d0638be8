"""store="maps" | "full": stored maps against the stored 4-D tensor of the same run, single bins on demand,
size linear in duration, notebooks 03/04 on maps-only files, and the cuDNN-off Captum path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.test_maps import assert_close, reference_maps
from xai_helpers.attribution import captum_backend
from xai_helpers.attribution.captum_backend import attribute_targets
from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.attribution.maps import MAP_DIMS
from xai_helpers.attribution.on_demand import bin_map, recompute_bin_map
from xai_helpers.attribution.targets import ExplainedOutputs
from xai_helpers.experiments.ranking import global_sums
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.plots.files import plot_file
from xai_helpers.store.reader import AttributionFile

SEGMENT = {"segment_start_s": 0.5, "segment_duration_s": 0.1}


def explain(wav, directory, **fields):
    return explain_file(wav, directory, ExplainConfig(**{**SEGMENT, **fields}), progress=False).path


@pytest.mark.parametrize("method,backend", [("deepliftshap", "engine"), ("saliency", "engine"), ("saliency", "captum")])
def test_stored_maps_equal_the_stored_tensor_of_the_same_run(tmp_path, wav, method, backend):
    full = explain(wav, tmp_path, method=method, backend=backend, store="full")
    maps_only = explain(wav, tmp_path, method=method, backend=backend, store="maps")
    assert full != maps_only
    with AttributionFile(full) as a, AttributionFile(maps_only) as b:
        assert a.has_full and a.has_maps and not b.has_full and b.has_maps
        assert a.store_mode == "full" and b.store_mode == "maps" and b.layout == "all_bins"
        assert "attributions" not in b and set(b.maps) == set(MAP_DIMS)
        assert b.dims("maps/time_abs") == ("t_out", "t_in")
        expected = reference_maps(a.read_attributions())
        for name in MAP_DIMS:
            assert_close(a.maps[name], expected[name], name)
            assert_close(b.maps[name], expected[name], name)
        if a.deltas is not None:  # maps mode sums each output bin tile by tile: the same deltas up to float32 rounding
            np.testing.assert_allclose(a.deltas, b.deltas, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["deepliftshap", "deeplift", "saliency", "inputxgradient"])
def test_on_demand_bin_map_equals_the_stored_slice(tmp_path, wav, method):
    full = explain(
        wav,
        tmp_path,
        method=method,
        store="full",
        baseline="shuffled" if method == "deepliftshap" else "zero",
        n_baselines=2 if method == "deepliftshap" else 1,
    )
    with AttributionFile(full) as stored:
        for f_out, t_out in [(0, 0), (40, 5), (160, 9)]:
            expected = stored.read_attributions((f_out, t_out))
            actual = recompute_bin_map(stored, f_out, t_out)
            assert np.abs(actual - expected).max() <= 1e-5 * np.abs(expected).max()
            assert np.all(actual[:, t_out + 1 :] == 0)


def test_maps_file_recomputes_bins_and_feeds_notebooks_03_and_04(tmp_path, wav):
    full = explain(wav, tmp_path, method="deepliftshap", store="full")
    maps_only = explain(wav, tmp_path, method="deepliftshap", store="maps")
    with AttributionFile(full) as a, AttributionFile(maps_only) as b:
        np.testing.assert_allclose(
            bin_map(b, 30, 7),
            a.read_attributions((30, 7)),
            rtol=0,
            atol=1e-5 * np.abs(a.read_attributions((30, 7))).max(),
        )
        for x, y in zip(global_sums(a), global_sums(b)):
            assert_close(y, x, "global sums")
    figures_full, figures_maps = plot_file(full), plot_file(maps_only)
    assert list(figures_full) == list(figures_maps)
    assert figures_maps["output_bin_map"].get_suptitle() == figures_full["output_bin_map"].get_suptitle()


def test_maps_file_grows_linearly_with_duration(tmp_path, wav):
    sizes = {}
    for seconds in (0.4, 0.8):
        path = explain(wav, tmp_path, method="saliency", store="maps", segment_start_s=0.2, segment_duration_s=seconds)
        sizes[seconds] = path.stat().st_size
    ratio = sizes[0.8] / sizes[0.4]
    # The 4-D tensor would grow 4x; the maps are [f, t] (and a few [t, t] ones, small at these lengths).
    assert 1.3 < ratio < 2.3, sizes


def test_store_choice_is_checked_and_auto_resolves():
    assert ExplainConfig(segment_duration_s=None).store_mode() == "maps"
    assert ExplainConfig(segment_duration_s=0.2).store_mode() == "full"
    assert ExplainConfig(segment_duration_s=None, outputs="bin", output_bin=(1000, 0.1)).store_mode() == "full"
    assert ExplainConfig(store="maps").file_tag().endswith("_maps")
    with pytest.raises(ValueError, match="store='maps' needs outputs='all_bins'"):
        ExplainConfig(store="maps", outputs="bin", output_bin=(1000, 0.1))
    with pytest.raises(ValueError, match="store: unknown 'dense'"):
        ExplainConfig(store="dense")


def test_on_demand_refuses_methods_without_engine(tmp_path, wav):
    path = explain(wav, tmp_path, method="gradientshap", store="maps", n_samples=2, segment_duration_s=0.03)
    with AttributionFile(path) as stored, pytest.raises(ValueError, match="no engine to recompute single bins"):
        bin_map(stored, 0, 0)


def _captum_integrated_gradients(device: str) -> np.ndarray:
    model = load_nsnet2(16000, device=device)
    features = torch.linspace(-6, 1, 161 * 4, device=device).reshape(161, 4)
    module = ExplainedOutputs(model, "mask")
    baselines = torch.full((1, 161, 4), -12.0, device=device)
    return attribute_targets(module, features, baselines, "integratedgradients", [0, 500]).values


def test_captum_calls_run_without_cudnn(monkeypatch):
    seen = []
    original = captum_backend.method_spec

    def spying_spec(*args, **kwargs):
        spec = original(*args, **kwargs)
        run = spec.run

        def recording(*a, **k):
            seen.append(torch.backends.cudnn.enabled)
            return run(*a, **k)

        return dataclasses.replace(spec, run=recording)

    monkeypatch.setattr(captum_backend, "method_spec", spying_spec)
    values = _captum_integrated_gradients("cpu")
    assert values.shape == (2, 161, 4) and np.isfinite(values).all()
    assert seen == [False] and torch.backends.cudnn.enabled


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_captum_methods_run_on_cuda_and_agree_with_the_cpu():
    np.testing.assert_allclose(
        _captum_integrated_gradients("cuda"), _captum_integrated_gradients("cpu"), rtol=1e-3, atol=1e-6
    )
