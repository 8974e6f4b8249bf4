"""minimaxjax: minimax optimisation and games in JAX.

Write Φ once; ``mmx.field(phi)`` builds ``V(z) = [∇xΦ(x, y), −∇yΦ(x, y)]`` and the
update rules (ordinary optax transformations) drive it.
"""

from minimaxjax import adversarial as adversarial
from minimaxjax import constraints as constraints
from minimaxjax import diagnostics as diagnostics
from minimaxjax import games as games
from minimaxjax import gan as gan
from minimaxjax import plotting as plotting
from minimaxjax._solution import Solution as Solution
from minimaxjax._solution import Status as Status
from minimaxjax._solution import status_message as status_message
from minimaxjax._solve import solve as solve
from minimaxjax.operators import Field as Field
from minimaxjax.operators import field as field
from minimaxjax.operators import game_field as game_field
from minimaxjax.operators import jacobian_operator_norm as jacobian_operator_norm
from minimaxjax.rules import (
    AdaptiveExtragradientPlusState as AdaptiveExtragradientPlusState,
)
from minimaxjax.rules import AlternatingState as AlternatingState
from minimaxjax.rules import (
    BiasCorrectedExtragradientPlusState as BiasCorrectedExtragradientPlusState,
)
from minimaxjax.rules import ExtraState as ExtraState
from minimaxjax.rules import LangevinRMSpropState as LangevinRMSpropState
from minimaxjax.rules import LangevinState as LangevinState
from minimaxjax.rules import MixedNELDState as MixedNELDState
from minimaxjax.rules import PerPlayerState as PerPlayerState
from minimaxjax.rules import ReflectedState as ReflectedState
from minimaxjax.rules import (
    StochasticExtragradientPlusState as StochasticExtragradientPlusState,
)
from minimaxjax.rules import adaptive_extragradient_plus as adaptive_extragradient_plus
from minimaxjax.rules import alternating as alternating
from minimaxjax.rules import alternating_gda as alternating_gda
from minimaxjax.rules import (
    bias_corrected_extragradient_plus as bias_corrected_extragradient_plus,
)
from minimaxjax.rules import extra as extra
from minimaxjax.rules import extra_adam as extra_adam
from minimaxjax.rules import extragradient as extragradient
from minimaxjax.rules import extragradient_plus as extragradient_plus
from minimaxjax.rules import gda as gda
from minimaxjax.rules import iterate as iterate
from minimaxjax.rules import langevin_gda as langevin_gda
from minimaxjax.rules import langevin_rmsprop as langevin_rmsprop
from minimaxjax.rules import mirror_descent as mirror_descent
from minimaxjax.rules import mirror_prox as mirror_prox
from minimaxjax.rules import mixed_ne_ld as mixed_ne_ld
from minimaxjax.rules import optimistic_gda as optimistic_gda
from minimaxjax.rules import optimistic_mirror_descent as optimistic_mirror_descent
from minimaxjax.rules import per_player as per_player
from minimaxjax.rules import projected as projected
from minimaxjax.rules import proximal_point as proximal_point
from minimaxjax.rules import reflected as reflected
from minimaxjax.rules import reflected_gda as reflected_gda
from minimaxjax.rules import (
    stochastic_extragradient_plus as stochastic_extragradient_plus,
)

__version__ = "0.1.0"

__all__ = [
    "AdaptiveExtragradientPlusState",
    "AlternatingState",
    "BiasCorrectedExtragradientPlusState",
    "ExtraState",
    "Field",
    "LangevinRMSpropState",
    "LangevinState",
    "MixedNELDState",
    "PerPlayerState",
    "ReflectedState",
    "Solution",
    "Status",
    "StochasticExtragradientPlusState",
    "adaptive_extragradient_plus",
    "adversarial",
    "alternating",
    "alternating_gda",
    "bias_corrected_extragradient_plus",
    "constraints",
    "diagnostics",
    "extra",
    "extra_adam",
    "extragradient",
    "extragradient_plus",
    "field",
    "game_field",
    "games",
    "gan",
    "gda",
    "iterate",
    "jacobian_operator_norm",
    "langevin_gda",
    "langevin_rmsprop",
    "mirror_descent",
    "mirror_prox",
    "mixed_ne_ld",
    "optimistic_gda",
    "optimistic_mirror_descent",
    "per_player",
    "plotting",
    "projected",
    "proximal_point",
    "reflected",
    "reflected_gda",
    "solve",
    "status_message",
    "stochastic_extragradient_plus",
]
