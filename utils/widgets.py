"""Interactive demos. Each is a plain function (testable, usable in static pages)
plus an ipywidgets wrapper that redraws when a slider moves.

Tests drive the wrappers without a browser: they set ``slider.value`` and read
the returned widget's ``result`` attribute, which holds the last computation.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .plots import COLORS


def _show_figure(out, fig) -> None:
    """Replace what a widget's output area shows with ``fig`` (closed afterwards, so that
    Jupyter does not draw it a second time below the cell)."""
    from IPython.display import display

    with out:
        out.clear_output(wait=True)
        display(fig)
    plt.close(fig)


# --------------------------------------------------------------------------- gradient descent

def gradient_descent(grad: Callable, start: Sequence[float], learning_rate: float, steps: int,
                     blowup: float = 1e6) -> np.ndarray:
    """Run plain gradient descent and return the path, shape ``(steps + 1, n_params)``.

    Stops early (path shorter) when the parameters exceed ``blowup`` in size,
    which is what a too-large learning rate does.
    """
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if steps < 0 or int(steps) != steps:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    phi = np.asarray(start, dtype=float).copy()
    path = [phi.copy()]
    for _ in range(int(steps)):
        phi = phi - learning_rate * np.asarray(grad(phi), dtype=float)
        path.append(phi.copy())
        if not np.all(np.isfinite(phi)) or np.abs(phi).max() > blowup:
            break
    return np.array(path)


def _draw_loss_surface(ax, loss: Callable, bounds, param_names) -> None:
    (a0, a1), (b0, b1) = bounds
    g0, g1 = np.meshgrid(np.linspace(a0, a1, 120), np.linspace(b0, b1, 120))
    z = np.array([loss(np.array(p)) for p in np.c_[g0.ravel(), g1.ravel()]]).reshape(g0.shape)
    ax.contourf(g0, g1, np.log10(z), levels=25, cmap="viridis")
    ax.contour(g0, g1, np.log10(z), levels=12, colors="white", linewidths=0.4, alpha=0.6)
    ax.set_xlim(a0, a1)
    ax.set_ylim(b0, b1)
    ax.set_xlabel(param_names[0])
    ax.set_ylabel(param_names[1])
    ax.grid(False)


def _draw_path(ax, path: np.ndarray, bounds, markersize: float = 3) -> None:
    (a0, a1), _ = bounds
    inside = (path[:, 0] >= a0 - (a1 - a0)) & (path[:, 0] <= a1 + (a1 - a0))
    shown = path[inside]
    ax.plot(shown[:, 0], shown[:, 1], "-o", color=COLORS[1], markersize=markersize, linewidth=1.0,
            label="descent path")
    ax.plot(*path[0], "s", color="white", markersize=7, label="start")


def plot_descent(loss: Callable, path, bounds: Sequence[Sequence[float]],
                 param_names: Sequence[str] = ("intercept", "slope"), title: str | None = None,
                 steps_per_epoch: dict | None = None):
    """Loss contours of a two-parameter model with a descent path, beside loss per step.

    ``path`` is one array of parameter vectors (one row per step), or a mapping
    ``{label: path}`` to compare several runs, for instance mini-batch descents with
    different batch sizes: each run then gets its own panel of the surface (two panels per
    row), and the last panel compares their losses. ``steps_per_epoch`` (a mapping with the
    same labels) puts that panel on a common scale of epochs, passes through the data.
    """
    if not isinstance(path, dict):
        path = np.asarray(path, dtype=float)
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        _draw_loss_surface(ax, loss, bounds, param_names)
        _draw_path(ax, path, bounds)
        ax.set_title("loss surface (log scale)")
        ax.legend(loc="upper right", fontsize=9)
        losses = np.array([loss(p) for p in path])
        ax2.plot(np.arange(len(losses)), losses, color=COLORS[0])
        ax2.set_yscale("log")
        ax2.set_xlabel("step")
        ax2.set_ylabel("loss")
        ax2.set_title(f"loss after {len(path) - 1} steps: {losses[-1]:.4g}")
    else:
        paths = {label: np.asarray(p, dtype=float) for label, p in path.items()}
        if not paths:
            raise ValueError("plot_descent got no paths")
        if steps_per_epoch is not None and set(steps_per_epoch) != set(paths):
            raise ValueError(f"steps_per_epoch needs one entry per path: {sorted(paths)}, "
                             f"got {sorted(steps_per_epoch)}")
        rows = (len(paths) + 2) // 2                     # two panels per row: the surfaces, then the losses
        fig, grid = plt.subplots(rows, 2, figsize=(10, 3.9 * rows), squeeze=False)
        axes = list(grid.flat)[:len(paths) + 1]
        for extra in list(grid.flat)[len(paths) + 1:]:
            extra.remove()
        for ax, (label, p) in zip(axes, paths.items()):
            _draw_loss_surface(ax, loss, bounds, param_names)
            _draw_path(ax, p, bounds, markersize=2)
            ax.set_title(f"{label}: {len(p) - 1:,} steps", fontsize=10)
        axes[0].legend(loc="lower left", fontsize=8)
        for k, (label, p) in enumerate(paths.items()):
            losses = np.array([loss(q) for q in p])
            x = np.arange(len(losses)) / (steps_per_epoch[label] if steps_per_epoch else 1)
            axes[-1].plot(x, losses, ["-", "--", ":", "-."][k % 4], color=COLORS[k % len(COLORS)], label=label)
        axes[-1].set_yscale("log")
        axes[-1].set_xlabel("epoch (passes through the data)" if steps_per_epoch else "step")
        axes[-1].set_ylabel("loss on all the data")
        axes[-1].set_title("loss", fontsize=10)
        axes[-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def learning_rate_explorer(loss: Callable, grad: Callable, start: Sequence[float],
                           bounds: Sequence[Sequence[float]], learning_rates: Sequence[float],
                           steps: int = 50, param_names: Sequence[str] = ("intercept", "slope")):
    """A slider over ``learning_rates`` (and one over steps) redrawing the descent path.

    ``loss(phi)`` and ``grad(phi)`` are the chapter's own functions of the
    parameter vector. Returns the widget; its ``result`` attribute holds the
    last path drawn.
    """
    import ipywidgets as w

    if len(learning_rates) < 2:
        raise ValueError("learning_rate_explorer needs at least two learning rates to choose from")
    lr = w.SelectionSlider(options=[(f"{v:g}", v) for v in learning_rates],
                           value=learning_rates[len(learning_rates) // 2], description="learning rate",
                           continuous_update=False, style={"description_width": "initial"})
    n = w.IntSlider(value=steps, min=1, max=4 * steps, description="steps", continuous_update=False)
    out = w.Output()
    box = w.VBox([w.HBox([lr, n]), out])

    def redraw(*_):
        box.result = gradient_descent(grad, start, lr.value, n.value)
        _show_figure(out, plot_descent(loss, box.result, bounds, param_names))

    lr.observe(redraw, names="value")
    n.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- one neuron

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def neuron_fit(X, y, bias: float, weights: Sequence[float]) -> dict:
    """Predictions and fit of one logistic neuron ``sigmoid(bias + X @ weights)``."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(weights):
        raise ValueError(f"X must have shape (n, {len(weights)}) to match {len(weights)} weights; got {X.shape}")
    p = np.clip(sigmoid(bias + X @ weights), 1e-7, 1 - 1e-7)
    return {
        "p": p,
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "accuracy": float(np.mean((p > 0.5) == (y == 1))),
    }


