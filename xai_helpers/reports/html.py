"""HTML reports a reader can use offline: executed notebooks to self-contained HTML, and an index page.

:func:`export_html` writes one page per executed notebook that loads nothing from the network: no
require.js, MathJax, mermaid or widget manager from a CDN, figures embedded as data URIs. Widgets
are inert outside a kernel, so each widget output is replaced by a static rendering of its saved
state (progress bars at their final value, labels, sliders' values, the image of an Image widget),
else by its ``text/plain`` fallback, else by a short note; the widget state itself is dropped. The
page's ``<title>`` is the notebook's first markdown heading.

Layout (:func:`report_layout`): the outputs of the code cells tagged :data:`SUMMARY_TAG` (a short
reading of the run's own numbers, computed last) are moved under the title, in a box, followed by a
table of contents of the page's level-2 and level-3 headings (links to their ids on the page); the
rest of the first markdown cell (the introduction) comes after them. Consecutive outputs of one
cell whose output metadata carry the same :data:`SECTION_KEY` (a title, for example a file name)
fold into one collapsible ``<details>`` section (open when :data:`SECTION_OPEN_KEY` is true), so a
per-file gallery need not make the page long. The executed notebook is left as it is.

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

__all__ = [
    "SECTION_KEY",
    "SECTION_OPEN_KEY",
    "SUMMARY_TAG",
    "ReportSummary",
    "export_html",
    "notebook_title",
    "offline_notebook",
    "report_layout",
    "section",
    "summarize_report",
    "table_of_contents",
    "write_index",
]

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
SUMMARY_TAG = "summary"
"""Tag of the code cell(s) whose outputs open the report, under its title."""
SECTION_KEY = "xai_section"
"""Output-metadata key: consecutive outputs of a cell with the same value fold into a ``<details>`` titled by it."""
SECTION_OPEN_KEY = "xai_section_open"
"""Output-metadata key: true to show a section unfolded (its first output decides)."""
TOC_LEVELS = (2, 3)
"""Heading levels listed in the table of contents."""
_SUMMARY_CELL, _TOC_CELL = "xai-summary", "xai-toc"
"""Tags (and cell ids) of the cells :func:`report_layout` adds; the template styles them."""
_TOC_PLACEHOLDER = '<nav class="xai-toc" data-xai-toc="placeholder"></nav>'

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
.celltag_xai-summary .jp-OutputArea{border-left:4px solid #1565c0;background:#f3f7fc;padding:.2em .8em;margin:.4em 0}
.xai-toc{font-size:95%}.xai-toc>ul{columns:2;column-gap:2em;margin:.2em 0}.xai-toc ul{padding-left:1.2em;margin:.1em 0}
.xai-toc li{break-inside:avoid}.xai-toc-title{font-weight:bold;margin:.2em 0}
details.xai-section{margin:.4em 0;padding:.2em .6em;border:1px solid var(--jp-border-color2);border-radius:4px}
details.xai-section>summary{cursor:pointer;font-weight:bold;padding:.2em 0;font-family:var(--jp-content-font-family);font-size:var(--jp-content-font-size2)}
.jp-RenderedHTMLCommon caption{caption-side:top;text-align:left;font-weight:bold;color:var(--jp-content-font-color1);padding:.3em 0}
.jp-OutputArea-output{overflow-x:auto}
</style>{%- endblock extra_css -%}
{% block output %}
{%- set section = (output.metadata or {}).get('xai_section') -%}
{%- set previous = none if loop.first else (loop.previtem.metadata or {}).get('xai_section') -%}
{%- set following = none if loop.last else (loop.nextitem.metadata or {}).get('xai_section') -%}
{%- if section and section != previous -%}
<details class="xai-section"{% if (output.metadata or {}).get('xai_section_open') %} open{% endif %}><summary>{{ section | e }}</summary>
{%- endif -%}
{{ super() }}
{%- if section and section != following -%}</details>{%- endif -%}
{% endblock output %}
"""  # noqa: E501 (CSS rules and Jinja tags kept on one line)

_CONTAINERS = {
    "HBoxModel": "row",
    "VBoxModel": "column",
    "BoxModel": "row",
    "GridBoxModel": "row",
    "TabModel": "column",
    "AccordionModel": "column",
    "StackModel": "column",
}
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_INLINE_MARKUP = re.compile(r"[`*_]|\[([^\]]*)\]\([^)]*\)")


