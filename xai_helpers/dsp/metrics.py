"""Signal-level quality measures."""

from __future__ import annotations

import numpy as np


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019) of ``estimate`` ``[N]``.

    Both signals are made zero-mean; the reference is scaled optimally before the error is taken.
    """
    estimate = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    reference = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    if estimate.shape != reference.shape:
        raise ValueError(f"si_sdr needs equal shapes, got {estimate.shape} and {reference.shape}")
    energy = np.dot(reference, reference)
    if energy == 0:
        raise ValueError("si_sdr: the reference is silent")
    target = np.dot(estimate, reference) / energy * reference
    residual = estimate - target
    return float(10 * np.log10(np.dot(target, target) / max(np.dot(residual, residual), 1e-30)))
