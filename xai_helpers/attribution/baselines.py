"""Reference inputs ("baselines") for DeepLIFT, SHAP-style and path methods, in log-power units.

Every baseline is an array ``[K, F, T]`` shaped like the explained segment's features ``[F, T]``:

==============  ===  ==========================================================================
name            K    baseline
==============  ===  ==========================================================================
``zero``        1    the zero signal: the log-power floor, ``log10(1e-12) = -12`` in every bin
``noise``       1    the features of the injected noise alone (known for notebook 01's files)
``clean``       1    the features of the clean speech (known for notebook 01's files)
``mean``        1    the segment's mean spectrum, the same in every frame
``shuffled``    K    K spectrograms whose frames are drawn at random (with replacement) from the
                     segment's own frames: a distribution of speech-plus-noise frames with the
                     time structure destroyed (seeded)
``noise_frames`` K   likewise, drawing frames from the known noise alone
==============  ===  ==========================================================================
"""

from __future__ import annotations

import numpy as np

from ..dsp.stft import LOG_POWER_FLOOR

BASELINES = ("zero", "noise", "clean", "mean", "shuffled", "noise_frames")
DISTRIBUTION_BASELINES = ("shuffled", "noise_frames")


def make_baselines(
    name: str,
    features: np.ndarray,
    *,
    n_baselines: int = 1,
    seed: int = 0,
    noise_features: np.ndarray | None = None,
    clean_features: np.ndarray | None = None,
) -> np.ndarray:
    """Baselines ``[K, F, T]`` (log10 power) named ``name`` for the segment ``features`` ``[F, T]``.

    ``n_baselines`` (K) applies to the distribution baselines (``shuffled``, ``noise_frames``); the
    others are single references and K must be 1. ``noise_features`` / ``clean_features`` ``[F, T]``
    are the features of the known noise / clean speech over the same segment. Raises ``ValueError``
    for an unknown name, K < 1, K > 1 on a single reference, or a missing or mis-shaped reference.
    """
    if name not in BASELINES:
        raise ValueError(f"baseline: unknown {name!r}; choose one of {', '.join(BASELINES)}")
    if n_baselines < 1:
        raise ValueError(f"n_baselines must be at least 1, got {n_baselines}")
    if n_baselines > 1 and name not in DISTRIBUTION_BASELINES:
        raise ValueError(
            f"baseline {name!r} is a single reference; n_baselines={n_baselines} needs one of {DISTRIBUTION_BASELINES}"
        )
    features = np.asarray(features, dtype=np.float32)
    if name == "zero":
        return np.full((1, *features.shape), np.log10(LOG_POWER_FLOOR), dtype=np.float32)
    if name == "mean":
        return np.repeat(features.mean(axis=1, keepdims=True), features.shape[1], axis=1)[None]
    reference = {"noise": noise_features, "noise_frames": noise_features, "clean": clean_features}.get(name, features)
    if reference is None:
        known = "noise" if "noise" in name else "clean speech"
        raise ValueError(f"baseline {name!r} needs the {known} of this file, which is not known (no noise record)")
    reference = np.asarray(reference, dtype=np.float32)
    if reference.shape != features.shape:
        raise ValueError(
            f"baseline {name!r}: reference shape {reference.shape} differs from the features' {features.shape}"
        )
    if name in ("noise", "clean"):
        return reference[None]
    frames = np.random.default_rng(seed).integers(0, reference.shape[1], size=(n_baselines, reference.shape[1]))
    return np.stack([reference[:, picks] for picks in frames])