def plot_neuron(X, y, bias: float, weights: Sequence[float], x_name: str, group_name: str,
                group_levels: Sequence[int], outcome: str = "P(y = 1)"):
    """Predicted probability along feature 0 for each level of feature 1, with observed shares."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    fit = neuron_fit(X, y, bias, weights)
    xs = np.unique(X[:, 0])
    grid = np.linspace(xs.min(), xs.max(), 100)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, level in enumerate(group_levels):
        color = plt.cm.coolwarm(i / max(1, len(group_levels) - 1))
        ax.plot(grid, sigmoid(bias + weights[0] * grid + weights[1] * level), color=color,
                label=f"{group_name} = {level}")
        mask = X[:, 1] == level
        if mask.any():
            shares = [(x, y[mask & (X[:, 0] == x)].mean(), (mask & (X[:, 0] == x)).sum()) for x in xs]
            shares = [(x, s, k) for x, s, k in shares if k >= 5]
            if shares:
                sx, sy, sk = zip(*shares)
                ax.scatter(sx, sy, s=np.sqrt(sk) * 4, color=color, alpha=0.7, edgecolor="black", linewidth=0.3)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(x_name)
    ax.set_ylabel(outcome)
    ax.set_title(f"log loss {fit['log_loss']:.3f}, accuracy {fit['accuracy']:.1%}  (dots: observed shares)",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper left", ncol=1)
    fig.tight_layout()
    return fig


def neuron_explorer(X, y, x_name: str, group_name: str, group_levels: Sequence[int],
                    outcome: str = "P(y = 1)", bias: float = 0.0, weights: Sequence[float] = (0.0, 0.0),
                    weight_range: float = 3.0, bias_range: float = 10.0):
    """Sliders for the bias and the two weights of one neuron; the curve and its fit redraw.

    Returns the widget; its ``result`` attribute holds the last ``neuron_fit``.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    b = w.FloatSlider(value=bias, min=-bias_range, max=bias_range, step=0.1, description="bias b",
                      continuous_update=False, style=style)
    w0 = w.FloatSlider(value=weights[0], min=-weight_range, max=weight_range, step=0.05,
                       description=f"weight on {x_name}", continuous_update=False, style=style)
    w1 = w.FloatSlider(value=weights[1], min=-weight_range, max=weight_range, step=0.05,
                       description=f"weight on {group_name}", continuous_update=False, style=style)
    out = w.Output()
    box = w.VBox([b, w0, w1, out])

    def redraw(*_):
        box.result = neuron_fit(X, y, b.value, (w0.value, w1.value))
        _show_figure(out, plot_neuron(X, y, b.value, (w0.value, w1.value), x_name, group_name, group_levels, outcome))

    for s in (b, w0, w1):
        s.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- shallow-network playground

#: Activation functions and their derivatives, as used by :func:`fit_shallow_network`.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "sigmoid": (lambda z: sigmoid(z), lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "leaky relu": (lambda z: np.where(z > 0, z, 0.1 * z), lambda z: np.where(z > 0, 1.0, 0.1)),
}

PLAYGROUND_SHAPES = ("linear", "circle", "xor", "spiral")


def playground_data(shape: str, n: int = 300, noise: float = 0.1, seed: int = 0):
    """Two-feature toy data for the playground: ``(X, y)`` with X in about [-1, 1]^2.

    ``shape`` is one of ``PLAYGROUND_SHAPES``: two groups split by a line, a ring around
    a disc, the four quadrants of XOR, or two interleaved spirals. ``noise`` moves the
    points by that standard deviation (labels stay as generated).
    """
    if shape not in PLAYGROUND_SHAPES:
        raise ValueError(f"shape must be one of {PLAYGROUND_SHAPES}, got {shape!r}")
    if n < 4 or int(n) != n:
        raise ValueError(f"n must be an integer of at least 4, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be zero or positive, got {noise}")
    rng = np.random.default_rng(seed)
    n = int(n)
    if shape == "spiral":
        half = n // 2
        t = np.sqrt(rng.uniform(0.05, 1, n)) * 2.5 * np.pi
        y = (np.arange(n) >= half).astype(int)
        angle = t + np.pi * y
        X = np.c_[t * np.cos(angle), t * np.sin(angle)] / (2.5 * np.pi)
    else:
        X = rng.uniform(-1, 1, (n, 2))
        if shape == "linear":
            y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
        elif shape == "circle":
            y = (np.hypot(X[:, 0], X[:, 1]) > 0.6).astype(int)
        else:
            y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X + rng.normal(0, noise, X.shape), y


