"""HTML reports a reader can use offline: executed notebooks to self-contained HTML, and an index page.

:func:`export_html` writes one page per executed notebook that loads nothing from the network: no
require.js, MathJax, mermaid or widget manager from a CDN, figures embedded as data URIs. Widgets
are inert outside a kernel, so each widget output is replaced by a static rendering of its saved
state (progress bars at their final value, labels, sliders' values, the image of an Image widget),
else by its ``text/plain`` fallback, else by a short note; the widget state itself is dropped. The
page's ``<title>`` is the notebook's first markdown heading.

:func:`summarize_report` reads an exported page back (title, first paragraph, first figure as a
small thumbnail) and :func:`write_index` builds ``reports/index.html`` from those summaries and the
files beside them, every link staying inside ``reports/``.
"""

from __future__ import annotations

import base64
import copy
import html
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from ..io.atomic import write_text_atomically

__all__ = ["ReportSummary", "export_html", "notebook_title", "offline_notebook", "summarize_report", "write_index"]

FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")
AUDIO_SUFFIXES = (".wav", ".flac")
DATA_SUFFIXES = (".csv", ".json")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = "(interactive widget: open the executed notebook in JupyterLab to use it)"
"""What replaces a widget output that has neither saved state nor a text fallback."""
THUMBNAIL_SIZE = (320, 200)
"""Largest thumbnail in the index, width and height in px (the aspect ratio is kept)."""
DESCRIPTION_CHARS = 300
"""Longest description in the index, in characters (cut at a word)."""

