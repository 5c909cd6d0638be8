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
# # 03 · Visualising the attributions
#
# **What this shows.** Notebook 02 stored, for each input file, the attribution `a` of every output bin
# `(f_out, t_out)` of the model's gain mask (NSNet2 by default; `model`) to every input bin `(f_in, t_in)` of the
# log-power spectrogram: a 4-D tensor `[f_out, t_out, f_in, t_in]`, or, for whole files, its sums (the `.h5` group
# `maps/`). Here those sums become maps: which input bins matter overall (global influence), which input frames feed
# which output frames (time), which input frequencies feed which output frequencies (frequency, and its low-frequency
# views), which input frames act alike (temporal correlation), what one output bin looks at; then the attribution per
# input frequency band over all files, and an explorer of any output bin.
#
# **What we found** on the bundled sentences (pink noise at 5 dB, DeepLiftShap, zero baseline): each output frame
# draws most of its attribution from the last few input frames (the time map hugs the causal diagonal, within
# about 0.1 s); each output frequency looks mostly at its own and neighbouring input frequencies, and the inputs
# below about 500 Hz feed every output frequency; the most influential input bins lie at speech onsets below
# 2 kHz; with 8 linear bands the 0-1 kHz band carries about 27 % of each file's |attribution|, and the share falls
# with frequency to about 6 % per band above 6 kHz. Where `Σ|a|` is bright but `|Σa|` dark, one input bin pushes
# different outputs in opposite directions.
#
# **How to read the page.** Each kind of plot has one section: its explanation once, the first file's figure at
# full size, the other files' as a gallery of small copies (every figure is also a PNG in `output_dir`). Times
# are seconds in the file (the explained segment starts at notebook 02's `segment_start_s`), frequencies bin
# centres in Hz; every colour bar says what its numbers are and how they are normalised.
#
# Parameters: `aggregation` sums magnitudes (`abs_sum`: how much an input is involved, signs cannot cancel) or
# signed values (`signed_sum`: the net effect, red raises the gain, blue lowers it). `global_maps` chooses the
# panels of the global map: `abs_sum` (`Σ|a|`), `signed_sum` (`Σa`), and the original project's `net_abs`
# (`|Σa|`), `net_positive` and `net_negative` (its positive and negative parts). `log_floor` puts the global maps
# and the `abs_sum` time map on the original's log colour scale, from that fraction of the peak to the peak
# (`None`: linear). `normalisation` is `rows` (the original's: each output row of the time and frequency maps
# divided by its total, so its entries are shares summing to 1) or `none` (raw sums in units of the explained
# output). `low_freq_hz` sets the low-frequency views: the original's (input frequencies up to it, every output
# frequency) and the output-restricted one. `underlay` draws the input spectrogram in grey beneath the global
# maps. `band_scale` (`linear` or `mel`), `n_bands` and `band_share` set the band analysis. Relative paths are
# relative to this notebook's folder (`notebooks/`).

# %% tags=["parameters"]
input_path = "../data/noisy"  # an audio file or a folder: the files explained by notebook 02
attributions_dir = "../data/attributions"  # notebook 02's output_dir
method = "deepliftshap"  # the attribution method whose files are plotted
model = "nsnet2"  # the model whose files are plotted (nsnet2 | dtln | gtcrn | an import path; None: any)
aggregation = "abs_sum"  # abs_sum (magnitudes) | signed_sum (net, signs cancel)
global_maps = [
    "abs_sum",
    "net_abs",
    "net_positive",
    "net_negative",
]  # panels: abs_sum, signed_sum, net_abs, net_positive, net_negative
log_floor = 0.01  # log colour scale from this fraction of the peak (the original's); None for linear
normalisation = "rows"  # time and frequency maps: rows (shares per output row, the original's) | none (raw sums)
low_freq_hz = 1000.0  # low-frequency views: input (the original's) or output frequencies up to this, Hz
underlay = True  # the input spectrogram in grey beneath the global maps
band_scale = "linear"  # input frequency bands of the band analysis: linear | mel
n_bands = 8  # number of bands from 0 Hz to the highest bin
band_share = True  # each file's bands as shares of its total (the original's option) or raw sums
output_dir = "../reports/figures"  # PNG files: {attribution file}_{aggregation}_{plot}.png

