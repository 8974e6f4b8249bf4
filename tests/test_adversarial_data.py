"""The adversarial benchmark's data loaders (on tiny files written here) and models."""

import gzip
import pickle

import jax
import numpy as np
import pytest
from flax import nnx

pytest.importorskip("sklearn")

from benchmarks.adversarial import data, models

# ------------------------------------------------------------------------- digits


def test_load_digits_shapes_values_and_split():
    ds = data.load_digits()
    assert ds.name == "digits"
    assert ds.num_classes == 10
    assert len(ds.train_inputs) + len(ds.test_inputs) == 1797
    assert ds.train_inputs.shape[1:] == (8, 8, 1)
    assert ds.test_inputs.shape[1:] == (8, 8, 1)
    assert len(ds.train_labels) == len(ds.train_inputs)
    assert len(ds.test_labels) == len(ds.test_inputs)
    for inputs, labels in [
        (ds.train_inputs, ds.train_labels),
        (ds.test_inputs, ds.test_labels),
    ]:
        assert inputs.dtype == np.float32
        assert labels.dtype == np.int32
        assert inputs.min() >= 0.0
        assert inputs.max() <= 1.0
        # Every class in both parts.
        assert set(np.unique(labels).tolist()) == set(range(10))
    assert ds.train_inputs.max() == 1.0  # 16 / 16
    # About a quarter held out.
    assert abs(len(ds.test_inputs) / 1797 - 0.25) < 0.01


def test_load_digits_split_is_disjoint_and_deterministic():
    from sklearn.datasets import load_digits

    images = load_digits().images.reshape(1797, -1)
    a, b = data.load_digits(seed=0), data.load_digits(seed=0)
    np.testing.assert_array_equal(a.train_inputs, b.train_inputs)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)

    # The 1797 images are distinct, so an image identifies its example.
    def rows(inputs):
        flat = np.round(inputs.reshape(len(inputs), -1) * 16).astype(np.int64)
        return {tuple(row) for row in flat}

    train, test = rows(a.train_inputs), rows(a.test_inputs)
    assert len(train) == len(a.train_inputs)
    assert len(test) == len(a.test_inputs)
    assert not train & test
    assert train | test == {tuple(row) for row in images.astype(np.int64)}
    c = data.load_digits(seed=1)
    assert not np.array_equal(a.test_labels, c.test_labels) or not np.array_equal(
        a.test_inputs, c.test_inputs
    )
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=1.0)


# -------------------------------------------------------------------------- MNIST


def _idx_bytes(array, magic):
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _write(path, payload, gz):
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def _mnist_arrays():
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": (rng.integers(0, 256, (5, 28, 28)), 2051),
        "train-labels-idx1-ubyte": (np.array([3, 1, 4, 1, 5]), 2049),
        "t10k-images-idx3-ubyte": (rng.integers(0, 256, (3, 28, 28)), 2051),
        "t10k-labels-idx1-ubyte": (np.array([9, 2, 6]), 2049),
    }


def _write_mnist(directory, gz, arrays=None):
    arrays = _mnist_arrays() if arrays is None else arrays
    for name, (array, magic) in arrays.items():
        _write(directory / name, _idx_bytes(array, magic), gz)
    return arrays


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_load_mnist_reads_idx_files(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz)
    ds = data.load_mnist(tmp_path)
    assert ds.name == "mnist"
    assert ds.num_classes == 10
    assert ds.train_inputs.shape == (5, 28, 28, 1)
    assert ds.test_inputs.shape == (3, 28, 28, 1)
    assert ds.train_inputs.dtype == np.float32
    assert ds.train_labels.dtype == np.int32
    np.testing.assert_array_equal(
        ds.train_inputs[..., 0],
        arrays["train-images-idx3-ubyte"][0].astype(np.float32) / np.float32(255),
    )
    np.testing.assert_array_equal(
        ds.test_inputs[..., 0],
        arrays["t10k-images-idx3-ubyte"][0].astype(np.float32) / np.float32(255),
    )
    np.testing.assert_array_equal(ds.train_labels, [3, 1, 4, 1, 5])
    np.testing.assert_array_equal(ds.test_labels, [9, 2, 6])


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_mnist(tmp_path / "nowhere")

    arrays = _mnist_arrays()
    missing = dict(arrays)
    del missing["t10k-labels-idx1-ubyte"]
    _write_mnist(tmp_path, False, missing)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte") as info:
        data.load_mnist(tmp_path)
    assert str(tmp_path) in str(info.value)

    bad = dict(arrays)
    bad["t10k-labels-idx1-ubyte"] = (arrays["t10k-labels-idx1-ubyte"][0], 2051)
    _write_mnist(tmp_path, False, bad)
    with pytest.raises(ValueError, match="magic number 2051, expected 2049"):
        data.load_mnist(tmp_path)

    short = dict(arrays)
    short["t10k-labels-idx1-ubyte"] = (np.array([9, 2]), 2049)
    _write_mnist(tmp_path, False, short)
    with pytest.raises(ValueError, match=r"3 images but .* 2 labels"):
        data.load_mnist(tmp_path)