# Extends nbconvert's `lab` template and empties every block that loads a script from the web.
_OFFLINE_TEMPLATE = "xai_offline.html.j2"
_OFFLINE_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">
.xai-widget{display:flex;gap:.5em;align-items:center;flex-wrap:wrap;font-family:var(--jp-ui-font-family)}
.xai-widget-column{flex-direction:column;align-items:flex-start}
.xai-widget img{max-width:100%}
.xai-widget-note{color:var(--jp-content-font-color2);font-style:italic}
</style>{%- endblock extra_css -%}
"""

_CONTAINERS = {"HBoxModel": "row", "VBoxModel": "column", "BoxModel": "row", "GridBoxModel": "row",
               "TabModel": "column", "AccordionModel": "column", "StackModel": "column"}
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_INLINE_MARKUP = re.compile(r"[`*_]|\[([^\]]*)\]\([^)]*\)")


def notebook_title(nb: nbformat.NotebookNode) -> str | None:
    """Plain text of the first markdown heading (``# ...`` at any level) of ``nb``, or ``None``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = _HEADING.search(cell.source)
        if match:
            return _INLINE_MARKUP.sub(lambda m: m.group(1) or "", match.group(1)).strip()
    return None


def _model_id(reference: str) -> str:
    return reference.removeprefix("IPY_MODEL_")


def _buffer_data_uri(model: dict, key: str, mime: str) -> str | None:
    for buffer in model.get("buffers", []):
        if buffer.get("path") == [key] and buffer.get("encoding") == "base64":
            return f"data:{mime};base64,{buffer['data']}"
    return None


def _widget_value_text(state: dict) -> str | None:
    """A control's value as text: sliders, text boxes, check boxes, dropdowns (by their label)."""
    if "_options_labels" in state:
        index = state.get("index")
        labels = state["_options_labels"]
        if isinstance(index, int) and 0 <= index < len(labels):
            return str(labels[index])
        if isinstance(index, list):
            return ", ".join(str(labels[i]) for i in index if 0 <= i < len(labels))
        return None
    value = state.get("value")
    values = value if isinstance(value, list) else [value]
    if value is None or isinstance(value, dict) or not values:
        return None
    spec = str(state.get("readout_format", ""))
    if spec and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        try:
            values = [format(v, spec) for v in values]
        except ValueError:  # a d3-format spec Python does not read
            pass
    return " to ".join(str(v) for v in values)


def _render_widget(model_id: str, models: dict, depth: int = 0) -> tuple[str, bool] | None:
    """Static HTML of a saved widget model and whether it holds an interactive control, or ``None``
    if the model is missing or has nothing a reader could see."""
    model = models.get(model_id)
    if model is None or depth > 32:
        return None
    name, state = model.get("model_name", ""), model.get("state", {})
    description = html.escape(str(state.get("description", "")))
    if name in _CONTAINERS:
        parts = [_render_widget(_model_id(ref), models, depth + 1) for ref in state.get("children", [])]
        parts = [part for part in parts if part]
        if not parts:
            return None
        column = " xai-widget-column" if _CONTAINERS[name] == "column" else ""
        return (f'<div class="xai-widget{column}">' + "".join(p[0] for p in parts) + "</div>",
                any(p[1] for p in parts))
    if name in ("HTMLModel", "HTMLMathModel"):
        value = str(state.get("value", ""))
        return (f"<span>{value}</span>", False) if value.strip() else None
    if name == "LabelModel":
        value = str(state.get("value", ""))
        return (f"<span>{html.escape(value)}</span>", False) if value.strip() else None
    if name.endswith("ProgressModel"):
        low, high, value = (float(state.get(k, d)) for k, d in (("min", 0), ("max", 100), ("value", 0)))
        return (f'<progress value="{value - low:g}" max="{max(high - low, 1e-12):g}">'
                f"{value:g} / {high:g}</progress>", False)
    if name == "ImageModel":
        uri = _buffer_data_uri(model, "value", f"image/{state.get('format', 'png')}")
        return (f'<img alt="{description or "widget image"}" src="{uri}">', False) if uri else None
    if name == "OutputModel":
        return None  # its outputs are spliced into the cell by _static_outputs
    value = _widget_value_text(state)
    if value is None and not description:
        return None
    label = f"{description}: " if description else ""
    return f"<span>{label}<b>{html.escape(value or '')}</b></span>", True


def _static_outputs(output: nbformat.NotebookNode, models: dict) -> list[nbformat.NotebookNode]:
    """What replaces one widget output in the report: never an empty area."""
    data = output.get("data", {})
    model_id = str(data.get(WIDGET_VIEW, {}).get("model_id", ""))
    model = models.get(model_id, {})
    if model.get("model_name") == "OutputModel":
        inner = [nbformat.from_dict(o) for o in model.get("state", {}).get("outputs", [])]
        replaced = [r for o in inner for r in _offline_output(o, models)]
        if replaced:
            return replaced
    if set(data) - {WIDGET_VIEW, "text/plain"}:  # a richer fallback (image, HTML) came with the widget
        return [nbformat.v4.new_output("display_data", data={k: v for k, v in data.items() if k != WIDGET_VIEW})]
    rendered = _render_widget(model_id, models)
    if rendered is not None:
        markup, interactive = rendered
        if interactive:
            markup += f'<div class="xai-widget-note">static snapshot {html.escape(WIDGET_NOTE)}</div>'
        return [nbformat.v4.new_output("display_data", data={"text/html": markup, "text/plain": data.get("text/plain", "")})]
    text = str(data.get("text/plain", "")).strip()
    return [nbformat.v4.new_output("display_data", data={"text/plain": text or WIDGET_NOTE})]


def _offline_output(output: nbformat.NotebookNode, models: dict) -> list[nbformat.NotebookNode]:
    if output.get("output_type") in ("display_data", "execute_result") and WIDGET_VIEW in output.get("data", {}):
        return _static_outputs(output, models)
    return [output]


def offline_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without widgets: each widget output replaced by a static rendering of its
    saved state, its ``text/plain`` fallback or :data:`WIDGET_NOTE`; ``metadata.widgets`` removed."""
    nb = copy.deepcopy(nb)
    models = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [r for o in cell.outputs for r in _offline_output(o, models)]
    return nb


def export_html(notebook_path: str | os.PathLike, html_path: str | os.PathLike, title: str | None = None) -> Path:
    """Export an executed notebook to one self-contained HTML page; returns ``html_path``.

    The page loads nothing from the network (see the module docstring), embeds its figures, leaves
    out code cells (the executed ``.ipynb`` beside it holds the code and is linked from the index)
    and is titled ``title``, else the notebook's first markdown heading, else its file name.
    Written atomically.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    nb = offline_notebook(nbformat.read(str(notebook_path), as_version=4))
    nb.metadata["title"] = title or notebook_title(nb) or notebook_path.stem
    exporter = HTMLExporter(
        template_name="lab", template_file=_OFFLINE_TEMPLATE,
        extra_loaders=[DictLoader({_OFFLINE_TEMPLATE: _OFFLINE_TEMPLATE_SOURCE})],
        embed_images=True, exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook_path.stem}})
    return write_text_atomically(Path(html_path), body)


@dataclass(frozen=True)
class ReportSummary:
    """What the index shows of one report."""

    path: Path
    title: str
    description: str
    """The page's first paragraph, at most :data:`DESCRIPTION_CHARS` characters."""
    thumbnail: str | None
    """The page's first embedded image scaled to fit :data:`THUMBNAIL_SIZE`, as a JPEG data URI."""


class _SummaryParser(HTMLParser):
    """Collects a page's ``<title>``, first non-empty ``<p>`` and first ``data:image/...`` ``<img>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.paragraph: list[str] = []
        self.image: str | None = None
        self._in_title = False
        self._paragraph_depth = 0
        self._paragraph_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "p" and not self._paragraph_done:
            self._paragraph_depth += 1
        elif tag == "img" and self.image is None:
            src = dict(attrs).get("src") or ""
            if src.startswith("data:image/") and ";base64," in src:
                self.image = src

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "p" and self._paragraph_depth:
            self._paragraph_depth -= 1
            if not self._paragraph_depth and "".join(self.paragraph).strip():
                self._paragraph_done = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif self._paragraph_depth:
            self.paragraph.append(data)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _thumbnail(data_uri: str) -> str | None:
    """``data_uri`` (a base64 raster image) scaled down to fit :data:`THUMBNAIL_SIZE`, as a JPEG data URI."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))
        image.thumbnail(THUMBNAIL_SIZE)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, ValueError, OSError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def summarize_report(html_path: str | os.PathLike) -> ReportSummary:
    """Title, first paragraph and a thumbnail of the first figure of an exported report."""
    path = Path(html_path)
    parser = _SummaryParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    title = " ".join("".join(parser.title).split()) or path.stem
    return ReportSummary(path, title, _shorten("".join(parser.paragraph), DESCRIPTION_CHARS),
                         _thumbnail(parser.image) if parser.image else None)


