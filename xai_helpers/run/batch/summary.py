"""A batch's summary: ``summary.csv`` (one row per task, with its quality scores) and ``index.html`` linking every
report."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from ...io.atomic import write_text_atomically
from .planning import task_dir_of
from .runner import STATUSES, TaskResult
from .summary_metrics import QUALITY_SUMMARY_COLUMNS, task_quality

SUMMARY_COLUMNS = (
    "task_id",
    "input_path",
    "status",
    "seconds",
    "notebooks_run",
    "error",
    "log",
    "outputs",
    "disk_mb",
    "peak_memory_mb",
) + QUALITY_SUMMARY_COLUMNS
"""The task's run (``disk_mb``: megabytes under its folder; ``peak_memory_mb``: the largest resident memory of its
notebook kernels, sampled by :mod:`.limits`), then its quality scores (:mod:`.summary_metrics`: notebook 01's
PESQ / STOI / SI-SDR, notebook 04's changes)."""


def write_reports(run_dir: Path, results: list[TaskResult]) -> tuple[Path, Path]:
    """Rewrite ``run_dir/summary.csv`` and ``run_dir/index.html`` (atomically); return both paths."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = [{**r.row(run_dir), **task_quality(task_dir_of(run_dir, r.task_id))} for r in results]
    writer.writerows(rows)
    summary_path = write_text_atomically(run_dir / "summary.csv", buffer.getvalue())
    return summary_path, write_batch_index(run_dir, rows)


def write_batch_index(run_dir: Path, rows: list[dict], title: str = "nsnet2-xai batch") -> Path:
    """``run_dir/index.html``: counts, a link to ``summary.csv`` and one table row per task with its reports."""

    def link(path: str, text: str | None = None) -> str:
        return f'<a href="{html.escape(Path(path).as_posix())}">{html.escape(text or Path(path).name)}</a>'

    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    lines = []
    for r in rows:
        reports = [p for p in r["outputs"].split(";") if p.endswith(".html")]
        cells = [
            html.escape(r["task_id"]),
            f'<span class="{r["status"]}">{r["status"]}</span>',
            r["seconds"],
            " ".join(link(p, Path(p).stem) for p in reports),
            html.escape(r["error"]) + (" " + link(r["log"], "log") if r["log"] else ""),
        ]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2em .5em;vertical-align:top}.ok{color:#070}.failed{color:#b00;font-weight:bold}"
        ".skipped{color:#666}.pending{color:#a60}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{len(rows)} task(s): "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + f" &middot; {sum(float(r.get('disk_mb') or 0) for r in rows):.1f} MB on disk"
        + f" &middot; largest task memory {max((float(r.get('peak_memory_mb') or 0) for r in rows), default=0):.0f} MB"
        + f" &middot; {link('summary.csv')}</p><table><tr><th>task</th><th>status</th><th>seconds</th>"
        "<th>reports</th><th>error</th></tr>" + "".join(lines) + "</table></body></html>"
    )
    return write_text_atomically(run_dir / "index.html", page)
