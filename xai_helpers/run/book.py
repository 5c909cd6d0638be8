"""Run the numbered notebooks with papermill and export each to HTML in ``reports/``.

Usage (the README's main command calls this)::

    python -m xai_helpers.run.book                      # every notebook, its default parameters
    python -m xai_helpers.run.book --notebooks 01 02    # a subset
    python -m xai_helpers.run.book -p seed 3            # override a parameter in every notebook that has it

Notebooks run with their folder (``notebooks/``) as working directory, so relative paths in
parameters are relative to ``notebooks/``, as when a user opens them in JupyterLab. On a failing
cell papermill still writes the executed notebook (with the error): it is kept as the log, the
remaining notebooks are not run, and the command exits non-zero.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO / "notebooks"
REPORTS_DIR = REPO / "reports"

logger = logging.getLogger(__name__)


def numbered_notebooks(selection: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks in order, optionally only those whose number is in ``selection``."""
    found = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if selection:
        unknown = set(selection) - {p.name[:2] for p in found}
        if unknown:
            raise ValueError(f"no notebook numbered {sorted(unknown)} in {notebooks_dir}")
        found = [p for p in found if p.name[:2] in selection]
    return found


def notebook_parameters(notebook: Path) -> dict[str, object]:
    """The names defined in the notebook's cell tagged ``parameters`` with their default values (Python
    literals parsed, e.g. ``"complete"`` -> ``complete``; any other expression as its source text)."""
    import papermill

    return {name: _literal(entry["default"]) for name, entry in papermill.inspect_notebook(str(notebook)).items()}


def _literal(source: str) -> object:
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


def run_notebook(notebook: Path, reports_dir: Path, parameters: dict[str, object]) -> Path:
    """Execute ``notebook`` into ``reports_dir/NAME.ipynb`` and export it to ``reports_dir/NAME.html``.

    Only the parameters the notebook declares are passed; the kernel may use every core. Returns
    the HTML path; raises ``RuntimeError`` naming the executed notebook (which holds the traceback,
    and is exported too) if a cell fails.
    """
    import papermill

    from .execution import execute_notebook

    accepted = {k: v for k, v in parameters.items() if k in notebook_parameters(notebook)}
    executed = reports_dir / notebook.name
    started = time.perf_counter()
    try:
        html_path = execute_notebook(notebook, executed, accepted, threads=os.cpu_count() or 1, terminal_progress=True)
    except papermill.PapermillExecutionError as error:
        raise RuntimeError(
            f"{notebook.name} failed at cell {error.exec_count}: {error.ename}: {error.evalue} "
            f"(executed notebook kept as the log: {executed})"
        ) from error
    logger.info("%s ran in %.1f s -> %s", notebook.name, time.perf_counter() - started, html_path)
    return html_path


def _parse_value(text: str) -> object:
    import yaml

    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    from ..reports.html import write_index

    parser = argparse.ArgumentParser(prog="python -m xai_helpers.run.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="*", help="numbers of the notebooks to run (default: all)")
    parser.add_argument("--reports", type=Path, default=REPORTS_DIR, help="output folder (default: reports/)")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="parameter override, value parsed as YAML (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parameters = {name: _parse_value(value) for name, value in args.parameter}
    reports_dir = args.reports.resolve()
    status = 0
    for notebook in numbered_notebooks(args.notebooks):
        logger.info("running %s", notebook.name)
        try:
            run_notebook(notebook, reports_dir, parameters)
        except RuntimeError as error:
            logger.error("%s", error)
            status = 1
            break
    index = write_index(reports_dir, extra_dirs=(REPO / "data" / "noisy",))
    logger.info("index: %s", index)
    return status


if __name__ == "__main__":
    sys.exit(main())
