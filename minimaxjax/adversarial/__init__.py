"""Adversarial attacks and evaluation: the inner maximisation of adversarial training.

Attacks maximise a per-example objective ``loss_fn(inputs) -> (batch,)`` over a
norm ball around each example (batch axis first), optionally intersected with the
valid input range. They are pure functions of arrays and keys, so they jit and
vmap, and the model is any callable (a Flax module's ``apply`` included).
"""

from minimaxjax.adversarial._apgd import apgd as apgd
from minimaxjax.adversarial._attacks import fgsm as fgsm
from minimaxjax.adversarial._attacks import pgd as pgd
from minimaxjax.adversarial._beta import beta_attack as beta_attack
from minimaxjax.adversarial._ddi import min_norm_direction as min_norm_direction
from minimaxjax.adversarial._evaluate import is_robust as is_robust
from minimaxjax.adversarial._evaluate import robust_accuracy as robust_accuracy
from minimaxjax.adversarial._losses import cross_entropy as cross_entropy
from minimaxjax.adversarial._losses import dlr_loss as dlr_loss
from minimaxjax.adversarial._losses import margin as margin
from minimaxjax.adversarial._losses import targeted_dlr_loss as targeted_dlr_loss
from minimaxjax.adversarial._sam import sam as sam
from minimaxjax.adversarial._toy import sine_toy_training as sine_toy_training
from minimaxjax.adversarial._training import kl_divergence as kl_divergence
from minimaxjax.adversarial._training import mart_loss as mart_loss
from minimaxjax.adversarial._training import trades_loss as trades_loss

__all__ = [
    "apgd",
    "beta_attack",
    "cross_entropy",
    "dlr_loss",
    "fgsm",
    "is_robust",
    "kl_divergence",
    "margin",
    "mart_loss",
    "min_norm_direction",
    "pgd",
    "robust_accuracy",
    "sam",
    "sine_toy_training",
    "targeted_dlr_loss",
    "trades_loss",
]
