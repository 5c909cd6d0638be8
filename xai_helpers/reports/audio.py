"""Audio players for the reports: waveforms as labelled HTML players at their true relative loudness."""

from __future__ import annotations

import numpy as np

def audio_players(waves: dict[str, np.ndarray], sample_rate: int) -> str:
    """HTML with one labelled player per waveform, all scaled by one common factor.

    ``normalize=False`` keeps relative loudness; if any peak exceeds full scale, every clip is
    divided by the same factor so none clips and their relation is kept.
    """
    from IPython.display import Audio

    peak = max(float(np.abs(w).max()) for w in waves.values())
    scale = 1.0 / peak if peak > 1.0 else 1.0
    rows = []
    for name, wave in waves.items():
        player = Audio(np.asarray(wave) * scale, rate=sample_rate, normalize=False)._repr_html_()
        rows.append(f"<div style='display:flex;align-items:center;gap:1em'><b style='width:7em'>{name}</b>{player}</div>")
    note = f"<i>all clips scaled by {scale:.3f} to avoid clipping</i>" if scale != 1.0 else ""
    return "".join(rows) + note
