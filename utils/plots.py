"""Figures the chapters share: training curves, image grids and rows, decision boundaries,
confusion matrices and the most confident mistakes, leaderboards, networks.

Every function draws on a new figure (or on ``ax`` when given) and returns the
matplotlib ``Figure``, so a notebook can show it and a test can inspect it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

#: Colours used across the book (colour-blind safe, Okabe & Ito).
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def use_course_style() -> None:
    """Readable defaults for every figure in the book."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "savefig.bbox": "tight",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.prop_cycle": mpl.cycler(color=COLORS),
        "font.size": 11,
        "legend.frameon": False,
    })


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a Keras ``History`` or a plain ``{"loss": [...], ...}`` mapping."""
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping) or "loss" not in data:
        raise TypeError(
            "plot_training_curves needs what model.fit returns (a History) or a dict "
            "with at least a 'loss' list, e.g. {'loss': [...], 'val_loss': [...]}"
        )
    return {k: list(v) for k, v in data.items()}


def plot_training_curves(histories, metrics: Sequence[str] | None = None, title: str | None = None):
    """Loss (and other metrics) per epoch, training solid and validation dashed.

    ``histories`` is one History / dict, or a mapping ``{"model name": history}``
    to compare models on the same axes.
    """
    if isinstance(histories, Mapping) and "loss" not in histories and not hasattr(histories, "history"):
        named = {name: _history_dict(h) for name, h in histories.items()}
    else:
        named = {"": _history_dict(histories)}
    if not named:
        raise ValueError("plot_training_curves got no histories to plot")
    first = next(iter(named.values()))
    if metrics is None:
        metrics = [k for k in first if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (name, h) in enumerate(named.items()):
            color = COLORS[i % len(COLORS)]
            label = f"{name} " if name else ""
            if metric not in h:
                raise KeyError(f"metric {metric!r} is not in the history; it has {sorted(h)}")
            epochs = np.arange(1, len(h[metric]) + 1)
            ax.plot(epochs, h[metric], color=color, label=f"{label}training")
            if f"val_{metric}" in h:
                ax.plot(epochs, h[f"val_{metric}"], color=color, linestyle="--", label=f"{label}validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_grid(images, labels=None, class_names: Sequence[str] | None = None,
                    predictions=None, ncols: int = 8, nmax: int = 32, cmap: str = "gray_r"):
    """Show images in a grid with their labels (and predictions, red when wrong).

    ``images`` has shape ``(n, height, width)`` or ``(n, height, width, channels)``.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, height, width[, channels]); got {images.shape}")
    n = min(len(images), nmax)
    if n == 0:
        raise ValueError("plot_image_grid got no images")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
        if labels is not None:
            name = lambda k: class_names[int(k)] if class_names is not None else str(k)  # noqa: E731
            text, color = name(labels[i]), "black"
            if predictions is not None:
                text = f"{name(predictions[i])}\n(true {text})" if predictions[i] != labels[i] else text
                color = "black" if predictions[i] == labels[i] else "#D55E00"
            ax.set_title(text, fontsize=8, color=color)
    fig.tight_layout()
    return fig


def plot_image_rows(rows: Mapping[str, object], ncols: int = 8, title: str | None = None, fig=None,
                    cmap: str = "gray_r"):
    """Images in labelled rows, e.g. originals above their reconstructions.

    ``rows`` maps a row's name to its images: ``(n, height, width)`` or ``(n, pixels)`` of
    square grey-scale images with values in [0, 1]; each row shows its first ``ncols``. Draws
    on ``fig`` (a figure or sub-figure) when given."""
    if not rows:
        raise ValueError("plot_image_rows got no rows")
    pictures = {}
    for name, images in rows.items():
        images = np.asarray(images, dtype=float)
        if images.ndim == 2:
            side = int(round(np.sqrt(images.shape[1])))
            if side * side != images.shape[1]:
                raise ValueError(f"row {name!r}: {images.shape[1]} pixels do not make a square image")
            images = images.reshape(len(images), side, side)
        if images.ndim != 3 or len(images) == 0:
            raise ValueError(f"row {name!r}: give images of shape (n, height, width) or (n, pixels), got {images.shape}")
        pictures[name] = images[:ncols]
    ncols = max(len(images) for images in pictures.values())
    if fig is None:
        fig = plt.figure(figsize=(1.1 * ncols + 1.2, 1.15 * len(pictures) + (0.4 if title else 0.1)))
    axes = fig.subplots(len(pictures), ncols, squeeze=False)
    for r, (name, images) in enumerate(pictures.items()):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(np.clip(images[c], 0, 1), cmap=cmap, vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def confusion_counts(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class): row ``i``, column ``j`` counts the examples of
    class ``i`` predicted as ``j``. Labels are integers 0 ... n_classes - 1."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("confusion_counts got no labels")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels)):
            raise ValueError(f"{name} must hold class numbers 0, 1, 2, ... (use argmax on probabilities first)")
    y_true, y_pred = y_true.astype(int), y_pred.astype(int)
    k = int(max(y_true.max(), y_pred.max()) + 1) if n_classes is None else int(n_classes)
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"class numbers must lie in 0 ... {k - 1}")
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, class_names: Sequence[str] | None = None, ax=None,
                          title: str | None = None):
    """The confusion matrix as a table of shares: each row (a true class) says where its
    examples went, in percent of that class; the diagonal is each class's recall.

    Cells are shaded by the share and carry the number, so the figure reads without colour.
    """
    n_classes = len(class_names) if class_names is not None else None
    counts = confusion_counts(y_true, y_pred, n_classes)
    k = len(counts)
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.62 * k + 2.6, 0.55 * k + 1.8))
    else:
        fig = ax.figure
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                share = f"{100 * shares[i, j]:.0f}" if shares[i, j] >= 0.01 else "<1"
                ax.text(j, i, share, ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.55 else "black")
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    ax.set_title(title or f"% of each true class (row), {counts.sum():,} examples", fontsize=10)
    fig.tight_layout()
    return fig


