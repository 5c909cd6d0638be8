"""The reports and the explorer as a reader meets them, in a real browser (headless Chromium driven by Playwright).

1. Tiny notebooks (a matplotlib figure, a tqdm.auto bar, an ipywidgets slider, a summary cell, a
   per-file gallery of collapsible sections) are executed and exported as the book does
   (:func:`xai_helpers.run.execution.execute_notebook`), indexed with
   :func:`xai_helpers.reports.html.write_index`, then every page is opened with the network blocked:
   each opens with its summary, then its table of contents, whose links all reach a heading.
2. JupyterLab runs on loopback with a notebook showing the real :class:`xai_helpers.plots.explorer.Explorer`
   over a small attribution file; the cells are run from the Run menu, the frequency slider is
   moved with the keyboard and the explorer's image must change; hovering over the mask panel must
   show that bin's values, a click there must pick that bin; no second (static) figure is shown.

Skipped, with how to get them, where Chromium (Debian package ``chromium``) or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL_HINT = (
    "`apt-get install -y chromium` (Debian) and `pip install playwright` (the `test` extra), never `playwright install`"
)

# What makes an output area non-blank for a reader.
BLANK_OUTPUTS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .filter(e => !e.innerText.trim() && !e.matches('img,svg,audio,video,canvas,progress')
               && !e.querySelector('img,svg,audio,video,canvas,progress,table'))
  .map(e => e.outerHTML.slice(0, 200))"""
