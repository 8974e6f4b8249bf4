"""Image classification data sets for the adversarial-training benchmark.

Three data sets, all returned as a :class:`Dataset` of NumPy arrays: inputs float32
in ``[0, 1]`` in NHWC layout ``(n, H, W, C)``, labels int32.

* ``"digits"``: scikit-learn's bundled 8×8 handwritten digits (1797 images, no
  download), split into train and test parts by a fixed, stratified shuffle.
* ``"mnist"``: the standard MNIST IDX files (LeCun et al., 1998), read from a
  folder the user already has.
* ``"cifar10"``: the CIFAR-10 "python version" batches (Krizhevsky, 2009), read
  from a folder the user already has.

Nothing here downloads anything: MNIST and CIFAR-10 are read from local files only,
and a missing file is an error that says what was expected where.
"""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

NAMES = ("digits", "mnist", "cifar10")

_IDX_IMAGES_MAGIC = 2051  # unsigned bytes, three dimensions (n, rows, columns)
_IDX_LABELS_MAGIC = 2049  # unsigned bytes, one dimension (n,)

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_CIFAR10_FOLDER = "cifar-10-batches-py"
_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR10_TEST = "test_batch"
_CIFAR10_SIDE = 32


class Dataset(NamedTuple):
    """A classification data set split into train and test parts.

    Attributes:
        train_inputs: ``(n_train, H, W, C)`` float32 in ``[0, 1]``.
        train_labels: ``(n_train,)`` int32 in ``[0, num_classes)``.
        test_inputs: ``(n_test, H, W, C)`` float32 in ``[0, 1]``.
        test_labels: ``(n_test,)`` int32 in ``[0, num_classes)``.
        num_classes: the number of classes.
        name: the data set's name (``"digits"``, ``"mnist"`` or ``"cifar10"``).
    """

    train_inputs: np.ndarray
    train_labels: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray
    num_classes: int
    name: str


# --------------------------------------------------------------------------- digits


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 digits, split into train and test parts.

    The 1797 images (pixel values 0..16, divided by 16) are split per class: a
    NumPy generator seeded with ``seed`` shuffles each class's examples and puts
    ``round(test_fraction * n_class)`` of them (at least one, and at least one
    left for training) in the test part. The split is deterministic for a given
    ``seed`` and each part keeps the examples in their original order.

    Args:
        test_fraction: the fraction of each class held out, in ``(0, 1)``.
        seed: the seed of the split.

    Returns:
        A :class:`Dataset` with inputs of shape ``(n, 8, 8, 1)``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    from sklearn.datasets import load_digits as _sklearn_load_digits

    bunch = _sklearn_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0)
    inputs = images.reshape(-1, 8, 8, 1)
    labels = np.asarray(bunch.target, dtype=np.int32)

    rng = np.random.default_rng(seed)
    is_test = np.zeros(labels.shape[0], dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = round(test_fraction * members.size)
        count = min(max(count, 1), members.size - 1)
        is_test[rng.permutation(members)[:count]] = True
    return Dataset(
        train_inputs=inputs[~is_test],
        train_labels=labels[~is_test],
        test_inputs=inputs[is_test],
        test_labels=labels[is_test],
        num_classes=10,
        name="digits",
    )


# ---------------------------------------------------------------------------- MNIST


def _existing_directory(data_dir: str | Path, what: str) -> Path:
    directory = Path(data_dir).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"{what} data directory {str(directory)!r} does not exist or is not a "
            "directory."
        )
    return directory


