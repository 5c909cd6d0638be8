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
# # 01 · Data and noise: what NSNet2 hears and what it does
#
# Clean speech is corrupted with a controlled noise (the original project's `--noise_type`
# choices: `not_added`, `sinusoidal`, `white` bursts, `reverberation`, plus white / pink /
# babble noise at a requested SNR), and Microsoft's NSNet2 (the official 16 kHz weights,
# ported to PyTorch) denoises it. For each file the book shows the waveforms, the log-power
# spectrograms the model reads, the gain mask it predicts, the enhanced result, and how much
# it improves SI-SDR. The noisy files, the noise alone and a JSON record of every parameter
# (seed included) are written to `output_dir` for the next notebooks.
#
# Relative paths are relative to this notebook's folder (`notebooks/`).

# %% tags=["parameters"]
input_path = "../data/samples"  # a clean WAV/FLAC file or a folder of them
noise_type = "pink_snr"  # not_added | sinusoidal | white | reverberation | white_snr | pink_snr | babble_snr
freq_ranges = ["1000-2000"]  # sinusoidal: Hz, "lo-hi" strings or [lo, hi] pairs
rms_amplitudes = [0.01]  # sinusoidal / white: RMS (full scale), one per range or one for all
time_ranges = ["0.5-1.2"]  # white: seconds
reverberances = [0.5]  # reverberation: RT60 in seconds, one file per value
snr_db = [5.0]  # *_snr: dB, one file per value
seed = 0
output_dir = "../data/noisy"
sample_rate = 16000  # model rate: 16000 or 48000 Hz

# %%
from xai_helpers.dsp.noise.registry import options_for
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.io.noisy_corpus import make_noisy_corpus
from xai_helpers.reports.noise import corpus_table, show_enhancements, si_sdr_table
from xai_helpers.run.notebook import setup_notebook

setup_notebook()
noise_options = options_for(
    noise_type, freq_ranges=freq_ranges, rms_amplitudes=rms_amplitudes, time_ranges=time_ranges,
    reverberances=reverberances, snr_db=snr_db,
)
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
# noisy = the model's input features, enhanced), and the gain mask NSNet2 predicts
# (1 passes a bin, 0 removes it). The players play clean, noisy and enhanced at their true
# relative loudness.

# %%
scores = show_enhancements(corpus, sample_rate)

# %% [markdown]
# ## SI-SDR against the clean speech
#
# Scale-invariant SDR of the noisy input and of NSNet2's output, in dB; the last column is the
# improvement the model brings.

# %%
si_sdr_table(scores)
