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
# # 02 · Attributions on every time-frequency bin
#
# For each explained output of the enhancer (`model`: NSNet2 by default, DTLN or GTCRN) — every bin
# `(f_out, t_out)` of its gain mask (or of its logit, or of the log power of its enhanced output) in a
# segment (the 4-D case of the original project), one bin, or the sum over output regions —
# the attribution over every input bin `(f_in, t_in)` of the log-power spectrogram in the model's
# own STFT (DTLN and GTCRN read magnitudes or complex spectra: they get them from it with the
# input's phase held fixed, so the baselines mean the same for every model), over
# grouped input regions, or over the hidden units of a layer. One `.h5` file per input file
# and configuration is written to `output_dir` (layout in `xai_helpers/store/writer.py`).
#
# The segment is cut out and the model runs on it alone (its recurrent state starts at the
# segment's first frame), so the stored `input_features` are exactly what the model saw.
# A re-run skips complete files and recomputes incomplete or damaged ones.
#
# `store`: `"full"` writes the 4-D tensor (it grows with the square of the duration: about
# 1 GB for a 1 s clip), `"maps"` only the influence maps of notebooks 03 and 04 (group `maps/`,
# size linear in duration; single output bins are recomputed exactly on demand), `"auto"` maps for
# whole files (`segment_duration_s = None`) and full for segments. Besides the segment, the first
# `whole_files` files are explained whole in maps mode (`-1`: all of them; each 2.2 s file costs
# the engine's work, tens of seconds on a 2-core CPU, well under a second on a GPU).

# %% tags=["parameters"]
input_path = "../data/noisy"  # an audio file or a folder (notebook 01's noisy files by default)
# deepliftshap deeplift gradientshap integratedgradients saliency inputxgradient occlusion kernelshap lime fgsm
method = "deepliftshap"
model = "nsnet2"  # nsnet2 | dtln | gtcrn, or an import path "package.module:function" returning a MaskModel
# mask (the gain on the magnitude) | logit (before the sigmoid; nsnet2, dtln) | output (log10 power of the enhanced
# spectrum)
target = "mask"
outputs = "all_bins"  # all_bins | bin | regions
output_bin = [1000.0, 0.1]  # for outputs bin: [frequency Hz, time s from the segment start]
output_regions = ["0-1000Hz@0.05-0.15s"]  # for outputs regions: "LO-HIHz@START-ENDs" or [f_lo, f_hi, t_lo, t_hi]
features = "bins"  # bins | regions | latent
feature_band_hz = 1000.0  # for features regions: band height, Hz
feature_span_s = 0.1  # for features regions: segment length, s
baseline = "zero"  # zero noise clean mean shuffled noise_frames
n_baselines = 1  # K, for the distribution baselines (shuffled, noise_frames)
n_samples = 25  # GradientShap samples, IntegratedGradients steps, KernelShap/Lime perturbations
segment_start_s = 0.5
segment_duration_s = 0.2
dtype = "float32"  # float32 | float16 (maps scaled per target, ~3 significant digits)
# complete (DeepLIFT rules inside the GRUs; attributions add up) | captum (Captum's DeepLift: plain gradients through
# the GRUs)
deeplift_rule = "complete"
product_rule = (
    "shapley"  # complete rule's products: shapley | gate_as_weight (LRP convention) | gradient (does not add up)
)
store = "auto"  # auto (maps for whole files, full for segments) | maps | full
whole_files = (
    1  # also explain this many files whole in maps mode (-1: all; 0: none; engine methods on all bins over input bins)
)
backend = "auto"  # auto (fast exact engine where it applies) | engine | captum
output_dir = "../data/attributions"
seed = 0
device = "cpu"  # or "cuda"
sample_rate = 16000  # model rate: 16000 or 48000 Hz (the audio is resampled to it)

