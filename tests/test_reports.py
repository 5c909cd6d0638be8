"""Tests for xai_helpers.reports on hand-made notebooks (no kernel, no browser: see test_reports_browser.py)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402
from PIL import Image  # noqa: E402

from xai_helpers.reports.html import (  # noqa: E402
    SECTION_KEY,
    SECTION_OPEN_KEY,
    THUMBNAIL_SIZE,
    WIDGET_NOTE,
    WIDGET_STATE,
    WIDGET_VIEW,
    export_html,
    notebook_title,
    offline_notebook,
    report_layout,
    section,
    summarize_report,
    write_index,
)
from xai_helpers.reports.tables import captioned, numeric_key, order_key, sort_labels  # noqa: E402


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
    nb = new_notebook(
        cells=[
            new_markdown_cell("Intro without heading."),
            new_markdown_cell("## The `real` *title*\n\nFirst paragraph of the report."),
            new_code_cell("bar", outputs=[widget_output("bar", "steps:   0%|          | 0/7")]),
            new_code_cell("ui", outputs=[widget_output("ui", "VBox(...)")]),
            new_code_cell("out", outputs=[widget_output("out", "Output()")]),
            new_code_cell("gone", outputs=[widget_output("gone", "IntSlider(value=5)")]),
            new_code_cell("bare", outputs=[widget_output("bare")]),
            new_code_cell("rich", outputs=[widget_output("img", "Image()", **{"image/png": "iVBORw0K"})]),
        ]
    )
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
    assert (
        export_html(path, tmp_path / "b.html", title="Given <title>")
        .read_text()
        .count("<title>Given &lt;title&gt;</title>")
        == 1
    )
    path.write_text(nbformat.writes(new_notebook(cells=[new_code_cell("1")])))
    assert "<title>a</title>" in export_html(path, tmp_path / "c.html").read_text()  # no heading: the file name


def test_summary_has_title_paragraph_and_a_small_thumbnail(tmp_path):
    figure = base64.b64encode(png_bytes(1000, 400, seed=1)).decode("ascii")
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Report one\n\nWhat it shows " + "and more " * 60),
            new_code_cell(
                "fig", outputs=[new_output("display_data", data={"image/png": figure, "text/plain": "<Figure>"})]
            ),
        ]
    )
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


def laid_out_notebook() -> nbformat.NotebookNode:
    """Title and introduction in one cell, two sections (one with a subsection), a summary cell computed last."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Report & title\n\nIntroduction paragraph.\n\n## Inside the intro cell"),
            new_code_cell("setup", outputs=[new_output("stream", name="stdout", text="set-up printed\n")]),
            new_markdown_cell("## First section\n\nText one.\n\n### A subsection"),
            new_code_cell("table", outputs=[new_output("display_data", data={"text/plain": "table one"})]),
            new_markdown_cell("## Second section: a/b (c)"),
            new_code_cell(
                "summary",
                metadata={"tags": ["summary"]},
                outputs=[
                    new_output(
                        "display_data", data={"text/markdown": "**What we found.** Forty-two.", "text/plain": "found"}
                    ),
                    new_output("stream", name="stderr", text="a warning\n"),
                ],
            ),
        ]
    )


def test_report_layout_puts_summary_and_contents_under_the_title():
    original = laid_out_notebook()
    nb = report_layout(original)
    assert len(original.cells) == 6 and "summary" in original.cells[-1].metadata["tags"]  # the input is left alone
    sources = [c.source for c in nb.cells]
    assert sources[0] == "# Report & title"
    summary, toc, intro = nb.cells[1:4]
    assert [o.get("data", {}).get("text/plain") for o in summary.outputs] == ["found"]  # stderr is not carried
    assert "xai-toc" in toc.outputs[0].data["text/html"]
    assert intro.cell_type == "markdown" and intro.source.startswith("Introduction paragraph.")
    assert not any("summary" in c.metadata.get("tags", []) for c in nb.cells)  # moved, not copied
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    bare = report_layout(new_notebook(cells=[new_markdown_cell("no heading"), new_code_cell("x")]))
    assert [c.source for c in bare.cells] == ["no heading", "x"]  # nothing to add: no summary, no section


