"""Notebook 04's causal test: ranking and selection, exact STFT-domain gains, the resynthesised
WAV, deletion/insertion curves and their areas on the real model, and one whole file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from xai_helpers.models.cache import cached_model
from xai_helpers.io.audio import load_audio, write_audio
from xai_helpers.models.base import predict_mask
from xai_helpers.attribution.explain import ExplainConfig, explain_file
from xai_helpers.experiments.curves import area_under_curve, curve_areas, deletion_insertion_curves
from xai_helpers.experiments.perturbation import (
    PerturbationSettings,
    amplified_name,
    amplify_bins,
    perturb_file,
    resynthesise,
    segment_features,
    summary_rows,
    write_summary,
)
from xai_helpers.experiments.ranking import count_for_fraction, derived_seeds, rank_bins, select_bins
from xai_helpers.plots.perturbation import plot_curves, plot_mask_change, plot_selection
from xai_helpers.dsp.stft import stft
from xai_helpers.models.nsnet2 import stft_config
from xai_helpers.store.reader import AttributionFile

F, T = 12, 10  # 120 bins


@pytest.fixture(scope="module")
def model():
    return cached_model(16000)


# ------------------------------------------------------------------ ranking and selection


def test_rank_bins_signed_and_abs():
    a = np.zeros((2, 3, F, T))
    a[0, 0, 4, 5], a[1, 2, 4, 5] = 0.5, -0.25  # one input bin, two outputs, opposite signs
    a[1, 1, 7, 2] = -1.0
    np.testing.assert_allclose(rank_bins(a, "signed")[4, 5], 0.25)
    np.testing.assert_allclose(rank_bins(a, "abs")[4, 5], 0.75)
    assert rank_bins(a, "signed")[7, 2] == -1.0 and rank_bins(a, "abs")[7, 2] == 1.0
    assert rank_bins(a, "signed").shape == (F, T)
    with pytest.raises(ValueError, match="ranking"):
        rank_bins(a, "absolute")


def test_top_and_flop_pick_the_extreme_scores_and_the_requested_count():
    scores = np.random.default_rng(3).permutation(F * T).reshape(F, T).astype(float)  # distinct 0..119
    for percent, count in ((10.0, 12), (2.5, 3), (50.0, 60), (0.4, 0), (1.25, 2)):  # 1.5 bins rounds half up to 2
        assert count_for_fraction(percent / 100, F * T) == count
        top = select_bins(scores, percent, "top")
        flop = select_bins(scores, percent, "flop")
        assert top.dtype == bool and top.shape == (F, T)
        assert top.sum() == count and flop.sum() == count
        np.testing.assert_array_equal(np.sort(scores[top]), np.arange(F * T - count, F * T))
        np.testing.assert_array_equal(np.sort(scores[flop]), np.arange(count))


def test_ties_are_broken_by_flat_index():
    scores = np.zeros((F, T))
    scores[5, 5] = 1.0
    top = select_bins(scores, 10.0, "top")  # 12 bins: the 1.0, then the first 11 zeros in f-major order
    assert top[5, 5] and top.ravel()[:11].all() and top.sum() == 12
    flop = select_bins(scores, 10.0, "flop")
    assert flop.ravel()[:12].all() and not flop[5, 5]


def test_random_selection_same_count_and_reproducible():
    scores = np.random.default_rng(0).normal(size=(F, T))
    first = select_bins(scores, 10.0, "random", seed=7)
    assert first.sum() == select_bins(scores, 10.0, "top").sum() == 12
    np.testing.assert_array_equal(first, select_bins(scores, 10.0, "random", seed=7))
    assert not np.array_equal(first, select_bins(scores, 10.0, "random", seed=8))
    seeds = derived_seeds(0, 5)
    assert len(set(seeds)) == 5 and seeds == derived_seeds(0, 5) and seeds != derived_seeds(1, 5)


# ------------------------------------------------------------------ gains


def test_amplify_bins_gain_is_exact():
    rng = np.random.default_rng(1)
    spectrum = rng.normal(size=(F, 30)) + 1j * rng.normal(size=(F, 30))
    selection = select_bins(rng.normal(size=(F, T)), 20.0, "top")
    out = amplify_bins(spectrum, selection, 6.0, first_frame=8)
    ratio = np.abs(out) / np.abs(spectrum)
    inside = np.zeros(spectrum.shape, dtype=bool)
    inside[:, 8:18] = selection
    np.testing.assert_allclose(ratio[inside], 10 ** (6.0 / 20), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ratio[~inside], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.angle(out), np.angle(spectrum), atol=1e-12)  # phases kept
    assert inside.sum() == 24
    with pytest.raises(ValueError, match="outside"):
        amplify_bins(spectrum, selection, 6.0, first_frame=25)


def test_resynthesised_wav_has_the_gain_on_the_selected_bins(clean_speech, tmp_path):
    config = stft_config(16000)
    first, n_frames, gain_db = 50, 30, 6.0
    selection = np.zeros((config.n_bins, n_frames), dtype=bool)
    selection[20:60, 5:25] = True  # a block: its interior is far from unamplified neighbours
    wave = resynthesise(clean_speech, config, selection, gain_db, first)
    assert wave.shape == clean_speech.shape
    path = write_audio(tmp_path / "amplified.wav", wave, 16000)
    reread = load_audio(path, 16000)
    before = np.abs(stft(clean_speech, config)[:, first : first + n_frames]) ** 2
    after = np.abs(stft(reread, config)[:, first : first + n_frames]) ** 2
    ratio_db = 10 * np.log10(after / before)
    interior = ratio_db[23:57, 7:23]
    assert abs(np.mean(interior) - gain_db) < 1.0
    assert abs(np.median(interior) - gain_db) < 0.5
    far = ratio_db[80:, :]  # bins well away from the block: untouched
    assert abs(np.mean(far)) < 0.5


# ------------------------------------------------------------------ curves


def test_deletion_insertion_end_points_on_the_real_model(model, clean_speech):
    config = stft_config(16000)
    x = segment_features(clean_speech, config, 50, 4)
    b = np.full_like(x, -12.0)
    scores = np.random.default_rng(0).normal(size=x.shape)
    fractions = (0.0, 0.1, 0.5, 1.0)
    curves = deletion_insertion_curves(model, x, b, scores, fractions, n_random=2, seed=0)
    assert set(curves["order"]) == {"top", "flop", "random"} and len(curves) == 4 * 4
    full = float(np.mean(np.abs(predict_mask(b, model) - predict_mask(x, model))))
    assert full > 0.01
    start, end = curves[curves.fraction == 0.0], curves[curves.fraction == 1.0]
    assert (start["deletion"] == 0.0).all() and (end["insertion"] == 0.0).all()
    np.testing.assert_allclose(end["deletion"], full, rtol=1e-5)
    np.testing.assert_allclose(start["insertion"], full, rtol=1e-5)
    assert (curves[curves.fraction == 0.1]["n_bins"] == round(0.1 * x.size)).all()
    # An intermediate point by hand: delete the top 10 % bins.
    keep = select_bins(scores, 10.0, "top")
    deleted = np.where(keep, b, x)
    expected = float(np.mean(np.abs(predict_mask(deleted, model) - predict_mask(x, model))))
    got = curves[(curves.order == "top") & (curves.fraction == 0.1)]["deletion"].item()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_areas_on_a_hand_made_curve():
    assert area_under_curve([0.0, 0.5, 1.0], [0.0, 1.0, 1.0]) == pytest.approx(0.75)
    assert area_under_curve([0.0, 0.25, 1.0], [1.0, 1.0, 0.0]) == pytest.approx(0.625)
    with pytest.raises(ValueError, match="from 0 to 1"):
        area_under_curve([0.1, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="increase"):
        area_under_curve([0.0, 0.5, 0.5, 1.0], [0, 1, 1, 1])
    curves = pd.DataFrame(
        {
            "order": ["top"] * 3 + ["random"] * 6,
            "run": [0] * 3 + [0] * 3 + [1] * 3,
            "fraction": [0.0, 0.5, 1.0] * 3,
            "deletion": [0, 1, 1, 0, 0.5, 1, 0, 0.5, 0.5],
            "insertion": [1, 0, 0, 1, 0.5, 0, 1, 1, 0],
        }
    )
    areas = curve_areas(curves, "m").set_index("order")
    assert areas.loc["top", "deletion_area"] == pytest.approx(0.75)
    assert areas.loc["top", "insertion_area"] == pytest.approx(0.25)
    assert areas.loc["random", "deletion_area"] == pytest.approx((0.5 + 0.375) / 2)
    assert areas.loc["random", "deletion_area_std"] == pytest.approx(np.std([0.5, 0.375], ddof=1))
    assert areas.loc["random", "n_runs"] == 2 and np.isnan(areas.loc["top", "deletion_area_std"])
    assert (areas["method"] == "m").all()


# ------------------------------------------------------------------ a whole file


def test_file_without_attributions_is_skipped(tmp_path, sample_paths, model):
    result = perturb_file(sample_paths[1], tmp_path / "none", tmp_path / "out", PerturbationSettings(), model)
    assert result.status == "skipped" and "no deepliftshap attribution file" in result.message
    assert summary_rows(result) == [] and not (tmp_path / "out").exists()


def test_damaged_attribution_file_fails_with_a_message(tmp_path, sample_paths, model):
    (tmp_path / f"{sample_paths[1].stem}__deepliftshap_broken.h5").write_bytes(b"not hdf5")
    result = perturb_file(sample_paths[1], tmp_path, tmp_path / "out", PerturbationSettings(), model)
    assert result.status == "failed" and "broken.h5" in result.message


def test_perturb_file_writes_amplified_wavs_and_sidecars(explained, tmp_path, model, monkeypatch):
    source, folder, h5 = explained
    settings = PerturbationSettings(top_percent=10.0, gain_db=6.0, n_random=2, seed=3, fractions=(0.0, 0.5, 1.0))
    result = perturb_file(source, folder, tmp_path, settings, model)
    assert result.status == "perturbed", result.message
    count = 81  # 10 % of 805 bins = 80.5, rounded half up (Python's round() would give 80)
    for which in ("top", "flop"):
        wav = tmp_path / amplified_name(source.stem, which, 10.0, 6.0)
        assert wav.name == f"{source.stem}_{which}_10_amplified_6dB.wav" and wav in result.written
        assert len(load_audio(wav)) == len(result.waves["original"])
        sidecar = json.loads(wav.with_suffix(".json").read_text())
        assert sidecar["selected_bins"] == count and sidecar["seed"] == 3 and sidecar["which"] == which
        assert sidecar["attribution_file"] == str(h5) and sidecar["gain_db"] == 6.0
        assert result.selections[which].sum() == count
    assert not (result.selections["top"] & result.selections["flop"]).any()
    assert set(result.amplification["order"]) == {"top", "flop", "random"}
    # no JSON record names a clean file: the enhanced original is the reference, its SI-SDR with itself unbounded (n/a)
    assert result.quality_reference == "enhanced original" and np.isnan(result.quality_original["SI-SDR"])
    assert result.quality_original["PESQ"] > 4.5 and result.quality_original["STOI"] == pytest.approx(1.0, abs=1e-6)
    assert result.quality["SI-SDR change (dB)"].isna().all() and (result.quality["PESQ change"] <= 0).all()
    assert result.times_s[0] == pytest.approx(0.5 + 0.01)  # frame 50's centre, in file time
    with AttributionFile(h5) as stored:
        stored_mask, attributions = stored["mask"], stored.read_attributions()
    assert result.reference["mean mask (input)"] == pytest.approx(stored_mask.mean(), abs=1e-6)
    assert result.reference["mean attribution sum per output bin"] == pytest.approx(
        attributions.sum() / (161 * 5), rel=1e-4
    )
    np.testing.assert_allclose(result.scores, attributions.sum(axis=(0, 1)), rtol=1e-4, atol=1e-6)  # signed ranking
    summary = pd.read_csv(write_summary([result], tmp_path))
    assert list(summary.columns) == ["file", "order", "metric", "value"]
    assert {"deletion_area", "insertion_area", "amplified_mean_abs_mask_change", "mean_mask_baseline"} <= set(
        summary["metric"]
    )
    assert set(summary["order"]) == {"top", "flop", "random", "all"}
    for fig in (
        plot_selection(result.selections, result.freqs_hz, result.times_s, 6.0),
        plot_mask_change(result.changes, result.freqs_hz, result.times_s),
        plot_curves(result.curves, result.areas),
    ):
        assert fig.axes
    labels = [ax.get_ylabel() for ax in plot_mask_change(result.changes, result.freqs_hz, result.times_s).axes]
    assert "mask change (new - original)" in labels

    # notebook 04's selection maps: the stored spectrogram of the segment in grey beneath the selected bins
    with AttributionFile(h5) as stored:
        np.testing.assert_array_equal(result.features, stored.input_features.astype(np.float32))
    from xai_helpers.reports import perturbation as report

    shown = []
    monkeypatch.setattr(report, "display", lambda figure, **kwargs: shown.append(figure))
    for underlay in (True, False):
        report.show_selections([result], 6.0, "signed", tmp_path, underlay=underlay)
    with_underlay, without = shown
    underlays = [a for ax in with_underlay.axes for a in ax.get_children() if a.get_gid() == "underlay"]
    assert len(underlays) == 3  # top, flop, random
    np.testing.assert_array_equal(np.asarray(underlays[0].get_array()), result.features)
    assert not [a for ax in without.axes for a in ax.get_children() if a.get_gid() == "underlay"]
    assert (tmp_path / f"{result.basename}_selection.png").exists()


def test_enhanced_quality_changes_against_the_clean_speech(tmp_path, sample_paths, model):
    """Notebook 01's noisy file names its clean speech: the enhanced outputs' PESQ / STOI / SI-SDR are
    scored against it, and each change is the score of the enhanced amplified WAV minus the original's."""
    from xai_helpers.dsp.metrics import pesq, si_sdr, stoi
    from xai_helpers.io.noisy_corpus import make_noisy_corpus
    from xai_helpers.models.enhance import enhance_details

    (item,) = make_noisy_corpus([sample_paths[0]], tmp_path / "noisy", "pink_snr", snr_db=5.0, seed=0)
    folder = tmp_path / "attributions"
    explain_file(
        item.noisy_path,
        folder,
        ExplainConfig(method="deepliftshap", segment_start_s=0.5, segment_duration_s=0.05),
        progress=False,
    )
    settings = PerturbationSettings(top_percent=10.0, gain_db=12.0, n_random=2, seed=1, fractions=(0.0, 1.0))
    result = perturb_file(item.noisy_path, folder, tmp_path / "out", settings, model)
    assert result.status == "perturbed", result.message
    assert result.quality_reference == "clean"
    clean = load_audio(sample_paths[0])
    noisy = load_audio(item.noisy_path)

    def scores(wave):
        enhanced = enhance_details(wave, 16000, model).enhanced
        return {
            "PESQ": pesq(clean, enhanced, 16000, "wb"),
            "STOI": stoi(clean, enhanced, 16000),
            "SI-SDR": si_sdr(enhanced, clean),
        }

    original = scores(noisy)
    assert result.quality_original == pytest.approx(original, rel=1e-6)
    quality = result.quality.set_index("order")
    for which in ("top", "flop"):
        amplified = scores(load_audio(tmp_path / "out" / amplified_name(item.noisy_path.stem, which, 10.0, 12.0)))
        assert quality.loc[which, "PESQ (amplified)"] == pytest.approx(amplified["PESQ"], abs=1e-4)
        assert quality.loc[which, "PESQ change"] == pytest.approx(amplified["PESQ"] - original["PESQ"], abs=1e-4)
        assert quality.loc[which, "STOI change"] == pytest.approx(amplified["STOI"] - original["STOI"], abs=1e-5)
        assert quality.loc[which, "SI-SDR change (dB)"] == pytest.approx(
            amplified["SI-SDR"] - original["SI-SDR"], abs=1e-3
        )
    # amplifying 10 % of a 50 ms segment by 12 dB moves the whole-file scores, but not much
    assert quality.loc["top", "SI-SDR change (dB)"] != 0 and np.all(np.abs(quality["PESQ change"]) < 1.0)
    summary = pd.DataFrame(summary_rows(result))
    by = summary.set_index(["order", "metric"])["value"]
    assert by[("all", "quality_reference_is_clean")] == 1.0
    assert by[("all", "enhanced_pesq")] == pytest.approx(original["PESQ"])
    assert by[("top", "enhanced_stoi_change")] == pytest.approx(quality.loc["top", "STOI change"])
    assert by[("random", "enhanced_si_sdr_db_change")] == pytest.approx(quality.loc["random", "SI-SDR change (dB)"])
    sidecar = json.loads(
        (tmp_path / "out" / amplified_name(item.noisy_path.stem, "top", 10.0, 12.0)).with_suffix(".json").read_text()
    )
    assert sidecar["quality_reference"] == "clean"
    assert sidecar["enhanced_quality"]["PESQ"] == pytest.approx(quality.loc["top", "PESQ (amplified)"])