def playground_halves(shape: str, n: int = 600, noise: float = 0.1, seed: int = 0):
    """Playground data cut at random into a training half and a held-out half.

    Returns ``((X_train, y_train), (X_held_out, y_held_out))``, each with ``n // 2`` points
    (the held-out half gets the odd one). The network learns from the first half only; the
    second half shows how well what it learned carries over to new points.
    """
    X, y = playground_data(shape, n, noise, seed)
    order = np.random.default_rng(seed + 1).permutation(len(y))
    train, held_out = order[: len(y) // 2], order[len(y) // 2:]
    return (X[train], y[train]), (X[held_out], y[held_out])


def _cross_entropy(p, y) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_shallow_network(X, y, hidden_units: int = 8, activation: str = "relu", learning_rate: float = 0.5,
                        steps: int = 1000, seed: int = 0, held_out=None) -> dict:
    """Fit a one-hidden-layer network for binary labels by full-batch gradient descent.

    The network is ``p = sigmoid(phi_0 + sum_k phi_k a(theta_k0 + theta_k . x))``: the
    backpropagation of week 3, written out in NumPy, so the playground redraws in a
    fraction of a second. Returns ``params`` (dict of arrays), ``losses`` (binary
    cross-entropy per step), ``accuracy`` on ``X`` and a ``predict`` function. With
    ``held_out=(X_held_out, y_held_out)``, points never used for fitting, it also returns
    their loss after every step (``held_out_losses``) and ``held_out_accuracy``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if hidden_units < 1 or int(hidden_units) != hidden_units:
        raise ValueError(f"hidden_units must be a positive integer, got {hidden_units}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must have shape (n, features) with one row per label; got X {X.shape}, y {y.shape}")
    if held_out is not None:
        X_held = np.asarray(held_out[0], dtype=float)
        y_held = np.asarray(held_out[1], dtype=float).ravel()
        if X_held.ndim != 2 or X_held.shape[1] != X.shape[1] or len(X_held) != len(y_held):
            raise ValueError(f"held_out must be (X, y) with {X.shape[1]} features and one row per label; "
                             f"got X {X_held.shape}, y {y_held.shape}")
    a, da = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    theta = rng.normal(0, np.sqrt(2 / (d + hidden_units)), (d, int(hidden_units)))
    theta0 = np.zeros(int(hidden_units))
    phi = rng.normal(0, np.sqrt(2 / (hidden_units + 1)), int(hidden_units))
    phi0 = 0.0
    losses, held_losses = [], []
    for _ in range(int(steps)):
        z = theta0 + X @ theta                      # pre-activations, (n, K)
        h = a(z)                                    # hidden units
        p = np.clip(sigmoid(phi0 + h @ phi), 1e-7, 1 - 1e-7)
        losses.append(_cross_entropy(p, y))
        if held_out is not None:                    # the same parameters on points never fitted
            held_losses.append(_cross_entropy(sigmoid(phi0 + a(theta0 + X_held @ theta) @ phi), y_held))
        dout = (p - y) / len(y)                     # dL/d(output pre-activation)
        dz = np.outer(dout, phi) * da(z)            # back through the hidden layer
        phi0 -= learning_rate * dout.sum()
        phi -= learning_rate * h.T @ dout
        theta0 -= learning_rate * dz.sum(axis=0)
        theta -= learning_rate * X.T @ dz
        if not np.isfinite(losses[-1]):
            break
    params = {"theta0": theta0, "theta": theta, "phi0": phi0, "phi": phi}

    def predict(points):
        return sigmoid(phi0 + a(theta0 + np.asarray(points, dtype=float) @ theta) @ phi)

    fit = {"params": params, "losses": np.array(losses), "predict": predict,
           "accuracy": float(np.mean((predict(X) > 0.5) == (y == 1)))}
    if held_out is not None:
        fit["held_out_losses"] = np.array(held_losses)
        fit["held_out_accuracy"] = float(np.mean((predict(X_held) > 0.5) == (y_held == 1)))
    return fit


def plot_playground(X, y, fit: dict, title: str | None = None):
    """The decision boundary of a fitted shallow network beside its loss per step.

    The boundary is drawn over the training points; when the fit has a held-out half
    (``fit_shallow_network(..., held_out=...)``) its accuracy joins the title and its loss
    the right panel (dashed), which is where overfitting shows."""
    from .plots import plot_decision_boundary

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1.25, 1]})
    held = "held_out_losses" in fit
    heading = f"training {fit['accuracy']:.1%} | held-out {fit['held_out_accuracy']:.1%}" if held \
        else f"accuracy {fit['accuracy']:.1%}"
    plot_decision_boundary(fit["predict"], X, y, ax=ax, feature_names=("x1", "x2"), title=heading)
    ax2.plot(fit["losses"], color=COLORS[0], label="training half")
    top = float(np.nanmax(fit["losses"][:1])) if len(fit["losses"]) else 0.8
    if held:
        ax2.plot(fit["held_out_losses"], color=COLORS[3], linestyle="--", label="held-out half")
        top = max(top, float(np.nanmax(fit["held_out_losses"])) if len(fit["held_out_losses"]) else 0)
        ax2.legend(loc="best", fontsize=9)
        ax2.set_title(f"loss after {len(fit['losses'])} steps: {fit['losses'][-1]:.3f} training, "
                      f"{fit['held_out_losses'][-1]:.3f} held-out", fontsize=9)
    else:
        ax2.set_title(f"loss after {len(fit['losses'])} steps: {fit['losses'][-1]:.3f}")
    ax2.set_xlabel("step")
    ax2.set_ylabel("cross-entropy loss")
    ax2.set_ylim(0, max(0.8, min(top, 4.0)))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def playground_explorer(shape: str = "circle", hidden_units: int = 4, activation: str = "relu",
                        learning_rate: float = 0.5, steps: int = 1000, noise: float = 0.1, points: int = 600):
    """A small TensorFlow-Playground: choose data, hidden units, activation, learning rate,
    the number of points and their noise.

    The points are cut into a training half, which the network is fitted to, and a held-out
    half, which only measures it. Every change refits the network (in NumPy, well under a
    second) and redraws the decision boundary and both losses. Returns the widget; ``result``
    holds the last fit (with ``X`` and ``y`` of the training half and ``X_held_out``,
    ``y_held_out``).
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    data = w.Dropdown(options=PLAYGROUND_SHAPES, value=shape, description="data", style=style)
    act = w.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation", style=style)
    units = w.IntSlider(value=hidden_units, min=1, max=64, description="hidden units",
                        continuous_update=False, style=style)
    rate = w.SelectionSlider(options=[0.01, 0.03, 0.1, 0.3, 0.5, 1.0, 3.0, 10.0], value=learning_rate,
                             description="learning rate", continuous_update=False, style=style)
    n_steps = w.IntSlider(value=steps, min=100, max=5000, step=100, description="steps",
                          continuous_update=False, style=style)
    spread = w.FloatSlider(value=noise, min=0, max=0.5, step=0.05, description="noise",
                           continuous_update=False, style=style)
    n_points = w.IntSlider(value=points, min=40, max=1000, step=20, description="points (half held out)",
                           continuous_update=False, style=style)
    out = w.Output()
    box = w.VBox([w.HBox([data, act]), w.HBox([units, rate]), w.HBox([n_steps, spread]), w.HBox([n_points]), out])

    def redraw(*_):
        (X, y), (X_held, y_held) = playground_halves(data.value, n_points.value, spread.value)
        fit = fit_shallow_network(X, y, units.value, act.value, rate.value, n_steps.value, held_out=(X_held, y_held))
        box.result = {**fit, "X": X, "y": y, "X_held_out": X_held, "y_held_out": y_held}
        _show_figure(out, plot_playground(X, y, fit, title=f"{units.value} {act.value} units on the {data.value} data"))

    for control in (data, act, units, rate, n_steps, spread, n_points):
        control.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- convolution (week 5)

#: 3 x 3 filters for the convolution demos (cross-correlation, as in Keras's Conv2D).
FILTERS = {
    "vertical edges": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float),
    "horizontal edges": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "outline": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
}


