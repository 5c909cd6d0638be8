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
# # 07 · Comparing enhancers: what NSNet2, DTLN and GTCRN listen to
#
# Three speech enhancers with different designs (NSNet2: GRUs on log power, 161 bins x 10 ms; DTLN: two LSTM
# stages, 257 bins x 8 ms; GTCRN: a convolutional-recurrent complex mask, 257 bins x 16 ms) hear the same noisy
# files: clean speech under notebook 01's noise types (pink noise, babble, white bursts, tones, a simulated room).
# Each model is explained in its *own* STFT over the same segment of each file, and every number below is
# independent of the grid (shares of totals, milliseconds, Hz, ERB), so the models compare:
#
# - **enhancement quality**: PESQ, STOI, ESTOI and SI-SDR of the noisy input and of the enhanced output against
#   the clean speech, and the improvement;
# - **speech relevance**: the share of |attribution| on speech-dominant input bins (SNR above
#   `snr_threshold_db`, from the clean and noise files the corpus keeps, in the model's STFT) against the share
#   of the input's bins (area) and of its energy those bins hold; the same for noise-dominant bins; for the mask
#   and, where it can be computed, for the enhanced output (`*_output`);
# - **temporal and spectral context**: the look-back (ms) and the spread across frequency (Hz, ERB) holding 50 %
#   and 90 % of each output's |attribution|, and the share from below 1 kHz;
# - **sensitivity**: notebook 04's test, the top / flop / random `top_percent` % of bins amplified by
#   `dB_amplification`: how much more the mask moves for the top bins than for random ones, and what the
#   enhanced output's quality does;
# - **trust**: agreement of each model's map with the exact Shapley values of a small grid of tiles (notebook
#   05's game), because a comparison of maps is only as good as the maps.
#
# With `results_path` the numbers are read from a finished run instead (a `comparison.csv`, or a batch run's
# folder: `python -m xai_helpers.run.batch --notebooks 07 --input manifest.csv --output runs/compare`, with a
# manifest from `xai_helpers.run.batch.tasks.comparison_manifest`); the maps' figures then stay in
# that run's reports.

# %% tags=["parameters"]
input_path = "../data/samples"  # clean speech: a file or a folder
n_files = 1  # files of input_path used (babble's talkers: the other files, of input_path or talkers_path)
models = ["nsnet2", "dtln", "gtcrn"]
noise_conditions = [
    {"noise_type": "pink_snr", "snr_db": 5.0},
    {"noise_type": "babble_snr", "snr_db": 0.0},
    {"noise_type": "white", "time_ranges": ["0.7-1.1"], "rms_amplitudes": [0.05]},
    {"noise_type": "sinusoidal", "freq_ranges": ["400-600", "1500-1700"], "rms_amplitudes": [0.02]},
    {"noise_type": "room_reverberation", "reverberances": [0.6]},
]
method = "deeplift"
deeplift_rule = "complete"  # deeplift / deepliftshap only: complete or captum
baseline = "zero"
targets = ["mask", "output"]  # explained quantities; mask is required
segment_start_s = 0.8  # explained segment, s from the file start
segment_duration_s = 0.2
seed = 0
snr_threshold_db = 0.0  # speech-dominant: SNR above it; noise-dominant: below its negative
top_percent = 10.0  # sensitivity: share of the segment's bins amplified
dB_amplification = 6.0
n_random = 1  # random selections of the control
shapley_band_edges_hz = [1000.0, 3000.0]  # trust: interior band edges of the tile grid
shapley_spans = 3  # trust: time spans of the segment
shapley_output_hz = [250.0, 2000.0]  # trust: band of the explained mask sum, over the last span
n_boot = 1000  # bootstrap resamples of files
talkers_path = None  # babble talkers besides the other input files (a folder), e.g. for a batch task of one file
results_path = None  # a comparison.csv or a finished batch run's folder: read instead of computed
device = "cpu"
output_dir = "../reports/comparison"

# %%
from IPython.display import Markdown, display

from xai_helpers.experiments.comparison import ComparisonSettings
from xai_helpers.experiments.comparison_corpus import run_comparison
from xai_helpers.plots.comparison import plot_metric_dots, plot_relation
from xai_helpers.reports.comparison import (
    CONTEXT,
    QUALITY,
    RELEVANCE,
    SENSITIVITY,
    TRUST,
    availability,
    condition_table,
    context_figure,
    maps_figure,
    metric_table,
    reading,
    relation_display,
    relations,
    summary,
)
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
settings = ComparisonSettings(
    models=tuple(models),
    method=method,
    deeplift_rule=deeplift_rule,
    baseline=baseline,
    targets=tuple(targets),
    segment_start_s=segment_start_s,
    segment_duration_s=segment_duration_s,
    seed=seed,
    snr_threshold_db=snr_threshold_db,
    top_percent=top_percent,
    gain_db=dB_amplification,
    n_random=n_random,
    shapley_spans=shapley_spans,
    shapley_band_edges_hz=tuple(shapley_band_edges_hz),
    shapley_output_hz=tuple(shapley_output_hz),
    device=device,
)
comparison = run_comparison(input_path, n_files, noise_conditions, settings, output_dir, results_path, talkers_path)
display(availability(comparison))
frame = comparison.frame
print(comparison.describe())

