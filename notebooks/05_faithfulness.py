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
# # 05 · Can the maps be trusted? Ground truths, faithfulness and sanity checks across methods
#
# A map can only be called right or wrong against something known. This notebook builds three
# such references in and scores every method and three controls against them:
#
# 1. **Exact Shapley values of tiles.** The explained output (the mask summed over a band beside a
#    planted burst, over the burst's span) is a game over a grid of time-frequency tiles plus the
#    burst's own tile: each coalition takes its tiles from the input and the rest from the same
#    baseline the methods use. All 2^k coalitions are run (exactly, with shared time prefixes), and
#    each map's tile sums are compared with the exact values: `shapley_spearman`, `shapley_pearson`,
#    `shapley_sign_agreement`, `shapley_l1`, `shapley_top3`.
# 2. **A lesioned model.** The model made blind to one band (`lesion_band_hz`): NSNet2's input weights
#    of that band set to zero, DTLN's first LSTM's input weights of it, GTCRN's network input zeroed there
#    (`MaskModel.lesioned`): its mask provably does not depend on that band, so every bit of attribution
#    there is a false positive (`lesion_false_positive_share`).
# 3. **A burst whose effect is measured.** With every condition, the burst's causal effect on the
#    explained output (`burst_effect`, also as a share of the explained change) and its exact
#    Shapley value (`burst_shapley`); `burst_material` = 1 where the effect is at least 10 % of the
#    change. The defaults (explained band 150-650 Hz below the burst, bursts of 0.3 s at +20 and
#    0 dB) come from `benchmarks/burst_placement_search.py`: beside the burst, +10 and +20 dB bursts
#    move the output by 20-40 %, 0 dB ones mostly by less than 10 % (flagged).
#
# Controls, computed by the same code: `random` (a seeded normal map), `energy` (log-power rank:
# "loud bins matter") and `flipped` (the best method's map, negated: it must come out worst on the
# signed agreement). DeepLift is scored with both rules inside the GRUs: `deeplift` (complete) and
# `deeplift_captum` (Captum's). Enrichment, completeness, occlusion agreement, deletion/insertion
# (baseline replacement or ROAD imputation) and cascading randomisation stay as sanity checks.

# %% tags=["parameters"]
input_path = "../data/samples"  # clean speech: a file or a folder
n_files = 2  # how many files of input_path to use (the full run uses all)
methods = [
    "deeplift",
    "deeplift_gate_as_weight",
    "deeplift_gradient",
    "deeplift_captum",
    "integratedgradients",
    "gradientshap",
    "saliency",
    "inputxgradient",
    "occlusion",
]
levels_db = [20.0, 0.0]  # burst level relative to the speech, dB
placements = [[3000.0, 0.8]]  # [burst centre Hz, burst start s]
explained_offset_hz = [-650.0, -150.0]  # explained output band relative to the burst centre, over its span
snr_db = 10.0  # speech to pink-noise ratio of the background, dB
baseline = "zero"
n_samples = 16  # GradientShap samples, IG steps, KernelShap/Lime perturbations
seeds = [0]
shapley_band_edges_hz = [2000.0, 3500.0]  # interior band edges of the Shapley tile grid
shapley_spans = 3  # time spans of the burst, plus the context span: 3 bands x 4 spans and the burst tile, 13 tiles
lesion_band_hz = [2500.0, 3500.0]  # the band the lesioned model is blind to
removal = "baseline"  # deletion/insertion: "baseline" replacement or "road" imputation
full_run = False  # all files, three placements, three levels, two seeds, more samples
model = "nsnet2"  # nsnet2 | dtln | gtcrn
sample_rate = 16000  # model rate: 16000 or 48000 Hz
output_dir = "../reports"

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from xai_helpers.experiments.faithfulness import localisation_rows, randomisation_rows
from xai_helpers.experiments.faithfulness_reading import reading
from xai_helpers.experiments.planted_games import planted_rows
from xai_helpers.io.atomic import write_text_atomically
from xai_helpers.plots.faithfulness import plot_enrichment, plot_randomisation
from xai_helpers.reports.faithfulness import (
    benchmark_setup,
    condition_table,
    randomisation_table,
    show_ground_truth,
    summary,
)
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
benchmark = benchmark_setup(
    input_path,
    n_files,
    methods,
    levels_db,
    placements,
    explained_offset_hz,
    snr_db,
    baseline,
    n_samples,
    seeds,
    full_run,
    sample_rate,
    shapley_band_edges_hz,
    shapley_spans,
    lesion_band_hz,
    removal,
    model,
)
settings, clean_waves, model, stft_settings = benchmark.settings, benchmark.clean_waves, benchmark.model, benchmark.stft
print(benchmark.describe())