def _open_maybe_gzip(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _find_mnist_file(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    expected = ", ".join(f"{n} (or {n}.gz)" for n in _MNIST_FILES.values())
    raise FileNotFoundError(
        f"MNIST file {name!r} (or {name + '.gz'!r}) not found in {str(directory)!r}. "
        f"load_mnist expects the four standard IDX files there: {expected}. "
        "Nothing is downloaded."
    )


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes: a big-endian header, then the data."""
    with _open_maybe_gzip(path) as handle:
        raw = handle.read()
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{str(path)!r} is too short for an IDX header ({len(raw)} bytes)."
        )
    got = int(np.frombuffer(raw, dtype=">u4", count=1)[0])
    if got != magic:
        raise ValueError(
            f"{str(path)!r} has IDX magic number {got}, expected {magic} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})."
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header_size != size:
        raise ValueError(
            f"{str(path)!r}: the header gives shape {dims} ({size} bytes of data) "
            f"but the file holds {len(raw) - header_size} bytes after the header."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _mnist_part(
    directory: Path, images_name: str, labels_name: str
) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find_mnist_file(directory, images_name)
    labels_path = _find_mnist_file(directory, labels_name)
    images = _read_idx(images_path, _IDX_IMAGES_MAGIC, 3)
    labels = _read_idx(labels_path, _IDX_LABELS_MAGIC, 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{str(images_path)!r} holds {images.shape[0]} images but "
            f"{str(labels_path)!r} holds {labels.shape[0]} labels."
        )
    inputs = (images.astype(np.float32) / np.float32(255.0))[..., np.newaxis]
    return inputs, labels.astype(np.int32)


def load_mnist(data_dir: str | Path) -> Dataset:
    """MNIST from the four standard IDX files in ``data_dir``.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly
    gzipped (with a ``.gz`` suffix). Reference: LeCun, Bottou, Bengio and Haffner,
    "Gradient-based learning applied to document recognition", 1998.

    Args:
        data_dir: the folder holding the files.

    Returns:
        A :class:`Dataset` with inputs of shape ``(n, 28, 28, 1)`` (pixel values
        divided by 255) and the standard 60000/10000 split.

    Raises:
        FileNotFoundError: the folder or one of the files is missing.
        ValueError: a file has the wrong magic number or size, or the numbers of
            images and labels differ.
    """
    directory = _existing_directory(data_dir, "MNIST")
    train_inputs, train_labels = _mnist_part(
        directory, _MNIST_FILES["train_images"], _MNIST_FILES["train_labels"]
    )
    test_inputs, test_labels = _mnist_part(
        directory, _MNIST_FILES["test_images"], _MNIST_FILES["test_labels"]
    )
    return Dataset(
        train_inputs=train_inputs,
        train_labels=train_labels,
        test_inputs=test_inputs,
        test_labels=test_labels,
        num_classes=10,
        name="mnist",
    )


# ------------------------------------------------------------------------- CIFAR-10


def _cifar10_directory(data_dir: str | Path) -> Path:
    directory = _existing_directory(data_dir, "CIFAR-10")
    if (directory / _CIFAR10_FOLDER).is_dir():
        return directory / _CIFAR10_FOLDER
    return directory


def _read_cifar10_batch(directory: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    path = directory / name
    if not path.is_file():
        expected = ", ".join((*_CIFAR10_TRAIN, _CIFAR10_TEST))
        raise FileNotFoundError(
            f"CIFAR-10 batch {name!r} not found in {str(directory)!r}. load_cifar10 "
            f"expects the python-version batches ({expected}) in the "
            f"{_CIFAR10_FOLDER!r} folder or its parent. Nothing is downloaded."
        )
    with path.open("rb") as handle:
        # The user's own local files, in the format CIFAR-10 is distributed in.
        batch: Any = pickle.load(handle, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-10 python batch: expected a pickled dict "
            "with keys b'data' and b'labels'."
        )
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int32)
    pixels = 3 * _CIFAR10_SIDE * _CIFAR10_SIDE
    if data.ndim != 2 or data.shape[1] != pixels:
        raise ValueError(
            f"{str(path)!r}: b'data' has shape {data.shape}, expected (n, {pixels})."
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{str(path)!r} holds {data.shape[0]} images but {labels.size} labels."
        )
    # Each row is channel-major (1024 red, 1024 green, 1024 blue), row-major 32×32.
    images = data.reshape(-1, 3, _CIFAR10_SIDE, _CIFAR10_SIDE).transpose(0, 2, 3, 1)
    return images.astype(np.float32) / np.float32(255.0), labels


def load_cifar10(data_dir: str | Path) -> Dataset:
    """CIFAR-10 from the python-version batches in ``data_dir``.

    Reads ``data_batch_1`` to ``data_batch_5`` and ``test_batch`` from
    ``data_dir``, which is either the ``cifar-10-batches-py`` folder or the
    folder holding it. Reference: Krizhevsky, "Learning multiple layers of
    features from tiny images", 2009.

    The batches are pickle files; only load files from a source you trust.

    Args:
        data_dir: the ``cifar-10-batches-py`` folder or its parent.

    Returns:
        A :class:`Dataset` with inputs of shape ``(n, 32, 32, 3)`` (pixel values
        divided by 255) and the standard 50000/10000 split.

    Raises:
        FileNotFoundError: the folder or one of the batches is missing.
        ValueError: a batch is not a dict with ``b"data"`` of shape ``(n, 3072)``
            and ``n`` ``b"labels"``.
    """
    directory = _cifar10_directory(data_dir)
    parts = [_read_cifar10_batch(directory, name) for name in _CIFAR10_TRAIN]
    test_inputs, test_labels = _read_cifar10_batch(directory, _CIFAR10_TEST)
    return Dataset(
        train_inputs=np.concatenate([inputs for inputs, _ in parts]),
        train_labels=np.concatenate([labels for _, labels in parts]),
        test_inputs=test_inputs,
        test_labels=test_labels,
        num_classes=10,
        name="cifar10",
    )


# ------------------------------------------------------------------------- dispatch


def load(name: str, data_dir: str | Path | None = None) -> Dataset:
    """The data set called ``name``: ``"digits"``, ``"mnist"`` or ``"cifar10"``.

    Args:
        name: which data set.
        data_dir: the folder holding the files; required for ``"mnist"`` and
            ``"cifar10"``, ignored for ``"digits"`` (bundled with scikit-learn).

    Returns:
        The :class:`Dataset`.
    """
    if name not in NAMES:
        raise ValueError(
            f"Unknown data set name={name!r}; choose one of {', '.join(NAMES)}."
        )
    if name == "digits":
        return load_digits()
    if data_dir is None:
        raise ValueError(
            f"The {name!r} data set is read from local files: pass data_dir, the "
            "folder holding them (nothing is downloaded)."
        )
    if name == "mnist":
        return load_mnist(data_dir)
    return load_cifar10(data_dir)


# -------------------------------------------------------------------------- batches


def batches(
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    key_or_seed: Any,
    shuffle: bool = True,
    drop_last: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of ``(inputs, labels)`` batches.

    Args:
        inputs: ``(n, ...)`` array.
        labels: ``(n,)`` array.
        batch_size: the number of examples per batch.
        key_or_seed: the randomness of the shuffle: an int seed, a
            ``numpy.random.Generator``, or a JAX PRNG key (new-style or raw
            ``uint32``). Unused when ``shuffle`` is false.
        shuffle: visit the examples in a random order (otherwise in order).
        drop_last: drop the final batch when it has fewer than ``batch_size``
            examples (so every batch has the same shape and one compilation
            serves them all).

    Yields:
        ``(inputs[idx], labels[idx])`` for consecutive chunks ``idx`` of the
        epoch's order; each example appears at most once per epoch, exactly once
        when ``drop_last`` is false.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}.")
    count = len(inputs)
    if len(labels) != count:
        raise ValueError(f"{count} inputs but {len(labels)} labels.")
    order = _rng(key_or_seed).permutation(count) if shuffle else np.arange(count)
    stop = count - count % batch_size if drop_last else count
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield inputs[idx], labels[idx]


def _rng(key_or_seed: Any) -> np.random.Generator:
    if isinstance(key_or_seed, np.random.Generator):
        return key_or_seed
    if isinstance(key_or_seed, int | np.integer):
        return np.random.default_rng(int(key_or_seed))
    import jax

    key = key_or_seed
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, dtype=np.uint32).ravel())
