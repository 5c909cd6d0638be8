"""Notebook 05's tables and reading, generated from its long rows (``method, metric, condition, value, ...``):
per-method summaries, the points the summary opens with (:func:`headline`) and the whole reading (:func:`reading`):
agreement with the exact Shapley values and its margin over the controls, DeepLIFT's rules and product rules, the
lesion, the burst, the planted games, enrichment and the cascading randomisation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .agreement import CONTROLS
from .faithfulness import PRODUCT_RULE_METHODS, condition_level_db
from .planted import planted_reading

if TYPE_CHECKING:
    import pandas


def summary_table(rows: list[dict], metric: str) -> "pandas.DataFrame":
    """Mean and standard deviation of ``metric`` per method (rows) and condition (columns)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame = frame[frame["metric"] == metric]
    return frame.pivot_table(index="method", columns="condition", values="value", aggfunc=["mean", "std"])


def method_table(rows: list[dict], metrics: Sequence[str]) -> "pandas.DataFrame":
    """Mean, standard deviation and count of each of ``metrics`` per method over every condition
    (files, levels, placements, seeds): rows = methods, columns = (metric, statistic)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame = frame[frame["metric"].isin(metrics)]
    table = frame.groupby(["method", "metric"])["value"].agg(["mean", "std", "count"]).unstack("metric")
    return table.swaplevel(axis=1).reindex(columns=[(m, s) for m in metrics for s in ("mean", "std", "count")])


def _shapley_spearman(frame) -> "pandas.DataFrame":
    """Mean and std of the Spearman correlation with the exact Shapley values, per method (rows)."""
    return frame[frame["metric"] == "shapley_spearman"].groupby("method")["value"].agg(["mean", "std"])


def _headline(frame, spearman) -> list[str]:
    """The reading's opening points: the method closest to the exact Shapley values (its margin, its sign
    agreement, the ranking), the controls, and any control that ranks as well; none without Shapley rows
    (``spearman``: :func:`_shapley_spearman` of ``frame``)."""
    lines = []
    if spearman.empty:
        return lines
    sign = frame[frame["metric"] == "shapley_sign_agreement"].groupby("method")["value"].mean()
    methods = spearman.drop(list(CONTROLS), errors="ignore").sort_values("mean", ascending=False)
    best = methods.index[0]
    gap = (
        f", {methods['mean'].iloc[0] - methods['mean'].iloc[1]:.2f} above {methods.index[1]}"
        if len(methods) > 1
        else ""
    )
    lines.append(
        f"- Against the exact Shapley values of the tiles, **{best}** agrees best: Spearman "
        f"{methods.loc[best, 'mean']:.2f} ± {methods.loc[best, 'std']:.2f}{gap}; its sign agreement is "
        f"{sign[best]:.2f}. "
        "Ranking by Spearman: " + ", ".join(f"{m} {v:.2f}" for m, v in methods["mean"].items()) + "."
    )
    present = [c for c in CONTROLS if c in spearman.index]
    if present:
        ordered = spearman["mean"].sort_values()
        flipped = (
            (
                "`flipped` comes out lowest of all rows"
                if ordered.index[0] == "flipped"
                else f"`flipped` is not the lowest row ({ordered.index[0]} is)"
            )
            if "flipped" in present
            else ""
        )
        lines.append(
            "- Controls on Spearman: "
            + ", ".join(f"{c} {spearman.loc[c, 'mean']:.2f}" for c in present)
            + (f"; {flipped}" if flipped else "")
            + ". On sign agreement: "
            + ", ".join(f"{c} {sign[c]:.2f}" for c in present if c in sign)
            + "."
        )
        l1 = frame[frame["metric"] == "shapley_l1"].groupby("method")["value"].mean()
        if "energy" in present:
            lines.append(
                f"- Margin of {best} over the `energy` control (a map that follows tile energy): Spearman "
                f"{methods.loc[best, 'mean'] - spearman.loc['energy', 'mean']:+.2f}, sign agreement "
                f"{sign[best] - sign['energy']:+.2f}, L1 {l1[best] - l1['energy']:+.2f} (lower is better): where the "
                "margin is small, the metric cannot tell a faithful map from the input's loudness."
            )
        rivals = [c for c in present if spearman.loc[c, "mean"] >= methods.loc[best, "mean"]]
        if rivals:
            lines.append(
                f"- Control(s) at or above {best} on Spearman: "
                + ", ".join(
                    f"{c} (L1 {l1[c]:.2f} against {l1[best]:.2f}, sign agreement {sign[c]:.2f} against "
                    f"{sign[best]:.2f})"
                    for c in rivals
                )
                + ": a rank correlation of tile sums also rewards a map that follows tile size or loudness, so read it "
                "with the signed metrics."
            )
    return lines


def headline(rows: list[dict]) -> list[str]:
    """The points :func:`reading` opens with (Markdown list items, one per entry): the method closest to
    the exact Shapley values, the controls, and any control that ranks as well; notebook 05's summary."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    return _headline(frame, _shapley_spearman(frame))


