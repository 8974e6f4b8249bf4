r"""The game zoo: the minimax test problems of the literature, ready to solve.

Every factory returns a :class:`Game`: the field ``V(z) = [∇xΦ(x, y), −∇yΦ(x, y)]``
of ``min_x max_y Φ(x, y)`` (``x`` minimises, ``y`` maximises), the literature's
start, a known solution, the box the constants hold on, and the constants
themselves. ``z = (x, y)`` is a tuple of float arrays: scalars for the planar
games, vectors for ``bilinear(n > 1)``, ``quadratic`` with matrices and matrix
games. Arrays are built in JAX's default float dtype (float64 under
``jax.enable_x64``), so build the game inside the precision you will run in.

No constant is typed in: solutions are roots of the field found in float64 NumPy
(polynomial roots polished by Newton, linear algebra, or an exact enumeration for
matrix games), Lipschitz constants are the supremum of ‖DV‖₂ over ``bounds``
(closed forms, or a dense grid refined locally where no closed form is short),
and weak-MVI constants come from the same machinery.

Example:
  >>> from minimaxjax import games
  >>> game = games.bilinear()
  >>> [float(v) for v in game.field(game.init)]
  [1.0, -1.0]
  >>> sorted(games.ALL)[:3]
  ['almost_bilinear', 'bilinear', 'escaping_trap']
"""

import types
from collections.abc import Callable, Mapping

from minimaxjax.games._game import Box as Box
from minimaxjax.games._game import Game as Game
from minimaxjax.games._game import Pair as Pair
from minimaxjax.games._linear import bilinear as bilinear
from minimaxjax.games._linear import lower_bound as lower_bound
from minimaxjax.games._linear import quadratic as quadratic
from minimaxjax.games._matrix import matrix_game as matrix_game
from minimaxjax.games._matrix import rock_paper_scissors as rock_paper_scissors
from minimaxjax.games._planar import escaping_trap as escaping_trap
from minimaxjax.games._planar import monkey_saddle as monkey_saddle
from minimaxjax.games._planar import polar_game as polar_game
from minimaxjax.games._planar import weird_saddle as weird_saddle
from minimaxjax.games._separable import almost_bilinear as almost_bilinear
from minimaxjax.games._separable import forsaken as forsaken
from minimaxjax.games._separable import global_forsaken as global_forsaken

__all__ = [
    "ALL",
    "Box",
    "Game",
    "almost_bilinear",
    "bilinear",
    "escaping_trap",
    "forsaken",
    "global_forsaken",
    "lower_bound",
    "matrix_game",
    "monkey_saddle",
    "polar_game",
    "quadratic",
    "rock_paper_scissors",
    "weird_saddle",
]

ALL: Mapping[str, Callable[[], Game]] = types.MappingProxyType(
    {
        factory.__name__: factory
        for factory in (
            bilinear,
            almost_bilinear,
            forsaken,
            global_forsaken,
            polar_game,
            monkey_saddle,
            weird_saddle,
            escaping_trap,
            quadratic,
            lower_bound,
            rock_paper_scissors,
        )
    }
)
"""Every game with a default instance, by name: ``ALL[name]()`` builds it.

``matrix_game`` is absent (it needs a matrix); ``rock_paper_scissors`` stands for
it.
"""