def convolve2d(image, kernel, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Slide ``kernel`` over a 2-D ``image`` (zero padding, cross-correlation as in Keras).

    The output has ``floor((N + 2P - F) / S) + 1`` rows (and columns likewise); when the
    division is not exact, the last rows/columns of the image are never visited, which is
    also what Keras does with ``padding="valid"``.
    """
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D; got {image.shape} and {kernel.shape}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    if int(padding) != padding or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding}")
    padded = np.pad(image, int(padding))
    if padded.shape[0] < kernel.shape[0] or padded.shape[1] < kernel.shape[1]:
        raise ValueError(f"a {kernel.shape} filter does not fit in a padded image of {padded.shape}")
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)[::int(stride), ::int(stride)]
    return np.einsum("ijkl,kl->ij", windows, kernel)


def convolution_summary(n: int, f: int, stride: int, padding: int) -> str:
    """The output-size formula filled in, e.g. ``(128 + 2*1 - 3)/2 + 1 = 64.5 -> 64``."""
    exact = (n + 2 * padding - f) / stride + 1
    text = f"W = ({n} + 2*{padding} - {f})/{stride} + 1 = {exact:g}"
    if exact != int(exact):
        text += f" is not whole: the filter does not fit exactly, the last pixels are skipped ({int(exact)})"
    return text


def plot_convolution(image, kernel, stride: int = 1, padding: int = 0, name: str = ""):
    """Input image, the filter with its numbers, and the activation map with its size."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    out = convolve2d(image, kernel, stride, padding)
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1.3, 3]})
    ax0.imshow(np.pad(image, padding), cmap="gray")
    ax0.set_title(f"input {image.shape[0]}x{image.shape[1]}" + (f" + padding {padding}" if padding else ""))
    ax1.imshow(kernel, cmap="RdBu_r", vmin=-np.abs(kernel).max(), vmax=np.abs(kernel).max())
    for (i, j), v in np.ndenumerate(kernel):
        dark = abs(v) > 0.6 * np.abs(kernel).max()
        ax1.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=10, color="white" if dark else "black")
    ax1.set_title(f"filter: {name}" if name else "filter", fontsize=10)
    if out.min() < 0:
        limit = np.abs(out).max() or 1.0
        ax2.imshow(out, cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        ax2.imshow(out, cmap="gray")
    ax2.set_title(f"activation map {out.shape[0]}x{out.shape[1]} (stride {stride})")
    for ax in (ax0, ax1, ax2):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.suptitle(convolution_summary(image.shape[0], kernel.shape[0], stride, padding), fontsize=11)
    fig.tight_layout()
    return fig


def convolution_explorer(image, filters: dict | None = None, max_stride: int = 4, max_padding: int = 3):
    """Choose a filter, a stride and a padding; the activation map and its size redraw.

    Returns the widget; its ``result`` attribute holds the last ``{"filter", "stride",
    "padding", "output", "shape", "formula"}``.
    """
    import ipywidgets as w

    filters = dict(FILTERS if filters is None else filters)
    if not filters:
        raise ValueError("convolution_explorer needs at least one filter")
    style = {"description_width": "initial"}
    choice = w.Dropdown(options=list(filters), value=next(iter(filters)), description="filter", style=style)
    stride = w.IntSlider(value=1, min=1, max=max_stride, description="stride S", continuous_update=False, style=style)
    padding = w.IntSlider(value=0, min=0, max=max_padding, description="padding P", continuous_update=False,
                          style=style)
    out = w.Output()
    box = w.VBox([w.HBox([choice, stride, padding]), out])

    def redraw(*_):
        kernel = filters[choice.value]
        result = convolve2d(image, kernel, stride.value, padding.value)
        box.result = {"filter": choice.value, "stride": stride.value, "padding": padding.value,
                      "output": result, "shape": result.shape,
                      "formula": convolution_summary(np.shape(image)[0], kernel.shape[0], stride.value, padding.value)}
        _show_figure(out, plot_convolution(image, kernel, stride.value, padding.value, choice.value))

    for control in (choice, stride, padding):
        control.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- the perceptron (week 4)

def perceptron_predict(X, weights, bias) -> np.ndarray:
    """Rosenblatt's perceptron: 1 where ``bias + X @ weights > 0``, else 0."""
    X = np.asarray(X, dtype=float)
    return (bias + X @ np.asarray(weights, dtype=float) > 0).astype(int)


def perceptron_train(X, y, epochs: int = 10, learning_rate: float = 1.0) -> dict:
    """Run the perceptron rule and record every step.

    The examples are visited in order, ``epochs`` times. At each example the
    prediction ``yhat`` is compared with the label ``y`` (0 or 1) and the
    parameters move by ``learning_rate * (y - yhat)``: times the inputs for the
    weights, times one for the bias. Nothing changes when the prediction is
    right. Training stops after the first epoch without a mistake.

    Returns a dict with ``weights`` (shape ``(steps + 1, n_inputs)``), ``bias``
    (``steps + 1``), ``mistakes`` (misclassified examples of the whole data set
    after each step), ``updates`` (how many steps changed the parameters),
    ``epochs_run`` and ``converged`` (an epoch passed without a mistake).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
        raise ValueError(f"X must have shape (n, n_inputs) and y n labels; got X {X.shape}, y {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("perceptron labels must be 0 or 1")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if epochs < 1 or int(epochs) != epochs:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    w, b = np.zeros(X.shape[1]), 0.0
    weights, biases = [w.copy()], [b]
    mistakes = [int(np.sum(perceptron_predict(X, w, b) != y))]
    updates, converged, epochs_run = 0, False, 0
    for _ in range(int(epochs)):
        epochs_run += 1
        changed = False
        for xi, yi in zip(X, y):
            error = yi - int(b + xi @ w > 0)
            if error:
                w = w + learning_rate * error * xi
                b = b + learning_rate * error
                updates += 1
                changed = True
            weights.append(w.copy())
            biases.append(b)
            mistakes.append(int(np.sum(perceptron_predict(X, w, b) != y)))
        if not changed:
            converged = True
            break
    return {"weights": np.array(weights), "bias": np.array(biases), "mistakes": np.array(mistakes),
            "updates": updates, "epochs_run": epochs_run, "converged": converged}


def plot_perceptron(X, y, weights, bias, ax=None, feature_names: Sequence[str] = ("x1", "x2"),
                    class_names: Sequence[str] = ("class 0", "class 1"), jitter: float = 0.0,
                    title: str | None = None):
    """Two-input data, the perceptron's line ``bias + w1 x1 + w2 x2 = 0`` and its mistakes circled."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_perceptron needs two inputs, X of shape (n, 2); got {X.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 4.4))
    else:
        fig = ax.figure
    pad = 0.08 * (X.max(axis=0) - X.min(axis=0) + 1e-9) + 0.3 * jitter
    (x0, y0), (x1, y1) = X.min(axis=0) - pad, X.max(axis=0) + pad
    g1, g2 = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    side = perceptron_predict(np.c_[g1.ravel(), g2.ravel()], weights, bias).reshape(g1.shape)
    ax.contourf(g1, g2, side, levels=[-0.5, 0.5, 1.5], colors=[COLORS[0], COLORS[3]], alpha=0.15)
    w = np.asarray(weights, dtype=float)
    if np.any(w != 0):
        ax.contour(g1, g2, bias + w[0] * g1 + w[1] * g2, levels=[0], colors="black", linewidths=1.5)
    rng = np.random.default_rng(0)
    shown = X + rng.uniform(-jitter, jitter, X.shape) if jitter else X
    wrong = perceptron_predict(X, weights, bias) != y
    for k, color, marker in ((0, COLORS[0], "o"), (1, COLORS[3], "^")):
        mask = y == k
        ax.scatter(shown[mask, 0], shown[mask, 1], s=22, color=color, marker=marker, edgecolor="white",
                   linewidth=0.3, label=class_names[k], alpha=0.8)
    ax.scatter(shown[wrong, 0], shown[wrong, 1], s=90, facecolor="none", edgecolor="black", linewidth=0.9,
               label=f"mistakes ({wrong.sum()})")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.grid(False)
    ax.legend(loc="upper left", fontsize=8, frameon=True, framealpha=0.9)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_perceptron_step(X, y, run: dict, step: int, feature_names: Sequence[str] = ("x1", "x2"),
                         class_names: Sequence[str] = ("class 0", "class 1"), jitter: float = 0.0,
                         title: str | None = None):
    """One step of a :func:`perceptron_train` run: the line then (left), mistakes per step (right)."""
    last = len(run["mistakes"]) - 1
    if not 0 <= step <= last:
        raise ValueError(f"step must be between 0 and {last}, got {step}")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.2), width_ratios=[1.15, 1])
    w, b = run["weights"][step], run["bias"][step]
    plot_perceptron(X, y, w, b, ax=ax, feature_names=feature_names, class_names=class_names, jitter=jitter,
                    title=f"step {step}: w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.2f}")
    n = len(np.asarray(y).ravel())
    ax2.plot(np.arange(last + 1) / n, run["mistakes"], color=COLORS[0], linewidth=0.8)
    ax2.plot(step / n, run["mistakes"][step], "o", color=COLORS[3], markersize=7)
    ax2.set_xlabel(f"epochs (one step = one of the {n} examples)")
    ax2.set_ylabel("mistakes on the whole data set")
    ax2.set_ylim(bottom=0)
    status = "converged: an epoch without mistakes" if run["converged"] else "not converged"
    ax2.set_title(f"{run['updates']} updates in {run['epochs_run']} epochs, {status}", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def perceptron_explorer(datasets, epochs: int = 20, learning_rate: float = 1.0,
                        feature_names=None, class_names=None, jitter=None):
    """Step through the perceptron rule: a menu of data sets and a slider over the steps.

    ``datasets`` maps a name to ``(X, y)`` with two inputs and 0/1 labels. The
    other arguments may be single values or dicts by data set name. Each data
    set is trained once (cheap: NumPy); the slider only replays the recorded
    steps. Returns the widget; its ``result`` attribute holds the data set's
    name, the step shown, its weights, bias and mistakes, and the whole run.
    """
    import ipywidgets as w

    if not datasets:
        raise ValueError("perceptron_explorer needs at least one data set")

    def per_set(value, name, default):
        if value is None:
            return default
        return value.get(name, default) if isinstance(value, dict) else value

    runs = {name: perceptron_train(X, y, epochs, learning_rate) for name, (X, y) in datasets.items()}
    names = list(datasets)
    style = {"description_width": "initial"}
    choice = w.Dropdown(options=names, value=names[0], description="data", style=style)
    step = w.IntSlider(value=0, min=0, max=len(runs[names[0]]["mistakes"]) - 1, description="step",
                       continuous_update=False, style=style, layout=w.Layout(width="60%"))
    out = w.Output()
    box = w.VBox([w.HBox([choice, step]), out])

    def redraw(*_):
        name, run = choice.value, runs[choice.value]
        k = min(step.value, len(run["mistakes"]) - 1)
        box.result = {"data": name, "step": k, "weights": run["weights"][k], "bias": float(run["bias"][k]),
                      "mistakes": int(run["mistakes"][k]), "run": run}
        X, y = datasets[name]
        _show_figure(out, plot_perceptron_step(X, y, run, k, feature_names=per_set(feature_names, name, ("x1", "x2")),
                                               class_names=per_set(class_names, name, ("class 0", "class 1")),
                                               jitter=per_set(jitter, name, 0.0)))

    def new_data(*_):
        last = len(runs[choice.value]["mistakes"]) - 1
        step.unobserve(redraw, names="value")
        step.max = last
        step.value = min(step.value, last)
        step.observe(redraw, names="value")
        redraw()

    choice.observe(new_data, names="value")
    step.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- message passing (week 6)

def spread_signal(propagation, signal, steps: int) -> np.ndarray:
    """The signal on every node after 0, 1, ..., ``steps`` rounds of message passing.

    One round multiplies by ``propagation`` (an N x N matrix such as the normalised
    adjacency matrix of a graph convolution). Returns an array of shape (steps + 1, N).
    """
    P = np.asarray(propagation, dtype=float)
    x = np.asarray(signal, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"propagation must be a square N x N matrix, got shape {P.shape}")
    if x.shape != (P.shape[0],):
        raise ValueError(f"signal must have one value per node ({P.shape[0]}), got shape {x.shape}")
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    out = [x]
    for _ in range(int(steps)):
        out.append(P @ out[-1])
    return np.array(out)


def spread_between_nodes(values) -> float:
    """How different the nodes still are: the standard deviation of the signal over the
    nodes (0 when every node carries the same value)."""
    return float(np.std(np.asarray(values, dtype=float)))


def plot_spread(graph, history: np.ndarray, step: int, pos: dict | None = None, title: str | None = None):
    """The network coloured by the signal after ``step`` rounds, beside the signal's range per round."""
    from .plots import plot_network

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    limit = float(np.abs(history[0]).max()) or 1.0
    values = history[step]
    plot_network(graph, values, pos=pos, ax=ax0, cmap="coolwarm", vmin=-limit / 4, vmax=limit / 4,
                 title=title or f"after {step} round{'s' if step != 1 else ''} of message passing")
    rounds = np.arange(len(history))
    ax1.fill_between(rounds, history.min(axis=1), history.max(axis=1), color=COLORS[5], alpha=0.4,
                     label="range over nodes")
    ax1.plot(rounds, history.mean(axis=1), color=COLORS[0], label="mean over nodes")
    ax1.axvline(step, color="black", linestyle=":")
    ax1.set_xlabel("rounds of message passing")
    ax1.set_ylabel("signal")
    ax1.set_title(f"spread between nodes: {spread_between_nodes(values):.3f}", fontsize=10)
    ax1.legend(fontsize=9)
    fig.tight_layout()
    return fig


def message_passing_explorer(graph, propagation, signal, max_steps: int = 30, pos: dict | None = None):
    """Move the slider to pass the signal on for more rounds: it spreads, then smooths out.

    Returns the widget; its ``result`` attribute holds the last ``{"step", "values",
    "spread"}``.
    """
    import ipywidgets as w

    history = spread_signal(propagation, signal, max_steps)
    if pos is None:
        from .plots import network_layout

        pos = network_layout(graph)
    steps = w.IntSlider(value=0, min=0, max=max_steps, description="rounds", continuous_update=False)
    out = w.Output()
    box = w.VBox([steps, out])

    def redraw(*_):
        values = history[steps.value]
        box.result = {"step": steps.value, "values": values, "spread": spread_between_nodes(values)}
        _show_figure(out, plot_spread(graph, history, steps.value, pos=pos))

    steps.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- forecasts (week 7)

def mean_absolute_errors(truth, forecasts: dict, horizon: int) -> dict:
    """Mean absolute error of each method's ``horizon``-step forecasts (arrays: origins x horizons)."""
    truth = np.asarray(truth, dtype=float)
    if truth.ndim != 2 or not 1 <= horizon <= truth.shape[1]:
        raise ValueError(f"horizon must be between 1 and {truth.shape[1] if truth.ndim == 2 else '?'} "
                         f"for truth of shape {truth.shape} (origins x horizons), got {horizon}")
    out = {}
    for name, forecast in forecasts.items():
        forecast = np.asarray(forecast, dtype=float)
        if forecast.shape != truth.shape:
            raise ValueError(f"forecasts of {name!r} have shape {forecast.shape}, the truth {truth.shape}")
        out[name] = float(np.abs(forecast[:, horizon - 1] - truth[:, horizon - 1]).mean())
    return out


def plot_forecast_errors(truth, forecasts: dict, target_dates, horizon: int, window: int | None = None,
                         unit: str = "", step: str = "step"):
    """Each method's mean absolute error at ``horizon`` (bars) beside its forecasts and the truth."""
    errors = mean_absolute_errors(truth, forecasts, horizon)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1, 2]})
    names = list(errors)
    ax0.barh(names, [errors[n] for n in names], color=[COLORS[i % len(COLORS)] for i in range(len(names))])
    ax0.invert_yaxis()
    ax0.set_xlabel(f"mean absolute error{f' ({unit})' if unit else ''}")
    where = f", {window}-{step} window" if window else ""
    ax0.set_title(f"test error, {horizon} {step}{'s' if horizon != 1 else ''} ahead{where}", fontsize=10)
    ax1.plot(target_dates, np.asarray(truth)[:, horizon - 1], color="black", linewidth=2, label="truth")
    for i, name in enumerate(names):
        ax1.plot(target_dates, np.asarray(forecasts[name])[:, horizon - 1], color=COLORS[i % len(COLORS)],
                 linewidth=1, label=name)
    ax1.legend(fontsize=8)
    ax1.set_title("forecasts and what happened", fontsize=10)
    fig.tight_layout()
    return fig


