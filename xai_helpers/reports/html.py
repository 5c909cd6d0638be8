"""HTML reports: executed notebooks to standalone HTML, and one index page linking a run's outputs."""

from __future__ import annotations

import html
import os
from pathlib import Path

import nbformat

from ..io.atomic import write_text_atomically

FIGURE_SUFFIXES = (".png",)
AUDIO_SUFFIXES = (".wav", ".flac")


def export_html(notebook_path: str | os.PathLike, html_path: str | os.PathLike) -> Path:
    """Export an executed notebook to standalone HTML (figures and audio embedded, code hidden).

    Code cells are left out of the HTML to keep reports readable; the executed ``.ipynb`` beside
    it holds the code and is linked from the index. Written atomically.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True, exclude_input=True, exclude_input_prompt=True)
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook_path), as_version=4))
    return write_text_atomically(Path(html_path), body)


def write_index(reports_dir: str | os.PathLike, title: str = "nsnet2-xai reports", extra_dirs: tuple[Path, ...] = ()) -> Path:
    """Write ``reports_dir/index.html`` linking every HTML report, executed notebook, PNG and WAV under it.

    ``extra_dirs`` are further folders (for example ``data/noisy``) whose files are linked too.
    """
    root = Path(reports_dir).resolve()
    found = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    for folder in extra_dirs:
        folder = Path(folder).resolve()
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.is_file())

    def rel(p: Path) -> Path:
        return Path(os.path.relpath(p, root))

    reports = [p for p in found if p.suffix == ".html" and p.name != "index.html"]
    sections = [
        ("Reports (executed notebooks as HTML)", reports),
        ("Executed notebooks", [p for p in found if p.suffix == ".ipynb"]),
        ("Figures", [p for p in found if p.suffix in FIGURE_SUFFIXES]),
        ("Audio", [p for p in found if p.suffix in AUDIO_SUFFIXES]),
        ("Tables", [p for p in found if p.suffix == ".csv"]),
    ]
    body = "".join(
        f"<h2>{html.escape(name)} ({len(paths)})</h2>"
        + "<ul>"
        + "".join(f'<li><a href="{html.escape(rel(p).as_posix())}">{html.escape(rel(p).as_posix())}</a></li>' for p in paths)
        + "</ul>"
        for name, paths in sections
    )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}li{margin:.2em 0}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return write_text_atomically(root / "index.html", page)
