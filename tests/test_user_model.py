"""Bring your own model: a user's MaskModel, defined in this file and named by its import path, explained end to end
through notebook 02 with the complete DeepLIFT rule (the generic engine), and an op without a rule refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import papermill
import pytest
import torch
from torch import nn

from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.dsp.stft import StftConfig
from xai_helpers.models.base import MaskModel, check_device, output_log_power
from xai_helpers.models.nsnet2 import stft_config
from xai_helpers.store.reader import AttributionFile

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


class TinyGRUMask(MaskModel):
    """A user's enhancer: log power -> Linear -> GRU -> Linear -> sigmoid mask, on NSNet2's 16 kHz grid."""

    targets = ("mask", "logit", "output")
    latent_layers = {"gru": "gru_out"}

    def __init__(self, erf: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.n_bins, self.sample_rate, self.erf = 161, 16000, erf
        self.fc_in, self.gru, self.gru_out = nn.Linear(161, 16), nn.GRU(16, 16, batch_first=True), nn.Identity()
        self.fc_out, self.sigmoid = nn.Linear(16, 161), nn.Sigmoid()

    @classmethod
    def stft_config(cls, sample_rate: int) -> StftConfig:
        return stft_config(sample_rate)

    def latent_units(self, layer: str) -> int:
        return 16

    def explained(
        self, features: torch.Tensor, target: str = "mask", phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        hidden = torch.tanh(self.fc_in(features / 6.0))
        hidden = self.gru_out(self.gru(torch.erf(hidden) if self.erf else hidden)[0])
        logit = self.fc_out(hidden)
        if target == "logit":
            return logit
        mask = self.sigmoid(logit)
        return mask if target == "mask" else output_log_power(features, mask * mask)


def load(sample_rate: int = 16000, device: str = "cpu") -> TinyGRUMask:
    """The loader the import path ``test_user_model:load`` names."""
    return TinyGRUMask().eval().to(check_device(device))


def load_with_erf(sample_rate: int = 16000, device: str = "cpu") -> TinyGRUMask:
    """The same model with ``torch.erf``, which has no DeepLIFT rule."""
    return TinyGRUMask(erf=True).eval().to(check_device(device))


def test_a_user_model_is_explained_through_notebook_02(tmp_path, monkeypatch, sample_paths):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # the notebook's kernel imports this file by name
    shutil.copy(sample_paths[0], tmp_path / "a.wav")
    papermill.execute_notebook(
        str(NOTEBOOKS / "02_attributions.ipynb"),
        str(tmp_path / "02.ipynb"),
        cwd=str(NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
        parameters=dict(
            input_path=str(tmp_path / "a.wav"),
            output_dir=str(tmp_path / "out"),
            model="test_user_model:load",
            method="deepliftshap",
            segment_start_s=0.5,
            segment_duration_s=0.1,
            whole_files=0,
        ),
    )
    (stored_path,) = (tmp_path / "out").glob("a__deepliftshap_complete_*test_user_model-load.h5")
    with AttributionFile(stored_path) as stored:
        assert stored.model == "test_user_model:load" and stored.deeplift_rule == "complete"
        assert stored.shape(stored.datasets[0]) == (161, 10, 161, 10)
        change = stored.mask - np.asarray(stored["explained_output"])
        assert np.abs(change).max() == 0  # the mask is what was explained
        assert np.abs(stored.deltas).max() < 1e-4  # complete: every output bin's map adds up


def test_an_op_without_a_rule_is_refused_by_name(tmp_path, monkeypatch, wav):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    config = ExplainConfig(
        model="test_user_model:load_with_erf", method="deeplift", segment_start_s=0.5, segment_duration_s=0.05
    )
    with pytest.raises(ValueError, match="erf"):
        explain_file(wav, tmp_path, config, progress=False)
    assert not list(tmp_path.glob("*.h5"))  # nothing that looks complete is left
