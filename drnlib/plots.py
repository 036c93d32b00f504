"""Plots shared by several pages (one look across the book)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

DILATION_COLORS = {1: "#4c72b0", 2: "#dd8452", 4: "#c44e52", 8: "#8172b3", 12: "#937860"}


def draw_layers(ax: plt.Axes, records, title: str = "") -> None:
    """Figure-5 style strip: one box per main-path layer in forward order, its height the channel count (log),
    its colour the dilation; grey boxes are pools; levels are separated and labelled below."""
    main = [r for r in records if r.main_path]
    x = 0.0
    level_spans: dict[int, list[float]] = {}
    for r in main:
        height = np.log2(r.out_channels) / np.log2(4096)
        color = "#bbbbbb" if r.kind == "pool" else DILATION_COLORS.get(r.dilation, "#333333")
        width = 0.9 if r.kind == "conv" else 0.5
        ax.add_patch(Rectangle((x, 0), width, height, color=color, lw=0))
        if r.stride > 1:  # the paper's bold green lines: downsampling by striding
            ax.plot([x, x], [0, 1.05], color="#2ca02c", lw=2)
        level_spans.setdefault(r.level, [x, x])[1] = x + width
        x += width + 0.15
    for level, (start, end) in level_spans.items():
        ax.axvline(start - 0.08, color="black", lw=0.5, ls=":")
        ax.text((start + end) / 2, -0.12, str(level), ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.3, x)
    ax.set_ylim(-0.3, 1.1)
    ax.set_yticks([])
    ax.set_xticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, loc="left", fontsize=10)


def dilation_legend(fig: plt.Figure, dilations=(1, 2, 4)) -> None:
    handles = [Rectangle((0, 0), 1, 1, color=DILATION_COLORS[d]) for d in dilations]
    handles += [Rectangle((0, 0), 1, 1, color="#bbbbbb"), plt.Line2D([], [], color="#2ca02c", lw=2)]
    labels = [f"dilation {d}" for d in dilations] + ["max-pool", "stride 2"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=8)


def path_gradient_panels(axes, stats_by_net: dict, colors=None) -> None:
    """Veit et al. Fig. 6 / WoD Fig. 4 on two axes, one line per network (`drnlib.analysis.paths.path_statistics`
    frames by label): left, the mean gradient magnitude at the input per path length k (log scale, +- one standard
    deviation over the samples); right, mean x number of paths as a share of the total (where the gradient comes
    from), with the share of paths of each length dashed (the binomial distribution)."""
    left, right = axes
    for i, (label, stats) in enumerate(stats_by_net.items()):
        color = (colors or {}).get(label, f"C{i}")
        k = stats.index.to_numpy()
        left.plot(k, stats["mean"], marker="o", ms=3, color=color, label=label)
        low = (stats["mean"] - stats["std"]).clip(lower=stats["mean"] * 1e-3)
        left.fill_between(k, low, stats["mean"] + stats["std"], color=color, alpha=0.15, lw=0)
        right.plot(k, stats["total_share"], marker="o", ms=3, color=color, label=f"{label}: gradient")
        right.plot(k, stats["paths_share"] / stats["paths_share"].sum(), ls="--", color=color, alpha=0.6,
                   label=f"{label}: paths")
    left.set(yscale="log", xlabel="path length k (residual branches on the path)",
             ylabel="gradient magnitude at input", title="gradient per path")
    right.set(xlabel="path length k", ylabel="share of the total",
              title="all paths of length k: gradient vs count")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
