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
# # 04 · Perturbation effects: do the attributions predict what the model does?
#
# An attribution map is a claim: *these* input bins matter for the mask. This notebook tests
# the claim causally on the segment that notebook 02 explained, in two ways.
#
# 1. **Amplify in the audio.** The input bins of the segment are ranked by their global
#    attribution (summed over every output bin of the mask); the top `top_percent` % and the
#    bottom ("flop") `top_percent` % are amplified by `dB_amplification` dB in the file's STFT
#    (complex spectrum times 10^(dB/20), phases kept), the whole file is resynthesised, and
#    The model runs again on the re-analysed segment alone, as in notebook 02. Random selections
#    of the same size are the control.
# 2. **Deletion / insertion curves** directly on the model input (exact, no resynthesis):
#    replace the first *k* ranked bins by the stored baseline, or start from the baseline and
#    put them back, and measure how far the mask moves.
#
# Rankings: `signed` (the original project's) scores a bin by the sum of its signed
# attributions, so `top` = the bins that raise the mask most (relative to the baseline) and
# `flop` = the bins that lower it most. `abs` scores by the sum of |attribution| over all
# outputs (magnitude of involvement, signs cannot cancel): `top` = most involved, `flop` =
# least involved. Logic and conventions are in `xai_helpers/experiments/` (`perturbation.py`, `ranking.py`,
# `curves.py`).
#
# Relative paths are relative to this notebook's folder (`notebooks/`).

# %% tags=["parameters"]
input_path = "../data/noisy"  # an audio file or a folder (notebook 01's noisy files by default)
attributions_dir = "../data/attributions"  # notebook 02's .h5 files
method = "deepliftshap"  # the attribution method whose .h5 files are tested
model = "nsnet2"  # the model whose .h5 files are tested and which enhances the amplified audio (nsnet2 | dtln | gtcrn)
ranking = "signed"  # signed (top: most positive, flop: most negative) | abs (sum of |attribution|)
top_percent = 10.0  # percent of the segment's bins in each of top / flop / random
dB_amplification = 6.0  # gain applied to the selected bins, dB
n_random = 5  # random selections / orders (seeds derived from `seed`)
seed = 0
underlay = True  # the segment's input spectrogram in grey beneath the selection maps
output_dir = "../reports/perturbation"

# %%
from pathlib import Path

from xai_helpers.experiments.perturbation import PerturbationSettings, perturb_files, write_summary
from xai_helpers.experiments.ranking import derived_seeds
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.reports.perturbation import (
    reference_table,
    show_amplification,
    show_areas,
    show_curves,
    show_mask_changes,
    show_quality_changes,
    show_selections,
    status_table,
    summary,
)
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
settings = PerturbationSettings(
    method=method,
    ranking=ranking,
    top_percent=top_percent,
    gain_db=dB_amplification,
    n_random=n_random,
    seed=seed,
    model=model,
)
output = Path(output_dir)
files = list_audio_files(input_path)
print(
    f"{len(files)} file(s) from {input_path}; {model}'s {method} attributions from {attributions_dir}; ranking "
    f"{ranking}; "
    f"top/flop {top_percent:g} % amplified by {dB_amplification:g} dB; {n_random} random seeds "
    f"{derived_seeds(seed, n_random)} (from seed {seed}); output {output_dir}"
)

# %% [markdown]
# ## Perturb every file
#
# Files without an attribution file for `method` are skipped; damaged or incomplete ones, or
# ones whose audio no longer gives the stored features, are reported and left out. When no file
# can be perturbed the notebook stops here with an error naming what `attributions_dir` holds.

# %%
results = perturb_files(files, attributions_dir, output, settings)
done = [result for result in results if result.status == "perturbed"]
status_table(results)

# %% [markdown]
# ## Which bins were amplified
#
# Red bins were amplified by `dB_amplification` dB in the segment (time in seconds from the
# start of the file, frequency in Hz), drawn over the segment's input spectrogram in grey
# (`underlay`); every other bin of the file is untouched. `top` and
# `flop` are the two ends of the ranking, `random` the first control seed. With the signed
# ranking the two ends sit in different places: positive attributions where the input is
# speech-like and the mask should open, negative ones where the input pushes the mask down.

# %%
show_selections(done, dB_amplification, ranking, output, underlay)