def section(title: str, opened: bool = False) -> dict[str, object]:
    """Output metadata that files an output under the collapsible section ``title`` of the report:
    ``display(fig, metadata=section("a.wav"))``; ``opened`` shows it unfolded."""
    return {SECTION_KEY: str(title), SECTION_OPEN_KEY: bool(opened)}


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
        return (f'<div class="xai-widget{column}">' + "".join(p[0] for p in parts) + "</div>", any(p[1] for p in parts))
    if name in ("HTMLModel", "HTMLMathModel"):
        value = str(state.get("value", ""))
        return (f"<span>{value}</span>", False) if value.strip() else None
    if name == "LabelModel":
        value = str(state.get("value", ""))
        return (f"<span>{html.escape(value)}</span>", False) if value.strip() else None
    if name.endswith("ProgressModel"):
        low, high, value = (float(state.get(k, d)) for k, d in (("min", 0), ("max", 100), ("value", 0)))
        return (
            f'<progress value="{value - low:g}" max="{max(high - low, 1e-12):g}">{value:g} / {high:g}</progress>',
            False,
        )
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
        return [
            nbformat.v4.new_output("display_data", data={"text/html": markup, "text/plain": data.get("text/plain", "")})
        ]
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


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _shown_outputs(cells: Iterable[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """What a reader should see of ``cells``' outputs: displays, results and printed text (no errors, no stderr)."""
    return [
        output
        for cell in cells
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result")
        or (output.get("output_type") == "stream" and output.get("name") == "stdout")
    ]


def _heading_levels(cells: Iterable[nbformat.NotebookNode]) -> list[int]:
    """Levels (1 to 6) of the markdown headings of ``cells``, in order."""
    return [
        len(m.group(0).strip().split()[0])
        for cell in cells
        if cell.cell_type == "markdown"
        for m in _HEADING.finditer(cell.source)
    ]


def report_layout(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` laid out as a report opens: title, summary, table of contents, introduction.

    The first markdown cell with a heading is cut after that heading's line; under it come one cell
    holding the outputs of every code cell tagged :data:`SUMMARY_TAG` (those cells leave their
    place; errors and stderr are not carried) and one cell whose output :func:`table_of_contents`
    fills after export (only when some markdown cell has a heading of :data:`TOC_LEVELS`), then the
    rest of the cut cell. Without a heading they open the page.
    """
    nb = copy.deepcopy(nb)
    summary_cells = [cell for cell in nb.cells if cell.cell_type == "code" and SUMMARY_TAG in _tags(cell)]
    cells = [cell for cell in nb.cells if not (cell.cell_type == "code" and SUMMARY_TAG in _tags(cell))]
    top = []
    outputs = _shown_outputs(summary_cells)
    if outputs:
        top.append(nbformat.v4.new_code_cell("", id=_SUMMARY_CELL, metadata={"tags": [_SUMMARY_CELL]}, outputs=outputs))
    if any(level in TOC_LEVELS for level in _heading_levels(cells)[1:]):  # the first heading is the title
        toc = nbformat.v4.new_output("display_data", data={"text/html": _TOC_PLACEHOLDER, "text/plain": "contents"})
        top.append(nbformat.v4.new_code_cell("", id=_TOC_CELL, metadata={"tags": [_TOC_CELL]}, outputs=[toc]))
    position = next(
        (i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and _HEADING.search(cell.source)), None
    )
    if position is None:
        nb.cells = top + cells
        return nb
    title_cell = cells[position]
    cut = _HEADING.search(title_cell.source).end()
    head, rest = title_cell.source[:cut], title_cell.source[cut:]
    title_cell.source = head.rstrip()
    intro = (
        [nbformat.v4.new_markdown_cell(rest.strip("\n"), id=f"{title_cell.get('id', 'title')}-intro"[:64])]
        if rest.strip()
        else []
    )
    nb.cells = cells[: position + 1] + top + intro + cells[position + 1 :]
    return nb


_HTML_HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _nested_list(entries: list[tuple[int, str]]) -> str:
    """``<ul>`` of ``(level, html)`` entries, each deeper entry nested in the item before it."""
    if not entries:
        return ""
    top = min(level for level, _ in entries)
    parts, i = [], 0
    while i < len(entries):
        level, item = entries[i]
        j = i + 1
        while j < len(entries) and entries[j][0] > top:
            j += 1
        parts.append(
            f"<li>{item}{_nested_list(entries[i + 1 : j])}</li>"
            if level == top
            else f"<li>{_nested_list(entries[i:j])}</li>"
        )
        i = j
    return "<ul>" + "".join(parts) + "</ul>"


def table_of_contents(body: str) -> str:
    """``body`` (an exported page) with its table-of-contents placeholder replaced by nested links
    to every heading of :data:`TOC_LEVELS` that follows it and has an ``id``; unchanged without one."""
    start = body.find(_TOC_PLACEHOLDER)
    if start < 0:
        return body
    entries = []
    for match in _HTML_HEADING.finditer(body, start + len(_TOC_PLACEHOLDER)):
        level = int(match.group(1))
        if level not in TOC_LEVELS:
            continue
        inner = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", match.group(3), flags=re.DOTALL)
        text = " ".join(html.unescape(_TAG.sub("", inner)).split())
        if text:
            entries.append((level, match.group(2), text))
    links = [
        (level, f'<a href="#{html.escape(html.unescape(anchor))}">{html.escape(text)}</a>')
        for level, anchor, text in entries
    ]
    nav = f'<nav class="xai-toc"><p class="xai-toc-title">Contents</p>{_nested_list(links)}</nav>' if links else ""
    return body.replace(_TOC_PLACEHOLDER, nav, 1)


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
    nb = report_layout(offline_notebook(nbformat.read(str(notebook_path), as_version=4)))
    nb.metadata["title"] = title or notebook_title(nb) or notebook_path.stem
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_OFFLINE_TEMPLATE,
        extra_loaders=[DictLoader({_OFFLINE_TEMPLATE: _OFFLINE_TEMPLATE_SOURCE})],
        embed_images=True,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook_path.stem}})
    return write_text_atomically(Path(html_path), table_of_contents(body))


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
    """Collects a page's ``<title>``, first non-empty ``<p>`` and first ``data:image/...`` ``<img>``,
    outside the summary and contents cells that :func:`report_layout` adds."""

    _SKIPPED = {f"celltag_{_SUMMARY_CELL}", f"celltag_{_TOC_CELL}"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.paragraph: list[str] = []
        self.image: str | None = None
        self._in_title = False
        self._paragraph_depth = 0
        self._paragraph_done = False
        self._skip_depth = 0
        """Open ``<div>`` elements of a skipped cell (0: not inside one)."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_depth or (tag == "div" and self._SKIPPED & set((dict(attrs).get("class") or "").split())):
            self._skip_depth += tag == "div"
            return
        if tag == "title":
            self._in_title = True
        elif tag == "p" and not self._paragraph_done:
            self._paragraph_depth += 1
        elif tag == "img" and self.image is None:
            src = dict(attrs).get("src") or ""
            if src.startswith("data:image/") and ";base64," in src:
                self.image = src

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            self._skip_depth -= tag == "div"
            return
        if tag == "title":
            self._in_title = False
        elif tag == "p" and self._paragraph_depth:
            self._paragraph_depth -= 1
            if not self._paragraph_depth and "".join(self.paragraph).strip():
                self._paragraph_done = True

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
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
    return ReportSummary(
        path,
        title,
        _shorten("".join(parser.paragraph), DESCRIPTION_CHARS),
        _thumbnail(parser.image) if parser.image else None,
    )


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
    thumb = (
        (
            f'<a href="{html.escape(summary.path.relative_to(root).as_posix())}"><img class="thumb" alt="first figure '
            "of "
            f'{html.escape(summary.title)}" src="{summary.thumbnail}"></a>'
        )
        if summary.thumbnail
        else '<div class="thumb"></div>'
    )
    links = _link(root, summary.path, "report") + (
        f" · {_link(root, notebook, 'executed notebook')}" if notebook.is_file() else ""
    )
    return (
        f'<div class="card">{thumb}<div><h3>{_link(root, summary.path, summary.title)}</h3>'
        f"<p>{html.escape(summary.description)}</p><p class='links'>{links}</p></div></div>"
    )


_INDEX_STYLE = (
    "body{font-family:sans-serif;max-width:64em;margin:2em auto;padding:0 1em;line-height:1.4}"
    ".card{display:flex;gap:1em;align-items:flex-start;margin:1em 0;padding:.8em;border:1px solid "
    "#ddd;border-radius:6px}"
    ".card h3{margin:0 0 .3em}.card p{margin:.2em 0}.links{font-size:90%}"
    ".thumb{width:200px;min-width:200px;height:auto;border:1px solid #eee}"
    "details{margin:.3em 0}summary{cursor:pointer}li{margin:.15em 0}code{background:#f4f4f4;padding:0 .2em}"
)


def write_index(
    reports_dir: str | os.PathLike, title: str = "nsnet2-xai reports", extra_dirs: tuple[str | os.PathLike, ...] = ()
) -> Path:
    """Write ``reports_dir/index.html``: one card per HTML report (thumbnail of its first figure,
    title, first paragraph, links to the report and its executed notebook), then the other files
    under ``reports_dir`` (figures, audio, tables, notebooks, others) grouped by kind and folder.

    Every link stays inside ``reports_dir``, so the folder can be moved or shared as a whole.
    ``extra_dirs`` (for example ``data/noisy``) are folders outside it that the run also wrote:
    they are named in the text with their file count, not linked. Returns the index path.
    """
    root = Path(reports_dir).resolve()
    found = [
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
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
            f"<details{' open' if len(group) <= 12 else ''}><summary>{html.escape(folder)}/ "
            f"({len(group)})</summary><ul>" + "".join(f"<li>{_link(root, p)}</li>" for p in group) + "</ul></details>"
            for folder, group in _file_groups(root, paths)
        )
        for kind, paths in kinds
        if paths
    )
    outside = []
    for folder in map(Path, extra_dirs):
        if folder.resolve().is_dir():
            count = sum(1 for p in folder.resolve().rglob("*") if p.is_file())
            shown = (
                folder.resolve().relative_to(root.parent)
                if folder.resolve().is_relative_to(root.parent)
                else folder.resolve()
            )
            outside.append(f"<li><code>{html.escape(shown.as_posix())}</code>: {count} files</li>")
    outside_html = (
        "<h2>Also written by this run, outside this folder (not linked)</h2><ul>" + "".join(outside) + "</ul>"
        if outside
        else ""
    )
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_INDEX_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<h2>Reports ({len(reports)})</h2>{cards}{lists}{outside_html}</body></html>"
    )
    return write_text_atomically(root / "index.html", page)