def _shapley_reading(frame) -> list[str]:
    """Sentences on the Shapley agreement, the controls, DeepLIFT's two rules, the lesion and the burst."""
    spearman = _shapley_spearman(frame)
    lines = _headline(frame, spearman)
    for method in ("deeplift", "deepliftshap"):
        if method in spearman.index and f"{method}_captum" in spearman.index:
            lines.append(
                f"- {method}: the complete rule scores Spearman {spearman.loc[method, 'mean']:.2f}, Captum's rule "
                f"{spearman.loc[f'{method}_captum', 'mean']:.2f}."
            )
    rules = [(rule, method) for rule, method in PRODUCT_RULE_METHODS.items() if method in spearman.index]
    if len(rules) > 1:
        sign = frame[frame["metric"] == "shapley_sign_agreement"].groupby("method")["value"].mean()
        l1 = frame[frame["metric"] == "shapley_l1"].groupby("method")["value"].mean()
        delta = frame[frame["metric"] == "relative_delta"].groupby("method")["value"].median()
        ranked = sorted(rules, key=lambda pair: -spearman.loc[pair[1], "mean"])
        (winner, first), (runner_up, second) = ranked[0], ranked[1]
        lines.append(
            "- DeepLIFT's product rules against the exact Shapley values (Spearman / sign agreement / L1 / median "
            "relative delta): "
            + "; ".join(
                f"{rule} {spearman.loc[m, 'mean']:.3f} / {sign.get(m, np.nan):.3f} / {l1.get(m, np.nan):.3f} / "
                f"{delta.get(m, np.nan):.1e}"
                for rule, m in ranked
            )
            + f". **{winner}** agrees best, by {spearman.loc[first, 'mean'] - spearman.loc[second, 'mean']:.3f} in "
            f"Spearman over {runner_up}; a relative delta far above rounding means the rule does not add up."
        )
    lesion = frame[frame["metric"] == "lesion_false_positive_share"].groupby("method")["value"].mean()
    if not lesion.empty:
        zero = [m for m, v in lesion.items() if v < 1e-6]
        lines.append(
            f"- On the lesioned model, no mass on the blind band (share < 1e-6) for: {', '.join(zero) or 'no method'}; "
            "the others: " + ", ".join(f"{m} {v:.3f}" for m, v in lesion.items() if m not in zero) + "."
        )
    burst = frame[frame["method"] == "burst"]
    if not burst.empty:
        share = burst[burst["metric"] == "burst_effect_share"]
        by_level = share.groupby("condition")["value"].agg(["mean", "min", "max"])
        material = burst[burst["metric"] == "burst_material"]["value"]
        lines.append(
            f"- The burst is material (at least the set share of the explained change) in {int(material.sum())} of "
            f"{len(material)} conditions; its effect share per level: "
            + ", ".join(f"{c} {r['mean']:.2f} ({r['min']:.2f} to {r['max']:.2f})" for c, r in by_level.iterrows())
            + "."
        )
    return lines


def reading(rows: list[dict]) -> str:
    """A few sentences (Markdown) that read the ground truth, enrichment and randomisation results off the numbers."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    lines = _shapley_reading(frame) + planted_reading(frame)
    enrich = frame[frame["metric"] == "enrichment"].groupby(["method", "condition"])["value"].mean().unstack()
    loudest = max(enrich.columns, key=condition_level_db)
    column = enrich[loudest].sort_values(ascending=False)
    methods = column.drop(list(CONTROLS), errors="ignore")
    energy, random = enrich.loc["energy", loudest], enrich.loc["random", loudest]
    above = [m for m in methods.index if methods[m] > energy]
    lines += [
        f"- At the loudest burst ({loudest}), the random control comes out at {random:.2f} (chance is 1.0) and the "
        f"energy detector at {energy:.2f}. {len(above)} of {len(methods)} methods put more mass on the burst than "
        f"the energy detector: {', '.join(f'{m} ({methods[m]:.2f})' for m in above) or 'none'}.",
        f"- Highest enrichment: {methods.index[0]} ({methods.iloc[0]:.2f}); lowest: {methods.index[-1]} "
        f"({methods.iloc[-1]:.2f}).",
    ]
    by_level = sorted(enrich.columns, key=condition_level_db)
    trend = [m for m in methods.index if (np.diff(enrich.loc[m, by_level].to_numpy()) > 0.01).all()]
    lines.append(
        "- Enrichment rises (by more than 0.01 at each step) with the burst level for: "
        f"{', '.join(trend) or 'no method'}."
    )
    randomised = frame[(frame["metric"] == "randomisation_spearman_signed")]
    if not randomised.empty:
        last = randomised[randomised["depth"] == randomised["depth"].max()]
        kept = last.groupby("method")["value"].mean().sort_values()
        lines.append(
            "- With every layer re-initialised, the signed maps' rank correlation with the original falls to "
            + ", ".join(f"{m} {v:.2f}" for m, v in kept.items())
            + ": values near 0 mean the map depends on the trained weights, as it should."
        )
    return "\n".join(lines)