def forecast_explorer(runs: dict, dates, origins, unit: str = "", step: str = "step"):
    """Pick a window length and a horizon: each method's test error and its forecasts.

    ``runs`` maps a window length to ``{"truth": array, "forecasts": {method: array}}``, the
    arrays of shape (origins, horizons); ``dates[origins + h]`` are the dates forecast ``h``
    steps ahead; ``step`` names a step in the titles (e.g. "month"). Returns the widget;
    its ``result`` attribute holds the last ``{"window", "horizon", "errors"}``.
    """
    import ipywidgets as w

    if not runs:
        raise ValueError("runs is empty: give at least one window length with its forecasts")
    windows = sorted(runs)
    horizons = np.asarray(runs[windows[0]]["truth"]).shape[1]
    origins = np.asarray(origins)
    if len(origins) != len(runs[windows[0]]["truth"]):
        raise ValueError(f"{len(origins)} origins for {len(runs[windows[0]]['truth'])} rows of forecasts")
    window = w.Dropdown(options=windows, value=windows[len(windows) // 2], description="window")
    horizon = w.IntSlider(value=1, min=1, max=horizons, description="horizon", continuous_update=False)
    out = w.Output()
    box = w.VBox([w.HBox([window, horizon]), out])

    def redraw(*_):
        run = runs[window.value]
        box.result = {"window": window.value, "horizon": horizon.value,
                      "errors": mean_absolute_errors(run["truth"], run["forecasts"], horizon.value)}
        _show_figure(out, plot_forecast_errors(run["truth"], run["forecasts"], dates[origins + horizon.value],
                                               horizon.value, window.value, unit, step))

    window.observe(redraw, names="value")
    horizon.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- distinguishing words

def plot_distinguishing_words(table, names: Sequence[str], top: int = 12, by: str = "z", title: str | None = None):
    """Bar charts of the ``top`` words of each group in a :func:`utils.text.weighted_log_odds` table.

    ``by`` is ``"z"`` (the z-score, which accounts for how often a word is used) or
    ``"log_odds"`` (the plain difference in log-odds). Each bar is labelled with the word's
    counts in the two groups.
    """
    if by not in ("z", "log_odds"):
        raise ValueError(f"by must be 'z' or 'log_odds', got {by!r}")
    ranked = table.sort_values(by, ascending=False)
    sides = [(names[0], ranked.head(top), COLORS[0]), (names[1], ranked.tail(top).iloc[::-1], COLORS[1])]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.32 * top + 1.4))
    for ax, (name, rows, color) in zip(axes, sides):
        values = rows[by].abs()
        ax.barh(range(len(rows))[::-1], values, color=color)
        ax.set_yticks(range(len(rows))[::-1])
        ax.set_yticklabels([f"{w} ({a:,}/{b:,})" for w, a, b in zip(rows.index, rows["count_a"], rows["count_b"])],
                           fontsize=8)
        ax.set_title(f"words of {name}", fontsize=10)
        ax.set_xlabel("z-score" if by == "z" else "log-odds ratio (absolute)")
    fig.suptitle(title or f"{names[0]} against {names[1]} (counts in brackets: {names[0]}/{names[1]})", fontsize=10)
    fig.tight_layout()
    return fig


