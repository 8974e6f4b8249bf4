"""Update rules for games, as optax gradient transformations, and the protocol
between rules and the driver (:mod:`minimaxjax.rules._protocol`)."""

from minimaxjax.rules._adaptive import (
    AdaptiveExtragradientPlusState as AdaptiveExtragradientPlusState,
)
from minimaxjax.rules._adaptive import (
    BiasCorrectedExtragradientPlusState as BiasCorrectedExtragradientPlusState,
)
from minimaxjax.rules._adaptive import (
    StochasticExtragradientPlusState as StochasticExtragradientPlusState,
)
from minimaxjax.rules._adaptive import (
    adaptive_extragradient_plus as adaptive_extragradient_plus,
)
from minimaxjax.rules._adaptive import (
    bias_corrected_extragradient_plus as bias_corrected_extragradient_plus,
)
from minimaxjax.rules._adaptive import (
    stochastic_extragradient_plus as stochastic_extragradient_plus,
)
from minimaxjax.rules._aliases import alternating_gda as alternating_gda
from minimaxjax.rules._aliases import extra_adam as extra_adam
from minimaxjax.rules._aliases import extragradient as extragradient
from minimaxjax.rules._aliases import extragradient_plus as extragradient_plus
from minimaxjax.rules._aliases import gda as gda
from minimaxjax.rules._aliases import optimistic_gda as optimistic_gda
from minimaxjax.rules._aliases import proximal_point as proximal_point
from minimaxjax.rules._aliases import reflected_gda as reflected_gda
from minimaxjax.rules._alternating import AlternatingState as AlternatingState
from minimaxjax.rules._alternating import alternating as alternating
from minimaxjax.rules._extra import ExtraState as ExtraState
from minimaxjax.rules._extra import extra as extra
from minimaxjax.rules._iterate import iterate as iterate
from minimaxjax.rules._langevin import LangevinRMSpropState as LangevinRMSpropState
from minimaxjax.rules._langevin import LangevinState as LangevinState
from minimaxjax.rules._langevin import langevin_gda as langevin_gda
from minimaxjax.rules._langevin import langevin_rmsprop as langevin_rmsprop
from minimaxjax.rules._mirror import mirror_descent as mirror_descent
from minimaxjax.rules._mirror import mirror_prox as mirror_prox
from minimaxjax.rules._mirror import (
    optimistic_mirror_descent as optimistic_mirror_descent,
)
from minimaxjax.rules._mixed_ne import MixedNELDState as MixedNELDState
from minimaxjax.rules._mixed_ne import mixed_ne_ld as mixed_ne_ld
from minimaxjax.rules._players import PerPlayerState as PerPlayerState
from minimaxjax.rules._players import per_player as per_player
from minimaxjax.rules._protocol import Committing as Committing
from minimaxjax.rules._protocol import CountsEvaluations as CountsEvaluations
from minimaxjax.rules._protocol import (
    evaluations_per_iteration as evaluations_per_iteration,
)
from minimaxjax.rules._reflected import ReflectedState as ReflectedState
from minimaxjax.rules._reflected import projected as projected
from minimaxjax.rules._reflected import reflected as reflected
from minimaxjax.rules._registry import RULES as RULES
from minimaxjax.rules._registry import RuleSpec as RuleSpec
from minimaxjax.rules._registry import register as register

__all__ = [
    "RULES",
    "AdaptiveExtragradientPlusState",
    "AlternatingState",
    "BiasCorrectedExtragradientPlusState",
    "Committing",
    "CountsEvaluations",
    "ExtraState",
    "LangevinRMSpropState",
    "LangevinState",
    "MixedNELDState",
    "PerPlayerState",
    "ReflectedState",
    "RuleSpec",
    "StochasticExtragradientPlusState",
    "adaptive_extragradient_plus",
    "alternating",
    "alternating_gda",
    "bias_corrected_extragradient_plus",
    "evaluations_per_iteration",
    "extra",
    "extra_adam",
    "extragradient",
    "extragradient_plus",
    "gda",
    "iterate",
    "langevin_gda",
    "langevin_rmsprop",
    "mirror_descent",
    "mirror_prox",
    "mixed_ne_ld",
    "optimistic_gda",
    "optimistic_mirror_descent",
    "per_player",
    "projected",
    "proximal_point",
    "reflected",
    "reflected_gda",
    "register",
    "stochastic_extragradient_plus",
]
