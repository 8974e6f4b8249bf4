"""Adversarial attacks, robust training and evaluation.

Attacks maximise a per-example objective ``loss_fn(inputs) -> (batch,)`` over a
norm ball around each example (batch axis first), optionally intersected with the
valid input range. They are pure functions of arrays and keys, so they jit and
vmap, and the model is any callable (a Flax module's ``apply`` included).

Training methods (``standard``, ``pgd_at``, ``fgsm_at``, ``trades``, ``mart``,
``beta_at``, ``ddi``) turn a batch into the direction an optimizer steps with,
the attack inside; ``nnx_train_step`` and ``linen_train_step`` compile them with
any optax transformation or minimaxjax rule into one jitted step.
"""

from minimaxjax.adversarial._apgd import apgd as apgd
from minimaxjax.adversarial._attacks import fgsm as fgsm
from minimaxjax.adversarial._attacks import pgd as pgd
from minimaxjax.adversarial._beta import beta_attack as beta_attack
from minimaxjax.adversarial._ddi import min_norm_direction as min_norm_direction
from minimaxjax.adversarial._evaluate import is_robust as is_robust
from minimaxjax.adversarial._evaluate import robust_accuracy as robust_accuracy
from minimaxjax.adversarial._flax import linen_train_step as linen_train_step
from minimaxjax.adversarial._flax import nnx_train_step as nnx_train_step
from minimaxjax.adversarial._losses import cross_entropy as cross_entropy
from minimaxjax.adversarial._losses import dlr_loss as dlr_loss
from minimaxjax.adversarial._losses import margin as margin
from minimaxjax.adversarial._losses import targeted_dlr_loss as targeted_dlr_loss
from minimaxjax.adversarial._methods import Method as Method
from minimaxjax.adversarial._methods import Signal as Signal
from minimaxjax.adversarial._methods import beta_at as beta_at
from minimaxjax.adversarial._methods import beta_game as beta_game
from minimaxjax.adversarial._methods import ddi as ddi
from minimaxjax.adversarial._methods import fgsm_at as fgsm_at
from minimaxjax.adversarial._methods import mart as mart
from minimaxjax.adversarial._methods import pgd_at as pgd_at
from minimaxjax.adversarial._methods import standard as standard
from minimaxjax.adversarial._methods import trades as trades
from minimaxjax.adversarial._sam import sam as sam
from minimaxjax.adversarial._toy import sine_toy_training as sine_toy_training
from minimaxjax.adversarial._training import kl_divergence as kl_divergence
from minimaxjax.adversarial._training import mart_loss as mart_loss
from minimaxjax.adversarial._training import trades_loss as trades_loss

__all__ = [
    "Method",
    "Signal",
    "apgd",
    "beta_at",
    "beta_attack",
    "beta_game",
    "cross_entropy",
    "ddi",
    "dlr_loss",
    "fgsm",
    "fgsm_at",
    "is_robust",
    "kl_divergence",
    "linen_train_step",
    "margin",
    "mart",
    "mart_loss",
    "min_norm_direction",
    "nnx_train_step",
    "pgd",
    "pgd_at",
    "robust_accuracy",
    "sam",
    "sine_toy_training",
    "standard",
    "targeted_dlr_loss",
    "trades",
    "trades_loss",
]
