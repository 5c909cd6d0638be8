# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Bins, regions or latent units: how the choice of features changes the explanation
#
# The same outputs of the model (`model`: NSNet2 by default; an output region's mask sum and a single output bin, at the
# end of a short segment of speech in pink noise) are explained three ways:
#
# - **bins**: a map over every input bin (complete DeepLIFT from the exact engine, Captum's DeepLiftShap,
#   Integrated Gradients, GradientShap, Saliency), then summed over the tiles of a grid. With one baseline,
#   `deeplift` and `deepliftshap` differ only by DeepLIFT's rule inside the GRUs (complete vs Captum's
#   plain gradients): their rows show what the rule changes;
# - **regions as players**: the tiles of a grid are the features (KernelShap, Lime, occlusion of one
#   tile) and, as the reference, their **exact Shapley values** (every coalition of tiles evaluated);
# - **latent units**: layer DeepLift / Integrated Gradients on the units of the first dense layer and
#   of both GRUs, summed into groups of units that listen to the same input band (each unit's *input
#   profile*: how much each input frequency bin raises its activation).
#
# KernelShap and Lime draw `n_samples` coalitions out of the 2^k (512 for 9 players): raise it to see them
# approach the exact values. Grids keep at most 12 players so that the exact values stay tractable: finer tiles cover
# only the low bands, the remaining bins form one more player, `rest`. Times of regions, bins and grid spans count from
# the segment's start; the figures' time axes are seconds in the file (the segment starts at `segment_start_s`).
# Every method shares one baseline (`mean`: the segment's mean spectrum, or `zero`).

# %% tags=["parameters"]
input_path = "../data/samples"  # clean speech: a file or a folder
n_files = 2  # files of input_path used (stability across files needs 2 or more)
noise_seeds = [0, 1]  # pink-noise draws per file (stability across noise needs 2 or more)
snr_db = 10.0  # speech to pink-noise ratio, dB
segment_start_s = 0.8  # explained segment, s from the file start
segment_duration_s = 0.2
baseline = "mean"  # "mean" or "zero": one reference shared by every definition
output_regions = ["0-1000Hz@0.15-0.2s"]  # explained output regions, times from the segment start
output_bins = [[500.0, 0.19]]  # explained single output bins [Hz, s]
grids = [
    {"name": "500Hz x 50ms", "band_hz": 500, "span_s": 0.05, "max_hz": 1000},
    {"name": "1kHz x 100ms", "band_hz": 1000, "span_s": 0.1, "max_hz": 4000},
    {"name": "mel x 100ms", "mel_bands": 4, "span_s": 0.1},
]
unit_group_grid = "mel x 100ms"  # the grid whose bands group the latent units
bin_methods = ["deeplift", "deepliftshap", "integratedgradients", "gradientshap", "saliency"]
region_methods = ["kernelshap", "lime", "occlusion", "shapley"]
latent_methods = ["deeplift", "integratedgradients"]
latent_layers = (
    None  # the latent layers whose units are explained (None: those the target depends on; NSNet2: fc_in, gru1, gru2)
)
target = "mask"  # "mask" or "logit"
n_samples = 16  # GradientShap samples, IG steps, KernelShap / Lime perturbations
seed = 0  # sampling seed of the methods
model = "nsnet2"  # nsnet2 | dtln | gtcrn
sample_rate = 16000
output_dir = "../reports"

# %%
import time
from pathlib import Path

from IPython.display import Markdown, display

