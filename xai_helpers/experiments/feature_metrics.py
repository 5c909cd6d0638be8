"""Numbers of the feature-definition study (notebook 06): long-form rows, summary tables and the reading.

Rows have the columns ``definition, grid, method, metric, value, file, output, seed`` (``"all"`` where
a number pools files or seeds). Metrics:

=========================  ==========================================================================
``shapley_*``              agreement of a method's scores on a grid's players with the exact Shapley
                           values of the same players (:mod:`.agreement`); latent unit groups are
                           compared with the Shapley values summed per band of the grouping grid
``concentration``          share of ``|score|`` in the top 10 % of the features (at least one): bins,
                           players, or (latent) units x frames
``cost_s``                 compute seconds per explained output (bin methods: under ``grid="bins"``)
``spearman_with:OTHER``    rank agreement of two methods' scores on the same players
``spread_seeds``           stability: the spread (standard deviation) of each player's normalised score
``spread_files``           (``score / sum |score|``) across noise seeds of one file (or across files at
                           one seed), averaged over players, files (seeds) and then reported per output
=========================  ==========================================================================

:func:`kernel_shap_all_coalitions` is KernelSHAP's weighted regression over *every* coalition with
the Shapley kernel; it equals the exact Shapley values (Lundberg and Lee, 2017), which the tests check.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .agreement import shapley_agreement
from .feature_definitions import Grid, Score, Study
from .shapley import _popcount

TOP_SHARE = 0.10
AGREEMENT_METRICS = ("shapley_spearman", "shapley_sign_agreement", "shapley_top3", "shapley_l1")


def kernel_shap_all_coalitions(values: np.ndarray) -> np.ndarray:
    """KernelSHAP's answer ``[k]`` from the values ``[2^k]`` of every coalition (bit ``i`` = player ``i``).

    Minimises ``sum_S w(S) (v(S) - v(0) - sum_{i in S} phi_i)^2`` with the Shapley kernel
    ``w(S) = (k - 1) / (C(k, |S|) |S| (k - |S|))`` over ``0 < |S| < k``, subject to the efficiency
    constraint ``sum phi = v(all) - v(0)`` (the kernel's infinite weight on the full coalition), by
    eliminating the last player.
    """
    values = np.asarray(values, dtype=np.float64)
    k = int(np.log2(len(values))) if len(values) else -1
    if values.ndim != 1 or k < 2 or 2**k != len(values):
        raise ValueError(f"values must hold 2^k coalition values (k >= 2), got shape {values.shape}")
    index = np.arange(1, 2**k - 1)
    size = _popcount(index)
    weight = (k - 1) / (np.array([comb(k, s) for s in size]) * size * (k - size))
    z = ((index[:, None] >> np.arange(k)) & 1).astype(np.float64)  # [coalitions, k]
    total = values[-1] - values[0]
    y = values[index] - values[0] - z[:, -1] * total  # phi_last = total - sum(others)
    x = z[:, :-1] - z[:, -1:]
    root = np.sqrt(weight)
    head = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
    return np.append(head, total - head.sum())


def concentration(values: np.ndarray, share: float = TOP_SHARE) -> float:
    """Share of ``sum |values|`` held by the top ``share`` of the features (at least one); nan if all zero."""
    magnitude = np.sort(np.abs(np.asarray(values, dtype=np.float64)).ravel())[::-1]
    total = magnitude.sum()
    return float(magnitude[: max(1, int(np.ceil(share * magnitude.size)))].sum() / total) if total > 0 else float("nan")


def _row(score: Score, metric: str, value: float, **override) -> dict:
    row = dict(
        definition=score.definition,
        grid=score.grid,
        method=score.method,
        metric=metric,
        value=float(value),
        file=score.file,
        output=score.output,
        seed=score.seed,
    )
    row.update(override)
    return row


def score_rows(study: Study) -> list[dict]:
    """Per-score rows: agreement with exact Shapley, concentration, cost, and agreement between methods."""
    grids = {g.name: g for g in study.grids}
    key = lambda s: (s.grid, s.file, s.seed, s.output)  # noqa: E731
    reference = {key(s): s.values for s in study.scores if s.method == "shapley"}
    group_grid = next((g for g in study.grids if g.name == study.unit_group_grid), None)
    rows = []
    for score in study.scores:
        rows.append(
            _row(score, "concentration", concentration(score.map if score.definition == "latent" else score.values))
        )
        if score.seconds > 0 or score.grid == "bins":
            rows.append(_row(score, "cost_s", score.seconds))
        if score.definition == "latent" and group_grid is not None:
            band_tiles, summing = group_grid.band_tiles()
            phi = summing @ reference[(group_grid.name, score.file, score.seed, score.output)]
            rows += [
                _row(score, m, v, grid=f"{score.grid} by {group_grid.name} bands")
                for m, v in shapley_agreement(score.values, phi, band_tiles).items()
                if m in AGREEMENT_METRICS
            ]
        elif score.grid in grids and score.method != "shapley":
            phi = reference[key(score)]
            rows += [
                _row(score, m, v)
                for m, v in shapley_agreement(score.values, phi, grids[score.grid].tiles).items()
                if m in AGREEMENT_METRICS
            ]
    rows += _between_rows([s for s in study.scores if s.grid in grids])
    return rows


def _between_rows(scores: list[Score]) -> list[dict]:
    """Spearman correlation of every pair of methods' scores on the same grid, segment and output."""
    groups: dict[tuple, list[Score]] = {}
    for score in scores:
        groups.setdefault((score.grid, score.file, score.seed, score.output), []).append(score)
    rows = []
    for members in groups.values():
        for first, second in combinations(members, 2):
            constant = np.ptp(first.values) == 0 or np.ptp(second.values) == 0
            value = float("nan") if constant else float(spearmanr(first.values, second.values).statistic)
            rows.append(_row(first, f"spearman_with:{second.definition}/{second.method}", value))
    return rows


def stability_rows(study: Study) -> list[dict]:
    """``spread_seeds`` and ``spread_files`` (module docstring) of every definition, grid, method and
    output with at least two seeds (files)."""
    rows = []
    frame = pd.DataFrame(
        [
            dict(
                definition=s.definition,
                grid=s.grid,
                method=s.method,
                output=s.output,
                file=s.file,
                seed=s.seed,
                values=s.values / max(np.abs(s.values).sum(), np.finfo(float).tiny),
            )
            for s in study.scores
            if s.grid != "bins"
        ]
    )
    for (definition, grid, method, output), group in frame.groupby(["definition", "grid", "method", "output"]):
        for metric, within, across in (("spread_seeds", "file", "seed"), ("spread_files", "seed", "file")):
            spreads = [
                np.std(np.stack(g["values"].tolist()), axis=0).mean()
                for _, g in group.groupby(within)
                if g[across].nunique() > 1
            ]
            if spreads:
                rows.append(
                    dict(
                        definition=definition,
                        grid=grid,
                        method=method,
                        metric=metric,
                        value=float(np.mean(spreads)),
                        file="all",
                        output=output,
                        seed="all",
                    )
                )
    return rows


def study_rows(study: Study) -> pd.DataFrame:
    """Every number of the study in long form (module docstring)."""
    return pd.DataFrame(
        score_rows(study) + stability_rows(study),
        columns=["definition", "grid", "method", "metric", "value", "file", "output", "seed"],
    )


def table(rows: pd.DataFrame, metrics: tuple[str, ...], index=("definition", "grid", "method")) -> pd.DataFrame:
    """Mean of ``metrics`` over files, seeds and outputs, one column per metric."""
    selected = rows[rows["metric"].isin(metrics)]
    return selected.pivot_table(index=list(index), columns="metric", values="value", aggfunc="mean")[list(metrics)]


def between_table(rows: pd.DataFrame, grid: str) -> pd.DataFrame:
    """Mean Spearman correlation between every pair of methods on ``grid`` (a symmetric matrix)."""
    selected = rows[(rows["grid"] == grid) & rows["metric"].str.startswith("spearman_with:")]
    pairs = selected.assign(
        a=selected["definition"] + "/" + selected["method"], b=selected["metric"].str.split(":").str[1]
    )
    mean = pairs.groupby(["a", "b"])["value"].mean()
    names = sorted(set(pairs["a"]) | set(pairs["b"]))
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for (a, b), value in mean.items():
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def agreement_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Definition x grid x method against exact Shapley: mean Spearman, sign agreement, top-3 overlap."""
    return table(rows, ("shapley_spearman", "shapley_sign_agreement", "shapley_top3"))


def cost_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean compute seconds per explained output, by definition, grid and method."""
    return table(rows, ("cost_s",))


def stability_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean spread of normalised scores across noise seeds and across files."""
    present = tuple(m for m in ("spread_seeds", "spread_files") if m in set(rows["metric"]))
    return table(rows, present) if present else pd.DataFrame()


def _grid_points(agreement: pd.DataFrame, grids: list[Grid]) -> list[str]:
    """Per grid with rows in ``agreement`` (:func:`agreement_table`, index reset): the definition/method
    closest to the exact Shapley values and the one furthest from them, by mean Spearman."""
    lines = []
    for grid in [g.name for g in grids]:
        on_grid = agreement[agreement["grid"] == grid].sort_values("shapley_spearman", ascending=False)
        if on_grid.empty:
            continue
        best, worst = on_grid.iloc[0], on_grid.iloc[-1]
        lines.append(
            f"- Grid **{grid}** ({next(g.tiles.count for g in grids if g.name == grid)} players): closest to the exact "
            "Shapley "
            f"values is {best['definition']}/{best['method']} (Spearman {best['shapley_spearman']:.2f}, sign agreement "
            f"{best['shapley_sign_agreement']:.2f}); furthest is {worst['definition']}/{worst['method']} "
            f"(Spearman {worst['shapley_spearman']:.2f}, sign agreement {worst['shapley_sign_agreement']:.2f})."
        )
    return lines


def headline(rows: pd.DataFrame, grids: list[Grid]) -> list[str]:
    """The per-grid points :func:`reading` opens with (Markdown list items, one per entry): on each grid,
    the definition/method closest to the exact Shapley values and the furthest; notebook 06's summary."""
    return _grid_points(agreement_table(rows).reset_index(), grids)


def reading(rows: pd.DataFrame, grids: list[Grid]) -> str:
    """A short written reading (Markdown) generated from the numbers of ``rows``."""
    agreement = agreement_table(rows).reset_index()
    lines = ["**What the numbers say** (means over files, noise seeds and explained outputs):", ""]
    lines += _grid_points(agreement, grids)
    per_definition = (
        agreement[agreement["grid"].isin([g.name for g in grids])]
        .groupby(["grid", "definition"])["shapley_spearman"]
        .mean()
        .unstack()
    )
    if not per_definition.empty:
        trend = ", ".join(
            f"{grid}: " + ", ".join(f"{d} {v:.2f}" for d, v in r.dropna().items())
            for grid, r in per_definition.iterrows()
        )
        lines.append(
            f"- Mean Spearman with exact Shapley by definition and grid — {trend}. "
            f"The grid changes the story where these means move between grids: a method that tracks the "
            f"Shapley ranking on one tiling can lose it on another, because tile sums can cancel or add up differently."
        )
    saliency = agreement[agreement["method"] == "saliency"]
    if not saliency.empty:
        lines.append(
            "- Saliency is |gradient|: unsigned, so its sign agreement "
            f"({saliency['shapley_sign_agreement'].mean():.2f}) "
            "only says that most of the Shapley mass is positive here; its ranks are the test."
        )
    sampled = agreement[agreement["method"].isin(["kernelshap", "lime"])]
    if not sampled.empty:
        lines.append(
            f"- KernelShap and Lime fit a surrogate to a sample of coalitions (mean Spearman "
            f"{sampled['shapley_spearman'].mean():.2f} here): with fewer samples than the 2^k coalitions they are "
            "noisy estimates of what exact enumeration gives (KernelSHAP over every coalition equals the Shapley "
            "values)."
        )
    latent = agreement[agreement["definition"] == "latent"]
    if not latent.empty:
        lines.append(
            "- Latent unit groups (units grouped by the band their input profile favours) against the band sums of "
            "the exact "
            f"Shapley values: Spearman {latent['shapley_spearman'].min():.2f} to "
            f"{latent['shapley_spearman'].max():.2f} across "
            "layers and methods, on as few values as there are bands (and most units may fall into one group). A unit "
            "group is a feature of the model, not of the input: agreement with input bands is a "
            "consistency check, not a requirement."
        )
    stability = stability_table(rows)
    if "spread_seeds" in stability:
        spread = stability["spread_seeds"].groupby(level="definition").mean()
        lines.append(
            "- Stability (spread of normalised region scores across noise seeds, lower is steadier): "
            + ", ".join(f"{d} {v:.3f}" for d, v in spread.items())
            + "."
        )
    cost = cost_table(rows).reset_index().groupby(["definition", "method"])["cost_s"].sum().sort_values()
    if not cost.empty:
        lines.append(
            "- Cost per explained output (s, all grids of a method together): "
            + ", ".join(f"{d}/{m} {v:.2f}" for (d, m), v in cost.items())
            + "."
        )
    lines += [
        "",
        "**Which definition for which question.** "
        "To ask *which time-frequency region drives this output* with a dozen regions or fewer, exact Shapley values "
        "are affordable and are the answer; a method that ranks the regions the same way (high Spearman and sign "
        "agreement above) can stand in for them on larger problems. Bin-level maps summed into regions are the "
        "cheapest way to get every grid at once from one computation, and their sums are additive; grouped "
        "perturbation methods (KernelShap, Lime, occlusion) answer for one grid only and pay per grid. Latent "
        "units answer a different question (*through which internal channels* the output is produced); their "
        "groups are only as meaningful as the unit profiles that define them.",
    ]
    return "\n".join(lines)
