"""Notebooks 01-06 run end to end under papermill on DTLN and GTCRN (nbval runs them on NSNet2, their default).

One small chain per model, on one bundled file: 01 writes the noisy corpus, 02 explains a 0.1 s segment, 03 plots
it, 04 perturbs it, 05 runs a one-level burst benchmark, 06 a one-seed feature study. Each chain checks that the
outputs name the model (file tags, ``.h5`` attributes, tables) and that nothing of another model is read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pandas as pd
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run(number: str, work: Path, **parameters) -> Path:
    """Execute notebook ``number`` with ``parameters`` into ``work``; papermill raises on a failing cell."""
    notebook = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    executed = work / notebook.name
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        cwd=str(NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
    )
    return executed


@pytest.mark.parametrize("model", ["dtln", "gtcrn"])
def test_notebooks_01_to_06_run_on_the_model(model, tmp_path, sample_paths):
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(sample_paths[0], clean)
    segment = dict(segment_start_s=0.5, segment_duration_s=0.1)
    run("01", tmp_path, input_path=str(clean), output_dir=str(tmp_path / "noisy"), model=model, **segment)
    quality = pd.read_csv(tmp_path / "noisy" / "enhancement_quality.csv")
    assert list(quality["model"]) == [model] and quality["PESQ enhanced"].notna().all()

    # NSNet2's attributions of the same file sit in the folder too: notebooks 03 and 04 must leave them alone.
    for other, rule in (("nsnet2", "complete"), (model, "captum")):
        run(
            "02",
            tmp_path,
            input_path=str(tmp_path / "noisy"),
            output_dir=str(tmp_path / "attributions"),
            model=other,
            method="deeplift",
            deeplift_rule=rule,
            whole_files=0,
            **segment,
        )
    (h5,) = [path for path in (tmp_path / "attributions").glob("*.h5") if path.stem.endswith(f"_{model}")]
    with h5py.File(h5, "r") as stored:
        assert stored.attrs["model"] == model and len(str(stored.attrs["model_sha256"])) >= 64
        assert json.loads(stored.attrs["request"])["model"] == model
        assert stored["input_phase"].shape == stored["input_features"].shape
    run(
        "03",
        tmp_path,
        input_path=str(tmp_path / "noisy"),
        attributions_dir=str(tmp_path / "attributions"),
        method="deeplift",
        model=model,
        output_dir=str(tmp_path / "figures"),
    )
    figures = sorted(path.name for path in (tmp_path / "figures").glob("harvard*.png"))  # per file, not bands_*
    assert figures and all(name.startswith(h5.stem) for name in figures)  # none of NSNet2's file
    run(
        "04",
        tmp_path,
        input_path=str(tmp_path / "noisy"),
        attributions_dir=str(tmp_path / "attributions"),
        method="deeplift",
        model=model,
        n_random=1,
        output_dir=str(tmp_path / "perturbation"),
    )
    assert any((tmp_path / "perturbation").glob("*_top_*enhanced.wav"))

    run(
        "05",
        tmp_path,
        input_path=str(clean),
        n_files=1,
        model=model,
        methods=["deeplift_captum", "saliency"],
        levels_db=[20.0],
        shapley_spans=1,
        n_samples=2,
        output_dir=str(tmp_path / "faithfulness"),
    )
    run(
        "06",
        tmp_path,
        input_path=str(clean),
        n_files=1,
        noise_seeds=[0],
        model=model,
        bin_methods=["saliency"],
        region_methods=["shapley"],
        latent_methods=["integratedgradients"],
        n_samples=2,
        output_dir=str(tmp_path / "features"),
    )
    executed = (tmp_path / "06_feature_definitions.ipynb").read_text()
    assert f"{model}: 1 file(s)" in executed
