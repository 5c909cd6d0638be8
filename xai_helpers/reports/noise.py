"""Notebook 01's sections: each noisy file through the denoiser, and the SI-SDR table."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from IPython.display import HTML, display

from ..dsp.metrics import si_sdr
from ..io.noisy_corpus import NoisyFile
from ..models.enhance import enhance_details
from ..plots.overview import plot_enhancement_overview
from .audio import audio_players


def show_enhancements(corpus: Sequence[NoisyFile], sample_rate: int) -> list[dict[str, object]]:
    """Run the denoiser on every noisy file, display its overview figure and players (clean, noisy,
    enhanced), and return one row per file: SI-SDR (dB) of the noisy input and of the enhanced output."""
    scores = []
    for item in corpus:
        result = enhance_details(item.noisy, sample_rate)
        display(plot_enhancement_overview(result, clean=item.clean, title=item.name))
        display(HTML(audio_players({"clean": item.clean, "noisy": item.noisy, "enhanced": result.enhanced}, sample_rate)))
        scores.append({
            "file": item.name,
            "SI-SDR noisy (dB)": si_sdr(item.noisy, item.clean),
            "SI-SDR enhanced (dB)": si_sdr(result.enhanced, item.clean),
        })
    return scores


def si_sdr_table(scores: list[dict[str, object]]) -> pd.DataFrame:
    """The rows of :func:`show_enhancements` by file, with the improvement (dB), rounded to 0.01 dB."""
    table = pd.DataFrame(scores).set_index("file")
    table["improvement (dB)"] = table["SI-SDR enhanced (dB)"] - table["SI-SDR noisy (dB)"]
    return table.round(2)


def corpus_table(corpus: Sequence[NoisyFile]) -> pd.DataFrame:
    """One row per noisy file: its name, derived seed and achieved SNR (dB)."""
    return pd.DataFrame(
        [{"file": item.noisy_path.name, "seed": item.params["derived_seed"], "achieved SNR (dB)": item.params["achieved_snr_db"]}
         for item in corpus]
    )
