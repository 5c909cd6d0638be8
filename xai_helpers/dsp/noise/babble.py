"""Multi-talker babble made of other utterances (``babble_snr``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..wave import check_wave, rms
from .parsing import check_positive_int, check_seed

DEFAULT_TALKERS = 4
"""Number of talkers summed by :func:`babble_noise` unless told otherwise."""


def babble_noise(
    n_samples: int, sources: Sequence[np.ndarray], seed: int, n_talkers: int = DEFAULT_TALKERS
) -> np.ndarray:
    """Multi-talker babble ``[n_samples]``: the sum of ``n_talkers`` utterances from ``sources``.

    ``sources`` are 1-D utterances ``[n_i]`` at the caller's sample rate (use other utterances than
    the clean one). Talkers are drawn from ``sources`` without replacement when there are enough,
    with replacement otherwise. Each talker starts at a random offset into its utterance, is looped
    (wrapping around) or cropped to ``n_samples``, and is scaled to unit RMS over its whole
    utterance, so all talkers have equal level. The sum is not renormalised (see :func:`mix_at_snr`).
    """
    n_samples = check_positive_int(n_samples, name="n_samples")
    n_talkers = check_positive_int(n_talkers, name="n_talkers")
    if isinstance(sources, np.ndarray) or len(sources) == 0:
        raise ValueError(f"babble_sources: expected a non-empty list of 1-D utterances, got {type(sources).__name__}")
    utterances = [check_wave(source, name=f"babble_sources[{i}]") for i, source in enumerate(sources)]
    for i, utterance in enumerate(utterances):
        if not np.any(utterance):
            raise ValueError(f"babble_sources[{i}]: the utterance is all zeros (silent)")
    rng = np.random.default_rng(check_seed(seed))
    chosen = rng.choice(len(utterances), size=n_talkers, replace=len(utterances) < n_talkers)
    babble = np.zeros(n_samples)
    for index in chosen:
        utterance = utterances[index]
        offset = int(rng.integers(len(utterance)))
        babble += np.resize(np.roll(utterance, -offset), n_samples) / rms(utterance)
    return babble