# ----------------------------------------------------------------------- CIFAR-10


def _write_cifar10(directory):
    """Two images per batch; pixel value = (batch * 7 + image * 3 + index) % 256."""
    directory.mkdir(parents=True)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    index = np.arange(3072)
    for b, name in enumerate(names):
        rows = np.stack([(b * 7 + i * 3 + index) % 256 for i in range(2)])
        rows = rows.astype(np.uint8)
        labels = [b % 10, (b + 1) % 10]
        with (directory / name).open("wb") as handle:
            pickle.dump({b"data": rows, b"labels": labels}, handle)
        written[name] = (rows, labels)
    return written


def _check_cifar10(ds, written):
    assert ds.name == "cifar10"
    assert ds.num_classes == 10
    assert ds.train_inputs.shape == (10, 32, 32, 3)
    assert ds.test_inputs.shape == (2, 32, 32, 3)
    assert ds.train_inputs.dtype == np.float32
    assert ds.train_labels.dtype == np.int32
    train_rows = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    for inputs, rows in (
        (ds.train_inputs, train_rows),
        (ds.test_inputs, written["test_batch"][0]),
    ):
        for i, r, c, ch in [(0, 0, 0, 0), (1, 5, 17, 1), (1, 31, 2, 2), (0, 9, 31, 2)]:
            expected = np.float32(rows[i, ch * 1024 + r * 32 + c]) / np.float32(255)
            assert inputs[i, r, c, ch] == expected
    np.testing.assert_array_equal(ds.train_labels, [0, 1, 1, 2, 2, 3, 3, 4, 4, 5])
    np.testing.assert_array_equal(ds.test_labels, [5, 6])


def test_load_cifar10_reads_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    written = _write_cifar10(folder)
    _check_cifar10(data.load_cifar10(folder), written)
    # The parent folder is accepted too, and through `load`.
    _check_cifar10(data.load_cifar10(tmp_path), written)
    _check_cifar10(data.load("cifar10", tmp_path), written)


