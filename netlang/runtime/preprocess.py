"""Input loading: an image or .npy file -> a batch (leading dim) in the model input's dtype.

Images follow the model's "netlang.preprocess" metadata: resize to (H, W), convert to C channels,
scale to [0, 1], lay out as C x H x W, and subtract mean and divide by std per channel unless the
graph does that itself (`in_graph`, every model netlang exports: it takes pixels in [0, 1]).
Without that metadata a 4-D input [N, C, H, W] with static C, H, W still gets the resize and
[0, 1] scaling. A .npy file is taken as the model's tensor itself (one sample, or a batch if it
already has the batch dim) unless it is a uint8 H x W [x C] picture (the image path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from netlang.runtime.session import ModelInfo, Preprocess
from netlang.runtime.signature import TensorSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def single_input(info: ModelInfo) -> TensorSpec:
    """The model's only input; a model of several takes an .npz of one array per input."""
    if len(info.signature.inputs) != 1:
        names = ", ".join(t.name for t in info.signature.inputs)
        raise ValueError(
            f"this model takes several inputs ({names}): give an .npz with one array per input, "
            "named as the inputs (as its training data was)"
        )
    return info.signature.inputs[0]


def load_inputs(path: Path, info: ModelInfo) -> dict[str, np.ndarray]:
    """An .npz of one array per model input, named as the inputs -> a batch per input (raw
    values: the exported graph standardises each itself)."""
    with np.load(path, allow_pickle=False) as archive:
        missing = [t.name for t in info.signature.inputs if t.name not in archive.files]
        if missing:
            raise ValueError(
                f"{path.name}: no array {missing[0]!r} for the model's input of that name "
                f"(it has {', '.join(archive.files) or 'no arrays'})"
            )
        batches = {
            t.name: _as_batch(archive[t.name], t, path).astype(np.dtype(t.datatype.numpy))
            for t in info.signature.inputs
        }
    counts = {name: len(b) for name, b in batches.items()}
    if len(set(counts.values())) > 1:
        given = ", ".join(f"{name} {n}" for name, n in counts.items())
        raise ValueError(f"{path.name}: the inputs' arrays hold different sample counts ({given})")
    return batches


def image_recipe(info: ModelInfo) -> Preprocess:
    """The metadata's recipe, or one derived from a static [N, C, H, W] input shape."""
    if info.preprocess is not None:
        return info.preprocess
    spec = single_input(info)
    if len(spec.shape) == 4 and all(isinstance(d, int) for d in spec.shape[1:]):
        channels, height, width = (int(d or 0) for d in spec.shape[1:])
        if channels in (1, 3):
            return Preprocess((height, width), channels, (0.0,) * channels, (1.0,) * channels)
    raise ValueError(
        f"cannot turn an image into input {spec.name!r} of shape {spec.v2_shape}: the model has "
        "no 'netlang.preprocess' metadata and its input is not [N, 1|3, H, W]"
    )


def image_to_array(
    image: object, recipe: Preprocess, notice: Callable[[str], object] | None = None
) -> np.ndarray:
    """A PIL image -> float32 C x H x W, resized, scaled to [0, 1] and, unless the graph does it,
    standardised; its mode converted and its pixels resized as the training data's were
    (`netlang.imaging.to_pixels`; `notice` is told of a mode conversion)."""
    from PIL import Image

    from netlang.imaging import to_pixels

    assert isinstance(image, Image.Image)
    array, note = to_pixels(image, "L" if recipe.channels == 1 else "RGB", recipe.size)
    if note is not None and notice is not None:
        notice(f"{note} for the model's {recipe.channels}-channel input")
    if recipe.in_graph:
        return array
    mean = np.asarray(recipe.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(recipe.std, dtype=np.float32).reshape(-1, 1, 1)
    return (array - mean) / std


def load_input(
    path: str | Path, info: ModelInfo, notice: Callable[[str], object] | None = None
) -> np.ndarray | dict[str, np.ndarray]:
    """One file -> a batch for the model's single input (leading batch dim, input dtype), or for
    a model of several inputs, an .npz -> a batch per input; `notice` hears of an image's mode
    conversion (`predict` sums them up on stderr)."""
    path = Path(path)
    if path.suffix.lower() == ".npz" and len(info.signature.inputs) > 1:
        return load_inputs(path, info)
    spec = single_input(info)
    dtype = np.dtype(spec.datatype.numpy)
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
        if array.dtype == np.uint8 and array.ndim in (2, 3) and len(spec.shape) == 4:
            from PIL import Image

            picture = Image.fromarray(array)
            return image_to_array(picture, image_recipe(info), notice)[None].astype(dtype)
        return standardized(_as_batch(array, spec, path), info).astype(dtype)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                return image_to_array(image, image_recipe(info), notice)[None].astype(dtype)
        except UnidentifiedImageError:
            raise ValueError(
                f"{path.name}: not an image Pillow can read (damaged, or another "
                "kind of file with an image's name?)"
            ) from None
    raise ValueError(f"{path.name}: unsupported input file type (use an image or a .npy array)")


def load_texts(texts: list[str], info: ModelInfo) -> np.ndarray:
    """Raw sentences -> the token-id batch the model's input takes, by its "netlang.tokenizer"
    metadata (the tokenizer fitted when the model was trained)."""
    from netlang.data.tokenize import from_json

    if info.tokenizer is None:
        raise ValueError("this model takes no text: its metadata has no 'netlang.tokenizer'")
    spec = single_input(info)
    return from_json(info.tokenizer).encode(texts).astype(np.dtype(spec.datatype.numpy))


def standardized(batch: np.ndarray, info: ModelInfo) -> np.ndarray:
    """Raw features -> what the graph takes: (x - mean) / std along axis 1 with the training
    split's statistics, for a feature-vector model whose graph does not do it itself (so a .npy
    of such a model holds raw features, like a row of its csv)."""
    recipe = info.standardize
    if recipe is None or recipe.in_graph or batch.dtype.kind != "f":
        return batch
    if batch.ndim < 2 or batch.shape[1] != len(recipe.mean):
        raise ValueError(
            f"the model standardises {len(recipe.mean)} features along axis 1; the input has "
            f"shape {list(batch.shape)}"
        )
    shape = (1, len(recipe.mean)) + (1,) * (batch.ndim - 2)
    mean = np.asarray(recipe.mean, np.float64).reshape(shape)
    std = np.asarray(recipe.std, np.float64).reshape(shape)
    return (batch - mean) / std


def _as_batch(array: np.ndarray, spec: TensorSpec, path: Path) -> np.ndarray:
    if array.ndim == len(spec.shape) - 1:
        array = array[None]
    if array.ndim != len(spec.shape) or any(
        d is not None and d != a for d, a in zip(spec.shape, array.shape, strict=True)
    ):
        raise ValueError(
            f"{path.name}: array of shape {list(array.shape)} does not fit input {spec.name!r} "
            f"of shape {spec.v2_shape} (with or without the batch dim)"
        )
    return array