# %% [markdown]
# ## The ground truth: Shapley agreement, the lesioned band, the burst
#
# First table: per method and control, mean, standard deviation and count (over files, levels,
# placements and seeds) of the agreement with the exact Shapley values (Spearman and Pearson:
# 1 best; sign agreement: share of the Shapley mass whose tiles get the right sign; L1: error of the
# rescaled map, 0 best, 2 = the negated values; top-3: overlap of the three tiles that move the
# output most). Second: the share of |attribution| on the lesioned band (0 is right). Third: the
# burst per condition.

# %%
rows = localisation_rows(
    clean_waves, model, stft_settings, settings, progress=lambda tasks: tqdm(tasks, desc="conditions")
)
show_ground_truth(rows, output_dir)

# %% [markdown]
# ## Planted mechanisms: a game where energy says nothing
#
# Three small recurrent models with hand-set weights (`xai_helpers.experiments.planted`: a GRU shift
# register, an LSTM one, and a gate multiplying two factors of the same input) whose every output bin
# depends exactly on one input bin, at 7 kHz (where speech barely puts energy) and 50 ms back. Each
# method explains the sum of the mask over the last frame of a speech-in-noise segment; the table gives
# the share of its |attribution| on that bin (1 is right; the `energy` control shows what loudness alone
# would say). Every complete method must reach 0.99.

# %%
planted = planted_rows(clean_waves, settings, settings.methods)
rows += planted
display(
    condition_table(
        planted,
        "planted_share",
        "Share of |attribution| on the planted input bin, per method and mechanism (1 is right).",
        precision=3,
    )
)

# %% [markdown]
# ## Localisation: enrichment of the burst region
#
# Mean (and standard deviation over files, placements and seeds) of the enrichment per method
# and burst level; read it with `burst_material` above: where the burst barely moves the output,
# mass on it is not evidence of a faithful map.

# %%
display(
    condition_table(
        rows,
        "enrichment",
        "Enrichment of the burst region per method and burst level: mean and std "
        "over files, placements and seeds (1 is chance).",
        precision=2,
    )
)
display(plot_enrichment(rows))

# %% [markdown]
# ## Completeness and agreement with occlusion
#
# `relative_delta`: |sum of attributions − explained change| / |explained change| (0 is complete:
# the complete DeepLIFT rule reaches it, Captum's rule inside the GRUs does not).
# `occlusion_spearman`: rank correlation between each method's |map| and a brute-force occlusion
# map (patches of 8 bins × 4 frames) on the same target.

# %%
display(
    condition_table(
        rows,
        "relative_delta",
        "Relative delta per method and burst level: |sum of attributions − "
        "explained change| / |explained change| (0 is complete); mean and std.",
    )
)
display(
    condition_table(
        rows,
        "occlusion_spearman",
        "Spearman correlation of each method's |map| with the occlusion map per burst level; mean and std.",
        precision=2,
    )
)

# %% [markdown]
# ## Deletion and insertion
#
# Input bins are ranked by |map| and, in that order, removed (deletion) or put back (insertion);
# removal is replacement by the baseline or, with `removal = "road"`, ROAD's noisy linear
# imputation from the neighbouring bins (Rong et al., 2022). The value is the change of the
# explained region's mean mask. A faithful map moves the output faster than the `random` row when
# deleting (larger area) and brings it back faster when inserting (smaller area). Areas over the
# fraction of bins, 0 to 1.

# %%
display(
    condition_table(
        rows,
        "deletion_area",
        f"Deletion area ({removal} removal) per method and burst level: mean and std (larger than random is faithful).",
    )
)
display(
    condition_table(
        rows,
        "insertion_area",
        f"Insertion area ({removal} removal) per method and burst level: mean "
        "and std (smaller than random is faithful).",
    )
)

# %% [markdown]
# ## Cascading model randomisation
#
# Layers are re-initialised from the top down to the input layer (the model's `randomisation_order`:
# for NSNet2 from `fc_out3` down to `fc_in`); each
# column is the Spearman correlation between the original map and the map of the randomised
# model, on |maps| and on signed maps (first file; every file in the full run).

# %%
randomisation = randomisation_rows(clean_waves, model, stft_settings, settings)
display(randomisation_table(randomisation))
display(plot_randomisation(randomisation))

# %% [markdown]
# ## The table, and what it says

# %%
table = pd.DataFrame(rows + randomisation)
csv_path = write_text_atomically(Path(output_dir) / "faithfulness.csv", table.to_csv(index=False))
print(f"{len(table)} rows written to {csv_path}")
display(Markdown(reading(rows + randomisation)))

# %% tags=["summary"]
summary(benchmark, rows + randomisation)