def log_odds_explorer(groups: dict, top: int = 12, prior_strength: float = 1000.0):
    """Pick two groups of texts and the prior's strength: the words that tell them apart.

    ``groups`` maps a group's name to its word counts (a ``Counter``). The prior strength runs
    from almost none (the plain log-odds ratio, which words used once or twice dominate) to a
    very strong prior (only frequent words can stand out). Returns the widget; its ``result``
    attribute holds the last ``{"a", "b", "prior_strength", "by", "top_a", "top_b"}``.
    """
    import ipywidgets as w
    from IPython.display import display

    from .text import weighted_log_odds

    if len(groups) < 2:
        raise ValueError("give at least two groups of word counts to compare")
    names = list(groups)
    group_a = w.Dropdown(options=names, value=names[0], description="group A")
    group_b = w.Dropdown(options=names, value=names[1], description="group B")
    strength = w.FloatLogSlider(value=prior_strength, base=10, min=-2, max=6, step=0.5,
                                description="prior", continuous_update=False)
    by = w.ToggleButtons(options=[("z-score", "z"), ("log-odds", "log_odds")], value="z", description="rank by")
    out = w.Output()
    box = w.VBox([w.HBox([group_a, group_b]), w.HBox([strength, by]), out])

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            if group_a.value == group_b.value:
                box.result = None
                print("Pick two different groups.")
                return
            table = weighted_log_odds(groups[group_a.value], groups[group_b.value], strength.value)
            ranked = table.sort_values(by.value, ascending=False)
            box.result = {"a": group_a.value, "b": group_b.value, "prior_strength": strength.value,
                          "by": by.value, "top_a": list(ranked.index[:top]), "top_b": list(ranked.index[::-1][:top])}
            fig = plot_distinguishing_words(table, [group_a.value, group_b.value], top, by.value)
            display(fig)
            plt.close(fig)

    for control in (group_a, group_b, strength, by):
        control.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- attention

def plot_attention(tokens: Sequence[str], matrix, focus: int, title: str = ""):
    """An attention matrix (rows: the attending token, columns: the token attended to) and,
    beside it, the weights of the row ``focus`` as bars."""
    matrix = np.asarray(matrix)
    n = len(tokens)
    if matrix.shape != (n, n):
        raise ValueError(f"the attention matrix has shape {matrix.shape}, but there are {n} tokens")
    if not 0 <= focus < n:
        raise ValueError(f"focus must be a token position between 0 and {n - 1}, got {focus}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.22 * n + 2.2), gridspec_kw={"width_ratios": [1.2, 1]})
    left.imshow(matrix, cmap="Blues", vmin=0, vmax=max(matrix.max(), 1e-9))
    left.set_xticks(range(n))
    left.set_xticklabels(tokens, rotation=90, fontsize=7)
    left.set_yticks(range(n))
    left.set_yticklabels(tokens, fontsize=7)
    left.axhline(focus, color=COLORS[1], linewidth=1)
    left.set_xlabel("attended to")
    left.set_ylabel("attending token")
    left.grid(False)
    right.barh(range(n)[::-1], matrix[focus], color=COLORS[0])
    right.set_yticks(range(n)[::-1])
    right.set_yticklabels(tokens, fontsize=7)
    right.set_xlabel(f"attention of '{tokens[focus]}' (sums to 1)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def attention_explorer(tokens: Sequence[str], weights, focus: str | None = None):
    """Pick a layer, a head (or their average) and a token: where that token looks.

    ``weights`` has shape (layers, heads, n, n), as from
    :meth:`utils.models.SentenceEncoder.attention_weights`. Returns the widget; its ``result``
    attribute holds the last ``{"layer", "head", "token", "weights"}`` (layer from 1, head
    from 1 or "average").
    """
    import ipywidgets as w

    weights = np.asarray(weights)
    if weights.ndim != 4 or weights.shape[2:] != (len(tokens), len(tokens)):
        raise ValueError(f"weights must have shape (layers, heads, {len(tokens)}, {len(tokens)}), got {weights.shape}")
    layers_count, heads = weights.shape[:2]
    positions = [(f"{i}: {t}", i) for i, t in enumerate(tokens)]
    start = tokens.index(focus) if focus in tokens else 0
    layer = w.IntSlider(value=1, min=1, max=layers_count, description="layer", continuous_update=False)
    head = w.Dropdown(options=[("average", "average")] + [(str(h), h) for h in range(1, heads + 1)],
                      value="average", description="head")
    token = w.Dropdown(options=positions, value=start, description="token")
    out = w.Output()
    box = w.VBox([w.HBox([layer, head, token]), out])

    def redraw(*_):
        per_head = weights[layer.value - 1]
        matrix = per_head.mean(axis=0) if head.value == "average" else per_head[head.value - 1]
        box.result = {"layer": layer.value, "head": head.value, "token": tokens[token.value],
                      "weights": matrix[token.value].tolist()}
        _show_figure(out, plot_attention(tokens, matrix, token.value, f"layer {layer.value}, head {head.value}"))

    for control in (layer, head, token):
        control.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- social dilemmas (week 11)

def rolling_mutual_cooperation(moves, window: int = 500) -> np.ndarray:
    """Share of the last ``window`` rounds in which both players cooperated (move 0), round by round."""
    moves = np.asarray(moves)
    if moves.ndim != 2 or moves.shape[1] != 2:
        raise ValueError(f"moves must have shape (rounds, 2), got {moves.shape}")
    both = (moves == 0).all(axis=1).astype(float)
    window = max(1, min(window, len(both)))
    sums = np.convolve(both, np.ones(window), mode="valid")
    return sums / window


def dilemma_runs(learn: Callable, payoffs: dict, gamma: float, seeds: Sequence[int],
                 opponents: Sequence[str] = ("tit for tat", "learner")) -> dict:
    """Run ``learn(opponent, gamma, payoffs=..., seed=...)`` for each opponent and seed.

    Returns ``{opponent: [moves of each seed]}``; ``learn`` returns moves of shape (rounds, 2).
    """
    T, R, P, S = (payoffs[k] for k in "TRPS")
    if not T > R > P > S:
        raise ValueError(f"a prisoner's dilemma needs T > R > P > S, got T={T}, R={R}, P={P}, S={S}")
    if not 0 <= gamma < 1:
        raise ValueError(f"the discount factor must be in [0, 1), got {gamma}")
    return {opponent: [np.asarray(learn(opponent, gamma, payoffs=payoffs, seed=seed)) for seed in seeds]
            for opponent in opponents}


def plot_dilemma_runs(learn: Callable, payoffs: dict, gamma: float, seeds: Sequence[int] = range(4),
                      window: int = 500, runs: dict | None = None):
    """Mutual cooperation over the rounds, one line per seed, one panel per opponent."""
    runs = runs if runs is not None else dilemma_runs(learn, payoffs, gamma, seeds)
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 3.6), sharey=True, squeeze=False)
    for ax, (opponent, per_seed) in zip(axes[0], runs.items()):
        for i, moves in enumerate(per_seed):
            share = rolling_mutual_cooperation(moves, window)
            ax.plot(np.arange(window, window + len(share)), share, color=COLORS[i % len(COLORS)],
                    linewidth=1.2, label=f"seed {i}")
        name = "another learner" if opponent == "learner" else opponent
        ax.set_title(f"Q-learner against {name}", fontsize=10)
        ax.set_xlabel("round")
        ax.set_ylim(-0.03, 1.03)
    axes[0][0].set_ylabel(f"mutual cooperation\n(share of the last {window} rounds)")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("T={T}, R={R}, P={P}, S={S}, γ={gamma}".format(gamma=gamma, **payoffs), fontsize=10)
    fig.tight_layout()
    return fig