BROKEN_IMAGES_JS = """() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
  .map(i => (i.getAttribute('src') || '').slice(0, 80))"""


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium from the system (no downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"Playwright is not installed: {INSTALL_HINT}")
    if CHROMIUM is None:
        pytest.skip(f"no chromium on PATH: {INSTALL_HINT}")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_offline(browser, url: str, allowed: tuple[str, ...] = ("file:", "data:", "blob:")):
    """A new page at ``url`` where every request not starting with one of ``allowed`` is aborted;
    returns ``(page, blocked)``, ``blocked`` the list of the aborted URLs (growing while the page lives)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    return page, blocked


# Where the summary, the contents and the first section heading sit, and the contents' links without a target.
LAYOUT_JS = (
    """() => {
  const top = e => e ? e.getBoundingClientRect().top + window.scrollY : null;
  const links = [...document.querySelectorAll('nav.xai-toc a')].map(a => a.getAttribute('href'));
  return {summary: top(document.querySelector('.celltag_xai-summary')), """
    """contents: top(document.querySelector('nav.xai-toc')),
          first_section: top(document.querySelector('main h2')), links: links,
          unresolved: links.filter(h => !document.getElementById(decodeURIComponent(h.slice(1)))),
          closed_sections: [...document.querySelectorAll('details.xai-section:not([open])')].length};
}"""
)


def inspect_report(browser, path: Path) -> dict:
    """What a reader meets at ``path`` offline: requests that tried to leave, broken images, blank
    output areas (with every collapsible section opened), the title, the page height (px, sections
    as they open) and the layout of :data:`LAYOUT_JS`."""
    page, blocked = open_offline(browser, path.resolve().as_uri())
    page.wait_for_timeout(300)  # let scripts that would fetch (require.js, widget managers) start
    found = {
        "blocked": list(blocked),
        "broken_images": page.evaluate(BROKEN_IMAGES_JS),
        "title": page.title(),
        "height_px": page.evaluate("document.body.scrollHeight"),
        "layout": page.evaluate(LAYOUT_JS),
    }
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    found["blank_outputs"] = page.evaluate(BLANK_OUTPUTS_JS)
    page.close()
    return found


def small_notebooks() -> dict[str, nbformat.NotebookNode]:
    figure = new_code_cell(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\n"
        "ax.plot([0, 1, 4])\nax.set_title('line')\nplt.show()"
    )
    bar = new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(4), desc='steps'):\n    pass")
    slider = new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=3, max=9, description='n')")
    gallery = new_code_cell(
        "from IPython.display import Markdown, display\nfor name in ('a.wav', 'b.wav'):\n"
        "    display(Markdown(f'notes on {name}'), metadata={'xai_section': name})\n"
        "    display(fig, metadata={'xai_section': name})"
    )
    summary = new_code_cell(
        "from IPython.display import Markdown\nMarkdown('**What we found.** A line that rises.')",
        metadata={"tags": ["summary"]},
    )
    return {
        "01_figure.ipynb": new_notebook(
            cells=[
                new_markdown_cell("# First report\n\nA line plotted."),
                new_markdown_cell("## The figure"),
                figure,
                new_markdown_cell("## Per file\n\n### Gallery"),
                gallery,
                bar,
                summary,
            ]
        ),
        "02_widgets.ipynb": new_notebook(
            cells=[new_markdown_cell("# Second report\n\nA slider, inert here."), slider, bar, figure]
        ),
    }


def test_reports_open_offline_with_titles_images_and_no_blank_widget(browser, tmp_path):
    from xai_helpers.run.execution import execute_notebook
    from xai_helpers.reports.html import write_index

    sources, reports = tmp_path / "notebooks", tmp_path / "reports"
    sources.mkdir()
    for name, nb in small_notebooks().items():
        nbformat.write(nb, sources / name)
        execute_notebook(sources / name, reports / name, {})
    executed = nbformat.read(reports / "02_widgets.ipynb", as_version=4)
    assert "widgets" in executed.metadata, "the executed notebook should hold widget state (the case under test)"
    index = write_index(reports)

    titles, layouts = {}, {}
    for page in sorted(reports.glob("*.html")):
        found = inspect_report(browser, page)
        assert found["blocked"] == [], f"{page.name} tried to reach the network"
        assert found["broken_images"] == [], f"{page.name}: images that did not load"
        assert found["blank_outputs"] == [], f"{page.name}: blank output areas"
        assert found["title"] and found["title"] != "Notebook"
        titles[page.name] = found["title"]
        layouts[page.name] = found["layout"]
    assert titles == {
        "01_figure.html": "First report",
        "02_widgets.html": "Second report",
        "index.html": "nsnet2-xai reports",
    }
    first = layouts["01_figure.html"]  # summary, then contents, then the first section
    assert first["summary"] < first["contents"] < first["first_section"]
    assert first["links"] == ["#The-figure", "#Per-file", "#Gallery"] and first["unresolved"] == []
    assert first["closed_sections"] == 2  # the gallery's two files, folded
    assert layouts["02_widgets.html"]["summary"] is None and layouts["02_widgets.html"]["links"] == []  # nothing to add

    page, _ = open_offline(browser, index.as_uri())
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
    thumbnails = page.eval_on_selector_all("img.thumb", "imgs => imgs.map(i => i.naturalWidth)")
    page.close()
    assert hrefs and all(h.startswith(reports.resolve().as_uri() + "/") for h in hrefs), "a link leaves reports/"
    assert len(thumbnails) == 2 and min(thumbnails) > 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """JupyterLab on a free loopback port, no token, serving ``tmp_path/work``; yields ``(url, work)``."""
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "OMP_NUM_THREADS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={work}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts the server slowly
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield url, work
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def count_above(finished: int) -> str:
    """A pattern for an input prompt ``[n]`` with ``n > finished`` (an execution count)."""
    done = "|".join(str(n) for n in range(finished + 1))
    return rf"\[(?!(?:{done})\])\d+\]"


def run_all_cells(page, finished: int) -> int:
    """Run every cell of the open notebook from the menu and wait until the code cell's execution count
    exceeds ``finished`` and the kernel is idle; returns that count. The menu is used again if a kernel
    dialog dropped the run (a queued extra run only raises the count).

    Every wait is a web-first assertion (``expect``): Playwright runs the page's locator handlers (the
    kernel dialog's) only during actions and assertions, never during ``page.wait_for_function``."""
    from playwright.sync_api import expect

    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    prompt = page.locator(".jp-CodeCell .jp-InputPrompt")
    above = count_above(finished)
    expect(idle).to_be_visible()
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            expect(prompt).to_contain_text(re.compile(rf"\[\*\]|{above}"), timeout=8_000)
            break
        except AssertionError:
            continue
    # The kernel imports torch first: slow on a loaded machine.
    expect(prompt).to_contain_text(re.compile(above), timeout=180_000)
    expect(idle).to_be_visible(timeout=180_000)
    return int(re.search(r"\[(\d+)\]", prompt.inner_text()).group(1))


