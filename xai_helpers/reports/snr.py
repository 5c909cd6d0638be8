"""Notebook 01's SNR section: for each noisy file, the SNR of every bin from its clean speech and its
noise (the files named in its JSON record), the speech-dominant binary mask and the mask the model
predicts for the zero signal, with notebook 02's explained segment marked."""

from __future__ import annotations

from collections.abc import Sequence

from IPython.display import display

from ..dsp.snr import snr_map_db
from ..io.audio import load_audio
from ..io.noisy_corpus import NoisyFile, read_record
from ..models.cache import cached_model
from ..models.registry import DEFAULT_MODEL
from ..models.zero_signal import zero_signal_mask
from ..plots.overview import plot_snr_overview


def explained_segment(segment_start_s: float, segment_duration_s: float | None) -> tuple[float, float] | None:
    """``(start_s, duration_s)`` of notebook 02's segment to mark, or ``None`` for a whole file
    (``segment_duration_s=None``); ``ValueError`` naming the parameter for a negative start or a
    non-positive duration."""
    if segment_duration_s is None:
        return None
    if segment_start_s < 0 or segment_duration_s <= 0:
        raise ValueError(
            f"segment_start_s must be >= 0 and segment_duration_s > 0 or None (s), got {segment_start_s} and "
            f"{segment_duration_s}"
        )
    return float(segment_start_s), float(segment_duration_s)


def show_snr_maps(
    corpus: Sequence[NoisyFile],
    sample_rate: int,
    segment_s: tuple[float, float] | None = None,
    threshold_db: float = 0.0,
    model: str = DEFAULT_MODEL,
) -> None:
    """Display :func:`~xai_helpers.plots.overview.plot_snr_overview` of every file of ``corpus``: its clean
    speech as the corpus holds it (``item.clean``, the file its record names, loaded at ``sample_rate``) and
    its noise read from the file its record names (``ValueError`` naming the file if it has no record)."""
    model = cached_model(sample_rate, "cpu", model)
    config = model.stft_config(sample_rate)
    for item in corpus:
        record = read_record(item.noisy_path)
        if not record or not record.get("clean_path") or not record.get("noise_path"):
            raise ValueError(
                f"{item.noisy_path}: no JSON record naming its clean and noise files (written by notebook 01)"
            )
        noise = load_audio(record["noise_path"], sample_rate, check=False)
        snr_db = snr_map_db(item.clean, noise, config)
        zero_mask = zero_signal_mask(snr_db.shape[1], sample_rate, model)
        display(
            plot_snr_overview(
                snr_db,
                zero_mask,
                config.frequencies_hz(),
                config.frame_times_s(snr_db.shape[1]),
                threshold_db,
                segment_s,
                title=item.name,
                model=model.name,
            )
        )
