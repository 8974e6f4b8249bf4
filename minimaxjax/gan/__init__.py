r"""Generative adversarial networks: losses, Lipschitz control of the critic, and
train steps for Flax NNX and Linen.

**Training with Flax.** :func:`gan_field` turns a formulation, a generator and a
critic into the game's field over ``{"generator": θ, "critic": φ}``;
:func:`nnx_train_step` (a model with ``.generator`` and ``.critic``, an
``nnx.Optimizer(model, rule, wrt=nnx.Param)``) and :func:`linen_train_step` (a
``TrainState`` over both players' params) run whole iterations of any
minimaxjax rule under one ``jit``, with fresh data and noise per field
evaluation; :func:`average` keeps a uniform or exponential average of the
generator.

The losses act on the critic's scores on a batch, ``(batch,)`` or ``(batch, 1)``,
and return scalar means. Critic losses take ``(real, fake)``, generator losses
only ``fake``; :data:`LOSSES` groups them by formulation as :class:`GanLoss`
tuples.

**Zero-sum formulations** (minimax, Wasserstein) have a value Φ that the critic
maximises and the generator minimises. Write Φ(generator_params, critic_params,
*batch) with the ``value`` function and :func:`minimaxjax.field` builds
``V = [∇_G Φ, −∇_D Φ]``, the direction every rule steps along:

>>> import jax
>>> import jax.numpy as jnp
>>> import minimaxjax as mmx
>>> from minimaxjax import gan
>>> def generate(a, noise):                       # G(z) = a·z
...     return noise[:, None] * a[None, :]
>>> def critic(w, x):                             # f(x) = w·x
...     return x @ w
>>> def phi(a, w, real, noise):
...     return gan.wasserstein_value(critic(w, real), critic(w, generate(a, noise)))
>>> V = mmx.field(phi)
>>> a, w = jnp.array([1.0, 0.0]), jnp.array([1.0, 1.0])
>>> real, noise = jnp.array([[0.0, 2.0], [0.0, 4.0]]), jnp.array([1.0, 3.0])
>>> v_a, v_w = V((a, w), real, noise)
>>> v_a.tolist(), v_w.tolist()                    # [−E[z]·w, −(E[x] − E[z]·a)]
([-2.0, -2.0], [2.0, -3.0])

**Non-zero-sum formulations** (non-saturating, hinge, least-squares) give each
player its own loss; :func:`minimaxjax.game_field` takes them by player, over a
``z`` whose top-level children are the players:

>>> def generator_loss(z, real, noise):
...     fake = critic(z["critic"], generate(z["generator"], noise))
...     return gan.non_saturating_generator_loss(fake)
>>> def critic_loss(z, real, noise):
...     fake = critic(z["critic"], generate(z["generator"], noise))
...     return gan.minimax_critic_loss(critic(z["critic"], real), fake)
>>> V = mmx.game_field({"generator": generator_loss, "critic": critic_loss})
>>> sorted(V({"generator": a, "critic": w}, real, noise))
['critic', 'generator']

Each loss is differentiated only with respect to its own player, so no
``stop_gradient`` is needed.

**Lipschitz control of the critic.** A Wasserstein critic should be (about)
1-Lipschitz. Three ways:

* *Weight clipping* (WGAN) is a projection onto a box for the critic only:
  ``mmx.constraints.box(-c, c, player="critic")`` (``player=1`` for a pair
  ``(generator, critic)``), passed as ``projection=`` to a rule or to
  :func:`minimaxjax.solve`:

  >>> clip = mmx.constraints.box(-0.01, 0.01, player="critic")
  >>> clipped = clip({"generator": jnp.array([1.0]), "critic": jnp.array([0.5])})
  >>> clipped["generator"].tolist(), clipped["critic"].tolist()
  ([1.0], [0.01])

* *Gradient penalties*: add :func:`gradient_penalty` (WGAN-GP) or
  :func:`r1_penalty` to the critic's loss.
* *Spectral normalisation*: Flax has it. Wrap each of the critic's layers in
  ``nnx.SpectralNorm(layer, rngs=rngs)`` (``flax.linen.SpectralNorm`` for
  Linen). Each call in training mode runs ``n_steps`` power iterations and
  divides the kernel by its estimated largest singular value (NNX writes the
  normalised kernel back into the wrapped layer);
  :func:`lipschitz_upper_bound` then measures the product of the kernels'
  spectral norms:

  >>> from flax import nnx
  >>> rngs = nnx.Rngs(0)
  >>> layer = nnx.SpectralNorm(nnx.Linear(4, 3, rngs=rngs), rngs=rngs)
  >>> for _ in range(20):
  ...     _ = layer(jnp.ones((2, 4)), update_stats=True)
  >>> bound = gan.lipschitz_upper_bound(nnx.state(layer, nnx.Param))
  >>> bool(abs(float(bound) - 1.0) < 1e-2)
  True
"""

from minimaxjax.gan._lipschitz import gradient_penalty as gradient_penalty
from minimaxjax.gan._lipschitz import lipschitz_upper_bound as lipschitz_upper_bound
from minimaxjax.gan._lipschitz import r1_penalty as r1_penalty
from minimaxjax.gan._losses import LOSSES as LOSSES
from minimaxjax.gan._losses import GanLoss as GanLoss
from minimaxjax.gan._losses import hinge_critic_loss as hinge_critic_loss
from minimaxjax.gan._losses import hinge_generator_loss as hinge_generator_loss
from minimaxjax.gan._losses import (
    least_squares_critic_loss as least_squares_critic_loss,
)
from minimaxjax.gan._losses import (
    least_squares_generator_loss as least_squares_generator_loss,
)
from minimaxjax.gan._losses import minimax_critic_loss as minimax_critic_loss
from minimaxjax.gan._losses import minimax_generator_loss as minimax_generator_loss
from minimaxjax.gan._losses import minimax_value as minimax_value
from minimaxjax.gan._losses import (
    non_saturating_generator_loss as non_saturating_generator_loss,
)
from minimaxjax.gan._losses import (
    wasserstein_critic_loss as wasserstein_critic_loss,
)
from minimaxjax.gan._losses import (
    wasserstein_generator_loss as wasserstein_generator_loss,
)
from minimaxjax.gan._losses import wasserstein_value as wasserstein_value
from minimaxjax.gan._train import average as average
from minimaxjax.gan._train import gan_field as gan_field
from minimaxjax.gan._train import linen_train_step as linen_train_step
from minimaxjax.gan._train import nnx_train_step as nnx_train_step

__all__ = [
    "LOSSES",
    "GanLoss",
    "average",
    "gan_field",
    "gradient_penalty",
    "hinge_critic_loss",
    "hinge_generator_loss",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "linen_train_step",
    "lipschitz_upper_bound",
    "minimax_critic_loss",
    "minimax_generator_loss",
    "minimax_value",
    "nnx_train_step",
    "non_saturating_generator_loss",
    "r1_penalty",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "wasserstein_value",
]