# %%
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.attribution.explain import ExplainConfig, explain_files
from xai_helpers.reports.attributions import results_table, summary
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
config = ExplainConfig(
    method=method,
    target=target,
    outputs=outputs,
    output_bin=tuple(output_bin),
    output_regions=output_regions,
    features=features,
    feature_band_hz=feature_band_hz,
    feature_span_s=feature_span_s,
    baseline=baseline,
    n_baselines=n_baselines,
    n_samples=n_samples,
    segment_start_s=segment_start_s,
    segment_duration_s=segment_duration_s,
    dtype=dtype,
    deeplift_rule=deeplift_rule,
    backend=backend,
    seed=seed,
    sample_rate=sample_rate,
    store=store,
    model=model,
    product_rule=product_rule,
)
files = list_audio_files(input_path)
rule = f"DeepLIFT rule {config.applied_deeplift_rule}, " if config.applied_deeplift_rule else ""
print(
    f"{len(files)} file(s); model {config.model}; {config.method} on {config.outputs} / {config.features}, target "
    f"{config.target}, "
    f"baseline {config.baseline} (K={config.n_baselines}), segment {segment_start_s} s + {segment_duration_s} s, {rule}"
    f"backend {'engine' if config.uses_engine() else 'captum'}, store {config.store_mode()}, seed {seed}, device "
    f"{device}"
)

# %% [markdown]
# ## Compute and store
#
# A bar over the files shows the time left; each file's own bar, over its output frames, runs under it.

# %%
results = explain_files(files, output_dir, config, device=device)

# %% [markdown]
# ## Whole files, influence maps only
#
# The same configuration on whole files with `store="maps"`: the maps of every output bin,
# reduced on the model's device chunk by chunk (no 4-D tensor is written).

# %%
import dataclasses

whole = files if whole_files < 0 else files[:whole_files]
whole_results = []
if whole and config.uses_engine() and config.has_maps():
    whole_config = dataclasses.replace(config, segment_start_s=0.0, segment_duration_s=None, store="maps")
    whole_results = explain_files(whole, output_dir, whole_config, device=device, description="whole files")

# %% [markdown]
# ## Summary per file
#
# `delta` is the convergence delta of each explained output: the sum of its attributions
# minus its change from baseline to input (for DeepLiftShap, minus the mean change over the
# baselines), in units of the explained quantity (the mask lies in 0..1). A complete method
# has deltas of zero; the table gives the median and largest |delta| per file.
#
# DeepLift and DeepLiftShap follow `deeplift_rule`:
#
# * `complete` (default): DeepLIFT's rules are carried inside the recurrent layers (NSNet2's GRUs,
#   DTLN's LSTMs, GTCRN's grouped GRUs and attention) — the rescale rule on every gate's sigmoid and
#   tanh, products such as `z * h_prev` split between their two factors the Shapley way (`product_rule`
#   chooses another split) — so every local step adds up and so does the whole map: the deltas are
#   float32 rounding. With this notebook's defaults (notebook 01's eight files with pink noise at
#   5 dB, zero baseline, 25,760 output bins) their median is 1.6e-7 and their largest 1.3e-6 mask
#   units. Only the engine computes it: NSNet2's hand-derived one, or the generic rule engine for
#   any other model (`xai_helpers.attribution.fast_engine`).
# * `captum`: Captum's `DeepLift`, which applies the rescale rule to NSNet2's ReLUs and sigmoid
#   but treats the inside of the GRUs with plain gradients. Its maps do not add up on this
#   model: with the same defaults the median |delta| is 1.1 and the largest 4.0 mask units, more
#   than the whole range of the mask they explain. Kept to compare with, and to reproduce the
#   original project's numbers.
#
# Other methods: Integrated Gradients and GradientShap approach completeness as `n_samples`
# grows; Saliency, InputXGradient, Occlusion and the rest have no delta.

# %%
results_table(results + whole_results)

# %% tags=["summary"]
summary(results, whole_results, config)
