"""Audio players for the reports: waveforms as labelled HTML players at their true relative loudness."""

from __future__ import annotations

import html

import numpy as np


def common_scale(waves: list[np.ndarray]) -> float:
    """The one factor every clip of a set is multiplied by: 1, or ``1 / peak`` when the largest
    absolute sample of the set exceeds full scale (so none clips and their loudness ratios are kept)."""
    peak = max((float(np.abs(np.asarray(w)).max()) for w in waves if np.asarray(w).size), default=0.0)
    return 1.0 / peak if peak > 1.0 else 1.0


def _player(wave: np.ndarray, scale: float, sample_rate: int) -> str:
    from IPython.display import Audio

    return Audio(np.asarray(wave) * scale, rate=sample_rate, normalize=False)._repr_html_()


def _scale_note(scale: float) -> str:
    return f"<i>all clips scaled by {scale:.3f} to avoid clipping</i>" if scale != 1.0 else ""


def audio_players(waves: dict[str, np.ndarray], sample_rate: int) -> str:
    """HTML with one labelled player per waveform, all scaled by one common factor.

    ``normalize=False`` keeps relative loudness; if any peak exceeds full scale, every clip is
    divided by the same factor (:func:`common_scale`) so none clips and their relation is kept.
    """
    scale = common_scale(list(waves.values()))
    rows = [
        f"<div style='display:flex;align-items:center;gap:1em'><b style='width:7em'>{html.escape(name)}</b>"
        f"{_player(wave, scale, sample_rate)}</div>"
        for name, wave in waves.items()
    ]
    return "".join(rows) + _scale_note(scale)


def audio_grid(waves: dict[str, dict[str, np.ndarray]], sample_rate: int, caption: str = "") -> str:
    """HTML table of players: one row per outer key, one column per inner key (``{"top": {"input": ...,
    "enhanced": ...}}``), every clip scaled by one common factor (:func:`common_scale`), never per clip;
    a missing cell stays empty. ``caption`` (HTML) goes above the table."""
    columns = list(dict.fromkeys(column for row in waves.values() for column in row))
    scale = common_scale([wave for row in waves.values() for wave in row.values()])
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{_player(row[column], scale, sample_rate) if column in row else ''}</td>" for column in columns)
        + "</tr>"
        for name, row in waves.items()
    )
    caption_html = f"<caption>{caption}</caption>" if caption else ""
    return f"<table class='xai-players'>{caption_html}<tr><th></th>{head}</tr>{body}</table>" + _scale_note(scale)