# %% [markdown]
# ## The maps side by side
#
# The first file under every condition (rows), one column per model: where the mask's |attribution|, summed over
# every output bin, lies in the input. Each model is drawn on its own grid in Hz and seconds; the colour is the
# share of the map per kHz per second, so maps of different grids share one scale per row (log scale, three
# decades). White outlines the speech-dominant bins. Below: how far back in time and across frequency each
# model's outputs reach (mean over jobs, band from the lowest to the highest job).

# %%
if comparison.results:
    display(maps_figure(comparison.results, settings))
    display(context_figure(comparison.results, settings))
else:
    print(f"Numbers read from {results_path}: the maps stay in that run's attribution files and reports.")

# %% [markdown]
# ## Enhancement quality
#
# Scores against the clean speech over the whole file; improvement = enhanced - noisy. Means and standard
# deviations over conditions and files.

# %%
display(
    metric_table(
        frame,
        QUALITY,
        "Enhancement quality per model: PESQ (MOS), STOI, ESTOI, SI-SDR (dB) of the "
        "noisy input and the enhanced output, and the improvement; mean, std and count over conditions "
        "and files.",
    )
)
display(condition_table(frame, "pesq_improvement", "PESQ improvement per condition and model (mean over files)."))

# %% [markdown]
# ## Speech relevance
#
# `speech_relevance` is the share of |attribution| on speech-dominant bins; `speech_enrichment` divides it by
# the share of the input's energy those bins hold (above 1: the model attends to speech bins more than their
# energy alone would predict). Each dot is one file under one condition.

# %%
display(
    metric_table(
        frame,
        RELEVANCE,
        "Speech and noise relevance per model: shares of |attribution|, of the "
        "input's bins and of its energy on speech- and noise-dominant bins; mean, std and count.",
    )
)
display(
    condition_table(
        frame,
        "speech_enrichment",
        "Speech enrichment (relevance over energy share) per condition and model (mean over files).",
    )
)
display(
    plot_metric_dots(
        frame,
        [
            "speech_relevance",
            "speech_energy_share",
            "speech_enrichment",
            "noise_relevance",
            "speech_enrichment_output",
            "pesq_improvement",
        ],
    )
)

# %% [markdown]
# ## Temporal and spectral context
#
# Look-back: the lag (ms) within which 50 % and 90 % of an output frame's |attribution| lies, for the output
# frames of the segment's second half (each has at least half the segment behind it). Spread: the distance from
# the output frequency within which 50 % and 90 % lies, in Hz and in ERB (the ear's frequency scale).

# %%
display(
    metric_table(
        frame,
        CONTEXT,
        "Temporal and spectral context per model: look-back (ms), spread (Hz, ERB), "
        "share of |attribution| and of the input's energy below 1 kHz; mean, std and count.",
        precision=2,
    )
)
display(
    plot_metric_dots(frame, ["lookback_50_ms", "lookback_90_ms", "spread_50_erb", "spread_90_erb", "low_band_share"])
)

# %% [markdown]
# ## Sensitivity: amplifying the attributed bins
#
# Notebook 04's causal test on each model: `top_amplification_effect` is the mean |mask change| after amplifying
# the top bins over the change after amplifying as many random bins (above 1: the attributed bins matter more);
# the quality changes are those of the enhanced output.

# %%
display(
    metric_table(
        frame,
        SENSITIVITY,
        "Sensitivity per model: mask change after amplification relative to the "
        "random control, mean |mask change|, and the change of the enhanced output's PESQ, STOI and "
        "SI-SDR (dB); mean, std and count.",
    )
)

# %% [markdown]
# ## Trust: agreement with exact Shapley values
#
# The mask summed over `shapley_output_hz` in the segment's last span, explained by the method and by exact
# Shapley values of the tiles (every coalition run): Spearman of the tile sums, the share of the Shapley mass
# whose tiles get the right sign, and the overlap of the three most influential tiles.

# %%
display(
    metric_table(
        frame,
        TRUST,
        "Agreement of each model's map with the exact Shapley values of the tiles (1 is best); mean, std and count.",
        precision=2,
    )
)

# %% [markdown]
# ## Does relevance track quality?
#
# Across conditions and files, per model and pooled: the rank correlation of speech relevance (and enrichment)
# with the quality improvement, with an interval from resampling files. With few files the interval is wide
# and the evidence is called weak.

# %%
relation = relations(frame, n_boot, seed)
display(relation_display(relation, seed, n_boot))
display(plot_relation(frame, "speech_relevance", "pesq_improvement"))

# %% [markdown]
# ## What it says

# %%
display(Markdown(reading(frame, relation, settings)))

# %% tags=["summary"]
summary(settings, frame, relation)