def test_exported_report_opens_with_summary_then_contents_whose_links_resolve(tmp_path):
    path = tmp_path / "r.ipynb"
    nbformat.write(laid_out_notebook(), path)
    page = export_html(path, tmp_path / "r.html").read_text(encoding="utf-8")
    body = page[page.index("<main>") :]
    found, contents = body.index("Forty-two"), body.index('<nav class="xai-toc">')
    first_section = re.search(r'<h2 id="First-section"', body).start()
    assert body.index("Report &amp; title") < found < contents < body.index("Introduction paragraph.") < first_section
    assert "a warning" not in body and body.count("Forty-two") == 1
    nav = body[contents : body.index("</nav>", contents)]
    links = re.findall(r'href="#([^"]+)"', nav)
    ids = set(re.findall(r'\bid="([^"]+)"', body))
    assert links and all(link in ids for link in links), f"links without a target: {set(links) - ids}"
    texts = re.findall(r'<a href="#[^"]+">([^<]+)</a>', nav)
    assert texts == ["Inside the intro cell", "First section", "A subsection", "Second section: a/b (c)"]
    assert re.search(
        r"First section</a><ul><li><a [^>]+>A subsection</a></li></ul></li>", nav
    )  # nested under its section
    assert (
        summarize_report(tmp_path / "r.html").description == "Introduction paragraph."
    )  # the index still reads the intro


def test_outputs_of_one_section_fold_into_one_details_element(tmp_path):
    outputs = [
        new_output("display_data", data={"text/plain": f"out {i}"}, metadata={SECTION_KEY: section} if section else {})
        for i, section in enumerate(["a.wav", "a.wav", None, "b.wav"])
    ]
    outputs[3].metadata = section("b.wav", opened=True)
    assert outputs[3].metadata == {SECTION_KEY: "b.wav", SECTION_OPEN_KEY: True}
    nbformat.write(
        new_notebook(cells=[new_markdown_cell("# Files"), new_code_cell("loop", outputs=outputs)]), tmp_path / "g.ipynb"
    )
    body = export_html(tmp_path / "g.ipynb", tmp_path / "g.html").read_text(encoding="utf-8")
    sections = re.findall(
        r'<details class="xai-section"( open(?:="")?)?><summary>([^<]*)</summary>(.*?)</details>', body, re.DOTALL
    )
    assert [(opened, title) for opened, title, _ in sections] == [("", "a.wav"), (' open=""', "b.wav")]
    assert "out 0" in sections[0][2] and "out 1" in sections[0][2] and "out 3" in sections[1][2]
    assert "out 2" in body and "out 2" not in "".join(inner for _, _, inner in sections)


def test_numeric_key_orders_levels_by_their_number():
    labels = ["level 0 dB", "level -10 dB", "level 20 dB", "level \u221220 dB", "no number", "level 2.5 dB"]
    assert sorted(labels)[:2] == ["level -10 dB", "level 0 dB"]  # text order: the case the key exists for
    assert sorted(labels, key=numeric_key) == [
        "level \u221220 dB",
        "level -10 dB",
        "level 0 dB",
        "level 2.5 dB",
        "level 20 dB",
        "no number",
    ]


def test_sort_labels_sorts_one_level_within_the_others():
    columns = pd.MultiIndex.from_tuples([(s, f"level {v} dB") for s in ("mean", "std") for v in (-10, -20, 0)])
    frame = pd.DataFrame([range(6)], columns=columns)
    ordered = sort_labels(frame)
    assert list(ordered.columns) == [(s, f"level {v} dB") for s in ("mean", "std") for v in (-20, -10, 0)]
    assert ordered[("std", "level -20 dB")].item() == 4  # values travel with their labels
    rows = sort_labels(pd.DataFrame({"x": [1, 2, 3]}, index=["b 10", "a 2", "c -1"]), axis="index")
    assert list(rows.index) == ["c -1", "a 2", "b 10"]
    layers = ["randomised down to gru2", "randomised down to fc_in", "randomised down to fc_out3", "other"]
    order = [f"randomised down to {layer}" for layer in ("fc_out3", "gru2", "gru1", "fc_in")]
    keyed = sort_labels(pd.DataFrame([[1, 2, 3, 4]], columns=layers), key=order_key(order))
    assert list(keyed.columns) == [
        "randomised down to fc_out3",
        "randomised down to gru2",
        "randomised down to fc_in",
        "other",
    ]
    with pytest.raises(ValueError, match="level 2 does not exist"):
        sort_labels(frame, level=2)
    with pytest.raises(ValueError, match="axis must be"):
        sort_labels(frame, axis="rows")


