"""Tables as the reports show them: a caption, numbers in numeric order, ``n/a`` for missing values.

:func:`captioned` is the one way a notebook displays a table: a pandas ``Styler`` with a caption
(the ``<caption>`` of the HTML table), a fixed number of decimals and :data:`NA` where a value is
missing; columns without any value can be left out (the caption then says which). Labels are put
in order with :func:`sort_labels`: :func:`numeric_key` orders labels such as ``"level -20 dB"``,
``"level -10 dB"``, ``"level 0 dB"`` by their number (text order would give -10, -20, 0), and
:func:`order_key` by a given sequence (a model's layers, for example).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from ..experiments.faithfulness import condition_level_db
from ..plots.style import NA

__all__ = ["NA", "captioned", "numeric_key", "order_key", "sort_labels"]


def numeric_key(label: object) -> tuple:
    """Sort key: labels holding a number first, in the order of their first number (read by
    :func:`~xai_helpers.experiments.faithfulness.condition_level_db`: a sign, the minus sign ``−``, decimals and
    exponents), then the others in text order."""
    text = str(label)
    number = condition_level_db(text)
    return (1, 0.0, text) if number is None else (0, number, text)


def order_key(order: Sequence[str]) -> Callable[[object], tuple]:
    """Sort key: labels equal to an entry of ``order``, in the order of ``order``; the others after,
    in text order."""
    rank = {entry: i for i, entry in enumerate(dict.fromkeys(str(entry) for entry in order))}

    def key(label: object) -> tuple:
        text = str(label)
        return (0, rank[text], text) if text in rank else (1, 0, text)

    return key


def sort_labels(
    frame: pd.DataFrame, key: Callable[[object], tuple] = numeric_key, axis: str = "columns", level: int = -1
) -> pd.DataFrame:
    """``frame`` with the labels of ``axis`` (``"columns"`` or ``"index"``) sorted by ``key``.

    On a MultiIndex only ``level`` is sorted, within each group of the other levels, which keep the
    order in which they first appear: ``(mean, -10 dB), (mean, -20 dB), (std, -10 dB), ...`` becomes
    ``(mean, -20 dB), (mean, -10 dB), (std, -20 dB), ...``. The sort is stable.
    """
    if axis not in ("columns", "index"):
        raise ValueError(f"axis must be 'columns' or 'index', got {axis!r}")
    labels = frame.columns if axis == "columns" else frame.index
    if isinstance(labels, pd.MultiIndex):
        if not -labels.nlevels <= level < labels.nlevels:
            raise ValueError(f"level {level} does not exist: the {axis} have {labels.nlevels} levels")
        level = level % labels.nlevels
        first_seen = [
            {value: rank for rank, value in enumerate(dict.fromkeys(labels.get_level_values(n)))}
            for n in range(labels.nlevels)
        ]

        def position_key(position: int) -> tuple:
            label = labels[position]
            return tuple(key(value) if n == level else (first_seen[n][value],) for n, value in enumerate(label))
    else:

        def position_key(position: int) -> tuple:
            return key(labels[position])

    order = sorted(range(len(labels)), key=position_key)
    return frame.iloc[:, order] if axis == "columns" else frame.iloc[order]


_BREAK_AFTER = re.compile(r"([/_])")


def _breakable(label: object) -> object:
    """A column label that may wrap after ``/`` and ``_`` (a zero-width space there), so long names such as
    ``bins/integratedgradients`` do not make a table wider than the page; other labels as they are."""
    return _BREAK_AFTER.sub("\\1\u200b", label) if isinstance(label, str) else label


def captioned(
    frame: pd.DataFrame,
    caption: str,
    precision: int = 3,
    drop_empty: bool = False,
    formats: dict[object, str] | None = None,
) -> Styler:
    """``frame`` for display: ``caption`` above it, floats with ``precision`` decimals, :data:`NA`
    for missing values, column labels that may wrap after ``/`` and ``_``; ``formats`` maps columns to a format of their
    own (``{"|delta| max": "{:.1e}"}``). With ``drop_empty``, columns without any value are left out and the caption
    names them (the top level of their label)."""
    if not caption or not str(caption).strip():
        raise ValueError("caption must be a non-empty text saying what the table shows")
    if drop_empty:
        empty = [column for column in frame.columns if frame[column].isna().all()]
        if empty and len(empty) < len(frame.columns):
            frame = frame.drop(columns=empty)
            names = dict.fromkeys(str(c[0] if isinstance(c, tuple) else c) for c in empty)
            caption = f"{caption} Left out, without any value: {', '.join(names)}."
    styler = (
        frame.style.format(precision=precision, na_rep=NA).set_caption(caption).format_index(_breakable, axis="columns")
    )
    for column, spec in (formats or {}).items():
        if column in frame.columns:
            styler = styler.format(spec, na_rep=NA, subset=[column])
    return styler
