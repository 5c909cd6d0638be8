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
# # 03 · Visualising the attributions
#
# Notebook 02 stored, for each input file, the attribution of every output bin `(f_out, t_out)`
# of NSNet2's gain mask to every input bin `(f_in, t_in)` of the log-power spectrogram: a 4-D
# tensor `[f_out, t_out, f_in, t_in]`. Too large to look at directly, it is summed into maps:
# which input bins matter overall, which input frames feed which output frames, which input
# frequencies feed which output frequencies, which input frames act alike, and what one output
# bin looks at. Each plot is written as a PNG to `output_dir` and shown below with a few lines
# on how to read it. At the end an explorer picks any output bin of any file.
#
# `aggregation` says how attributions are summed: `abs_sum` adds their magnitudes (how much
# an input is involved; signs cannot cancel), `signed_sum` adds their signs too (the net
# effect: red raises the gain, blue lowers it). Times are seconds from the start of the
# explained segment, frequencies bin centres in Hz. Relative paths are relative to this
# notebook's folder (`notebooks/`).

# %% tags=["parameters"]
input_path = "../data/noisy"  # an audio file or a folder: the files explained by notebook 02
attributions_dir = "../data/attributions"  # notebook 02's output_dir
method = "deepliftshap"  # the attribution method whose files are plotted
low_freq_hz = 1000.0  # the low-frequency variant keeps output frequencies up to this, Hz
aggregation = "abs_sum"  # abs_sum (magnitudes) | signed_sum (net, signs cancel)
output_dir = "../reports/figures"  # PNG files: {attribution file}_{aggregation}_{plot}.png

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from xai_helpers.plots.files import plot_batch, plot_caption
from xai_helpers.plots.explorer import explore
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
print(f"{method} attributions of {input_path} from {attributions_dir}; aggregation {aggregation}; "
      f"low-frequency view <= {low_freq_hz:g} Hz; figures -> {output_dir}")

# %% [markdown]
# ## Plot every file
#
# Files without an attribution file for `method` are skipped; incomplete or damaged
# attribution files (an interrupted run, a truncated copy) are left out with a warning. Both
# are listed at the end.

# %%
report = plot_batch(input_path, attributions_dir, method, low_freq_hz, aggregation, output_dir)
print(report.summary())

# %% [markdown]
# ## The plots, file by file
#
# For each attribution file: the input and the mask of the explained segment, then the
# influence maps (summed with `aggregation`, written on each figure), then the map of one
# output bin. The PNG files just written are shown (`item.figures` holds the same figures as
# matplotlib objects, e.g. to restyle one).

# %%
for item in report.plotted:
    display(Markdown(f"### {item.h5_path.name}\nAudio file `{item.source.name}`; figures in `{output_dir}`."))
    for name, png in item.png_paths.items():
        display(Markdown(plot_caption(name, aggregation, low_freq_hz)))
        display(Image(filename=png))

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
# use the sliders (frequency in Hz, time in s from the segment start; the nearest bin is taken).
# The middle panel shows the signed attribution of every input bin to that bin's gain, between
# the input spectrogram and the mask, the bin circled on all three; the pointer's line gives the
# attribution, input level and mask under it. The check box puts every bin on one colour scale
# (the 99th percentile of |attribution| over the file's 16 strongest bins, written on the colour
# bar) instead of each bin's own. Maps-only files recompute each bin exactly with the engine
# (the first bin of a file also runs its forward pass). It starts at the bin with the largest
# total |attribution| of the first file. The explorer needs a live kernel (JupyterLab); the HTML
# report shows that first view as a picture.

# %%
explore(attributions_dir, method)
