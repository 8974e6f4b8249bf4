r"""One registry of the rules: name → constructor, linearised map, baseline loop.

The tests, both benchmarks, the plots and
:func:`minimaxjax.diagnostics.linear_update_map` read the rules from here, so a
new rule is added in its own file, here, and in its tests. A user's rule can be
added with :func:`register`.
"""

import dataclasses
import functools
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optax

from minimaxjax._types import PyTree
from minimaxjax.rules import _aliases, _baselines
from minimaxjax.rules._protocol import evaluations_per_iteration

__all__ = ["RULES", "RuleSpec", "register"]

LinearMap = Callable[..., np.ndarray]


@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """A rule as the tools around the library use it.

    Attributes:
      name: the rule's name (``"extragradient"``).
      make: ``make(learning_rate, **options)`` builds the rule.
      options: defaults of the rule's own hyperparameters (``inner_steps``,
        ``update_ratio``), passed to ``make``, ``linear_map`` and ``baseline``.
      linear_map: ``linear_map(A, sizes, **options)``, the rule's iteration on a
        linear field with ``A = ΛJ`` (``Λ`` the step sizes on the diagonal,
        ``sizes`` each player's number of coordinates), as a matrix on the
        rule's state; None for rules without a closed form (Adam-type).
      baseline: the hand-written fused loop, ``baseline(field, z0, num_steps,
        lr=α, **options) -> (z, field_norm)``; None where there is none.
    """

    name: str
    make: Callable[..., optax.GradientTransformation]
    options: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    linear_map: LinearMap | None = None
    baseline: Callable[..., Any] | None = None

    def build(self, learning_rate: Any, **options: Any) -> optax.GradientTransformation:
        """The rule with ``learning_rate`` and the options (defaults filled in)."""
        return self.make(learning_rate, **{**self.options, **options})

    def evaluations(self, params: PyTree, **options: Any) -> int:
        """Field evaluations per iteration at ``params`` (the protocol's count)."""
        return evaluations_per_iteration(self.build(0.1, **options), params)


def _gda(A: np.ndarray, sizes: Any) -> np.ndarray:
    return np.eye(len(A)) - A


def _extragradient_plus(
    A: np.ndarray, sizes: Any, update_ratio: float = 0.5
) -> np.ndarray:
    eye = np.eye(len(A))
    return eye - update_ratio * A + update_ratio * (A @ A)


def _proximal_point(A: np.ndarray, sizes: Any, inner_steps: int | None) -> np.ndarray:
    """``Σ_{j=0}^{K} (−A)^j`` for K fixed-point steps; ``(I + A)⁻¹`` for None."""
    eye = np.eye(len(A))
    if inner_steps is None:
        return np.linalg.solve(eye + A, eye)
    total, power = eye.copy(), eye.copy()
    for _ in range(inner_steps):
        power = -A @ power
        total = total + power
    return total


def _optimistic(A: np.ndarray, sizes: Any) -> np.ndarray:
    """On ``(z^k, z^{k−1})``; OGDA and reflected GDA coincide on linear fields."""
    d = len(A)
    return np.block([[np.eye(d) - 2 * A, A], [np.eye(d), np.zeros((d, d))]])


def _alternating(A: np.ndarray, sizes: Any) -> np.ndarray:
    """``(I − E_n A) ⋯ (I − E_1 A)``: player 1 moves first."""
    if sizes is None:
        raise ValueError(
            "alternating_gda needs player_sizes (the order in which players move)."
        )
    d = len(A)
    M, start = np.eye(d), 0
    for size in sizes:
        E = np.zeros((d, d))
        E[start : start + size, start : start + size] = np.eye(size)
        M = (np.eye(d) - E @ A) @ M
        start += size
    return M


def _specs() -> list[RuleSpec]:
    sgd = _baselines.extra_sgd
    return [
        RuleSpec("gda", _aliases.gda, linear_map=_gda, baseline=_baselines.gda),
        RuleSpec(
            "alternating_gda",
            _aliases.alternating_gda,
            linear_map=_alternating,
            baseline=_baselines.alternating_gda,
        ),
        RuleSpec(
            "proximal_point",
            _aliases.proximal_point,
            options={"inner_steps": 10},
            linear_map=_proximal_point,
            baseline=lambda f, z, n, lr, inner_steps: sgd(
                f, z, n, lr=lr, scales=(1.0,) * inner_steps
            ),
        ),
        RuleSpec(
            "extragradient",
            _aliases.extragradient,
            linear_map=functools.partial(_extragradient_plus, update_ratio=1.0),
            baseline=functools.partial(sgd, scales=(1.0, 1.0)),
        ),
        RuleSpec(
            "extragradient_plus",
            _aliases.extragradient_plus,
            options={"update_ratio": 0.5},
            linear_map=_extragradient_plus,
            baseline=lambda f, z, n, lr, update_ratio: sgd(
                f, z, n, lr=lr, scales=(1.0, update_ratio)
            ),
        ),
        RuleSpec(
            "optimistic_gda",
            _aliases.optimistic_gda,
            linear_map=_optimistic,
            baseline=_baselines.optimistic_gda,
        ),
        RuleSpec(
            "reflected_gda",
            _aliases.reflected_gda,
            linear_map=_optimistic,
            baseline=_baselines.reflected_gda,
        ),
        RuleSpec("extra_adam", _aliases.extra_adam, baseline=_baselines.extra_adam),
    ]


_REGISTRY: dict[str, RuleSpec] = {spec.name: spec for spec in _specs()}
RULES: Mapping[str, RuleSpec] = types.MappingProxyType(_REGISTRY)
"""The registered rules by name (read-only; add with :func:`register`)."""


def register(spec: RuleSpec) -> RuleSpec:
    """Add a rule to :data:`RULES` (a user's own rule), so that the diagnostics
    and plots can find it by name. Raises if the name is taken.

    Example:
      >>> import numpy as np, minimaxjax as mmx
      >>> spec = mmx.rules.RuleSpec(
      ...     "halved_eg", lambda lr: mmx.extragradient_plus(lr, 0.5),
      ...     linear_map=lambda A, sizes: np.eye(len(A)) - A / 2 + A @ A / 2)
      >>> _ = mmx.rules.register(spec)
      >>> "halved_eg" in mmx.rules.RULES
      True
    """
    if not isinstance(spec, RuleSpec):
        raise TypeError(f"spec must be a RuleSpec, got {type(spec).__name__}.")
    if spec.name in _REGISTRY:
        raise ValueError(f"a rule named {spec.name!r} is registered already.")
    _REGISTRY[spec.name] = spec
    return spec