def dilemma_explorer(learn: Callable, seeds: Sequence[int] = range(4), payoffs: dict | None = None,
                     gamma: float = 0.9, last: int = 2_000):
    """Sliders for the temptation T, the sucker's payoff S and the discount factor γ (R and P fixed).

    ``learn(opponent, gamma, payoffs=..., seed=...)`` returns the moves of shape (rounds, 2).
    Returns the widget; its ``result`` attribute holds the last ``{"payoffs", "gamma",
    "cooperation"}``, where cooperation maps each opponent to the mean share of mutual
    cooperation in the last ``last`` rounds over the seeds.
    """
    import ipywidgets as w

    payoffs = dict(payoffs or {"T": 5, "R": 3, "P": 1, "S": 0})
    temptation = w.FloatSlider(value=payoffs["T"], min=payoffs["R"] + 0.5, max=10, step=0.5,
                               description="T", continuous_update=False)
    sucker = w.FloatSlider(value=payoffs["S"], min=-3, max=payoffs["P"] - 0.5, step=0.5,
                           description="S", continuous_update=False)
    discount = w.FloatSlider(value=gamma, min=0, max=0.95, step=0.05, description="γ", continuous_update=False)
    out = w.Output()
    box = w.VBox([w.HBox([temptation, sucker, discount]), out])

    def redraw(*_):
        current = dict(payoffs, T=temptation.value, S=sucker.value)
        runs = dilemma_runs(learn, current, discount.value, seeds)
        box.result = {"payoffs": current, "gamma": discount.value,
                      "cooperation": {opponent: float(np.mean([(m[-last:] == 0).all(axis=1).mean() for m in per_seed]))
                                      for opponent, per_seed in runs.items()}}
        _show_figure(out, plot_dilemma_runs(learn, current, discount.value, seeds, runs=runs))

    for control in (temptation, sucker, discount):
        control.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- next-token distributions (week 12)

