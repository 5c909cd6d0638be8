"""Faithfulness benchmark: controls, a case where enrichment must rise, randomisation, the burst."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xai_helpers.experiments.faithfulness import (
    BenchmarkSettings,
    Burst,
    add_burst,
    burst_conditions,
    burst_problem,
    enrichment,
    method_map,
    randomised_model,
    rank_correlation,
)
from xai_helpers.experiments.agreement import control_map
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.attribution.regions import region_bins
from xai_helpers.models.nsnet2 import stft_config

CONFIG = stft_config(16000)


@pytest.fixture(scope="module")
def clean(sample_paths):
    from xai_helpers.io.audio import load_audio

    return load_audio(sample_paths[2], 16000)


def test_random_control_is_chance():
    freqs, times = CONFIG.frequencies_hz(), CONFIG.frame_times_s(80)
    inside = region_bins((2850.0, 3150.0, 0.3, 0.8), freqs, times)
    values = [enrichment(control_map("random", np.zeros((161, 80)), seed), inside) for seed in range(10)]
    assert all(abs(v - 1.0) < 0.1 for v in values)


def test_energy_control_finds_a_loud_burst(clean):
    settings = BenchmarkSettings(levels_db=(10.0,))
    burst, region = burst_conditions(settings)[0]
    problem = burst_problem(clean, burst, region, CONFIG, settings, seed=0)
    inside = region_bins(burst.region, problem.freqs_hz, problem.times_s)
    assert enrichment(control_map("energy", problem.features, 0), inside) > 1.2


class BandAverage(nn.Module):
    """Every output bin is the mean of all input bins of its frame: attribution = (x - b) / F, so the
    burst's share of attribution mass must grow with its level."""

    def logit(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.mean(dim=2, keepdim=True).expand_as(frames)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.logit(frames)


@pytest.mark.parametrize("method", ["deeplift", "integratedgradients", "inputxgradient"])
def test_enrichment_rises_with_burst_level_where_it_must(clean, method):
    settings = BenchmarkSettings(levels_db=(-20.0, 0.0, 20.0))
    values = []
    for burst, region in burst_conditions(settings):
        problem = burst_problem(clean, burst, region, CONFIG, settings, seed=0)
        inside = region_bins(burst.region, problem.freqs_hz, problem.times_s)
        weights, _ = method_map(BandAverage(), problem, method, settings.options(0))
        values.append(enrichment(weights, inside))
    assert values[0] < values[1] < values[2], values
    assert values[2] > 1.0


def test_add_burst_band_span_and_level(clean):
    burst = Burst(center_hz=3000.0, width_hz=300.0, start_s=0.5, duration_s=0.6, level_db=-10.0)
    noisy = add_burst(clean, 16000, burst, clean, seed=1)
    added = noisy - clean
    span = slice(int(0.5 * 16000), int(1.1 * 16000))
    assert np.all(added[: span.start] == 0) and np.all(added[span.stop :] == 0)
    level = 10 * np.log10(np.mean(added[span] ** 2) / np.mean(clean**2))
    assert level == pytest.approx(-10.0, abs=1e-6)
    spectrum = np.abs(np.fft.rfft(added[span])) ** 2
    freqs = np.fft.rfftfreq(span.stop - span.start, 1 / 16000)
    assert spectrum[(freqs >= 2850) & (freqs < 3150)].sum() / spectrum.sum() > 0.999


def test_explained_band_must_not_overlap_burst():
    with pytest.raises(ValueError, match="overlaps"):
        burst_conditions(BenchmarkSettings(explained_offset_hz=(-500.0, 500.0)))
    with pytest.raises(ValueError, match="explained_offset_hz"):
        burst_conditions(BenchmarkSettings(explained_offset_hz=(-3500.0, -3200.0)))


def test_randomisation_destroys_signed_gradient_maps(clean):
    model = load_nsnet2(16000)
    settings = BenchmarkSettings(levels_db=(0.0,))
    burst, region = burst_conditions(settings)[0]
    problem = burst_problem(clean, burst, region, CONFIG, settings, seed=0)
    for method in ("inputxgradient", "integratedgradients"):
        original, _ = method_map(model, problem, method, settings.options(0))
        same, _ = method_map(randomised_model(model, (), 0), problem, method, settings.options(0))
        assert rank_correlation(original, same) == pytest.approx(1.0)
        destroyed, _ = method_map(
            randomised_model(model, model.randomisation_order, 0), problem, method, settings.options(0)
        )
        correlation = rank_correlation(original, destroyed)
        print(f"{method}: Spearman(original, all layers randomised) = {correlation:.3f}")
        assert abs(correlation) < 0.15


def test_reading_names_what_the_numbers_say():
    from xai_helpers.experiments.faithfulness_reading import reading

    values = {"rising": (1.1, 1.3, 1.6), "flat": (0.9, 0.9, 0.9), "random": (1.0, 1.0, 1.0), "energy": (1.2, 1.4, 1.5)}
    rows = [
        {"method": method, "metric": "enrichment", "condition": f"level {level:g} dB", "value": value}
        for method, levels in values.items()
        for level, value in zip((-20, -10, 0), levels)
    ]
    text = reading(rows)
    assert "level 0 dB" in text and "energy detector at 1.50" in text
    assert "1 of 2 methods put more mass on the burst than the energy detector: rising (1.60)" in text
    assert "burst level for: rising." in text


def test_level_conditions_read_back_their_number():
    from xai_helpers.experiments.faithfulness import condition_level_db, level_condition

    assert level_condition(-20.0) == "level -20 dB" and level_condition(2.5) == "level 2.5 dB"
    assert [condition_level_db(level_condition(v)) for v in (-20.0, 0.0, 2.5, 1e-3)] == [-20.0, 0.0, 2.5, 0.001]
    assert condition_level_db("level \u221210 dB") == -10.0 and condition_level_db("level 2.5e1 dB") == 25.0
    assert condition_level_db("no number") is None


SMALL = dict(methods=("deeplift", "deeplift_captum", "inputxgradient"), levels_db=(20.0,), shapley_spans=2, n_samples=4)
"""A small real case: three methods, one loud burst, 3 bands x 3 spans + the burst tile (10 players)."""


@pytest.fixture(scope="module")
def small_rows(clean):
    import pandas as pd

    from xai_helpers.experiments.faithfulness import localisation_rows

    return pd.DataFrame(localisation_rows({"clean": clean}, load_nsnet2(16000), CONFIG, BenchmarkSettings(**SMALL)))


def test_rows_carry_the_ground_truth_metrics(small_rows):
    required = {
        "shapley_spearman",
        "shapley_pearson",
        "shapley_sign_agreement",
        "shapley_l1",
        "shapley_top3",
        "lesion_false_positive_share",
        "burst_effect",
        "burst_shapley",
        "burst_effect_share",
        "burst_material",
        "enrichment",
        "deletion_area",
        "insertion_area",
    }
    assert required <= set(small_rows["metric"])
    shapley = small_rows[small_rows["metric"] == "shapley_spearman"]
    assert set(shapley["method"]) == {*SMALL["methods"], "random", "energy", "flipped"}
    assert small_rows["burst_material"].isin([0, 1]).all()


def test_burst_effect_row_is_the_measured_effect(clean, small_rows):
    """burst_effect = y(with burst) - y(without), recomputed here by two plain forward passes."""
    from xai_helpers.experiments.faithfulness import burst_pair

    settings = BenchmarkSettings(**SMALL)
    burst, region = burst_conditions(settings)[0]
    problem, quiet = burst_pair(clean, burst, region, CONFIG, settings, seed=0)
    model = load_nsnet2(16000)
    with torch.no_grad():
        masks = model(torch.as_tensor(np.stack([problem.features.T, quiet.T])))
    expected = float((masks[0] - masks[1]).numpy().T[problem.target_bins].sum())
    row = small_rows[(small_rows["method"] == "burst") & (small_rows["metric"] == "burst_effect")]
    assert float(row["value"].iloc[0]) == pytest.approx(expected, rel=1e-4)
    share = small_rows[(small_rows["method"] == "burst") & (small_rows["metric"] == "burst_effect_share")][
        "value"
    ].iloc[0]
    assert float(small_rows["burst_material"].iloc[0]) == float(abs(share) >= settings.material_share)


def test_flipped_is_worst_on_signed_agreement(clean, small_rows):
    """Below every method and the energy control in the rows, and below the random control's mean over
    20 draws (one draw alone can fall lower by chance on 10 tiles)."""
    from xai_helpers.experiments.agreement import control_map, shapley_agreement
    from xai_helpers.experiments.faithfulness import burst_pair
    from xai_helpers.experiments.ground_truth import burst_tiles
    from xai_helpers.experiments.shapley import exact_shapley
    from xai_helpers.models.base import MaskFromLogPower

    for metric in ("shapley_spearman", "shapley_pearson"):
        values = small_rows[small_rows["metric"] == metric].set_index("method")["value"]
        assert values.drop("random").idxmin() == "flipped", values.to_dict()
        assert values["flipped"] == pytest.approx(-values.drop(["flipped", "random", "energy"]).max())
    settings = BenchmarkSettings(**SMALL)
    burst, region = burst_conditions(settings)[0]
    problem, _ = burst_pair(clean, burst, region, CONFIG, settings, seed=0)
    tiles = burst_tiles(
        problem.freqs_hz, problem.times_s, burst.region, settings.shapley_band_edges_hz, settings.shapley_spans
    )
    exact = exact_shapley(
        MaskFromLogPower(load_nsnet2(16000)),
        problem.features,
        problem.baselines,
        tiles,
        problem.target_bins.astype(np.float64),
    )
    draws = [
        shapley_agreement(control_map("random", problem.features, seed), exact.values, exact.tiles)
        for seed in range(20)
    ]
    flipped = small_rows[small_rows["method"] == "flipped"].set_index("metric")["value"]
    for metric in ("shapley_spearman", "shapley_pearson"):
        assert flipped[metric] < np.mean([draw[metric] for draw in draws]) - 0.3


def test_complete_deeplift_gives_the_lesioned_band_zero(clean):
    from xai_helpers.models.lesion import band_bins, lesion_change, lesioned_model

    settings = BenchmarkSettings(levels_db=(20.0,))
    burst, region = burst_conditions(settings)[0]
    problem = burst_problem(clean, burst, region, CONFIG, settings, seed=0)
    lesioned = lesioned_model(load_nsnet2(16000))
    band = band_bins(CONFIG)
    assert lesion_change(lesioned, problem.features, band) < 1e-5
    values, delta = method_map(lesioned, problem, "deeplift", settings.options(0))
    assert np.abs(values[band]).max() < 1e-7
    assert np.abs(values[~band]).max() > 1e-3  # the rest of the map is not empty
    assert delta < 1e-3  # complete: the map sums to the explained change


def test_deeplift_names_select_the_rule(clean):
    """deeplift (complete) sums to the explained change; deeplift_captum equals Captum's DeepLift."""
    from xai_helpers.attribution.captum_backend import attribute_targets

    model = load_nsnet2(16000)
    settings = BenchmarkSettings(levels_db=(20.0,))
    burst, region = burst_conditions(settings)[0]
    problem = burst_problem(clean, burst, region, CONFIG, settings, seed=0)
    _, complete_delta = method_map(model, problem, "deeplift", settings.options(0))
    captum_rule, captum_delta = method_map(model, problem, "deeplift_captum", settings.options(0))
    reference = attribute_targets(
        problem.module(model),
        torch.as_tensor(problem.features),
        torch.as_tensor(problem.baselines),
        "deeplift",
        [0],
        options=settings.options(0),
    ).values[0]
    np.testing.assert_allclose(captum_rule, reference, atol=1e-5 * np.abs(reference).max())
    assert complete_delta < 1e-3 < captum_delta


def test_burst_tiles_cut_the_burst_out_of_the_grid():
    from xai_helpers.experiments.ground_truth import burst_tiles

    freqs, times = CONFIG.frequencies_hz(), CONFIG.frame_times_s(110)[60:]
    burst = Burst(3000.0, 300.0, 0.8, 0.3)
    tiles = burst_tiles(freqs, times, burst.region, (2000.0, 3500.0), 3)
    assert tiles.count == 13 and tiles.names[-1] == "burst"
    assert tiles.masks.sum(axis=0).min() == 1  # disjoint and covering every bin
    np.testing.assert_array_equal(tiles.masks[-1], region_bins(burst.region, freqs, times))
    with pytest.raises(ValueError, match="shapley_spans"):
        burst_tiles(freqs, times, burst.region, (2000.0,), 0)


def test_reading_names_the_best_agreement_and_the_controls(agreement_rows):
    from xai_helpers.experiments.faithfulness_reading import reading

    rows = agreement_rows
    rows += [
        {"method": "burst", "metric": metric, "condition": "level 20 dB", "value": value}
        for metric, value in (("burst_effect_share", 0.3), ("burst_material", 1.0))
    ]
    text = reading(rows)
    assert "**good** agrees best: Spearman 0.70 ± 0.14, 0.50 above poor" in text
    assert "`flipped` comes out lowest of all rows" in text
    assert "Control(s) at or above good on Spearman: energy" in text
    assert "material (at least the set share of the explained change) in 1 of 1 conditions" in text


def test_ground_truth_section_writes_its_figure(small_rows, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.image import imread

    from xai_helpers.reports.faithfulness import show_ground_truth

    show_ground_truth(small_rows.to_dict("records"), tmp_path)
    image = imread(tmp_path / "faithfulness_ground_truth.png")
    assert image.shape[:2] == (450, 1300)  # the 13 x 4.5 inch figure at 100 dpi
    assert np.ptp(image[..., :3], axis=(0, 1)).min() > 0.5  # drawn, not a blank page


def test_ground_truth_figure_shows_the_rows_means(agreement_rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xai_helpers.plots.faithfulness import plot_ground_truth

    rows = agreement_rows + [
        {"method": "good", "metric": "lesion_false_positive_share", "condition": "level 0 dB", "value": 0.25}
    ]
    fig = plot_ground_truth(rows)
    panels = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_title() for ax in panels] == [
        "Spearman with exact Shapley values",
        "sign agreement (Shapley mass)",
        "mass on the lesioned band",
    ]
    # methods from the lowest mean Spearman up: flipped -0.7, random 0.05, poor 0.2, good 0.7, energy 0.9 (by hand)
    order = ["flipped", "random", "poor", "good", "energy"]
    assert [label.get_text() for label in panels[0].get_yticklabels()] == order
    widths = [[bar.get_width() for bar in ax.patches] for ax in panels]
    np.testing.assert_allclose(widths[0], [-0.7, 0.05, 0.2, 0.7, 0.9])
    np.testing.assert_allclose(widths[1], 0.5)
    np.testing.assert_allclose(widths[2], [0, 0, 0, 0.25, 0])  # only good has a lesion row
    grey = matplotlib.colors.to_rgba("0.6")
    assert [bar.get_facecolor() == grey for bar in panels[0].patches] == [True, True, False, False, True]  # controls
    plt.close(fig)
