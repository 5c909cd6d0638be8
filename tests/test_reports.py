"""Tests for xai_helpers.reports on hand-made notebooks (no kernel, no browser: see test_reports_browser.py)."""

from __future__ import annotations

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402
from PIL import Image  # noqa: E402

from xai_helpers.reports.html import (  # noqa: E402
    THUMBNAIL_SIZE,
    WIDGET_NOTE,
    WIDGET_STATE,
    WIDGET_VIEW,
    export_html,
    notebook_title,
    offline_notebook,
    summarize_report,
    write_index,
)


def png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def widget_output(model_id: str, text: str | None = None, **fallbacks):
    data = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id}, **fallbacks}
    if text is not None:
        data["text/plain"] = text
    return new_output("display_data", data=data)


def model(name: str, **state):
    buffers = state.pop("buffers", [])
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state, "buffers": buffers}


def widget_notebook() -> nbformat.NotebookNode:
    """A tqdm bar saved at 7/7 (text fallback frozen at 0/7), a slider, an Image widget, an Output
    widget holding a stream, a widget without state but with text, one with neither."""
    image = base64.b64encode(png_bytes(8, 6)).decode("ascii")
    state = {
        "bar": model("HBoxModel", children=["IPY_MODEL_pre", "IPY_MODEL_prog", "IPY_MODEL_post"]),
        "pre": model("HTMLModel", value="steps: 100%"),
        "prog": model("FloatProgressModel", value=7.0, max=7.0, min=0.0),
        "post": model("HTMLModel", value=" 7/7 [00:01&lt;00:00]"),
        "ui": model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_float", "IPY_MODEL_pick", "IPY_MODEL_img"]),
        "slider": model("IntSliderModel", value=3, description="n"),
        "float": model("FloatSliderModel", value=0.15000000596046448, readout_format=".3f", description="t"),
        "pick": model("DropdownModel", index=1, _options_labels=["saliency", "deeplift"], description="method"),
        "img": model("ImageModel", format="png", buffers=[{"path": ["value"], "encoding": "base64", "data": image}]),
        "out": model("OutputModel", outputs=[{"output_type": "stream", "name": "stdout", "text": "printed inside\n"}]),
    }
    nb = new_notebook(cells=[
        new_markdown_cell("Intro without heading."),
        new_markdown_cell("## The `real` *title*\n\nFirst paragraph of the report."),
        new_code_cell("bar", outputs=[widget_output("bar", "steps:   0%|          | 0/7")]),
        new_code_cell("ui", outputs=[widget_output("ui", "VBox(...)")]),
        new_code_cell("out", outputs=[widget_output("out", "Output()")]),
        new_code_cell("gone", outputs=[widget_output("gone", "IntSlider(value=5)")]),
        new_code_cell("bare", outputs=[widget_output("bare")]),
        new_code_cell("rich", outputs=[widget_output("img", "Image()", **{"image/png": "iVBORw0K"})]),
    ])
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": state}}
    return nb


def test_notebook_title_is_the_first_heading_as_plain_text():
    assert notebook_title(widget_notebook()) == "The real title"
    assert notebook_title(new_notebook(cells=[new_markdown_cell("no heading"), new_code_cell("# a comment")])) is None


def test_offline_notebook_replaces_every_widget_output():
    original = widget_notebook()
    nb = offline_notebook(original)
    assert "widgets" not in nb.metadata and "widgets" in original.metadata  # the input is left alone
    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    assert all(WIDGET_VIEW not in o.get("data", {}) for cell in outputs for o in cell)
    bar, ui, out, gone, bare, rich = outputs
    assert "100%" in bar[0].data["text/html"] and 'value="7"' in bar[0].data["text/html"]
    assert "7/7" in bar[0].data["text/html"]
    ui_html = ui[0].data["text/html"]
    assert "n: <b>3</b>" in ui_html and "t: <b>0.150</b>" in ui_html and "method: <b>deeplift</b>" in ui_html
    assert re.search(r'<img [^>]*src="data:image/png;base64,', ui_html) and "static snapshot" in ui_html
    assert out == [new_output("stream", name="stdout", text="printed inside\n")]
    assert gone[0].data == {"text/plain": "IntSlider(value=5)"}  # no saved state: its text
    assert bare[0].data == {"text/plain": WIDGET_NOTE}
    assert rich[0].data == {"image/png": "iVBORw0K", "text/plain": "Image()"}  # a fallback beside the widget wins


def test_export_html_is_self_contained_and_titled(tmp_path):
    path = tmp_path / "a.ipynb"
    nbformat.write(widget_notebook(), path)
    page = export_html(path, tmp_path / "a.html").read_text(encoding="utf-8")
    assert "<title>The real title</title>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "a resource is loaded from the web"
    assert not re.search(r"""import\(\s*["'](https?:)?//""", page), "a module is imported from the web"
    assert WIDGET_VIEW not in page and WIDGET_STATE not in page
    assert export_html(path, tmp_path / "b.html", title="Given <title>").read_text().count("<title>Given &lt;title&gt;</title>") == 1
    path.write_text(nbformat.writes(new_notebook(cells=[new_code_cell("1")])))
    assert "<title>a</title>" in export_html(path, tmp_path / "c.html").read_text()  # no heading: the file name


def test_summary_has_title_paragraph_and_a_small_thumbnail(tmp_path):
    figure = base64.b64encode(png_bytes(1000, 400, seed=1)).decode("ascii")
    nb = new_notebook(cells=[
        new_markdown_cell("# Report one\n\nWhat it shows " + "and more " * 60),
        new_code_cell("fig", outputs=[new_output("display_data", data={"image/png": figure, "text/plain": "<Figure>"})]),
    ])
    nbformat.write(nb, tmp_path / "r.ipynb")
    summary = summarize_report(export_html(tmp_path / "r.ipynb", tmp_path / "r.html"))
    assert summary.title == "Report one"
    assert summary.description.startswith("What it shows and more") and summary.description.endswith("…")
    assert len(summary.description) <= 302
    thumb = Image.open(io.BytesIO(base64.b64decode(summary.thumbnail.split(",", 1)[1])))
    assert thumb.size == (THUMBNAIL_SIZE[0], THUMBNAIL_SIZE[0] * 400 // 1000)


def test_index_links_only_inside_and_names_outside_folders(tmp_path):
    reports, outside = tmp_path / "reports", tmp_path / "data" / "noisy"
    (reports / "figures" / "03").mkdir(parents=True)
    outside.mkdir(parents=True)
    for i in range(3):
        (outside / f"n{i}.wav").write_bytes(b"")
    nbformat.write(widget_notebook(), reports / "01_a.ipynb")
    export_html(reports / "01_a.ipynb", reports / "01_a.html")
    (reports / "figures" / "03" / "x.png").write_bytes(png_bytes(4, 4))
    (reports / "table.csv").write_text("a\n1\n")
    (reports / "README.md").write_text("readme")
    (reports / ".hidden.partial").write_text("")
    page = write_index(reports, title="Run", extra_dirs=(outside,)).read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]*)"', page)
    assert sorted(set(links)) == ["01_a.html", "01_a.ipynb", "README.md", "figures/03/x.png", "table.csv"]
    assert "The real title" in page and "<p>Intro without heading.</p>" in page
    assert "<code>data/noisy</code>: 3 files" in page