def test_load_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_cifar10(tmp_path / "nowhere")
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar10(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3") as info:
        data.load_cifar10(tmp_path)
    assert str(folder) in str(info.value)


# ----------------------------------------------------------------------- dispatch


def test_load_rejects_unknown_names_and_missing_data_dir():
    with pytest.raises(ValueError, match=r"name='imagenet'.*digits, mnist, cifar10"):
        data.load("imagenet")
    for name in ("mnist", "cifar10"):
        with pytest.raises(ValueError, match="data_dir"):
            data.load(name)


# ----------------------------------------------------------------- batches, models


@pytest.mark.parametrize(
    "key_or_seed", [3, np.random.default_rng(3), jax.random.key(3)], ids=str
)
def test_batches_cover_each_example_once(key_or_seed):
    inputs = np.arange(23, dtype=np.float32).reshape(23, 1, 1, 1)
    labels = np.arange(23, dtype=np.int32)
    seen = []
    sizes = []
    for x, y in data.batches(
        inputs, labels, 5, key_or_seed=key_or_seed, drop_last=False
    ):
        np.testing.assert_array_equal(x[:, 0, 0, 0], y.astype(np.float32))
        seen.extend(y.tolist())
        sizes.append(len(y))
    assert sorted(seen) == list(range(23))
    assert seen != list(range(23))  # shuffled
    assert sizes == [5, 5, 5, 5, 3]
    dropped = list(data.batches(inputs, labels, 5, key_or_seed=0))
    assert [len(y) for _, y in dropped] == [5, 5, 5, 5]
    ordered = [
        y for _, y in data.batches(inputs, labels, 5, key_or_seed=0, shuffle=False)
    ]
    np.testing.assert_array_equal(np.concatenate(ordered), np.arange(20))


def _tiny(shape, num_classes=10):
    rng = np.random.default_rng(0)
    inputs = rng.uniform(size=(4, *shape)).astype(np.float32)
    labels = np.arange(4, dtype=np.int32) % num_classes
    return data.Dataset(inputs, labels, inputs, labels, num_classes, "tiny")


def _with_numpy_parameters(abstract, seed=0):
    """A model of `abstract`'s structure with parameters drawn by NumPy.

    Flax's initialisers compile once per parameter shape, which takes about 20 s
    for the ResNet on a loaded CPU; NumPy fills the 11M parameters in well under
    a second, and the forward pass does not depend on how they were drawn.
    """
    rng = np.random.default_rng(seed)
    graphdef, state = nnx.split(abstract)

    def fill(path, leaf):
        name = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)][-1]
        if name in ("var", "scale"):
            return np.ones(leaf.shape, leaf.dtype)
        if name in ("mean", "bias"):
            return np.zeros(leaf.shape, leaf.dtype)
        fan_in = int(np.prod(leaf.shape[:-1]))
        values = rng.normal(size=leaf.shape) / np.sqrt(fan_in)
        return values.astype(leaf.dtype)

    return nnx.merge(graphdef, jax.tree_util.tree_map_with_path(fill, state))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1)], ids=["8x8", "28x28"])
def test_small_models_output_shapes(name, shape):
    ds = _tiny(shape)
    model = _with_numpy_parameters(
        nnx.eval_shape(lambda: models.make_model(name, ds, seed=0))
    )
    logits = model(ds.train_inputs[:3])
    assert logits.shape == (3, 10)
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits))


def test_small_cnn_global_average_pooling_takes_any_size():
    model = _with_numpy_parameters(
        nnx.eval_shape(lambda: models.SmallCNN(1, 7, rngs=nnx.Rngs(0)))
    )
    for side in (8, 13):
        assert model(np.zeros((2, side, side, 1), np.float32)).shape == (2, 7)
    sized = nnx.eval_shape(
        lambda: models.SmallCNN(1, 7, image_shape=(8, 8), rngs=nnx.Rngs(0))
    )
    with pytest.raises(ValueError, match="built for"):
        sized(np.zeros((2, 9, 9, 1), np.float32))


def test_preact_resnet18_output_shape_and_modes():
    ds = _tiny((32, 32, 3))
    abstract = nnx.eval_shape(lambda: models.make_model("preact_resnet18", ds, seed=0))
    # The reference model's parameters: 11,171,146 in the blocks, stem and
    # head, and 1024 in the final BatchNorm.
    count = sum(p.size for p in jax.tree.leaves(nnx.state(abstract, nnx.Param)))
    assert count == 11_172_170
    model = _with_numpy_parameters(abstract)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    train_logits = model(x)
    assert train_logits.shape == (2, 10)
    assert train_logits.dtype == np.float32
    assert np.all(np.isfinite(train_logits))
    model.eval()
    eval_logits = model(x)
    assert eval_logits.shape == (2, 10)
    assert np.all(np.isfinite(eval_logits))
    # Batch statistics in training mode, running ones in evaluation mode.
    assert not np.allclose(train_logits, eval_logits)


def test_make_model_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"name='vit'.*mlp, cnn, preact_resnet18"):
        models.make_model("vit", _tiny((8, 8, 1)), seed=0)
