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
# # 01 · Data and noise: what the enhancer hears and what it does
#
# Clean speech is corrupted with a controlled noise (the original project's `--noise_type`
# choices: `not_added`, `sinusoidal`, `white` bursts, `reverberation`, plus white / pink /
# babble noise at a requested SNR and `room_reverberation`, a simulated shoebox room), and
# an enhancer denoises it: `model` is Microsoft's NSNet2 (default), DTLN or GTCRN, each from its
# official weights ported to PyTorch (`xai_helpers.models.registry`). For each file
# the book shows the waveforms, the log-power spectrograms the model reads, the gain mask it
# predicts, the enhanced result, and how much it improves PESQ, STOI and SI-SDR. The noisy
# files, the noise alone (and a room's impulse response) and a JSON record of every parameter
# (seed included) are written to `output_dir` for the next notebooks; it must lie outside
# `input_path`, so that a second run never takes its own noisy files for clean speech.
#
# Relative paths are relative to this notebook's folder (`notebooks/`).

# %% tags=["parameters"]
input_path = "../data/samples"  # a clean WAV/FLAC file or a folder of them
# not_added | sinusoidal | white | reverberation | white_snr | pink_snr | babble_snr | room_reverberation
noise_type = "pink_snr"
freq_ranges = ["1000-2000"]  # sinusoidal: Hz, "lo-hi" strings or [lo, hi] pairs
rms_amplitudes = [0.01]  # sinusoidal / white: RMS (full scale), one per range or one for all (pairs)
combine = (
    "pairs"  # sinusoidal / white: pairs (one file, range i at amplitude i) | grid (one file per range and amplitude)
)
time_ranges = ["0.5-1.2"]  # white: seconds
reverberances = [0.5]  # reverberation / room_reverberation: RT60 in seconds, one file per value
room_dim_m = [6.0, 5.0, 3.0]  # room_reverberation: length, width, height of the room, m
source_mic_distance_m = 1.5  # room_reverberation: source-microphone distance, m
snr_db = [5.0]  # *_snr: dB, one file per value
seed = 0
output_dir = "../data/noisy"
model = "nsnet2"  # nsnet2 | dtln | gtcrn, or an import path "package.module:function" returning a MaskModel
sample_rate = 16000  # model rate: nsnet2 16000 or 48000 Hz; dtln and gtcrn 16000 Hz (others are resampled to it)
segment_start_s = 0.5  # notebook 02's explained segment, marked on the figures: start, s in the file
segment_duration_s = 0.2  # its duration in s (None: whole files, nothing marked)
snr_threshold_db = 0.0  # speech-dominant mask: the bins whose SNR exceeds this, dB

# %%
from xai_helpers.dsp.noise.registry import options_for
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.io.noisy_corpus import make_noisy_corpus
from xai_helpers.io.paths import check_output_dir
from xai_helpers.reports.noise import (
    corpus_table,
    quality_table,
    show_enhancements,
    style_quality_table,
    summary,
    write_quality_table,
)
from xai_helpers.models.registry import model_sample_rate
from xai_helpers.reports.snr import explained_segment, show_snr_maps
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
sample_rate = model_sample_rate(model, sample_rate)
noise_options = options_for(
    noise_type,
    freq_ranges=freq_ranges,
    rms_amplitudes=rms_amplitudes,
    time_ranges=time_ranges,
    reverberances=reverberances,
    snr_db=snr_db,
    room_dim_m=room_dim_m,
    source_mic_distance_m=source_mic_distance_m,
    combine=combine,
)
check_output_dir(output_dir, input_path=input_path)
clean_files = list_audio_files(input_path)
print(f"{len(clean_files)} clean file(s) from {input_path}; noise {noise_type} {noise_options}; seed {seed}")

# %% [markdown]
# ## Inject the noise and write the noisy corpus

# %%
corpus = make_noisy_corpus(clean_files, output_dir, noise_type, sample_rate=sample_rate, seed=seed, **noise_options)
corpus_table(corpus)

# %% [markdown]
# ## Each file: input, mask, output
#
# Top: waveforms. Then the log10 power spectrograms on one shared colour scale (clean,
# noisy = the model's input features, enhanced), and the gain mask the model (`model`) predicts
# (1 passes a bin, 0 removes it; for GTCRN the modulus of its complex mask, which can exceed 1). The players play clean,
# noisy and enhanced at their true relative loudness. The dashed box is the segment notebook 02 explains
# (`segment_start_s`, `segment_duration_s`; time is in seconds from the start of the file).

# %%
segment = explained_segment(segment_start_s, segment_duration_s)
scores = show_enhancements(corpus, sample_rate, segment, model)

# %% [markdown]
# ## SNR of every bin, speech-dominant bins and the mask for the zero signal
#
# From each file's clean speech and its noise alone (the files its JSON record names): the SNR of
# every time-frequency bin, `10 log10 |S|^2 / |N|^2` in dB (red: speech stronger); the
# speech-dominant binary mask, the bins whose SNR exceeds `snr_threshold_db` (the ideal binary
# mask a perfect suppressor would approach); and the mask the model predicts for the zero signal
# (every bin at the log-power floor), the `zero` baseline that DeepLift and DeepLiftShap explain
# the mask's change from in notebook 02. The explained segment is marked.

# %%
show_snr_maps(corpus, sample_rate, segment, snr_threshold_db, model)

# %% [markdown]
# ## PESQ, STOI and SI-SDR against the clean speech
#
# The speech-enhancement field's scores of the noisy input and of the model's output, each with the
# improvement the model brings (enhanced - noisy): **PESQ** (ITU-T P.862.2 wide band, MOS-LQO
# from about 1.04 to 4.64; at 48 kHz both signals are resampled to 16 kHz first, since P.862
# hears only up to 8 kHz), **STOI** (intelligibility, 0 to 1) and **SI-SDR** (scale-invariant
# signal-to-distortion ratio, dB). A score that cannot apply to a file (PESQ needs at least
# 0.25 s and speech its detector finds, STOI about 0.4 s of speech) shows `n/a`, with the reason
# in the log above. The table is also written to `output_dir/enhancement_quality.csv`.

# %%
quality = quality_table(scores)
print(f"wrote {write_quality_table(quality, output_dir)}")
style_quality_table(quality)

# %% tags=["summary"]
summary(corpus, quality, noise_type, noise_options)
