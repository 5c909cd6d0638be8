"""What a reader meets in each HTML report: size (kB), page height (px) and the first screen's text.

Opens every ``*.html`` of a reports folder in headless Chromium (Debian's ``chromium`` package,
driven by Playwright, as ``tests/test_reports_browser.py`` does) with the network blocked, at a
1280 x 900 px viewport, and prints one row per page: size, ``document.body.scrollHeight``, the
number of requests that tried to leave the machine, tables wider than their output area, and the
first characters of the text visible in the first 900 px.

    python benchmarks/report_pages.py                  # reports/
    python benchmarks/report_pages.py runs/demo --chars 300
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Text of the elements whose top lies in the first screen, in document order (leaf-ish blocks only).
FIRST_SCREEN_JS = """(height) => {
  const blocks = [...document.querySelectorAll('h1,h2,h3,h4,p,li,pre,caption,summary,th,td,b')]
    .filter(e => { const r = e.getBoundingClientRect(); return r.top < height && r.bottom > 0 && r.height > 0; })
    .filter(e => !e.parentElement.closest('p,li,pre,caption,summary,th,td,b'));
  return blocks.map(e => e.innerText.trim()).filter(Boolean).join(' | ');
}"""
CUT_TABLES_JS = (
    """() => [...document.querySelectorAll('table')]
  .filter(t => t.closest('.jp-OutputArea-output') && """
    """t.scrollWidth > t.closest('.jp-OutputArea-output').clientWidth + 1).length"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="?", default=str(REPO / "reports"), help="folder of HTML reports")
    parser.add_argument("--chars", type=int, default=240, help="characters of first-screen text to print")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH: `apt-get install -y chromium` (Debian)")
    pages = sorted(Path(args.reports).glob("*.html"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        print("| page | size (kB) | height (px) | blocked requests | tables wider than their area | first screen |")
        print("|---|---|---|---|---|---|")
        for path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            blocked: list[str] = []
            page.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith(("file:", "data:", "blob:"))
                    else (blocked.append(r.request.url), r.abort())
                ),
            )
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            height = page.evaluate("document.body.scrollHeight")
            text = " ".join(page.evaluate(FIRST_SCREEN_JS, 900).split())
            cut = page.evaluate(CUT_TABLES_JS)
            page.close()
            shown = text[: args.chars] + (" …" if len(text) > args.chars else "")
            print(
                f"| {path.name} | {path.stat().st_size / 1000:,.0f} | {height:,} | {len(blocked)} | {cut} | {shown} |"
            )
        browser.close()


if __name__ == "__main__":
    main()
