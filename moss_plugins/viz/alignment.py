"""The alignment of a model trace with its reference as a picture.

A heatmap of the reward's step similarity (reference steps down, model steps across) with the reward's
alignment path drawn over it (the same code and configuration as the score), the reference steps written beside their rows and the model steps listed beside the map, so
one can see which model step each reference step was matched to and how well.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# DejaVu has no CJK glyphs: a CJK font, when one is installed, draws Chinese traces.
FONTS = ("DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Droid Sans Fallback")
WRAP = 48  # characters per line of step text


def _wrap(label: str, text: str, width: int = WRAP, max_lines: int = 3) -> str:
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return f"{label}  " + "\n      ".join(lines)


def _font_family() -> list[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in FONTS if name in installed] or ["sans-serif"]


def alignment_figure(
    pred_steps: Sequence[str],
    ref_steps: Sequence[str],
    similarity,
    path: Sequence[Sequence[int]],
    title: str = "",
    subtitle: str = "",
    threshold: float | None = None,
):
    """A matplotlib Figure: ``similarity`` is [len(ref_steps), len(pred_steps)]; ``path`` holds (ref, pred)
    index pairs; cells at or above ``threshold`` are outlined (the step-coverage threshold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    sim = np.asarray(similarity, dtype=float).reshape(len(ref_steps), len(pred_steps))
    n_ref, n_pred = sim.shape
    ref_labels = [_wrap(f"R{i + 1}", t) for i, t in enumerate(ref_steps)]
    pred_labels = [_wrap(f"P{j + 1}", t, width=56, max_lines=4) for j, t in enumerate(pred_steps)]
    cell = 0.55
    map_w = max(3.0, cell * n_pred + 1.2)
    height = max(
        3.2, cell * max(n_ref, 1) * 1.25 + 2.0, 0.22 * sum(lab.count("\n") + 1.4 for lab in pred_labels) + 1.6
    )

    with plt.rc_context({"font.family": _font_family(), "font.size": 9}):
        fig = plt.figure(figsize=(5.2 + map_w + 4.6, height), dpi=110)
        grid = fig.add_gridspec(
            2, 3, width_ratios=[5.2, map_w, 4.6], height_ratios=[1, 0.035], wspace=0.04, hspace=0.12
        )
        ax_ref, ax, ax_pred, ax_bar = (
            fig.add_subplot(grid[cell]) for cell in ((0, 0), (0, 1), (slice(None), 2), (1, 1))
        )

        if n_pred:
            image = ax.imshow(sim, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            for i in range(n_ref):
                for j in range(n_pred):
                    ax.text(
                        j,
                        i,
                        f"{sim[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="black" if sim[i, j] > 0.6 else "white",
                    )
                    if threshold is not None and sim[i, j] >= threshold:
                        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="white", lw=1.2))
            if path:
                rows, cols = zip(*[(p[0], p[1]) for p in path])
                ax.plot(cols, rows, color="#ff3b30", lw=2.2, marker="o", ms=6, mfc="none", mew=2)
            bar = fig.colorbar(image, cax=ax_bar, orientation="horizontal")
            legend = "step similarity · red: alignment path"
            bar.set_label(
                legend + (f" · outlined: >= {threshold:g}" if threshold is not None else ""), fontsize=8
            )
        else:
            ax.text(0.5, 0.5, "no model steps", ha="center", va="center", transform=ax.transAxes)
            ax_bar.axis("off")
        ax.set_xticks(range(n_pred), [f"P{j + 1}" for j in range(n_pred)])
        ax.set_yticks(range(n_ref), [""] * n_ref)  # the reference texts beside the rows carry the labels
        ax.xaxis.tick_top()
        ax.set_xlim(-0.5, max(n_pred, 1) - 0.5)
        ax.set_ylim(n_ref - 0.5, -0.5)

        # Reference texts, one per heatmap row, in the row's own coordinates.
        ax_ref.set_ylim(*ax.get_ylim())
        ax_ref.set_xlim(0, 1)
        for i, label in enumerate(ref_labels):
            ax_ref.text(0.99, i, label, ha="right", va="center", fontsize=8.5)
        ax_ref.set_title("Reference steps", loc="right", fontsize=10, fontweight="bold")
        ax_ref.axis("off")

        ax_pred.set_xlim(0, 1)
        ax_pred.set_ylim(1, 0)
        y = 0.0
        step = 1.0 / max(sum(lab.count("\n") + 1.4 for lab in pred_labels), 1)
        for label in pred_labels:
            ax_pred.text(0.02, y, label, ha="left", va="top", fontsize=8.5)
            y += step * (label.count("\n") + 1.4)
        ax_pred.set_title("Model steps", loc="left", fontsize=10, fontweight="bold")
        ax_pred.axis("off")

        if title:
            fig.suptitle(textwrap.shorten(title, 150), fontsize=11, fontweight="bold", y=0.995)
        if subtitle:
            fig.text(0.5, 0.955 if title else 0.99, subtitle, ha="center", va="top", fontsize=9, color="#444")
        fig.subplots_adjust(left=0.01, right=0.99, top=0.86 if (title or subtitle) else 0.93, bottom=0.08)
    return fig


def save_alignment_png(out: str | Path, *args, **kwargs) -> Path:
    """:func:`alignment_figure` written to ``out`` (PNG)."""
    fig = alignment_figure(*args, **kwargs)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out, dpi=110)
    return out


def _save(fig, target, dpi: int) -> None:
    import warnings

    import matplotlib.pyplot as plt

    with warnings.catch_warnings():  # without a CJK font, every Chinese character would warn once
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(target, format="png", dpi=dpi)
    plt.close(fig)