def show_widget(page, image, attempts: int = 3) -> None:
    """Run the notebook until ``image`` (a widget's output) is visible.

    JupyterLab's widget manager restores the kernel's widgets when it connects; a cell that creates a
    widget during that restore can be left at "Loading widget..." for good (jupyter-widgets/ipywidgets
    PR #3549 and ipyleaflet PR #968 describe the race). A user runs the cell again, or reloads the page
    and runs it again; so does this, ``attempts`` runs in all, and fails if the widget never shows."""
    from playwright.sync_api import expect

    finished = 0
    for attempt in range(attempts):
        if attempt == attempts - 1 and attempt > 0:
            page.reload(wait_until="load")  # a fresh widget manager; the reloaded notebook has no outputs
            finished = 0  # nor prompts, whether the kernel session survived the reload or not
        finished = run_all_cells(page, finished)
        try:
            expect(image).to_be_visible(timeout=45_000)
            return
        except AssertionError:
            continue
    expect(image).to_be_visible(timeout=1)  # fails with Playwright's account of the page


def test_explorer_slider_click_and_hover_in_jupyterlab(browser, jupyter_lab):
    from test_batch_plots import FREQS, TIMES, fraction_of, h5_name, write_bins

    from playwright.sync_api import expect

    from xai_helpers.plots.explorer import Explorer

    url, work = jupyter_lab
    write_bins(work / "attributions" / h5_name("a"))
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Explorer"),
            new_code_cell(
                "from xai_helpers.plots.explorer import explore\n"
                f"explore('attributions', f_hz={FREQS[0]}, t_s={TIMES[-1]})"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, work / "explorer.ipynb")

    page, _ = open_offline(browser, f"{url}/lab/tree/explorer.ipynb", allowed=(url, "data:", "blob:"))
    page.set_default_timeout(20_000)
    expect.set_options(timeout=20_000)
    # JupyterLab may ask which kernel to use (then the run is dropped): accept its proposal, run again.
    page.add_locator_handler(page.locator(".jp-Dialog"), lambda dialog: dialog.locator(".jp-mod-accept").click())
    image = page.locator(".jp-OutputArea-output img.xai-explorer-image")
    show_widget(page, image)
    # A live session shows the widget only: the static PNG that reports use is not drawn beside it.
    expect(page.locator(".jp-OutputArea-output img")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('img.xai-explorer-image').naturalWidth > 0")
    src_js = "() => document.querySelector('img.xai-explorer-image').src"
    before_src = page.evaluate(src_js)
    status = page.locator(".widget-label", has_text="output bin")
    assert f"{FREQS[0]:g} Hz" in status.inner_text()

    page.locator(".widget-slider", has_text="f_out").locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"src => ({src_js})() !== src", arg=before_src)
    assert f"{FREQS[1]:g} Hz" in status.inner_text()

    # Click the mask panel where bin (f=6, t=2) is drawn (the same figure made here gives the place).
    local = Explorer(work / "attributions", f_hz=FREQS[1], t_s=TIMES[-1])
    fx, fy = fraction_of(local.figure, 2, TIMES[2], FREQS[6])  # the mask panel; fy from the top
    box = image.bounding_box()
    point = (box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.mouse.move(*point)
    hover = page.locator(".widget-label", has_text="input bin")
    expect(hover).to_contain_text(f"{FREQS[6]:g} Hz, {TIMES[2]:.3f} s")
    expect(hover).to_contain_text("mask")
    page.mouse.click(*point)
    expect(status).to_contain_text(f"output bin {FREQS[6]:g} Hz, {TIMES[2]:.3f} s")
    page.close()