# %% [markdown]
# ## How the mask moves when those bins get louder
#
# Each map is the new mask minus the original mask of the segment (red: the model now passes
# more of that bin, blue: less), on one symmetric scale per file. If the attributions are
# read as a local linear model, amplifying the `top` bins of the signed ranking should open
# the mask (mostly red) and amplifying the `flop` bins should close it (mostly blue), each by
# more than a random selection of the same size. The table gives the mean |mask change| (for
# random: mean over seeds ± std), the mean signed change (the sign check) and the realised
# gain: the power gain of the selected bins after resynthesis and re-analysis. It is below the
# requested gain when the selection is scattered, because overlapping STFT frames spread an
# isolated bin's gain to its neighbours: this is the signal the model actually hears.
#
# Players: the explained segment with 0.25 s either side (the text above them says where in the
# file), for the original file and the top, flop and first random amplified versions, each as the
# model's input and as the model's enhanced output, all at their true relative loudness (one common
# scale for the set, never per clip). The whole files are in `output_dir` (`*_enhanced.wav`: the outputs).

# %%
show_mask_changes(done, dB_amplification, output)

# %% [markdown]
# ## What a listener would hear: PESQ, STOI and SI-SDR of the enhanced output
#
# The mask change is the model's view; the listener hears the enhanced speech. The whole
# denoiser runs on the original file and on each amplified one, and the enhanced outputs are
# scored against a reference: the clean speech when notebook 01's JSON record names it
# (`reference` = `clean`), else the enhanced original (`enhanced original`; then the original
# scores are those of a signal with itself, and its SI-SDR is unbounded: `n/a`). Scores:
# PESQ wide band (MOS-LQO, about 1.04 to 4.64), STOI (0 to 1), SI-SDR (dB); the change is
# amplified minus original (random: mean over seeds). Only the explained segment was amplified,
# so whole-file scores move little; the sign is the reading: do the bins the map calls
# important move the listener-level quality more than a random selection of the same size?
# A score that cannot apply shows `n/a`, with the reason in the log.

# %%
quality_changes = show_quality_changes(done)

# %% [markdown]
# ## Deletion and insertion curves
#
# On the model input itself, bins are taken in ranked order (`top` first, `flop` first, or a
# random order for each seed). **Deletion** replaces the first *k* bins by the stored baseline
# (the mean of notebook 02's baselines; for the default `zero` baseline that is silence, the
# log-power floor), **insertion** starts from the baseline and puts the first *k* bins of the
# input back. Each point is the mean |mask(x') - mask(x)| over the segment; the random curve
# is the mean over seeds with a ± std band.
#
# What a faithful ranking looks like: the bins ranked first change the mask most, so its
# deletion curve rises fastest (a **larger deletion area** than random) and its insertion curve
# falls fastest (a **smaller insertion area** than random). That reading needs an order by
# *magnitude*, the usual choice for deletion curves (`ranking = "abs"`): then the expected
# ordering is deletion area top > random > flop and insertion area top < random < flop.
#
# With the signed ranking (the default, as in the original project) both ends are strongly
# involved, with opposite signs, and the bins near zero sit in the middle of the order.
# Deletion and insertion travel all the way between the input and the baseline, and the
# attributions are meant to split that journey, mask(input) - mask(baseline), among the bins:
# the end whose sign matches the sign of that difference should carry it. If the model opens
# the mask *more* for the baseline than for the input (the table below says whether it does),
# the difference is negative and the `flop` bins are expected to give the largest deletion
# area and the smallest insertion area, `top` the reverse. The last column of the table is the
# attributions' own sum per output bin, which a complete method makes equal to that difference:
# where the two disagree, the global (deletion / insertion) test cannot come out cleanly, even
# when the local one (amplification by a few dB, above) does.

# %%
reference_table(done)

# %%
show_curves(done, method, ranking, output)

# %% [markdown]
# ## Areas under the curves
#
# Trapezoid areas over the fraction of bins 0..1 (units: mask gain); for random the mean over
# seeds and its std. First per file, then the mean over files.

# %%
show_areas(done)

# %% [markdown]
# ## Amplification over all files, and the summary file
#
# Mean |mask change| after amplifying top, flop and random selections, per file.
# `perturbation_summary.csv` in `output_dir` holds every number of this notebook in long form
# (file, order, metric, value; the enhanced output's scores as `enhanced_pesq`,
# `enhanced_pesq_change`, `enhanced_stoi[_change]`, `enhanced_si_sdr_db[_change]`), next to the amplified WAVs of top,
# flop and the first random selection (with a JSON sidecar each: the parameters, the seed, the number of bins and the
# source `.h5`), the model's enhanced output of each and of the original (`*_enhanced.wav`), and the PNG figures.

# %%
show_amplification(done)

# %%
summary_path = write_summary(results, output)
print(f"wrote {summary_path} and {sum(len(result.written) for result in done)} audio/JSON files to {output}")

# %% tags=["summary"]
summary(results, settings)