def _file_groups(root: Path, files: Iterable[Path]) -> list[tuple[str, list[Path]]]:
    """``files`` grouped by their folder relative to ``root`` (``.`` first), each group sorted."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(files):
        groups.setdefault(path.parent.relative_to(root).as_posix(), []).append(path)
    return sorted(groups.items(), key=lambda item: (item[0] != ".", item[0]))


def _link(root: Path, path: Path, text: str | None = None) -> str:
    rel = path.relative_to(root).as_posix()
    return f'<a href="{html.escape(rel)}">{html.escape(text or rel)}</a>'


def _report_card(root: Path, summary: ReportSummary) -> str:
    notebook = summary.path.with_suffix(".ipynb")
    thumb = (f'<a href="{html.escape(summary.path.relative_to(root).as_posix())}"><img class="thumb" alt="first figure of '
             f'{html.escape(summary.title)}" src="{summary.thumbnail}"></a>') if summary.thumbnail else '<div class="thumb"></div>'
    links = _link(root, summary.path, "report") + (f" · {_link(root, notebook, 'executed notebook')}" if notebook.is_file() else "")
    return (f'<div class="card">{thumb}<div><h3>{_link(root, summary.path, summary.title)}</h3>'
            f"<p>{html.escape(summary.description)}</p><p class='links'>{links}</p></div></div>")


_INDEX_STYLE = (
    "body{font-family:sans-serif;max-width:64em;margin:2em auto;padding:0 1em;line-height:1.4}"
    ".card{display:flex;gap:1em;align-items:flex-start;margin:1em 0;padding:.8em;border:1px solid #ddd;border-radius:6px}"
    ".card h3{margin:0 0 .3em}.card p{margin:.2em 0}.links{font-size:90%}"
    ".thumb{width:200px;min-width:200px;height:auto;border:1px solid #eee}"
    "details{margin:.3em 0}summary{cursor:pointer}li{margin:.15em 0}code{background:#f4f4f4;padding:0 .2em}"
)


def write_index(reports_dir: str | os.PathLike, title: str = "nsnet2-xai reports",
                extra_dirs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Write ``reports_dir/index.html``: one card per HTML report (thumbnail of its first figure,
    title, first paragraph, links to the report and its executed notebook), then the other files
    under ``reports_dir`` (figures, audio, tables, notebooks, others) grouped by kind and folder.

    Every link stays inside ``reports_dir``, so the folder can be moved or shared as a whole.
    ``extra_dirs`` (for example ``data/noisy``) are folders outside it that the run also wrote:
    they are named in the text with their file count, not linked. Returns the index path.
    """
    root = Path(reports_dir).resolve()
    found = [p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    reports = sorted(p for p in found if p.suffix == ".html" and p.name != "index.html")
    report_notebooks = {p.with_suffix(".ipynb") for p in reports}
    kinds = [
        ("Figures", [p for p in found if p.suffix.lower() in FIGURE_SUFFIXES]),
        ("Audio", [p for p in found if p.suffix.lower() in AUDIO_SUFFIXES]),
        ("Tables and metadata", [p for p in found if p.suffix.lower() in DATA_SUFFIXES]),
        ("Other notebooks", [p for p in found if p.suffix == ".ipynb" and p not in report_notebooks]),
    ]
    listed = set(reports) | report_notebooks | {p for _, paths in kinds for p in paths} | {root / "index.html"}
    kinds.append(("Other files", [p for p in found if p not in listed]))
    cards = "".join(_report_card(root, summarize_report(p)) for p in reports) or "<p>No report yet.</p>"
    lists = "".join(
        f"<h2>{html.escape(kind)} ({len(paths)})</h2>"
        + "".join(
            f"<details{' open' if len(group) <= 12 else ''}><summary>{html.escape(folder)}/ ({len(group)})</summary><ul>"
            + "".join(f"<li>{_link(root, p)}</li>" for p in group) + "</ul></details>"
            for folder, group in _file_groups(root, paths)
        )
        for kind, paths in kinds if paths
    )
    outside = []
    for folder in map(Path, extra_dirs):
        if folder.resolve().is_dir():
            count = sum(1 for p in folder.resolve().rglob("*") if p.is_file())
            shown = folder.resolve().relative_to(root.parent) if folder.resolve().is_relative_to(root.parent) else folder.resolve()
            outside.append(f"<li><code>{html.escape(shown.as_posix())}</code>: {count} files</li>")
    outside_html = ("<h2>Also written by this run, outside this folder (not linked)</h2><ul>" + "".join(outside) + "</ul>"
                    if outside else "")
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_INDEX_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<h2>Reports ({len(reports)})</h2>{cards}{lists}{outside_html}</body></html>"
    )
    return write_text_atomically(root / "index.html", page)
