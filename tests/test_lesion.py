"""The lesioned models: blind to their band, checked by perturbation for each model (the intact model reacts to the
same perturbation, so the check can fail), and the false-positive share of a map on hand-made values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_helpers.models.lesion import band_bins, lesion_change, lesion_false_positive_share, lesioned_model
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.models.nsnet2 import stft_config


@pytest.fixture(scope="module")
def models():
    model = load_nsnet2(16000)
    return model, lesioned_model(model)


@pytest.fixture(scope="module")
def features(noisy_speech) -> np.ndarray:
    return log_power(stft(noisy_speech[8000 : 8000 + 30 * 160], stft_config(16000))).astype(np.float32)


def test_band_bins_and_weights(models):
    model, lesioned = models
    bins = band_bins(stft_config(16000))
    freqs = stft_config(16000).frequencies_hz()
    assert freqs[bins].min() >= 2500 and freqs[bins].max() < 3500 and bins.sum() == 20  # 50 Hz bins
    assert (lesioned.fc_in.weight[:, torch.as_tensor(bins)] == 0).all()
    assert torch.equal(lesioned.fc_in.weight[:, torch.as_tensor(~bins)], model.fc_in.weight[:, torch.as_tensor(~bins)])
    assert (model.fc_in.weight[:, torch.as_tensor(bins)] != 0).any()  # the original is untouched
    with pytest.raises(ValueError, match="band_hz"):
        band_bins(stft_config(16000), (3000.0, 2000.0))


@pytest.mark.parametrize("name", ["dtln", "gtcrn"])
def test_each_models_lesion_makes_its_mask_blind_to_the_band(name, noisy_speech):
    from xai_helpers.models.registry import load_model

    model = load_model(name)
    spectrum = stft(noisy_speech[8000 : 8000 + 4800], model.stft_config(16000))
    features, phase = log_power(spectrum).astype(np.float32), np.angle(spectrum)
    bins = band_bins(model.stft_config(16000))
    lesioned = lesioned_model(model)
    assert lesioned.lesioned_band_hz == (2500.0, 3500.0) and bins.sum() == 32  # 31.25 Hz bins
    assert lesion_change(lesioned, features, bins, phase=phase) < 1e-5
    assert lesion_change(model, features, bins, phase=phase) > 1e-3  # the intact model reacts: the check can fail
    with pytest.raises(ValueError, match="boolean"):
        model.lesioned(np.zeros(model.n_bins, dtype=bool))


def test_lesioned_output_does_not_change_when_the_band_changes(models, features):
    model, lesioned = models
    bins = band_bins(stft_config(16000))
    assert lesion_change(lesioned, features, bins, seed=0) < 1e-6  # float round-off of the batched products only
    assert lesion_change(model, features, bins, seed=0) > 1e-3  # the check can fail: the intact model reacts


def test_false_positive_share():
    attribution = np.zeros((4, 3))
    attribution[1] = [1.0, -1.0, 2.0]
    attribution[3] = [-4.0, 0.0, 0.0]
    bins = np.array([False, True, False, False])
    assert lesion_false_positive_share(attribution, bins) == pytest.approx(0.5)
    assert lesion_false_positive_share(attribution, np.broadcast_to(bins[:, None], (4, 3))) == pytest.approx(0.5)
    assert np.isnan(lesion_false_positive_share(np.zeros((4, 3)), bins))
    with pytest.raises(ValueError, match="bins must be boolean"):
        lesion_false_positive_share(attribution, bins[:3])
