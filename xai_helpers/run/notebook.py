"""One-line set-up shared by every notebook: inline figures, compact image format, whole tables, logging."""

from __future__ import annotations

import logging

from ..io.progress import terminal_stream

PANDAS_DISPLAY = {
    "display.max_columns": None,
    "display.max_colwidth": None,
    "display.width": None,
    "display.max_rows": 500,
    "styler.format.na_rep": "n/a",
}
"""pandas display options of every notebook: no column and no cell text is cut off (pandas' defaults show
20 columns and 50 characters); tables of up to 500 rows are shown whole; a styled table shows a missing value as
``n/a``."""


def setup_notebook(figure_format: str = "jpeg", dpi: int = 90) -> None:
    """Activate the inline backend (figures are embedded, also under papermill), set :data:`PANDAS_DISPLAY`
    and configure logging (warnings shown in the notebook and, under the book runner, on its terminal too).

    Spectrograms of noise compress badly as PNG (about 1 MB a figure); ``"jpeg"`` keeps reports
    a few times smaller with no visible loss at ``dpi``. Use ``"png"`` for lossless figures.
    """
    import pandas as pd
    from IPython import get_ipython
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    for option, value in PANDAS_DISPLAY.items():
        pd.set_option(option, value)

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        options = {"pil_kwargs": {"quality": 85}} if figure_format == "jpeg" else {}
        set_matplotlib_formats(figure_format, dpi=dpi, **options)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    terminal = terminal_stream()
    if terminal is not None:  # under the book runner: warnings (a large write, a resampled file) reach its terminal too
        handler = logging.StreamHandler(terminal)
        handler.setFormatter(logging.Formatter("  %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