def plot_next_tokens(llm, prompt: str, temperature: float = 1.0, top_k: int | None = None, show: int = 12):
    """Bars of the ``show`` most likely next tokens after ``prompt`` at this temperature and top-k.

    ``llm`` needs ``encode(text)``, ``decode(ids)`` and ``logits(ids)`` (one row of logits per
    position), as ``utils.models.SmallLanguageModel`` has."""
    from .models import next_token_distribution

    p = next_token_distribution(llm.logits(llm.encode(prompt))[-1], temperature, top_k)
    top = np.argsort(p)[::-1][:show]
    fig, ax = plt.subplots(figsize=(7, 0.3 * show + 1.2))
    ax.barh(range(len(top))[::-1], p[top], color=COLORS[0])
    ax.set_yticks(range(len(top))[::-1], [repr(llm.decode([int(i)])) for i in top], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of being drawn next")
    k = "all tokens" if top_k is None else f"top {top_k}"
    ax.set_title(f"after “{prompt[-50:]}”\ntemperature {temperature:g}, {k}: "
                 f"{int((p > 0).sum()):,} tokens possible", fontsize=10)
    fig.tight_layout()
    return fig


def next_token_explorer(llm, prompt: str = "The most important problem facing this country is",
                        show: int = 12):
    """A text box for the prompt and sliders for temperature and top-k (0 = no limit) over the
    next-token distribution of ``llm``. Returns the widget; its ``result`` attribute holds the
    last ``{"prompt", "temperature", "top_k", "tokens", "probabilities"}`` of the bars shown."""
    import ipywidgets as w

    from .models import next_token_distribution

    text = w.Text(value=prompt, description="prompt", continuous_update=False, layout=w.Layout(width="95%"))
    temperature = w.FloatSlider(value=1.0, min=0, max=2, step=0.1, description="temperature",
                                continuous_update=False)
    top_k = w.IntSlider(value=0, min=0, max=50, step=1, description="top-k (0: all)", continuous_update=False)
    out = w.Output()
    box = w.VBox([text, w.HBox([temperature, top_k]), out])

    def redraw(*_):
        k = top_k.value or None
        p = next_token_distribution(llm.logits(llm.encode(text.value))[-1], temperature.value, k)
        top = np.argsort(p)[::-1][:show]
        box.result = {"prompt": text.value, "temperature": temperature.value, "top_k": k,
                      "tokens": [llm.decode([int(i)]) for i in top], "probabilities": p[top].tolist()}
        _show_figure(out, plot_next_tokens(llm, text.value, temperature.value, k, show))

    for control in (text, temperature, top_k):
        control.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- KL weight of a VAE

def plot_kl_weight_run(run: dict, images, beta: float, labels=None, class_names: Sequence[str] | None = None):
    """One VAE run of :func:`kl_weight_explorer`: where the test images' code means land (coloured
    by ``labels`` if given) and the first images above their reconstructions.

    ``run`` holds ``"means"`` (n, 2), ``"reconstructions"`` (m, pixels) of ``images[:m]`` and
    ``"kl"``, the KL term of each latent dimension."""
    from .plots import plot_image_rows

    means, reconstructions = np.asarray(run["means"]), np.asarray(run["reconstructions"])
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(f"the map needs code means of shape (n, 2), got {means.shape}")
    m = min(len(images), len(reconstructions))
    if m == 0:
        raise ValueError("give at least one image and its reconstruction")
    fig = plt.figure(figsize=(12, 3.9))
    left, right = fig.subfigures(1, 2, width_ratios=[1, 2.2])
    ax = left.subplots()
    if labels is None:
        ax.scatter(means[:, 0], means[:, 1], s=4, alpha=0.5, color=COLORS[0])
    else:
        labels = np.asarray(labels)[:len(means)]
        for k in np.unique(labels):
            name = class_names[int(k)] if class_names is not None else str(k)
            ax.scatter(means[labels == k, 0], means[labels == k, 1], s=4, alpha=0.6, label=name,
                       color=plt.cm.tab10(int(k) % 10), marker="os^vD<>xP*"[int(k) % 10])
    reach = max(3.0, float(np.quantile(np.abs(means), 0.995)) * 1.1)
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(f"β = {beta:g}: code means, KL {float(np.sum(run['kl'])):.2f} nats", fontsize=10)
    plot_image_rows({"image": np.asarray(images)[:m], "rebuilt": reconstructions[:m]}, ncols=m, fig=right,
                    title="test images and their reconstructions from the code means")
    return fig


def kl_weight_explorer(runs: dict, images, labels=None, class_names: Sequence[str] | None = None):
    """A slider over the KL weights β of trained VAE runs (``{beta: run}``, each run as
    :func:`plot_kl_weight_run` takes it). Returns the widget; its ``result`` attribute holds
    the last ``{"beta", "kl", "spread"}``: the KL term per dimension and how much the shown
    reconstructions differ from one another (0 when every image is rebuilt the same)."""
    import ipywidgets as w

    if not runs:
        raise ValueError("runs is empty: train at least one VAE and give {beta: run}")
    betas = sorted(runs)
    beta = w.SelectionSlider(options=betas, value=betas[0], description="β (KL weight)", continuous_update=False)
    out = w.Output()
    box = w.VBox([beta, out])

    def redraw(*_):
        run = runs[beta.value]
        box.result = {"beta": beta.value, "kl": np.asarray(run["kl"], dtype=float).tolist(),
                      "spread": float(np.asarray(run["reconstructions"]).std(axis=0).mean())}
        _show_figure(out, plot_kl_weight_run(run, images, beta.value, labels, class_names))

    beta.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- generative models (week 13)

def plot_point_cloud(points, reference=None, title: str = "", ax=None, reach: float | None = None):
    """Generated 2-D points (dots) over the points they imitate (``reference``, grey), on one
    square frame. ``reach`` fixes the half-width of the frame (default: what the points need)."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"plot_point_cloud draws 2-D points: give an array of shape (n, 2), got {points.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if reference is not None:
        reference = np.asarray(reference, dtype=float)
        ax.scatter(reference[:, 0], reference[:, 1], s=3, color="0.75", label="real data")
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, color=COLORS[0], label="generated")
    if reach is None:
        both = points if reference is None else np.vstack([points, reference])
        reach = max(1.0, float(np.quantile(np.abs(both), 0.995)) * 1.1)
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    return ax.figure


def point_cloud_explorer(clouds: dict, reference=None, label: str = "step", reach: float | None = None):
    """A slider over named 2-D point clouds (``{step: points}``): a GAN's samples during training,
    or a diffusion model's samples along its sampling chain. Returns the widget; its ``result``
    attribute holds the last ``{"step", "mean", "spread"}`` (the cloud's centre and its average
    standard deviation per axis: near 0 when every point is the same)."""
    import ipywidgets as w

    if not clouds:
        raise ValueError("clouds is empty: give {step: array of shape (n, 2)}")
    steps = list(clouds)
    if reach is None:
        reach = max(1.0, max(float(np.quantile(np.abs(np.asarray(c, dtype=float)), 0.995)) for c in clouds.values()) * 1.1)
    slider = w.SelectionSlider(options=steps, value=steps[0], description=label, continuous_update=False)
    out = w.Output()
    box = w.VBox([slider, out])

    def redraw(*_):
        points = np.asarray(clouds[slider.value], dtype=float)
        box.result = {"step": slider.value, "mean": points.mean(axis=0).tolist(), "spread": float(points.std(axis=0).mean())}
        _show_figure(out, plot_point_cloud(points, reference, f"{label} {slider.value}", reach=reach))

    slider.observe(redraw, names="value")
    redraw()
    return box


# --------------------------------------------------------------------------- who can train what (week 14)

#: Seconds in the units ``describe_duration`` uses, largest first.
_DURATIONS = [("million years", 1e6 * 365.25 * 86400), ("years", 365.25 * 86400), ("days", 86400),
              ("hours", 3600), ("minutes", 60), ("seconds", 1)]


def training_flops(parameters: float, tokens: float) -> float:
    """Floating-point operations to train a dense network of ``parameters`` weights on ``tokens``
    examples (tokens, for a language model): about 6 per weight and token, 2 for the forward
    pass and 4 for the backward pass (Kaplan et al. 2020's approximation)."""
    if parameters <= 0 or tokens <= 0:
        raise ValueError(f"parameters and tokens must be positive, got {parameters} and {tokens}")
    return 6.0 * parameters * tokens


def describe_duration(seconds: float) -> str:
    """A duration in the largest unit that keeps it at least 1: '3.2 days', '540 years'."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    if seconds < 0.001:
        return "under a millisecond"
    for unit, size in _DURATIONS:
        if seconds >= size or unit == "seconds":
            value = seconds / size
            return f"{value:,.0f} {unit}" if value >= 99.5 else f"{value:.2g} {unit}"  # never '1e+02'
    raise AssertionError("unreachable")


def plot_training_compute(models: dict, flops_per_second: dict, highlight: str | None = None, ax=None):
    """Horizontal bars of training compute (FLOPs, log scale) for ``models`` ({name: FLOPs}), with
    the time each would take on every machine of ``flops_per_second`` ({machine: FLOP/s}) written
    beside its bar. ``highlight`` names a bar to draw in the second colour."""
    if not models:
        raise ValueError("models is empty: give {name: training FLOPs}")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.7 * len(models) + 1.4))
    names = list(models)
    values = np.array([models[n] for n in names], dtype=float)
    colours = [COLORS[1] if n == highlight else COLORS[0] for n in names]
    ax.barh(range(len(names)), values, color=colours, height=0.45)
    ax.set_xscale("log")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.9)  # top to bottom, with room for the first line of times
    ax.set_xlabel("training compute (floating-point operations, log scale)")
    left = values.min() / 10
    ax.set_xlim(left, values.max() * 10)
    for i, value in enumerate(values):
        times = "; ".join(f"{describe_duration(value / rate)} on {machine}" for machine, rate in flops_per_second.items())
        ax.text(left * 1.3, i - 0.28, times, va="bottom", fontsize=9)
    return ax.figure


def training_cost_explorer(models: dict, flops_per_second: dict):
    """Sliders for a model's size and its training data (both log scale) and a menu of machines
    ({name: FLOP/s}): the training compute of the model you choose, next to ``models``
    ({name: FLOPs}), and how long it takes. The widget's ``result`` holds the last
    ``{"parameters", "tokens", "flops", "machine", "seconds", "duration"}``."""
    import ipywidgets as w

    if not flops_per_second:
        raise ValueError("flops_per_second is empty: give {machine: FLOP/s}")
    parameters = w.FloatLogSlider(value=1e8, base=10, min=5, max=12, step=0.1, description="parameters",
                                  readout_format=".2g", continuous_update=False)
    tokens = w.FloatLogSlider(value=1e10, base=10, min=6, max=14, step=0.1, description="tokens",
                              readout_format=".2g", continuous_update=False)
    machine = w.Dropdown(options=list(flops_per_second), description="machine")
    out = w.Output()
    box = w.VBox([parameters, tokens, machine, out])

    def redraw(*_):
        flops = training_flops(parameters.value, tokens.value)
        seconds = flops / flops_per_second[machine.value]
        box.result = {"parameters": parameters.value, "tokens": tokens.value, "flops": flops,
                      "machine": machine.value, "seconds": seconds, "duration": describe_duration(seconds)}
        yours = f"your model ({parameters.value:.2g} weights, {tokens.value:.2g} tokens)"
        _show_figure(out, plot_training_compute({**models, yours: flops}, {machine.value: flops_per_second[machine.value]},
                                                highlight=yours))

    for control in (parameters, tokens, machine):
        control.observe(redraw, names="value")
    redraw()
    return box
