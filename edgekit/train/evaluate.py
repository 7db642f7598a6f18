"""Task metrics on the test split: accuracy, per-class precision/recall, confusion matrix (JSON and PNG)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from edgekit.fsutil import atomic_write_bytes, atomic_write_json


def evaluate(probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> dict:
    k = len(class_names)
    predicted = probabilities.argmax(1)
    cm = np.zeros((k, k), np.int64)  # rows: true class, columns: predicted class
    np.add.at(cm, (labels, predicted), 1)
    tp = np.diag(cm).astype(np.float64)
    predicted_n, true_n = cm.sum(0), cm.sum(1)
    per_class = {
        name: {"precision": _ratio(tp[i], predicted_n[i]), "recall": _ratio(tp[i], true_n[i]), "support": int(true_n[i])}
        for i, name in enumerate(class_names)
    }
    accuracy = float(tp.sum() / max(len(labels), 1))
    return {"accuracy": accuracy, "images": int(len(labels)), "per_class": per_class,
            "confusion_matrix": {"labels": list(class_names), "rows_true_columns_predicted": cm.tolist()}}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None  # None: undefined (no predictions / no images of the class)


def write_evaluation(evaluation: dict, folder: Path) -> list[Path]:
    return [atomic_write_json(folder / "evaluation.json", evaluation),
            atomic_write_bytes(folder / "confusion_matrix.png", confusion_png(evaluation))]


def confusion_png(evaluation: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; set before pyplot is imported
    import matplotlib.pyplot as plt

    cm = np.array(evaluation["confusion_matrix"]["rows_true_columns_predicted"])
    names = evaluation["confusion_matrix"]["labels"]
    size = 1.2 + 0.6 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true", title=f"accuracy {evaluation['accuracy']:.3f}")
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)
    return buf.getvalue()