def test_captioned_table_shows_caption_na_and_leaves_out_empty_columns():
    frame = pd.DataFrame({"PESQ": [1.23456, np.nan], "std": [np.nan, np.nan], "n": [3, 4]}, index=["a.wav", "b.wav"])
    page = captioned(frame, "Scores per file.", precision=2, drop_empty=True).to_html()
    assert re.search(r"<caption>Scores per file\. Left out, without any value: std\.</caption>", page)
    assert "1.23" in page and "1.2346" not in page and "n/a" in page and "nan" not in page.lower().replace("n/a", "")
    assert ">std<" not in page and ">4<" in page
    long = captioned(pd.DataFrame({"bins/integrated_gradients": [1.0]}), "Long label.").to_html()
    assert ">bins/\u200bintegrated_\u200bgradients<" in long  # may wrap after / and _, so the table fits the page
    kept = captioned(frame, "All columns.").to_html()
    assert ">std<" in kept and kept.count("n/a") == 3
    with pytest.raises(ValueError, match="caption"):
        captioned(frame, " ")


def decoded_players(page: str) -> list[np.ndarray]:
    """The samples of every embedded WAV player of ``page``, in order."""
    import soundfile as sf

    return [
        sf.read(io.BytesIO(base64.b64decode(data)))[0]
        for data in re.findall(r'src="data:audio/wav;base64,([^"]+)"', page)
    ]


def test_players_cut_the_segment_keep_loudness_and_play_nsnet2_on_each_input(tmp_path, explained):
    """Notebook 04's players: the explained segment with 0.25 s either side, for the original, top, flop and
    first random inputs and NSNet2's output of each; amplified clips stay louder (no per-clip normalisation)."""
    from xai_helpers.dsp.wave import rms
    from xai_helpers.experiments.perturbation import PerturbationSettings, amplified_name, enhanced_name, perturb_file
    from xai_helpers.experiments.ranking import derived_seeds
    from xai_helpers.io.audio import load_audio
    from xai_helpers.models.cache import cached_model
    from xai_helpers.models.enhance import enhance
    from xai_helpers.reports.audio import audio_grid
    from xai_helpers.reports.perturbation import PLAYER_COLUMNS, player_clips, segment_span_s

    source, folder, _ = explained  # deepliftshap of 0.5 to 0.55 s of the first bundled utterance
    settings = PerturbationSettings(top_percent=20.0, gain_db=12.0, n_random=2, seed=1, fractions=(0.0, 1.0))
    result = perturb_file(source, folder, tmp_path / "out", settings, cached_model(16000))
    assert result.status == "perturbed", result.message

    # frames 50..54 (hop 160, window 320 samples) cover samples 8000..8959: 0.5 to 0.56 s
    assert segment_span_s(result) == pytest.approx((0.5, 0.56))
    clips = player_clips(result, context_s=0.25)
    assert clips.clip_s == pytest.approx((0.25, 0.81))
    assert list(clips.clips) == ["original", "top amplified", "flop amplified", "random amplified (first seed)"]
    start, stop = 4000, 12960
    for row in clips.clips.values():
        assert [len(row[column]) for column in PLAYER_COLUMNS] == [stop - start] * 2
    np.testing.assert_array_equal(clips.clips["original"]["input"], load_audio(source)[start:stop])
    for key, label in (
        ("top", "top amplified"),
        ("flop", "flop amplified"),
        ("random", "random amplified (first seed)"),
    ):
        amplified = load_audio(tmp_path / "out" / amplified_name(source.stem, key, 20.0, 12.0))  # written, random too
        np.testing.assert_array_equal(amplified, result.waves[key])
        np.testing.assert_array_equal(clips.clips[label]["input"], amplified[start:stop])
        expected = enhance(amplified, 16000)[start:stop]
        np.testing.assert_allclose(clips.clips[label]["enhanced output"], expected, atol=1e-6)
        written = load_audio(tmp_path / "out" / enhanced_name(source.stem, key, 20.0, 12.0))
        np.testing.assert_allclose(written, result.enhanced[key], atol=1e-7)
    np.testing.assert_allclose(
        clips.clips["original"]["enhanced output"], enhance(load_audio(source), 16000)[start:stop], atol=1e-6
    )
    sidecar = json.loads(
        (tmp_path / "out" / amplified_name(source.stem, "random", 20.0, 12.0)).with_suffix(".json").read_text()
    )
    assert sidecar["random_seed"] == derived_seeds(1, 2)[0] and sidecar["enhanced_file"].endswith("_enhanced.wav")

    # the players keep the loudness ratios of the clips (one common scale), which amplification changed
    segment = slice(8000 - start, 8960 - start)  # the segment inside the clips
    original, top = clips.clips["original"]["input"][segment], clips.clips["top amplified"]["input"][segment]
    assert rms(top) / rms(original) > 1.2
    page = audio_grid(clips.clips, 16000, clips.describe(source.stem))
    decoded = decoded_players(page)
    assert len(decoded) == 8 and "0.50 to 0.56 s of the file" in page and "0.25 to 0.81 s" in page
    played = {
        (label, column): wave
        for (label, column), wave in zip(
            [(label, column) for label in clips.clips for column in PLAYER_COLUMNS], decoded
        )
    }
    for (label, column), wave in played.items():
        reference = clips.clips[label][column]
        scale = 1.0 / max(1.0, max(float(np.abs(w).max()) for row in clips.clips.values() for w in row.values()))
        np.testing.assert_allclose(wave, reference * scale, atol=2 / 32768)  # 16-bit players, one scale for all
    assert rms(played[("top amplified", "input")][segment]) / rms(
        played[("original", "input")][segment]
    ) == pytest.approx(rms(top) / rms(original), rel=1e-3)

    assert player_clips(result, context_s=1.0).clip_s[0] == 0.0  # kept inside the file
    with pytest.raises(ValueError, match="context_s"):
        player_clips(result, context_s=-0.1)


