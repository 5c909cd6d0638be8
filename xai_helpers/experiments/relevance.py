"""Speech relevance: how much of a model's attribution lies on the input bins where speech dominates, set against
how much of the input those bins are (area) and carry (energy).

The SNR of every input bin (:func:`~xai_helpers.dsp.snr.snr_map_db`) comes from the clean speech and the noise
alone that the noisy corpus writes beside each noisy file, analysed in the explained model's *own* STFT, so the
bins are the ones that model reads. With ``threshold_db`` (default 0 dB):

==========================  ============================================================================
``speech_relevance``        share of ``sum |a|`` (the global map) on speech-dominant bins (SNR > threshold)
``speech_area_share``       share of the input's bins that are speech-dominant
``speech_energy_share``     share of the noisy input's power (``10 ** features``) on those bins
``speech_enrichment``       ``speech_relevance / speech_energy_share``: above 1 the model attends to speech
                            bins more than their energy alone would predict
``noise_*``                 the same for noise-dominant bins (SNR < -threshold); bins within
                            ``[-threshold, threshold]`` (and silence against silence, 0 dB) are neither
==========================  ============================================================================

Every value is a share of a total, so maps of different grids and units compare.
"""

from __future__ import annotations

import numpy as np

from ..dsp.snr import speech_dominant_mask

KINDS = ("speech", "noise")
SHARES = ("relevance", "area_share", "energy_share", "enrichment")
"""The four numbers of each kind (metric names ``{kind}_{share}``)."""


def dominance_masks(snr_db, threshold_db: float = 0.0) -> dict[str, np.ndarray]:
    """``{"speech": SNR > threshold, "noise": SNR < -threshold}`` (boolean ``[F, T]``) of ``snr_db`` ``[F, T]`` (dB)."""
    if threshold_db < 0:
        raise ValueError(
            f"snr_threshold_db must be >= 0 dB (noise-dominant bins lie below its negative), got {threshold_db}"
        )
    snr = np.asarray(snr_db, dtype=np.float64)
    return {"speech": speech_dominant_mask(snr, threshold_db), "noise": speech_dominant_mask(-snr, threshold_db)}


def dominance_shares(global_abs, snr_db, log_power, threshold_db: float = 0.0) -> dict[str, float]:
    """The metrics of the module docstring (``speech_relevance``, ..., ``noise_enrichment``) for a global map
    ``global_abs`` ``[F, T]`` (``sum |a|`` over every output bin, any scale), the SNR ``snr_db`` ``[F, T]`` (dB) and
    the noisy input's ``log_power`` ``[F, T]`` (log10 power). Relevance is NaN for an all-zero map, enrichment
    NaN where the bins hold no energy."""
    a = np.abs(np.asarray(global_abs, dtype=np.float64))
    snr = np.asarray(snr_db, dtype=np.float64)
    power = 10.0 ** np.asarray(log_power, dtype=np.float64)
    if not a.shape == snr.shape == power.shape or a.ndim != 2:
        raise ValueError(
            f"global_abs, snr_db and log_power must share one [F, T] shape, got {a.shape}, {snr.shape}, {power.shape}"
        )
    total, energy = a.sum(), power.sum()
    shares = {}
    for kind, mask in dominance_masks(snr, threshold_db).items():
        relevance = float(a[mask].sum() / total) if total > 0 else float("nan")
        energy_share = float(power[mask].sum() / energy)
        shares.update(
            {
                f"{kind}_relevance": relevance,
                f"{kind}_area_share": float(mask.mean()),
                f"{kind}_energy_share": energy_share,
                f"{kind}_enrichment": relevance / energy_share if energy_share > 0 else float("nan"),
            }
        )
    return shares