def most_confident_mistakes(probabilities, labels, n: int = 16) -> np.ndarray:
    """Indices of the ``n`` wrong predictions made with the highest probability, most confident
    first: the errors a model is surest of, often mislabelled or genuinely ambiguous examples.

    ``probabilities`` has one row per example and one column per class (what ``predict`` of a
    softmax model returns); ``labels`` holds the true class numbers.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels).ravel().astype(int)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(f"probabilities must have shape (n examples, n classes) with one row per label; "
                         f"got {probabilities.shape} for {len(labels)} labels")
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")
    return wrong[order][:n]


def plot_leaderboard(scores: Mapping[str, float], reference: str, xlabel: str = "score", title: str | None = None,
                     ax=None):
    """Systems' scores as dots, best at the top, with one reference entry (a human baseline,
    say) drawn in another colour and marker and as a dashed line."""
    if reference not in scores:
        raise KeyError(f"the reference {reference!r} is not among the scores: {list(scores)}")
    names = sorted(scores, key=lambda name: -scores[name])
    values = [scores[name] for name in names]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.32 * len(names) + 1.2))
    else:
        fig = ax.figure
    is_reference = np.array([name == reference for name in names])
    rows = np.arange(len(names))
    ax.scatter(np.array(values)[~is_reference], rows[~is_reference], color=COLORS[0], marker="o", zorder=3,
               label="systems")
    ax.scatter(np.array(values)[is_reference], rows[is_reference], color=COLORS[3], marker="D", s=45, zorder=3,
               label=reference)
    ax.axvline(scores[reference], color=COLORS[3], linestyle="--", linewidth=1)
    ax.set_yticks(rows, names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict: Callable, X, y, ax=None, resolution: int = 200,
                           feature_names: Sequence[str] = ("x1", "x2"), class_names: Sequence[str] | None = None,
                           jitter: float = 0.0, title: str | None = None):
    """Shade where a binary classifier predicts class 1 and overlay the data.

    ``predict`` maps an ``(m, 2)`` array to probabilities of class 1 (a Keras
    model's ``predict``, or any function). ``jitter`` spreads points of
    ordinal survey scales so overlapping respondents stay visible.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs exactly two input features, X of shape (n, 2); got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    pad = 0.05 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
    g1, g2 = np.meshgrid(np.linspace(X[:, 0].min() - pad[0], X[:, 0].max() + pad[0], resolution),
                         np.linspace(X[:, 1].min() - pad[1], X[:, 1].max() + pad[1], resolution))
    grid = np.c_[g1.ravel(), g2.ravel()]
    p = np.asarray(predict(grid), dtype=float).reshape(g1.shape)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    cs = ax.contourf(g1, g2, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.4)
    ax.contour(g1, g2, p, levels=[0.5], colors="black", linewidths=1.5)
    positive = class_names[1] if class_names is not None else "class 1"
    fig.colorbar(cs, ax=ax, label=f"predicted P({positive})")
    rng = np.random.default_rng(0)
    shown = X + rng.uniform(-jitter, jitter, X.shape) if jitter else X
    for k, color, marker in ((0, COLORS[0], "o"), (1, COLORS[3], "^")):
        mask = y == k
        label = class_names[k] if class_names is not None else f"class {k}"
        ax.scatter(shown[mask, 0], shown[mask, 1], s=14, color=color, marker=marker,
                   edgecolor="black", linewidth=0.4, label=label, alpha=0.9)
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.grid(False)
    ax.legend(loc="upper left", fontsize=9, markerscale=2, frameon=True, framealpha=0.9)
    if title:
        ax.set_title(title)
    return fig


def network_layout(graph, seed: int = 1) -> dict:
    """Fixed positions for drawing ``graph`` (a spring layout with a seed, so every figure
    of the same network puts each node in the same place)."""
    import networkx as nx

    return nx.spring_layout(graph, seed=seed)


def plot_network(graph, node_color=None, pos: dict | None = None, ax=None, labels: bool = True,
                 cmap: str = "coolwarm", vmin: float | None = None, vmax: float | None = None,
                 node_size: float = 220, title: str | None = None, highlight: Sequence = ()):
    """Draw a network with one colour per node.

    ``node_color`` is a list of colours or of numbers (mapped through ``cmap``), in the order
    of ``graph.nodes``; ``highlight`` lists nodes drawn with a thick black ring (for example
    the labelled nodes, or the mistakes).
    """
    import networkx as nx

    nodes = list(graph.nodes)
    if node_color is not None and len(node_color) != len(nodes):
        raise ValueError(f"node_color has {len(node_color)} entries for a network of {len(nodes)} nodes")
    if pos is None:
        pos = network_layout(graph)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    fig = ax.figure
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.3, width=0.8)
    colors = COLORS[0] if node_color is None else node_color
    nx.draw_networkx_nodes(graph, pos, nodelist=nodes, node_color=colors, cmap=cmap, vmin=vmin, vmax=vmax,
                           node_size=node_size, edgecolors="white", linewidths=0.8, ax=ax)
    ringed = [n for n in nodes if n in set(highlight)]
    if ringed:
        nx.draw_networkx_nodes(graph, pos, nodelist=ringed, node_color="none", node_size=node_size * 1.6,
                               edgecolors="black", linewidths=2.0, ax=ax)
    if labels:
        nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return fig