from xai_helpers.experiments.feature_definitions import Settings, run_study
from xai_helpers.experiments.feature_metrics import (
    agreement_table,
    between_table,
    cost_table,
    reading,
    stability_table,
    study_rows,
    table,
)
from xai_helpers.io.atomic import write_text_atomically
from xai_helpers.io.audio import load_audio
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.models.cache import cached_model
from xai_helpers.models.registry import model_sample_rate
from xai_helpers.plots.feature_definitions import plot_definitions, plot_summary, plot_unit_profiles
from xai_helpers.reports.feature_definitions import summary
from xai_helpers.reports.tables import captioned
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
sample_rate = model_sample_rate(model, sample_rate)
model = cached_model(sample_rate, "cpu", model)
config = model.stft_config(sample_rate)
clean_waves = {path.stem: load_audio(path, sample_rate) for path in list_audio_files(input_path)[:n_files]}
settings = Settings(
    bin_methods, region_methods, latent_methods, latent_layers, unit_group_grid, target, n_samples, seed
)
started = time.perf_counter()
study = run_study(
    model,
    clean_waves,
    config,
    grids,
    output_regions,
    output_bins,
    noise_seeds,
    snr_db,
    segment_start_s,
    segment_duration_s,
    baseline,
    settings,
)
rows = study_rows(study)
print(
    f"{model.name}: {len(clean_waves)} file(s) x {len(noise_seeds)} noise seed(s) x {len(study.outputs)} output(s), "
    f"grids: "
    + ", ".join(f"{g.name} ({g.tiles.count} players)" for g in study.grids)
    + f"; computed in {time.perf_counter() - started:.0f} s"
)

# %% [markdown]
# ## One output under every definition
#
# Top: the explained output's attribution under each definition, on one time axis in the file (bins as they
# are; tile scores spread evenly over their bins; latent groups of units over frames). Bottom: the
# input spectrogram under each column, the explained output outlined in cyan.

# %%
for output in study.outputs:
    display(plot_definitions(study, output.name, grids[1]["name"]))

# %% [markdown]
# ## Agreement with the exact Shapley values of the same regions
#
# Spearman (rank) and sign agreement (share of the Shapley mass whose tile gets the right sign) of each
# method's scores with the exact Shapley values of the tiles; top-3 overlap of the most influential tiles.
# Latent rows compare unit groups with the Shapley values summed per band of the grouping grid.

# %%
display(
    captioned(
        agreement_table(rows),
        "Agreement with the exact Shapley values per definition, grid and method: "
        "Spearman, sign agreement and top-3 overlap (1 is best), means over files, noise seeds and outputs.",
        precision=2,
    )
)
display(plot_summary(rows))

# %% [markdown]
# ## Agreement between definitions
#
# Mean Spearman correlation between every pair of methods' scores on the same tiles (one grid).

# %%
for grid in grids:
    display(
        captioned(
            between_table(rows, grid["name"]),
            f"Grid {grid['name']}: mean Spearman correlation between the scores of every pair of definition/method.",
            precision=2,
        )
    )

# %% [markdown]
# ## Stability, concentration and cost
#
# Spread: standard deviation of each region's normalised score (score / sum of |scores|) across noise
# seeds of one file, and across files at one seed (lower is steadier). Concentration: share of |mass|
# in the top 10 % of the features (bins, tiles, or units x frames). Cost: seconds per explained output.

# %%
display(
    captioned(
        stability_table(rows),
        "Spread of the normalised region scores across noise seeds of one file and "
        "across files at one seed (lower is steadier).",
    )
)
display(
    captioned(
        table(rows, ("concentration",)), "Concentration: share of |mass| in the top 10 % of the features.", precision=2
    )
)
display(captioned(cost_table(rows), "Cost: seconds per explained output."))
print(f"unit profiles: {study.profile_seconds:.1f} s per segment for {len(study.profiles)} layer(s)")

# %% [markdown]
# ## What a latent unit stands for
#
# Each unit's input profile (averaged over files and noise seeds), and the groups formed by the band
# where the profile is most concentrated.

# %%
band_edges = next(g.band_edges_hz for g in study.grids if g.name == unit_group_grid)
band_names = [f"{lo:.0f}-{hi:.0f} Hz" for lo, hi in zip(band_edges[:-1], band_edges[1:])]
for layer, groups in study.unit_groups.items():
    print(
        f"{layer}: units per group " + ", ".join(f"{name}: {(groups == g).sum()}" for g, name in enumerate(band_names))
    )
display(plot_unit_profiles(study))

# %% [markdown]
# ## The table, and what it says

# %%
csv_path = write_text_atomically(Path(output_dir) / "feature_definitions.csv", rows.to_csv(index=False))
print(f"{len(rows)} rows written to {csv_path}")
display(Markdown(reading(rows, study.grids)))

# %% tags=["summary"]
summary(study, rows, list(clean_waves), noise_seeds)
