"""Shared fixtures (the bundled speech samples, a noisy version of one and a short attribution file of it) and the
markers of the suite's parts: ``browser`` (Chromium and JupyterLab), ``notebooks`` (notebooks run by papermill or
nbval), ``slow`` (a test module that runs for tens of seconds or more: Dask batches, every model's ports against
onnxruntime, the engines on real clips). ``-m "not slow and not notebooks and not browser"`` is the fast subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


MARKED_MODULES = {
    "browser": ("test_reports_browser",),
    "notebooks": ("test_model_notebooks", "test_faults", "test_execution", "test_readme", "test_user_model"),
    "slow": (
        "test_batch",
        "test_concurrency",
        "test_comparison",
        "test_generic_deeplift",
        "test_registry",
        "test_engine",
        "test_dtln",
        "test_gtcrn",
        "test_faithfulness",
        "test_feature_definitions",
        "test_explain_deeplift_rule",
        "test_store_maps",
        "test_on_demand",
        "test_explorer",
        "test_perturbation",
        "test_shapley",
    ),
}
"""Marker -> the test modules it applies to (whole modules: a part is chosen by what it needs, not test by test)."""


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test by its module (:data:`MARKED_MODULES`); nbval's notebook items are ``notebooks``."""
    for item in items:
        module = Path(str(item.fspath)).stem
        if item.fspath.ext == ".ipynb":
            item.add_marker("notebooks")
        for marker, modules in MARKED_MODULES.items():
            if module in modules:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def sample_paths() -> list[Path]:
    paths = sorted(SAMPLES.glob("*.wav"))
    assert len(paths) >= 4, f"expected the bundled speech samples in {SAMPLES}"
    return paths


@pytest.fixture()
def wav(sample_paths) -> Path:
    """The second bundled utterance (test_store_integrity and test_explain_deeplift_rule define their own)."""
    return sample_paths[1]


@pytest.fixture(scope="session")
def clean_speech(sample_paths) -> np.ndarray:
    """First bundled utterance, 16 kHz mono float32 [N]."""
    from xai_helpers.io.audio import load_audio

    return load_audio(sample_paths[0], 16000)


@pytest.fixture(scope="session")
def noisy_speech(clean_speech) -> np.ndarray:
    """The first utterance plus white noise at 5 dB SNR (seed 0), [N]."""
    rng = np.random.default_rng(0)
    noise = rng.normal(size=clean_speech.shape)
    noise *= np.sqrt(np.mean(clean_speech**2) / np.mean(noise**2) / 10 ** (5 / 10))
    return (clean_speech + noise).astype(np.float32)


@pytest.fixture(scope="session")
def explained(tmp_path_factory, sample_paths):
    """A 5-frame deepliftshap .h5 of the first bundled utterance (frames 50..54), and its folder; tests only
    read that folder."""
    from xai_helpers.attribution.explain import ExplainConfig, explain_file

    folder = tmp_path_factory.mktemp("attributions")
    config = ExplainConfig(method="deepliftshap", segment_start_s=0.5, segment_duration_s=0.05)
    result = explain_file(sample_paths[0], folder, config, progress=False)
    return sample_paths[0], folder, result.path


@pytest.fixture
def notebook_setup_undone():
    """For a test that calls ``setup_notebook()``: pandas' :data:`PANDAS_DISPLAY` options and the root logger's
    handlers and level are put back afterwards (the handlers it added are closed)."""
    import logging

    import pandas as pd

    from xai_helpers.run.notebook import PANDAS_DISPLAY

    options = {option: pd.get_option(option) for option in PANDAS_DISPLAY}
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for option, value in options.items():
        pd.set_option(option, value)
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def agreement_rows() -> list[dict]:
    """Hand-made long-form faithfulness rows (notebook 05's layout) of two methods and the three controls at
    0 and 20 dB: Spearman with the exact Shapley values good 0.8 / 0.6, poor 0.3 / 0.1, random 0.0 / 0.1,
    energy 0.9 / 0.9 (a control above the best method), flipped -0.8 / -0.6; the other metrics constant."""
    spearman = {
        "good": (0.8, 0.6),
        "poor": (0.3, 0.1),
        "random": (0.0, 0.1),
        "energy": (0.9, 0.9),
        "flipped": (-0.8, -0.6),
    }
    return [
        {"method": m, "metric": metric, "condition": f"level {level} dB", "value": value}
        for m, pair in spearman.items()
        for level, v in zip((0, 20), pair)
        for metric, value in (
            ("shapley_spearman", v),
            ("shapley_sign_agreement", 0.5),
            ("shapley_l1", 1.0),
            ("enrichment", 1.0),
        )
    ]