def header_texts(page: str) -> list[str]:
    """Text of every header cell, without the zero-width spaces that let long labels wrap."""
    return [
        re.sub(r"<[^>]+>", "", cell).replace("\u200b", "").strip()
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", page, re.DOTALL)
    ]


def test_faithfulness_tables_order_levels_by_number_and_layers_as_the_model():
    from xai_helpers.models.nsnet2 import NSNet2
    from xai_helpers.reports.faithfulness import condition_table, randomisation_table

    levels = ["level 0 dB", "level -10 dB", "level 20 dB", "level -20 dB"]
    rows = [
        {"method": method, "metric": "enrichment", "condition": level, "value": value + i, "sample": sample}
        for i, level in enumerate(levels)
        for method, value in (("a", 1.0), ("b", 2.0))
        for sample in ("x", "y")
    ]
    page = condition_table(rows, "enrichment", "Enrichment per level.").to_html()
    shown = [h for h in header_texts(page) if h.startswith("level")]
    assert shown == ["level -20 dB", "level -10 dB", "level 0 dB", "level 20 dB"] * 2  # mean, then std
    assert "<caption>Enrichment per level.</caption>" in page  # two samples: std has values, nothing left out

    order = NSNet2.randomisation_order
    assert order == ("fc_out3", "fc_out2", "fc_out1", "gru2", "gru1", "fc_in")
    rows = [
        {
            "method": "a",
            "metric": "randomisation_spearman_signed",
            "condition": f"randomised down to {layer}",
            "layer": layer,
            "depth": order.index(layer) + 1,
            "value": 0.9 - 0.1 * index,
            "sample": "x",
        }
        for index, layer in enumerate(sorted(order))
    ]
    page = randomisation_table(rows).to_html()
    assert [h for h in header_texts(page) if h in order] == list(order)  # by depth, not alphabetical
    assert "randomised down to" not in page.split("</caption>")[1]  # the layer alone heads its column
    assert "std" not in header_texts(page)  # one file: no spread to show


