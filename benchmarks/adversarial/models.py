"""Classifiers for the adversarial-training benchmark, in Flax NNX.

Every model maps a ``(batch, H, W, C)`` float32 batch to ``(batch, num_classes)``
logits:

* :class:`MLP`: a fully connected ReLU network on the flattened image.
* :class:`SmallCNN`: two 3×3 convolutions and a dense layer, for the 8×8 digits
  and 28×28 MNIST.
* :class:`PreActResNet18`: the pre-activation ResNet-18 used for robust training
  on CIFAR-10.

:func:`make_model` builds one by name for a data set's image size and classes.
Only :class:`PreActResNet18` has batch statistics: call ``model.train()``
before training steps and ``model.eval()`` before evaluation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from benchmarks.adversarial.data import Dataset

MODELS = ("mlp", "cnn", "preact_resnet18")

# PyTorch's BatchNorm2d defaults (momentum 0.1 of the new statistics, i.e. 0.9 of
# the running ones in Flax's convention, and epsilon 1e-5), as in the reference.
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5


def _flatten(x: jax.Array) -> jax.Array:
    return jnp.reshape(x, (x.shape[0], -1))


class MLP(nnx.Module):
    """A multilayer perceptron on the flattened image.

    ``Linear → ReLU`` for each hidden width, then a linear layer to the logits
    (Rumelhart, Hinton and Williams, "Learning representations by
    back-propagating errors", 1986).

    Args:
        in_features: ``H * W * C`` of the inputs.
        num_classes: the number of logits.
        hidden: the hidden layers' widths.
        rngs: the parameters' randomness.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (256, 256),
        *,
        rngs: nnx.Rngs,
    ) -> None:
        widths = (in_features, *hidden)
        self.hidden = nnx.List(
            [
                nnx.Linear(fan_in, fan_out, rngs=rngs)
                for fan_in, fan_out in itertools.pairwise(widths)
            ]
        )
        self.head = nnx.Linear(widths[-1], num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``(batch, num_classes)`` of a ``(batch, H, W, C)`` batch."""
        h = _flatten(x)
        for layer in self.hidden:
            h = jax.nn.relu(layer(h))
        return self.head(h)


class SmallCNN(nnx.Module):
    """A small convolutional network for small grey images (8×8 digits, MNIST).

    ``Conv 3×3 (32) → ReLU → Conv 3×3 stride 2 (64) → ReLU → flatten → Dense (128)
    → ReLU → Dense (num_classes)``, SAME padding; the layout of LeCun et al.,
    "Gradient-based learning applied to document recognition", 1998, reduced to
    two convolutions.

    The dense layer's width depends on the image size, which NNX needs at
    construction: pass ``image_shape=(H, W)`` (as :func:`make_model` does) to
    flatten the ``(ceil(H/2), ceil(W/2), 64)`` feature map. With
    ``image_shape=None`` the feature map is averaged over space instead (global
    average pooling, Lin, Chen and Yan, "Network in network", 2014), so the
    model takes any ``H × W`` at the cost of the spatial layout.

    Args:
        in_channels: ``C`` of the inputs.
        num_classes: the number of logits.
        image_shape: ``(H, W)`` of the inputs, or ``None`` for global average
            pooling.
        rngs: the parameters' randomness.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        image_shape: tuple[int, int] | None = None,
        rngs: nnx.Rngs,
    ) -> None:
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.conv1 = nnx.Conv(in_channels, 32, (3, 3), padding="SAME", rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, (3, 3), strides=(2, 2), padding="SAME", rngs=rngs)
        if self.image_shape is None:
            features = 64
        else:
            height, width = self.image_shape
            features = -(-height // 2) * -(-width // 2) * 64
        self.dense = nnx.Linear(features, 128, rngs=rngs)
        self.head = nnx.Linear(128, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``(batch, num_classes)`` of a ``(batch, H, W, C)`` batch."""
        if self.image_shape is not None and tuple(x.shape[1:3]) != self.image_shape:
            raise ValueError(
                f"SmallCNN was built for {self.image_shape} images, got a batch of "
                f"shape {x.shape}."
            )
        h = jax.nn.relu(self.conv1(x))
        h = jax.nn.relu(self.conv2(h))
        h = jnp.mean(h, axis=(1, 2)) if self.image_shape is None else _flatten(h)
        h = jax.nn.relu(self.dense(h))
        return self.head(h)


def _batch_norm(features: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(
        features, momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, rngs=rngs
    )


def _conv3x3(
    in_features: int, out_features: int, stride: int, rngs: nnx.Rngs
) -> nnx.Conv:
    # Padding 1 on every side, as PyTorch's padding=1 (Flax's "SAME" pads a
    # stride-2 convolution asymmetrically).
    return nnx.Conv(
        in_features,
        out_features,
        (3, 3),
        strides=(stride, stride),
        padding=((1, 1), (1, 1)),
        use_bias=False,
        rngs=rngs,
    )


class PreActBlock(nnx.Module):
    """A pre-activation residual block: ``x + conv(relu(bn(conv(relu(bn(x))))))``.

    He, Zhang, Ren and Sun, "Identity mappings in deep residual networks", 2016.
    When the stride or the width changes, the shortcut is a 1×1 convolution (with
    the stride) of the first pre-activation, as in the reference implementation.

    Args:
        in_features: the input's channels.
        out_features: the output's channels.
        stride: the stride of the first convolution (and of the shortcut).
        rngs: the parameters' randomness.
    """

    def __init__(
        self, in_features: int, out_features: int, stride: int, *, rngs: nnx.Rngs
    ) -> None:
        self.bn1 = _batch_norm(in_features, rngs)
        self.conv1 = _conv3x3(in_features, out_features, stride, rngs)
        self.bn2 = _batch_norm(out_features, rngs)
        self.conv2 = _conv3x3(out_features, out_features, 1, rngs)
        if stride != 1 or in_features != out_features:
            self.shortcut: nnx.Conv | None = nnx.Conv(
                in_features,
                out_features,
                (1, 1),
                strides=(stride, stride),
                padding="VALID",
                use_bias=False,
                rngs=rngs,
            )
        else:
            self.shortcut = None

    def __call__(self, x: jax.Array) -> jax.Array:
        """The block's output, ``(batch, H / stride, W / stride, out_features)``."""
        out = jax.nn.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(jax.nn.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nnx.Module):
    """Pre-activation ResNet-18, the CIFAR-10 model of robust-overfitting studies.

    He, Zhang, Ren and Sun, "Identity mappings in deep residual networks", 2016,
    in the CIFAR-10 form used by Rice, Wong and Kolter, "Overfitting in
    adversarially robust deep learning", 2020: a 3×3 stem convolution with 64
    channels; four stages of two :class:`PreActBlock` with 64, 128, 256 and 512
    channels and strides 1, 2, 2, 2; a final BatchNorm and ReLU; global average
    pooling (the reference's 4×4 average pool on 32×32 inputs); a linear layer.
    Convolutions have no bias; BatchNorm uses PyTorch's defaults (momentum 0.1,
    epsilon 1e-5). Initialisation is Flax's default (LeCun normal), not PyTorch's.

    BatchNorm normalises with the batch's statistics and updates the running ones
    in training mode (``model.train()``) and uses the running ones in evaluation
    mode (``model.eval()``).

    Args:
        num_classes: the number of logits.
        in_channels: ``C`` of the inputs (3 for CIFAR-10).
        rngs: the parameters' randomness.
    """

    def __init__(
        self, num_classes: int = 10, *, in_channels: int = 3, rngs: nnx.Rngs
    ) -> None:
        self.stem = _conv3x3(in_channels, 64, 1, rngs)
        blocks = []
        in_features = 64
        for out_features, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            for block_stride in (stride, 1):
                blocks.append(
                    PreActBlock(in_features, out_features, block_stride, rngs=rngs)
                )
                in_features = out_features
        self.blocks = nnx.List(blocks)
        self.bn = _batch_norm(in_features, rngs)
        self.head = nnx.Linear(in_features, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``(batch, num_classes)`` of a ``(batch, H, W, C)`` batch."""
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        h = jax.nn.relu(self.bn(h))
        return self.head(jnp.mean(h, axis=(1, 2)))


def make_model(name: str, dataset: Dataset, *, seed: int) -> nnx.Module:
    """The model called ``name``, sized for ``dataset``'s images and classes.

    Args:
        name: ``"mlp"``, ``"cnn"`` (a :class:`SmallCNN` built for the data set's
            image size) or ``"preact_resnet18"``.
        dataset: the data set the model will classify.
        seed: the seed of the parameters' initialisation.

    Returns:
        The model, in training mode.
    """
    if name not in MODELS:
        raise ValueError(
            f"Unknown model name={name!r}; choose one of {', '.join(MODELS)}."
        )
    height, width, channels = (int(d) for d in dataset.train_inputs.shape[1:])
    rngs = nnx.Rngs(seed)
    if name == "mlp":
        return MLP(height * width * channels, dataset.num_classes, rngs=rngs)
    if name == "cnn":
        return SmallCNN(
            channels, dataset.num_classes, image_shape=(height, width), rngs=rngs
        )
    return PreActResNet18(dataset.num_classes, in_channels=channels, rngs=rngs)
