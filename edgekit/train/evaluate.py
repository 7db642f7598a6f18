"""Task metrics on the test split: accuracy, per-class precision/recall, confusion matrix (JSON and PNG),
and the check that the reference learned anything at all (`chance_check`)."""

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
        name: {
            "precision": _ratio(tp[i], predicted_n[i]),
            "recall": _ratio(tp[i], true_n[i]),
            "support": int(true_n[i]),
        }
        for i, name in enumerate(class_names)
    }
    accuracy = float(tp.sum() / max(len(labels), 1))
    return {
        "accuracy": accuracy,
        "images": int(len(labels)),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(class_names), "rows_true_columns_predicted": cm.tolist()},
    }


# A reference must beat chance by at least this much, however many test images there are.
MIN_CHANCE_MARGIN = 0.05
# A loss whose epochs span less than this fraction of its first value did not move at all (a
# learning rate of zero, a frozen model); one never this far below ln(k), the cross-entropy of a
# uniform guess over k classes, never beat guessing.
FLAT_LOSS = 0.001
BELOW_UNIFORM = 0.01


def chance_check(
    accuracy: float | None,
    labels: np.ndarray,
    num_classes: int,
    losses: tuple[str, list[float]] | list[float] | None = None,
) -> dict:
    """Does the reference clearly beat chance, and did its loss move? LOSSES: loss_curve()'s (name, values), or values.

    Chance is the better of guessing uniformly (1/k) and always answering the most frequent test
    class. "Clearly" means by more than two binomial standard deviations of an accuracy measured
    on this many images at chance level (at least MIN_CHANCE_MARGIN): on 24 images of 4 classes a
    chance-level model scores up to about 0.43 by luck. A run that fails either test gets flags
    (sentences for the summary, the reports and `edgekit check`), never an exception: the
    artifacts still convert, but every verdict downstream says the reference is not worth shipping.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = int(labels.size)
    k = max(int(num_classes), 1)
    majority = float(np.bincount(labels, minlength=k).max()) / n if n else 0.0
    chance = max(1.0 / k, majority)
    margin = max(MIN_CHANCE_MARGIN, 2.0 * float(np.sqrt(chance * (1.0 - chance) / max(n, 1))))
    flags = []
    beats = accuracy is not None and n > 0 and accuracy > chance + margin
    if not beats:
        shown = "-" if accuracy is None else f"{accuracy:.3f}"
        flags.append(
            f"reference test accuracy {shown} does not clearly beat chance {chance:.3f} "
            f"(needs > {chance + margin:.3f} on {n} test images): the model has not learned the task"
        )
    name, values = losses if isinstance(losses, tuple) else ("training loss", losses or [])
    values = [float(v) for v in values if np.isfinite(v)]
    uniform = float(np.log(k)) if k > 1 else 0.0
    moved = None
    if values:
        flat = len(values) >= 2 and max(values) - min(values) <= FLAT_LOSS * abs(values[0])
        guessing = k > 1 and min(values) >= (1.0 - BELOW_UNIFORM) * uniform
        moved = not (flat or guessing)
        if flat:
            flags.append(
                f"{name} did not move: {values[0]:.4f} in the first epoch, {values[-1]:.4f} in the last "
                f"({len(values)} epochs); check the learning rate and that the backbone is not random"
            )
        elif guessing:
            flags.append(
                f"{name} never fell below {min(values):.4f}, no better than a uniform guess over {k} classes "
                f"({uniform:.4f}); check the labels, the learning rate and that the backbone is not random"
            )
    return {
        "chance_accuracy": round(chance, 6),
        "margin": round(margin, 6),
        "test_images": n,
        "beats_chance": bool(beats),
        "loss": name,
        "loss_first": values[0] if values else None,
        "loss_best": min(values) if values else None,
        "uniform_loss": round(uniform, 6),
        "loss_moved": moved,
        "flags": flags,
    }


def loss_curve(phases: list[dict]) -> tuple[str, list[float]]:
    """The loss per epoch across both phases (train.json's `phases`): validation loss when every
    epoch has one (a fixed set, so a model that does not change gives the same value each epoch),
    else training loss (which also moves with the batches an epoch happens to draw)."""
    histories = [p.get("history") or {} for p in phases]
    val = [v for h in histories for v in h.get("val_loss", [])]
    train = [v for h in histories for v in h.get("loss", [])]
    return ("validation loss", val) if val and len(val) == len(train) else ("training loss", train)


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None  # None: undefined (no predictions / no images of the class)


def write_evaluation(evaluation: dict, folder: Path) -> list[Path]:
    return [
        atomic_write_json(folder / "evaluation.json", evaluation),
        atomic_write_bytes(folder / "confusion_matrix.png", confusion_png(evaluation)),
    ]


def confusion_png(evaluation: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; set before pyplot is imported
    import matplotlib.pyplot as plt

    cm = np.array(evaluation["confusion_matrix"]["rows_true_columns_predicted"])
    names = evaluation["confusion_matrix"]["labels"]
    size = 1.2 + 0.6 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set(
        xticks=range(len(names)),
        yticks=range(len(names)),
        xticklabels=names,
        yticklabels=names,
        xlabel="predicted",
        ylabel="true",
        title=f"accuracy {evaluation['accuracy']:.3f}",
    )
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)
    return buf.getvalue()