def test_summaries_read_the_runs_numbers():
    from xai_helpers.reports.noise import summary as noise_summary

    class Item:
        def __init__(self, snr):
            self.params = {"achieved_snr_db": snr}

    quality = pd.DataFrame(
        {
            "condition": ["c", "c"],
            "PESQ noisy": [1.0, np.nan],
            "PESQ enhanced": [2.0, np.nan],
            "PESQ improvement": [1.0, np.nan],
            "STOI noisy": [0.8, 0.6],
            "STOI enhanced": [0.9, 0.5],
            "STOI improvement": [0.1, -0.1],
            "SI-SDR noisy (dB)": [5.0, 4.0],
            "SI-SDR enhanced (dB)": [12.0, 10.0],
            "SI-SDR improvement (dB)": [7.0, 6.0],
        },
        index=["a", "b"],
    )
    text = noise_summary([Item(5.04), Item(4.96)], quality, "pink_snr", {"snr_db": [5.0]}).data
    assert "2 noisy file(s)" in text and "achieved SNR 5.0 to 5.0 dB" in text
    assert "PESQ 1.00 → 2.00 (+1.00, higher in 1 of 1 files)" in text  # n/a files are left out of the means
    assert "STOI 0.700 → 0.700 (+0.000, higher in 1 of 2 files)" in text and "SI-SDR 4.50 → 11.00 dB (+6.50" in text

    from xai_helpers.attribution.explain import ExplainConfig, ExplainResult
    from xai_helpers.reports.attributions import results_table, summary as attribution_summary

    config = ExplainConfig(method="deeplift", segment_start_s=0.5, segment_duration_s=0.2)
    results = [
        ExplainResult(Path(f"{name}.wav"), Path(f"/nonexistent/{name}.h5"), status, deltas=np.array(deltas))
        for name, status, deltas in (("a", "computed", [1e-7, -3e-7]), ("b", "skipped", [2e-6, 0.0]))
    ]
    text = attribution_summary(results, [], config).data
    assert (
        "`deeplift` (DeepLIFT rule `complete`)" in text and "of 2 file(s)" in text and "1 computed, 1 skipped" in text
    )
    assert "4 explained outputs" in text and "median 2.0e-07 and maximum 2.0e-06: they add up" in text
    whole = [ExplainResult(Path("a.wav"), Path("/nonexistent/a_whole.h5"), "computed", deltas=np.array([3e-7]))]
    page = results_table(results + whole).to_html()  # "a.wav" twice: segment and whole file
    assert page.count("<tr>") == 4 and "2.0e-06" in page and "<caption>One row per explained file" in page
    assert "whole file(s) as influence maps" in attribution_summary(results, whole, config).data
    results[1].deltas = np.array([0.5, -1.25])
    assert "they do not add up: the largest miss is 1.25 mask units" in attribution_summary(results, [], config).data


def test_visualisation_summary_reads_shares_and_top_band_off_hand_made_numbers(tmp_path):
    from xai_helpers.analysis.bands import BandAttribution
    from xai_helpers.plots.files import BatchPlotReport, FilePlots, MapOptions
    from xai_helpers.reports.visualisation import low_frequency_share, near_share, summary

    freqs = np.array([0.0, 500.0, 1000.0, 1500.0])
    global_abs = np.array([[1.0, 1.0], [2.0, 0.0], [1.0, 1.0], [4.0, 0.0]])  # total 10: 6 up to 1000 Hz
    assert low_frequency_share(global_abs, freqs, 1000.0) == pytest.approx(0.6)
    assert low_frequency_share(global_abs, freqs, 400.0) == pytest.approx(0.2)
    assert np.isnan(low_frequency_share(np.zeros((4, 2)), freqs, 1000.0))
    time_map = np.array([[4.0, 0.0, 0.0], [1.0, 2.0, 0.0], [-1.0, 1.0, 1.0]])  # |.| total 10; lags 0: 7, 1: 2, 2: 1
    assert near_share(time_map, 1) == pytest.approx(0.7)
    assert near_share(time_map, 2) == pytest.approx(0.9)
    assert near_share(time_map, 3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="frames must be >= 1"):
        near_share(time_map, 0)

    report = BatchPlotReport("deeplift", "abs_sum", tmp_path)
    report.plotted = [FilePlots(Path(f"{n}.wav"), Path(f"{n}.h5"), {}, {}) for n in "ab"]
    report.skipped, report.damaged = [Path("c.wav")], [(Path("d.h5"), "truncated")]
    bands = BandAttribution(
        "linear",
        "abs_sum",
        True,
        np.array([0.0, 1000.0, 2000.0, 4000.0]),
        np.array([[0.5, 0.3, 0.2], [0.7, 0.2, 0.1]]),
        ["a.h5", "b.h5"],
    )
    reach = pd.DataFrame({"file": ["a.h5", "b.h5"], "low_share": [0.55, 0.75], "near_share": [0.9, 0.8]})
    text = summary(report, bands, reach, MapOptions(log_floor=0.01, normalisation="rows"), 1000.0).data
    assert "`deeplift` attributions of 2 file(s), aggregated with `abs_sum`" in text and "log scale from 0.01" in text
    assert "row-normalised" in text and "linear, 3 bands" in text
    assert "2 plotted, 1 without attributions, 1 damaged or incomplete left out" in text
    assert "up to 1000 Hz carry 65 % (55-75 % over 2 files) of Σ|a|" in text
    assert "85 % (80-90 % over 2 files) of the time map's |attribution| lies within 100 ms" in text
    assert "Top band of the band analysis: 0-1k Hz (60 % of each file's total on average)" in text
    one = summary(report, bands, reach.iloc[:1], MapOptions(log_floor=None, normalisation="none"), 1000.0).data
    assert "carry 55 % of" in one and "linear scale" in one and "raw sums" in one


