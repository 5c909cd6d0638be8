# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Can the maps be trusted? Faithfulness and sanity checks across methods
#
# There is no ground truth for what NSNet2 "looks at", so this notebook builds one in: a
# narrowband noise burst (300 Hz wide, 0.6 s long by default) with a known place is added to
# speech in pink noise at several levels relative to the speech. An output region that does
# **not** overlap the burst (another band, the same time) is explained, and we measure how much
# attribution mass lands on the burst:
#
# **enrichment** = (share of |attribution| inside the burst region) / (share of the plane it covers); 1.0 is chance.
#
# Every row has two controls computed by the same code: `random` (must come out at 1.0) and
# `energy` (a detector that weights each bin by its own log-power rank). The burst region itself
# is never the explained output: that would reward any method for returning mass to the cell asked about.
#
# Sanity checks: cascading model randomisation (top layer first; a map that barely changes when
# the weights are destroyed explains the input, not the model), completeness (convergence delta
# relative to the explained change) and agreement with a brute-force occlusion map.

# %% tags=["parameters"]
input_path = "../data/samples"  # clean speech: a file or a folder
n_files = 2  # how many files of input_path to use (the full run uses all)
methods = ["deepliftshap", "deeplift", "gradientshap", "integratedgradients", "saliency", "inputxgradient", "occlusion", "kernelshap", "lime"]
levels_db = [0.0, -10.0, -20.0]  # burst level relative to the speech, dB
placements = [[3000.0, 0.8]]  # [burst centre Hz, burst start s]
explained_band_hz = [500.0, 1500.0]  # explained output band over the burst's time span
snr_db = 10.0  # speech to pink-noise ratio of the background, dB
baseline = "zero"
n_samples = 16  # GradientShap samples, IG steps, KernelShap/Lime perturbations
seeds = [0]
full_run = False  # all files, three placements, two seeds, more samples
sample_rate = 16000  # model rate: 16000 or 48000 Hz
output_dir = "../reports"

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from xai_helpers.experiments.faithfulness import localisation_rows, randomisation_rows, reading, summary_table
from xai_helpers.io.atomic import write_text_atomically
from xai_helpers.plots.faithfulness import plot_enrichment, plot_randomisation
from xai_helpers.reports.faithfulness import benchmark_setup
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
benchmark = benchmark_setup(
    input_path, n_files, methods, levels_db, placements, explained_band_hz, snr_db, baseline, n_samples, seeds, full_run,
    sample_rate,
)
settings, clean_waves, model, stft_settings = benchmark.settings, benchmark.clean_waves, benchmark.model, benchmark.stft
print(benchmark.describe())

# %% [markdown]
# ## Localisation: enrichment of the burst region
#
# Mean (and standard deviation over files, placements and seeds) of the enrichment per method
# and burst level. Above the `energy` row means the method points at the burst more than a
# plain loudness detector does.

# %%
rows = localisation_rows(clean_waves, model, stft_settings, settings, progress=lambda tasks: tqdm(tasks, desc="conditions"))
display(summary_table(rows, "enrichment").round(2))
display(plot_enrichment(rows))

# %% [markdown]
# ## Completeness and agreement with occlusion
#
# `relative_delta`: |sum of attributions − explained change| / |explained change| (0 is complete;
# DeepLIFT's rule does not reach inside NSNet2's GRUs, so DeepLift is not complete here).
# `occlusion_spearman`: rank correlation between each method's |map| and a brute-force occlusion
# map (patches of 8 bins × 4 frames) on the same target.

# %%
display(summary_table(rows, "relative_delta").round(3))
display(summary_table(rows, "occlusion_spearman").round(2))

# %% [markdown]
# ## Deletion and insertion
#
# Input bins are ranked by |map| and, in that order, replaced by the baseline (deletion) or put
# back into the baseline (insertion); the value is the change of the explained region's mean mask.
# A faithful map moves the output faster than the `random` row when deleting (larger area) and
# brings it back faster when inserting (smaller area). Areas over the fraction of bins, 0 to 1.

# %%
display(summary_table(rows, "deletion_area").round(3))
display(summary_table(rows, "insertion_area").round(3))

# %% [markdown]
# ## Cascading model randomisation
#
# Layers are re-initialised from the top (`fc_out3`) down to the input layer (`fc_in`); each
# column is the Spearman correlation between the original map and the map of the randomised
# model, on |maps| and on signed maps.

# %%
randomisation = randomisation_rows(clean_waves, model, stft_settings, settings)
display(summary_table(randomisation, "randomisation_spearman_signed").round(2))
display(plot_randomisation(randomisation))

# %% [markdown]
# ## The table, and what it says

# %%
table = pd.DataFrame(rows + randomisation)
csv_path = write_text_atomically(Path(output_dir) / "faithfulness.csv", table.to_csv(index=False))
print(f"{len(table)} rows written to {csv_path}")
display(Markdown(reading(rows + randomisation)))