# %%
import pandas as pd
from IPython.display import HTML, Markdown, display

from xai_helpers.plots.explorer import explore
from xai_helpers.plots.files import MapOptions, plot_batch
from xai_helpers.plots.gallery import gallery_sections
from xai_helpers.reports.visualisation import influence_reach, show_bands, summary
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
options = MapOptions(
    global_maps=tuple(global_maps), log_floor=log_floor, normalisation=normalisation, underlay=underlay
)
print(
    f"{model or 'any model'}'s {method} attributions of {input_path} from {attributions_dir}; aggregation "
    f"{aggregation}; {options}; "
    f"low-frequency views <= {low_freq_hz:g} Hz; figures -> {output_dir}"
)

# %% [markdown]
# ## Plot every file
#
# Files without an attribution file for `method` are skipped; incomplete or damaged
# attribution files (an interrupted run, a truncated copy) are left out with a warning. Both
# are listed at the end.

# %%
report = plot_batch(
    input_path, attributions_dir, method, low_freq_hz, aggregation, output_dir, options=options, model=model
)
print(report.summary())

# %% [markdown]
# ## The maps, one section per kind
#
# The input and the mask of the explained segment, then the influence maps (summed with `aggregation`, written
# on each figure), then the map of one output bin. In each section the first file is shown at full size and the
# others below it, small; `report.plotted[i].figures` holds every figure as a matplotlib object (e.g. to restyle
# one).

# %%
for section in gallery_sections(report, low_freq_hz):
    display(Markdown(section.markdown))
    display(HTML(section.html))

# %% [markdown]
# ## Attribution per input frequency band
#
# The original project's grouped-band analysis: each file's global map (`Σ|a|` for `abs_sum`, `Σa` for
# `signed_sum`) summed over its frames and over the input bins of each band (`band_scale` bands from 0 Hz to the
# highest bin), then the mean over files with ± one standard deviation; dots are single files. With `band_share`
# each file's bands are shares of its total, so files of different durations weigh alike. Written to
# `output_dir/bands_{method}_{aggregation}_{band_scale}.png`; the table holds every value.

# %%
bands = show_bands(report, band_scale, n_bands, band_share, output_dir)

# %% [markdown]
# ## Files left out
#
# `skipped`: no attribution file of `method` for this audio file (run notebook 02 on it);
# `damaged`: an incomplete or unreadable attribution file (delete it and re-run notebook 02,
# which also recomputes such files by itself).

# %%
left_out = [row for row in report.rows() if row["status"] != "plotted"]
pd.DataFrame(left_out, columns=["file", "status", "detail"]) if left_out else print("No file left out.")

# %% [markdown]
# ## Explorer: any output bin of any file
#
# Pick the method and the file, then the output bin: click it on any of the three panels, or
# use the sliders (frequency in Hz, time in s in the file; the nearest bin is taken).
# The middle panel shows the signed attribution of every input bin to that bin's gain, between
# the input spectrogram and the mask, the bin circled on all three; the pointer's line gives the
# attribution, input level and mask under it. The check box puts every bin on one colour scale
# (the 99th percentile of |attribution| over the file's 16 strongest bins, written on the colour
# bar) instead of each bin's own. Maps-only files recompute each bin exactly with the engine
# (the first bin of a file also runs its forward pass). It starts at the bin with the largest
# total |attribution| of the first file. The explorer needs a live kernel (JupyterLab); the HTML
# report shows that first view as a picture.

# %%
explore(attributions_dir, method, model=model)

# %% tags=["summary"]
summary(report, bands, influence_reach(report.h5_paths(), low_freq_hz, maps=report.maps()), options, low_freq_hz)