def test_influence_reach_reads_the_shares_off_each_all_bins_file(tmp_path):
    from test_batch_plots import FREQS, causal_tensor, h5_name, write_bins, write_h5

    from xai_helpers.attribution.maps import MapAccumulator
    from xai_helpers.reports.visualisation import REACH_COLUMNS, influence_reach

    a = causal_tensor(5)
    path = write_bins(tmp_path / h5_name("a"), a)
    one = write_h5(
        tmp_path / h5_name("y", outputs="bin"),
        {"attributions": (a[:1, :1], ("f_out", "t_out", "f_in", "t_in"))},
        outputs="bin",
        bin_indices=[0, 0],
    )
    reach = influence_reach([path, one], low_hz=200.0, near_ms=20.0)  # 10 ms frames: lags 0 and 1
    assert list(reach.columns) == list(REACH_COLUMNS) and list(reach["file"]) == [path.name]  # the single bin left out
    magnitude = np.abs(a.astype(np.float64))
    global_abs, time_map = magnitude.sum(axis=(0, 1)), magnitude.sum(axis=(0, 2))
    assert reach["low_share"].iloc[0] == pytest.approx(global_abs[FREQS <= 200.0].sum() / global_abs.sum())
    lag = np.subtract.outer(np.arange(time_map.shape[0]), np.arange(time_map.shape[1]))
    assert reach["near_share"].iloc[0] == pytest.approx(time_map[(lag >= 0) & (lag < 2)].sum() / time_map.sum())
    zero = MapAccumulator(a.shape).result()  # maps at hand are read instead of the file: all zero, shares NaN
    assert influence_reach([path], 200.0, 20.0, maps={path: zero})[["low_share", "near_share"]].isna().all(axis=None)


def test_headings_in_outputs_are_listed_in_the_contents(tmp_path):
    """Notebook 03's gallery writes its section headings as Markdown outputs: the contents link to them."""
    nb = laid_out_notebook()
    nb.cells[3].outputs.append(
        new_output("display_data", data={"text/markdown": "### Global influence\n\nText.", "text/plain": "section"})
    )
    nbformat.write(nb, tmp_path / "o.ipynb")
    body = export_html(tmp_path / "o.ipynb", tmp_path / "o.html").read_text(encoding="utf-8")
    nav = body[body.index('<nav class="xai-toc">') : body.index("</nav>", body.index('<nav class="xai-toc">'))]
    assert re.findall(r'<a href="#[^"]+">([^<]+)</a>', nav) == [
        "Inside the intro cell",
        "First section",
        "A subsection",
        "Global influence",
        "Second section: a/b (c)",
    ]
    ids = set(re.findall(r'\bid="([^"]+)"', body))
    assert all(link in ids for link in re.findall(r'href="#([^"]+)"', nav))


def test_setup_notebook_shows_every_column_and_whole_cells(notebook_setup_undone):
    from xai_helpers.run.notebook import setup_notebook

    wide = pd.DataFrame([[f"{'x' * 80}{i}" for i in range(30)]])
    assert "..." in wide._repr_html_()  # pandas' defaults cut columns and cell text
    setup_notebook()
    page = wide._repr_html_()
    styled = pd.DataFrame({"a": [np.nan]}).style.to_html()
    assert "..." not in page and page.count("x" * 80) == 30
    assert "n/a" in styled


def test_faithfulness_summary_opens_with_the_best_method_the_controls_and_a_control_that_ranks_as_well(agreement_rows):
    from types import SimpleNamespace

    from xai_helpers.experiments.faithfulness import BenchmarkSettings
    from xai_helpers.reports.faithfulness import Benchmark, summary

    rows = agreement_rows
    benchmark = Benchmark(
        BenchmarkSettings(methods=("good", "poor")), {"a": np.zeros(4)}, SimpleNamespace(name="dtln"), None
    )
    text = summary(benchmark, rows).data
    found = text.split("**What we found.**")[1]
    assert "(`good`, `poor`)" in text and "1 file(s)" in text and "model dtln" in text
    assert (
        found.index("**good** agrees best")
        < found.index("Controls on Spearman")
        < found.index("Control(s) at or above good")
    )
    assert "enrichment" not in found.lower() and "The full reading closes the report." in found
