"""What ``daekit.noise_select.select`` returns: one row per trial and the ranked :class:`Selection`.

A :class:`TrialRow` is a plain dict (so the table goes to JSON as it is) with a fixed set
of keys; :class:`Selection` holds the ranked rows, the best noise and how the search went,
and renders them as an aligned text table, a JSON-ready summary and a score-against-level
plot (matplotlib, imported when the plot is drawn).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from . import noise as noise_lib
from .io import atomic_write_bytes

__all__ = ["Selection", "TrialRow"]


class _TrialFields(TypedDict):
    noise: str
    type: str
    level: float
    config: dict[str, Any]
    score: float
    train_loss: float
    seconds: float


class TrialRow(_TrialFields, total=False):
    """One trial of the table: ``noise`` (spec), ``type``, ``level``, ``config`` (the noise's
    ``to_config()``), ``score``, ``train_loss``, ``seconds``; ``rank`` (1 = best) once ranked."""

    rank: int


@dataclass
class Selection:
    """What ``select`` found.

    Attributes:
        table: one dict per trial, best first: ``rank``, ``noise`` (spec), ``type``,
            ``level``, ``score``, ``train_loss``, ``seconds``.
        best: the best noise process (a ``daekit.noise.Noise``, on the [0, 1] scale when
            ``normalize`` was on).
        best_score: its score.
        task, criterion: what was scored and how (higher is better).
        planned, budget_s, elapsed_s: candidates planned, the budget and the time used.
        normalization: ``{"low": ..., "high": ...}`` applied before training (or None).
        best_dae: the model trained in the best trial (for a quick start; retrain on all
            data for the final model).
        plot_path: where the plot was written, if it was.
    """

    table: list[TrialRow]
    best: noise_lib.Noise
    best_score: float
    task: str
    criterion: str
    planned: int
    budget_s: float
    elapsed_s: float
    normalization: dict[str, Any] | None = None
    best_dae: Any = None
    plot_path: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def best_spec(self) -> str:
        return self.table[0]["noise"]

    def format_table(self) -> str:
        """The ranked table as aligned text."""
        lines = [
            f"task {self.task}: {self.criterion} (higher is better); "
            f"{len(self.table)} of {self.planned} candidates in {self.elapsed_s:.0f} s of {self.budget_s:.0f} s",
            f"{'rank':>4}  {'noise':<18} {'score':>9} {'train loss':>11} {'s':>6}",
        ]
        for row in self.table:
            lines.append(
                f"{row['rank']:>4}  {row['noise']:<18} {row['score']:>9.4f} {row['train_loss']:>11.5f} "
                f"{row['seconds']:>6.1f}"
            )
        lines += self.notes
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no model)."""
        return {
            "task": self.task,
            "criterion": self.criterion,
            "best": self.best.to_config(),
            "best_spec": self.best_spec,
            "best_score": self.best_score,
            "table": self.table,
            "planned": self.planned,
            "budget_s": self.budget_s,
            "elapsed_s": self.elapsed_s,
            "normalization": self.normalization,
            "notes": self.notes,
        }

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Score against level, one panel per noise type; no noise as a dashed line.

        Args:
            path: write a PNG there (atomically) when given.

        Returns:
            The matplotlib figure.
        """
        try:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("the selection plot needs matplotlib: pip install 'daekit[plot]'.") from None
        kinds = [k for k in dict.fromkeys(r["type"] for r in self.table) if k != "none"]
        base = [r["score"] for r in self.table if r["type"] == "none"]
        fig, axes = plt.subplots(1, max(len(kinds), 1), figsize=(3.2 * max(len(kinds), 1), 2.8), squeeze=False)
        for ax, kind in zip(axes[0], kinds or ["none"]):
            rows = sorted((r for r in self.table if r["type"] == kind), key=lambda r: r["level"])
            ax.plot([r["level"] for r in rows], [r["score"] for r in rows], "o-", label=kind)
            if base:
                ax.axhline(base[0], ls="--", color="gray", label="no noise")
            ax.set_title(kind)
            ax.set_xlabel("p" if kind in ("masking", "saltpepper") else "std")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(self.criterion, fontsize=8)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        if path is not None:
            path = Path(path)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            atomic_write_bytes(path, buf.getvalue())
            self.plot_path = str(path)
        plt.close(fig)
        return fig
